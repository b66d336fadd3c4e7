/* SPDX-License-Identifier: Apache-2.0 */
/* A WHIP publisher (RFC 9725) for the browser. The relay's webrtcbin is a
 * full ICE agent that does not take trickled candidates from browsers
 * here, so the offer goes out once ICE gathering is complete (or after
 * two seconds, with what has been gathered). Only codecs the relay
 * forwards are offered: VP8 and H.264 with packetization-mode 1 (plus
 * their retransmission), and Opus. */
"use strict";

class WhipError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

class WhipClient {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.pc = null;
    this.resource = null;
    this.onstate = null;
    this.last = null;        /* previous stats sample, for rates */
    this.senders = {};       /* kind → RTCRtpSender */
    this.iceServers = [];    /* TURN servers, set before start() */
  }

  static preferCodecs(transceiver, kind) {
    if (!RTCRtpSender.getCapabilities || !transceiver.setCodecPreferences) return;
    const codecs = RTCRtpSender.getCapabilities(kind)?.codecs || [];
    const wanted = kind === "video"
      ? codecs.filter((c) => c.mimeType === "video/VP8"
        || (c.mimeType === "video/H264" && /packetization-mode=1/.test(c.sdpFmtpLine || "")
          && /profile-level-id=42e0/i.test(c.sdpFmtpLine || ""))
        || c.mimeType === "video/rtx")
      : codecs.filter((c) => c.mimeType === "audio/opus");
    if (wanted.some((c) => c.mimeType !== "video/rtx")) {
      try { transceiver.setCodecPreferences(wanted); } catch (e) { /* keep the browser's list */ }
    }
  }

  /* Publishes the tracks of @stream; @maxBitrate (bit/s) caps the video. */
  async start(stream, maxBitrate) {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: this.iceServers });
    this.pc = pc;
    pc.onconnectionstatechange = () => {
      if (this.onstate && this.pc === pc) this.onstate(pc.connectionState);
    };
    for (const kind of ["video", "audio"]) {
      const track = stream.getTracks().find((t) => t.kind === kind);
      if (!track) continue;
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      this.senders[kind] = transceiver.sender;
      WhipClient.preferCodecs(transceiver, kind);
    }
    this.setMaxBitrate(maxBitrate);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const timer = setTimeout(resolve, 2000);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
    if (this.pc !== pc) throw new WhipError("stopped", 0);
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${this.token}` },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new WhipError(message, response.status);
    }
    this.resource = new URL(response.headers.get("Location"), this.url).toString();
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  }

  /* Caps the video's bit rate (bit/s); no renegotiation needed. */
  setMaxBitrate(maxBitrate) {
    const sender = this.senders.video;
    if (!sender || !maxBitrate) return;
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return;
    params.encodings[0].maxBitrate = maxBitrate;
    sender.setParameters(params).catch(() => {});
  }

  /* Swaps a track (another camera or microphone) without renegotiating. */
  async replaceTrack(track) {
    const sender = this.pc && this.senders[track.kind];
    if (sender) await sender.replaceTrack(track);
  }

  /* Outgoing video: bit rate over the last interval, resolution, frame
   * rate, and the codec actually sent; and the bytes received back. */
  async stats() {
    if (!this.pc) return null;
    const report = await this.pc.getStats();
    const now = performance.now();
    let bytes = 0;
    let pairBytes = 0;
    const result = { bitrate: 0, width: 0, height: 0, fps: 0, codec: "", bytesSent: 0, framesEncoded: 0, bytesReceived: 0 };
    report.forEach((s) => {
      /* What comes back from the relay (RTCP, congestion feedback, STUN):
       * when it stops, the path is dead even if the browser has not
       * said so yet. */
      if (s.type === "transport") result.bytesReceived += s.bytesReceived || 0;
      /* Firefox counts them on the candidate pairs only. */
      if (s.type === "candidate-pair") pairBytes += s.bytesReceived || 0;
      if (s.type === "outbound-rtp") {
        bytes += s.bytesSent || 0;
        if (s.kind === "video") {
          result.width = s.frameWidth || 0;
          result.height = s.frameHeight || 0;
          result.fps = s.framesPerSecond || 0;
          result.framesEncoded = s.framesEncoded || 0;
          const codec = s.codecId && report.get(s.codecId);
          if (codec) result.codec = codec.mimeType.replace(/^video\//, "");
        }
      }
    });
    result.bytesSent = bytes;
    if (!result.bytesReceived) result.bytesReceived = pairBytes;
    if (this.last && now > this.last.time) {
      result.bitrate = Math.max(0, (bytes - this.last.bytes) * 8000 / (now - this.last.time));
    }
    this.last = { time: now, bytes };
    return result;
  }

  /* Ends the broadcast on the relay (DELETE) and locally. With
   * @keepResource the relay is not told: a connection that broke is
   * replaced by a new one within the relay's grace period, and the
   * session (and its attendance) goes on instead of closing. */
  stop(keepResource) {
    if (this.resource && !keepResource) {
      fetch(this.resource, {
        method: "DELETE", keepalive: true,
        headers: { Authorization: `Bearer ${this.token}` },
      }).catch(() => {});
      this.resource = null;
    }
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
    this.resource = null;
    this.senders = {};
    this.last = null;
  }
}
