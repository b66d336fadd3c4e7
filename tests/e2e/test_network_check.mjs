// SPDX-License-Identifier: Apache-2.0
// The network check page (/check) in Chromium, in the TURN lab
// (turnlab-run): in the viewer's namespace, which reaches nothing but
// coturn on TLS 443, it finds that only TURN over TLS works and says what
// to ask IT to open (the relay's media address and port); in the open
// network (the test's own namespace, every path to the relay but no
// route to coturn) it reports UDP; in a workplace that reaches nothing
// but a squid proxy (a namespace of its own, made here, whose only
// neighbour is squid in the test's namespace, which passes plain HTTP to
// the relay's HTTP port and refuses CONNECT), it finds that only HTTPS
// segments work and says what to ask IT to open. No run joins the course
// or leaves an attendance row.

import { check, log, waitFor, CHROMIUM_ARGS, Failure, artifactsDir, SKIP } from "./lib.mjs";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
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

/* The proxy-only workplace: its namespace's one link leads to squid. */
const PROXY_NS = `kk-chk-proxy-${process.pid}`;
const SQUID_ADDRESS = "10.214.0.1";
const SQUID_PORT = 3128;

function ip(...args) {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function removeProxyWorkplace() {
  try { execFileSync("ip", ["netns", "del", PROXY_NS], { stdio: "ignore" }); } catch (error) { /* not made */ }
  try { execFileSync("ip", ["link", "del", "kkchk-t"], { stdio: "ignore" }); } catch (error) { /* gone with its peer */ }
}

/* The namespace, and squid in this one passing plain HTTP to @relayHost
 * (the relay's HTTP, as this namespace reaches it) and nothing else.
 * Returns squid's process and its access log. */
async function startProxyWorkplace(relayHost, relayPort) {
  ip("netns", "add", PROXY_NS);
  ip("link", "add", "kkchk-t", "type", "veth", "peer", "name", "kkchk-v");
  ip("link", "set", "kkchk-v", "netns", PROXY_NS);
  ip("addr", "add", `${SQUID_ADDRESS}/24`, "dev", "kkchk-t");
  ip("link", "set", "kkchk-t", "up");
  ip("-n", PROXY_NS, "addr", "add", "10.214.0.2/24", "dev", "kkchk-v");
  ip("-n", PROXY_NS, "link", "set", "kkchk-v", "up");
  ip("-n", PROXY_NS, "link", "set", "lo", "up");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kk-e2e-check-squid-"));
  // squid drops to its own user before it opens its logs.
  fs.chmodSync(dir, 0o777);
  const conf = path.join(dir, "squid.conf");
  fs.writeFileSync(conf, [
    `http_port ${SQUID_ADDRESS}:${SQUID_PORT}`,
    "acl workplace src 10.214.0.0/24",
    `acl relay dst ${relayHost}/32`,
    `acl relay_http port ${relayPort}`,
    "acl CONNECT method CONNECT",
    "http_access deny CONNECT",
    "http_access allow workplace relay relay_http",
    "http_access deny all",
    "cache_mem 8 MB",
    `access_log stdio:${dir}/access.log`,
    `cache_log ${dir}/cache.log`,
    `pid_filename ${dir}/squid.pid`,
    `coredump_dir ${dir}`,
    "visible_hostname kk-check-proxy",
    "shutdown_lifetime 1 seconds",
    "",
  ].join("\n"));
  const squid = spawn("squid", ["-N", "-f", conf],
    { stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "stderr.log"), "a")] });
  await waitFor(() => new Promise((resolve) => {
    const socket = net.connect(SQUID_PORT, SQUID_ADDRESS, () => { socket.destroy(); resolve(true); });
    socket.on("error", () => resolve(false));
  }), 15000, "squid listening");
  return { process: squid, dir, accessLog: path.join(dir, "access.log") };
}

async function runCheck(chromium, executablePath, base, label, extraArgs = []) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `kk-e2e-check-${label}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, locale: "nb-NO", viewport: { width: 1280, height: 900 },
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${process.env.KK_TURNLAB_SPKI}`, ...extraArgs],
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
  check(open.rows.https === "works", `open: HTTPS ${open.rows.https}`);
  check(locked.rows.https === "works", `locked: HTTPS ${locked.rows.https}`);

  // The workplace behind a proxy: only the HTTPS segments get through.
  const relay = new URL(API);
  const squid = await startProxyWorkplace(relay.hostname, relay.port);
  process.on("exit", () => {
    if (squid.process.exitCode === null) squid.process.kill("SIGTERM");
    removeProxyWorkplace();
  });
  let routed = true;
  try { execFileSync("ip", ["-n", PROXY_NS, "route", "get", relay.hostname], { stdio: "ignore" }); } catch (e) { routed = false; }
  check(!routed, `the proxy workplace has a route to ${relay.hostname}`);
  const wrapper = path.join(squid.dir, "chromium-in-proxy-ns.sh");
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${PROXY_NS} ${process.env.KK_CHROMIUM_REAL || "/usr/bin/chromium"} "$@"\n`,
    { mode: 0o755 });
  const proxied = await runCheck(chromium, wrapper, API, "proxy",
    [`--proxy-server=http://${SQUID_ADDRESS}:${SQUID_PORT}`]);
  for (const id of ["udp", "tcp", "turn-udp", "turn-tls"])
    check(proxied.rows[id] === "fails", `proxy: ${id} ${proxied.rows[id]}`);
  check(proxied.rows.https === "works", `proxy: HTTPS ${proxied.rows.https}`);
  check(proxied.result.best === "https", `proxy: best ${proxied.result.best}`);
  const https = proxied.result.results.https;
  log(`proxy: HTTPS ${Math.round(https.bitrate / 1000)} kbit/s, first segment after ${https.first.toFixed(1)} s, `
    + `${https.behind.toFixed(1)} s behind live`);
  check(https.bitrate > 50000, `proxy: ${https.bitrate} bit/s`);
  check(https.first > 0 && https.first < 8, `proxy: first segment after ${https.first} s`);
  check(https.behind > 0 && https.behind < 4, `proxy: ${https.behind} s behind live`);
  check(proxied.verdict.includes(port) && proxied.verdict.includes(info.addresses[0])
    && /Bare vanlig HTTPS/.test(proxied.verdict),
  `proxy: the verdict names HTTPS and the port and address to open: ${proxied.verdict}`);
  check(proxied.report.includes("Vanlig HTTPS (segmenter, forsinket): virker (")
    && proxied.report.includes("etter direkte") && proxied.report.includes(proxied.verdict),
  `proxy: the text report:\n${proxied.report}`);
  // The proxy carried the segments.
  const access = fs.readFileSync(squid.accessLog, "utf8");
  check(/\/network-check\/segments\/[0-9a-f]{32}\/[0-9a-f]+-\d+\.webm/.test(access),
    "squid's log has no check segment");

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
