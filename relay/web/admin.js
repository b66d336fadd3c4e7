/* SPDX-License-Identifier: Apache-2.0 */
/* The coordinator's page: courses (rooms) and their links, participants
 * imported as personal invitation links, live broadcasts, past sessions
 * with their recordings and attendance.
 *
 * The coordinator token is asked for once and kept in this tab's session
 * storage. Recordings and attendance files need that token, which a
 * <video src> or a plain link cannot send, so they are fetched here and
 * handed to the player or the download as a blob.
 *
 * Editing a course and overriding a completion belong to other modules;
 * the page uses them where the relay answers, and says so where not. */
"use strict";

const t = kkTranslator({
  "admin.title": "Kringkast – course coordinator",
  "admin.signout": "Sign out",
  "signin.heading": "Sign in",
  "signin.token": "Coordinator key",
  "signin.hint": "The key was printed when Kringkast first started (or is in KRINGKAST_ADMIN_TOKEN). It is kept until this tab closes.",
  "signin.submit": "Sign in",
  "live.heading": "Live now",
  "live.none": "No broadcasts right now.",
  "rooms.heading": "Courses",
  "rooms.create": "New course",
  "room.id": "Short name (lower-case letters, digits and hyphens)",
  "room.title": "Title",
  "room.ratio": "Completed at (per cent of the broadcast)",
  "room.record": "Record the broadcasts",
  "room.submit": "Create the course",
  "edit.heading": "Edit the course",
  "edit.submit": "Save",
  "edit.prompts": "Presence checks per broadcast",
  "edit.code": "Require the attendance code the host shows",
  "override.by": "Your name (for overrides)",
  "import.heading": "Import participants",
  "import.label": "One participant per line: name; workplace (or paste from Excel)",
  "import.submit": "Make personal links",
  "import.download": "Download the links (CSV)",
  "sessions.heading": "Past broadcasts",
  "sessions.filter": "Course",
  "sessions.all": "All courses",
  "sessions.none": "No broadcasts yet.",
  "recording.heading": "Recording",
  "recording.download": "Download the recording",
  "attendance.heading": "Attendance",
  "attendance.csv": "Download for Excel (CSV)",
  "attendance.json": "Download JSON",
  "col.room": "Course", "col.viewers": "Viewers", "col.session": "Broadcast", "col.status": "Status",
  "col.hostlink": "Host link", "col.openlink": "Open link", "col.actions": "Actions", "col.name": "Name",
  "col.workplace": "Workplace", "col.invite": "Personal link", "col.started": "Started", "col.ended": "Ended",
  "col.recording": "Recording", "col.attendance": "Attendance", "col.first": "Came", "col.last": "Left",
  "col.time": "Time", "col.completed": "Completed", "col.override": "Override",
  live: "Live · {n} viewers", offair: "Off air", copy: "Copy", copied: "Copied to the clipboard.",
  manage: "Participants and settings", play: "Play", show: "Show", none: "–", running: "running",
  yes: "Yes", no: "No", reason: "Reason", "override.set": "Mark completed", "override.unset": "Mark not completed",
  "error.token": "That key is not the coordinator key.",
  "error.edit": "This relay cannot edit courses yet.",
  "error.override": "This relay cannot override completions yet.",
  "error.reason": "Write a reason for the override, and your name.",
  "error.attendance": "The relay has no attendance for this broadcast yet.",
  "error.generic": "Something went wrong: {error}",
  "info.created": "The course {id} was created.",
  "info.saved": "Saved.",
  "info.imported": "{n} personal links made.",
  "info.loading": "Loading the recording…",
  "info.finishing": "The recording is being finished…",
  "recording.recording": "recording", "recording.paused": "paused", "recording.finished": "finished",
  "recording.failed": "failed", "recording.empty": "empty", "recording.deleted": "deleted",
  "attendance.summary": "{n} people, {c} completed.",
  overridden: "Overridden by {by}: {reason}",
  "room.panel": "Course: {title}",
  "session.panel": "{room}, {start}",
}, {
  live: "På lufta · {n} seere", offair: "Ikke på lufta", copy: "Kopier", copied: "Kopiert til utklippstavlen.",
  manage: "Deltakere og innstillinger", play: "Spill av", show: "Vis", none: "–", running: "pågår",
  yes: "Ja", no: "Nei", reason: "Begrunnelse", "override.set": "Sett som fullført", "override.unset": "Sett som ikke fullført",
  "error.token": "Det er ikke koordinatornøkkelen.",
  "error.edit": "Denne kringkasteren kan ikke endre kurs ennå.",
  "error.override": "Denne kringkasteren kan ikke overstyre fullføring ennå.",
  "error.reason": "Skriv en begrunnelse for overstyringen, og navnet ditt.",
  "overridden": "Overstyrt av {by}: {reason}",
  "error.attendance": "Kringkasteren har ikke fremmøte for denne sendingen ennå.",
  "error.generic": "Noe gikk galt: {error}",
  "info.created": "Kurset {id} er opprettet.",
  "info.saved": "Lagret.",
  "info.imported": "{n} personlige lenker er laget.",
  "info.loading": "Henter opptaket …",
  "info.finishing": "Opptaket gjøres ferdig …",
  "recording.recording": "tar opp", "recording.paused": "på pause", "recording.finished": "ferdig",
  "recording.failed": "mislyktes", "recording.empty": "tomt", "recording.deleted": "slettet",
  "attendance.summary": "{n} personer, {c} fullført.",
  "room.panel": "Kurs: {title}",
  "session.panel": "{room}, {start}",
});

const $ = (id) => document.getElementById(id);
const tokenKey = "kringkast-admin";
let token = null;
let rooms = [];
let currentRoom = null;
let currentSession = null;
let invites = [];
let recordingUrl = null;

function message(text, kind) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
  $("message").className = `banner ${kind || "error"}`;
}

/* Small DOM builder: text only, never HTML from data. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function formatTime(iso) {
  if (!iso) return t("running");
  return new Date(iso).toLocaleString(t.english ? "en-GB" : "nb-NO", { dateStyle: "short", timeStyle: "short" });
}

function formatDuration(seconds) {
  const s = Math.round(seconds || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h} t ${m} min` : `${m} min ${s % 60} s`;
}

async function call(method, path, body) {
  const reply = await kkApi(method, path, token, body);
  if (reply.status === 401) { signOut(t("error.token")); throw new Error(t("error.token")); }
  return reply;
}

/* Fetches with the token, for files. A recording is 409 while the relay
 * still finishes it (just after the broadcast): wait for it a while. */
async function fetchBlob(path) {
  let response;
  for (let attempt = 0; attempt < 30; attempt++) {
    response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (response.status !== 409) break;
    $("recording-status").textContent = t("info.finishing");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (!response.ok) {
    const error = new Error(`HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.blob();
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {
    input.select();
    document.execCommand("copy");
  }
  $("copied").textContent = t("copied");
  message(t("copied"), "info");
}

function linkCell(label, url) {
  const input = el("input", { value: url, readonly: "", "aria-label": label });
  return el("div", { class: "link" }, input,
    el("button", { type: "button", class: "secondary", "aria-label": `${t("copy")}: ${label}`, onclick: () => copy(url, input) }, t("copy")));
}

function hostLink(room) { return `${location.origin}/host/${encodeURIComponent(room.id)}#token=${encodeURIComponent(room.host_token)}`; }
function openLink(room) { return `${location.origin}/watch/${encodeURIComponent(room.id)}`; }

/* Rooms and live broadcasts. */

async function loadRooms() {
  const reply = await call("GET", "/api/rooms");
  if (!reply.ok) return;
  rooms = reply.data;
  const body = $("rooms-table").tBodies[0];
  body.replaceChildren(...rooms.map((room) => el("tr", { "data-room": room.id },
    el("td", {}, el("strong", {}, room.title), el("br"), el("span", { class: "status" }, room.id)),
    el("td", {}, room.live ? el("span", { class: "badge live" }, t("live", { n: room.viewers })) : t("offair")),
    el("td", {}, linkCell(`${t("col.hostlink")} ${room.id}`, hostLink(room))),
    el("td", {}, linkCell(`${t("col.openlink")} ${room.id}`, openLink(room))),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => openRoom(room.id) }, t("manage"))))));

  const live = rooms.filter((room) => room.live);
  $("live-none").hidden = live.length > 0;
  $("live-table").hidden = live.length === 0;
  $("live-table").tBodies[0].replaceChildren(...live.map((room) => el("tr", { "data-room": room.id },
    el("td", {}, room.title), el("td", { class: "viewers" }, room.viewers), el("td", {}, room.session_id || ""))));

  const select = $("sessions-room");
  const chosen = select.value;
  select.replaceChildren(select.options[0], ...rooms.map((room) => new Option(room.title, room.id)));
  select.value = chosen;
  if (currentRoom) {
    const room = rooms.find((r) => r.id === currentRoom);
    if (room) $("room-panel-heading").textContent = t("room.panel", { title: room.title });
  }
}

async function createRoom(event) {
  event.preventDefault();
  const body = {
    id: $("room-id").value.trim(), title: $("room-title").value.trim(),
    record: $("room-record").checked, completion_ratio: Number($("room-ratio").value) / 100,
  };
  const reply = await call("POST", "/api/rooms", body);
  if (reply.status !== 201) { message(t("error.generic", { error: reply.data?.error || reply.status })); return; }
  message(t("info.created", { id: body.id }), "info");
  $("room-form").reset();
  $("create-details").open = false;
  await loadRooms();
  openRoom(body.id);
}

function openRoom(id) {
  const room = rooms.find((r) => r.id === id);
  if (!room) return;
  currentRoom = id;
  invites = [];
  $("invites").hidden = true;
  $("room-panel").hidden = false;
  $("room-panel-heading").textContent = t("room.panel", { title: room.title });
  $("edit-title").value = room.title;
  $("edit-ratio").value = Math.round((room.completion_ratio ?? 0.8) * 100);
  $("edit-record").checked = !!room.record;
  $("room-panel").scrollIntoView({ block: "start" });
  $("edit-title").focus();
  loadSettings(id);
}

/* The attendance module's per-course settings, where the relay has them. */
let settings = null;
const settingDefaults = {
  grace_seconds: 60, require_code: false, prompts: 0, prompt_window_seconds: 180, retention_days: 0,
};
async function loadSettings(id) {
  const reply = await call("GET", `/api/rooms/${encodeURIComponent(id)}/attendance-settings`);
  if (currentRoom !== id) return;
  settings = reply.ok && reply.data ? reply.data : null;
  $("edit-prompts-row").hidden = !settings || !("prompts" in settings);
  $("edit-code-row").hidden = !settings || !("require_code" in settings);
  if (!settings) return;
  $("edit-ratio").value = Math.round((settings.effective_completion_ratio ?? settings.completion_ratio ?? 0.8) * 100);
  $("edit-prompts").value = settings.prompts ?? 0;
  $("edit-code").checked = !!settings.require_code;
}

/* Title and recording are the room's own (PATCH on the room, where the
 * relay has it); the completion rule and presence checks are the
 * attendance module's settings. Only what changed is sent. */
async function editRoom(event) {
  event.preventDefault();
  const room = rooms.find((r) => r.id === currentRoom);
  const path = `/api/rooms/${encodeURIComponent(currentRoom)}`;
  const ratio = Number($("edit-ratio").value) / 100;
  const changes = {};
  if ($("edit-title").value.trim() !== room.title) changes.title = $("edit-title").value.trim();
  if ($("edit-record").checked !== !!room.record) changes.record = $("edit-record").checked;
  if (!settings && Math.abs(ratio - (room.completion_ratio ?? 0.8)) > 1e-9) changes.completion_ratio = ratio;
  if (Object.keys(changes).length) {
    const reply = await call("PATCH", path, changes);
    if (reply.status === 404 || reply.status === 405) { message(t("error.edit"), "warn"); return; }
    if (!reply.ok) { message(t("error.generic", { error: reply.data?.error || reply.status })); return; }
  }
  if (settings) {
    /* A PUT replaces every setting: send back what was read, with this
     * form's fields changed, leaving out derived values and those at
     * their documented defaults (which a relay without presence checks
     * does not accept). */
    const body = {};
    for (const [key, value] of Object.entries(settings)) {
      if (!key.startsWith("effective_") && value !== null && settingDefaults[key] !== value) body[key] = value;
    }
    body.completion_ratio = ratio;
    if ("prompts" in settings) body.prompts = Number($("edit-prompts").value);
    if ("require_code" in settings) body.require_code = $("edit-code").checked;
    for (const key of ["prompts", "require_code"]) {
      if (body[key] === settingDefaults[key]) delete body[key];
    }
    const reply = await call("PUT", `${path}/attendance-settings`, body);
    if (!reply.ok) { message(t("error.generic", { error: reply.data?.error || reply.status })); return; }
    settings = { ...settings, ...body, effective_completion_ratio: ratio };
  }
  message(t("info.saved"), "info");
  loadRooms();
}

/* "name; workplace" per line; tabs (pasted from Excel) and commas work too. */
function parseParticipants(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const [name, ...rest] = line.split(/\t|;|,/);
    return { name: name.trim(), workplace: rest.join(" ").trim() };
  }).filter((p) => p.name && !/^(navn|name)$/i.test(p.name));
}

async function importParticipants(event) {
  event.preventDefault();
  const people = parseParticipants($("import-text").value);
  $("import-submit").disabled = true;
  try {
    for (const person of people) {
      const reply = await call("POST", `/api/rooms/${encodeURIComponent(currentRoom)}/join`, person);
      if (reply.status !== 201) { message(`${person.name}: ${reply.data?.error || reply.status}`); continue; }
      invites.push({ ...person, link: `${location.origin}/watch/${encodeURIComponent(currentRoom)}#token=${encodeURIComponent(reply.data.token)}` });
    }
  } finally {
    $("import-submit").disabled = false;
  }
  $("invites").hidden = invites.length === 0;
  $("invites-table").tBodies[0].replaceChildren(...invites.map((p) => el("tr", {},
    el("td", {}, p.name), el("td", {}, p.workplace), el("td", {}, linkCell(`${t("col.invite")} ${p.name}`, p.link)))));
  message(t("info.imported", { n: invites.length }), "info");
  $("import-text").value = "";
}

function csvField(value) {
  const text = String(value ?? "");
  return /[";\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function downloadInvites() {
  /* Semicolons and a BOM: what Excel in Norway opens without a wizard. */
  const lines = [["name", "workplace", "link"], ...invites.map((p) => [p.name, p.workplace, p.link])];
  const text = "\ufeff" + lines.map((row) => row.map(csvField).join(";")).join("\r\n") + "\r\n";
  saveBlob(new Blob([text], { type: "text/csv" }), `invitations-${currentRoom}.csv`);
}

/* Sessions. */

/* A session's recording: a URL, or (newer relays) an object with the URL
 * once the file is finished and its state meanwhile. */
function recordingOf(session) {
  const r = session.recording;
  if (!r) return null;
  if (typeof r === "string") return { url: r, state: "finished" };
  return r;
}

async function loadSessions() {
  const room = $("sessions-room").value;
  const reply = await call("GET", `/api/sessions${room ? `?room=${encodeURIComponent(room)}` : ""}`);
  if (!reply.ok) return;
  const sessions = reply.data.slice().sort((a, b) => (b.started_at || "").localeCompare(a.started_at || ""));
  $("sessions-none").hidden = sessions.length > 0;
  $("sessions-table").tBodies[0].replaceChildren(...sessions.map((s) => el("tr", { "data-session": s.id },
    el("td", {}, rooms.find((r) => r.id === s.room)?.title || s.room),
    el("td", {}, formatTime(s.started_at)),
    el("td", {}, s.ended_at ? formatTime(s.ended_at) : t("running")),
    el("td", {}, recordingOf(s)?.url
      ? el("button", { type: "button", class: "secondary play", onclick: () => openSession(s, true) }, t("play"))
      : recordingOf(s) ? t(`recording.${recordingOf(s).state}`) : t("none")),
    el("td", {}, el("button", { type: "button", class: "secondary attendance", onclick: () => openSession(s, false) }, t("show"))))));
}

async function openSession(session, play) {
  currentSession = session;
  $("session-panel").hidden = false;
  $("session-heading").textContent = t("session.panel", {
    room: rooms.find((r) => r.id === session.room)?.title || session.room, start: formatTime(session.started_at) });
  const recording = recordingOf(session);
  $("recording-area").hidden = !recording?.url;
  if (recordingUrl) { URL.revokeObjectURL(recordingUrl); recordingUrl = null; }
  $("recording-video").removeAttribute("src");
  $("session-panel").scrollIntoView({ block: "start" });
  loadAttendance();
  if (recording?.url && play) {
    $("recording-status").textContent = t("info.loading");
    try {
      const blob = await fetchBlob(recording.url);
      if (currentSession !== session) return;
      recordingUrl = URL.createObjectURL(blob);
      $("recording-video").src = recordingUrl;
      $("recording-status").textContent = "";
      $("recording-video").play().catch(() => {});
    } catch (error) {
      $("recording-status").textContent = t("error.generic", { error: error.message });
    }
  }
}

async function loadAttendance() {
  const session = currentSession;
  const reply = await call("GET", `/api/sessions/${encodeURIComponent(session.id)}/attendance`);
  if (currentSession !== session) return;
  const body = $("attendance-table").tBodies[0];
  const available = reply.ok && Array.isArray(reply.data);
  $("attendance-csv").disabled = !available;
  $("attendance-json").disabled = !available;
  if (!available) {
    body.replaceChildren();
    $("attendance-status").textContent = t("error.attendance");
    return;
  }
  const people = reply.data;
  $("attendance-status").textContent = t("attendance.summary", { n: people.length, c: people.filter((p) => p.completed).length });
  body.replaceChildren(...people.map((p) => {
    const reason = el("input", { "aria-label": `${t("reason")}: ${p.name}`, placeholder: t("reason"), maxlength: "500" });
    return el("tr", { "data-participant": p.participant_id },
      el("td", {}, p.name), el("td", {}, p.workplace || ""),
      el("td", {}, p.first_join ? formatTime(p.first_join) : t("none")),
      el("td", {}, p.last_leave ? formatTime(p.last_leave) : t("none")),
      el("td", {}, `${formatDuration(p.attended_seconds)} (${Math.round((p.attended_ratio || 0) * 100)} %)`),
      el("td", {}, p.completed ? t("yes") : t("no"),
        p.override ? el("div", { class: "hint" }, t("overridden", { by: p.override.by, reason: p.override.reason })) : null),
      el("td", {}, el("div", { class: "link" }, reason,
        el("button", { type: "button", class: "secondary", onclick: () => override(p, !p.completed, reason) },
          t(p.completed ? "override.unset" : "override.set")))));
  }));
}

async function override(person, completed, reasonInput) {
  const reason = reasonInput.value.trim();
  const by = $("override-by").value.trim();
  if (!reason || !by) { message(t("error.reason"), "warn"); (reason ? $("override-by") : reasonInput).focus(); return; }
  sessionStorage.setItem("kringkast-admin-name", by);
  const reply = await call("POST", `/api/sessions/${encodeURIComponent(currentSession.id)}/attendance/${encodeURIComponent(person.participant_id)}/override`,
    { completed, reason, by });
  if (reply.status === 404 || reply.status === 405) { message(t("error.override"), "warn"); return; }
  if (!reply.ok) { message(t("error.generic", { error: reply.data?.error || reply.status })); return; }
  message(t("info.saved"), "info");
  loadAttendance();
}

async function downloadAttendance(format) {
  const path = `/api/sessions/${encodeURIComponent(currentSession.id)}/attendance${format === "csv" ? "?format=csv" : ""}`;
  try {
    saveBlob(await fetchBlob(path), `attendance-${currentSession.room}-${currentSession.id}.${format}`);
  } catch (error) {
    message(t("error.generic", { error: error.message }));
  }
}

async function downloadRecording() {
  try {
    const blob = await fetchBlob(recordingOf(currentSession).url);
    saveBlob(blob, `${currentSession.room}-${currentSession.id}.${blob.type.includes("mp4") ? "mp4" : "webm"}`);
  } catch (error) {
    message(t("error.generic", { error: error.message }));
  }
}

/* Signing in and out. */

let refreshTimer = null;
async function enter() {
  $("signin").hidden = true;
  $("console").hidden = false;
  $("signout").hidden = false;
  await loadRooms();
  await loadSessions();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => { loadRooms().catch(() => {}); loadSessions().catch(() => {}); }, 5000);
}

function signOut(reason) {
  sessionStorage.removeItem(tokenKey);
  token = null;
  clearInterval(refreshTimer);
  $("console").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  message(reason || "");
  $("admin-token").focus();
}

function main() {
  t.translatePage();
  token = sessionStorage.getItem(tokenKey);
  $("override-by").value = sessionStorage.getItem("kringkast-admin-name") || "";
  $("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    token = $("admin-token").value.trim();
    const reply = await kkApi("GET", "/api/sessions", token).catch(() => null);
    if (!reply || !reply.ok) { token = null; message(t("error.token")); return; }
    sessionStorage.setItem(tokenKey, token);
    $("admin-token").value = "";
    message("");
    enter();
  });
  $("signout").addEventListener("click", () => signOut());
  $("room-form").addEventListener("submit", createRoom);
  $("edit-form").addEventListener("submit", editRoom);
  $("import-form").addEventListener("submit", importParticipants);
  $("invites-download").addEventListener("click", downloadInvites);
  $("sessions-room").addEventListener("change", loadSessions);
  $("attendance-csv").addEventListener("click", () => downloadAttendance("csv"));
  $("attendance-json").addEventListener("click", () => downloadAttendance("json"));
  $("recording-download").addEventListener("click", downloadRecording);
  if (token) enter();
  else { $("signin").hidden = false; $("admin-token").focus(); }
}

main();
