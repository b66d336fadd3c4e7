#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""WHEP viewer built on aiortc, for kringkast's integration tests.

aiortc is an implementation of WebRTC that shares no code with kringkast's
stack or with libnice/GStreamer, so a viewer that decodes real frames with
it is independent evidence that the relay's ICE-lite, DTLS-SRTP and RTP
forwarding interoperate.  It offers the way aiortc 1.4 does: recvonly
audio and video, BUNDLE, ICE credentials on every m-line, all candidates in
the offer (no trickle), VP8 and H.264.

It counts what the decoders produce, not what arrives: a video frame is an
av.VideoFrame out of aiortc's VP8/H.264 decoder, audio is the sum of
decoded samples.  The run lasts --duration seconds after the answer; if
the minimums are not reached by then it keeps going until they are or
--timeout expires.  On exit it DELETEs the WHEP resource.

Prints one JSON line, e.g.
  {"ok": true, "status": 201, "video_frames": 143, "width": 640, ...}
"""

import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

log = peerlib.log


def parse_args():
    p = peerlib.common_args(__doc__.splitlines()[0], "whep")
    p.add_argument("--min-video-frames", type=int, default=1)
    p.add_argument("--min-audio-ms", type=float, default=0.0)
    p.add_argument("--video-first", action="store_true",
                   help="put the video m-line before the audio one")
    p.add_argument("--no-audio", action="store_true",
                   help="offer video only")
    p.add_argument("--no-delete", action="store_true",
                   help="leave without DELETE (a viewer that vanishes)")
    p.add_argument("--drop-every", type=int, default=0, metavar="N",
                   help="drop every Nth video packet on arrival, as a lossy "
                   "link would: aiortc NACKs it, and the retransmission "
                   "must be the very packet dropped")
    p.add_argument("--start-layer", choices=["full", "light"],
                   help="right after the answer, before connecting, PATCH "
                   "{\"quality\": \"auto\", \"start\": LAYER}: a screen "
                   "that had this layer last time")
    p.add_argument("--quality", action="append", default=[],
                   metavar="SECONDS:QUALITY",
                   help="this many seconds after the answer, PATCH the "
                   "resource with {\"quality\": QUALITY}; repeatable")
    p.add_argument("--count-frames", action="store_true",
                   help="count whole VP8 frames as they leave the jitter "
                   "buffer, with picture sizes from the keyframes' headers, "
                   "instead of decoding each: a fraction of the CPU, for "
                   "the long runs on a busy machine")
    p.add_argument("--ice-servers", default=None,
                   help="URL of the relay's ice-servers route: fetched with "
                        "the token, like the nurse's page, and used as the "
                        "peer connection's TURN servers")
    return peerlib.finish_args(p.parse_args())


def ice_configuration(args):
    # What the nurse's page does before its offer: ask the relay for the
    # TURN servers and credentials minted for this token.
    from aiortc import RTCConfiguration, RTCIceServer
    if args.ice_servers is None:
        return None
    r = peerlib.http("GET", args.ice_servers, token=args.token)
    if r.status != 200:
        raise RuntimeError("ice-servers: HTTP %d" % r.status)
    servers = json.loads(r.body)["ice_servers"]
    return RTCConfiguration(iceServers=[
        RTCIceServer(urls=s["urls"], username=s["username"],
                     credential=s["credential"]) for s in servers])


def loopback_only_ice(local_ip):
    # aioice gathers on every interface except 127.0.0.1 and ::1; the tests
    # talk to a relay on loopback, so gather there and nowhere else.
    import aioice.ice
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [local_ip]


def bundle_safe_extmap():
    # aiortc 1.4 offers extmap id 2 for ssrc-audio-level on the audio
    # m-line and for abs-send-time on the video one, yet keeps a single id
    # map per bundled transport: an audio packet carrying the 1-byte level
    # then fails to parse as abs-send-time and kills the receive loop.
    # RFC 8843 wants one id per URI across a bundle anyway, so give the
    # audio level an id of its own.
    from aiortc.codecs import HEADER_EXTENSIONS
    for ext in HEADER_EXTENSIONS["audio"]:
        if ext.uri == "urn:ietf:params:rtp-hdrext:ssrc-audio-level":
            ext.id = 3


class Vp8FrameCounter:
    """Stands in for aiortc's VP8 decoder (--count-frames): each whole
    frame the jitter buffer hands it counts as a picture, of the size the
    last keyframe's header gave (RFC 6386 §9.1: a 3-byte frame tag whose
    lowest bit is 0 on a keyframe, the start code 9d 01 2a, then 14-bit
    width and height). Decoding them would show the same pictures (the
    decoder, too, gets only whole frames, and shows one for each) at a
    cost the long shaped-link runs do not need: two viewers for two and a
    half minutes on a busy 2-core machine, beside the relay they judge."""

    class Picture:
        def __init__(self, width, height):
            self.width = width
            self.height = height

    def __init__(self):
        self.width = self.height = None

    def decode(self, encoded_frame):
        data = encoded_frame.data
        if len(data) >= 10 and not data[0] & 1 and data[3:6] == b"\x9d\x01\x2a":
            self.width = (data[6] | data[7] << 8) & 0x3fff
            self.height = (data[8] | data[9] << 8) & 0x3fff
        if self.width is None:
            return []       # no keyframe yet: a decoder shows nothing either
        return [self.Picture(self.width, self.height)]


def count_vp8_frames():
    import aiortc.rtcrtpreceiver as receiver
    get_decoder = receiver.get_decoder

    def get(codec):
        if codec.mimeType.lower() == "video/vp8":
            return Vp8FrameCounter()
        return get_decoder(codec)
    receiver.get_decoder = get


def vp8_picture_id(payload):
    """The picture id of a VP8 payload descriptor (RFC 7741), or None."""
    if len(payload) < 3 or not payload[0] & 0x80 or not payload[1] & 0x80:
        return None
    if payload[2] & 0x80:
        return ((payload[2] & 0x7f) << 8) | payload[3] if len(payload) > 3 else None
    return payload[2]


class VideoRtp:
    """The video RTP stream as it arrives, checked for what a relay that
    splices layers must keep: sequence numbers that continue (a gap is a
    packet never sent, or lost: on loopback, never sent), timestamps that
    never go back, VP8 picture ids +1 per new picture."""

    def __init__(self, drop_every=0):
        self.packets = 0
        self.ssrcs = set()
        self.drop_every = drop_every
        self.dropped = {}       # seq -> (monotonic time, SRTP bytes)
        self.ever_dropped = set()
        self.raw_video = 0
        self.drops = 0
        self.recovered = 0
        self.mismatched = 0
        self.highest = None
        self.seq_gaps = 0
        self.last_ts = None
        self.ts_backwards = 0
        self.last_pid = None
        self.pid_gaps = 0
        self.pid_bits = 15
        # Loss after retransmission, per second since the POST (t0, set
        # by the session): packets that arrived in order, and sequence
        # numbers skipped that no retransmission brought back later.
        self.t0 = time.monotonic()
        self.arrived_per_second = []
        self.missing = {}       # seq -> second it went missing

    def drop_raw(self, data, video_pt):
        """Decides for one datagram as it arrives, before SRTP: True to
        lose it (every drop_every-th video packet, the first time). A
        retransmission of one lost must be the very same SRTP packet: the
        same sequence number, rewritten the same way, encrypted under the
        same index."""
        if not self.drop_every or len(data) < 12 or not 127 < data[0] < 192:
            return False
        if data[1] & 0x7f != video_pt or 192 <= data[1] <= 223:
            return False
        seq = (data[2] << 8) | data[3]
        if seq in self.dropped:
            _, lost = self.dropped.pop(seq)
            if data == lost:
                self.recovered += 1
            else:
                self.mismatched += 1
                log.info("retransmission of %d is not the packet dropped", seq)
            return False
        if seq in self.ever_dropped:
            return False
        self.raw_video += 1
        if self.raw_video % self.drop_every == 0:
            self.dropped[seq] = (time.monotonic(), bytes(data))
            self.ever_dropped.add(seq)
            self.drops += 1
            return True
        return False

    def add(self, packet):
        self.packets += 1
        self.ssrcs.add(packet.ssrc)
        self.check(packet)

    def check(self, packet):
        seq = packet.sequence_number
        if self.highest is not None:
            delta = (seq - self.highest) & 0xffff
            if delta == 0 or delta >= 0x8000:
                self.missing.pop(seq, None)     # repaired after all
                return False    # a duplicate or a retransmission of an old one
            if delta > 1:
                second = self.second()
                for i in range(1, delta):
                    self.missing[(self.highest + i) & 0xffff] = second
                missing = {(self.highest + i) & 0xffff for i in range(1, delta)}
                if missing <= self.ever_dropped:
                    # Lost on purpose (--drop-every): not the relay's gap;
                    # a whole picture may be among them.
                    self.last_pid = None
                else:
                    self.seq_gaps += 1
                    log.info("video sequence gap %d -> %d", self.highest, seq)
        self.highest = seq
        second = self.second()
        while len(self.arrived_per_second) <= second:
            self.arrived_per_second.append(0)
        self.arrived_per_second[second] += 1
        if self.last_ts is not None and ((packet.timestamp - self.last_ts) & 0xffffffff) >= 0x80000000:
            self.ts_backwards += 1
        new_picture = self.last_ts is None or packet.timestamp != self.last_ts
        self.last_ts = packet.timestamp
        pid = vp8_picture_id(packet.payload)
        if pid is not None and new_picture:
            mask = 0x7fff if packet.payload[2] & 0x80 else 0x7f
            if self.last_pid is not None and pid != (self.last_pid + 1) & mask:
                self.pid_gaps += 1
                log.info("picture id %d after %d", pid, self.last_pid)
            self.last_pid = pid
        return True

    def second(self):
        return int(time.monotonic() - self.t0)

    def loss_timeline(self):
        """[arrived, lost for good] per second since the POST."""
        lost = [0] * len(self.arrived_per_second)
        for second in self.missing.values():
            while len(lost) <= second:
                lost.append(0)
            lost[second] += 1
        arrived = self.arrived_per_second + [0] * (len(lost) - len(self.arrived_per_second))
        return [[a, b] for a, b in zip(arrived, lost)]

    def report(self):
        # Dropped in the last second: their NACK may still be on its way.
        now = time.monotonic()
        unrecovered = sum(1 for t, _ in self.dropped.values() if now - t > 1.0)
        return {"packets": self.packets, "ssrcs": len(self.ssrcs),
                "seq_gaps": self.seq_gaps, "ts_backwards": self.ts_backwards,
                "picture_id_gaps": self.pid_gaps, "dropped": self.drops,
                "recovered": self.recovered, "mismatched": self.mismatched,
                "unrecovered": unrecovered}


class Counters:
    def __init__(self):
        self.video_frames = 0
        self.width = None
        self.height = None
        self.audio_samples = 0
        self.audio_ms = 0.0
        self.audio_rate = None
        self.first_video = None
        self.first_audio = None
        self.ended = set()
        # Decoded video frames per whole second since the POST: shows when
        # the picture stopped and came back (a publisher restart, say).
        self.video_timeline = []
        # Milliseconds of sound decoded per whole second since the POST.
        self.audio_timeline = []
        self.payload_types = {}
        self.codec_names = {}
        self.video_rtp = VideoRtp()
        self.sizes = []


async def consume(track, c, t_post):
    from aiortc.mediastreams import MediaStreamError
    kind = track.kind
    try:
        while True:
            frame = await track.recv()
            now = time.monotonic()
            if kind == "video":
                c.video_frames += 1
                second = int(now - t_post)
                while len(c.video_timeline) <= second:
                    c.video_timeline.append(0)
                c.video_timeline[second] += 1
                if (frame.width, frame.height) != (c.width, c.height):
                    # When the picture changed size (a layer switch).
                    c.sizes.append([round(now - t_post, 1), frame.width,
                                    frame.height])
                c.width, c.height = frame.width, frame.height
                if c.first_video is None:
                    c.first_video = now - t_post
                    log.info("first decoded video frame %dx%d after %.0f ms",
                             frame.width, frame.height, c.first_video * 1000)
            else:
                c.audio_samples += frame.samples
                c.audio_rate = frame.sample_rate
                c.audio_ms += frame.samples * 1000.0 / frame.sample_rate
                second = int(now - t_post)
                while len(c.audio_timeline) <= second:
                    c.audio_timeline.append(0.0)
                c.audio_timeline[second] += frame.samples * 1000.0 / frame.sample_rate
                if c.first_audio is None:
                    c.first_audio = now - t_post
                    log.info("first decoded audio frame after %.0f ms",
                             c.first_audio * 1000)
    except MediaStreamError:
        log.info("%s track ended", kind)
    finally:
        c.ended.add(kind)


def count_payload_types(pc, c):
    """Counts the payload types of the RTP packets each receiver gets: an
    answer may list several codecs, this says which one really came."""
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        original = receiver._handle_rtp_packet

        async def counting(packet, arrival_time_ms, original=original,
                           kind=transceiver.kind):
            c.payload_types[packet.payload_type] = (
                c.payload_types.get(packet.payload_type, 0) + 1)
            if kind == "video":
                c.video_rtp.add(packet)
            return await original(packet, arrival_time_ms)
        receiver._handle_rtp_packet = counting


def lose_video(pc, c):
    """Loses video packets as they arrive, before SRTP (see
    VideoRtp.drop_raw): a lossy link, in the peer."""
    video_pt = next(pt for pt, name in c.codec_names.items()
                    if name.upper() in ("VP8", "H264"))
    ice = pc.getTransceivers()[0].receiver.transport.transport
    recv = ice._recv

    async def lossy_recv():
        while True:
            data = await recv()
            if not c.video_rtp.drop_raw(data, video_pt):
                return data
    ice._recv = lossy_recv


async def session(args, result):
    from aiortc import RTCPeerConnection, RTCSessionDescription

    loop = asyncio.get_running_loop()
    c = Counters()
    c.video_rtp.drop_every = args.drop_every
    pc = RTCPeerConnection(ice_configuration(args))
    tasks = []
    kinds = ["video"] if args.no_audio else (
        ["video", "audio"] if args.video_first else ["audio", "video"])
    for kind in kinds:
        pc.addTransceiver(kind, direction="recvonly")

    state = {"t_post": None}

    @pc.on("track")
    def on_track(track):
        log.info("remote %s track", track.kind)
        tasks.append(asyncio.ensure_future(consume(track, c, state["t_post"])))

    @pc.on("connectionstatechange")
    def on_conn():
        log.info("connection state %s", pc.connectionState)
        if pc.connectionState == "connected" and "connected_ms" not in result:
            result["connected_ms"] = round(
                (time.monotonic() - state["t_post"]) * 1000)

    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    peerlib.log_sdp("offer", offer)

    state["t_post"] = time.monotonic()
    c.video_rtp.t0 = state["t_post"]
    r = await loop.run_in_executor(
        None, lambda: peerlib.http("POST", args.url, offer, "application/sdp",
                                   args.token, timeout=args.timeout))
    result["status"] = r.status
    result["post_ms"] = round(r.elapsed * 1000)
    if r.status != 201:
        result["response"] = r.body[:500]
        await pc.close()
        if r.status == args.expect_status:
            log.info("POST returned the expected %d", r.status)
            result["ok"] = True
            return peerlib.EXIT_OK
        result["error"] = "POST returned %d: %s" % (r.status, r.body[:200])
        return peerlib.EXIT_SETUP
    if args.expect_status != 201:
        result["error"] = "expected %d, got 201" % args.expect_status
        location = peerlib.resolve_location(args.url, r.header("Location"))
        if location:
            peerlib.http("DELETE", location, token=args.token)
        await pc.close()
        return peerlib.EXIT_ASSERT

    location = peerlib.resolve_location(args.url, r.header("Location"))
    result["location"] = location
    ctype = (r.header("Content-Type") or "").split(";")[0].strip()
    if ctype != "application/sdp":
        log.warning("answer Content-Type is %r", ctype)
        result["answer_content_type"] = ctype
    if not location:
        log.warning("201 without Location")
    peerlib.log_sdp("answer", r.body)
    if args.start_layer:
        body = '{"quality": "auto", "start": "%s"}' % args.start_layer
        q = await loop.run_in_executor(
            None, lambda: peerlib.http("PATCH", location, body,
                                       "application/json", args.token))
        result["start_reply"] = q.status
    c.codec_names = peerlib.sdp_payload_codecs(r.body)
    result["codecs"] = peerlib.sdp_media_codecs(r.body)
    try:
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=r.body, type="answer"))
        count_payload_types(pc, c)
        if args.drop_every:
            lose_video(pc, c)
    except Exception as e:  # aiortc raises plain ValueError etc.
        result["error"] = "setRemoteDescription: %s" % e
        await pc.close()
        return peerlib.EXIT_SETUP

    t_answer = time.monotonic()
    deadline = state["t_post"] + args.timeout
    schedule = sorted((float(at), quality) for at, quality in
                      (item.split(":", 1) for item in args.quality))
    result["quality_replies"] = []

    def satisfied():
        return (c.video_frames >= args.min_video_frames
                and c.audio_ms >= args.min_audio_ms)

    while True:
        now = time.monotonic()
        if now >= deadline:
            log.info("timeout reached")
            break
        if now - t_answer >= args.duration and satisfied():
            break
        if pc.connectionState in ("failed", "closed"):
            log.info("peer connection %s", pc.connectionState)
            break
        if tasks and len(c.ended) == len(tasks):
            log.info("all tracks ended")
            break
        if schedule and now - t_answer >= schedule[0][0]:
            _, quality = schedule.pop(0)
            body = '{"quality": "%s"}' % quality
            q = await loop.run_in_executor(
                None, lambda: peerlib.http("PATCH", location, body,
                                           "application/json", args.token))
            log.info("quality %s -> %d %s", quality, q.status, q.body[:100])
            result["quality_replies"].append(q.status)
        await asyncio.sleep(0.05)

    result["receive_s"] = round(time.monotonic() - t_answer, 3)
    try:
        stats = await pc.getStats()
        for s in stats.values():
            if s.type == "inbound-rtp":
                result["%s_packets" % s.kind] = s.packetsReceived
    except Exception as e:
        log.warning("getStats: %s", e)

    if location:
        g = await loop.run_in_executor(
            None, lambda: peerlib.http("GET", location, token=args.token))
        if g.status == 200:
            result["relay_stats"] = json.loads(g.body)
    if location and not args.no_delete:
        d = await loop.run_in_executor(
            None, lambda: peerlib.http("DELETE", location, token=args.token))
        result["delete_status"] = d.status
        log.info("DELETE %s -> %d", location, d.status)

    result["connection_state"] = pc.connectionState
    await pc.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    result["video_frames"] = c.video_frames
    result["video_timeline"] = c.video_timeline
    result["audio_timeline"] = [round(ms) for ms in c.audio_timeline]
    result["video_rtp"] = c.video_rtp.report()
    result["video_sizes"] = c.sizes
    result["video_loss_timeline"] = c.video_rtp.loss_timeline()
    result["received_codecs"] = {
        c.codec_names.get(pt, str(pt)): n for pt, n in c.payload_types.items()}
    result["width"] = c.width
    result["height"] = c.height
    result["audio_ms"] = round(c.audio_ms, 1)
    result["audio_rate"] = c.audio_rate
    result["first_video_frame_ms"] = (
        round(c.first_video * 1000) if c.first_video is not None else None)
    result["first_audio_ms"] = (
        round(c.first_audio * 1000) if c.first_audio is not None else None)

    failures = []
    if c.video_frames < args.min_video_frames:
        failures.append("video frames %d < %d"
                        % (c.video_frames, args.min_video_frames))
    if c.audio_ms < args.min_audio_ms:
        failures.append("audio %.0f ms < %.0f ms"
                        % (c.audio_ms, args.min_audio_ms))
    if failures:
        result["error"] = "; ".join(failures)
        return peerlib.EXIT_ASSERT
    result["ok"] = True
    return peerlib.EXIT_OK


def main():
    args = parse_args()
    peerlib.setup_logging("whep_aiortc", args.verbose)
    global log
    log = peerlib.log
    loopback_only_ice(args.local_ip)
    bundle_safe_extmap()
    if args.count_frames:
        count_vp8_frames()
    result = {"peer": "whep_aiortc", "ok": False, "url": args.url}
    loop = asyncio.new_event_loop()
    try:
        # the margin lets the session finish its own timeout path (stats,
        # DELETE) before this outer guard fires
        code = loop.run_until_complete(
            asyncio.wait_for(session(args, result), args.timeout + 10))
    except asyncio.TimeoutError:
        result["error"] = "hard timeout"
        code = peerlib.EXIT_SETUP
    except Exception as e:
        log.exception("peer failed")
        result["error"] = "%s: %s" % (type(e).__name__, e)
        code = peerlib.EXIT_SETUP
    peerlib.emit(result)
    return code


if __name__ == "__main__":
    sys.exit(main())
