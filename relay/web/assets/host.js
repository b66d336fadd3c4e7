/* SPDX-License-Identifier: Apache-2.0 */
/* The host's page: pick camera and microphone, preview, and broadcast to
 * the room over WHIP. While live it shows the audience (people,
 * workplaces and screens, from the room's public state), the outgoing bit
 * rate and resolution, and the controls other modules offer when the
 * relay has them (pausing the recording, the attendance code): each is
 * found by asking, and stays hidden when the relay answers 404.
 *
 * A broken connection is replaced without ending the broadcast: the old
 * WHIP resource is not deleted, so the relay's grace period keeps the
 * session going while the page publishes again. */
"use strict";

const t = kkTranslator({
  "host.offair": "Off air",
  "host.onair": "On air",
  "host.token.heading": "Host link missing",
  "host.token.hint": "Open the host link the course coordinator sent you, or paste the host key here.",
  "host.token.label": "Host key",
  "host.token.submit": "Continue",
  "host.preview": "Preview",
  "host.camera": "Camera",
  "host.microphone": "Microphone",
  "host.resolution": "Picture quality",
  "host.level": "Sound level",
  "host.start": "Start broadcast",
  "host.stop": "End broadcast",
  "host.audience": "Audience",
  "host.viewers": "Screens",
  "host.people": "People",
  "host.workplaces": "Workplaces",
  "host.outgoing": "Outgoing",
  "host.bitrate": "Bit rate",
  "host.size": "Resolution",
  "host.path": "Connection",
  "host.recording": "Recording",
  "host.recording.pause": "Pause the recording",
  "host.recording.resume": "Resume the recording",
  "host.recording.on": "Recording.",
  "host.recording.paused": "The recording is paused.",
  "host.code": "Attendance code",
  "host.code.reveal": "Show the code",
  "host.code.hide": "Hide the code",
  "host.code.required": "Participants must type this code on their page to complete the course.",
  "host.code.optional": "Show it and ask participants to type it on their page.",
  "host.invite": "Open link for participants",
  "host.qr": "QR code for the open link",
  "chart.heading": "Audience over time",
  "chart.waiting": "The chart starts when the broadcast does.",
  camera: "Camera {n}",
  microphone: "Microphone {n}",
  "state.connecting": "Connecting…",
  "state.live": "Broadcasting",
  "state.stopped": "The broadcast has ended.",
  "state.lost": "Connection lost",
  "error.media": "The camera or microphone cannot be used: {error}. Allow access in the browser and reload the page.",
  "error.busy": "Someone else is already broadcasting in this room. Trying again…",
  "error.token": "The host key is not valid for this room. Ask the course coordinator for a new host link.",
  "error.room": "This course room does not exist.",
  "error.relay": "Cannot reach the relay ({error}). Trying again…",
  "error.network": "The network connection was lost. Reconnecting; the broadcast continues when it is back…",
  "error.unstable": "The network is unstable…",
  "error.recording": "The recording could not be changed: {error}",
  "error.code": "The attendance code cannot be shown: {error}",
  "error.webrtc": "This browser cannot broadcast. Open the host link in a current Chrome, Edge, Firefox or Safari.",
  "error.insecure": "The browser allows the camera only on secure pages: open the host link with https://.",
  "info.resumed": "The broadcast continues.",
}, {
  "host.onair": "På lufta",
  "host.recording.resume": "Fortsett opptaket",
  "host.recording.on": "Tar opp.",
  "host.recording.paused": "Opptaket er satt på pause.",
  "host.code.hide": "Skjul koden",
  "host.code.required": "Deltakerne må skrive inn denne koden på siden sin for å få kurset godkjent.",
  "host.code.optional": "Vis den, og be deltakerne skrive den inn på siden sin.",
  "host.qr": "QR-kode for den åpne lenken",
  "chart.waiting": "Diagrammet starter når sendingen gjør det.",
  camera: "Kamera {n}",
  microphone: "Mikrofon {n}",
  "state.connecting": "Kobler til …",
  "state.live": "Sender",
  "state.stopped": "Sendingen er avsluttet.",
  "state.lost": "Forbindelsen er brutt",
  "error.media": "Kameraet eller mikrofonen kan ikke brukes: {error}. Gi nettleseren tilgang og last inn siden på nytt.",
  "error.busy": "Noen andre sender allerede i dette rommet. Prøver igjen …",
  "error.token": "Vertsnøkkelen gjelder ikke for dette rommet. Be kurskoordinatoren om en ny vertslenke.",
  "error.room": "Dette kursrommet finnes ikke.",
  "error.relay": "Får ikke kontakt med kringkasteren ({error}). Prøver igjen …",
  "error.network": "Nettverksforbindelsen ble brutt. Kobler til igjen; sendingen fortsetter når den er tilbake …",
  "error.unstable": "Nettverket er ustabilt …",
  "error.recording": "Opptaket kunne ikke endres: {error}",
  "error.code": "Fremmøtekoden kan ikke vises: {error}",
  "error.webrtc": "Denne nettleseren kan ikke sende. Åpne vertslenken i en oppdatert Chrome, Edge, Firefox eller Safari.",
  "error.insecure": "Nettleseren gir bare tilgang til kameraet på sikre sider: åpne vertslenken med https://.",
  "info.resumed": "Sendingen fortsetter.",
});

/* Endpoints of other modules, feature-detected. */
const api = {
  room: (room) => `/api/rooms/${encodeURIComponent(room)}`,
  recording: (room) => `/api/rooms/${encodeURIComponent(room)}/recording`,
  attendanceCode: (room) => `/api/rooms/${encodeURIComponent(room)}/attendance-code`,
};

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const $ = (id) => document.getElementById(id);
const qualities = { 360: [640, 360, 800e3], 720: [1280, 720, 2000e3], 1080: [1920, 1080, 3500e3] };
let token = null;
let stream = null;
let client = null;
let wantLive = false;       /* the host pressed start and not stop */
let retryTimer = null;
let unstableTimer = null;
let recordingPaused = false;
let resuming = false;       /* replacing a broken connection */
let relayLost = false;      /* the last look at the room failed */

function message(text, kind) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
  $("message").className = `banner ${kind || "error"}`;
}

let onAirSince = 0;         /* when the connection last came up, or 0 */
function setOnAir(onAir) {
  onAirSince = onAir ? (onAirSince || performance.now()) : 0;
  $("onair").textContent = t(onAir ? "host.onair" : "host.offair");
  $("onair").classList.toggle("live", onAir);
  $("start").hidden = wantLive;
  $("stop").hidden = !wantLive;
}

/* Media. */

function constraints() {
  const [width, height] = qualities[$("resolution").value];
  const camera = $("camera").value;
  const microphone = $("microphone").value;
  return {
    video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 },
      ...(camera ? { deviceId: { exact: camera } } : {}) },
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true,
      ...(microphone ? { deviceId: { exact: microphone } } : {}) },
  };
}

async function fillDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, id, label] of [["videoinput", "camera", "camera"], ["audioinput", "microphone", "microphone"]]) {
    const select = $(id);
    const current = stream?.getTracks().find((tr) => tr.kind === kind.replace("input", ""))?.getSettings().deviceId;
    select.replaceChildren();
    devices.filter((d) => d.kind === kind).forEach((d, i) => {
      const option = new Option(d.label || t(label, { n: i + 1 }), d.deviceId);
      option.selected = d.deviceId === current;
      select.append(option);
    });
  }
}

let meterContext = null;
function watchLevel() {
  const track = stream?.getAudioTracks()[0];
  if (!track) return;
  if (meterContext) meterContext.close();
  meterContext = new AudioContext();
  const analyser = meterContext.createAnalyser();
  analyser.fftSize = 512;
  meterContext.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const context = meterContext;
  const tick = () => {
    if (context !== meterContext) return;
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const s of samples) peak = Math.max(peak, Math.abs(s));
    $("level").value = peak;
    setTimeout(tick, 100);
  };
  tick();
}

async function openMedia() {
  const old = stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(constraints());
  } catch (error) {
    message(t("error.media", { error: error.message || error.name }));
    return false;
  }
  if (old) old.getTracks().forEach((tr) => tr.stop());
  $("preview").srcObject = stream;
  $("preview").play().catch(() => {});
  if (client) {
    for (const track of stream.getTracks()) await client.replaceTrack(track);
  }
  await fillDevices();
  watchLevel();
  message("");
  return true;
}

/* Broadcasting. */

function whipUrl() { return `${location.origin}/whip/${encodeURIComponent(room)}`; }

function scheduleRetry(delay) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => { if (wantLive) publish(); }, delay);
}

/* Replaces the connection: the broken one's resource is left to the
 * relay's grace period so the session goes on. */
function reconnect(reason) {
  clearTimeout(unstableTimer);
  unstableTimer = null;
  if (client) client.stop(true);
  client = null;
  resuming = true;
  message(t(reason));
  setOnAir(false);
  scheduleRetry(1000);
}

function onState(state) {
  $("state").textContent = t({ connected: "state.live", connecting: "state.connecting", new: "state.connecting",
    disconnected: "error.unstable", failed: "state.lost" }[state] || "state.lost");
  if (state === "connected") {
    clearTimeout(unstableTimer);
    unstableTimer = null;
    if (resuming || !$("message").hidden) message(t("info.resumed"), "info");
    resuming = false;
    setOnAir(true);
  } else if (state === "disconnected") {
    message(t("error.unstable"), "warn");
    /* Browsers take up to 30 s to call a dead path failed; a lecture
     * should not wait that long. */
    if (!unstableTimer) unstableTimer = setTimeout(() => reconnect("error.network"), 6000);
  } else if (state === "failed") {
    reconnect("error.network");
  }
}

async function publish() {
  if (!stream && !(await openMedia())) return;
  if (client) client.stop(true);
  const [, , bitrate] = qualities[$("resolution").value];
  const attempt = new WhipClient(whipUrl(), token);
  client = attempt;
  attempt.onstate = onState;
  $("state").textContent = t("state.connecting");
  try {
    attempt.iceServers = await kkIceServers(room, token);
    await attempt.start(stream, bitrate);
  } catch (error) {
    if (client !== attempt) return;
    client = null;
    attempt.stop(true);
    if (!wantLive) return;
    if (error.status === 409) {
      /* While resuming, the 409 is our own broken connection, which the
       * relay lets go once it has gone quiet. */
      message(t(resuming ? "error.network" : "error.busy"), "warn");
      scheduleRetry(3000);
    } else if (error.status === 401 || error.status === 403) {
      wantLive = false;
      setOnAir(false);
      message(t("error.token"));
    } else if (error.status === 404) {
      wantLive = false;
      setOnAir(false);
      message(t("error.room"));
    } else {
      message(t("error.relay", { error: error.message }));
      scheduleRetry(3000);
    }
  }
}

function start() {
  wantLive = true;
  setOnAir(false);
  if (meterContext && meterContext.state === "suspended") meterContext.resume();
  publish();
}

function stop() {
  wantLive = false;
  resuming = false;
  clearTimeout(retryTimer);
  clearTimeout(unstableTimer);
  unstableTimer = null;
  if (client) client.stop();
  client = null;
  setOnAir(false);
  $("state").textContent = t("state.stopped");
  $("bitrate").textContent = "–";
  $("size").textContent = "–";
  $("path").textContent = "–";
  message("");
}

/* Browsers notice a dead path late when they only send; the relay's
 * feedback stopping is the earlier sign. */
let heard = { bytes: -1, at: 0 };
function watchFeedback(s) {
  const now = performance.now();
  if (s.bytesReceived !== heard.bytes) {
    heard = { bytes: s.bytesReceived, at: now };
    if ($("message").textContent === t("error.unstable")) message("");
    return;
  }
  if (now - heard.at > 10000) {
    heard = { bytes: -1, at: 0 };
    reconnect("error.network");
  } else if (now - heard.at > 4000 && $("message").hidden) {
    message(t("error.unstable"), "warn");
  }
}

async function showStats() {
  if (!client) return;
  const s = await client.stats();
  if (!s) return;
  if (client.pc?.connectionState === "connected") watchFeedback(s);
  $("bitrate").textContent = kkBitrate(s.bitrate);
  $("size").textContent = s.width ? `${s.width}×${s.height}${s.fps ? ` · ${Math.round(s.fps)} fps` : ""}${s.codec ? ` · ${s.codec}` : ""}` : "–";
  /* Which way the broadcast leaves this computer (straight, or through
   * the TURN server and how), so a host behind a strict network sees why. */
  s.path = await kkConnectionPath(client?.pc);
  $("path").textContent = kkPathText(s.path) || "–";
  window.kringkastHostStats = s;   /* read by the end-to-end tests */
}

/* The room's state, and what other modules offer. */

async function pollRoom() {
  try {
    const reply = await kkApi("GET", api.room(room), token);
    if (reply.status === 404) { message(t("error.room")); return; }
    if (!reply.ok || !reply.data) return;
    const info = reply.data;
    $("title").textContent = info.title || room;
    document.title = `${info.title || room} – Kringkast`;
    $("viewers").textContent = info.live ? String(info.viewers ?? 0) : "–";
    for (const key of ["people", "workplaces"]) {
      if (typeof info[key] !== "number") continue;
      $(`${key}-row`).hidden = false;
      $(key).textContent = info.live ? String(info[key]) : "–";
    }
    refreshRecording(info.live);
    refreshCode(info);
    if (relayLost) {
      relayLost = false;
      message("");
    }
    /* The relay says the broadcast is not on although our connection has
     * been up a while: it restarted, or gave up on us. Publish again at
     * once rather than wait for the browser to notice. */
    if (wantLive && client && onAirSince && performance.now() - onAirSince > 5000 && !info.live) {
      reconnect("error.network");
    }
  } catch (error) {
    if (wantLive) {
      relayLost = true;
      message(t("error.relay", { error: error.message }), "warn");
    }
  }
}

let recordingAvailable = false;
let recordingInfo = null;   /* the relay's last word on the room's recording */

/* The recording card shows while the broadcast is live and the room
 * records: GET answers with the state; a 405 means the relay takes the
 * POST but does not tell the state, so the card shows while live. */
async function refreshRecording(live) {
  const reply = await kkApi("GET", api.recording(room), token).catch(() => null);
  if (!reply) return;
  recordingAvailable = reply.ok || reply.status === 405;
  if (reply.ok && reply.data) {
    recordingInfo = reply.data;
    if (typeof reply.data.paused === "boolean") recordingPaused = reply.data.paused;
  }
  const records = !recordingInfo || recordingInfo.record || recordingInfo.recording;
  $("recording-card").hidden = !recordingAvailable || !live || !records;
  showRecording();
}

function showRecording() {
  $("recording").textContent = t(recordingPaused ? "host.recording.resume" : "host.recording.pause");
  $("recording").setAttribute("aria-pressed", String(recordingPaused));
  $("recording-state").textContent = t(recordingPaused ? "host.recording.paused" : "host.recording.on");
}

async function toggleRecording() {
  const reply = await kkApi("POST", api.recording(room), token, { paused: !recordingPaused })
    .catch((error) => ({ ok: false, status: 0, data: { error: error.message } }));
  if (!reply.ok) {
    message(t("error.recording", { error: reply.data?.error || `HTTP ${reply.status}` }));
    return;
  }
  recordingPaused = typeof reply.data?.paused === "boolean" ? reply.data.paused : !recordingPaused;
  showRecording();
}

/* The attendance code belongs to a live session: the card shows while
 * the broadcast is on and the relay has codes (GET answers; 404 means it
 * has none), and a code shown for an earlier session is taken away. */
let codeSession = null;     /* the session of the code on screen */
async function refreshCode(info) {
  if (!info.live || !info.session_id) {
    $("code-card").hidden = true;
    showCode(null);
    return;
  }
  const reply = await kkApi("GET", api.attendanceCode(room), token).catch(() => null);
  if (!reply) return;
  if (reply.status === 404 || reply.status === 405) {
    $("code-card").hidden = true;
    return;
  }
  $("code-card").hidden = false;
  $("code-hint").textContent = t(reply.data?.required ? "host.code.required" : "host.code.optional");
  if (codeSession && reply.data?.session_id && codeSession !== reply.data.session_id) showCode(null);
}

function showCode(code, session) {
  codeSession = code ? session : null;
  $("code").textContent = code || "";
  $("code").hidden = !code;
  $("reveal").textContent = t(code ? "host.code.hide" : "host.code.reveal");
  $("reveal").setAttribute("aria-expanded", String(!!code));
}

/* POST reveals the session's code: made the first time, the same after. */
async function toggleCode() {
  if (!$("code").hidden) {
    showCode(null);
    return;
  }
  const reply = await kkApi("POST", api.attendanceCode(room), token, {})
    .catch((error) => ({ ok: false, status: 0, data: { error: error.message } }));
  if (!reply.ok || !reply.data?.code) {
    message(t("error.code", { error: reply.data?.error || `HTTP ${reply.status}` }), "warn");
    return;
  }
  showCode(reply.data.code, reply.data.session_id);
}

function showInvite() {
  const link = `${location.origin}/watch/${encodeURIComponent(room)}`;
  $("invite-link").href = link;
  $("invite-link").textContent = link;
  $("invite-qr").src = `/qr.svg?data=${encodeURIComponent(link)}`;
  $("invite-qr").alt = t("host.qr");
}

async function enter() {
  $("token-form").hidden = true;
  $("studio").hidden = false;
  showInvite();
  new KkQuestionsPanel({ room, token, privileged: true, panel: $("questions") });
  setOnAir(false);
  pollRoom();
  setInterval(pollRoom, 3000);
  setInterval(showStats, 1000);
  kkFollowLiveAudience(room, () => token, t);
  await openMedia();
}

function main() {
  t.translatePage();
  const key = `kringkast-host-${room}`;
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) {
    sessionStorage.setItem(key, hashToken);
    /* Keep the key off the address bar (screen sharing, shoulder
     * surfing); it stays in this tab's session storage. */
    history.replaceState(null, "", location.pathname + location.search);
  }
  token = hashToken || sessionStorage.getItem(key);

  /* Without WebRTC (Debian's WebKitGTK) or outside a secure context (plain
   * http from another machine: no navigator.mediaDevices) nothing here can
   * work; say why instead of failing at the first button. */
  if (typeof RTCPeerConnection !== "function" || !navigator.mediaDevices?.getUserMedia) {
    message(t(window.isSecureContext === false ? "error.insecure" : "error.webrtc"));
    return;
  }

  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
  $("recording").addEventListener("click", toggleRecording);
  $("reveal").addEventListener("click", toggleCode);
  for (const id of ["camera", "microphone", "resolution"]) {
    $(id).addEventListener("change", async () => {
      await openMedia();
      if (id === "resolution" && client) client.setMaxBitrate(qualities[$("resolution").value][2]);
    });
  }
  navigator.mediaDevices?.addEventListener?.("devicechange", fillDevices);
  window.addEventListener("pagehide", () => { if (client) client.stop(); });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token-input").value.trim();
    sessionStorage.setItem(key, token);
    enter();
  });

  if (token) enter();
  else $("token-form").hidden = false;
}

main();
