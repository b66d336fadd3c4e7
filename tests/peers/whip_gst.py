#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""WHIP publisher built on GStreamer webrtcbin, for kringkast's tests.

It plays the lecturer: a live test pattern (VP8, or H.264 constrained
baseline with --codec h264) and a sine tone (Opus), sent over WHIP.  The
offer is sendonly with max-bundle.  Without --trickle it waits for ICE
gathering to complete and POSTs an offer carrying every candidate; with
--trickle it POSTs at once and sends its candidates afterwards in PATCH
requests (application/trickle-ice-sdpfrag, RFC 8840 as WHIP uses it),
ending with a=end-of-candidates.  The relay is ICE-lite, so the
candidates in its answer are all this peer's agent gets to connect to.

It runs for --duration seconds after connecting (0: until SIGTERM/SIGINT),
then DELETEs the resource unless --no-delete (a publisher that crashes).
With --markers the picture is black and the sound silent except at
known, irregular times, when both flash white and beep at the same
running time (see avmarkers.py): what a recording's audio/video sync is
measured with.

Exit 0 when it connected and sent media.  The JSON line carries
connected, the time to connect, and bytes/packets sent from get-stats.
"""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import avmarkers  # noqa: E402
import peerlib  # noqa: E402

import gi  # noqa: E402
gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

log = peerlib.log

VIDEO_PT = 96
AUDIO_PT = 111
# With --markers: how long after the connection the media path is still
# starting (see collect_stats).
STARTUP_S = 1.0


def parse_args():
    p = peerlib.common_args(__doc__.splitlines()[0], "whip")
    p.add_argument("--codec", choices=("vp8", "h264"), default="vp8")
    p.add_argument("--trickle", action="store_true",
                   help="POST at once and PATCH candidates afterwards")
    p.add_argument("--no-delete", action="store_true",
                   help="exit without DELETE, as if the publisher crashed")
    p.add_argument("--no-audio", action="store_true")
    p.add_argument("--no-video", action="store_true")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--bitrate", type=int, default=600,
                   help="video bitrate, kbit/s")
    p.add_argument("--keyframe-interval", type=int, default=60,
                   help="frames between forced keyframes (large values make "
                        "viewers depend on PLI)")
    p.add_argument("--min-bytes", type=int, default=1,
                   help="fail unless at least this many bytes were sent")
    p.add_argument("--markers", action="store_true",
                   help="black and silent, with flashes and beeps at the "
                        "same known times (avmarkers.py)")
    p.add_argument("--post-delay", type=float, default=0.0,
                   help="capture and encode for this many seconds before "
                        "POSTing the offer, keeping all that was encoded "
                        "meanwhile (an encoder that starts before it "
                        "connects): the backlog is sent in a burst")
    args = p.parse_args()
    if args.no_audio and args.no_video:
        p.error("nothing to send")
    if args.markers and (args.no_audio or args.no_video):
        p.error("--markers needs both audio and video")
    if args.duration == 0:
        args.timeout = args.timeout or 30.0
    return peerlib.finish_args(args)


def video_branch(args):
    if args.markers:
        raw = avmarkers.video_source(args.width, args.height, args.fps)
    else:
        raw = ("videotestsrc is-live=true pattern=ball ! "
               "video/x-raw,width=%d,height=%d,framerate=%d/1"
               % (args.width, args.height, args.fps))
    raw += (" ! videoconvert ! queue name=vqueue max-size-buffers=2 "
            "leaky=downstream ! ")
    if args.codec == "vp8":
        enc = ("vp8enc deadline=1 cpu-used=8 target-bitrate=%d "
               "keyframe-max-dist=%d error-resilient=partitions ! "
               "rtpvp8pay pt=%d picture-id-mode=15-bit ! "
               "application/x-rtp,media=video,encoding-name=VP8,"
               "clock-rate=90000,payload=%d"
               % (args.bitrate * 1000, args.keyframe_interval, VIDEO_PT,
                  VIDEO_PT))
    else:
        enc = ("x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d "
               "key-int-max=%d ! video/x-h264,profile=constrained-baseline ! "
               "h264parse ! rtph264pay pt=%d config-interval=-1 "
               "aggregate-mode=zero-latency ! "
               "application/x-rtp,media=video,encoding-name=H264,"
               "clock-rate=90000,payload=%d,packetization-mode=(string)1"
               % (args.bitrate, args.keyframe_interval, VIDEO_PT, VIDEO_PT))
    return raw + enc + backlog_queue(args) + " ! pc."


def backlog_queue(args):
    """With --post-delay, an unbounded queue before webrtcbin, which holds
    its input until it is connected: the encoder keeps encoding, and all
    it encoded meanwhile goes out at once, as from a host that captures
    while it connects (OBS, a GStreamer sender on a slow network)."""
    if args.post_delay <= 0:
        return ""
    return " ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0"


def audio_branch(args):
    raw = (avmarkers.audio_source() if args.markers
           else "audiotestsrc is-live=true wave=sine freq=440")
    return (raw + " ! audioconvert ! "
            "audioresample ! queue ! opusenc ! rtpopuspay pt=%d ! "
            "application/x-rtp,media=audio,encoding-name=OPUS,"
            "clock-rate=48000,payload=%d%s ! pc." % (AUDIO_PT, AUDIO_PT,
                                                     backlog_queue(args)))


def frag_from_offer(sdp_text):
    """(ufrag, pwd, first m-line kind, first mid, bundle line) of an offer."""
    ufrag = pwd = kind = mid = bundle = None
    for line in sdp_text.splitlines():
        if line.startswith("a=group:BUNDLE") and bundle is None:
            bundle = line
        elif line.startswith("m=") and kind is None:
            kind = line[2:].split()[0]
        elif line.startswith("a=ice-ufrag:") and ufrag is None:
            ufrag = line.split(":", 1)[1]
        elif line.startswith("a=ice-pwd:") and pwd is None:
            pwd = line.split(":", 1)[1]
        elif line.startswith("a=mid:") and mid is None:
            mid = line.split(":", 1)[1]
    return ufrag, pwd, kind, mid, bundle


class Publisher:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.result = {"peer": "whip_gst", "ok": False, "url": args.url,
                       "connected": False, "trickle": args.trickle,
                       "codec": args.codec}
        self.code = peerlib.EXIT_SETUP
        self.location = None
        self.etag = None
        self.offer_text = None
        self.post_delayed = False
        self.posted = False
        self.candidates = []
        self.cand_lock = threading.Lock()
        self.gathering_done = False
        self.end_sent = False
        self.t_start = time.monotonic()
        self.t_post = None
        self.t_connected = None
        self.stopping = False

        desc = []
        if not args.no_video:
            desc.append(video_branch(args))
        if not args.no_audio:
            desc.append(audio_branch(args))
        desc.append("webrtcbin name=pc bundle-policy=max-bundle")
        self.pipe = Gst.parse_launch(" ".join(desc))
        self.pc = self.pipe.get_by_name("pc")
        self.markers = None
        self.connected_rt = None
        if args.markers:
            # Enough markers for the whole run (until a signal: 4 h).
            seconds = (args.duration + args.timeout + 60 if args.duration > 0
                       else 4 * 3600)
            self.markers = avmarkers.Source(self.pipe, args.width,
                                            args.height, args.fps, seconds,
                                            video_tap="vqueue")
        peerlib.restrict_nice_agent(self.pc, args.local_ip)
        self.pc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.pc.connect("on-ice-candidate", self.on_ice_candidate)
        self.pc.connect("notify::ice-gathering-state", self.on_gathering)
        self.pc.connect("notify::connection-state", self.on_conn_state)
        self.pc.connect("notify::ice-connection-state", self.on_ice_state)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    # -- negotiation -------------------------------------------------------

    def on_negotiation_needed(self, pc):
        if self.offer_text is not None:
            return
        self.offer_text = ""
        for i in range(64):
            t = pc.emit("get-transceiver", i)
            if t is None:
                break
            t.set_property("direction",
                           GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        pc.emit("create-offer", None, promise)

    def on_offer(self, promise, _data):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply else None
        if offer is None:
            GLib.idle_add(self.fail, "create-offer failed: %s" %
                          (reply.to_string() if reply else "no reply"))
            return
        self.pc.emit("set-local-description", offer, Gst.Promise.new())
        self.offer_text = offer.sdp.as_text()
        if self.args.trickle:
            GLib.idle_add(self.post, self.offer_text)
        elif self.gathering_done:
            GLib.idle_add(self.post_gathered)
        # otherwise on_gathering posts once gathering completes

    def on_ice_candidate(self, pc, mline, candidate):
        with self.cand_lock:
            self.candidates.append((mline, candidate))
        if self.args.trickle:
            GLib.idle_add(self.send_trickle)

    def on_gathering(self, pc, _pspec):
        state = pc.get_property("ice-gathering-state")
        log.info("ICE gathering %s", state.value_nick)
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.gathering_done = True
            if self.args.trickle:
                GLib.idle_add(self.send_trickle)
            elif self.offer_text:
                GLib.idle_add(self.post_gathered)

    def post_gathered(self):
        if self.posted:
            return False
        sdp = self.pc.get_property("local-description").sdp.as_text()
        if not peerlib.sdp_has_candidates(sdp):
            # webrtcbin normally folds gathered candidates into the local
            # description; add them by hand if this version did not
            with self.cand_lock:
                lines = ["a=%s" % c for m, c in self.candidates if m == 0]
            sdp = self.insert_candidates(sdp, lines)
        self.post(sdp)
        return False

    @staticmethod
    def insert_candidates(sdp, lines):
        out = []
        seen_m = 0
        for line in sdp.replace("\r\n", "\n").rstrip("\n").split("\n"):
            if line.startswith("m="):
                seen_m += 1
                if seen_m == 2:
                    out.extend(lines + ["a=end-of-candidates"])
            out.append(line)
        if seen_m < 2:
            out.extend(lines + ["a=end-of-candidates"])
        return "\r\n".join(out) + "\r\n"

    def post(self, sdp):
        if self.posted:
            return False
        if self.args.post_delay > 0 and not self.post_delayed:
            # The pipeline is playing already: what it captures meanwhile
            # is what a slowly connecting host's webrtcbin sends at once.
            self.post_delayed = True
            log.info("POSTing the offer in %.1f s", self.args.post_delay)
            GLib.timeout_add(int(self.args.post_delay * 1000), self.post, sdp)
            return False
        self.posted = True
        peerlib.log_sdp("offer", sdp)
        self.t_post = time.monotonic()
        r = peerlib.http("POST", self.args.url, sdp, "application/sdp",
                         self.args.token, timeout=self.args.timeout)
        self.result["status"] = r.status
        self.result["post_ms"] = round(r.elapsed * 1000)
        if r.status != 201:
            self.result["response"] = r.body[:500]
            if r.status == self.args.expect_status:
                log.info("POST returned the expected %d", r.status)
                self.result["ok"] = True
                self.code = peerlib.EXIT_OK
                self.loop.quit()
            else:
                self.fail("POST returned %d: %s" % (r.status, r.body[:200]))
            return False
        self.location = peerlib.resolve_location(self.args.url,
                                                 r.header("Location"))
        self.etag = r.header("ETag")
        self.result["location"] = self.location
        if self.args.expect_status != 201:
            self.delete()
            self.code = peerlib.EXIT_ASSERT
            self.result["error"] = "expected %d, got 201" % self.args.expect_status
            self.loop.quit()
            return False
        peerlib.log_sdp("answer", r.body)
        self.result["answer_has_candidates"] = peerlib.sdp_has_candidates(r.body)
        self.result["answer_ice_lite"] = "a=ice-lite" in r.body
        ok, msg = GstSdp.SDPMessage.new_from_text(r.body)
        if ok != GstSdp.SDPResult.OK:
            self.fail("answer does not parse as SDP")
            return False
        answer = GstWebRTC.WebRTCSessionDescription.new(
            GstWebRTC.WebRTCSDPType.ANSWER, msg)
        promise = Gst.Promise.new()
        self.pc.emit("set-remote-description", answer, promise)
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            self.fail("set-remote-description: %s" %
                      reply.get_value("error").message)
            return False
        if self.args.trickle:
            self.send_trickle()
        return False

    def send_trickle(self):
        """PATCH the candidates gathered so far (RFC 8840 sdpfrag)."""
        if not self.location or self.end_sent or self.stopping:
            return False
        with self.cand_lock:
            batch = [c for m, c in self.candidates if m == 0]
            self.candidates = []
        end = self.gathering_done
        if not batch and not end:
            return False
        ufrag, pwd, kind, mid, bundle = frag_from_offer(self.offer_text)
        lines = []
        if bundle:
            lines.append(bundle)
        lines.append("m=%s 9 UDP/TLS/RTP/SAVPF 0" % (kind or "video"))
        if mid is not None:
            lines.append("a=mid:%s" % mid)
        lines += ["a=ice-ufrag:%s" % ufrag, "a=ice-pwd:%s" % pwd]
        lines += ["a=%s" % c for c in batch]
        if end:
            lines.append("a=end-of-candidates")
            self.end_sent = True
        frag = "\r\n".join(lines) + "\r\n"
        headers = {"If-Match": self.etag} if self.etag else None
        r = peerlib.http("PATCH", self.location, frag,
                         "application/trickle-ice-sdpfrag", self.args.token,
                         extra_headers=headers)
        log.info("PATCH %d candidate(s)%s -> %d", len(batch),
                 " + end" if end else "", r.status)
        self.result.setdefault("patch_statuses", []).append(r.status)
        return False

    # -- state -------------------------------------------------------------

    def on_ice_state(self, pc, _pspec):
        log.info("ICE %s", pc.get_property("ice-connection-state").value_nick)

    def on_conn_state(self, pc, _pspec):
        state = pc.get_property("connection-state")
        log.info("connection %s", state.value_nick)
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            GLib.idle_add(self.on_connected)
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED \
                and not self.stopping:
            GLib.idle_add(self.fail, "peer connection failed")

    def on_connected(self):
        if self.t_connected is not None:
            return False
        self.t_connected = time.monotonic()
        if self.markers is not None:
            self.connected_rt = self.markers.running_time()
        self.result["connected"] = True
        self.result["connect_ms"] = round((self.t_connected - self.t_post) * 1000)
        if self.args.duration > 0:
            GLib.timeout_add(int(self.args.duration * 1000), self.stop)
        return False

    def on_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        self.fail("pipeline error: %s (%s)" % (err.message, dbg))

    def fail(self, why):
        log.error("%s", why)
        self.result.setdefault("error", why)
        self.stop()
        return False

    def on_timeout(self):
        if self.t_connected is None:
            self.fail("not connected within %.1f s" % self.args.timeout)
        else:
            self.stop()
        return False

    def stop(self):
        if self.stopping:
            return False
        self.stopping = True
        self.collect_stats()
        if not self.args.no_delete:
            self.delete()
        self.loop.quit()
        return False

    def delete(self):
        if not self.location:
            return
        r = peerlib.http("DELETE", self.location, token=self.args.token)
        self.result["delete_status"] = r.status
        log.info("DELETE %s -> %d", self.location, r.status)

    def collect_stats(self):
        sent_bytes = sent_packets = 0
        for s in peerlib.gst_stats(self.pc).values():
            if s.get("type") == "outbound-rtp":
                sent_bytes += s.get("bytes-sent", 0)
                sent_packets += s.get("packets-sent", 0)
                self.result.setdefault("pli_received", 0)
                self.result["pli_received"] += s.get("pli-count", 0)
        self.result["bytes_sent"] = sent_bytes
        self.result["packets_sent"] = sent_packets
        if self.markers is not None:
            # What left before the connection was up, and in the moments
            # after it, took the start-up path: webrtcbin holds media back
            # until it is connected (the raw sources drop meanwhile, which
            # the taps see), then the first keyframe, which a receiver
            # that starts then asks for, comes out of a busy encoder. A
            # marker there may reach the wire with frames missing past
            # the tap, so it says nothing of the receiver: only markers
            # from STARTUP_S after the connection are vouched for.
            since = (self.connected_rt + STARTUP_S
                     if self.connected_rt is not None else None)
            everything = self.markers.offsets()
            vouched = self.markers.offsets(since)
            self.result["source_offsets_ms"] = {
                str(i): round(o * 1000, 1) for i, o in sorted(vouched.items())}
            self.result["startup_markers"] = sorted(set(everything)
                                                    - set(vouched))

    def run(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, self.stop)
        deadline = (self.args.timeout if self.args.duration > 0
                    else None)
        if deadline:
            GLib.timeout_add(int(deadline * 1000), self.on_timeout)
        else:
            # duration 0: run until a signal, but still insist on connecting
            GLib.timeout_add(int(self.args.timeout * 1000), self.check_connected)
        if self.pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.result["error"] = "pipeline would not start"
            return peerlib.EXIT_SETUP
        if self.markers is not None:
            self.markers.start()
        self.loop.run()
        if self.markers is not None:
            self.markers.stop()
        self.pipe.set_state(Gst.State.NULL)
        self.result["run_s"] = round(time.monotonic() - self.t_start, 3)
        if "error" in self.result:
            return self.code if self.result.get("ok") else (
                peerlib.EXIT_ASSERT if self.result["connected"]
                else peerlib.EXIT_SETUP)
        if self.result.get("ok"):
            return self.code
        if not self.result["connected"]:
            self.result["error"] = "never connected"
            return peerlib.EXIT_SETUP
        if self.result.get("bytes_sent", 0) < self.args.min_bytes:
            self.result["error"] = "sent %d bytes < %d" % (
                self.result.get("bytes_sent", 0), self.args.min_bytes)
            return peerlib.EXIT_ASSERT
        self.result["ok"] = True
        return peerlib.EXIT_OK

    def check_connected(self):
        if self.t_connected is None:
            self.fail("not connected within %.1f s" % self.args.timeout)
        return False


def main():
    args = parse_args()
    global log
    log = peerlib.setup_logging("whip_gst", args.verbose)
    Gst.init(None)
    pub = Publisher(args)
    code = pub.run()
    peerlib.emit(pub.result)
    return code


if __name__ == "__main__":
    sys.exit(main())
