// SPDX-License-Identifier: Apache-2.0
// The nurse chooses her picture on the watch page: "sound only" stops the
// picture (the sound goes on) and the page says so in plain words; back
// to "automatic", the full picture returns; the choice is kept for the
// screen, so after a reload the page asks for it again by itself, with its
// offer: not one frame of the picture comes before the sound only. "Save
// data" gives the reduced picture (the room's light layer), and a screen
// that had it starts on it next time. The host is the host page in
// Chromium, which sends keyframes only when asked. Then an H.264 room
// (whip_gst.py: x264enc, constrained baseline, 320x240): "save data" gives
// Chromium the relay's 640x360 H.264 light layer, and "automatic" the
// host's picture again, each decoded.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run, check, waitFor, log, sleep, checkPage } from "./lib.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

const ROOM = "kvalitet";

async function frames(page) {
  return page.evaluate(() => window.kringkastStats?.framesDecoded || 0);
}

// Frames decoded over @ms.
async function decodedOver(page, ms) {
  const a = await frames(page);
  await sleep(ms);
  return (await frames(page)) - a;
}

async function layerNote(page) {
  return page.evaluate(() => ({ text: document.getElementById("layer").textContent,
    layer: window.kringkastLayer?.layer, switches: window.kringkastLayer?.layer_switches }));
}

await run("watch-quality", async ({ daemon, browser, screenshot, workdir }) => {
  const room = await daemon.createRoom(ROOM, "Sårbehandling");
  const host = await browser({ label: "host" });
  await host.page.goto(`${daemon.base}/host/${ROOM}#token=${room.host_token}`);
  await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoWidth > 0), 10000, "the preview");
  await host.page.selectOption("#resolution", "360");
  await host.page.click("#start");
  await waitFor(async () => (await daemon.room(ROOM)).live, 20000, "the room to go live");

  const invited = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3");
  const nurse = await browser({ label: "nurse" });
  await nurse.page.goto(`${daemon.base}/watch/${ROOM}#token=${invited.token}`);
  await waitFor(async () => (await frames(nurse.page)) > 30, 30000, "the nurse to decode frames");
  await waitFor(async () => (await layerNote(nurse.page)).text === "Fullt bilde", 10000, "the full picture named");
  check(await nurse.page.inputValue("#quality-choice") === "auto", "automatic by default");
  const problems = await checkPage(nurse.page);
  check(problems.length === 0, `watch page: ${problems.join("; ")}`);

  await nurse.page.selectOption("#quality-choice", "sound-only");
  await waitFor(async () => (await layerNote(nurse.page)).text === "Bare lyd", 10000, "sound only named");
  // Frames sent before the switch may still be repaired (NACK) and
  // decoded a little later on a busy machine.
  await sleep(1500);
  const still = await decodedOver(nurse.page, 2000);
  check(still === 0, `${still} frames decoded while sound only`);
  const audio = await nurse.page.evaluate(() => document.getElementById("video").srcObject
    .getAudioTracks().map((t) => t.readyState));
  check(audio.length === 1 && audio[0] === "live", `the sound track: ${audio}`);
  await screenshot(nurse.page, "sound-only");

  // Reloaded (the same screen): the choice is kept and asked for again.
  await nurse.page.reload();
  await waitFor(async () => (await layerNote(nurse.page)).layer === "audio-only", 20000,
    "sound only again after a reload").catch(async (error) => {
    log(`after the reload: ${JSON.stringify(await nurse.page.evaluate(() => ({ layer: window.kringkastLayer,
      stored: localStorage.getItem("kringkast.quality"), select: document.getElementById("quality-choice").value })))}`);
    throw error;
  });
  check(await nurse.page.inputValue("#quality-choice") === "sound-only", "the choice kept");
  // The choice came with the offer: the relay never sent this connection
  // the picture (no fast start of the full layer, then a switch).
  await waitFor(async () => (await nurse.page.evaluate(() => window.kringkastStats?.packetsReceived || 0)) > 100,
    10000, "the sound after the reload");
  const reloaded = await layerNote(nurse.page);
  check(reloaded.switches === 0, `layer switches since the reload: ${reloaded.switches}`);
  check(await frames(nurse.page) === 0, `${await frames(nurse.page)} frames decoded since the reload`);

  await nurse.page.selectOption("#quality-choice", "auto");
  await waitFor(async () => (await layerNote(nurse.page)).layer === "full", 15000, "the full picture back");
  await waitFor(async () => (await decodedOver(nurse.page, 1000)) >= 5, 15000, "frames again");
  log(`after the choices: ${JSON.stringify(await layerNote(nurse.page))}`);
  await screenshot(nurse.page, "full-again");
  // "Save data": the room makes its light layer and the screen gets it.
  await nurse.page.selectOption("#quality-choice", "save-data");
  await waitFor(async () => (await layerNote(nurse.page)).text === "Redusert bilde", 20000,
    "the reduced picture named");
  await waitFor(async () => (await frames(nurse.page)) > 0 && (await decodedOver(nurse.page, 1000)) >= 5, 15000,
    "frames of the reduced picture");
  await screenshot(nurse.page, "reduced");
  // Next time, back on automatic, the screen starts where it was: on the
  // light layer (an automatic viewer on a good link would otherwise get
  // the full picture), and moves up only once its link has proved able.
  await nurse.page.evaluate(() => localStorage.setItem("kringkast.quality", "auto"));
  await nurse.page.reload();
  check(await nurse.page.inputValue("#quality-choice") === "auto", "automatic again");
  await waitFor(async () => (await layerNote(nurse.page)).layer === "light", 20000,
    "the reduced picture at the start");

  const metrics = await (await fetch(`${daemon.base}/metrics`)).text();
  check(/kringkast_layer_switches_total [1-9]/.test(metrics), "switches in /metrics");
  check(/kringkast_viewers_by_layer\{layer="light"\} 1/.test(metrics), `viewers by layer:\n${metrics.split("\n").filter((l) => /by_layer/.test(l)).join("\n")}`);

  const h264 = await daemon.createRoom("h264", "Håndhygiene");
  const publisher = spawn("/usr/bin/python3", [path.join(HERE, "..", "peers", "whip_gst.py"),
    "--url", `${daemon.base}/whip/h264`, `--token=${h264.host_token}`, "--codec", "h264",
    "--width", "320", "--height", "240", "--duration", "0"],
  { stdio: ["ignore", "ignore", fs.openSync(path.join(workdir, "whip_gst.log"), "a")] });
  try {
    await waitFor(async () => (await daemon.room("h264"))?.live, 20000, "the H.264 lecture live");
    const ola = await daemon.join("h264", "Ola Nordmann", "Sengepost 5");
    const viewer = await browser({ label: "h264" });
    await viewer.page.goto(`${daemon.base}/watch/h264#token=${ola.token}`);
    const size = () => viewer.page.evaluate(() => `${window.kringkastStats?.width}x${window.kringkastStats?.height}`);
    const pictures = async (wanted, what) => {
      await waitFor(async () => (await size()) === wanted, 20000, what).catch(async (error) => {
        log(`H.264 viewer: ${await size()}, ${JSON.stringify(await layerNote(viewer.page))}`);
        throw error;
      });
      await waitFor(async () => (await decodedOver(viewer.page, 1000)) >= 5, 10000, `frames of ${what}`);
    };
    await pictures("320x240", "the host's H.264 picture");
    await viewer.page.selectOption("#quality-choice", "save-data");
    await pictures("640x360", "the light layer's H.264 picture");
    await screenshot(viewer.page, "h264-reduced");
    await viewer.page.selectOption("#quality-choice", "auto");
    await pictures("320x240", "the host's H.264 picture again");
    log(`H.264 viewer: ${JSON.stringify(await layerNote(viewer.page))}`);
  } finally {
    publisher.kill("SIGTERM");
  }
});
