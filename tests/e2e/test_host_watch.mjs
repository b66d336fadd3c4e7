// SPDX-License-Identifier: Apache-2.0
// The host's page publishes over WHIP from Chromium's fake camera, and
// nurses' pages play it: one from an invitation link opened before the
// lecture starts (it waits, then starts by itself), one through the open
// form (in English). Both decode frames, and the host's page counts the
// people and workplaces watching (a colleague checking in from a phone
// included). The host reveals the attendance code, the nurse gives it,
// and her attendance row says so. Loopback is then cut for eight seconds
// and both the host and the viewer must carry on by themselves; leaving
// sends the WHEP DELETE; stopping ends the broadcast.
import { run, check, waitFor, log, sleep, setNetwork, checkPage } from "./lib.mjs";

// What the host's page shows in the audience card.
async function audience(page) {
  return page.evaluate(() => ({ people: document.getElementById("people").textContent,
    workplaces: document.getElementById("workplaces").textContent, screens: document.getElementById("viewers").textContent }));
}

async function waitAudience(page, want, what) {
  await waitFor(async () => {
    const have = await audience(page);
    return Object.entries(want).every(([key, value]) => have[key] === value);
  }, 15000, what).catch(async (error) => {
    log(`the host's audience: ${JSON.stringify(await audience(page))}`);
    throw error;
  });
}

const ROOM = "kurs1";

async function frames(page) {
  return page.evaluate(() => {
    const video = document.getElementById("video");
    const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    return { decoded: window.kringkastStats?.framesDecoded || 0, shown: quality ? quality.totalVideoFrames : 0,
      width: video.videoWidth, height: video.videoHeight };
  });
}

// True when frames are being decoded now: the count grows over a second.
// (Counts start again from zero on a new connection.)
async function flowing(page) {
  const a = (await frames(page)).decoded;
  await sleep(1000);
  return (await frames(page)).decoded >= a + 5;
}

await run("host-watch", async ({ daemon, browser, screenshot }) => {
  const room = await daemon.createRoom(ROOM, "Legemiddelhåndtering", true);
  const invited = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3");

  // A nurse opens her invitation before the host has started, in a
  // browser that wants a click before it plays sound. Headless Chromium
  // lets WebRTC streams play with sound regardless of its autoplay flag,
  // so the policy Safari and Firefox apply is put in place here: play()
  // with sound is refused until the page has had a click (counted here:
  // Playwright's screenshots set navigator.userActivation).
  const nurse = await browser({ label: "nurse" });
  await nurse.context.addInitScript(() => {
    const play = HTMLMediaElement.prototype.play;
    let clicked = false;
    window.addEventListener("click", () => { clicked = true; }, true);
    HTMLMediaElement.prototype.play = function () {
      if (!this.muted && !clicked) {
        return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError"));
      }
      return play.call(this);
    };
  });
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
  const hostProblems = await checkPage(host.page);
  check(hostProblems.length === 0, `host page: ${hostProblems.join("; ")}`);
  check(await host.page.locator("#code-card").isHidden(), "no attendance code before the broadcast");
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
  await waitFor(async () => (await frames(nurse.page)).decoded > 30, 30000, "the invited nurse to decode frames")
    .catch(async (error) => {
      log(`the nurse's page: ${await nurse.page.locator("#overlay-text").textContent()} ${JSON.stringify(await frames(nurse.page))}`);
      throw error;
    });
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
  // Sound needs one click here, and the page says so.
  await waitFor(() => nurse.page.locator("#sound-note").textContent().then((s) => /trenger ett klikk/.test(s)), 5000,
    "the sound prompt");
  check(await nurse.page.locator("#overlay-sound").isVisible(), "the sound button on the picture");
  await screenshot(nurse.page, "watch-invited");
  // One screen, one person, one workplace.
  await waitAudience(host.page, { people: "1", workplaces: "1", screens: "1" }, "the host to see 1 person at 1 workplace");
  await nurse.page.click("#overlay-sound");
  await waitFor(() => nurse.page.evaluate(() => !document.getElementById("video").muted && !document.getElementById("video").paused),
    5000, "sound after the click");
  check(await nurse.page.locator("#sound-note").textContent() === "Lyden er på", "the sound note after the click");
  check(await nurse.page.locator("#overlay").isHidden(), "the prompt goes away");

  // A small laptop and a meeting-room TV: the whole picture and the
  // controls fit the window; every control is labelled.
  for (const [label, width, height] of [["laptop", 1366, 768], ["tv", 1920, 1080], ["phone", 390, 844]]) {
    await nurse.page.setViewportSize({ width, height });
    await sleep(300);
    const problems = await checkPage(nurse.page);
    check(problems.length === 0, `${label}: ${problems.join("; ")}`);
    const leave = await nurse.page.locator("#leave").boundingBox();
    check(leave && leave.y + leave.height <= height, `${label}: the controls are below the fold (${JSON.stringify(leave)})`);
    await screenshot(nurse.page, `watch-${label}`);
  }
  await nurse.page.setViewportSize({ width: 1280, height: 800 });
  await nurse.page.click("#fullscreen");
  await waitFor(() => nurse.page.evaluate(() => document.fullscreenElement?.id === "stage"), 5000, "full screen");
  await nurse.page.keyboard.press("Escape");
  await nurse.page.evaluate(() => document.fullscreenElement && document.exitFullscreen());

  // A second nurse comes through the open form, with an English browser.
  const other = await browser({ label: "form", locale: "en-GB", viewport: { width: 1024, height: 640 } });
  await other.page.goto(`${daemon.base}/watch/${ROOM}`);
  check(await other.page.locator("#join h2").textContent() === "Join the lecture", "English form");
  await other.page.fill("#name", "Ola Hansen");
  await other.page.fill("#workplace", "Legevakt");
  await other.page.fill("#colleagues", "Per Olsen\nAnne Berg");
  const formProblems = await checkPage(other.page);
  check(formProblems.length === 0, `form: ${formProblems.join("; ")}`);
  await screenshot(other.page, "watch-form");
  await other.page.click("#join-submit");
  await waitFor(async () => (await frames(other.page)).decoded > 30, 30000, "the form nurse to decode frames");
  await screenshot(other.page, "watch-form-playing");

  await waitFor(() => host.page.locator("#viewers").textContent().then((s) => s === "2"), 10000,
    "the host to see two viewers");
  // Ola and his two colleagues at the Legevakt's screen.
  await waitAudience(host.page, { people: "4", workplaces: "2" }, "the host to see 4 people at 2 workplaces");
  await screenshot(host.page, "host-live");
  for (const [label, width, height] of [["laptop", 1366, 768], ["tv", 1920, 1080]]) {
    await host.page.setViewportSize({ width, height });
    await sleep(300);
    const problems = await checkPage(host.page);
    check(problems.length === 0, `host page (${label}): ${problems.join("; ")}`);
    const stop = await host.page.locator("#stop").boundingBox();
    check(stop && stop.y + stop.height <= height, `${label}: the stop button is below the fold (${JSON.stringify(stop)})`);
    await screenshot(host.page, `host-live-${label}`);
  }
  await host.page.setViewportSize({ width: 1280, height: 800 });

  // A colleague at Kari's screen checks in from a phone with the code
  // (and QR) the screen shows, where the relay has check-in codes.
  const checkinApi = await daemon.api("GET", `/api/rooms/${ROOM}/checkin-code`, undefined, invited.token);
  if (checkinApi.status === 200) {
    await nurse.page.locator("#checkin-code").waitFor({ state: "visible", timeout: 10000 });
    const code = await nurse.page.locator("#checkin-code").textContent();
    check(await nurse.page.evaluate(() => document.getElementById("checkin-qr").naturalWidth > 0), "the check-in QR code");
    await screenshot(nurse.page, "watch-checkin");
    const phone = await browser({ label: "phone", viewport: { width: 390, height: 844 } });
    await phone.page.goto(`${daemon.base}/checkin/${ROOM}?code=${encodeURIComponent(code)}`);
    await phone.page.fill("#name", "Per Olsen");
    await phone.page.fill("#workplace", "Sengepost 3");
    await phone.page.click("#submit");
    await phone.page.locator("#done").waitFor({ state: "visible", timeout: 10000 });
    await screenshot(phone.page, "checkin-done");
    await phone.context.close();
    // Per joins Kari's screen: one person more, the same workplace.
    await waitAudience(host.page, { people: "5", workplaces: "2" }, "the host to count the colleague who checked in");
  } else {
    log(`no check-in codes in this relay (HTTP ${checkinApi.status})`);
  }

  // The host reveals the attendance code (the card shows while live);
  // the nurse types it in, with the keyboard.
  await host.page.locator("#code-card").waitFor({ state: "visible", timeout: 10000 });
  const codeSession = (await daemon.room(ROOM)).session_id;
  await host.page.focus("#reveal");
  await host.page.keyboard.press("Enter");
  await host.page.locator("#code").waitFor({ state: "visible", timeout: 5000 });
  check(await host.page.locator("#reveal").getAttribute("aria-expanded") === "true", "the reveal button says the code is shown");
  const code = await host.page.locator("#code").textContent();
  check(/^[A-Z0-9]{4,8}$/.test(code), `the attendance code ${code}`);
  const again = await daemon.api("GET", `/api/rooms/${ROOM}/attendance-code`, undefined, room.host_token);
  check(again.data?.code === code, `the relay's code ${JSON.stringify(again.data)}`);
  await screenshot(host.page, "host-code");
  await nurse.page.locator("#code-form").waitFor({ state: "visible", timeout: 10000 });
  await nurse.page.fill("#code-input", code.toLowerCase());
  await nurse.page.press("#code-input", "Enter");
  await waitFor(() => nurse.page.locator("#code-result").textContent().then((s) => /registrert/.test(s)), 5000,
    "the code to be accepted");

  // Pausing and resuming the recording, where the relay records.
  const recording = await daemon.api("GET", `/api/rooms/${ROOM}/recording`);
  if (recording.status === 200) {
    await waitFor(async () => (await daemon.api("GET", `/api/rooms/${ROOM}/recording`)).data.recording, 10000,
      "the recording to start");
    await host.page.locator("#recording").waitFor({ state: "visible" });
    await host.page.click("#recording");
    await waitFor(async () => (await daemon.api("GET", `/api/rooms/${ROOM}/recording`)).data.paused === true, 5000,
      "the recording to pause");
    // The page says so when its own request's answer arrives, which may
    // be after the relay already reports the pause.
    await waitFor(() => host.page.locator("#recording-state").textContent()
      .then((s) => s === "Opptaket er satt på pause."), 5000, "the paused state");
    await screenshot(host.page, "host-recording-paused");
    await host.page.click("#recording");
    await waitFor(async () => (await daemon.api("GET", `/api/rooms/${ROOM}/recording`)).data.paused === false, 5000,
      "the recording to resume");
  } else {
    log(`no recording control in this relay (HTTP ${recording.status})`);
    check(await host.page.locator("#recording-card").isHidden(), "the recording card stays hidden");
  }

  // Network drop: loopback goes down for 8 s.
  const before = await frames(nurse.page);
  const hostBefore = await host.page.evaluate(() => window.kringkastHostStats.bytesSent);
  if (setNetwork(false)) {
    await sleep(7000);
    await screenshot(host.page, "host-network-lost");
    await screenshot(nurse.page, "watch-network-lost");
    await sleep(1000);
    setNetwork(true);
    const t0 = Date.now();
    await waitFor(() => flowing(nurse.page), 45000, "the invited nurse to play again after the network drop");
    log(`viewer back ${((Date.now() - t0) / 1000).toFixed(1)} s after the network returned`);
    await waitFor(() => flowing(other.page), 30000, "the form nurse to play again");
    await waitFor(() => host.page.evaluate((b) => window.kringkastHostStats?.bytesSent > b + 50000
      || (window.kringkastHostStats?.bytesSent > 50000 && window.kringkastHostStats?.bitrate > 0), hostBefore),
      30000, "the host to send again");
    check((await daemon.room(ROOM)).live, "the room is live after the drop");
    await screenshot(nurse.page, "watch-after-drop");
    check(!(await host.page.locator("#message").isVisible())
      || /fortsetter/.test(await host.page.locator("#message").textContent()), "the host's banner after the drop");
  } else {
    log("not in a network namespace of our own: the network drop is left out");
  }

  // Leaving sends the WHEP DELETE: the relay counts one viewer less.
  await other.page.click("#leave");
  await waitFor(async () => (await daemon.room(ROOM)).viewers === 1, 10000, "one viewer after leaving");
  check(await other.page.locator("#rejoin").isVisible(), "the watch-again button");

  // The relay itself goes away and comes back (same ports, same data):
  // the host's page says it cannot reach it, and both pages resume.
  check(await daemon.stop() === 0, "the daemon's exit status");
  await waitFor(() => host.page.locator("#message").textContent().then((s) => /kontakt|ustabilt|brutt/.test(s)), 20000,
    "the host's page to report the relay's failure");
  await screenshot(host.page, "host-relay-down");
  await daemon.start();
  const t1 = Date.now();
  await waitFor(async () => (await daemon.room(ROOM)).live, 40000, "the host to publish again after the relay restart");
  log(`host back ${((Date.now() - t1) / 1000).toFixed(1)} s after the relay restarted`);
  await waitFor(() => flowing(nurse.page), 40000, "the nurse to play again after the relay restart");
  log(`host and nurse back ${((Date.now() - t1) / 1000).toFixed(1)} s after the relay restarted`);

  // The host ends the broadcast; the nurse's page says so.
  await host.page.click("#stop");
  await waitFor(async () => !(await daemon.room(ROOM)).live, 10000, "the room to go off air");
  await waitFor(() => nurse.page.locator("#overlay-text").textContent().then((s) => /avsluttet/.test(s)), 15000,
    "the nurse's page to say the broadcast ended");
  await screenshot(host.page, "host-stopped");

  // The attendance of the session the code was given in says so.
  const rows = (await daemon.api("GET", `/api/sessions/${codeSession}/attendance`)).data;
  const kari = Array.isArray(rows) ? rows.find((r) => r.name === "Kari Nordmann") : null;
  check(kari?.code_given === true, `Kari's attendance row: ${JSON.stringify(kari)}`);
  log(`Kari's row: code_given ${kari.code_given}, ${kari.attended_seconds} s`);

  const qr = await fetch(`${daemon.base}/qr.svg?data=${encodeURIComponent("https://example.invalid/x")}`);
  check(qr.status === 200 && qr.headers.get("content-type") === "image/svg+xml", `qr.svg: ${qr.status}`);
  const tooLong = await fetch(`${daemon.base}/qr.svg?data=${"x".repeat(600)}`);
  check(tooLong.status === 400, `an over-long QR text: ${tooLong.status}`);
  await sleep(100);
});
