// SPDX-License-Identifier: Apache-2.0
// The host's page publishes over WHIP from Chromium's fake camera, and
// nurses' pages play it: one from an invitation link opened before the
// lecture starts (it waits, then starts by itself), one through the open
// form (in English). Both decode frames; loopback is then cut for eight
// seconds and both the host and the viewer must carry on by themselves;
// leaving sends the WHEP DELETE; stopping ends the broadcast.
import { run, check, waitFor, log, sleep, dropNetwork } from "./lib.mjs";

const ROOM = "kurs1";

async function frames(page) {
  return page.evaluate(() => {
    const video = document.getElementById("video");
    const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    return { decoded: window.kringkastStats?.framesDecoded || 0, shown: quality ? quality.totalVideoFrames : 0,
      width: video.videoWidth, height: video.videoHeight };
  });
}

await run("host-watch", async ({ daemon, browser, screenshot }) => {
  const room = await daemon.createRoom(ROOM, "Legemiddelhåndtering");
  const invited = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3");

  // A nurse opens her invitation before the host has started.
  const nurse = await browser({ label: "nurse" });
  await nurse.page.goto(`${daemon.base}/watch/${ROOM}#token=${invited.token}`);
  await waitFor(() => nurse.page.locator("#overlay-text").textContent().then((s) => /ikke startet/.test(s)), 10000,
    "the waiting message");
  check(!(await nurse.page.url()).includes("token="), "the token stays in the address bar");
  await screenshot(nurse.page, "watch-waiting");

  // The host picks the small picture and goes live.
  const host = await browser({ label: "host" });
  await host.page.goto(`${daemon.base}/host/${ROOM}#token=${room.host_token}`);
  await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoWidth > 0), 10000, "the preview");
  const cameras = await host.page.locator("#camera option").count();
  check(cameras >= 1, "no camera listed");
  await host.page.selectOption("#resolution", "360");
  await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoHeight === 360), 10000,
    "the 360p preview");
  await waitFor(() => host.page.evaluate(() => document.getElementById("invite-qr").naturalWidth > 0), 5000,
    "the QR code of the open link");
  await screenshot(host.page, "host-ready");
  await host.page.click("#start");
  await waitFor(async () => (await daemon.room(ROOM)).live, 20000, "the room to go live");
  const sent = await waitFor(() => host.page.evaluate(() => {
    const s = window.kringkastHostStats;
    return s && s.bitrate > 0 && s.width > 0 ? s : null;
  }), 15000, "outgoing video in the host's stats");
  log(`host sends ${sent.width}x${sent.height} ${sent.codec} at ${Math.round(sent.bitrate / 1000)} kbit/s`);
  check(await host.page.locator("#onair").textContent() === "På lufta", "the on-air badge");
  check(/kbit|Mbit/.test(await host.page.locator("#bitrate").textContent()), "the host sees the bit rate");

  // The waiting nurse's page starts by itself.
  await waitFor(async () => (await frames(nurse.page)).decoded > 30, 30000, "the invited nurse to decode frames");
  const first = await frames(nurse.page);
  log(`invited nurse: ${JSON.stringify(first)}`);
  // The browser's encoder starts small and grows with the bandwidth
  // estimate; the aspect ratio is the camera's.
  check(first.width > 0 && Math.abs(first.width / first.height - 16 / 9) < 0.05, `picture size ${first.width}x${first.height}`);
  check(first.shown > 0, "getVideoPlaybackQuality counts frames");
  check(await nurse.page.locator("#overlay-text").textContent() !== "" || await nurse.page.locator("#overlay").isHidden(),
    "overlay state");
  await waitFor(() => nurse.page.locator("#quality").textContent().then((s) => /forbindelse · \d+×\d+/.test(s)), 5000,
    "the quality line");
  await screenshot(nurse.page, "watch-invited");

  // A second nurse comes through the open form, with an English browser.
  const other = await browser({ label: "form", locale: "en-GB", viewport: { width: 1024, height: 640 } });
  await other.page.goto(`${daemon.base}/watch/${ROOM}`);
  check(await other.page.locator("#join h2").textContent() === "Join the lecture", "English form");
  await other.page.fill("#name", "Ola Hansen");
  await other.page.fill("#workplace", "Legevakt");
  await other.page.fill("#colleagues", "Per Olsen\nAnne Berg");
  await screenshot(other.page, "watch-form");
  await other.page.click("#join-submit");
  await waitFor(async () => (await frames(other.page)).decoded > 30, 30000, "the form nurse to decode frames");
  await screenshot(other.page, "watch-form-playing");

  await waitFor(() => host.page.locator("#viewers").textContent().then((s) => s === "2"), 10000,
    "the host to see two viewers");
  await screenshot(host.page, "host-live");

  // Network drop: loopback goes down for 8 s.
  const before = await frames(nurse.page);
  const hostBefore = await host.page.evaluate(() => window.kringkastHostStats.bytesSent);
  const dropped = await dropNetwork(8000);
  if (dropped) {
    const t0 = Date.now();
    await waitFor(async () => (await frames(nurse.page)).decoded > before.decoded + 60, 45000,
      "the invited nurse to play again after the network drop");
    log(`viewer back ${((Date.now() - t0) / 1000).toFixed(1)} s after the network returned`);
    await waitFor(async () => (await frames(other.page)).decoded > 0, 30000, "the form nurse to play again");
    await waitFor(() => host.page.evaluate((b) => window.kringkastHostStats?.bytesSent > b + 50000
      || (window.kringkastHostStats?.bytesSent > 50000 && window.kringkastHostStats?.bitrate > 0), hostBefore),
      30000, "the host to send again");
    check((await daemon.room(ROOM)).live, "the room is live after the drop");
    await screenshot(nurse.page, "watch-after-drop");
  } else {
    log("not in a network namespace of our own: the network drop is left out");
  }

  // Leaving sends the WHEP DELETE: the relay counts one viewer less.
  await other.page.click("#leave");
  await waitFor(async () => (await daemon.room(ROOM)).viewers === 1, 10000, "one viewer after leaving");
  check(await other.page.locator("#rejoin").isVisible(), "the watch-again button");

  // The host ends the broadcast; the nurse's page says so.
  await host.page.click("#stop");
  await waitFor(async () => !(await daemon.room(ROOM)).live, 10000, "the room to go off air");
  await waitFor(() => nurse.page.locator("#overlay-text").textContent().then((s) => /avsluttet/.test(s)), 15000,
    "the nurse's page to say the broadcast ended");
  await screenshot(host.page, "host-stopped");

  const qr = await fetch(`${daemon.base}/qr.svg?data=${encodeURIComponent("https://example.invalid/x")}`);
  check(qr.status === 200 && qr.headers.get("content-type") === "image/svg+xml", `qr.svg: ${qr.status}`);
  const tooLong = await fetch(`${daemon.base}/qr.svg?data=${"x".repeat(600)}`);
  check(tooLong.status === 400, `an over-long QR text: ${tooLong.status}`);
  await sleep(100);
});
