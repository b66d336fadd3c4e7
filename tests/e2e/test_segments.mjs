// SPDX-License-Identifier: Apache-2.0
// The lecture over plain HTTPS, through a real workplace proxy (squid):
// a nurse's browser that reaches nothing but the proxy falls back from
// WebRTC to the relay's media segments by itself, plays within a few
// seconds, stays within about 4 s of live, says which path it is on, and
// her attendance counts the time she watched. An H.264 lecture (a
// webrtcbin publisher over WHIP whose encoder sends a keyframe only every
// 40 s, unless asked) plays the same way, from fragmented MP4 segments
// that mostly do not start on a keyframe, and costs the publisher no more
// than a couple of keyframe requests. A VP8 lecture with the same 40 s
// GOP plays in Firefox, near live, at the publisher's frame rate (the
// page joins WebM segments that continue each other into one Cluster).
// The page reads the playlist once a
// second (the target duration), and when the proxy answers 503 (squid's
// deny_info for 8 s) it waits 1, 2, 4 s between tries (3 s each when it
// says Retry-After: 3), says so, stays on HTTPS and plays on afterwards.
//
// Namespaces (made here, inside the test's own from netns-run):
//
//   viewer 10.212.0.2 -- 10.212.0.1 proxy 10.213.0.2 -- 10.213.0.1 test
//   (Chromium)                      (squid :3128)           (the relay)
//
// The viewer's namespace has no route but to the proxy, and the proxy's
// forwards nothing at the IP level: only squid's HTTP passes. The relay
// offers its media at 192.0.2.1 (TEST-NET-1, reached by nobody), so no
// WebRTC path can connect from anywhere here; Firefox, which playwright
// drives over a loopback WebSocket and so cannot be moved into the
// viewer's namespace, runs in the test's own, configured to use the same
// proxy, and must fall back the same way. Distance from live is measured
// against the relay's clock: the playlist's live_edge (read directly by
// the test) minus the video element's currentTime.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { run, check, log, waitFor, sleep, inOwnNetns, CHROMIUM, CHROMIUM_ARGS, FIREFOX, FIREFOX_PREFS, SKIP }
  from "./lib.mjs";

const ROOM = "lecture";
const H264_ROOM = "h264";
const LONG_GOP_ROOM = "vp8-long-gop";
const HERE = path.dirname(new URL(import.meta.url).pathname);
const VIEWER_NS = `kk-seg-viewer-${process.pid}`;
const PROXY_NS = `kk-seg-proxy-${process.pid}`;
const RELAY_ADDRESS = "10.213.0.1";
const PROXY_FOR_RELAY_SIDE = "10.213.0.2";
const PROXY_FOR_VIEWER = "10.212.0.1";
const PROXY_PORT = 3128;
const UNREACHABLE_MEDIA_IP = "192.0.2.1";
/* The page falls back after 5 s without WebRTC; then a segment or two. */
const PLAY_WITHIN_MS = 12000;
const MAX_BEHIND_S = 4.0;
/* The daemon (started with this environment) logs each video loss on
 * the way in, each of which asks for a keyframe, and each start point a
 * player asks for. */
process.env.GST_DEBUG = [process.env.GST_DEBUG, "kk-segmenter:5"].filter(Boolean).join(",");

if (!inOwnNetns()) {
  log("skip: the proxy test builds network namespaces inside the test's own (netns-run)");
  process.exit(SKIP);
}
if (!fs.existsSync("/usr/sbin/squid")) {
  log("skip: squid is not installed (TESTS profile)");
  process.exit(SKIP);
}

function ip(...args) {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function buildNetwork() {
  ip("netns", "add", VIEWER_NS);
  ip("netns", "add", PROXY_NS);
  ip("link", "add", "kkseg-t", "type", "veth", "peer", "name", "kkseg-pt");
  ip("link", "set", "kkseg-pt", "netns", PROXY_NS);
  ip("addr", "add", `${RELAY_ADDRESS}/24`, "dev", "kkseg-t");
  ip("link", "set", "kkseg-t", "up");
  ip("-n", PROXY_NS, "addr", "add", `${PROXY_FOR_RELAY_SIDE}/24`, "dev", "kkseg-pt");
  ip("-n", PROXY_NS, "link", "set", "kkseg-pt", "up");
  ip("-n", PROXY_NS, "link", "add", "kkseg-pv", "type", "veth", "peer", "name", "kkseg-v");
  ip("-n", PROXY_NS, "link", "set", "kkseg-v", "netns", VIEWER_NS);
  ip("-n", PROXY_NS, "addr", "add", `${PROXY_FOR_VIEWER}/24`, "dev", "kkseg-pv");
  ip("-n", PROXY_NS, "link", "set", "kkseg-pv", "up");
  ip("-n", PROXY_NS, "link", "set", "lo", "up");
  ip("-n", VIEWER_NS, "addr", "add", "10.212.0.2/24", "dev", "kkseg-v");
  ip("-n", VIEWER_NS, "link", "set", "kkseg-v", "up");
  ip("-n", VIEWER_NS, "link", "set", "lo", "up");
}

function removeNetwork() {
  for (const ns of [VIEWER_NS, PROXY_NS]) {
    try { execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" }); } catch (error) { /* not made */ }
  }
  try { execFileSync("ip", ["link", "del", "kkseg-t"], { stdio: "ignore" }); } catch (error) { /* gone with its peer */ }
}

/* squid's configuration: it passes plain HTTP to the relay's HTTP port
 * only, and refuses CONNECT (no tunnel to the media port). In an
 * @outage it answers 503 for the lecture's segments and playlist itself,
 * as a proxy whose relay is away (or a relay that cannot serve) does,
 * with Retry-After: @outage.retryAfter when it says; with
 * @outage.initStatus it answers that status for the lecture's init
 * segments only (a relay or proxy limiting requests: 429). */
function writeSquidConf(conf, dir, relayPort, outage) {
  fs.writeFileSync(conf, [
    `http_port ${PROXY_PORT}`,
    "acl workplace src 10.212.0.0/24 10.213.0.1/32",
    `acl relay dst ${RELAY_ADDRESS}/32`,
    `acl relay_http port ${relayPort}`,
    "acl CONNECT method CONNECT",
    `acl lecture_segments urlpath_regex ^/api/rooms/${ROOM}/segments`,
    "deny_info 503:ERR_CANNOT_FORWARD lecture_segments",
    "http_access deny CONNECT",
    `acl lecture_init urlpath_regex ^/api/rooms/${ROOM}/segments/[0-9a-f]+-init\\.`,
    `deny_info ${outage?.initStatus || 503}:ERR_CANNOT_FORWARD lecture_init`,
    ...(outage?.initStatus ? ["http_access deny lecture_init"] : []),
    ...(outage && !outage.initStatus ? ["http_access deny lecture_segments"] : []),
    ...(outage?.retryAfter ? [`reply_header_add Retry-After ${outage.retryAfter} lecture_segments`] : []),
    "http_access allow workplace relay relay_http",
    "http_access deny all",
    "cache_mem 16 MB",
    `access_log stdio:${dir}/access.log`,
    `cache_log ${dir}/cache.log`,
    `pid_filename ${dir}/squid.pid`,
    `coredump_dir ${dir}`,
    "visible_hostname kk-workplace-proxy",
    "shutdown_lifetime 1 seconds",
    "",
  ].join("\n"));
}

async function startSquid(workdir, relayPort) {
  const dir = path.join(workdir, "squid");
  // squid drops to its own user before it opens its logs.
  fs.chmodSync(workdir, 0o711);
  fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
  fs.chmodSync(dir, 0o777);
  const conf = path.join(dir, "squid.conf");
  writeSquidConf(conf, dir, relayPort, false);
  const squid = spawn("ip", ["netns", "exec", PROXY_NS, "squid", "-N", "-f", conf],
    { stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "stderr.log"), "a")] });
  await waitFor(() => new Promise((resolve) => {
    const socket = net.connect(PROXY_PORT, PROXY_FOR_RELAY_SIDE, () => { socket.destroy(); resolve(true); });
    socket.on("error", () => resolve(false));
  }), 15000, "squid listening");
  return {
    process: squid, accessLog: path.join(dir, "access.log"),
    // `ip netns exec` execs squid: this is squid's own process, and HUP
    // makes it read its configuration again.
    setOutage: (outage) => { writeSquidConf(conf, dir, relayPort, outage); squid.kill("SIGHUP"); },
  };
}

/* The lines of squid's access log that match @pattern. */
function proxied(squid, pattern) {
  return fs.readFileSync(squid.accessLog, "utf8").split("\n").filter((l) => pattern.test(l));
}

function stopSquid(squid) {
  if (squid && squid.process.exitCode === null) squid.process.kill("SIGTERM");
}

/* The daemon again, now with a pipeline lecture and media offered where
 * nobody reaches it. */
async function restartDaemon(daemon, workdir) {
  await daemon.stop();
  const conf = path.join(workdir, "kringkast.conf");
  fs.writeFileSync(conf, `[room ${ROOM}]\ntitle=Smittevern\nsource=testsrc-small\n`);
  const wrapper = path.join(workdir, "kringkast-unreachable-media.sh");
  fs.writeFileSync(wrapper, `#!/bin/sh
# The daemon as lib.mjs starts it, but with its media at ${UNREACHABLE_MEDIA_IP}.
for arg; do
  shift
  if [ "$arg" = 127.0.0.1 ]; then set -- "$@" ${UNREACHABLE_MEDIA_IP}; else set -- "$@" "$arg"; fi
done
exec "${daemon.bin}" --config "${conf}" "$@"
`, { mode: 0o755 });
  daemon.bin = wrapper;
  await daemon.start();
  await waitFor(async () => (await daemon.room(ROOM))?.live, 15000, "the lecture live");
}

/* What the page plays: its stats (watch.js), the video's time. */
async function playing(page) {
  return page.evaluate(() => {
    const video = document.getElementById("video");
    return {
      stats: window.kringkastStats || null, time: video.currentTime, paused: video.paused,
      quality: document.getElementById("quality").textContent, width: video.videoWidth,
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
    };
  });
}

/* How far behind live the page plays, on the relay's clock: the live
 * edge (read by the test) minus the video's position, sampled together. */
async function behindLive(daemon, page, token, room) {
  const [list, state] = await Promise.all([
    daemon.api("GET", `/api/rooms/${room}/segments`, undefined, token),
    playing(page),
  ]);
  return list.data.live_edge - state.time;
}

async function watchOverProxy(daemon, page, token, label, room = ROOM) {
  const started = Date.now();
  await page.goto(`http://${RELAY_ADDRESS}:${daemon.httpPort}/watch/${room}#token=${token}`);
  const first = await waitFor(async () => {
    const state = await playing(page);
    return state.stats?.transport === "https" && state.time > 0 && !state.paused ? state : null;
  }, PLAY_WITHIN_MS + 8000, `${label} playing over HTTPS`).catch(async (error) => {
    log(`${label}: ${JSON.stringify(await playing(page))}`);
    throw error;
  });
  const playsAfter = (Date.now() - started) / 1000;
  log(`${label}: playing over HTTPS ${playsAfter.toFixed(1)} s after opening the page (${first.quality})`);
  check(playsAfter * 1000 <= PLAY_WITHIN_MS, `${label} took ${playsAfter.toFixed(1)} s to play`);
  check(/Over HTTPS/.test(first.quality), `${label} does not say which path: "${first.quality}"`);
  // The picture choice acts on a WHEP resource: over HTTPS it is not offered.
  check(await page.evaluate(() => document.getElementById("quality-choice").hidden),
    `${label} still offers the picture choice over HTTPS`);
  return playsAfter;
}

/* Samples the distance from live every second for @seconds; the picture
 * must keep moving too. */
async function followLive(daemon, page, token, seconds, label, room = ROOM) {
  const samples = [];
  const before = await playing(page);
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    samples.push(await behindLive(daemon, page, token, room));
  }
  const after = await playing(page);
  const max = Math.max(...samples);
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  log(`${label}: behind live over ${seconds} s: mean ${mean.toFixed(2)} s, max ${max.toFixed(2)} s; `
    + `page says ${after.stats.behindLive?.toFixed(2)} s; ${after.frames - before.frames} frames`);
  check(max <= MAX_BEHIND_S, `${label} fell ${max.toFixed(2)} s behind live`);
  check(after.time - before.time >= seconds - 2, `${label} played ${(after.time - before.time).toFixed(1)} s of ${seconds}`);
  check(after.frames > before.frames + seconds * 10, `${label} presented too few frames`);
  return { mean, max, frames: after.frames - before.frames };
}

/* Keyframe requests the relay sent to publishers so far (/metrics). */
async function keyframeRequests(daemon) {
  const text = await (await fetch(`${daemon.base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("kringkast_keyframe_requests_total"));
  return Number(line.split(" ").pop());
}

/* A WHIP publisher (whip_gst) of @codec to @room whose encoder sends a
 * keyframe only every 40 s unless asked, live before this returns. A
 * token may start with "-": given with "=", argparse does not take it
 * for an option. */
async function publishLongGop(daemon, workdir, room, hostToken, codec) {
  const peer = spawn("/usr/bin/python3", [path.join(HERE, "..", "peers", "whip_gst.py"),
    "--url", `${daemon.base}/whip/${room}`, `--token=${hostToken}`, "--codec", codec,
    "--keyframe-interval", "1200", "--duration", "0"],
  { stdio: ["ignore", "ignore", fs.openSync(path.join(workdir, "whip_gst.log"), "a")] });
  await waitFor(async () => (await daemon.room(room))?.live, 20000, `the ${codec} lecture in ${room} live`);
  return peer;
}

/* Firefox, in the test's own namespace, through the workplace proxy. */
function firefoxThroughProxy(playwright) {
  return playwright._bidiFirefox.launch({
    executablePath: FIREFOX, headless: true, firefoxUserPrefs: {
      ...FIREFOX_PREFS,
      "network.proxy.type": 1,
      "network.proxy.http": PROXY_FOR_RELAY_SIDE,
      "network.proxy.http_port": PROXY_PORT,
      "network.proxy.no_proxies_on": "",
      "network.proxy.allow_hijacking_localhost": true,
    },
  });
}

let squid = null;
let publisher = null;
// run() ends the process: what this test made outside it goes then.
process.on("exit", () => {
  if (publisher && publisher.exitCode === null) publisher.kill("SIGTERM");
  stopSquid(squid);
  removeNetwork();
});
buildNetwork();
await run("segments", async ({ daemon, workdir, screenshot }) => {
  const { chromium, default: playwright } = await import("playwright-core");
  await restartDaemon(daemon, workdir);
  squid = await startSquid(workdir, daemon.httpPort);
  const kari = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3");

  // Chromium in the viewer's namespace, through the proxy.
  const wrapper = path.join(workdir, "chromium-in-viewer-ns.sh");
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${VIEWER_NS} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const context = await chromium.launchPersistentContext(path.join(workdir, "profile-viewer"), {
    executablePath: wrapper, headless: true, locale: "nb-NO",
    args: [...CHROMIUM_ARGS, `--proxy-server=http://${PROXY_FOR_VIEWER}:${PROXY_PORT}`],
  });
  const page = context.pages()[0] || await context.newPage();
  page.on("pageerror", (e) => log(`[viewer error] ${e.message}`));
  // Nothing but the proxy: the viewer's namespace has no route to the
  // relay (nor to its media address).
  for (const address of [RELAY_ADDRESS, UNREACHABLE_MEDIA_IP]) {
    let routed = true;
    try { execFileSync("ip", ["-n", VIEWER_NS, "route", "get", address], { stdio: "ignore" }); } catch (e) { routed = false; }
    check(!routed, `the viewer's namespace has a route to ${address}`);
  }

  const openedAt = Date.now();
  const chromiumStart = await watchOverProxy(daemon, page, kari.token, "Chromium");
  const playlistLine = new RegExp(`GET http://[^ ]*/api/rooms/${ROOM}/segments(\\?start=1)? `);
  const playlistsBefore = proxied(squid, playlistLine).length;
  const chromiumLive = await followLive(daemon, page, kari.token, 20, "Chromium");
  await screenshot(page, "chromium-over-https");
  // The playlist once per target duration (1 s), not faster: 20 s of
  // following live, a request or two more for the sampling's slack.
  const playlists = proxied(squid, playlistLine).length - playlistsBefore;
  log(`Chromium: ${playlists} playlist requests in 20 s`);
  check(playlists <= 22, `${playlists} playlist requests in 20 s`);

  // The proxy answers 503 for the segments for 8 s (its relay away): the
  // page waits longer after each answer (1, 2, 4 s...), says so, stays
  // on HTTPS without starting over (no new WebRTC attempt), and plays on
  // once they pass again.
  const deniedLine = new RegExp(`TCP_DENIED/503 .*/api/rooms/${ROOM}/segments`);
  const whepLine = /POST http:\/\/[^ ]*\/whep\//;
  const wheps = proxied(squid, whepLine).length;
  const outageStarted = Date.now();
  squid.setOutage({});
  await sleep(6500);
  const inOutage = await playing(page);
  log(`Chromium in the outage: "${inOutage.quality}"`);
  await screenshot(page, "chromium-proxy-503");
  check(/HTTP 503/.test(inOutage.quality), `the page does not say why it stalls: "${inOutage.quality}"`);
  check(inOutage.stats?.transport === "https", "the page left HTTPS in the outage");
  await sleep(1500);
  squid.setOutage(false);
  const outageEnded = Date.now();
  const timeBefore = (await playing(page)).time;
  await waitFor(async () => {
    const state = await playing(page);
    return state.stats?.retrying === null && state.time > timeBefore + 1 && !state.paused ? state : null;
  }, 25000, "Chromium playing again after the outage");
  log(`Chromium: playing again ${((Date.now() - outageEnded) / 1000).toFixed(1)} s after the outage`);
  // No segment came from the outage's start until she played again:
  // longer than the window (12 s), so she started over at a fresh
  // keyframe and what was cut meanwhile was never fetched.
  const stalled = (Date.now() - outageStarted) / 1000;
  let denied = proxied(squid, deniedLine).map((l) => Number(l.split(/\s+/)[0]));
  const gaps = denied.slice(1).map((t, i) => t - denied[i]);
  log(`Chromium: ${denied.length} requests answered 503, ${gaps.map((g) => g.toFixed(1)).join(", ")} s apart`);
  check(denied.length >= 3 && denied.length <= 5, `${denied.length} requests in an 8 s outage`);
  gaps.forEach((gap, i) => check(gap >= 0.9 * 2 ** i && gap <= 1.5 * 2 ** i + 0.5,
    `wait ${i + 1} after a 503 was ${gap.toFixed(1)} s`));
  check(proxied(squid, whepLine).length === wheps, "the page started over with WebRTC in the outage");
  // Back near live within a few seconds (it jumps to a keyframe).
  await sleep(3000);
  await followLive(daemon, page, kari.token, 5, "Chromium after the outage");

  // Again for 5 s, now with Retry-After: 3: she waits 3 s each time,
  // not 1, 2, 4 s. Shorter than the window: afterwards she fetches what
  // was cut meanwhile, and it counts.
  const deniedBefore = denied.length;
  squid.setOutage({ retryAfter: 3 });
  await sleep(5000);
  squid.setOutage(false);
  const timeBeforeSecond = (await playing(page)).time;
  await waitFor(async () => {
    const state = await playing(page);
    return state.stats?.retrying === null && state.time > timeBeforeSecond + 1 && !state.paused ? state : null;
  }, 25000, "Chromium playing again after the outage with Retry-After");
  denied = proxied(squid, deniedLine).map((l) => Number(l.split(/\s+/)[0])).slice(deniedBefore);
  const retryGaps = denied.slice(1).map((t, i) => t - denied[i]);
  log(`Chromium: with Retry-After: 3, ${denied.length} requests answered 503, `
    + `${retryGaps.map((g) => g.toFixed(1)).join(", ")} s apart`);
  check(denied.length >= 2 && denied.length <= 3, `${denied.length} requests in a 5 s outage with Retry-After: 3`);
  retryGaps.forEach((gap, i) => check(gap >= 2.9 && gap <= 4.0, `wait ${i + 1} with Retry-After: 3 was ${gap.toFixed(1)} s`));
  check(proxied(squid, whepLine).length === wheps, "the page started over with WebRTC in the outage");
  await sleep(3000);
  await followLive(daemon, page, kari.token, 3, "Chromium after the outage with Retry-After");
  // The proxy carried it all: the page, the WHEP attempt, the segments.
  const access = fs.readFileSync(squid.accessLog, "utf8");
  const segments = access.split("\n").filter((l) => /\/segments\/[0-9a-f]+-\d+\.webm/.test(l)).length;
  log(`squid passed ${segments} segment requests`);
  check(segments >= 15, `squid passed only ${segments} segment requests`);
  check(/POST http:\/\/[^ ]*\/whep\//.test(access), "the WHEP offer did not go through the proxy");
  // She closes the page; her HTTPS connection ends where her media ended.
  await context.close();
  const watched = (Date.now() - openedAt) / 1000 - chromiumStart;

  // Firefox, through the same proxy.
  const firefoxBrowser = await firefoxThroughProxy(playwright);
  const per = await daemon.join(ROOM, "Per Olsen", "Sengepost 4");
  const ffContext = await firefoxBrowser.newContext({ locale: "en-GB" });
  const ffPage = await ffContext.newPage();
  ffPage.on("pageerror", (e) => log(`[firefox error] ${e.message}`));
  await watchOverProxy(daemon, ffPage, per.token, "Firefox");
  const firefoxLive = await followLive(daemon, ffPage, per.token, 12, "Firefox");
  await screenshot(ffPage, "firefox-over-https");
  await ffContext.close();
  await firefoxBrowser.close();

  // An H.264 lecture, from a WHIP publisher, in Chromium in the viewer's
  // namespace again.
  const h264 = await daemon.createRoom(H264_ROOM, "Håndhygiene");
  publisher = await publishLongGop(daemon, workdir, H264_ROOM, h264.host_token, "h264");
  const askedBefore = await keyframeRequests(daemon);
  const logBefore = fs.readFileSync(daemon.logPath, "utf8").length;
  const ola = await daemon.join(H264_ROOM, "Ola Nordmann", "Sengepost 5");
  const h264Context = await chromium.launchPersistentContext(path.join(workdir, "profile-h264"), {
    executablePath: wrapper, headless: true, locale: "nb-NO",
    args: [...CHROMIUM_ARGS, `--proxy-server=http://${PROXY_FOR_VIEWER}:${PROXY_PORT}`],
  });
  const h264Page = h264Context.pages()[0] || await h264Context.newPage();
  h264Page.on("pageerror", (e) => log(`[h264 error] ${e.message}`));
  await watchOverProxy(daemon, h264Page, ola.token, "Chromium H.264", H264_ROOM);
  const mime = (await daemon.api("GET", `/api/rooms/${H264_ROOM}/segments`, undefined, ola.token)).data.mime_type;
  check(mime.startsWith("video/mp4; codecs=\"avc1."), `H.264 segments as ${mime}`);
  const h264Live = await followLive(daemon, h264Page, ola.token, 10, "Chromium H.264", H264_ROOM);
  const asked = await keyframeRequests(daemon) - askedBefore;
  const h264List = (await daemon.api("GET", `/api/rooms/${H264_ROOM}/segments`, undefined, ola.token)).data;
  log(`Chromium H.264: ${asked} keyframe requests to the publisher; keyframe segments in the window: `
    + `${h264List.segments.filter((s) => s.keyframe).length} of ${h264List.segments.length}`);
  check(h264List.segments.some((s) => !s.keyframe), "H.264 segments that continue the one before");
  /* The segments' start, the page's start point: not one a second. */
  // Video lost on the way in (a busy machine's jitter buffer gives up on
  // late packets) is a reason for one more each.
  const h264Log = fs.readFileSync(daemon.logPath, "utf8").slice(logBefore);
  const losses = h264Log.split("video lost on the way in").length - 1;
  log(`Chromium H.264: ${losses} video losses on the way in, `
    + `${h264Log.split("a player needs a start point").length - 1} start points asked for`);
  check(asked <= 3 + losses, `${asked} keyframe requests for one HTTPS viewer`);
  await screenshot(h264Page, "chromium-h264-over-https");
  await h264Context.close();
  publisher.kill("SIGTERM");

  // A VP8 lecture with a 40 s GOP in Firefox: WebM segments that continue
  // the one before (no keyframe of their own) play there too. Firefox
  // starts a new demuxer for every Cluster that begins before the end of
  // the frames it has (audio interleaved does, by a few ms), which drops
  // video up to the next keyframe: the page joins a run of segments into
  // one Cluster. Without that it showed a second in six, 6 s behind live.
  // A run's blocks can be timed only about 32 s past its Cluster: the run
  // asks for a start point past 20 s, and the 35 s window goes past 32 s
  // (unless a keyframe asked for after a loss on the way in started a new
  // run first, as it often does on a busy machine).
  const longGop = await daemon.createRoom(LONG_GOP_ROOM, "Legemiddelhåndtering");
  publisher = await publishLongGop(daemon, workdir, LONG_GOP_ROOM, longGop.host_token, "vp8");
  const longAskedBefore = await keyframeRequests(daemon);
  const longLogBefore = fs.readFileSync(daemon.logPath, "utf8").length;
  const siv = await daemon.join(LONG_GOP_ROOM, "Siv Berg", "Sengepost 6");
  const ffLong = await firefoxThroughProxy(playwright);
  const ffLongPage = await (await ffLong.newContext({ locale: "en-GB" })).newPage();
  ffLongPage.on("pageerror", (e) => log(`[firefox long GOP error] ${e.message}`));
  await watchOverProxy(daemon, ffLongPage, siv.token, "Firefox long GOP", LONG_GOP_ROOM);
  // Settled: the start point is behind her.
  await sleep(3000);
  const longLive = await followLive(daemon, ffLongPage, siv.token, 35, "Firefox long GOP", LONG_GOP_ROOM);
  const longList = (await daemon.api("GET", `/api/rooms/${LONG_GOP_ROOM}/segments`, undefined, siv.token)).data;
  const longAsked = await keyframeRequests(daemon) - longAskedBefore;
  const longLosses = fs.readFileSync(daemon.logPath, "utf8").slice(longLogBefore)
    .split("video lost on the way in").length - 1;
  log(`Firefox long GOP: ${longLive.frames} frames in 35 s; keyframe segments in the window: `
    + `${longList.segments.filter((s) => s.keyframe).length} of ${longList.segments.length}; `
    + `${longAsked} keyframe requests to the publisher, ${longLosses} video losses on the way in`);
  check(longList.segments.some((s) => !s.keyframe), "VP8 segments that continue the one before");
  // The publisher sends 30 frames a second: most of them, not a second in six.
  check(longLive.frames >= 35 * 20, `Firefox long GOP presented ${longLive.frames} frames in 35 s`);
  check(longAsked <= 4 + longLosses, `${longAsked} keyframe requests for one Firefox viewer in about 45 s`);
  await screenshot(ffLongPage, "firefox-long-gop-over-https");
  await ffLong.close();
  publisher.kill("SIGTERM");

  // The proxy answers 429 for the lecture's init segment while a new
  // viewer's page starts over HTTPS: the page waits and fetches the init
  // segment again (it must not go on to media segments without it, fail
  // and start over with WebRTC), and plays.
  const ingrid = await daemon.join(ROOM, "Ingrid Dahl", "Sengepost 7");
  const initLine = new RegExp(`/api/rooms/${ROOM}/segments/[0-9a-f]+-init\\.webm`);
  const lectureWhepLine = new RegExp(`POST http://[^ ]*/whep/${ROOM} `);
  const initsBefore = proxied(squid, initLine).length;
  const lectureWhepsBefore = proxied(squid, lectureWhepLine).length;
  squid.setOutage({ initStatus: 429 });
  const initContext = await chromium.launchPersistentContext(path.join(workdir, "profile-init"), {
    executablePath: wrapper, headless: true, locale: "nb-NO",
    args: [...CHROMIUM_ARGS, `--proxy-server=http://${PROXY_FOR_VIEWER}:${PROXY_PORT}`],
  });
  const initPage = initContext.pages()[0] || await initContext.newPage();
  initPage.on("pageerror", (e) => log(`[init 429 error] ${e.message}`));
  const initOpened = Date.now();
  await initPage.goto(`http://${RELAY_ADDRESS}:${daemon.httpPort}/watch/${ROOM}#token=${ingrid.token}`);
  await waitFor(() => proxied(squid, initLine).slice(initsBefore).some((l) => /TCP_DENIED\/429/.test(l)),
    20000, "the init segment answered 429");
  squid.setOutage(false);
  await waitFor(async () => {
    const state = await playing(initPage);
    return state.stats?.transport === "https" && state.time > 1 && !state.paused ? state : null;
  }, 20000, "Chromium playing after the init segment was answered 429");
  const inits = proxied(squid, initLine).slice(initsBefore).map((l) => Number(/ [A-Z_]+\/(\d{3}) /.exec(l)?.[1]));
  log(`Chromium, init answered 429: playing ${((Date.now() - initOpened) / 1000).toFixed(1)} s after opening; `
    + `init requests ${inits.join(", ")}; ${proxied(squid, lectureWhepLine).length - lectureWhepsBefore} WHEP offers`);
  check(inits[0] === 429 && inits.indexOf(200) > 0, `init requests: ${inits.join(", ")}`);
  check(proxied(squid, lectureWhepLine).length - lectureWhepsBefore === 1,
    "the page started over with WebRTC after the init segment was answered 429");
  await initContext.close();

  // Attendance: Kari's HTTPS connections (the long outage ended one),
  // closed, about as long as she watched, less the long outage, whose
  // segments she never fetched.
  const session = (await daemon.api("GET", `/api/sessions?room=${ROOM}`)).data[0].id;
  const connections = await waitFor(async () => {
    const rows = (await daemon.api("GET", `/api/sessions/${session}/attendance`)).data;
    const https = rows.find((r) => r.name === "Kari Nordmann")?.connections
      .filter((c) => c.transport === "https") || [];
    return https.length > 0 && https.every((c) => c.left_at) ? https : null;
  }, 30000, "Kari's HTTPS connections in the attendance report", 1000);
  const counted = connections.reduce((sum, c) => sum + c.seconds, 0);
  log(`attendance: ${JSON.stringify(connections)}; she watched about ${watched.toFixed(1)} s, `
    + `${stalled.toFixed(1)} s of it stalled in the long outage`);
  check(Math.abs(counted - (watched - stalled)) <= 4,
    `attendance counts ${counted} s of ${(watched - stalled).toFixed(1)} s`);
  log(`summary: Chromium played after ${chromiumStart.toFixed(1)} s, behind live mean ${chromiumLive.mean.toFixed(2)} s `
    + `max ${chromiumLive.max.toFixed(2)} s; Firefox behind live mean ${firefoxLive.mean.toFixed(2)} s max ${firefoxLive.max.toFixed(2)} s; `
    + `Chromium H.264 mean ${h264Live.mean.toFixed(2)} s max ${h264Live.max.toFixed(2)} s; `
    + `Firefox long-GOP VP8 mean ${longLive.mean.toFixed(2)} s max ${longLive.max.toFixed(2)} s, ${longLive.frames} frames in 35 s`);
}, { budgetS: 280 });   // Firefox's long-GOP case alone takes a minute
