// SPDX-License-Identifier: Apache-2.0
// A nurse whose workplace lets nothing out but TLS to port 443: Chromium
// runs in the viewer's namespace of the TURN lab (turnlab-run), which has
// no route to the relay's media address and reaches only coturn, which
// listens on nothing but TLS 443. The nurse's page fetches the TURN
// servers the relay minted for her, connects through TURN/TLS, decodes
// video and audio, and says so in plain words; the relay's WHEP
// statistics and /metrics say turn; her attendance row is there.

import { check, log, sleep, waitFor, CHROMIUM, CHROMIUM_ARGS, Failure, artifactsDir, SKIP } from "./lib.mjs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { API, VIEWER, ROOM, api } from "./turnlab.mjs";

async function metric(name, label) {
  const text = (await api("GET", "/metrics", undefined, null)).data;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${label}}`));
  return line ? Number(line.split(" ").pop()) : null;
}

async function main() {
  if (!API) { log("skip: run through turnlab-run"); return SKIP; }
  let chromium;
  try { ({ chromium } = await import("playwright-core")); } catch (error) { log(`skip: ${error.message}`); return SKIP; }
  const joined = await api("POST", `/api/rooms/${ROOM}/join`, { name: "Kari Nordmann", workplace: "Gjøvik sykehjem" }, null);
  check(joined.status === 201, `join: ${joined.status}`);
  const token = joined.data.token;

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kk-e2e-turn-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    // coturn's throw-away certificate is trusted by its key, as a real
    // TURN server's would be by its CA: Chromium checks TURN/TLS
    // certificates like any other.
    executablePath: CHROMIUM, headless: true, locale: "nb-NO",
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${process.env.KK_TURNLAB_SPKI}`],
    viewport: { width: 1280, height: 800 },
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on("console", (m) => { if (m.type() === "error") log(`[page console] ${m.text()}`); });
    page.on("pageerror", (e) => log(`[page error] ${e.message}`));
    await page.goto(`${VIEWER}/watch/${ROOM}#token=${token}`);

    // Decoded video, and the path as the browser chose it.
    const stats = await waitFor(() => page.evaluate(() => {
      const s = window.kringkastStats;
      return s && s.framesDecoded > 30 && s.path ? s : null;
    }), 40000, "decoded video and a chosen path");
    log(`page stats: ${JSON.stringify(stats)}`);
    check(stats.path.transport === "turn", `the browser's path is ${JSON.stringify(stats.path)}, not TURN`);
    check(stats.path.relayProtocol === "tls", `relayProtocol ${stats.path.relayProtocol}, not tls`);
    const audio = await waitFor(() => page.evaluate(async () => {
      let samples = 0;
      (await client.pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "audio") samples = s.totalSamplesReceived || 0;
      });
      return samples > 48000 ? samples : 0;
    }), 20000, "a second of decoded audio");
    log(`audio samples decoded: ${audio}`);
    const text = await page.locator("#path").textContent();
    check(/TURN/.test(text) && /TLS/.test(text) && /443/.test(text), `the page says "${text}"`);
    await page.screenshot({ path: path.join(artifactsDir(), "turn-watch.png") });

    // The relay's view: the viewer's own statistics and /metrics.
    const resource = await page.evaluate(() => client.resource);
    const own = await fetch(API + new URL(resource).pathname, { headers: { Authorization: `Bearer ${token}` } });
    check(own.status === 200, `WHEP GET ${own.status}`);
    const ownStats = await own.json();
    check(ownStats.transport === "turn", `WHEP GET transport ${ownStats.transport}`);
    // The page told the relay how it reaches coturn.
    const told = await waitFor(async () => {
      const r = await fetch(API + new URL(resource).pathname, { headers: { Authorization: `Bearer ${token}` } });
      return (await r.json()).relay_protocol;
    }, 10000, "the page's relayProtocol in the WHEP statistics");
    check(told === "tls", `WHEP GET relay_protocol ${told}`);
    check(await metric("kringkast_viewers", 'transport="turn"') === 1, "/metrics: one viewer on turn");
    check(await metric("kringkast_viewers", 'transport="udp"') === 0, "/metrics: none on udp");

    await sleep(3000);
    await page.evaluate(() => client.stop());
    const session = (await api("GET", `/api/rooms/${ROOM}`)).data.session_id;
    const row = await waitFor(async () => {
      const rows = (await api("GET", `/api/sessions/${session}/attendance`)).data;
      return rows.find((r) => r.participant_id === joined.data.participant_id && r.attended_seconds >= 3);
    }, 15000, "the attendance row");
    log(`attendance: ${row.name} ${row.attended_seconds} s`);
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return 0;
}

main().then((code) => { log(code === 0 ? "PASS" : "SKIP"); process.exit(code); }, (error) => {
  log(`FAIL: ${error instanceof Failure ? error.message : error.stack || error}`);
  process.exit(1);
});
