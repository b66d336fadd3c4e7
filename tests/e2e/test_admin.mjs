// SPDX-License-Identifier: Apache-2.0
// The coordinator's page: sign in, create a course, copy its links, import
// participants as personal links; the host link and an invitation link
// from the page are then used by a host and a nurse in their own browsers,
// and the page shows the live broadcast with its viewer count, then the
// past session, its recording (played in the page) and its attendance
// (downloaded as CSV). Recording and attendance come from their own
// modules: where the relay does not offer them yet, the test checks that
// the page says so instead, and logs it.
import fs from "node:fs";
import { run, check, waitFor, log, checkPage, ADMIN_TOKEN } from "./lib.mjs";

const ROOM = "smittevern";

await run("admin", async ({ daemon, browser, screenshot }) => {
  const admin = await browser({ label: "admin", viewport: { width: 1280, height: 900 } });
  const page = admin.page;
  await page.goto(`${daemon.base}/admin`);
  await page.fill("#admin-token", "wrong");
  await page.click("#signin button[type=submit]");
  await waitFor(() => page.locator("#message").textContent().then((s) => /koordinatornøkkelen/.test(s)), 5000,
    "the wrong-key message");
  await page.fill("#admin-token", ADMIN_TOKEN);
  await screenshot(page, "signin");
  await page.click("#signin button[type=submit]");
  await page.locator("#console").waitFor({ state: "visible" });

  // A new course, made in the page.
  await page.click("#create-details summary");
  await page.fill("#room-id", ROOM);
  await page.fill("#room-title", "Smittevern i praksis");
  await page.fill("#room-ratio", "75");
  await page.click("#room-submit");
  const row = page.locator(`#rooms-table tr[data-room="${ROOM}"]`);
  await row.waitFor();
  const created = await daemon.room(ROOM);
  check(created.record === true && Math.abs(created.completion_ratio - 0.75) < 1e-9,
    `the course's settings: ${JSON.stringify(created)}`);
  const hostLink = await row.locator("td:nth-child(3) input").inputValue();
  const openLink = await row.locator("td:nth-child(4) input").inputValue();
  check(hostLink === `${daemon.base}/host/${ROOM}#token=${created.host_token}`, `host link ${hostLink}`);
  check(openLink === `${daemon.base}/watch/${ROOM}`, `open link ${openLink}`);
  await row.locator("td:nth-child(3) button").click();
  check(await page.locator("#copied").textContent() !== "", "copying says so");

  // Participants imported as personal links, downloadable.
  await page.fill("#import-text", "Navn;Arbeidssted\nKari Nordmann; Sengepost 3\nOla Hansen\tLegevakt");
  await page.click("#import-submit");
  await waitFor(() => page.locator("#invites-table tbody tr").count().then((n) => n === 2), 10000, "two invitation links");
  const karisLink = await page.locator("#invites-table tbody tr:first-child input").inputValue();
  check(karisLink.startsWith(`${daemon.base}/watch/${ROOM}#token=`), `invitation link ${karisLink}`);
  const [invitesFile] = await Promise.all([page.waitForEvent("download"), page.click("#invites-download")]);
  const invitesCsv = fs.readFileSync(await invitesFile.path(), "utf8");
  check(/Kari Nordmann;Sengepost 3;http/.test(invitesCsv) && /Ola Hansen;Legevakt;/.test(invitesCsv),
    `the invitations CSV:\n${invitesCsv}`);
  // Editing: the completion rule is the attendance module's setting.
  const settingsApi = await daemon.api("GET", `/api/rooms/${ROOM}/attendance-settings`);
  if (settingsApi.status === 200) {
    await waitFor(() => page.locator("#edit-ratio").inputValue().then((v) => v === "75"), 5000, "the settings read");
    await page.fill("#edit-ratio", "70");
    await page.click("#edit-form button[type=submit]");
    await waitFor(() => page.locator("#message").textContent().then((s) => s === "Lagret."), 5000, "saving the course");
    const saved = (await daemon.api("GET", `/api/rooms/${ROOM}/attendance-settings`)).data;
    check(Math.abs(saved.completion_ratio - 0.7) < 1e-9, `the saved settings: ${JSON.stringify(saved)}`);
  } else {
    log(`no attendance settings in this relay (HTTP ${settingsApi.status})`);
  }
  await page.fill("#edit-title", "Smittevern i praksis 2");
  await page.click("#edit-form button[type=submit]");
  await waitFor(() => page.locator("#message").textContent().then((s) => /Lagret|kan ikke endre/.test(s)), 5000,
    "an answer to renaming");
  log(`renaming a course: ${await page.locator("#message").textContent()}`);
  await page.fill("#edit-title", "Smittevern i praksis");
  await screenshot(page, "rooms", { fullPage: true });

  // The links work: the host goes live, Kari watches.
  const host = await browser({ label: "host" });
  await host.page.goto(hostLink);
  await host.page.selectOption("#resolution", "360");
  await waitFor(() => host.page.evaluate(() => document.getElementById("preview").videoWidth > 0), 10000, "the preview");
  await host.page.click("#start");
  const nurse = await browser({ label: "nurse" });
  await nurse.page.goto(karisLink);
  await waitFor(() => nurse.page.evaluate(() => (window.kringkastStats?.framesDecoded || 0) > 30), 40000,
    "the invited nurse to decode frames");

  // The page shows the live session and its viewer count.
  await waitFor(() => page.locator(`#live-table tr[data-room="${ROOM}"] .viewers`).textContent().then((s) => s === "1"),
    15000, "the live session with one viewer");
  const live = await daemon.room(ROOM);
  check(await page.locator(`#live-table tr[data-room="${ROOM}"] td:nth-child(3)`).textContent() === live.session_id,
    "the live session's id");
  await screenshot(page, "live");

  await nurse.page.click("#leave");
  await host.page.click("#stop");
  await waitFor(async () => !(await daemon.room(ROOM)).live, 10000, "the broadcast to end");

  // The past session.
  const session = live.session_id;
  const sessionRow = page.locator(`#sessions-table tr[data-session="${session}"]`);
  await waitFor(() => sessionRow.locator("td:nth-child(3)").textContent().then((s) => s !== "pågår"), 15000,
    "the session to show as ended");
  const sessions = (await daemon.api("GET", `/api/sessions?room=${ROOM}`)).data;
  const entry = sessions.find((s) => s.id === session);
  check(entry && entry.ended_at, `the session in the API: ${JSON.stringify(sessions)}`);

  // The recording: a URL (or an object with one, once the file is
  // finished) where the relay records.
  const recordingUrl = (session) => typeof session.recording === "string" ? session.recording : session.recording?.url;
  const recorded = entry.recording ? await waitFor(async () => {
    const list = (await daemon.api("GET", `/api/sessions?room=${ROOM}`)).data;
    return recordingUrl(list.find((s) => s.id === session));
  }, 20000, "the recording to be finished") : null;
  if (recorded) {
    await sessionRow.locator("button.play").waitFor({ timeout: 10000 });
    await sessionRow.locator("button.play").click();
    await waitFor(() => page.evaluate(() => {
      const v = document.getElementById("recording-video");
      return v.readyState >= 2 && v.videoWidth > 0;
    }), 20000, "the recording to play in the page").catch(async (error) => {
      log(`recording: ${await page.locator("#recording-status").textContent()} ${JSON.stringify(await page.evaluate(() => {
        const v = document.getElementById("recording-video");
        return { src: v.src, readyState: v.readyState, error: v.error && v.error.message, w: v.videoWidth };
      }))}`);
      throw error;
    });
    const [recording] = await Promise.all([page.waitForEvent("download"), page.click("#recording-download")]);
    const size = fs.statSync(await recording.path()).size;
    check(size > 10000, `the downloaded recording has ${size} bytes`);
    log(`recording played and downloaded (${size} bytes)`);
  } else {
    log("the relay lists no recording for the session (recordings API not there yet): playing is left out");
    await sessionRow.locator("button.attendance").click();
  }
  await page.locator("#session-panel").waitFor({ state: "visible" });

  const attendance = await daemon.api("GET", `/api/sessions/${session}/attendance`);
  if (attendance.status === 200) {
    await waitFor(() => page.locator("#attendance-table tbody tr").count().then((n) => n >= 1), 10000,
      "the attendance table");
    check((await page.locator("#attendance-table").textContent()).includes("Kari Nordmann"), "Kari in the attendance");
    const [csvFile] = await Promise.all([page.waitForEvent("download"), page.click("#attendance-csv")]);
    const csv = fs.readFileSync(await csvFile.path(), "utf8");
    check(csv.includes("Kari Nordmann"), `the attendance CSV:\n${csv}`);
    log(`attendance CSV downloaded: ${csv.split("\n").length} lines`);
    const [jsonFile] = await Promise.all([page.waitForEvent("download"), page.click("#attendance-json")]);
    const rows = JSON.parse(fs.readFileSync(await jsonFile.path(), "utf8"));
    check(rows.some((r) => r.name === "Kari Nordmann"), "the attendance JSON");

    // Overriding a completion needs a reason and a name.
    const kari = page.locator("#attendance-table tbody tr", { hasText: "Kari Nordmann" });
    await page.fill("#override-by", "Kursansvarlig Berit");
    await kari.locator("input").fill("Fulgte forelesningen i møterommet");
    await kari.locator("button").click();
    await waitFor(() => kari.textContent().then((s) => /Overstyrt av Kursansvarlig Berit/.test(s)), 10000,
      "the override in the table");
    const after = (await daemon.api("GET", `/api/sessions/${session}/attendance`)).data;
    const row = after.find((r) => r.name === "Kari Nordmann");
    check(row.completed === true && row.override?.reason === "Fulgte forelesningen i møterommet",
      `the override in the API: ${JSON.stringify(row)}`);
  } else {
    log(`the relay has no attendance for sessions yet (HTTP ${attendance.status}): the page must say so`);
    await waitFor(() => page.locator("#attendance-status").textContent().then((s) => /ikke fremmøte/.test(s)), 5000,
      "the page to say attendance is not there");
    check(await page.locator("#attendance-csv").isDisabled(), "the CSV button is disabled without attendance");
  }
  const problems = await checkPage(page);
  check(problems.length === 0, `admin page: ${problems.join("; ")}`);
  await screenshot(page, "session", { fullPage: true });
});
