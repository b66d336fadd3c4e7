/* SPDX-License-Identifier: Apache-2.0 */
/* A WHEP client for the browser: receive-only audio and video from
 * Kringkast. The relay is an ICE-lite agent that learns our addresses from
 * our checks, so the offer goes out at once, without waiting for ICE
 * candidates to be gathered. */
"use strict";

class WhepClient {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.pc = null;
    this.resource = null;
    this.onstream = null;
    this.onstate = null;
    this.iceServers = [];   /* TURN servers, set before start() */
  }

  async start() {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: this.iceServers });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    pc.ontrack = (event) => {
      stream.addTrack(event.track);
      if (this.onstream) this.onstream(stream);
    };
    pc.onconnectionstatechange = () => {
      if (this.onstate) this.onstate(pc.connectionState);
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${this.token}` },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    this.resource = new URL(response.headers.get("Location"), this.url).toString();
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  }

  async stats() {
    if (!this.pc) return null;
    const report = await this.pc.getStats();
    const result = { framesDecoded: 0, packetsLost: 0, packetsReceived: 0, rtt: null, width: 0, height: 0 };
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        result.framesDecoded = s.framesDecoded || 0;
        result.packetsLost += s.packetsLost || 0;
        result.packetsReceived += s.packetsReceived || 0;
        result.width = s.frameWidth || 0;
        result.height = s.frameHeight || 0;
      } else if (s.type === "inbound-rtp" && s.kind === "audio") {
        result.packetsLost += s.packetsLost || 0;
        result.packetsReceived += s.packetsReceived || 0;
      } else if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) {
        result.rtt = s.currentRoundTripTime;
      }
    });
    return result;
  }

  /* Ends the viewer on the relay (WHEP DELETE) and locally. keepalive lets
   * the DELETE go out while the page unloads. */
  stop() {
    if (this.resource) {
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
  }
}
