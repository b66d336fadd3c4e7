// SPDX-License-Identifier: Apache-2.0
// The network check page (/check) in Chromium, in the TURN lab
// (turnlab-run): in the viewer's namespace, which reaches nothing but
// coturn on TLS 443, it finds that only TURN over TLS works and says what
// to ask IT to open (the relay's media address and port); in the open
// network (the test's own namespace, every path to the relay but no
// route to coturn) it reports UDP. Neither run joins the course or
// leaves an attendance row.

import { check, log, waitFor, CHROMIUM_ARGS, Failure, artifactsDir, SKIP } from "./lib.mjs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const API = process.env.KK_TURNLAB_API;
const VIEWER = process.env.KK_TURNLAB_VIEWER;
const ROOM = process.env.KK_TURNLAB_ROOM;
const ADMIN = process.env.KRINGKAST_ADMIN_TOKEN;

async function api(apiPath) {
  const response = await fetch(API + apiPath, { headers: { Authorization: `Bearer ${ADMIN}` } });
  return response.json();
}

async function runCheck(chromium, executablePath, base, label) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `kk-e2e-check-${label}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, locale: "nb-NO", viewport: { width: 1280, height: 900 },
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${process.env.KK_TURNLAB_SPKI}`],
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on("pageerror", (e) => log(`[${label} error] ${e.message}`));
    await page.goto(`${base}/check`);
    await page.click("#start");
    const result = await waitFor(() => page.evaluate(() => window.kringkastCheck), 90000, `the ${label} check`, 500);
    const rows = await page.$$eval("#results tbody tr", (trs) => trs.map((tr) => [tr.dataset.path, tr.dataset.result]));
    const verdict = await page.locator("#verdict").textContent();
    const report = await page.locator("#report").inputValue();
    log(`${label}: best ${result.best}; ${JSON.stringify(rows)}; ${verdict}`);
    await page.screenshot({ path: path.join(artifactsDir(), `network-check-${label}.png`), fullPage: true });
    return { result, rows: Object.fromEntries(rows), verdict, report };
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function main() {
  if (!API) { log("skip: run through turnlab-run"); return SKIP; }
  let chromium;
  try { ({ chromium } = await import("playwright-core")); } catch (error) { log(`skip: ${error.message}`); return SKIP; }
  const info = await (await fetch(`${API}/api/network-check`)).json();
  const port = String(info.media_port);

  // The workplace that lets out nothing but TLS to coturn.
  const locked = await runCheck(chromium, process.env.KK_CHROMIUM, VIEWER, "locked");
  check(locked.rows.udp === "fails", `locked: UDP ${locked.rows.udp}`);
  check(locked.rows.tcp === "fails", `locked: TCP ${locked.rows.tcp}`);
  check(locked.rows["turn-udp"] === "fails", `locked: TURN/UDP ${locked.rows["turn-udp"]}`);
  check(locked.rows["turn-tls"] === "works", `locked: TURN/TLS ${locked.rows["turn-tls"]}`);
  check(locked.result.best === "turn-tls", `locked: best ${locked.result.best}`);
  check(locked.result.results["turn-tls"].bitrate > 50000, `locked: ${locked.result.results["turn-tls"].bitrate} bit/s`);
  check(locked.verdict.includes(port) && locked.verdict.includes(info.addresses[0]),
    `locked: the verdict names the port and address to open: ${locked.verdict}`);
  check(locked.report.includes("TURN-tjeneren over TLS, port 443: virker") && locked.report.includes(locked.verdict),
    `locked: the text report:\n${locked.report}`);

  // The open network: the best path, UDP.
  const open = await runCheck(chromium, process.env.KK_CHROMIUM_REAL || "/usr/bin/chromium", API, "open");
  check(open.rows.udp === "works", `open: UDP ${open.rows.udp}`);
  check(open.rows.tcp === "works", `open: TCP ${open.rows.tcp}`);
  check(open.result.best === "udp", `open: best ${open.result.best}`);

  // Nobody joined the course: no attendance, no viewer left over.
  const room = await api(`/api/rooms/${ROOM}`);
  const rows = await api(`/api/sessions/${room.session_id}/attendance`);
  check(Array.isArray(rows) && rows.length === 0, `attendance rows: ${JSON.stringify(rows)}`);
  return 0;
}

main().then((code) => { log(code === 0 ? "PASS" : "SKIP"); process.exit(code); }, (error) => {
  log(`FAIL: ${error instanceof Failure ? error.message : error.stack || error}`);
  process.exit(1);
});
