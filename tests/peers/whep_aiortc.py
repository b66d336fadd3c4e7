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
        self.payload_types = {}
        self.codec_names = {}


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
                c.width, c.height = frame.width, frame.height
                if c.first_video is None:
                    c.first_video = now - t_post
                    log.info("first decoded video frame %dx%d after %.0f ms",
                             frame.width, frame.height, c.first_video * 1000)
            else:
                c.audio_samples += frame.samples
                c.audio_rate = frame.sample_rate
                c.audio_ms += frame.samples * 1000.0 / frame.sample_rate
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

        async def counting(packet, arrival_time_ms, original=original):
            c.payload_types[packet.payload_type] = (
                c.payload_types.get(packet.payload_type, 0) + 1)
            return await original(packet, arrival_time_ms)
        receiver._handle_rtp_packet = counting


async def session(args, result):
    from aiortc import RTCPeerConnection, RTCSessionDescription

    loop = asyncio.get_running_loop()
    c = Counters()
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
    c.codec_names = peerlib.sdp_payload_codecs(r.body)
    result["codecs"] = peerlib.sdp_media_codecs(r.body)
    try:
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=r.body, type="answer"))
        count_payload_types(pc, c)
    except Exception as e:  # aiortc raises plain ValueError etc.
        result["error"] = "setRemoteDescription: %s" % e
        await pc.close()
        return peerlib.EXIT_SETUP

    t_answer = time.monotonic()
    deadline = state["t_post"] + args.timeout

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
        await asyncio.sleep(0.05)

    result["receive_s"] = round(time.monotonic() - t_answer, 3)
    try:
        stats = await pc.getStats()
        for s in stats.values():
            if s.type == "inbound-rtp":
                result["%s_packets" % s.kind] = s.packetsReceived
    except Exception as e:
        log.warning("getStats: %s", e)

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
