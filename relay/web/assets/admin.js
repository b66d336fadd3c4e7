/* SPDX-License-Identifier: Apache-2.0 */
/* The coordinator's page: courses (rooms) and their links, participants
 * imported as personal invitation links, live broadcasts, sessions planned
 * ahead (planned, moved and cancelled here, in Oslo time), past sessions
 * with their recordings and attendance.
 *
 * The coordinator token is asked for once and kept in this tab's session
 * storage. A <video src> or a plain link cannot send it, so recordings
 * are played and downloaded through short-lived signed links the relay
 * gives the coordinator: the browser streams them itself (Range, so a
 * long lecture is never held in memory and seeking works) and saves them
 * under the relay's file name. Attendance files are small: they are
 * fetched with the token and saved as a blob.
 *
 * The completion rule's details and overriding a completion belong to
 * the attendance module; the page uses them where the relay answers, and
 * says so where not. */
"use strict";

const t = kkTranslator({
  "admin.title": "Kringkast – course coordinator",
  "admin.signout": "Sign out",
  "admin.network-check": "Network check for workplaces",
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
  "room.access": "Who may take part",
  "access.open": "Anyone with the open link",
  "access.invitation": "Invited people only",
  "room.submit": "Create the course",
  "edit.heading": "Edit the course",
  "edit.submit": "Save",
  "edit.prompts": "Presence checks per broadcast",
  "edit.code": "Require the attendance code the host shows",
  "override.by": "Your name (for overrides)",
  "import.heading": "Import participants",
  "import.label": "One participant per line: name; workplace (or paste from Excel)",
  "import.file": "… or choose a CSV file from Excel (columns name, workplace, e-mail, HPR number)",
  "import.submit": "Make personal links",
  "import.once": "The links are shown only now: download or copy them before you move on. A lost link is replaced with a new one.",
  "import.download": "Download the links (CSV)",
  "sessions.heading": "Broadcasts",
  "sessions.filter": "Show broadcasts of",
  "sessions.all": "All courses",
  "sessions.none": "No broadcasts yet.",
  "recording.heading": "Recording",
  "recording.download": "Download the recording",
  "attendance.heading": "Attendance",
  "attendance.csv": "Download for Excel (CSV)",
  "attendance.json": "Download JSON",
  "plan.heading": "Plan a broadcast",
  "plan.room": "Course to broadcast",
  "plan.choose": "Choose a course",
  "plan.date": "Date",
  "plan.start": "Starts at",
  "plan.end": "Ends at",
  "plan.hint": "Norwegian time. A broadcast the host starts up to an hour before the planned start counts as this one.",
  "plan.submit": "Plan the broadcast",
  "reschedule.heading": "New time for the broadcast",
  "reschedule.submit": "Save the new time",
  "reschedule.close": "Close",
  "col.room": "Course", "col.viewers": "Screens", "col.people": "People", "col.workplaces": "Workplaces",
  "col.session": "Broadcast", "col.status": "Status",
  "col.hostlink": "Host link", "col.openlink": "Open link", "col.actions": "Actions", "col.name": "Name",
  "col.workplace": "Workplace", "col.invite": "Personal link", "col.started": "Started", "col.ended": "Ended",
  "col.recording": "Recording", "col.attendance": "Attendance", "col.first": "Came", "col.last": "Left",
  "col.time": "Time", "col.completed": "Completed", "col.override": "Override",
  "col.state": "Status", "col.planned": "Planned",
  live: "Live · {n} screens", "live.one": "Live · 1 screen", offair: "Off air", copy: "Copy", copied: "Copied to the clipboard.",
  manage: "Participants and settings", play: "Play", show: "Show", none: "–", running: "running",
  report: "Report", "report.label": "Session report: {session}",
  yes: "Yes", no: "No", reason: "Reason", "override.set": "Mark completed", "override.unset": "Mark not completed",
  skipped: "Already registered: no new link", invitation: "invited only",
  "error.token": "That key is not the coordinator key.",
  "error.edit": "This relay cannot edit courses yet.",
  "error.import": "Write at least one name, or choose a file.",
  "error.file": "The file cannot be read: {error}",
  "error.override": "This relay cannot override completions yet.",
  "error.reason": "Write a reason for the override, and your name.",
  "error.attendance": "The relay has no attendance for this broadcast yet.",
  "error.generic": "Something went wrong: {error}",
  "info.created": "The course {id} was created.",
  "info.saved": "Saved.",
  "info.imported": "{n} personal links made.",
  "info.skipped": "{n} personal links made; {s} were registered already and got none.",
  "info.loading": "Loading the recording…",
  "info.finishing": "The recording is being finished…",
  "recording.recording": "recording", "recording.paused": "paused", "recording.finished": "finished",
  "recording.failed": "failed", "recording.empty": "empty", "recording.deleted": "deleted",
  "attendance.summary": "{n} people, {c} completed.",
  overridden: "Overridden by {by}: {reason}",
  "room.panel": "Course: {title}",
  "session.panel": "{room}, {start}",
  "state.scheduled": "Scheduled", "state.live": "Live", "state.ended": "Ended", "state.missed": "Missed",
  next: "Next: {when}", reschedule: "Reschedule", cancel: "Cancel", remove: "Remove",
  "confirm.cancel": "Cancel the broadcast of {room}, {when}?",
  "confirm.remove": "Remove the plan for {room}, {when}?",
  "reschedule.what": "{room}, now {when}",
  "info.planned": "Planned: {room}, {when}.",
  "info.rescheduled": "New time: {room}, {when}.",
  "info.cancelled": "Cancelled: {room}, {when}.",
  "info.removed": "Removed: {room}, {when}.",
  "error.order": "The end must be after the start.",
  "error.overlap": "The time overlaps another planned broadcast of the course: {when}.",
  "error.started": "This broadcast has started: it can no longer be changed.",
  "error.gone": "This broadcast is no longer planned.",
  "error.refused": "The relay did not accept the time: {error}",
}, {
  live: "På lufta · {n} skjermer", "live.one": "På lufta · 1 skjerm", offair: "Ikke på lufta", copy: "Kopier", copied: "Kopiert til utklippstavlen.",
  manage: "Deltakere og innstillinger", play: "Spill av", show: "Vis", none: "–", running: "pågår",
  report: "Rapport", "report.label": "Sendingsrapport: {session}",
  yes: "Ja", no: "Nei", reason: "Begrunnelse", "override.set": "Sett som fullført", "override.unset": "Sett som ikke fullført",
  skipped: "Allerede registrert: ingen ny lenke", invitation: "bare inviterte",
  "error.token": "Det er ikke koordinatornøkkelen.",
  "error.edit": "Denne kringkasteren kan ikke endre kurs ennå.",
  "error.import": "Skriv minst ett navn, eller velg en fil.",
  "error.file": "Filen kan ikke leses: {error}",
  "error.override": "Denne kringkasteren kan ikke overstyre fullføring ennå.",
  "error.reason": "Skriv en begrunnelse for overstyringen, og navnet ditt.",
  "overridden": "Overstyrt av {by}: {reason}",
  "error.attendance": "Kringkasteren har ikke fremmøte for denne sendingen ennå.",
  "error.generic": "Noe gikk galt: {error}",
  "info.created": "Kurset {id} er opprettet.",
  "info.saved": "Lagret.",
  "info.imported": "{n} personlige lenker er laget.",
  "info.skipped": "{n} personlige lenker er laget; {s} var registrert fra før og fikk ingen.",
  "info.loading": "Henter opptaket …",
  "info.finishing": "Opptaket gjøres ferdig …",
  "recording.recording": "tar opp", "recording.paused": "på pause", "recording.finished": "ferdig",
  "recording.failed": "mislyktes", "recording.empty": "tomt", "recording.deleted": "slettet",
  "attendance.summary": "{n} personer, {c} fullført.",
  "room.panel": "Kurs: {title}",
  "session.panel": "{room}, {start}",
  "state.scheduled": "Planlagt", "state.live": "På lufta", "state.ended": "Sendt", "state.missed": "Ikke sendt",
  next: "Neste: {when}", reschedule: "Endre tid", cancel: "Avlys", remove: "Fjern",
  "confirm.cancel": "Avlyse sendingen av {room}, {when}?",
  "confirm.remove": "Fjerne planen for {room}, {when}?",
  "reschedule.what": "{room}, nå {when}",
  "info.planned": "Planlagt: {room}, {when}.",
  "info.rescheduled": "Ny tid: {room}, {when}.",
  "info.cancelled": "Avlyst: {room}, {when}.",
  "info.removed": "Fjernet: {room}, {when}.",
  "error.order": "Slutten må være etter starten.",
  "error.overlap": "Tiden overlapper en annen planlagt sending av kurset: {when}.",
  "error.started": "Sendingen har startet og kan ikke endres lenger.",
  "error.gone": "Sendingen er ikke planlagt lenger.",
  "error.refused": "Kringkasteren godtok ikke tiden: {error}",
});

const $ = (id) => document.getElementById(id);
const tokenKey = "kringkast-admin";
let token = null;
let rooms = [];
let currentRoom = null;
let currentSession = null;
let invites = [];

/* Errors and warnings stay until the next message; "Saved." and the like
 * go after a while, so that an old one is not read as news. */
let messageTimer = null;
function message(text, kind) {
  clearTimeout(messageTimer);
  $("message").textContent = text || "";
  $("message").hidden = !text;
  $("message").className = `banner ${kind || "error"}`;
  if (text && kind === "info") messageTimer = setTimeout(() => message(""), 8000);
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

/* Times as they are read in Norway: in Europe/Oslo whatever the browser's
 * own zone, like the relay's CSV files and the nurse's page. */
const oslo = "Europe/Oslo";
const locale = t.english ? "en-GB" : "nb-NO";
const dayFormat = new Intl.DateTimeFormat(locale, { timeZone: oslo, weekday: "short", day: "2-digit", month: "2-digit", year: "numeric" });
const clockFormat = new Intl.DateTimeFormat(locale, { timeZone: oslo, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const partsFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: oslo, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

function formatTime(iso) {
  if (!iso) return t("none");
  return new Date(iso).toLocaleString(locale, { timeZone: oslo, dateStyle: "short", timeStyle: "short" });
}

/* A planned session: "tir. 04.03.2025 10:00–11:30". */
function formatPlan(startIso, endIso) {
  const start = new Date(startIso), end = new Date(endIso);
  const day = dayFormat.format(start);
  const endDay = dayFormat.format(end);
  return `${day} ${clockFormat.format(start)}–${endDay === day ? "" : `${endDay} `}${clockFormat.format(end)}`;
}

/* The wall clock in Oslo at @ms: {date: "2025-03-04", time: "10:00",
 * offset: minutes east of UTC}. */
function osloClock(ms) {
  const p = Object.fromEntries(partsFormat.formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
  const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}`, offset: Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000) };
}

/* What a date and a time field say, read in Oslo: the moment and its RFC
 * 3339 text with Oslo's offset then (summer time or not), which the relay
 * wants. The offset is that of the moment the wall clock gives taken as
 * UTC, corrected once: right for every time but those the clocks skip in
 * spring (02:00–03:00 on one night, no lecture hour). */
function osloMoment(date, time) {
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const offset = osloClock(wall - osloClock(wall).offset * 60000).offset;
  const sign = offset < 0 ? "-" : "+";
  const hhmm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
  return { ms: wall - offset * 60000, text: `${date}T${time.slice(0, 5)}:00${sign}${hhmm}` };
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

/* Fetches a (small) file with the token. */
async function fetchBlob(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
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
  questions?.update(rooms);
  const body = $("rooms-table").tBodies[0];
  body.replaceChildren(...rooms.map((room) => el("tr", { "data-room": room.id },
    el("td", {}, el("strong", {}, room.title), el("br"),
      el("span", { class: "status" }, room.access === "invitation" ? `${room.id} · ${t("invitation")}` : room.id)),
    el("td", {}, room.live ? el("span", { class: "badge live" }, t(room.viewers === 1 ? "live.one" : "live", { n: room.viewers })) : t("offair"),
      room.next_session && !room.live
        ? el("div", { class: "hint next" }, t("next", { when: formatPlan(room.next_session.starts_at, room.next_session.ends_at) })) : null),
    el("td", {}, linkCell(`${t("col.hostlink")} ${room.id}`, hostLink(room))),
    el("td", {}, linkCell(`${t("col.openlink")} ${room.id}`, openLink(room))),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => openRoom(room.id) }, t("manage"))))));

  const live = rooms.filter((room) => room.live);
  $("live-none").hidden = live.length > 0;
  $("live-table").hidden = live.length === 0;
  $("live-table").tBodies[0].replaceChildren(...live.map((room) => el("tr", { "data-room": room.id },
    el("td", {}, room.title), el("td", { class: "viewers" }, room.viewers), el("td", { class: "people" }, room.people ?? t("none")),
    el("td", { class: "workplaces" }, room.workplaces ?? t("none")), el("td", { class: "session" }, room.session_id || ""))));

  fillRoomSelect($("sessions-room"));
  fillRoomSelect($("plan-room"));
  if (rooms.length === 1 && !$("plan-room").value) $("plan-room").value = rooms[0].id;
  if (currentRoom) {
    const room = rooms.find((r) => r.id === currentRoom);
    if (room) $("room-panel-heading").textContent = t("room.panel", { title: room.title });
  }
}

/* The courses after the select's first option. Rebuilt only when they
 * changed: the list is refreshed every few seconds, and rebuilding would
 * close a select someone has open. */
function fillRoomSelect(select) {
  const options = rooms.map((room) => [room.id, room.title]);
  const shown = [...select.options].slice(1).map((option) => [option.value, option.text]);
  if (JSON.stringify(options) === JSON.stringify(shown)) return;
  const chosen = select.value;
  select.replaceChildren(select.options[0], ...options.map(([id, title]) => new Option(title, id)));
  select.value = chosen;
}

async function createRoom(event) {
  event.preventDefault();
  const body = {
    id: $("room-id").value.trim(), title: $("room-title").value.trim(),
    record: $("room-record").checked, completion_ratio: Number($("room-ratio").value) / 100,
    access: $("room-access").value,
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
  $("edit-access").value = room.access || "open";
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

/* Title, recording, completion rule and access are the room's own
 * (PATCH, only what changed); presence checks are the attendance
 * module's settings. The form's completion rule is the room's: a
 * per-course override in the attendance settings is cleared, so the
 * number shown is the one that applies. */
async function editRoom(event) {
  event.preventDefault();
  const room = rooms.find((r) => r.id === currentRoom);
  const path = `/api/rooms/${encodeURIComponent(currentRoom)}`;
  const ratio = Number($("edit-ratio").value) / 100;
  const changes = {};
  if ($("edit-title").value.trim() !== room.title) changes.title = $("edit-title").value.trim();
  if ($("edit-record").checked !== !!room.record) changes.record = $("edit-record").checked;
  if (Math.abs(ratio - (room.completion_ratio ?? 0.8)) > 1e-9) changes.completion_ratio = ratio;
  if ($("edit-access").value !== (room.access || "open")) changes.access = $("edit-access").value;
  $("edit-submit").disabled = true;
  try {
    if (Object.keys(changes).length) {
      const reply = await call("PATCH", path, changes);
      if (reply.status === 405) { message(t("error.edit"), "warn"); return; }
      if (!reply.ok) { message(t("error.generic", { error: reply.data?.error || reply.status })); return; }
      Object.assign(room, reply.data);
    }
    if (settings) {
      /* A PUT replaces every setting: send back what was read, with this
       * form's fields changed, leaving out derived values and those at
       * their documented defaults (which a relay without presence checks
       * does not accept). */
      const body = {};
      for (const [key, value] of Object.entries(settings)) {
        if (!key.startsWith("effective_") && key !== "completion_ratio" && value !== null && settingDefaults[key] !== value) body[key] = value;
      }
      if ("prompts" in settings) body.prompts = Number($("edit-prompts").value);
      if ("require_code" in settings) body.require_code = $("edit-code").checked;
      for (const key of ["prompts", "require_code"]) {
        if (body[key] === settingDefaults[key]) delete body[key];
      }
      const changed = settings.completion_ratio !== null
        || (body.prompts ?? 0) !== (settings.prompts ?? 0) || !!body.require_code !== !!settings.require_code;
      if (changed) {
        const reply = await call("PUT", `${path}/attendance-settings`, body);
        if (!reply.ok) { message(t("error.generic", { error: reply.data?.error || reply.status })); return; }
        settings = { ...settings, ...body, completion_ratio: null, effective_completion_ratio: ratio };
      }
    }
  } finally {
    $("edit-submit").disabled = false;
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

/* A CSV file as UTF-8 text. Norwegian Excel saves "CSV (semikolondelt)"
 * in Windows-1252 unless told otherwise; the relay takes UTF-8 only, so
 * a file that is not valid UTF-8 is read as Windows-1252. */
async function readCsv(file) {
  const bytes = await file.arrayBuffer();
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

/* One request for the whole list (the relay checks it whole and stores it
 * in one transaction): a file goes as CSV, pasted lines as JSON. */
async function importParticipants(event) {
  event.preventDefault();
  const file = $("import-file").files[0];
  const people = parseParticipants($("import-text").value);
  if (!file && people.length === 0) { message(t("error.import"), "warn"); $("import-text").focus(); return; }
  const path = `/api/rooms/${encodeURIComponent(currentRoom)}/participants`;
  let reply;
  $("import-submit").disabled = true;
  try {
    if (file) {
      let text;
      try {
        text = await readCsv(file);
      } catch (error) {
        message(t("error.file", { error: error.message }));
        return;
      }
      const response = await fetch(path, { method: "POST", body: text, cache: "no-store",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "text/csv; charset=utf-8" } });
      if (response.status === 401) { signOut(t("error.token")); return; }
      reply = { status: response.status, data: await response.json().catch(() => null) };
    } else {
      reply = await call("POST", path, people);
    }
  } finally {
    $("import-submit").disabled = false;
  }
  if (reply.status !== 201 || !Array.isArray(reply.data?.participants)) {
    message(t("error.generic", { error: reply.data?.error || reply.status }));
    return;
  }
  /* The relay gives paths: it does not know the name it is reached by. */
  invites.push(...reply.data.participants.map((p) => ({
    name: p.name, workplace: p.workplace || "", link: p.link ? `${location.origin}${p.link}` : null })));
  $("invites").hidden = invites.length === 0;
  $("invites-table").tBodies[0].replaceChildren(...invites.map((p) => el("tr", {},
    el("td", {}, p.name), el("td", {}, p.workplace),
    el("td", {}, p.link ? linkCell(`${t("col.invite")} ${p.name}`, p.link) : el("span", { class: "status" }, t("skipped"))))));
  message(reply.data.skipped ? t("info.skipped", { n: reply.data.invited, s: reply.data.skipped })
    : t("info.imported", { n: reply.data.invited }), "info");
  $("import-text").value = "";
  $("import-file").value = "";
}

function csvField(value) {
  const text = String(value ?? "");
  return /[";\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function downloadInvites() {
  /* Semicolons and a BOM: what Excel in Norway opens without a wizard. */
  const lines = [["name", "workplace", "link"], ...invites.map((p) => [p.name, p.workplace, p.link || t("skipped")])];
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

function roomTitle(id) { return rooms.find((r) => r.id === id)?.title || id; }

/* What is on now first, then what is planned (soonest first), then the
 * past (latest first). Times are the relay's UTC text, which sorts. */
const stateOrder = { live: 0, scheduled: 1, ended: 2, missed: 2 };
function sessionOrder(a, b) {
  const at = (s) => s.started_at || s.scheduled_start || "";
  return stateOrder[a.state] - stateOrder[b.state]
    || (a.state === "scheduled" ? at(a).localeCompare(at(b)) : at(b).localeCompare(at(a)));
}

/* Only the latest request's answer is shown: a refresh that started
 * before a change must not put the old list back. */
let sessionsAsked = 0;
async function loadSessions() {
  const asked = ++sessionsAsked;
  const room = $("sessions-room").value;
  const reply = await call("GET", `/api/sessions${room ? `?room=${encodeURIComponent(room)}` : ""}`);
  if (!reply.ok || asked !== sessionsAsked) return;
  const sessions = reply.data.slice().sort(sessionOrder);
  const body = $("sessions-table").tBodies[0];
  /* The list is redrawn every few seconds: a keyboard user's focus stays
   * on the same button of the same session. */
  const focused = body.contains(document.activeElement) ? document.activeElement : null;
  const again = focused && { id: focused.closest("tr").dataset.session, index: [...focused.closest("tr").querySelectorAll("button")].indexOf(focused) };
  $("sessions-none").hidden = sessions.length > 0;
  body.replaceChildren(...sessions.map(sessionRow));
  if (again) body.querySelector(`tr[data-session="${CSS.escape(again.id)}"]`)?.querySelectorAll("button")[again.index]?.focus();
}

/* A planned session shows its planned times; a broadcast its own, beside
 * the planned ones if it had them. Recording and attendance exist only
 * for what was broadcast; a plan not yet broadcast can be moved or
 * cancelled. */
function sessionRow(s) {
  const broadcast = !!s.started_at;
  const planned = s.state === "scheduled" || s.state === "missed";
  const when = s.scheduled_start ? formatPlan(s.scheduled_start, s.scheduled_end) : null;
  const label = `${roomTitle(s.room)}, ${when}`;
  return el("tr", { "data-session": s.id, "data-state": s.state },
    el("td", {}, roomTitle(s.room)),
    el("td", { class: "state" }, el("span", { class: `badge ${s.state}` }, t(`state.${s.state}`))),
    el("td", { class: "planned" }, when ? el("div", { class: "when" }, when) : t("none"),
      planned ? el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary reschedule", "aria-label": `${t("reschedule")}: ${label}`, onclick: () => openReschedule(s) }, t("reschedule")),
        el("button", { type: "button", class: "secondary cancel", "aria-label": `${t(s.state === "missed" ? "remove" : "cancel")}: ${label}`,
          onclick: () => cancelSession(s) }, t(s.state === "missed" ? "remove" : "cancel"))) : null),
    el("td", { class: "started" }, formatTime(s.started_at)),
    el("td", { class: "ended" }, s.ended_at ? formatTime(s.ended_at) : broadcast ? t("running") : t("none")),
    el("td", {}, !broadcast ? t("none") : recordingOf(s)?.url
      ? el("button", { type: "button", class: "secondary play", onclick: () => openSession(s, true) }, t("play"))
      : recordingOf(s) ? t(`recording.${recordingOf(s).state}`) : t("none")),
    el("td", {}, broadcast ? el("button", { type: "button", class: "secondary attendance", onclick: () => openSession(s, false) }, t("show")) : t("none"),
      /* The printable report, in this tab: it reads the token from this
       * tab's session storage. */
      broadcast ? el("a", { class: "report-link", href: `/report/${encodeURIComponent(s.id)}`,
        "aria-label": t("report.label", { session: `${roomTitle(s.room)}, ${formatTime(s.started_at)}` }) }, t("report")) : null));
}

/* Planning. */

/* A message beside the form or list it is about, which may be far down
 * the page from the banner at the top. Errors stay; news goes after a
 * while, like the banner's. */
function notice(id, text, kind) {
  const node = $(id);
  clearTimeout(node.timer);
  node.textContent = text || "";
  node.hidden = !text;
  node.className = `banner ${kind || "error"}`;
  if (text && kind === "info") node.timer = setTimeout(() => notice(id, ""), 8000);
}

/* The times a date and two time fields (@prefix-date, -start, -end) give,
 * or null after saying what is wrong. The form has already insisted on
 * all three. */
function readTimes(prefix, messageId) {
  const date = $(`${prefix}-date`).value;
  const start = osloMoment(date, $(`${prefix}-start`).value);
  const end = osloMoment(date, $(`${prefix}-end`).value);
  if (end.ms <= start.ms) {
    notice(messageId, t("error.order"));
    $(`${prefix}-end`).focus();
    return null;
  }
  return { start, end, body: { starts_at: start.text, ends_at: end.text } };
}

/* What the relay's refusal means, in the page's words where it can tell:
 * a 409 is either another planned session of the course at that time
 * (found by the relay's own rule) or, for a change, this one having gone
 * live. Anything else is the relay's message itself. */
async function refusal(reply, room, times, selfId) {
  if (reply.status === 409) {
    const list = await call("GET", `/api/sessions?room=${encodeURIComponent(room)}`);
    const sessions = list.ok ? list.data : [];
    if (sessions.find((s) => s.id === selfId)?.started_at) return t("error.started");
    const other = sessions.find((s) => s.id !== selfId && s.scheduled_start
      && Date.parse(s.scheduled_start) < times.end.ms && Date.parse(s.scheduled_end) > times.start.ms);
    if (other) return t("error.overlap", { when: formatPlan(other.scheduled_start, other.scheduled_end) });
  }
  if (reply.status === 404 && selfId) return t("error.gone");
  return t("error.refused", { error: reply.data?.error || `HTTP ${reply.status}` });
}

/* The form keeps its course and times after planning, so a course's
 * sessions are entered one after another by changing the date. */
async function planSession(event) {
  event.preventDefault();
  const room = $("plan-room").value;
  const times = readTimes("plan", "plan-message");
  if (!times) return;
  $("plan-submit").disabled = true;
  let reply;
  try {
    reply = await call("POST", `/api/rooms/${encodeURIComponent(room)}/sessions`, times.body);
    if (reply.status !== 201) { notice("plan-message", await refusal(reply, room, times, null)); return; }
  } finally {
    $("plan-submit").disabled = false;
  }
  notice("plan-message", t("info.planned", { room: roomTitle(room), when: formatPlan(reply.data.scheduled_start, reply.data.scheduled_end) }), "info");
  if ($("sessions-room").value && $("sessions-room").value !== room) $("sessions-room").value = room;
  await Promise.all([loadSessions(), loadRooms()]);
}

let rescheduling = null;
function openReschedule(session) {
  rescheduling = session;
  const start = osloClock(Date.parse(session.scheduled_start)), end = osloClock(Date.parse(session.scheduled_end));
  $("reschedule-what").textContent = t("reschedule.what", { room: roomTitle(session.room), when: formatPlan(session.scheduled_start, session.scheduled_end) });
  $("reschedule-date").value = start.date;
  $("reschedule-start").value = start.time;
  $("reschedule-end").value = end.time;
  notice("reschedule-message", "");
  $("reschedule").showModal();
  $("reschedule-date").focus();
}

async function reschedule(event) {
  event.preventDefault();
  const session = rescheduling;
  const times = readTimes("reschedule", "reschedule-message");
  if (!times) return;
  $("reschedule-submit").disabled = true;
  let reply;
  try {
    reply = await call("PATCH", `/api/sessions/${encodeURIComponent(session.id)}`, times.body);
    if (!reply.ok) { notice("reschedule-message", await refusal(reply, session.room, times, session.id)); return; }
  } finally {
    $("reschedule-submit").disabled = false;
  }
  $("reschedule").close();
  notice("sessions-message", t("info.rescheduled", { room: roomTitle(session.room), when: formatPlan(reply.data.scheduled_start, reply.data.scheduled_end) }), "info");
  await plansChanged();
}

/* A plan moved or cancelled: one the form was refused for may fit now,
 * so that refusal goes too. */
async function plansChanged() {
  if ($("plan-message").classList.contains("error")) notice("plan-message", "");
  await Promise.all([loadSessions(), loadRooms()]);
}

/* Back on the session's button once the dialog is gone, however it went
 * (saved, closed, Escape). The list may have been redrawn meanwhile, so
 * not the element that opened it. The close event comes a task later:
 * Escape then Enter on the focused button opens the dialog again before
 * it arrives, and that second opening must keep its session. */
function rescheduleClosed() {
  if (!rescheduling || $("reschedule").open) return;
  $("sessions-table").querySelector(`tr[data-session="${CSS.escape(rescheduling.id)}"] button.reschedule`)?.focus();
  rescheduling = null;
}

async function cancelSession(session) {
  const vars = { room: roomTitle(session.room), when: formatPlan(session.scheduled_start, session.scheduled_end) };
  const missed = session.state === "missed";
  if (!confirm(t(missed ? "confirm.remove" : "confirm.cancel", vars))) return;
  const reply = await call("DELETE", `/api/sessions/${encodeURIComponent(session.id)}`);
  if (reply.status === 204) notice("sessions-message", t(missed ? "info.removed" : "info.cancelled", vars), "info");
  else if (reply.status === 409) notice("sessions-message", t("error.started"));
  else if (reply.status === 404) notice("sessions-message", t("error.gone"));
  else notice("sessions-message", t("error.generic", { error: reply.data?.error || reply.status }));
  await (reply.status === 204 ? plansChanged() : Promise.all([loadSessions(), loadRooms()]));
  /* The row is gone; the message says what happened. */
  $("sessions-message").focus();
}

/* A signed link to @session's recording: it carries its own proof, so
 * the <video> and the download fetch it without the token. The relay
 * answers 409 while it still finishes the file (just after the
 * broadcast): wait for it a while. */
async function recordingLink(session) {
  const path = `/api/sessions/${encodeURIComponent(session.id)}/recording/link`;
  for (let attempt = 0; attempt < 30; attempt++) {
    const reply = await call("POST", path);
    if (reply.ok && reply.data?.url) return reply.data.url;
    if (reply.status !== 409) throw new Error(reply.data?.error || `HTTP ${reply.status}`);
    $("recording-status").textContent = t("info.finishing");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(t("info.finishing"));
}

async function openSession(session, play) {
  currentSession = session;
  $("session-panel").hidden = false;
  $("session-heading").textContent = t("session.panel", {
    room: rooms.find((r) => r.id === session.room)?.title || session.room, start: formatTime(session.started_at) });
  const recording = recordingOf(session);
  const video = $("recording-video");
  $("recording-area").hidden = !recording?.url;
  video.removeAttribute("src");
  video.load();
  $("session-panel").scrollIntoView({ block: "start" });
  loadAttendance();
  if (!recording?.url) return;
  $("recording-status").textContent = t("info.loading");
  try {
    const url = await recordingLink(session);
    if (currentSession !== session) return;
    video.src = url;
    player = { time: 0, playing: play };
    $("recording-status").textContent = "";
    if (play) video.play().catch(() => {});
  } catch (error) {
    $("recording-status").textContent = t("error.generic", { error: error.message });
  }
}

/* Where the player was, and whether it played: kept while it has media
 * (the reset to 0 when a source fails or changes comes without). */
let player = { time: 0, playing: false };
function notePlayer() {
  const video = $("recording-video");
  if (video.readyState > 0) player = { time: video.currentTime, playing: !video.paused };
}

/* A link runs out after a while (403), and the player only notices when
 * it next fetches (a seek, or more of a long lecture): get a new link
 * and carry on where it was, once per minute at most so that a recording
 * that truly fails to load says so. */
let relinkedAt = -Infinity;
async function relinkRecording() {
  const video = $("recording-video");
  const session = currentSession;
  if (!video.getAttribute("src") || !session || performance.now() - relinkedAt < 60000) {
    $("recording-status").textContent = t("error.generic", { error: video.error?.message || "" });
    return;
  }
  relinkedAt = performance.now();
  const { time, playing } = player;
  try {
    const url = await recordingLink(session);
    if (currentSession !== session) return;
    video.src = url;
    video.currentTime = time;
    if (playing) video.play().catch(() => {});
  } catch (error) {
    $("recording-status").textContent = t("error.generic", { error: error.message });
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
  /* The CSV the coordinator archives carries the session's questions after the rows. */
  const path = `/api/sessions/${encodeURIComponent(currentSession.id)}/attendance${format === "csv" ? "?format=csv&include=questions" : ""}`;
  try {
    saveBlob(await fetchBlob(path), `attendance-${currentSession.room}-${currentSession.id}.${format}`);
  } catch (error) {
    message(t("error.generic", { error: error.message }));
  }
}

/* The browser downloads the file itself, under the name the relay gives
 * (the course title and date), with a fresh link. */
async function downloadRecording() {
  try {
    const link = el("a", { href: await recordingLink(currentSession), download: "" });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    message(t("error.generic", { error: error.message }));
  }
}

/* Signing in and out. */

let refreshTimer = null;
let questions = null;       /* the co-host's questions (questions.js) */
async function enter() {
  $("signin").hidden = true;
  questions ??= new KkQuestionsCoHost({ token, section: $("questions-admin") });
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
  questions?.stop();
  questions = null;
  /* A modal dialog left open inside the hidden console would keep the
   * sign-in form inert. */
  if ($("reschedule").open) $("reschedule").close();
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
  $("sessions-room").addEventListener("change", () => {
    /* Looking at one course's sessions: plans are likely for it. */
    if ($("sessions-room").value) $("plan-room").value = $("sessions-room").value;
    loadSessions();
  });
  $("plan-form").addEventListener("submit", planSession);
  /* What the last try got wrong is stale once the fields change. */
  $("plan-form").addEventListener("input", () => notice("plan-message", ""));
  $("reschedule-form").addEventListener("input", () => notice("reschedule-message", ""));
  $("reschedule-form").addEventListener("submit", reschedule);
  $("reschedule-close").addEventListener("click", () => $("reschedule").close());
  $("reschedule").addEventListener("close", rescheduleClosed);
  $("attendance-csv").addEventListener("click", () => downloadAttendance("csv"));
  $("attendance-json").addEventListener("click", () => downloadAttendance("json"));
  $("recording-download").addEventListener("click", downloadRecording);
  $("recording-video").addEventListener("error", relinkRecording);
  $("recording-video").addEventListener("timeupdate", notePlayer);
  if (token) enter();
  else { $("signin").hidden = false; $("admin-token").focus(); }
}

main();
