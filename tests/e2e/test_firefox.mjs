// SPDX-License-Identifier: Apache-2.0
// The pages in Firefox (Debian's firefox-esr, driven over WebDriver BiDi).
// The host's page publishes from Firefox's fake camera and microphone. A
// nurse's page in Firefox, opened from an invitation link before the
// lecture, waits and starts by itself; another comes through the open
// form (in English); a Chromium page watches the same broadcast. Firefox's
// own autoplay policy holds the sound back until a click, and the page
// says so. Loopback is then cut for eight seconds and the host's page and
// both Firefox viewers must carry on by themselves; leaving sends the WHEP
// DELETE; stopping ends the broadcast.
import fs from "node:fs";
import { run, check, waitFor, log, sleep, setNetwork, inOwnNetns, checkPage, routeDefaultToLoopback, FIREFOX, SKIP }
  from "./lib.mjs";

const ROOM = "ffx";

if (!fs.existsSync(FIREFOX)) {
  log(`skip: no ${FIREFOX}`);
  process.exit(SKIP);
}
if (!routeDefaultToLoopback()) {
  log("skip: Firefox finds a loopback ICE address only in a network namespace of the test's own (netns-run)");
  process.exit(SKIP);
}

// What the tests watch in a page, set up before its scripts run: the
// frames the video element presents (Firefox counts none of a WebRTC
// stream in getVideoPlaybackQuality, so requestVideoFrameCallback counts
// them), every text of the picture's overlay, and the page's fetches.
function instrument() {
  window.kkSeen = { presented: 0, last: 0, longestGap: 0, overlay: [], fetches: [] };
  const fetch = window.fetch;
  window.fetch = async (resource, init) => {
    const entry = { method: init?.method || "GET", url: String(resource), status: 0 };
    window.kkSeen.fetches.push(entry);
    const response = await fetch(resource, init);
    entry.status = response.status;
    return response;
  };
  document.addEventListener("DOMContentLoaded", () => {
    const video = document.getElementById("video");
    const overlay = document.getElementById("overlay-text");
    if (!video || !overlay) return;
    const count = () => {
      const seen = window.kkSeen;
      const now = performance.now();
      if (seen.last) seen.longestGap = Math.max(seen.longestGap, now - seen.last);
      seen.last = now;
      seen.presented += 1;
      video.requestVideoFrameCallback(count);
    };
    video.requestVideoFrameCallback(count);
    new MutationObserver(() => window.kkSeen.overlay.push(overlay.textContent))
      .observe(overlay, { childList: true, characterData: true, subtree: true });
  });
}

async function frames(page) {
  return page.evaluate(() => {
    const video = document.getElementById("video");
    return { decoded: window.kringkastStats?.framesDecoded || 0, presented: window.kkSeen?.presented || 0,
      quality: video.getVideoPlaybackQuality().totalVideoFrames, width: video.videoWidth, height: video.videoHeight };
  });
}

// True when frames are decoded and presented now: both counts grow over
// the page's stats interval, 2 s (the decoded count starts again from zero
// on a new connection).
async function flowing(page) {
  const a = await frames(page);
  await sleep(2100);
  const b = await frames(page);
  return b.decoded > a.decoded && b.presented >= a.presented + 10;
}

await run("firefox", async ({ daemon, browser, firefox, screenshot }) => {
  const room = await daemon.createRoom(ROOM, "Smittevern");
  const invited = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3");
  const colleague = await daemon.join(ROOM, "Per Olsen", "Sengepost 4");
  // Chromium starts meanwhile (it is the slowest to start).
  const chromeStarting = browser({ label: "chromium" });
  chromeStarting.catch(() => {});

  // The nurse opens her invitation before the host has started.
  const nurse = await firefox({ label: "nurse" });
  await nurse.context.addInitScript(instrument);
  await nurse.page.goto(`${daemon.base}/watch/${ROOM}#token=${invited.token}`);
  await waitFor(() => nurse.page.locator("#overlay-text").textContent().then((s) => /ikke startet/.test(s)), 15000,
    "the waiting message");
  check(!nurse.page.url().includes("token="), "the token stays in the address bar");
  await screenshot(nurse.page, "watch-waiting");

  // The host publishes from Firefox, in the small picture.
  const host = await firefox({ label: "host" });
  await host.page.bringToFront();
  await host.page.goto(`${daemon.base}/host/${ROOM}#token=${room.host_token}`);
  await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoWidth > 0), 15000, "the preview");
  // Firefox lists devices to a page with the focus only.
  await waitFor(async () => await host.page.locator("#camera option").count() >= 1
    && await host.page.locator("#microphone option").count() >= 1, 10000, "the camera and microphone lists");
  await host.page.selectOption("#resolution", "360");
  await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoHeight === 360), 10000,
    "the 360p preview");
  await screenshot(host.page, "host-ready");
  await host.page.click("#start");
  await waitFor(async () => (await daemon.room(ROOM)).live, 20000, "the room to go live");
  const sent = await waitFor(() => host.page.evaluate(() => {
    const s = window.kringkastHostStats;
    return s && s.bitrate > 0 && s.width > 0 ? s : null;
  }), 15000, "outgoing video in the host's stats");
  log(`Firefox sends ${sent.width}x${sent.height} ${sent.codec} at ${Math.round(sent.bitrate / 1000)} kbit/s`);
  await host.page.evaluate(() => { window.kkFirstPc = client.pc; });
  check(await host.page.locator("#onair").textContent() === "På lufta", "the on-air badge");
  check(/kbit|Mbit/.test(await host.page.locator("#bitrate").textContent()), "the host sees the bit rate");

  // The waiting nurse's page starts by itself, without sound until a click.
  await waitFor(async () => { const f = await frames(nurse.page); return f.presented > 30 && f.decoded > 30; }, 30000,
    "the invited nurse to see frames")
    .catch(async (error) => {
      log(`the nurse's page: ${await nurse.page.locator("#overlay-text").textContent()} ${JSON.stringify(await frames(nurse.page))}`);
      throw error;
    });
  const first = await frames(nurse.page);
  log(`invited nurse in Firefox: ${JSON.stringify(first)}`);
  check(first.decoded > 0 && first.width > 0 && Math.abs(first.width / first.height - 16 / 9) < 0.05,
    `picture: ${JSON.stringify(first)}`);
  await waitFor(() => nurse.page.locator("#quality").textContent().then((s) => /forbindelse · \d+×\d+/.test(s)), 5000,
    "the quality line");
  await waitFor(() => nurse.page.locator("#sound-note").textContent().then((s) => /trenger ett klikk/.test(s)), 5000,
    "the sound prompt");
  check(await nurse.page.evaluate(() => document.getElementById("video").muted), "muted until the click");
  check(await nurse.page.locator("#overlay-sound").isVisible(), "the sound button on the picture");
  const problems = await checkPage(nurse.page);
  check(problems.length === 0, `watch page: ${problems.join("; ")}`);
  await screenshot(nurse.page, "watch-invited");
  await nurse.page.click("#overlay-sound");
  await waitFor(() => nurse.page.evaluate(() => !document.getElementById("video").muted && !document.getElementById("video").paused),
    5000, "sound after the click");
  check(await nurse.page.locator("#sound-note").textContent() === "Lyden er på", "the sound note after the click");
  check(await nurse.page.locator("#overlay").isHidden(), "the prompt goes away");
  // Firefox grants full screen to the window with the focus only.
  await nurse.page.bringToFront();
  await nurse.page.click("#fullscreen");
  await waitFor(() => nurse.page.evaluate(() => document.fullscreenElement?.id === "stage"), 5000, "full screen");
  await nurse.page.evaluate(() => document.exitFullscreen());
  await waitFor(() => nurse.page.evaluate(() => !document.fullscreenElement), 5000, "the window again");

  // A second nurse comes through the open form, with an English Firefox.
  const other = await firefox({ label: "form", locale: "en-GB", viewport: { width: 1024, height: 640 } });
  await other.context.addInitScript(instrument);
  await other.page.goto(`${daemon.base}/watch/${ROOM}`);
  check(await other.page.locator("#join h2").textContent() === "Join the lecture", "English form");
  await other.page.fill("#name", "Ola Hansen");
  await other.page.fill("#workplace", "Legevakt");
  await other.page.click("#join-submit");
  await waitFor(async () => { const f = await frames(other.page); return f.presented > 30 && f.decoded > 30; }, 30000,
    "the form nurse to see frames");
  const formProblems = await checkPage(other.page);
  check(formProblems.length === 0, `the English watch page: ${formProblems.join("; ")}`);
  await screenshot(other.page, "watch-form-playing");

  // Chromium plays what Firefox sends.
  const chrome = await chromeStarting;
  await chrome.page.goto(`${daemon.base}/watch/${ROOM}#token=${colleague.token}`);
  await waitFor(() => chrome.page.evaluate(() => (window.kringkastStats?.framesDecoded || 0) > 30
    && document.getElementById("video").getVideoPlaybackQuality().totalVideoFrames > 0), 30000,
  "Chromium to decode Firefox's broadcast");
  await screenshot(chrome.page, "chromium-watch");
  await waitFor(() => host.page.locator("#viewers").textContent().then((s) => s === "3"), 10000,
    "the host to see three viewers");

  // While the network is fine the host's first connection stays: the
  // page hears the relay's feedback in Firefox's stats too.
  await waitFor(() => host.page.evaluate(() => performance.now() - onAirSince > 12000), 20000, "12 s on air");
  check(await host.page.evaluate(() => client?.pc === window.kkFirstPc), "the host's connection was replaced on a sound network");
  check(await host.page.locator("#message").isHidden(), `the host's banner: ${await host.page.locator("#message").textContent()}`);
  await screenshot(host.page, "host-live");

  // Network drop: loopback goes down for 8 s. Playwright reaches Firefox
  // over loopback TCP too, so the pages are left alone meanwhile, and TCP's
  // backoff between retransmissions (which grows up to 120 s) is capped at
  // 1 s in this namespace, where the kernel has the setting, so the test
  // hears from Firefox again as soon as the network is back.
  const hostBefore = await host.page.evaluate(() => window.kringkastHostStats.bytesSent);
  if (inOwnNetns()) {
    try { fs.writeFileSync("/proc/sys/net/ipv4/tcp_rto_max_ms", "1000"); } catch (error) { log(`TCP backoff stays: ${error.message}`); }
  }
  if (setNetwork(false)) {
    await sleep(8000);
    setNetwork(true);
    const t0 = Date.now();
    await waitFor(() => flowing(nurse.page), 45000, "the invited nurse to play again after the network drop");
    const gap = await nurse.page.evaluate(() => window.kkSeen.longestGap);
    log(`Firefox viewer back ${((Date.now() - t0) / 1000).toFixed(1)} s after the network returned; `
      + `no picture for ${(gap / 1000).toFixed(1)} s in all`);
    const seen = await nurse.page.evaluate(() => window.kkSeen.overlay);
    check(seen.some((s) => /Forbindelsen ble brutt/.test(s)), `the nurse's page said the connection broke: ${JSON.stringify(seen)}`);
    await waitFor(() => flowing(other.page), 30000, "the form nurse to play again");
    await waitFor(() => host.page.evaluate((b) => window.kringkastHostStats?.bytesSent > b + 50000
      || (window.kringkastHostStats?.bytesSent > 50000 && window.kringkastHostStats?.bitrate > 0), hostBefore),
    30000, "the host to send again");
    check((await daemon.room(ROOM)).live, "the room is live after the drop");
    await waitFor(async () => !(await host.page.locator("#message").isVisible())
      || /fortsetter/.test(await host.page.locator("#message").textContent()), 10000, "the host's banner after the drop");
    await screenshot(nurse.page, "watch-after-drop");
    await screenshot(host.page, "host-after-drop");
  } else {
    log("not in a network namespace of our own: the network drop is left out");
  }

  // Leaving sends the WHEP DELETE, and the relay counts one viewer less.
  await other.page.click("#leave");
  await waitFor(async () => (await daemon.room(ROOM)).viewers === 2, 10000, "two viewers after leaving");
  const deleted = await waitFor(() => other.page.evaluate(() => window.kkSeen.fetches
    .find((f) => f.method === "DELETE" && /\/whep\//.test(f.url) && f.status > 0)), 5000, "the WHEP DELETE");
  check(deleted.status >= 200 && deleted.status < 300, `the WHEP DELETE: HTTP ${deleted.status}`);
  check(await other.page.locator("#rejoin").isVisible(), "the watch-again button");

  // The host ends the broadcast; the nurse's page says so.
  await host.page.click("#stop");
  await waitFor(async () => !(await daemon.room(ROOM)).live, 10000, "the room to go off air");
  await waitFor(() => nurse.page.locator("#overlay-text").textContent().then((s) => /avsluttet/.test(s)), 15000,
    "the nurse's page to say the broadcast ended");
  await screenshot(nurse.page, "watch-ended");
});
