/* SPDX-License-Identifier: Apache-2.0 */
/* The session report (/report/{session}): one broadcast at a glance for
 * the course coordinator, to read on screen or print to PDF and archive.
 * The course and its planned and actual times, the recording's pauses,
 * the audience over time (chart.js), each person's attendance as a bar
 * over the live time with their verdict, the questions asked (with who
 * asked, also when they asked without their name shown to others), and
 * the recording with its player.
 *
 * Everything comes from one call, GET /api/sessions/{id}/report, with the
 * coordinator token the admin page keeps in this tab's session storage
 * (asked for here when the report is opened on its own). The relay
 * computes the figures; the page only lays them out. The report is a list
 * of sections, each made from the answer by one function below: a new
 * part of the report (the session's questions) is one more function in
 * that list.
 *
 * A session still on air has a report too: it follows the broadcast,
 * asked for again every few seconds (the chart and the bars grow, the
 * live end is "now"), and gives no verdicts until the end, when the
 * attendance rules can first be applied. It is asked for once more after
 * the end (the verdicts), and until its recording is finished (the
 * player). */
"use strict";

const t = kkTranslator({
  "report.title": "Session report",
  "report.back": "Back to the coordinator's page",
  "report.print": "Print / save as PDF",
  "signin.heading": "Sign in",
  "signin.token": "Coordinator key",
  "signin.submit": "Sign in",
  "facts.heading": "The session",
  "facts.course": "Course",
  "facts.planned": "Planned",
  "facts.unplanned": "Not planned ahead",
  "facts.broadcast": "Broadcast",
  "facts.running": "still on air",
  "facts.duration": "Live time",
  "facts.rule": "Completed at",
  "facts.rule.value": "{percent} % of the live time (gaps under {grace} s forgiven)",
  "facts.completed": "Completed",
  "facts.completed.value": "{done} of {all} people",
  "facts.peak": "Most at once",
  "facts.peak.value": "{people} people at {screens} screens",
  "facts.recording": "Recording",
  "facts.pauses": "Recording paused",
  "none": "none",
  "audience.heading": "Audience over time",
  "audience.people": "People",
  "audience.screens": "Screens",
  "audience.empty": "Nobody watched",
  "attendance.heading": "Attendance",
  "attendance.none": "Nobody took part in this session.",
  "col.name": "Name",
  "col.workplace": "Workplace",
  "col.bar": "Watched {from}–{to}",
  "col.time": "Time",
  "col.verdict": "Result",
  "verdict.completed": "Completed",
  "verdict.empty-session": "Empty session",
  "verdict.absent": "Absent",
  "verdict.too-short": "Too short",
  "verdict.late": "Too late",
  "verdict.no-code": "No code",
  "verdict.missed-prompt": "Missed a check",
  "verdict.override": "{result} (set by hand)",
  "verdict.yes": "Completed",
  "verdict.no": "Not completed",
  "questions.heading": "Questions",
  "questions.none": "No questions were asked.",
  "questions.col.asked": "Asked",
  "questions.col.text": "Question",
  "questions.col.asker": "Asked by",
  "questions.col.anonymous": "Anonymous",
  "questions.col.supports": "Support",
  "questions.col.state": "State",
  "questions.col.answered": "Answered",
  "questions.unknown": "unknown",
  "questions.yes": "Yes",
  "questions.no": "No",
  "questions.state.open": "Not answered",
  "questions.state.answering": "Being answered",
  "questions.state.answered": "Answered",
  "questions.state.hidden": "Hidden",
  "recording.heading": "Recording",
  "recording.none": "This session was not recorded.",
  "recording.state.recording": "Being recorded",
  "recording.state.paused": "Being recorded (paused)",
  "recording.state.finished": "Finished, {duration}",
  "recording.state.failed": "Failed: {error}",
  "recording.state.empty": "Empty (no picture ever came)",
  "recording.state.deleted": "Deleted",
  "error.token": "The coordinator key is not valid.",
  "error.missing": "There is no report for this session: {error}",
  "error.generic": "Something went wrong: {error}",
  "loading": "Loading the report…",
  "live.note": "The broadcast is still on air: this report follows it, and each person's result is decided when it ends.",
  "audience.now": "now",
  "col.bar.live": "Watched {from}–now",
  "facts.completed.live": "decided when the broadcast ends",
  "verdict.live": "When it ends",
}, {
  "report.title": "Sendingsrapport",
  "facts.heading": "Sendingen",
  "facts.course": "Kurs",
  "facts.planned": "Planlagt",
  "facts.unplanned": "Ikke planlagt på forhånd",
  "facts.broadcast": "Sendt",
  "facts.running": "sendes fortsatt",
  "facts.duration": "Sendetid",
  "facts.rule": "Fullført ved",
  "facts.rule.value": "{percent} % av sendetiden (avbrudd under {grace} s tilgis)",
  "facts.completed": "Fullført",
  "facts.completed.value": "{done} av {all} personer",
  "facts.peak": "Flest samtidig",
  "facts.peak.value": "{people} personer ved {screens} skjermer",
  "facts.recording": "Opptak",
  "facts.pauses": "Opptaket på pause",
  "none": "ingen",
  "audience.heading": "Publikum gjennom sendingen",
  "audience.people": "Personer",
  "audience.screens": "Skjermer",
  "audience.empty": "Ingen så på",
  "attendance.heading": "Fremmøte",
  "attendance.none": "Ingen deltok i denne sendingen.",
  "col.name": "Navn",
  "col.workplace": "Arbeidssted",
  "col.bar": "Så på {from}–{to}",
  "col.time": "Tid",
  "col.verdict": "Resultat",
  "verdict.completed": "Fullført",
  "verdict.empty-session": "Tom sending",
  "verdict.absent": "Fraværende",
  "verdict.too-short": "For kort tid",
  "verdict.late": "For sent",
  "verdict.no-code": "Mangler kode",
  "verdict.missed-prompt": "Svarte ikke på sjekk",
  "verdict.override": "{result} (satt manuelt)",
  "verdict.yes": "Fullført",
  "verdict.no": "Ikke fullført",
  "questions.heading": "Spørsmål",
  "questions.none": "Ingen spørsmål ble stilt.",
  "questions.col.asked": "Stilt",
  "questions.col.text": "Spørsmål",
  "questions.col.asker": "Stilt av",
  "questions.col.anonymous": "Anonym",
  "questions.col.supports": "Støtte",
  "questions.col.state": "Status",
  "questions.col.answered": "Besvart",
  "questions.unknown": "ukjent",
  "questions.yes": "Ja",
  "questions.no": "Nei",
  "questions.state.open": "Ikke besvart",
  "questions.state.answering": "Besvares",
  "questions.state.answered": "Besvart",
  "questions.state.hidden": "Skjult",
  "recording.heading": "Opptak",
  "recording.none": "Denne sendingen ble ikke tatt opp.",
  "recording.state.recording": "Tas opp",
  "recording.state.paused": "Tas opp (på pause)",
  "recording.state.finished": "Ferdig, {duration}",
  "recording.state.failed": "Feilet: {error}",
  "recording.state.empty": "Tomt (det kom aldri bilde)",
  "recording.state.deleted": "Slettet",
  "error.token": "Koordinatornøkkelen er ikke gyldig.",
  "error.missing": "Det finnes ingen rapport for denne sendingen: {error}",
  "error.generic": "Noe gikk galt: {error}",
  "loading": "Henter rapporten …",
  "live.note": "Sendingen pågår fortsatt: rapporten følger den, og hver persons resultat avgjøres når den er slutt.",
  "audience.now": "nå",
  "col.bar.live": "Så på {from}–nå",
  "facts.completed.live": "avgjøres når sendingen er slutt",
  "verdict.live": "Når den er slutt",
});

/* How often a report of a broadcast still on air (or of a recording not
 * yet finished) is asked for again. */
const KK_REPORT_FOLLOW_MS = 5000;

const $ = (id) => document.getElementById(id);
const tokenKey = "kringkast-admin";   /* the admin page's, in this tab */
const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const locale = t.english ? "en-GB" : "nb-NO";
let token = sessionStorage.getItem(tokenKey);
let report = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function message(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

function when(iso) {
  return new Date(iso).toLocaleString(locale, { timeZone: "Europe/Oslo", dateStyle: "long", timeStyle: "short" });
}

/* "4. mars 2025 10:00–11:30", the date once when both ends share it. */
function span(fromIso, toIso) {
  const sameDay = (a, b) => new Date(a).toLocaleDateString("sv-SE", { timeZone: "Europe/Oslo" })
    === new Date(b).toLocaleDateString("sv-SE", { timeZone: "Europe/Oslo" });
  if (!toIso) return when(fromIso);
  return `${when(fromIso)}–${sameDay(fromIso, toIso) ? kkOsloClock(Date.parse(toIso)) : when(toIso)}`;
}

function minutes(ms) { return Math.round(ms / 60000); }

/* How long someone watched (or a pause, a recording lasted): seconds
 * while under a minute, so a short visit does not read as nothing. */
function watched(seconds) {
  return seconds < 60 ? `${seconds} s` : `${minutes(seconds * 1000)} min`;
}

function fact(term, ...value) {
  return el("div", {}, el("dt", {}, term), el("dd", {}, ...value));
}

/* ---- the sections ---- */

function recordingText(r) {
  if (!r) return t("none");
  return t(`recording.state.${r.state}`, { duration: watched(Math.round(r.duration_seconds)), error: r.error || "" });
}

function factsSection(r) {
  const s = r.session, people = r.people, running = r.live.running;
  const live = Date.parse(r.live.to) - Date.parse(r.live.from);
  const peak = r.audience.reduce((best, p) => (p.people > best.people ? p : best), { people: 0, screens: 0 });
  const pauses = s.recording?.paused || [];
  return el("section", { class: "card facts", id: "facts", "aria-labelledby": "facts-heading" },
    el("h2", { id: "facts-heading" }, t("facts.heading")),
    running ? el("p", { class: "live-note", id: "live-note" }, t("live.note")) : null,
    el("dl", { class: "facts-list" },
      fact(t("facts.course"), r.title),
      fact(t("facts.planned"), s.scheduled_start ? span(s.scheduled_start, s.scheduled_end) : t("facts.unplanned")),
      fact(t("facts.broadcast"), s.ended_at ? span(s.started_at, s.ended_at) : `${when(s.started_at)}, ${t("facts.running")}`),
      fact(t("facts.duration"), watched(Math.round(live / 1000))),
      fact(t("facts.rule"), t("facts.rule.value", { percent: Math.round(r.completion_ratio * 100), grace: r.grace_seconds })),
      fact(t("facts.completed"), running ? t("facts.completed.live")
        : t("facts.completed.value", { done: people.filter((p) => p.completed).length, all: people.length })),
      fact(t("facts.peak"), t("facts.peak.value", { people: peak.people, screens: peak.screens })),
      fact(t("facts.recording"), recordingText(s.recording)),
      fact(t("facts.pauses"), pauses.length === 0 ? t("none")
        : el("ul", { class: "pauses" }, pauses.map((p) => el("li", {}, `${span(p.from, p.to)} (${watched(Math.round(p.seconds))})`))))));
}

function audienceSection(r) {
  const svg = document.createElementNS(KK_SVG, "svg");
  svg.id = "audience-chart";
  svg.setAttribute("aria-labelledby", "audience-heading");
  kkDrawAudienceChart(svg, { from: r.live.from, to: r.live.to, points: r.audience },
    { people: t("audience.people"), screens: t("audience.screens"), empty: t("audience.empty"),
      end: r.live.running ? t("audience.now") : null });
  return el("section", { class: "card chart-card", id: "audience", "aria-labelledby": "audience-heading" },
    el("h2", { id: "audience-heading" }, t("audience.heading")), svg);
}

/* One person's bar: the live time as the track, what they watched on it.
 * Late arrival, gaps and an early leave are the track showing through. */
function bar(r, person) {
  const from = Date.parse(r.live.from), to = Math.max(Date.parse(r.live.to), from + 1000);
  const x = (iso) => ((Math.min(Math.max(Date.parse(iso), from), to) - from) / (to - from) * 1000).toFixed(2);
  const svg = kkSvg("svg", { class: "bar", viewBox: "0 0 1000 16", preserveAspectRatio: "none", "aria-hidden": "true",
    "data-participant": person.participant_id },
  kkSvg("rect", { class: "track", x: 0, y: 0, width: 1000, height: 16 }));
  for (const interval of person.intervals) {
    svg.append(kkSvg("rect", { class: "watched", x: x(interval.from), y: 0, width: (x(interval.to) - x(interval.from)).toFixed(2),
      height: 16, "data-from": interval.from, "data-to": interval.to }));
  }
  return svg;
}

/* No verdict while on air: the rules apply to the whole live time, so
 * anyone could still complete, or fall short by leaving now. */
function verdictText(r, person) {
  if (r.live.running) return t("verdict.live");
  const result = person.overridden ? t(person.completed ? "verdict.yes" : "verdict.no") : t(`verdict.${person.verdict}`);
  return person.overridden ? t("verdict.override", { result }) : result;
}

function attendanceSection(r) {
  const section = el("section", { class: "card", id: "attendance", "aria-labelledby": "attendance-heading" },
    el("h2", { id: "attendance-heading" }, t("attendance.heading")));
  if (r.people.length === 0) {
    section.append(el("p", { class: "status" }, t("attendance.none")));
    return section;
  }
  const range = { from: kkOsloClock(Date.parse(r.live.from)), to: kkOsloClock(Date.parse(r.live.to)) };
  const result = (p) => (r.live.running ? "pending" : p.completed ? "completed" : "not-completed");
  section.append(el("table", { id: "attendance-table" },
    el("thead", {}, el("tr", {},
      el("th", {}, t("col.name")), el("th", {}, t("col.workplace")),
      el("th", { class: "bar-cell" }, t(r.live.running ? "col.bar.live" : "col.bar", range)),
      el("th", { class: "number" }, t("col.time")), el("th", {}, t("col.verdict")))),
    el("tbody", {}, r.people.map((p) => el("tr", { "data-participant": p.participant_id, class: result(p) },
      el("td", {}, p.name), el("td", {}, p.workplace), el("td", { class: "bar-cell" }, bar(r, p)),
      el("td", { class: "number" }, `${watched(p.attended_seconds)} (${Math.floor(p.attended_ratio * 100)} %)`),
      el("td", { class: "verdict" }, verdictText(r, p)))))));
  return section;
}

/* The questions in the host's order (most support first), each with who
 * asked it: the coordinator sees the asker of an anonymous question too,
 * and the report says it was asked so. The text goes in as text, never as
 * HTML. When it was answered is known for an answered question only (its
 * state's time); one hidden after its answer shows as hidden. */
function questionsSection(r) {
  const section = el("section", { class: "card", id: "questions", "aria-labelledby": "questions-heading" },
    el("h2", { id: "questions-heading" }, t("questions.heading")));
  if (r.questions.length === 0) {
    section.append(el("p", { class: "status" }, t("questions.none")));
    return section;
  }
  section.append(el("table", { id: "questions-table" },
    el("thead", {}, el("tr", {},
      el("th", { class: "number" }, t("questions.col.asked")), el("th", { class: "question-text" }, t("questions.col.text")),
      el("th", {}, t("questions.col.asker")), el("th", {}, t("questions.col.anonymous")),
      el("th", { class: "number" }, t("questions.col.supports")), el("th", {}, t("questions.col.state")),
      el("th", { class: "number" }, t("questions.col.answered")))),
    el("tbody", {}, r.questions.map((q) => el("tr", { "data-question": q.id, class: `state-${q.state}` },
      el("td", { class: "number" }, kkOsloClock(Date.parse(q.asked_at))),
      el("td", { class: "question-text" }, q.text),
      el("td", { class: "asker" }, q.asker || t("questions.unknown")),
      el("td", { class: "anonymous" }, t(q.anonymous ? "questions.yes" : "questions.no")),
      el("td", { class: "number supports" }, q.supports),
      el("td", { class: "state" }, t(`questions.state.${q.state}`)),
      el("td", { class: "number answered" }, q.state === "answered" ? kkOsloClock(Date.parse(q.state_at)) : "–"))))));
  return section;
}

/* A signed link plays without the token; one that ran out is replaced by
 * asking for the report again (at most once a minute). */
let relinkedAt = 0;
async function relink(video) {
  if (performance.now() - relinkedAt < 60000) return;
  relinkedAt = performance.now();
  const reply = await kkApi("GET", `/api/sessions/${encodeURIComponent(sessionId)}/report`, token).catch(() => null);
  if (reply?.ok && reply.data.recording_link) {
    const time = video.currentTime;
    video.src = reply.data.recording_link.url;
    video.currentTime = time;
  }
}

function recordingSection(r) {
  const recording = r.session.recording;
  const section = el("section", { class: "card", id: "recording", "aria-labelledby": "recording-heading" },
    el("h2", { id: "recording-heading" }, t("recording.heading")),
    el("p", { class: "status" }, recording ? recordingText(recording) : t("recording.none")));
  if (r.recording_link) {
    const video = el("video", { id: "recording-video", class: "recording no-print", controls: "", preload: "metadata",
      playsinline: "", src: r.recording_link.url, "aria-label": t("recording.heading") });
    video.addEventListener("error", () => relink(video));
    section.append(video);
  }
  return section;
}

/* The report, top to bottom. */
const sections = [factsSection, audienceSection, attendanceSection, questionsSection, recordingSection];

/* ---- loading ---- */

/* Whether the report may still change by itself: the broadcast is on
 * air, or its recording is being written. */
function following(r) {
  return r.live.running || ["recording", "paused"].includes(r.session.recording?.state);
}

let followTimer = 0;

/* @quiet: a report already shown is asked for again; it stays as it was
 * when that fails, and the next try comes as usual. */
async function load(quiet = false) {
  clearTimeout(followTimer);
  if (!quiet) $("status").textContent = t("loading");
  let reply;
  try {
    reply = await kkApi("GET", `/api/sessions/${encodeURIComponent(sessionId)}/report`, token);
  } catch (error) {
    if (quiet) { followTimer = setTimeout(() => load(true), KK_REPORT_FOLLOW_MS); return; }
    $("status").textContent = "";
    message(t("error.generic", { error: error.message }));
    return;
  }
  $("status").textContent = "";
  if (reply.status === 401 || reply.status === 403) {
    sessionStorage.removeItem(tokenKey);
    token = null;
    message(t("error.token"));
    $("signin").hidden = false;
    $("admin-token").focus();
    return;
  }
  if (!reply.ok) {
    message(t(reply.status === 404 ? "error.missing" : "error.generic", { error: reply.data?.error || reply.status }));
    return;
  }
  report = reply.data;
  message("");
  const title = `${t("report.title")}: ${report.title}`;
  $("report-title").textContent = title;
  document.title = `${title}, ${new Date(report.session.started_at).toLocaleDateString(locale, { timeZone: "Europe/Oslo" })} – Kringkast`;
  $("report").replaceChildren(...sections.map((make) => make(report)).filter(Boolean));
  $("report").hidden = false;
  $("print").hidden = false;
  /* Read by the end-to-end tests: the page has drawn this answer. */
  document.body.dataset.loaded = report.session.id;
  document.body.dataset.running = String(report.live.running);
  if (following(report)) followTimer = setTimeout(() => load(true), KK_REPORT_FOLLOW_MS);
}

function main() {
  t.translatePage();
  $("print").addEventListener("click", () => window.print());
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("admin-token").value.trim();
    sessionStorage.setItem(tokenKey, token);
    $("admin-token").value = "";
    $("signin").hidden = true;
    load();
  });
  if (token) load();
  else $("signin").hidden = false;
}

main();
