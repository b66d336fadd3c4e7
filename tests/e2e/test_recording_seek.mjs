// SPDX-License-Identifier: Apache-2.0
// Recordings seek in a browser: what the coordinator downloads, straight
// from GET /api/sessions/{id}/recording (the coordinator's token on
// every request of the browser, media included), plays in Chromium's
// <video> and seeks there. Four recordings, from WHIP hosts
// (tests/peers/whip_gst.py, 320x240): a finished WebM (VP8) and a
// finished MP4 (H.264), and one of each cut off by SIGKILL mid-broadcast
// and repaired by the next start. For each: the duration the page sees
// matches the listing, video.seekable covers all of it, a seek to 70 %
// lands there (currentTime, and the first frame presented has that media
// time), and frames and sound decode from there on (a repaired MP4 once
// kept its sound only for the first second).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run, check, waitFor, log, sleep, ADMIN_TOKEN } from "./lib.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WHIP_GST = path.resolve(HERE, "..", "peers", "whip_gst.py");
const PYTHON = "/usr/bin/python3";

// A WHIP host, until it exits or is killed.
function publish(ctx, room, token, codec, seconds) {
  const logPath = path.join(ctx.workdir, `${room}-whip_gst.log`);
  const out = fs.openSync(logPath, "a");
  // Tokens are base64url and may start with "-": glued on with "=".
  const proc = spawn(PYTHON, [WHIP_GST, `--url=${ctx.daemon.base}/whip/${room}`, `--token=${token}`,
    "--duration", String(seconds), "--codec", codec, "--width", "320", "--height", "240"], {
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve(code ?? signal)));
  return {
    proc, exited,
    kill() { if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL"); return exited; },
    log() { return fs.readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n"); },
  };
}

async function live(daemon, room) {
  return waitFor(async () => {
    const r = await daemon.room(room);
    return r.live && r.session_id;
  }, 30000, `room ${room} live`);
}

async function finished(daemon, room, session) {
  return waitFor(async () => {
    const list = (await daemon.api("GET", `/api/sessions?room=${room}`)).data;
    const rec = list.find((s) => s.id === session)?.recording;
    return rec && rec.state === "finished" ? rec : null;
  }, 60000, `the recording of ${room} finished`);
}

// Plays @url in @page's <video>, checks it seeks; returns what it saw.
async function checkSeek(page, name, url, listed) {
  const video = page.locator("video");
  const state = () => video.evaluate((v) => ({
    readyState: v.readyState, error: v.error ? `${v.error.code} ${v.error.message}` : null,
    duration: v.duration, time: v.currentTime, paused: v.paused,
    seekable: Array.from({ length: v.seekable.length }, (_, i) => [v.seekable.start(i), v.seekable.end(i)]),
    frames: v.getVideoPlaybackQuality().totalVideoFrames,
    // Chromium's own count: audio decoded, muted or not.
    audioBytes: v.webkitAudioDecodedByteCount,
  }));
  await video.evaluate((v, src) => { v.removeAttribute("src"); v.load(); v.src = src; v.load(); }, url);
  const loaded = await waitFor(async () => {
    const s = await state();
    if (s.error) throw new Error(s.error);
    return s.readyState >= 1 && Number.isFinite(s.duration) ? s : null;
  }, 20000, `${name}: metadata`).catch(async (error) => {
    throw new Error(`${name} does not load: ${error.message} ${JSON.stringify(await state())}`);
  });

  const duration = loaded.duration;
  check(Math.abs(duration - listed.duration_seconds) < 1.0,
    `${name}: the page sees ${duration.toFixed(2)} s, the listing ${listed.duration_seconds} s`);
  const ranges = loaded.seekable;
  check(ranges.length === 1 && ranges[0][0] <= 0.1 && ranges[0][1] >= duration - 0.1,
    `${name}: seekable ${JSON.stringify(ranges)} of ${duration.toFixed(2)} s`);

  // 70 %: a point the first bytes cannot have told about.
  const target = duration * 0.7;
  const presented = await video.evaluate((v, t) => new Promise((resolve, reject) => {
    const seen = { frames: [] };
    const timer = setTimeout(() => reject(new Error(`no frame presented after seeking: ${JSON.stringify(seen)}`)), 15000);
    const done = () => {
      if (seen.seeked && seen.frame !== undefined) {
        clearTimeout(timer);
        resolve({ time: seen.time, mediaTime: seen.frame });
      }
    };
    // The frame the seek presents may come before "seeked" fires, and one
    // from before the seek (the first, at 0) may still be on its way.
    const onFrame = (now, meta) => {
      seen.frames.push(meta.mediaTime);
      if (Math.abs(meta.mediaTime - t) < 1) {
        seen.frame = meta.mediaTime;
        done();
      } else {
        v.requestVideoFrameCallback(onFrame);
      }
    };
    v.requestVideoFrameCallback(onFrame);
    v.addEventListener("seeked", () => { seen.seeked = true; seen.time = v.currentTime; done(); }, { once: true });
    v.currentTime = t;
  }), target);
  check(Math.abs(presented.time - target) < 0.05, `${name}: seeked to ${presented.time}, asked ${target}`);
  // The frame shown is the one at that time (frames are 33 ms apart, the
  // one on screen at t started at most one frame before).
  check(presented.mediaTime <= target + 0.01 && presented.mediaTime > target - 0.1,
    `${name}: the frame presented after seeking to ${target.toFixed(3)} s is at ${presented.mediaTime}`);

  // And playing on from there decodes frames, and sound.
  const { frames: before, audioBytes } = await state();
  await video.evaluate((v) => { v.muted = true; return v.play(); });
  const playing = await waitFor(async () => {
    const s = await state();
    if (s.error) throw new Error(s.error);
    return s.frames >= before + 15 && s.audioBytes > audioBytes + 2000 && s.time > target + 0.4 ? s : null;
  }, 15000, `${name}: frames and sound after the seek`).catch(async (error) => {
    throw new Error(`${error.message}: ${JSON.stringify(await state())}`);
  });
  await video.evaluate((v) => v.pause());
  log(`${name}: ${duration.toFixed(2)} s, seekable ${JSON.stringify(ranges)}, seeked to ${target.toFixed(2)} s `
    + `(frame at ${presented.mediaTime.toFixed(3)} s), ${playing.frames - before} frames and `
    + `${playing.audioBytes - audioBytes} bytes of sound after`);
  return { duration, ranges, presented };
}

await run("recording_seek", async (ctx) => {
  const { daemon } = ctx;
  const hosts = [];
  const publishers = [];   // every host started, to stop them however it ends
  try {
    // Two broadcasts recorded to the end, side by side.
    const done = [["seek-webm", "vp8"], ["seek-mp4", "h264"]];
    for (const [room, codec] of done) {
      const { host_token: token } = await daemon.createRoom(room, `Seek ${codec}`, true);
      hosts.push({ room, codec, publisher: publish(ctx, room, token, codec, 10) });
      publishers.push(hosts.at(-1).publisher);
    }
    for (const host of hosts) host.session = await live(daemon, host.room);
    for (const host of hosts) {
      const code = await host.publisher.exited;
      check(code === 0, `the ${host.codec} host exited ${code}:\n${host.publisher.log()}`);
    }

    // Two more, cut off by SIGKILL 8 s in; the next start repairs them.
    const killed = [];
    for (const [room, codec] of [["seek-killed-webm", "vp8"], ["seek-killed-mp4", "h264"]]) {
      const { host_token: token } = await daemon.createRoom(room, `Killed ${codec}`, true);
      killed.push({ room, codec, publisher: publish(ctx, room, token, codec, 60) });
      publishers.push(killed.at(-1).publisher);
    }
    for (const host of killed) host.session = await live(daemon, host.room);
    await sleep(8000);
    const exited = new Promise((resolve) => daemon.proc.once("exit", resolve));
    daemon.proc.kill("SIGKILL");
    await exited;
    for (const host of killed) await host.publisher.kill();
    await daemon.start();
    hosts.push(...killed);

    for (const host of hosts) host.recording = await finished(daemon, host.room, host.session);
    for (const host of hosts) {
      const type = host.codec === "vp8" ? "video/webm" : "video/mp4";
      check(host.recording.content_type === type, `${host.room}: ${JSON.stringify(host.recording)}`);
    }

    const { page } = await ctx.browser({ label: "seek" });
    // What the coordinator's own page does with a token: every request of
    // this browser carries it, the <video>'s Range requests too.
    await page.context().setExtraHTTPHeaders({ Authorization: `Bearer ${ADMIN_TOKEN}` });
    await page.goto(`${daemon.base}/healthz`);
    await page.setContent("<video preload=auto muted playsinline width=320 height=240></video>");
    const playable = await page.evaluate(() => ({
      webm: document.createElement("video").canPlayType('video/webm; codecs="vp8, opus"'),
      mp4: document.createElement("video").canPlayType('video/mp4; codecs="avc1.42E01E, opus"'),
    }));
    log(`Chromium plays: ${JSON.stringify(playable)}`);
    for (const host of hosts) {
      const name = `${host.room} (${host.recording.duration_seconds} s, ${host.recording.size_bytes} bytes)`;
      if (host.codec === "h264" && !playable.mp4) {
        log(`${name}: this Chromium has no H.264; left out`);
        continue;
      }
      await checkSeek(page, name, `${daemon.base}${host.recording.url}`, host.recording);
    }
  } finally {
    for (const publisher of publishers) await publisher.kill();
  }
});
