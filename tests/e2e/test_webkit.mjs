// SPDX-License-Identifier: Apache-2.0
// The nurse's page in WebKit, Safari's engine, as Debian has it:
// WebKitGTK's MiniBrowser under Xvfb, driven over W3C WebDriver (HTTP)
// through WebKitWebDriver. Debian builds WebKitGTK without WebRTC (no
// RTCPeerConnection, and MiniBrowser refuses --features=+PeerConnection
// as "not available"), so no WebKit browser on Debian can play a
// lecture. The page must then say so plainly, from an invitation link
// and from the open link alike, instead of a blank page, a form that
// leads nowhere or endless reconnecting; and it must not join.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { run, check, waitFor, log, freePort, artifactsDir, SKIP } from "./lib.mjs";

const ROOM = "wk1";
const DRIVER = process.env.KK_WEBKIT_DRIVER || "/usr/bin/WebKitWebDriver";
const XVFB = "/usr/bin/Xvfb";
const MINIBROWSER = process.env.KK_MINIBROWSER || fs.readdirSync("/usr/lib", { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => path.join("/usr/lib", d.name, "webkit2gtk-4.1", "MiniBrowser"))
  .find((p) => fs.existsSync(p));

for (const [what, file] of [["WebKitWebDriver", DRIVER], ["Xvfb", XVFB], ["WebKitGTK's MiniBrowser", MINIBROWSER]]) {
  if (!file || !fs.existsSync(file)) {
    log(`skip: no ${what} (${file || "libwebkit2gtk-4.1-0"})`);
    process.exit(SKIP);
  }
}

// Starts @command and resolves once it is ready; the process is stopped
// by PID when the test ends.
const processes = [];
function start(command, args, options) {
  const proc = spawn(command, args, options);
  processes.push(proc);
  proc.once("error", (error) => log(`${command}: ${error.message}`));
  return proc;
}

async function startXvfb() {
  // -displayfd: Xvfb picks a free display itself and writes its number
  // on fd 3 once it accepts clients.
  const xvfb = start(XVFB, ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
    { stdio: ["ignore", "ignore", "inherit", "pipe"] });
  const display = await Promise.race([
    new Promise((resolve) => xvfb.stdio[3].once("data", (data) => resolve(`:${data.toString().trim()}`))),
    new Promise((resolve, reject) => xvfb.once("exit", (code) => reject(new Error(`Xvfb exited with ${code}`)))),
  ]);
  return display;
}

class WebDriver {
  constructor(port) { this.base = `http://127.0.0.1:${port}`; this.session = null; }

  async call(method, route, body) {
    const response = await fetch(`${this.base}${route}`, {
      method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const reply = await response.json();
    if (!response.ok) throw new Error(`WebDriver ${method} ${route}: ${JSON.stringify(reply.value)}`);
    return reply.value;
  }

  async open(binary) {
    const value = await this.call("POST", "/session", { capabilities: { alwaysMatch: {
      "webkitgtk:browserOptions": { binary, args: ["--automation"] },
    } } });
    this.session = value.sessionId;
    return value.capabilities;
  }

  goto(url) { return this.call("POST", `/session/${this.session}/url`, { url }); }
  run(script, ...args) { return this.call("POST", `/session/${this.session}/execute/sync`, { script, args }); }

  async screenshot(name) {
    const file = path.join(artifactsDir(), `webkit-${name}.png`);
    fs.writeFileSync(file, Buffer.from(await this.call("GET", `/session/${this.session}/screenshot`), "base64"));
    log(`screenshot ${file}`);
  }

  async close() {
    if (this.session) await this.call("DELETE", `/session/${this.session}`).catch(() => {});
    this.session = null;
  }
}

// What the page shows: the overlay's text and whether the join form, the
// player and its controls are visible.
const STATE = `
  const $ = (id) => document.getElementById(id);
  const shown = (el) => !!el && !el.closest("[hidden]") && el.getClientRects().length > 0;
  return { webrtc: typeof RTCPeerConnection, overlay: shown($("overlay")) ? $("overlay-text").textContent : "",
    form: shown($("join")), player: shown($("player")), leave: shown($("leave")), fullscreen: shown($("fullscreen")),
    lang: document.documentElement.lang, text: document.body.innerText };`;

// WebKitGTK's web process sometimes crashes on a busy machine (MiniBrowser
// logs "WebProcess CRASHED", and the page stays blank or WebKitWebDriver
// drops the session): that is the browser's fault, not the page's. A visit
// that fails after such a crash is made once more in a new browser
// session; any other failure, or a second crash, fails the test.
function webProcessCrashes(logFile) {
  return (fs.readFileSync(logFile, "utf8").match(/WebProcess CRASHED/g) || []).length;
}

async function visit(driver, logFile, what, steps) {
  const crashesBefore = webProcessCrashes(logFile);
  try {
    return await steps();
  } catch (error) {
    if (webProcessCrashes(logFile) === crashesBefore && !/page crash/.test(error.message)) throw error;
    log(`WebKit's web process crashed during ${what} (${error.message}); once more in a new session`);
    await driver.close();
    await driver.open(MINIBROWSER);
    return await steps();
  }
}

await run("webkit", async ({ daemon }) => {
  const created = await daemon.createRoom(ROOM, "Hygiene");
  const invited = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3");
  const display = await startXvfb();
  const port = await freePort();
  const driverLogFile = path.join(daemon.workdir, "webkitwebdriver.log");
  const driverLog = fs.openSync(driverLogFile, "a");
  start(DRIVER, [`--port=${port}`], { stdio: ["ignore", driverLog, driverLog], env: { ...process.env, DISPLAY: display } });
  fs.closeSync(driverLog);
  const driver = new WebDriver(port);
  await waitFor(() => fetch(`${driver.base}/status`).then((r) => r.ok), 10000, "WebKitWebDriver");
  try {
    const capabilities = await driver.open(MINIBROWSER);
    log(`${capabilities.browserName} ${capabilities.browserVersion} (WebKitGTK) on ${display}`);

    // From the invitation link.
    const invitedState = await visit(driver, driverLogFile, "the invitation link", async () => {
      await driver.goto(`${daemon.base}/watch/${ROOM}#token=${invited.token}`);
      return waitFor(async () => {
        const state = await driver.run(STATE);
        return state.overlay ? state : null;
      }, 10000, "a message on the page");
    });
    log(`WebKit: RTCPeerConnection is ${invitedState.webrtc}; the page says: ${invitedState.overlay}`);
    check(invitedState.webrtc === "undefined",
      "WebKitGTK has RTCPeerConnection now: test the page playing a lecture here, as test_firefox.mjs does");
    check(/Chrome, Edge, Firefox (eller|or) Safari/.test(invitedState.overlay),
      `the page names the browsers that can play: ${JSON.stringify(invitedState)}`);
    check(invitedState.player && !invitedState.form && !invitedState.leave && !invitedState.fullscreen,
      `only the message shows: ${JSON.stringify(invitedState)}`);
    await driver.screenshot("invited");

    // From the open link: the message, not a form that leads nowhere.
    const openState = await visit(driver, driverLogFile, "the open link", async () => {
      // A new session's blank page has no storage (and no origin) to clear.
      await driver.run('if (location.origin !== "null") localStorage.clear();');
      await driver.goto(`${daemon.base}/watch/${ROOM}`);
      return waitFor(async () => {
        const state = await driver.run(STATE);
        return state.overlay ? state : null;
      }, 10000, "a message on the page from the open link");
    });
    check(/Chrome, Edge, Firefox/.test(openState.overlay) && !openState.form,
      `the open link: ${JSON.stringify(openState)}`);
    await driver.screenshot("open");

    // The host's page: the same plain answer, before any button is pressed.
    const hostMessage = await visit(driver, driverLogFile, "the host's page", async () => {
      await driver.goto(`${daemon.base}/host/${ROOM}#token=${created.host_token}`);
      return waitFor(async () => {
        const text = await driver.run(
          "const m = document.getElementById('message'); return m && !m.hidden ? m.textContent : null;");
        return text || null;
      }, 10000, "a message on the host's page");
    });
    log(`WebKit host page says: ${hostMessage}`);
    check(/Chrome, Edge, Firefox (eller|or) Safari/.test(hostMessage),
      `the host's page names the browsers that can broadcast: ${hostMessage}`);
    await driver.screenshot("host");

    // Neither visit reached the relay as a viewer.
    const info = await daemon.room(ROOM);
    check(!info.viewers, `viewers: ${info.viewers}`);
  } finally {
    await driver.close();
    for (const proc of processes.reverse()) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once("exit", resolve));
        proc.kill("SIGTERM");
        await exited;
      }
    }
  }
});
