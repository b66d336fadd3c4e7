/* SPDX-License-Identifier: Apache-2.0 */
/* The nurse's page: join (from the invitation link's token, or the open
 * form), then watch. It waits for the lecture when it has not begun and
 * starts by itself when the host goes live, comes back on its own after a
 * network drop (WHEP again with the same token), shows the connection's
 * quality, and leaves with a WHEP DELETE.
 *
 * Check-in codes for colleagues at the same screen and presence checks
 * belong to the attendance module; the page asks for them and shows them
 * only where the relay answers (a 404 hides them). */
"use strict";

const t = kkTranslator({
  "join.heading": "Join the lecture",
  "join.name": "Name",
  "join.workplace": "Workplace",
  "join.colleagues": "Colleagues watching at the same screen (one name per line)",
  "join.hint": "Attendance is recorded automatically while you watch.",
  "join.submit": "Watch the lecture",
  "player.video": "The lecture",
  "player.unmute": "Turn sound on",
  "player.mute": "Turn sound off",
  "player.fullscreen": "Full screen",
  "player.leave": "Leave",
  "player.rejoin": "Watch again",
  "player.switch": "Sign in as someone else",
  "checkin.heading": "More people at this screen?",
  "checkin.hint": "Scan the code, or type the code on your own phone, to register your attendance.",
  "checkin.qr": "QR code for checking in",
  "presence.text": "Are you still there? Confirm that you are following the lecture.",
  "presence.yes": "Yes, I am here",
  "code.heading": "Attendance code",
  "code.label": "The code the lecturer shows",
  "code.submit": "Send",
  "code.ok": "Thank you, the code is registered.",
  "code.wrong": "That is not the code. Try again.",
  "code.busy": "Too many attempts. Wait a little.",
  "code.none": "The lecturer has not shown a code yet.",
  waiting: "The lecture has not started yet. It will start here by itself.",
  "waiting.at": "The lecture is scheduled to start {time}. It will start here by itself.",
  connecting: "Connecting…",
  reconnecting: "The connection was lost. Reconnecting…",
  ended: "The broadcast has paused or ended. It continues here by itself if the host comes back.",
  left: "You have left the lecture.",
  "sound.blocked": "The browser needs one click to play sound.",
  "sound.on": "Sound on",
  "sound.off": "Sound off",
  "quality.good": "Connection good",
  "quality.fair": "Connection fair",
  "quality.poor": "Connection poor",
  "error.token": "This link is no longer valid. Ask the course coordinator for a new one.",
  "error.room": "This course room does not exist.",
  "error.offline": "No contact with the server. Trying again…",
  "error.webrtc": "This browser cannot play the lecture. Open the link in a current Chrome, Edge, Firefox or Safari.",
}, {
  "player.mute": "Slå av lyd",
  "checkin.qr": "QR-kode for å registrere fremmøte",
  "code.ok": "Takk, koden er registrert.",
  "code.wrong": "Det er ikke koden. Prøv igjen.",
  "code.busy": "For mange forsøk. Vent litt.",
  "code.none": "Foreleseren har ikke vist noen kode ennå.",
  waiting: "Forelesningen har ikke startet ennå. Den starter her av seg selv.",
  "waiting.at": "Forelesningen skal etter planen starte {time}. Den starter her av seg selv.",
  connecting: "Kobler til …",
  reconnecting: "Forbindelsen ble brutt. Kobler til igjen …",
  ended: "Sendingen er stanset eller avsluttet. Den fortsetter her av seg selv hvis verten kommer tilbake.",
  left: "Du har forlatt forelesningen.",
  "sound.blocked": "Nettleseren trenger ett klikk for å spille av lyd.",
  "sound.on": "Lyden er på",
  "sound.off": "Lyden er av",
  "quality.good": "God forbindelse",
  "quality.fair": "Middels forbindelse",
  "quality.poor": "Dårlig forbindelse",
  "error.token": "Denne lenken er ikke lenger gyldig. Be kurskoordinatoren om en ny.",
  "error.room": "Dette kursrommet finnes ikke.",
  "error.offline": "Ingen kontakt med serveren. Prøver igjen …",
  "error.webrtc": "Denne nettleseren kan ikke spille av forelesningen. Åpne lenken i en oppdatert Chrome, Edge, Firefox eller Safari.",
});

/* Endpoints of the attendance module, feature-detected. */
const api = {
  room: (room) => `/api/rooms/${encodeURIComponent(room)}`,
  join: (room) => `/api/rooms/${encodeURIComponent(room)}/join`,
  checkinCode: (room) => `/api/rooms/${encodeURIComponent(room)}/checkin-code`,
  presence: (room) => `/api/rooms/${encodeURIComponent(room)}/prompt`,
  attendanceCode: (room) => `/api/rooms/${encodeURIComponent(room)}/attendance-code`,
};

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const $ = (id) => document.getElementById(id);
const tokenKey = `kringkast-token-${room}`;
let token = null;
let client = null;
let leaving = false;
let retryTimer = null;
let stallTimer = null;
let soundWanted = true;     /* the nurse has not turned sound off */
let presenceAvailable = true;
let questions = null;       /* the questions panel (questions.js) */

function show(text, withSound) {
  $("overlay-text").textContent = text || "";
  $("overlay").hidden = !text;
  /* The sound prompt is a bar under the picture, not a curtain over it. */
  $("overlay").classList.toggle("bar", !!withSound);
  $("overlay-sound").hidden = !withSound;
}

function scheduleRetry(delay) {
  clearTimeout(retryTimer);
  if (!leaving) retryTimer = setTimeout(watch, delay);
}

function dropClient() {
  clearTimeout(stallTimer);
  stallTimer = null;
  if (client) client.stop();
  client = null;
}

/* Sound: try to play with sound; where the browser wants a click first,
 * play muted and say so plainly, with the button in view. */
async function startPlayback() {
  const video = $("video");
  if (soundWanted) {
    video.muted = false;
    try {
      await video.play();
      showSound();
      return;
    } catch (error) {
      if (error.name !== "NotAllowedError") return;
    }
  }
  video.muted = true;
  video.play().catch(() => {});
  showSound();
}

function showSound() {
  const blocked = soundWanted && $("video").muted;
  $("unmute").hidden = false;
  $("unmute").textContent = t($("video").muted ? "player.unmute" : "player.mute");
  $("sound-note").textContent = blocked ? t("sound.blocked") : t($("video").muted ? "sound.off" : "sound.on");
  if (blocked && client && $("overlay").hidden) show(t("sound.blocked"), true);
  if (!blocked && $("overlay-text").textContent === t("sound.blocked")) show("");
}

function toggleSound() {
  const video = $("video");
  soundWanted = video.muted;
  video.muted = !soundWanted;
  video.play().catch(() => {});
  showSound();
}

async function roomInfo() {
  const reply = await kkApi("GET", api.room(room));
  if (reply.status === 404) throw Object.assign(new Error(t("error.room")), { fatal: true });
  if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
  return reply.data;
}

async function join(form) {
  const reply = await kkApi("POST", api.join(room), null, {
    name: form.name.value.trim(),
    workplace: form.workplace.value.trim(),
    colleagues: form.colleagues.value.split(/[\n,;]/).map((s) => s.trim()).filter(Boolean),
  });
  if (reply.status !== 201) throw new Error(reply.data?.error || `HTTP ${reply.status}`);
  return reply.data.token;
}

/* No WebRTC path connected here: the lecture over plain HTTPS
 * (watch-segments.js). */
function useSegments() {
  dropClient();
  const player = new KkSegmentsPlayer(room, token, $("video"));
  client = player;
  kkQualityOnSegments();
  player.onstate = (state) => { if (client === player) onState(state); };
  player.start();
}

function onState(state) {
  if (client instanceof WhepClient && kkSegmentsShouldFallBack(client, state)) { useSegments(); return; }
  if (state === "connected") {
    clearTimeout(stallTimer);
    stallTimer = null;
    show("");
    startPlayback();
  } else if (state === "disconnected") {
    /* Browsers wait up to 30 s before calling a dead path failed; a
     * fresh WHEP session after a few seconds is quicker. */
    show(t("reconnecting"));
    if (!stallTimer) stallTimer = setTimeout(() => { dropClient(); watch(); }, 5000);
  } else if (state === "failed" || state === "closed") {
    dropClient();
    show(t("reconnecting"));
    scheduleRetry(1000);
  }
}

async function watch() {
  $("join").hidden = true;
  $("player").hidden = false;
  questions ??= new KkQuestionsPanel({ room, token, panel: $("questions"), answering: $("answering-now"),
    onvisible: () => { $("side").hidden = false; $("player").classList.add("with-side"); } });
  $("rejoin").hidden = true;
  $("leave").hidden = false;
  leaving = false;
  try {
    const info = await roomInfo();
    showCodeForm(info);
    $("title").textContent = info.title || "Kringkast";
    document.title = `${info.title || room} – Kringkast`;
    if (!info.live) {
      dropClient();
      show($("video").srcObject ? t("ended") : info.next_session
        ? t("waiting.at", { time: kkOsloTime(info.next_session.starts_at) }) : t("waiting"));
      $("switch").hidden = false;
      scheduleRetry(3000);
      return;
    }
    $("switch").hidden = true;
    if (client) return;
    show(t("connecting"));
    const attempt = new WhepClient(kkQualityWhepUrl(`${location.origin}/whep/${encodeURIComponent(room)}`), token);
    client = attempt;
    attempt.onstream = (stream) => {
      const video = $("video");
      if (video.srcObject !== stream) video.srcObject = stream;
    };
    attempt.onstate = (state) => { if (client === attempt) onState(state); };
    attempt.iceServers = await kkIceServers(room, token);
    await attempt.start();
    kkSegmentsWatch(attempt, () => client === attempt, useSegments);
    kkQualityConnected(attempt);
    showCheckin();
  } catch (error) {
    dropClient();
    if (error.status === 401 || error.status === 403) {
      localStorage.removeItem(tokenKey);
      show(t("error.token"));
      $("switch").hidden = false;
      return;
    }
    if (error.fatal) { show(error.message); return; }
    show(t(error instanceof TypeError ? "error.offline" : "reconnecting"));
    scheduleRetry(2000);
  }
}

/* Keeps watching whether the broadcast is still on: when the host stops,
 * the page goes back to waiting and picks the next broadcast up. */
async function checkLive() {
  if (leaving || !client) return;
  try {
    const info = await roomInfo();
    showCodeForm(info);
    if (!info.live) watch();
  } catch (error) { /* the connection state tells about network trouble */ }
}

async function updateQuality() {
  if (!client) { $("quality").textContent = ""; $("path").textContent = ""; return; }
  const s = await client.stats();
  if (!s) return;
  const previous = window.kringkastStats;
  const lost = previous ? s.packetsLost - previous.packetsLost : s.packetsLost;
  const received = previous ? s.packetsReceived - previous.packetsReceived : s.packetsReceived;
  const loss = lost + received > 0 ? Math.max(0, lost) / (lost + received) : 0;
  /* No picture is what "sound only" means, not a weak connection. */
  const stalled = previous && s.framesDecoded === previous.framesDecoded
    && window.kringkastLayer?.layer !== "audio-only";
  const level = stalled || loss >= 0.05 || (s.rtt !== null && s.rtt > 0.8) ? "poor"
    : loss >= 0.01 || (s.rtt !== null && s.rtt > 0.3) ? "fair" : "good";
  $("quality").textContent = `${s.path ? `${s.path} · ` : ""}${t("quality." + level)}${s.width ? ` · ${s.width}×${s.height}` : ""}`;
  $("quality").className = `status quality-${level}`;
  const path = await kkConnectionPath(client?.pc);
  $("path").textContent = kkPathText(path);
  kkReportRelayProtocol(client, path);
  s.path = path;
  window.kringkastStats = s;   /* read by the end-to-end tests */
}

/* The code colleagues at the same screen check in with; it expires, so
 * a fresh one is fetched when it does. */
let checkinTimer = null;
async function showCheckin() {
  clearTimeout(checkinTimer);
  const reply = await kkApi("GET", api.checkinCode(room), token).catch(() => null);
  if (!reply?.ok || !reply.data?.code) return;
  const expires = reply.data.expires_at ? Date.parse(reply.data.expires_at) - Date.now() : 0;
  checkinTimer = setTimeout(showCheckin, Math.min(Math.max(expires, 10000), 300000));
  const link = reply.data.url ? new URL(reply.data.url, location.origin).toString()
    : `${location.origin}/checkin/${encodeURIComponent(room)}?code=${encodeURIComponent(reply.data.code)}`;
  $("checkin-code").textContent = reply.data.code;
  $("checkin-qr").src = `/qr.svg?data=${encodeURIComponent(link)}`;
  $("checkin-qr").alt = t("checkin.qr");
  $("checkin").hidden = false;
  $("side").hidden = false;
  $("player").classList.add("with-side");
}

/* The attendance code the host reveals during the lecture: the form shows
 * while the live session asks for one (the room's "attendance_code"). */
function showCodeForm(info) {
  const wanted = Boolean(info?.attendance_code);
  $("code-form").hidden = !wanted;
  if (!wanted) return;
  $("side").hidden = false;
  $("player").classList.add("with-side");
}

async function answerCode(event) {
  event.preventDefault();
  const reply = await kkApi("POST", `${api.attendanceCode(room)}/answer`, token, { code: $("code-input").value.trim() })
    .catch(() => null);
  const status = reply?.status ?? 0;
  $("code-result").textContent = t(status === 204 || status === 200 ? "code.ok" : status === 422 ? "code.wrong"
    : status === 429 ? "code.busy" : status === 409 ? "code.none" : "error.offline");
  if (status === 204 || status === 200) $("code-input").value = "";
}

/* Presence checks: the relay asks now and then whether someone is still
 * watching; the answer is one click. */
let presenceId = null;
async function pollPresence() {
  if (!presenceAvailable || !client || leaving) return;
  const reply = await kkApi("GET", api.presence(room), token).catch(() => null);
  if (!reply) return;
  if (reply.status === 404 || reply.status === 405) { presenceAvailable = false; return; }
  const check = reply.ok && reply.data && reply.data.id ? reply.data : null;
  presenceId = check ? check.id : null;
  $("presence").hidden = !check;
  if (check) $("presence-yes").focus();
}

async function answerPresence() {
  if (!presenceId) return;
  await kkApi("POST", `${api.presence(room)}/${encodeURIComponent(presenceId)}`, token, {}).catch(() => null);
  presenceId = null;
  $("presence").hidden = true;
}

function leave() {
  leaving = true;
  clearTimeout(retryTimer);
  dropClient();
  $("video").srcObject = null;
  show(t("left"));
  $("leave").hidden = true;
  $("rejoin").hidden = false;
  $("unmute").hidden = true;
  $("sound-note").textContent = "";
  $("rejoin").focus();
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else if ($("stage").requestFullscreen) $("stage").requestFullscreen().catch(() => {});
  else $("video").webkitEnterFullscreen?.();   /* Safari on iPhone */
}

function main() {
  t.translatePage();
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) {
    localStorage.setItem(tokenKey, hashToken);
    /* The personal link's token stays in this browser, off the address
     * bar of a shared screen. */
    history.replaceState(null, "", location.pathname + location.search);
  }
  token = hashToken || localStorage.getItem(tokenKey);

  /* A browser built without WebRTC (Debian's WebKitGTK) cannot play the
   * lecture: say so, and which browsers can, instead of joining and then
   * trying to connect again and again. */
  if (typeof RTCPeerConnection !== "function") {
    $("player").hidden = false;
    $("leave").hidden = true;
    $("fullscreen").hidden = true;
    show(t("error.webrtc"));
    return;
  }

  $("unmute").addEventListener("click", toggleSound);
  $("overlay-sound").addEventListener("click", toggleSound);
  $("fullscreen").addEventListener("click", toggleFullscreen);
  $("video").addEventListener("dblclick", toggleFullscreen);
  /* A browser may also pause a playing video the moment it is unmuted
   * without a click: play on muted and ask for the click. */
  $("video").addEventListener("pause", () => {
    const video = $("video");
    if (!client || leaving || video.muted) return;
    video.muted = true;
    video.play().catch(() => {});
    showSound();
  });
  $("video").addEventListener("keydown", (event) => {
    if (event.key === "f") toggleFullscreen();
    if (event.key === "m") toggleSound();
  });
  $("leave").addEventListener("click", leave);
  $("rejoin").addEventListener("click", () => { leaving = false; watch(); });
  $("switch").addEventListener("click", () => {
    leave();
    localStorage.removeItem(tokenKey);
    token = null;
    questions?.stop();
    questions = null;
    $("player").hidden = true;
    $("join").hidden = false;
    $("name").focus();
  });
  $("presence-yes").addEventListener("click", answerPresence);
  $("code-form").addEventListener("submit", answerCode);
  window.addEventListener("pagehide", () => { if (client) client.stop(); });
  $("join").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("join-submit").disabled = true;
    $("join-error").textContent = "";
    try {
      token = await join(event.target);
      localStorage.setItem(tokenKey, token);
      watch();
    } catch (error) {
      $("join-error").textContent = error.message;
    } finally {
      $("join-submit").disabled = false;
    }
  });
  setInterval(updateQuality, 2000);
  setInterval(checkLive, 5000);
  setInterval(pollPresence, 10000);

  if (token) {
    watch();
  } else {
    $("join").hidden = false;
    $("name").focus();
  }
}

main();
