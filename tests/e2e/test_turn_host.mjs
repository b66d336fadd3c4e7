// SPDX-License-Identifier: Apache-2.0
// A host whose network lets nothing out but TLS to port 443: the host's
// Chromium runs in the workplace namespace of the TURN lab (turnlab-run),
// which has no route to the relay's media address and reaches only
// coturn, listening on nothing but TLS 443. The host's page fetches the
// TURN servers the relay minted for the host before its offer, publishes
// its fake camera and microphone over WHIP through TURN/TLS, and says
// which way the broadcast leaves; the room goes live, and a nurse's
// Chromium on the open network decodes the host's video and audio.

import { check, log, sleep, waitFor, CHROMIUM, CHROMIUM_ARGS, Failure, artifactsDir, SKIP } from "./lib.mjs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { API, VIEWER as WORKPLACE, HOST_ROOM as ROOM, api } from "./turnlab.mjs";

async function launch(chromium, executablePath, label, extraArgs = []) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `kk-e2e-turn-${label}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true, locale: "nb-NO",
    args: [...CHROMIUM_ARGS, ...extraArgs], viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] || await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") log(`[${label} console] ${m.text()}`); });
  page.on("pageerror", (e) => log(`[${label} page error] ${e.message}`));
  return { context, page, profile };
}

async function close(browser) {
  if (!browser) return;
  await browser.context.close().catch(() => {});
  fs.rmSync(browser.profile, { recursive: true, force: true });
}

async function main() {
  if (!API || !ROOM) { log("skip: run through turnlab-run"); return SKIP; }
  let chromium;
  try { ({ chromium } = await import("playwright-core")); } catch (error) { log(`skip: ${error.message}`); return SKIP; }
  const room = await api("GET", `/api/rooms/${ROOM}`);
  check(room.status === 200 && room.data.host_token, `the room: ${room.status}`);
  check(!room.data.live, "the room is not live before the host starts");

  let host = null;
  let nurse = null;
  try {
    // coturn's throw-away certificate is trusted by its key, as a real
    // TURN server's would be by its CA. The lab serves the page over
    // plain HTTP on a non-loopback address, where browsers give no camera
    // (a secure context is needed); in service the page comes over HTTPS.
    host = await launch(chromium, CHROMIUM, "host", [`--ignore-certificate-errors-spki-list=${process.env.KK_TURNLAB_SPKI}`,
      `--unsafely-treat-insecure-origin-as-secure=${WORKPLACE}`]);
    await host.page.goto(`${WORKPLACE}/host/${ROOM}#token=${room.data.host_token}`);
    await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoWidth > 0), 15000, "the preview");
    await host.page.selectOption("#resolution", "360");
    await host.page.click("#start");
    await waitFor(async () => (await api("GET", `/api/rooms/${ROOM}`)).data.live, 40000, "the room to go live through coturn");
    const sent = await waitFor(() => host.page.evaluate(() => {
      const s = window.kringkastHostStats;
      return s && s.bitrate > 0 && s.width > 0 && s.path ? s : null;
    }), 30000, "outgoing video and a chosen path in the host's stats");
    log(`host sends ${sent.width}x${sent.height} ${sent.codec} at ${Math.round(sent.bitrate / 1000)} kbit/s by ${JSON.stringify(sent.path)}`);
    check(sent.path.transport === "turn", `the host's path is ${JSON.stringify(sent.path)}, not TURN`);
    check(sent.path.relayProtocol === "tls", `relayProtocol ${sent.path.relayProtocol}, not tls`);
    const said = await host.page.locator("#path").textContent();
    check(/TURN/.test(said) && /TLS/.test(said) && /443/.test(said), `the host's page says "${said}"`);
    await host.page.screenshot({ path: path.join(artifactsDir(), "turn-host.png") });

    // A nurse on the open network watches what came through coturn.
    const joined = await api("POST", `/api/rooms/${ROOM}/join`, { name: "Kari Nordmann", workplace: "Gjøvik sykehjem" }, null);
    check(joined.status === 201, `join: ${joined.status}`);
    nurse = await launch(chromium, process.env.KK_CHROMIUM_REAL || "/usr/bin/chromium", "nurse");
    await nurse.page.goto(`${API}/watch/${ROOM}#token=${joined.data.token}`);
    const stats = await waitFor(() => nurse.page.evaluate(() => {
      const s = window.kringkastStats;
      return s && s.framesDecoded > 30 && s.path ? s : null;
    }), 40000, "the nurse decoding the host's video");
    log(`nurse: ${JSON.stringify(stats)}`);
    check(stats.path.transport !== "turn", `the nurse's own path ${JSON.stringify(stats.path)}`);
    const audio = await waitFor(() => nurse.page.evaluate(async () => {
      let samples = 0;
      (await client.pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "audio") samples = s.totalSamplesReceived || 0;
      });
      return samples > 48000 ? samples : 0;
    }), 20000, "a second of the host's audio decoded");
    log(`nurse's audio samples: ${audio}`);
    // Still flowing a few seconds on: the TURN allocation holds.
    const before = stats.framesDecoded;
    await sleep(3000);
    const after = await nurse.page.evaluate(() => window.kringkastStats.framesDecoded);
    check(after > before + 30, `frames decoded ${before} -> ${after} in 3 s`);
    await nurse.page.screenshot({ path: path.join(artifactsDir(), "turn-host-watch.png") });

    await host.page.click("#stop");
    await waitFor(async () => !(await api("GET", `/api/rooms/${ROOM}`)).data.live, 15000, "the broadcast to end");
  } finally {
    await close(nurse);
    await close(host);
  }
  return 0;
}

main().then((code) => { log(code === 0 ? "PASS" : "SKIP"); process.exit(code); }, (error) => {
  log(`FAIL: ${error instanceof Failure ? error.message : error.stack || error}`);
  process.exit(1);
});
