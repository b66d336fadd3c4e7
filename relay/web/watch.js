/* SPDX-License-Identifier: Apache-2.0 */
/* The nurse's page: join (from the invitation link's token, or the open
 * form), then watch. It waits for the lecture when it has not begun, comes
 * back on its own after a network drop (WHEP again with the same token),
 * and leaves with a WHEP DELETE. */
"use strict";

const english = {
  "join.heading": "Join the lecture",
  "join.name": "Name",
  "join.workplace": "Workplace",
  "join.colleagues": "Colleagues watching at the same screen (comma-separated)",
  "join.hint": "Your attendance is recorded automatically while you watch.",
  "join.submit": "Watch the lecture",
  "player.unmute": "Turn sound on",
  "player.fullscreen": "Full screen",
  "player.leave": "Leave",
  waiting: "The lecture has not started yet. It will start here by itself.",
  connecting: "Connecting…",
  reconnecting: "The connection was lost. Reconnecting…",
  left: "You have left the lecture.",
  "sound.blocked": "The browser needs one click to play sound: press “Turn sound on”.",
  "quality.good": "Connection good",
  "quality.fair": "Connection fair",
  "quality.poor": "Connection poor",
  "error.token": "This link is no longer valid. Ask the course coordinator for a new one.",
  "error.room": "This course room does not exist.",
};
const bokmal = {
  waiting: "Forelesningen har ikke startet ennå. Den starter her av seg selv.",
  connecting: "Kobler til …",
  reconnecting: "Forbindelsen ble brutt. Kobler til igjen …",
  left: "Du har forlatt forelesningen.",
  "sound.blocked": "Nettleseren trenger ett klikk for å spille av lyd: trykk «Slå på lyd».",
  "quality.good": "God forbindelse",
  "quality.fair": "Middels forbindelse",
  "quality.poor": "Dårlig forbindelse",
  "error.token": "Denne lenken er ikke lenger gyldig. Be kurskoordinatoren om en ny.",
  "error.room": "Dette kursrommet finnes ikke.",
};
const useEnglish = !(navigator.languages || [navigator.language]).some((l) => /^(nb|no|nn)\b/i.test(l))
  && (navigator.languages || [navigator.language]).some((l) => /^en\b/i.test(l));
function t(key) {
  if (useEnglish) return english[key] || key;
  return bokmal[key] || document.querySelector(`[data-i18n="${key}"]`)?.dataset.original || english[key] || key;
}
function translatePage() {
  document.documentElement.lang = useEnglish ? "en" : "nb";
  document.querySelectorAll("[data-i18n]").forEach((el) => {
    el.dataset.original = el.textContent;
    if (useEnglish) el.textContent = english[el.dataset.i18n] || el.textContent;
  });
}

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const $ = (id) => document.getElementById(id);
let client = null;
let leaving = false;
let retryTimer = null;

function tokenKey() { return `kringkast-token-${room}`; }
function show(text) { $("overlay").textContent = text; $("overlay").hidden = !text; }

async function roomInfo() {
  const response = await fetch(`/api/rooms/${encodeURIComponent(room)}`);
  if (response.status === 404) throw Object.assign(new Error(t("error.room")), { fatal: true });
  return response.json();
}

async function join(form) {
  const body = {
    name: form.name.value.trim(),
    workplace: form.workplace.value.trim(),
    colleagues: form.colleagues.value.split(",").map((s) => s.trim()).filter(Boolean),
  };
  const response = await fetch(`/api/rooms/${encodeURIComponent(room)}/join`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const reply = await response.json();
  if (response.status !== 201) throw new Error(reply.error || `HTTP ${response.status}`);
  return reply.token;
}

function scheduleRetry(token, delay) {
  clearTimeout(retryTimer);
  if (!leaving) retryTimer = setTimeout(() => watch(token), delay);
}

async function watch(token) {
  $("join").hidden = true;
  $("player").hidden = false;
  if (client) { client.stop(); client = null; }
  try {
    const info = await roomInfo();
    $("title").textContent = info.title || "Kringkast";
    document.title = `${info.title} – Kringkast`;
    if (!info.live) {
      show(t("waiting"));
      scheduleRetry(token, 3000);
      return;
    }
    show(t("connecting"));
    client = new WhepClient(`${location.origin}/whep/${encodeURIComponent(room)}`, token);
    client.onstream = (stream) => {
      const video = $("video");
      if (video.srcObject !== stream) video.srcObject = stream;
      video.play().catch(() => {});
    };
    client.onstate = (state) => {
      $("state").textContent = state;
      if (state === "connected") show("");
      if (state === "failed" || state === "closed") {
        show(t("reconnecting"));
        scheduleRetry(token, 1000);
      }
    };
    await client.start();
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      localStorage.removeItem(tokenKey());
      show(t("error.token"));
      return;
    }
    if (error.fatal) { show(error.message); return; }
    show(t("reconnecting"));
    scheduleRetry(token, 2000);
  }
}

async function updateQuality() {
  if (!client) return;
  const s = await client.stats();
  if (!s) return;
  const total = s.packetsLost + s.packetsReceived;
  const loss = total ? s.packetsLost / total : 0;
  const level = loss < 0.01 && (s.rtt === null || s.rtt < 0.3) ? "good" : loss < 0.05 ? "fair" : "poor";
  $("quality").textContent = `${t("quality." + level)}${s.width ? ` · ${s.width}×${s.height}` : ""}`;
  $("quality").className = `status quality-${level}`;
  window.kringkastStats = s;   /* read by the end-to-end tests */
}

function start() {
  translatePage();
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) localStorage.setItem(tokenKey(), hashToken);
  const token = hashToken || localStorage.getItem(tokenKey());

  $("unmute").addEventListener("click", () => {
    const video = $("video");
    video.muted = false;
    video.play().catch(() => {});
    $("unmute").hidden = true;
  });
  $("fullscreen").addEventListener("click", () => $("video").parentElement.requestFullscreen?.());
  $("leave").addEventListener("click", () => {
    leaving = true;
    clearTimeout(retryTimer);
    if (client) client.stop();
    client = null;
    show(t("left"));
  });
  window.addEventListener("pagehide", () => { if (client) client.stop(); });
  $("join").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const newToken = await join(event.target);
      localStorage.setItem(tokenKey(), newToken);
      watch(newToken);
    } catch (error) {
      $("join-error").textContent = error.message;
    }
  });
  setInterval(updateQuality, 2000);

  if (token) watch(token);
  else $("join").hidden = false;
}

start();
