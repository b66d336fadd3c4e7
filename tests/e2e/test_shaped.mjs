// SPDX-License-Identifier: Apache-2.0
// The nurse's page in Chromium on a link that narrows to 500 kbit/s and
// opens again. shaped-run builds the lab (tests/integration/shapedlab.py),
// starts the relay and this browser in their namespaces, shapes the link
// on its own timeline and judges; this script is the nurse's screen: it
// opens the watch page and records, every second until the timeline ends,
// what Chromium decoded and lost and what the page told the nurse. It
// fails if the page never shows a picture; the rest is judged from the
// record, against the moments the link changed.

import { check, log, sleep, waitFor, CHROMIUM, CHROMIUM_ARGS, SKIP } from "./lib.mjs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const VIEWER = process.env.KK_SHAPED_VIEWER;
const ROOM = process.env.KK_SHAPED_ROOM;
const TOKEN = process.env.KK_SHAPED_TOKEN;
const SECONDS = Number(process.env.KK_SHAPED_SECONDS);
const RECORD = process.env.KK_SHAPED_RECORD;

// One second's sample: the inbound streams' counters and the page's words.
async function sample(page) {
  return page.evaluate(async () => {
    const out = { t: Date.now() / 1000, layerText: document.getElementById("layer")?.textContent || "" };
    // watch.js keeps its peer connection in a top-level "let client".
    const pc = typeof client !== "undefined" ? client?.pc : null;
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (s.kind === "video") {
        out.video = { framesDecoded: s.framesDecoded || 0, packetsLost: s.packetsLost || 0,
          packetsReceived: s.packetsReceived || 0, nackCount: s.nackCount || 0,
          freezeCount: s.freezeCount || 0, width: s.frameWidth || 0 };
      } else {
        out.audio = { samples: s.totalSamplesReceived || 0, concealed: s.concealedSamples || 0 };
      }
    });
    return out;
  });
}

async function main() {
  if (!VIEWER) { log("skip: run through shaped-run"); return SKIP; }
  let chromium;
  try { ({ chromium } = await import("playwright-core")); } catch (error) { log(`skip: ${error.message}`); return SKIP; }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kk-e2e-shaped-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, locale: "nb-NO", args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  const record = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on("pageerror", (e) => log(`[page error] ${e.message}`));
    await page.goto(`${VIEWER}/watch/${ROOM}#token=${TOKEN}`);
    await waitFor(() => page.evaluate(() => (window.kringkastStats?.framesDecoded || 0) > 0), 40000, "a picture");
    log("decoding; recording");
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      const started = Date.now();
      record.push(await sample(page));
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  } finally {
    fs.writeFileSync(RECORD, JSON.stringify(record));
    await context.close();
  }
  check(record.length > SECONDS / 2, `only ${record.length} samples`);
  return 0;
}

main().then((code) => process.exit(code), (error) => { log(`FAIL: ${error.stack || error}`); process.exit(1); });
