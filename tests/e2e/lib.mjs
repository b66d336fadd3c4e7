// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the browser tests: the daemon on free loopback ports
// with a throw-away data directory, headless Chromium (Debian's, with a
// fake camera and microphone), the API, screenshots, and the exit codes
// meson reads (0 pass, 77 skip, 1 fail).
//
// Every process the test starts is stopped by PID when it ends, however
// it ends. Screenshots go to $KK_E2E_ARTIFACTS (meson sets it inside the
// build dir), else tests/artifacts/.

import { spawn, execFileSync } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
export const CHROMIUM = process.env.KK_CHROMIUM || "/usr/bin/chromium";
export const FIREFOX = process.env.KK_FIREFOX || "/usr/bin/firefox-esr";
export const ADMIN_TOKEN = "kk-e2e-admin-token";
export const SKIP = 77;

export function log(...args) {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${args.join(" ")}\n`);
}

export class Failure extends Error {}

export function check(condition, message) {
  if (!condition) throw new Failure(message);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(predicate, timeoutMs, what, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value;
    try { value = await predicate(); } catch (error) { value = undefined; }
    if (value) return value;
    if (Date.now() > deadline) throw new Failure(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function findBinary() {
  if (process.env.KRINGKAST_BIN) return process.env.KRINGKAST_BIN;
  const candidates = [];
  for (const dir of [REPO, path.dirname(REPO)]) {
    for (const entry of fs.readdirSync(dir)) {
      const bin = path.join(dir, entry, "relay", "kringkast");
      if (entry.startsWith("build") && fs.existsSync(bin)) candidates.push(bin);
    }
  }
  candidates.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return candidates[0];
}

// A port free on 127.0.0.1 for TCP and UDP both (the media port is both).
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const server = net.createServer();
    const port = await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(server.address().port));
    });
    const udp = dgram.createSocket("udp4");
    const ok = await new Promise((resolve) => {
      udp.once("error", () => resolve(false));
      udp.bind(port, "127.0.0.1", () => resolve(true));
    });
    udp.close();
    await new Promise((resolve) => server.close(resolve));
    if (ok) return port;
  }
  throw new Error("no free port");
}

export class Daemon {
  constructor(workdir) {
    this.workdir = workdir;
    this.dataDir = path.join(workdir, "data");
    this.logPath = path.join(workdir, "kringkast.log");
    this.proc = null;
  }

  get base() { return `http://127.0.0.1:${this.httpPort}`; }

  async start() {
    this.bin ??= findBinary();
    if (!this.bin) throw new Failure("no kringkast binary: set KRINGKAST_BIN or build into build*/");
    this.httpPort ??= await freePort();
    this.mediaPort ??= await freePort();
    const logFd = fs.openSync(this.logPath, "a");
    this.proc = spawn(this.bin, ["--data-dir", this.dataDir, "--http-port", String(this.httpPort),
      "--media-port", String(this.mediaPort), "--public-ip", "127.0.0.1"], {
      stdio: ["ignore", logFd, logFd],
      env: { ...process.env, KRINGKAST_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    fs.closeSync(logFd);
    const proc = this.proc;
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Failure(`kringkast exited with ${proc.exitCode}:\n${this.logTail()}`);
      const response = await fetch(`${this.base}/healthz`);
      return response.ok;
    }, 15000, "the daemon's /healthz").catch((error) => {
      if (proc.exitCode !== null) throw new Failure(`kringkast exited with ${proc.exitCode}:\n${this.logTail()}`);
      throw error;
    });
  }

  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return proc?.exitCode ?? 0;
    const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve(code ?? signal)));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  logTail(lines = 40) {
    try { return fs.readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n"); } catch (e) { return ""; }
  }

  async api(method, apiPath, body, token = ADMIN_TOKEN) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.base + apiPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    let data = null;
    try { data = JSON.parse(text); } catch (e) { data = text; }
    return { status: response.status, data, headers: response.headers };
  }

  async createRoom(id, title, record = false) {
    const r = await this.api("POST", "/api/rooms", { id, title, record });
    check(r.status === 201, `create room ${id}: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  }

  async join(room, name, workplace, colleagues = []) {
    const r = await this.api("POST", `/api/rooms/${room}/join`, { name, workplace, colleagues }, null);
    check(r.status === 201, `join ${room}: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  }

  async room(id) { return (await this.api("GET", `/api/rooms/${id}`)).data; }
}

export const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu",
  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic",
  // The test network namespace has only loopback, which Chromium leaves
  // out of ICE unless told; the daemon listens on 127.0.0.1.
  "--allow-loopback-in-peer-connection",
];

// Firefox as the tests drive it (Debian's ESR, through WebDriver BiDi).
export const FIREFOX_PREFS = {
  // A fake camera and microphone, and no permission prompt.
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  // Loopback candidates, as Chromium's --allow-loopback-in-peer-connection.
  "media.peerconnection.ice.loopback": true,
  // Firefox's own autoplay policy: no sound before a click. Counted from
  // real input events only, because Playwright's evaluations mark the
  // page as activated, which the default (sticky activation) would take
  // for a click.
  "media.autoplay.default": 1,
  "media.autoplay.blocking_policy": 2,
};

export function artifactsDir() {
  const dir = process.env.KK_E2E_ARTIFACTS || path.join(REPO, "tests", "artifacts");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// Runs @body(ctx) with a started daemon and a browser; exits the process
// with the meson code. ctx: {daemon, browser (a BrowserContext factory),
// screenshot(page, name), workdir}.
// @budgetS: how long the test may take before it is stopped as hung; keep
// it under its meson timeout (tests/e2e/meson.build).
export async function run(name, body, { budgetS = 200 } = {}) {
  if (!fs.existsSync(CHROMIUM)) { log(`skip: no ${CHROMIUM}`); process.exit(SKIP); }
  let chromium, playwright;
  try {
    ({ chromium, default: playwright } = await import("playwright-core"));
  } catch (error) {
    log(`skip: playwright-core is not installed in tests/e2e (npm ci there): ${error.message}`);
    process.exit(SKIP);
  }
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), `kk-e2e-${name}-`));
  const daemon = new Daemon(workdir);
  const contexts = [];
  let firefoxLaunch = null;   // Firefox, started by the first ctx.firefox()
  let status = 1;
  const ctx = {
    daemon, workdir,
    // A fresh browser profile each time, as a new person would have.
    async browser(options = {}) {
      const profile = fs.mkdtempSync(path.join(workdir, "profile-"));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...(options.args || [])],
        viewport: options.viewport || { width: 1280, height: 800 },
        locale: options.locale || "nb-NO",
        // The browser's own time zone (default: the machine's), to check
        // pages that show Norwegian time whatever it is.
        timezoneId: options.timezoneId,
        acceptDownloads: true,
      });
      contexts.push(context);
      const page = context.pages()[0] || await context.newPage();
      // 404s are the pages asking for features the relay may lack.
      page.on("console", (m) => { if ((m.type() === "error" || m.type() === "warning") && !/status of 404/.test(m.text())) log(`[${options.label || "page"} console] ${m.text()}`); });
      page.on("pageerror", (e) => log(`[${options.label || "page"} error] ${e.message}`));
      return { context, page };
    },
    // A page in Firefox: one browser for the test (playwright-core's
    // experimental _bidiFirefox, which speaks WebDriver BiDi to it), a
    // fresh context (cookies, storage, permissions) each time.
    async firefox(options = {}) {
      firefoxLaunch ??= playwright._bidiFirefox.launch({ executablePath: FIREFOX, headless: true, firefoxUserPrefs: FIREFOX_PREFS });
      const context = await (await firefoxLaunch).newContext({
        viewport: options.viewport || { width: 1280, height: 800 }, locale: options.locale || "nb-NO",
      });
      contexts.push(context);
      const page = await context.newPage();
      page.on("console", (m) => { if ((m.type() === "error" || m.type() === "warning") && !/status of 404/.test(m.text())) log(`[${options.label || "firefox"} console] ${m.text()}`); });
      page.on("pageerror", (e) => log(`[${options.label || "firefox"} error] ${e.message}`));
      return { context, page };
    },
    async screenshot(page, shot, options = {}) {
      const file = path.join(artifactsDir(), `${name}-${shot}.png`);
      await page.screenshot({ path: file, fullPage: !!options.fullPage });
      log(`screenshot ${file}`);
      return file;
    },
  };
  const guard = setTimeout(() => {
    log(`FAIL: the test took longer than ${budgetS} s\ndaemon log tail:\n${daemon.logTail()}`);
    daemon.proc?.kill("SIGKILL");
    process.exit(1);   // Playwright kills the browsers it launched on exit
  }, budgetS * 1000);
  try {
    await daemon.start();
    await body(ctx);
    status = 0;
    log("PASS");
  } catch (error) {
    if (error instanceof Failure) log(`FAIL: ${error.message}`);
    else log(`FAIL: ${error.stack || error}`);
    log(`daemon log tail:\n${daemon.logTail()}`);
    log(`kept ${workdir}`);
  } finally {
    setNetwork(true);
    for (const context of contexts) await context.close().catch(() => {});
    if (firefoxLaunch) await firefoxLaunch.then((firefox) => firefox.close()).catch(() => {});
    const code = await daemon.stop();
    if (status === 0 && code !== 0) { log(`FAIL: daemon exit status ${code}`); status = 1; }
    if (status === 0) fs.rmSync(workdir, { recursive: true, force: true });
    clearTimeout(guard);
  }
  process.exit(status);
}

// Every visible control has an accessible name (a label, aria-label or
// text), and nothing overflows the window sideways. Returns the problems.
export async function checkPage(page) {
  return page.evaluate(() => {
    const problems = [];
    for (const el of document.querySelectorAll("button, input, select, textarea, video, a[href]")) {
      if (el.closest("[hidden]") || el.type === "hidden") continue;
      const labelled = el.getAttribute("aria-label") || (el.id && document.querySelector(`label[for="${el.id}"]`))
        || (el.tagName !== "INPUT" && el.tagName !== "SELECT" && el.tagName !== "TEXTAREA" && el.textContent.trim());
      if (!labelled) problems.push(`no accessible name: ${el.outerHTML.slice(0, 80)}`);
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
    }
    return problems;
  });
}

// Takes loopback down (or up again) inside the test's network namespace:
// every packet between the browsers and the daemon is lost meanwhile.
// Only possible inside netns-run (we are root there); returns false
// elsewhere.
export function setNetwork(up) {
  if (!inOwnNetns()) return false;
  try {
    execFileSync("ip", ["link", "set", "lo", up ? "up" : "down"], { stdio: "ignore" });
  } catch (error) {
    return false;
  }
  // Taking loopback down took its routes with it.
  if (up && loopbackDefault) routeDefaultToLoopback();
  return true;
}

// Firefox gathers ICE candidates on the default route's interface only
// when the page has no camera permission (a viewer; the fake camera does
// not count either), and the test's namespace has no default route, so
// it would find no address at all. A default route to loopback with
// source 127.0.0.1 gives it the daemon's own address; nothing can leave
// the namespace by it. Returns false outside a namespace of our own.
let loopbackDefault = false;
export function routeDefaultToLoopback() {
  if (!inOwnNetns()) return false;
  try {
    execFileSync("ip", ["route", "replace", "default", "dev", "lo", "src", "127.0.0.1"], { stdio: "ignore" });
  } catch (error) {
    return false;
  }
  loopbackDefault = true;
  return true;
}

// True only inside a network namespace other than our parent's (netns-run
// puts the test in one): taking loopback down anywhere else would cut off
// the machine's own services.
export function inOwnNetns() {
  try {
    return fs.readlinkSync("/proc/self/ns/net") !== fs.readlinkSync(`/proc/${process.ppid}/ns/net`);
  } catch (error) {
    return false;
  }
}
