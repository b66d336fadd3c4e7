// SPDX-License-Identifier: Apache-2.0
// A host whose browser offers simulcast (three rids on one video m-line,
// as a conference client or OBS would) publishes over WHIP. The relay
// does not use the host's own layers yet (webrtcbin 1.22 cannot tell
// them apart), so it must answer with a single stream, cleanly: no a=rid
// or a=simulcast line echoed, nothing the browser would take for
// accepted simulcast. The browser then sends one encoding, the first
// (here the full-size one), and a nurse's page decodes it.
import { run, check, waitFor, log } from "./lib.mjs";

const ROOM = "simulcast";

await run("simulcast-host", async ({ daemon, browser }) => {
  const room = await daemon.createRoom(ROOM, "Simulcast-vert");
  const host = await browser({ label: "host" });
  // Any page of the relay's origin: the WHIP exchange itself goes through
  // node, so the page only needs the camera and a peer connection.
  await host.page.goto(`${daemon.base}/healthz`);
  const offer = await host.page.evaluate(async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
    const pc = new RTCPeerConnection();
    window.pc = pc;
    pc.addTransceiver(stream.getAudioTracks()[0], { direction: "sendonly" });
    pc.addTransceiver(stream.getVideoTracks()[0], {
      direction: "sendonly",
      sendEncodings: [
        { rid: "f" },
        { rid: "h", scaleResolutionDownBy: 2 },
        { rid: "q", scaleResolutionDownBy: 4 },
      ],
    });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
      setTimeout(resolve, 3000);
    });
    return pc.localDescription.sdp;
  });
  (await import("node:fs")).writeFileSync("/tmp/wc-offer.sdp", offer);
  check(/a=simulcast:send f;h;q/.test(offer) && /a=rid:q send/.test(offer),
    `Chromium made no simulcast offer:\n${offer}`);

  const response = await fetch(`${daemon.base}/whip/${ROOM}`, {
    method: "POST", body: offer,
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${room.host_token}` },
  });
  const answer = await response.text();
  check(response.status === 201, `WHIP POST: ${response.status} ${answer}`);
  check(!/^a=(rid|simulcast)/m.test(answer), `the answer echoes simulcast:\n${answer}`);
  check(!/rtp-stream-id/.test(answer), `the answer accepts the rid header extensions:\n${answer}`);
  const videoSection = answer.split(/^m=/m).find((s) => s.startsWith("video"));
  check(videoSection && !/^a=inactive/m.test(videoSection) && /^a=recvonly/m.test(videoSection),
    `the video m-line is not received:\n${answer}`);
  await host.page.evaluate((sdp) => window.pc.setRemoteDescription({ type: "answer", sdp }), answer);
  await waitFor(async () => (await daemon.room(ROOM)).live, 20000, "the room to go live");

  // The browser sends one encoding, the first one (full size).
  const sending = await waitFor(() => host.page.evaluate(async () => {
    const stats = await window.pc.getStats();
    const video = [...stats.values()].filter((s) => s.type === "outbound-rtp" && s.kind === "video");
    return video.some((s) => s.bytesSent > 20000) ? video.map((s) => ({ rid: s.rid, bytes: s.bytesSent,
      width: s.frameWidth, active: s.active })) : null;
  }), 20000, "outgoing video in the host's stats");
  log(`host's video streams: ${JSON.stringify(sending)}`);
  const active = sending.filter((s) => s.bytes > 0);
  check(active.length === 1, `the host sends ${active.length} encodings, not one`);

  const nurse = await browser({ label: "nurse" });
  const invited = await daemon.join(ROOM, "Kari Nordmann", "Sengepost 3");
  await nurse.page.goto(`${daemon.base}/watch/${ROOM}#token=${invited.token}`);
  const decoded = await waitFor(() => nurse.page.evaluate(() => {
    const video = document.getElementById("video");
    const n = window.kringkastStats?.framesDecoded || 0;
    return n > 30 ? { n, width: video.videoWidth, height: video.videoHeight } : null;
  }), 30000, "the nurse to decode frames");
  log(`nurse decodes ${JSON.stringify(decoded)}`);
  check(decoded.width > 0 && Math.abs(decoded.width / decoded.height - 16 / 9) < 0.05,
    `picture size ${decoded.width}x${decoded.height}`);
  // What the nurse gets is the full-size encoding: once the host's encoder
  // has ramped up, its one stream is wider than the quarter layer could be.
  const full = await waitFor(async () => {
    const host = await nurse.page.evaluate(() => document.getElementById("video").videoWidth);
    return host > 1280 / 4 ? host : null;
  }, 30000, "the full-size layer at the nurse");
  log(`nurse's picture width ${full}`);
});
