// SPDX-License-Identifier: Apache-2.0
// The session report and the host's live audience chart, in Chromium.
//
// The host broadcasts from the host page (recorded); three screens watch
// through independent WHEP viewers (tests/peers/whep_gst.py) that join
// and leave at known times: a screen of two colleagues from the start
// that leaves early, one that comes, leaves and comes back (a gap), and
// one that comes late and stays to the end. The host's page shows the
// audience chart, and it follows the first viewer's arrival by itself.
//
// The host pauses the recording for a few seconds, and 45 invited people
// never come (absent rows, so the printed table runs over a page). Two
// questions are asked while live: one with markup in it, without the
// asker's name shown to others, supported by another screen and answered
// by the host; and a long one, left open.
//
// After the broadcast the coordinator opens the report from the admin
// page's session list. Its chart must be the step series the connection
// log (GET /api/sessions/{id}/connections, computed here independently)
// gives, read back from the SVG's points (their data and their place on
// the axes); each person's bar must be the union of their connections
// over the live time (from GET /api/sessions/{id}/attendance), with the
// verdict beside it; the pause is listed; the questions' table shows the
// text as text (the markup as characters, no element made of it), the
// asker of the anonymous one, its support, state and when it was
// answered, as GET /api/sessions/{id}/questions has them; printed, the
// questions are in the PDF's text and the long one's row is on one page.
// Printed to PDF (A4), page 1
// turned into PNG by pdftoppm must carry the title (pdftotext) and a
// drawn chart (its line colours in the picture, across the page); the
// table's head is repeated on the next pages and no row is cut across
// two. The report opened on its own in English asks for the token. The
// report route's 401, 403 and 404 are checked too. The PDF and PNGs are
// kept as artifacts.
//
// In Firefox (over WebDriver BiDi), the same report is opened while the
// session is still live: it says so, names the chart's live end "now",
// gives no verdicts yet, and follows the broadcast by itself (the chart
// grows to the second screen's arrival, the data's end moves on, the
// newcomer's bar appears); after the end it turns by itself into the
// final report, whose chart points, bars and verdicts must be those the
// Chromium page shows, drawn to the page's width.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { run, check, waitFor, log, sleep, artifactsDir, ADMIN_TOKEN, FIREFOX } from "./lib.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WHEP_GST = path.resolve(HERE, "..", "peers", "whep_gst.py");
const PYTHON = "/usr/bin/python3";
const ROOM = "rapport";
const TITLE = "Legemiddelhåndtering";
const INVITED = 45;
const MARKUP_QUESTION = "Gjelder <b>dette</b> også for barn?";
// Long enough to wrap over several lines of its cell when printed, with
// words at each end to find it by.
const LONG_QUESTION = `Startord: ${"hvordan dokumenterer vi dette i journalen når pasienten ikke samtykker, ".repeat(6)}Sluttord.`;

// A WHEP viewer for @seconds, until it exits or is killed.
function watch(ctx, token, seconds, label) {
  const logPath = path.join(ctx.workdir, `${label}.log`);
  const out = fs.openSync(logPath, "a");
  const proc = spawn(PYTHON, [WHEP_GST, `--url=${ctx.daemon.base}/whep/${ROOM}`, `--token=${token}`,
    "--duration", String(seconds), "--timeout", String(seconds + 30)], { stdio: ["ignore", out, out] });
  fs.closeSync(out);
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve(code ?? signal)));
  return {
    exited,
    kill() { if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL"); return exited; },
    log() { return fs.readFileSync(logPath, "utf8").split("\n").slice(-15).join("\n"); },
  };
}

const sec = (iso) => Math.floor(Date.parse(iso) / 1000);

// The step function of distinct keys watching, from [key, from, to]
// spans (whole seconds), sampled in the middle of each second of the
// live time: what the chart must show, computed without the relay.
function expectedCounts(spans, from, to) {
  const counts = [];
  for (let s = from; s < to; s++) {
    const keys = new Set(spans.filter(([, a, b]) => a <= s && s < b).map(([key]) => key));
    counts.push(keys.size);
  }
  return counts;
}

// The chart's own step function at the same moments, from its points.
function chartCounts(points, key, from, to) {
  const counts = [];
  for (let s = from; s < to; s++) {
    const at = points.filter((p) => sec(p.at) <= s).at(-1);
    counts.push(at ? at[key] : 0);
  }
  return counts;
}

// The union of [from, to] second pairs, merged where they overlap or touch.
function union(pairs) {
  const sorted = pairs.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out = [];
  for (const [a, b] of sorted) {
    if (out.length && a <= out.at(-1)[1]) out.at(-1)[1] = Math.max(out.at(-1)[1], b);
    else out.push([a, b]);
  }
  return out;
}

// Reads a PNG as pdftoppm writes it (8-bit RGB or RGBA, not interlaced):
// {width, height, pixel(x, y) -> [r, g, b]}.
function readPng(file) {
  const data = fs.readFileSync(file);
  check(data.subarray(1, 4).toString() === "PNG", `${file} is not a PNG`);
  let offset = 8, width = 0, height = 0, channels = 3;
  const idat = [];
  while (offset < data.length) {
    const length = data.readUInt32BE(offset);
    const type = data.subarray(offset + 4, offset + 8).toString();
    const body = data.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0); height = body.readUInt32BE(4);
      check(body[8] === 8 && body[12] === 0, "an 8-bit, non-interlaced PNG");
      channels = { 2: 3, 6: 4, 0: 1 }[body[9]];
    } else if (type === "IDAT") idat.push(body);
    offset += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? pixels[y * stride + i - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
      let out;
      if (filter === 0) out = v;
      else if (filter === 1) out = v + a;
      else if (filter === 2) out = v + b;
      else if (filter === 3) out = v + ((a + b) >> 1);
      else {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        out = v + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      pixels[y * stride + i] = out & 255;
    }
  }
  return {
    width, height,
    pixel(x, y) {
      const i = y * stride + x * channels;
      return channels === 1 ? [pixels[i], pixels[i], pixels[i]] : [pixels[i], pixels[i + 1], pixels[i + 2]];
    },
  };
}

// What a report page shows, read back from its SVG and tables: the
// chart's points and lines, the live end's label, each person's bar and
// verdict, and how wide the chart is drawn.
function readReport(page) {
  return page.evaluate(() => {
    const svg = document.getElementById("audience-chart");
    const box = (node) => { const b = node?.getBoundingClientRect(); return b ? Math.round(b.width) : 0; };
    return {
      running: document.body.dataset.running,
      to: svg.dataset.to,
      endLabel: svg.querySelector("text.end")?.textContent,
      points: [...svg.querySelectorAll("g.point")].map((g) => ({
        at: g.dataset.at, screens: Number(g.dataset.screens), people: Number(g.dataset.people) })),
      lines: [...svg.querySelectorAll("path.line")].map((path) => box(path)),
      width: box(svg),
      note: document.getElementById("live-note")?.textContent ?? null,
      barHead: document.querySelector("#attendance-table th.bar-cell")?.textContent,
      rows: [...document.querySelectorAll("#attendance-table tbody tr")].map((tr) => ({
        id: tr.dataset.participant, name: tr.cells[0].textContent, state: tr.className,
        verdict: tr.querySelector("td.verdict").textContent,
        rects: [...tr.querySelectorAll("svg.bar rect.watched")].map((r) => [r.dataset.from, r.dataset.to]),
        drawn: box(tr.querySelector("svg.bar")) })),
    };
  });
}

// The report in Firefox while the session is live, then as it turns
// final by itself; returns the final page for the comparison.
async function followInFirefox(ctx, foxStarting, session, screenshot) {
  const fox = await foxStarting;
  const page = fox.page;
  await page.goto(`${ctx.daemon.base}/report/${session}`);
  await page.fill("#admin-token", ADMIN_TOKEN);
  await page.click("#signin button[type=submit]");
  await waitFor(() => page.evaluate((id) => document.body.dataset.loaded === id, session), 15000,
    "the live report in Firefox");
  const first = await readReport(page);
  log(`Firefox, live: ${JSON.stringify({ ...first, rows: first.rows.filter((r) => r.rects.length) })}`);
  check(first.running === "true" && /pågår fortsatt/.test(first.note), `the report says the broadcast is on air: ${first.note}`);
  check(first.endLabel === "nå", `the chart's live end is "nå": ${first.endLabel}`);
  check(/–nå$/.test(first.barHead), `the bars run to "nå": ${first.barHead}`);
  check(first.rows.length > 0 && first.rows.every((r) => r.state === "pending" && r.verdict === "Når den er slutt"),
    `no verdicts while live: ${JSON.stringify(first.rows.map((r) => [r.name, r.state, r.verdict]))}`);
  check(first.lines.length === 2 && first.width > 800, `the chart drawn in Firefox: ${first.lines} in ${first.width} px`);
  // It follows the broadcast by itself: screens come and go until 14 s,
  // so a new point comes, the live end moves on, and the bar of Kari,
  // who watches on, grows with it.
  const grown = await waitFor(async () => {
    const now = await readReport(page);
    return now.points.length > first.points.length && Date.parse(now.to) >= Date.parse(first.to) + 4000 ? now : null;
  }, 20000, "the live report to follow the screens' arrivals");
  const kari = (r) => r.rows.find((row) => row.name === "Kari Nordmann").rects.at(-1);
  check(Date.parse(kari(grown)[1]) >= Date.parse(kari(first)[1]) + 4000, `Kari's bar grows: ${kari(first)} → ${kari(grown)}`);
  check(grown.lines.every((w) => w > 50), `the lines drawn: ${grown.lines}`);
  await screenshot(page, "firefox-live", { fullPage: true });
  // After the end, the final report, with no reload by hand.
  await waitFor(() => page.evaluate(() => document.body.dataset.running === "false"), 60000,
    "the Firefox report to turn final by itself");
  return page;
}

await run("report", async (ctx) => {
  const { daemon, browser, screenshot } = ctx;
  const viewers = [];
  // Firefox starts meanwhile: it is slow to start. Without it, its part
  // is left out.
  const foxStarting = fs.existsSync(FIREFOX) ? ctx.firefox({ label: "report-firefox", viewport: { width: 1200, height: 900 } })
    : null;
  foxStarting?.catch(() => {});
  if (!foxStarting) log(`no ${FIREFOX}: the report in Firefox is left out`);
  let foxFollowing = null;
  try {
    const room = await daemon.createRoom(ROOM, TITLE, true);
    const a = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3", ["Ola Hansen"]);
    const b = await daemon.join(ROOM, "Per Berg", "Hjemmetjenesten");
    const c = await daemon.join(ROOM, "Lise Dahl", "Legevakten");
    // Invited people who never come: rows of their own (absent), enough
    // of them for the printed table to run over onto a second page.
    const invited = Array.from({ length: INVITED }, (_, i) => ({ name: `Gjest ${String(i + 1).padStart(2, "0")}`, workplace: "Sone 1" }));
    const imported = await daemon.api("POST", `/api/rooms/${ROOM}/participants`, invited);
    check(imported.status === 201, `pre-registration: ${imported.status} ${JSON.stringify(imported.data).slice(0, 200)}`);

    // The API: who may read a report.
    const unknown = await daemon.api("GET", "/api/sessions/no-such-session/report");
    check(unknown.status === 404, `an unknown session's report: ${unknown.status}`);
    check((await daemon.api("GET", "/api/sessions/no-such-session/report", undefined, null)).status === 401,
      "a report without a token is 401");
    check((await daemon.api("GET", "/api/sessions/no-such-session/report", undefined, room.host_token)).status === 403,
      "a report for a host is 403");
    check((await daemon.api("GET", "/api/sessions/no-such-session/report", undefined, a.token)).status === 403,
      "a report for a viewer is 403");
    check((await daemon.api("GET", `/api/rooms/${ROOM}/audience`, undefined, a.token)).status === 403,
      "the live audience for a viewer is 403");
    check((await daemon.api("GET", `/api/rooms/${ROOM}/audience`, undefined, null)).status === 401,
      "the live audience without a token is 401");

    // The host goes live from the host page; its chart appears, empty.
    const host = await browser({ label: "host" });
    await host.page.goto(`${daemon.base}/host/${ROOM}#token=${room.host_token}`);
    await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoWidth > 0), 10000, "the preview");
    await host.page.selectOption("#resolution", "360");
    await host.page.click("#start");
    const session = await waitFor(async () => (await daemon.room(ROOM)).session_id, 20000, "the room to go live");
    const livePoints = () => host.page.evaluate(() => [...document.querySelectorAll("#live-chart-svg g.point")]
      .map((g) => ({ at: g.dataset.at, screens: Number(g.dataset.screens), people: Number(g.dataset.people) })));
    await waitFor(async () => (await host.page.locator("#live-chart-svg").getAttribute("data-session")) === session,
      15000, "the host's live chart of this session");
    const before = await livePoints();
    check(before.length >= 1 && before.at(-1).screens === 0, `the live chart before anyone watches: ${JSON.stringify(before)}`);
    await screenshot(host.page, "host-chart-empty");

    // The screens come and go at known times (seconds after going live).
    const start = Date.now();
    const at = (s) => sleep(Math.max(0, start + s * 1000 - Date.now()));
    viewers.push(watch(ctx, a.token, 20, "viewer-a"));             // 0 .. ~20: leaves early
    // The host's chart follows the first screen by itself.
    const seen = await waitFor(async () => {
      const points = await livePoints();
      return points.at(-1)?.screens === 1 && points.at(-1)?.people === 2 ? points : null;
    }, 15000, "the host's live chart to show the first screen (two people)").catch(async (error) => {
      log(`host chart: ${JSON.stringify(await livePoints())}`);
      throw error;
    });
    log(`host chart after the first screen joined: ${JSON.stringify(seen)}`);
    await screenshot(host.page, "host-chart-live");
    // Alongside the rest, so as not to shift the screens' times.
    foxFollowing = foxStarting && followInFirefox(ctx, foxStarting, session, screenshot);
    foxFollowing?.catch(() => {});
    await at(4);
    viewers.push(watch(ctx, b.token, 5, "viewer-b1"));             // 4 .. ~9
    // Questions while live: Per's with markup, his name hidden from the
    // others, supported by Kari's screen and answered; Lise's long one.
    const asked = await daemon.api("POST", `/api/rooms/${ROOM}/questions`, { text: MARKUP_QUESTION, anonymous: true }, b.token);
    check(asked.status === 201, `Per asks: ${asked.status} ${JSON.stringify(asked.data)}`);
    const supported = await daemon.api("POST", `/api/rooms/${ROOM}/questions/${asked.data.id}/support`, undefined, a.token);
    check(supported.status === 200, `Kari's screen supports it: ${supported.status}`);
    const long = await daemon.api("POST", `/api/rooms/${ROOM}/questions`, { text: LONG_QUESTION }, c.token);
    check(long.status === 201, `Lise asks a long question: ${long.status} ${JSON.stringify(long.data)}`);
    const answered = await daemon.api("PUT", `/api/rooms/${ROOM}/questions/${asked.data.id}/state`, { state: "answered" },
      room.host_token);
    check(answered.status === 200, `the host answered it: ${answered.status}`);
    await at(8);
    viewers.push(watch(ctx, c.token, 40, "viewer-c"));             // 8 .. the end: late
    // The host pauses the recording for a few seconds.
    await at(10);
    await host.page.click("#recording");
    await waitFor(async () => (await daemon.api("GET", `/api/rooms/${ROOM}/recording`, undefined, room.host_token)).data.paused,
      10000, "the recording paused");
    await at(13);
    await host.page.click("#recording");
    await at(14);
    viewers.push(watch(ctx, b.token, 5, "viewer-b2"));             // 14 .. ~19: a gap before
    await at(27);
    await host.page.click("#stop");
    await waitFor(async () => !(await daemon.room(ROOM)).live, 20000, "the broadcast to end");
    for (const viewer of viewers.slice(0, 2).concat(viewers.slice(3))) {
      const code = await viewer.exited;
      check(code === 0, `a viewer exited ${code}:\n${viewer.log()}`);
    }
    await waitFor(async () => {
      const s = (await daemon.api("GET", `/api/sessions/${session}`)).data;
      return s.recording?.state === "finished";
    }, 60000, "the recording to finish");

    // What the relay logged, to check the report against.
    const connections = (await daemon.api("GET", `/api/sessions/${session}/connections`)).data;
    const attendance = (await daemon.api("GET", `/api/sessions/${session}/attendance`)).data;
    const info = (await daemon.api("GET", `/api/sessions/${session}`)).data;
    // The live time as the attendance log holds it (on its steady time
    // line, which may differ from the wall clock's by a fraction).
    const { live } = (await daemon.api("GET", `/api/sessions/${session}/report`)).data;
    log(`connections: ${JSON.stringify(connections.map((x) => [x.name, x.party_id.slice(0, 6), x.connected_at, x.left_at]))}`);
    check(attendance.length === 4 + INVITED, `four people and the invited: ${JSON.stringify(attendance.map((r) => r.name))}`);
    const from = sec(live.from), to = sec(live.to);
    check(Math.abs(from - sec(info.started_at)) <= 1 && Math.abs(to - sec(info.ended_at)) <= 1,
      `the live time ${JSON.stringify(live)} is the session's ${info.started_at}–${info.ended_at}`);
    check(to - from >= 25, `the session lasted ${to - from} s`);

    // The coordinator signs in on the admin page and opens the report
    // from the session list.
    const coordinator = await browser({ label: "report", viewport: { width: 1200, height: 900 } });
    const page = coordinator.page;
    await page.goto(`${daemon.base}/admin`);
    await page.fill("#admin-token", ADMIN_TOKEN);
    await page.click("#signin button[type=submit]");
    const link = page.locator(`#sessions-table tr[data-session="${session}"] a.report-link`);
    await waitFor(() => link.isVisible(), 15000, "the report link in the session list");
    await link.click();
    await waitFor(() => page.evaluate((id) => document.body.dataset.loaded === id, session), 15000, "the report");
    check(page.url().endsWith(`/report/${session}`), `the report's address: ${page.url()}`);
    check((await page.locator("#report-title").textContent()).includes(TITLE), "the report's title names the course");
    await screenshot(page, "page", { fullPage: true });

    // The chart: its points read back from the SVG.
    const chart = await page.evaluate(() => {
      const svg = document.getElementById("audience-chart");
      const points = [...svg.querySelectorAll("g.point")].map((g) => ({
        at: g.dataset.at, screens: Number(g.dataset.screens), people: Number(g.dataset.people),
        cx: Number(g.querySelector("circle.people").getAttribute("cx")),
        cyPeople: Number(g.querySelector("circle.people").getAttribute("cy")),
        cyScreens: Number(g.querySelector("circle.screens").getAttribute("cy")),
      }));
      const paths = [...svg.querySelectorAll("path.line")].map((p) => p.getAttribute("d").length);
      return { from: svg.dataset.from, to: svg.dataset.to, max: Number(svg.dataset.max), points, paths };
    });
    log(`chart: ${JSON.stringify(chart.points.map((p) => [p.at.slice(11, 19), p.screens, p.people]))}`);
    check(sec(chart.from) === from && sec(chart.to) === to, `the chart spans the live time: ${chart.from}–${chart.to}`);
    check(chart.paths.length === 2 && chart.paths.every((n) => n > 10), "two step lines drawn");
    const screenSpans = connections.map((x) => [x.party_id, sec(x.connected_at), sec(x.left_at || live.to)]);
    const personSpans = connections.map((x) => [x.participant_id, sec(x.connected_at), sec(x.left_at || live.to)]);
    const wantScreens = expectedCounts(screenSpans, from, to), wantPeople = expectedCounts(personSpans, from, to);
    const haveScreens = chartCounts(chart.points, "screens", from, to), havePeople = chartCounts(chart.points, "people", from, to);
    check(JSON.stringify(haveScreens) === JSON.stringify(wantScreens),
      `screens over time:\n chart ${haveScreens.join("")}\n log   ${wantScreens.join("")}`);
    check(JSON.stringify(havePeople) === JSON.stringify(wantPeople),
      `people over time:\n chart ${havePeople.join("")}\n log   ${wantPeople.join("")}`);
    check(Math.max(...wantPeople) === 4 && Math.max(...wantScreens) === 3, "at most three screens and four people");
    // And each point is drawn where its time and counts put it.
    const [left, right, top, bottom] = [40, 784, 28, 210];   // chart.js: 800x240, its margins
    for (const p of chart.points) {
      const x = left + (Date.parse(p.at) - Date.parse(chart.from)) / (Date.parse(chart.to) - Date.parse(chart.from)) * (right - left);
      check(Math.abs(p.cx - x) < 0.1, `point at ${p.at} drawn at x ${p.cx}, not ${x}`);
      check(Math.abs(p.cyPeople - (bottom - p.people / chart.max * (bottom - top))) < 0.1, `people at ${p.at} drawn at y ${p.cyPeople}`);
      check(Math.abs(p.cyScreens - (bottom - p.screens / chart.max * (bottom - top))) < 0.1, `screens at ${p.at} drawn at y ${p.cyScreens}`);
    }

    // Each person's bar: the union of their connections within the live
    // time, placed on it, with the verdict beside it.
    const rows = await page.evaluate(() => [...document.querySelectorAll("#attendance-table tbody tr")].map((tr) => ({
      id: tr.dataset.participant, name: tr.cells[0].textContent, verdict: tr.querySelector("td.verdict").textContent,
      completed: tr.classList.contains("completed"),
      rects: [...tr.querySelectorAll("svg.bar rect.watched")].map((r) => ({ from: r.dataset.from, to: r.dataset.to,
        x: Number(r.getAttribute("x")), width: Number(r.getAttribute("width")) })),
    })));
    check(rows.length === attendance.length, `${rows.length} rows for ${attendance.length} people`);
    for (const person of attendance) {
      const row = rows.find((r) => r.id === person.participant_id);
      check(row, `${person.name} has a row`);
      const want = union(person.connections.map((x) => [Math.max(sec(x.connected_at), from), Math.min(sec(x.left_at || live.to), to)]));
      const have = row.rects.map((r) => [sec(r.from), sec(r.to)]);
      check(JSON.stringify(have) === JSON.stringify(want), `${person.name}'s bar ${JSON.stringify(have)}, the log ${JSON.stringify(want)}`);
      for (const r of row.rects) {
        const x = (Date.parse(r.from) - from * 1000) / ((to - from) * 1000) * 1000;
        check(Math.abs(r.x - x) < 0.5 && Math.abs(r.x + r.width - (Date.parse(r.to) - from * 1000) / ((to - from) * 1000) * 1000) < 0.5,
          `${person.name}'s bar from ${r.from} is drawn at ${r.x}+${r.width}`);
      }
      check(row.completed === person.completed && row.verdict.trim().length > 0, `${person.name}'s verdict: ${row.verdict}`);
    }
    const bars = Object.fromEntries(attendance.map((p) => [p.name, rows.find((r) => r.id === p.participant_id).rects]));
    check(bars["Per Berg"].length === 2, `Per's gap shows: ${JSON.stringify(bars["Per Berg"])}`);
    check(sec(bars["Lise Dahl"][0].from) >= from + 6, "Lise came late");
    check(sec(bars["Kari Nordmann"].at(-1).to) <= to - 4, "Kari left early");
    check(JSON.stringify(bars["Ola Hansen"]) === JSON.stringify(bars["Kari Nordmann"]), "Ola watched at Kari's screen");

    // The recording's pause is in the facts.
    const pauses = await page.locator("#facts ul.pauses li").count();
    check(pauses === 1 && info.recording.paused.length === 1, `one pause listed: ${pauses}, ${JSON.stringify(info.recording.paused)}`);

    // The questions: the text as text, with who asked and what became of
    // it, as the session's list has them (most support first).
    const listed = (await daemon.api("GET", `/api/sessions/${session}/questions`)).data.questions;
    const questions = await page.evaluate(() => [...document.querySelectorAll("#questions-table tbody tr")].map((tr) => ({
      id: tr.dataset.question, cells: [...tr.cells].map((td) => td.textContent),
      elements: tr.querySelector("td.question-text").children.length,
    })));
    log(`questions: ${JSON.stringify(questions.map((q) => q.cells.map((c) => c.slice(0, 40))))}`);
    check(JSON.stringify(questions.map((q) => q.id)) === JSON.stringify(listed.map((q) => q.id)),
      `the session's questions in its order: ${JSON.stringify(listed.map((q) => q.id))}`);
    const clock = (iso) => new Date(iso).toLocaleTimeString("nb-NO", { timeZone: "Europe/Oslo", hour: "2-digit", minute: "2-digit" });
    const answeredAt = listed.find((q) => q.id === asked.data.id).state_at;
    check(JSON.stringify(questions[0].cells) === JSON.stringify([clock(asked.data.asked_at), MARKUP_QUESTION, "Per Berg", "Ja", "1",
      "Besvart", clock(answeredAt)]) && questions[0].elements === 0,
    `the anonymous question as text, with its asker, support and answer: ${JSON.stringify(questions[0])}`);
    check(JSON.stringify(questions[1].cells) === JSON.stringify([clock(long.data.asked_at), LONG_QUESTION, "Lise Dahl", "Nei", "0",
      "Ikke besvart", "–"]), `the long question, open: ${JSON.stringify(questions[1].cells.map((c) => c.slice(0, 60)))}`);

    // The recording plays in the report.
    await waitFor(() => page.evaluate(() => document.getElementById("recording-video")?.readyState >= 1), 15000,
      "the recording's player to load");

    // Printed: A4, PDF to PNG, the title and the chart on page 1.
    const dir = artifactsDir();
    const pdf = path.join(dir, "report.pdf");
    await page.pdf({ path: pdf, format: "A4", printBackground: true });
    const text = execFileSync("pdftotext", ["-f", "1", "-l", "1", "-layout", pdf, "-"]).toString();
    check(text.includes("Sendingsrapport") && text.includes(TITLE), `page 1's text:\n${text.slice(0, 400)}`);
    check(!text.includes("Skriv ut") && !text.includes("Tilbake"), "nothing interactive is printed");
    const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync("pdfinfo", [pdf]).toString())[1]);
    // The table runs over: its head again on the next page, and no row
    // cut across two (each absent guest's name and verdict on one line
    // of one page).
    check(pages >= 2, `the report of ${attendance.length} people printed on ${pages} page(s)`);
    const pageText = Array.from({ length: pages }, (_, i) =>
      execFileSync("pdftotext", ["-f", String(i + 1), "-l", String(i + 1), "-layout", pdf, "-"]).toString());
    for (let i = 1; i < pages; i++) {
      if (!/Gjest \d\d/.test(pageText[i])) continue;
      check(/Navn\s+Arbeidssted\s+Så på/.test(pageText[i]), `the table's head on page ${i + 1}:\n${pageText[i].slice(0, 300)}`);
    }
    for (const guest of invited) {
      const lines = pageText.flatMap((text, i) => text.split("\n").filter((l) => l.includes(guest.name)).map((l) => [i, l]));
      check(lines.length === 1 && lines[0][1].includes("Fraværende"), `${guest.name}: ${JSON.stringify(lines)}`);
    }
    // The questions printed: the markup as characters, and the long
    // question's row on one page (its first and last words together).
    const flat = pageText.map((text) => text.replace(/\s+/g, " "));
    check(flat.some((text) => text.includes(MARKUP_QUESTION)), "the question with its markup as text in the PDF");
    const startPage = flat.findIndex((text) => text.includes("Startord:"));
    check(startPage >= 0 && flat[startPage].includes("Sluttord."), `the long question's row is on one page (${startPage + 1})`);
    const size = /Page size:\s+([\d.]+) x ([\d.]+)/.exec(execFileSync("pdfinfo", [pdf]).toString());
    check(Math.abs(Number(size[1]) - 595.28) < 2 && Math.abs(Number(size[2]) - 841.89) < 2, `A4 pages: ${size[0]}`);
    execFileSync("pdftoppm", ["-png", "-r", "80", pdf, path.join(dir, "report-page")]);
    const first = fs.readdirSync(dir).filter((f) => /^report-page-0*1\.png$/.test(f))[0];
    check(first, "pdftoppm made page 1");
    const png = readPng(path.join(dir, first));
    // The chart's lines are the only things printed in these two colours
    // (--accent and --ok of the print stylesheet); where they are found
    // is the chart's area, and it must span the page's width.
    const near = ([r, g, b], [R, G, B]) => Math.abs(r - R) + Math.abs(g - G) + Math.abs(b - B) < 60;
    let green = 0, minX = png.width, maxX = 0, white = 0;
    for (let y = 0; y < png.height; y++) {
      for (let x = 0; x < png.width; x++) {
        const p = png.pixel(x, y);
        if (p[0] > 245 && p[1] > 245 && p[2] > 245) white++;
        if (near(p, [0x1d, 0x7a, 0x4a])) { green++; minX = Math.min(minX, x); maxX = Math.max(maxX, x); }
      }
    }
    log(`page 1 of ${pages}: ${png.width}x${png.height}, ${green} pixels of the screens line from x ${minX} to ${maxX}, ${Math.round(white / (png.width * png.height) * 100)} % white`);
    check(green > 100 && maxX - minX > png.width * 0.5, "a drawn chart across page 1");
    check(white > png.width * png.height * 0.5, "printed black on white");

    // In English, opened on its own: the page asks for the token itself.
    const english = await browser({ label: "report-en", locale: "en-GB" });
    await english.page.goto(`${daemon.base}/report/${session}`);
    await english.page.fill("#admin-token", ADMIN_TOKEN);
    await english.page.click("#signin button[type=submit]");
    await waitFor(() => english.page.evaluate((id) => document.body.dataset.loaded === id, session), 15000, "the English report");
    check((await english.page.locator("#report-title").textContent()).startsWith("Session report"), "the English title");
    check((await english.page.locator("#attendance-table").textContent()).includes("Absent"), "English verdicts");
    check((await english.page.locator("#questions").textContent()).includes("Answered"), "the questions in English");
    await screenshot(english.page, "page-en", { fullPage: true });

    // Firefox's report, turned final by itself: the same as Chromium's.
    if (foxFollowing) {
      const fox = await foxFollowing;
      const shown = await waitFor(async () => {
        const r = await readReport(fox);
        return r.rows.every((row) => row.state !== "pending") ? r : null;
      }, 10000, "the final verdicts in Firefox");
      const chromium = await readReport(page);
      check(JSON.stringify(shown.points) === JSON.stringify(chromium.points) && shown.to === chromium.to,
        `Firefox's chart has Chromium's points:
 ${JSON.stringify(shown.points)}
 ${JSON.stringify(chromium.points)}`);
      check(shown.note === null && shown.endLabel !== "nå", "no longer marked live");
      check(shown.lines.length === 2 && shown.lines.every((w) => w > 300) && shown.width > 800,
        `Firefox draws both lines across the chart: ${shown.lines} of ${shown.width} px`);
      for (const row of chromium.rows) {
        const other = shown.rows.find((r) => r.id === row.id);
        check(other && JSON.stringify(other.rects) === JSON.stringify(row.rects) && other.verdict === row.verdict
          && other.state === row.state, `${row.name} in Firefox: ${JSON.stringify(other)}, in Chromium ${JSON.stringify(row)}`);
        check(row.rects.length === 0 || other.drawn > 300, `${row.name}'s bar drawn in Firefox: ${other.drawn} px`);
      }
      await waitFor(() => fox.evaluate(() => document.getElementById("recording-video")?.readyState >= 1), 15000,
        "the recording's player in Firefox");
      await screenshot(fox, "firefox-final", { fullPage: true });
    }
  } finally {
    for (const viewer of viewers) await viewer.kill();
  }
});
