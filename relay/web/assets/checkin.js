/* SPDX-License-Identifier: Apache-2.0 */
/* Checking in from one's own phone, for a colleague watching at someone
 * else's screen: the code that screen shows (the QR code carries it),
 * name and workplace. Once checked in, the phone can ask the lecturer
 * questions in that person's own name, with the receipt as the key, and
 * shows the room's questions as the screen sees them (questions.js). */
"use strict";

const t = kkTranslator({
  "checkin.heading": "Register your attendance",
  "checkin.hint": "You are watching the lecture on a shared screen. The code is shown beside the picture.",
  "checkin.code": "Code",
  "checkin.name": "Name",
  "checkin.workplace": "Workplace",
  "checkin.submit": "Register me",
  "checkin.done": "You are registered",
  receipt: "Registered at {time}. Receipt: {receipt}",
  "error.code": "The code is not valid (it changes now and then): look at the screen again.",
  "error.busy": "Too many attempts. Try again in a minute.",
}, {
  receipt: "Registrert {time}. Kvittering: {receipt}",
  "error.code": "Koden er ikke gyldig (den byttes innimellom): se på skjermen igjen.",
  "error.busy": "For mange forsøk. Prøv igjen om et minutt.",
});

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const $ = (id) => document.getElementById(id);
/* The check-in kept for this tab: a phone reloads a page when it comes
 * back to it, and checking in again would make a second person. */
const storageKey = `kk-checkin:${room}`;

function showCheckedIn(data) {
  $("checkin").hidden = true;
  $("done").hidden = false;
  const time = data.checked_in_at ? new Date(data.checked_in_at).toLocaleTimeString(t.english ? "en-GB" : "nb-NO") : "";
  $("receipt").textContent = t("receipt", { time, receipt: data.receipt || data.participant_id });
  if (data.receipt) {
    new KkQuestionsPanel({ room, token: data.receipt, panel: $("questions"), answering: $("answering-now"),
      receipt: true });
  }
}

/* The kept check-in, if its receipt still reads the room (an erasure or
 * a new course in the room ends it). */
async function restore() {
  let kept = null;
  try { kept = JSON.parse(sessionStorage.getItem(storageKey)); } catch (e) { kept = null; }
  if (!kept?.receipt) return false;
  const reply = await kkApi("GET", `/api/rooms/${encodeURIComponent(room)}/questions`, kept.receipt).catch(() => null);
  if (reply?.status === 401 || reply?.status === 403) {
    sessionStorage.removeItem(storageKey);
    return false;
  }
  showCheckedIn(kept);
  return true;
}

async function submit(event) {
  event.preventDefault();
  $("submit").disabled = true;
  $("error").textContent = "";
  try {
    const reply = await kkApi("POST", `/api/rooms/${encodeURIComponent(room)}/checkin`, null, {
      code: $("code").value.trim(), name: $("name").value.trim(), workplace: $("workplace").value.trim(),
    });
    if (reply.status === 201) {
      const { receipt, checked_in_at, participant_id } = reply.data;
      try { sessionStorage.setItem(storageKey, JSON.stringify({ receipt, checked_in_at, participant_id })); } catch (e) { /* private mode */ }
      showCheckedIn(reply.data);
      return;
    }
    $("error").textContent = reply.status === 429 ? t("error.busy")
      : reply.status === 422 || reply.status === 403 || reply.status === 404 ? t("error.code")
      : reply.data?.error || `HTTP ${reply.status}`;
  } catch (error) {
    $("error").textContent = error.message;
  } finally {
    $("submit").disabled = false;
  }
}

async function main() {
  t.translatePage();
  $("code").value = new URLSearchParams(location.search).get("code") || "";
  $("checkin").addEventListener("submit", submit);
  if (!(await restore())) $(($("code").value ? "name" : "code")).focus();
  const info = await kkApi("GET", `/api/rooms/${encodeURIComponent(room)}`).catch(() => null);
  if (info?.ok && info.data?.title) {
    $("title").textContent = info.data.title;
    document.title = `${info.data.title} – Kringkast`;
  }
}

main();
