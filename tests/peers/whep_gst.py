#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""WHEP viewer built on GStreamer webrtcbin, for kringkast's tests.

The libnice/webrtcbin counterpart of whep_aiortc.py.  It offers two
recvonly transceivers (video first, VP8 and H.264 constrained baseline;
then Opus audio) with bundle-policy max-bundle, so the audio m-line is
bundle-only with port 0.  It waits for ICE gathering to complete and
POSTs an offer carrying all its candidates.  Every stream webrtcbin
exposes goes through decodebin; frames and audio samples are counted as
they leave the decoders.

--tcp-only turns off UDP in the ICE agent, so the only way in is ICE-TCP
(RFC 6544) to the relay's passive TCP candidate on the media port; the
selected candidate pair is reported from get-stats.

--markers FPS measures the audio/video sync of a whip_gst.py --markers
publisher as this receiver plays it (its rtpbin lines audio and video up
from the relay's RTCP sender reports): the running time of every flash
and beep after the decoders (avmarkers.Onsets), matched to the schedule,
reported per marker with the size of the picture it was decoded at.
--quality SECONDS:QUALITY PATCHes the resource with that quality so many
seconds after the answer (repeatable), moving the viewer between layers.
For H.264, every stream the decoder is given (h264parse's caps: profile,
width, height) is reported in order with whether it began on a keyframe:
a layer switch the viewer's decoder cannot start cleanly shows there.

Runs --duration seconds after the answer, longer while the minimums are
unmet, at most --timeout; DELETEs the resource on exit.
"""

import json
import os
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

VIDEO_CAPS = (
    "application/x-rtp,media=video,encoding-name=VP8,payload=96,"
    "clock-rate=90000,rtcp-fb-nack-pli=(boolean)true,"
    "rtcp-fb-nack=(boolean)true,rtcp-fb-ccm-fir=(boolean)true;"
    "application/x-rtp,media=video,encoding-name=H264,payload=102,"
    "clock-rate=90000,packetization-mode=(string)1,"
    "profile-level-id=(string)42e01f,level-asymmetry-allowed=(string)1,"
    "rtcp-fb-nack-pli=(boolean)true,rtcp-fb-nack=(boolean)true,"
    "rtcp-fb-ccm-fir=(boolean)true")
AUDIO_CAPS = ("application/x-rtp,media=audio,encoding-name=OPUS,payload=111,"
              "clock-rate=48000,encoding-params=(string)2")


def parse_args():
    p = peerlib.common_args(__doc__.splitlines()[0], "whep")
    p.add_argument("--min-video-frames", type=int, default=1)
    p.add_argument("--min-audio-ms", type=float, default=0.0)
    p.add_argument("--tcp-only", action="store_true",
                   help="ICE over TCP only (no UDP candidates)")
    p.add_argument("--no-audio", action="store_true", help="offer video only")
    p.add_argument("--no-delete", action="store_true",
                   help="leave without DELETE (a viewer that vanishes)")
    p.add_argument("--markers", type=int, default=0, metavar="FPS",
                   help="measure the sync markers of a whip_gst.py "
                   "--markers publisher at FPS")
    p.add_argument("--quality", action="append", default=[],
                   metavar="SECONDS:QUALITY",
                   help="this many seconds after the answer, PATCH the "
                   "resource with {\"quality\": QUALITY}; repeatable")
    return peerlib.finish_args(p.parse_args())


def add_to_second(timeline, seconds, amount):
    second = int(seconds)
    while len(timeline) <= second:
        timeline.append(0)
    timeline[second] += amount


class Viewer:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.result = {"peer": "whep_gst", "ok": False, "url": args.url,
                       "tcp_only": args.tcp_only}
        self.lock = threading.Lock()
        self.video_frames = 0
        self.width = self.height = None
        self.audio_ms = 0.0
        # Decoded pictures, and milliseconds of sound, per whole second
        # since the POST; and [seconds, width, height] at each change of
        # picture size (a layer switch): a run on a link that narrows and
        # opens again is judged from these.
        self.video_timeline = []
        self.audio_timeline = []
        self.video_loss_timeline = []
        self.loss_counted = (0, 0)
        self.sizes = []
        self.first_video = self.first_audio = None
        self.t_post = None
        self.t_answer = None
        self.location = None
        self.posted = False
        self.offer_ready = False
        self.gathering_done = False
        self.stopping = False
        self.code = peerlib.EXIT_SETUP
        self.ssrc_kind = {}
        self.onsets = avmarkers.Onsets() if args.markers else None

        self.pipe = Gst.Pipeline.new("viewer")
        self.pc = Gst.ElementFactory.make("webrtcbin", "pc")
        self.pc.set_property("bundle-policy",
                             GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.ice, _agent = peerlib.restrict_nice_agent(
            self.pc, args.local_ip, tcp_only=args.tcp_only)
        self.pipe.add(self.pc)
        self.pc.connect("pad-added", self.on_pad_added)
        self.pc.connect("notify::ice-gathering-state", self.on_gathering)
        self.pc.connect("notify::connection-state", self.on_conn_state)
        self.pc.connect("notify::ice-connection-state", self.on_ice_state)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

        recvonly = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
        self.pc.emit("add-transceiver", recvonly,
                     Gst.Caps.from_string(VIDEO_CAPS))
        if not args.no_audio:
            self.pc.emit("add-transceiver", recvonly,
                         Gst.Caps.from_string(AUDIO_CAPS))

    # -- negotiation -------------------------------------------------------

    def start_offer(self):
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        self.pc.emit("create-offer", None, promise)
        return False

    def on_offer(self, promise, _data):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply else None
        if offer is None:
            GLib.idle_add(self.fail, "create-offer failed")
            return
        self.pc.emit("set-local-description", offer, Gst.Promise.new())
        self.offer_ready = True
        if self.gathering_done:
            GLib.idle_add(self.post)

    def on_gathering(self, pc, _pspec):
        state = pc.get_property("ice-gathering-state")
        log.info("ICE gathering %s", state.value_nick)
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.gathering_done = True
            if self.offer_ready:
                GLib.idle_add(self.post)

    def post(self):
        if self.posted:
            return False
        self.posted = True
        sdp = self.pc.get_property("local-description").sdp.as_text()
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
                self.stopping = True
                self.loop.quit()
            else:
                self.fail("POST returned %d: %s" % (r.status, r.body[:200]))
            return False
        self.location = peerlib.resolve_location(self.args.url,
                                                 r.header("Location"))
        self.result["location"] = self.location
        if self.args.expect_status != 201:
            self.code = peerlib.EXIT_ASSERT
            self.fail("expected %d, got 201" % self.args.expect_status)
            return False
        peerlib.log_sdp("answer", r.body)
        self.result["codecs"] = peerlib.sdp_media_codecs(r.body)
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
        self.t_answer = time.monotonic()
        GLib.timeout_add(50, self.tick)
        GLib.timeout_add(1000, self.count_loss)
        for item in self.args.quality:
            at, quality = item.split(":", 1)
            GLib.timeout_add(int(float(at) * 1000), self.send_quality, quality)
        return False

    def count_loss(self):
        """Once a second, the video packets received and lost since the
        last count, in the second (from the POST) they were counted in: a
        long shaped run judges its loss over a settled part of the run,
        not over the whole (rows [received, lost], as whep_aiortc's)."""
        if self.stopping:
            return False
        for s in peerlib.gst_stats(self.pc).values():
            if (s.get("type") == "inbound-rtp"
                    and self.ssrc_kind.get(s.get("ssrc")) == "video"):
                received = s.get("packets-received", 0)
                lost = max(0, s.get("packets-lost", 0))
                second = int(time.monotonic() - self.t_post)
                while len(self.video_loss_timeline) <= second:
                    self.video_loss_timeline.append([0, 0])
                row = self.video_loss_timeline[second]
                row[0] += received - self.loss_counted[0]
                row[1] += lost - self.loss_counted[1]
                self.loss_counted = (received, lost)
        return True

    # -- media -------------------------------------------------------------

    def on_pad_added(self, _pc, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        log.info("webrtcbin pad %s: %s", pad.get_name(),
                 caps.to_string() if caps else "?")
        if caps and caps.get_size():
            st = caps.get_structure(0)
            ok, ssrc = st.get_uint("ssrc")
            if ok:
                self.ssrc_kind[ssrc] = st.get_string("media")
        dec = Gst.ElementFactory.make("decodebin")
        dec.connect("pad-added", self.on_decoded_pad)
        dec.connect("deep-element-added", self.on_decoder_element)
        self.pipe.add(dec)
        dec.sync_state_with_parent()
        pad.link(dec.get_static_pad("sink"))

    def on_decoded_pad(self, _dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        log.info("decoded pad %s", name)
        if self.onsets is not None:
            self.measure_markers(pad, name)
            return
        if name.startswith("video/"):
            desc = "queue ! fakesink name=sink sync=false signal-handoffs=true"
            handler = self.on_video
        elif name.startswith("audio/"):
            # S16 so that size / (2 * channels * rate) is the exact duration
            desc = ("queue ! audioconvert ! audio/x-raw,format=S16LE ! "
                    "fakesink name=sink sync=false signal-handoffs=true")
            handler = self.on_audio
        else:
            return
        bin_ = Gst.parse_bin_from_description(desc, True)
        bin_.get_by_name("sink").connect("handoff", handler)
        self.pipe.add(bin_)
        bin_.sync_state_with_parent()
        pad.link(bin_.get_static_pad("sink"))

    def measure_markers(self, pad, name):
        """Decoded media into the marker detector, counted as usual."""
        if name.startswith("video/"):
            desc = "queue ! %s ! fakesink name=sink sync=false" % avmarkers.THUMBS
            probe = self.onsets.video_probe
            pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self.on_video_caps)
        elif name.startswith("audio/"):
            desc = "queue ! %s ! fakesink name=sink sync=false" % avmarkers.SAMPLES
            probe = self.onsets.audio_probe
        else:
            return
        bin_ = Gst.parse_bin_from_description(desc, True)
        sink = bin_.get_by_name("sink").get_static_pad("sink")

        def counted(pad_, info):
            with self.lock:
                ret = probe(pad_, info)
                if name.startswith("video/"):
                    self.count_video_frame()
                else:
                    self.audio_ms += info.get_buffer().duration / Gst.MSECOND
                    if self.first_audio is None:
                        self.first_audio = time.monotonic() - self.t_post
            return ret

        sink.add_probe(Gst.PadProbeType.BUFFER, counted)
        self.pipe.add(bin_)
        bin_.sync_state_with_parent()
        pad.link(bin_.get_static_pad("sink"))

    def on_video_caps(self, _pad, info):
        event = info.get_event()
        if event.type == Gst.EventType.CAPS:
            s = event.parse_caps().get_structure(0)
            with self.lock:
                self.onsets.size = (s.get_value("width"), s.get_value("height"))
        return Gst.PadProbeReturn.OK

    def count_video_frame(self):
        """Under the lock: one more decoded picture."""
        self.video_frames += 1
        if self.first_video is None:
            self.first_video = time.monotonic() - self.t_post
            self.width, self.height = self.onsets.size or (None, None)

    def send_quality(self, quality):
        body = '{"quality": "%s"}' % quality
        r = peerlib.http("PATCH", self.location, body, "application/json",
                         self.args.token)
        log.info("quality %s -> %d", quality, r.status)
        self.result.setdefault("quality_replies", []).append(r.status)
        return False

    def on_decoder_element(self, _bin, _sub_bin, element):
        factory = element.get_factory()
        if factory is None or factory.get_name() != "h264parse":
            return
        src = element.get_static_pad("src")
        src.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self.on_h264_caps)
        src.add_probe(Gst.PadProbeType.BUFFER, self.on_h264_buffer)

    def on_h264_caps(self, _pad, info):
        event = info.get_event()
        if event.type != Gst.EventType.CAPS:
            return Gst.PadProbeReturn.OK
        s = event.parse_caps().get_structure(0)
        stream = [s.get_string("profile"), s.get_value("width"),
                  s.get_value("height"), None]
        with self.lock:
            streams = self.result.setdefault("h264_streams", [])
            if not streams or streams[-1][:3] != stream[:3]:
                streams.append(stream)
        return Gst.PadProbeReturn.OK

    def on_h264_buffer(self, _pad, info):
        with self.lock:
            streams = self.result.get("h264_streams")
            if streams and streams[-1][3] is None:
                streams[-1][3] = not info.get_buffer().has_flags(
                    Gst.BufferFlags.DELTA_UNIT)
        return Gst.PadProbeReturn.OK

    def on_video(self, _sink, _buf, pad):
        with self.lock:
            self.video_frames += 1
            now = time.monotonic() - self.t_post
            add_to_second(self.video_timeline, now, 1)
            s = pad.get_current_caps().get_structure(0)
            size = (s.get_value("width"), s.get_value("height"))
            if size != (self.width, self.height):
                self.sizes.append([round(now, 1), size[0], size[1]])
                self.width, self.height = size
            if self.first_video is None:
                self.first_video = now
                log.info("first decoded video frame %sx%s after %.0f ms",
                         self.width, self.height, self.first_video * 1000)

    def on_audio(self, _sink, buf, pad):
        s = pad.get_current_caps().get_structure(0)
        rate = s.get_value("rate")
        channels = s.get_value("channels")
        with self.lock:
            ms = buf.get_size() * 1000.0 / (2 * channels * rate)
            self.audio_ms += ms
            add_to_second(self.audio_timeline, time.monotonic() - self.t_post, ms)
            if self.first_audio is None:
                self.first_audio = time.monotonic() - self.t_post
                log.info("first decoded audio after %.0f ms",
                         self.first_audio * 1000)

    # -- control -----------------------------------------------------------

    def satisfied(self):
        with self.lock:
            return (self.video_frames >= self.args.min_video_frames
                    and self.audio_ms >= self.args.min_audio_ms)

    def tick(self):
        if self.stopping:
            return False
        if time.monotonic() - self.t_answer >= self.args.duration \
                and self.satisfied():
            self.stop()
            return False
        return True

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
        if "connected_ms" not in self.result:
            self.result["connected_ms"] = round(
                (time.monotonic() - self.t_post) * 1000)
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
        log.info("timeout reached")
        self.stop()
        return False

    def report_stats(self):
        """Selected candidate pair and per-stream counters from get-stats.

        The transport's selected-candidate-pair-id leads to the pair and
        its two candidates.  GStreamer 1.22 labels the candidates' "type"
        the wrong way round and calls every inbound stream "video", so the
        pair's ids say which side is which and the SSRCs seen on
        webrtcbin's pads say which stream is which.
        """
        stats = peerlib.gst_stats(self.pc)
        for s in stats.values():
            if s.get("type") != "transport":
                continue
            pair = stats.get(s.get("selected-candidate-pair-id", ""), {})
            for side in ("local", "remote"):
                c = stats.get(pair.get(side + "-candidate-id", ""))
                if c:
                    self.result["selected_" + side] = {
                        "protocol": c.get("protocol"),
                        "type": c.get("candidate-type"),
                        "address": c.get("address"),
                        "port": c.get("port")}
        for s in stats.values():
            if s.get("type") == "inbound-rtp":
                kind = self.ssrc_kind.get(s.get("ssrc"))
                if kind:
                    self.result["%s_packets" % kind] = s.get("packets-received")
                    self.result["%s_bytes" % kind] = s.get("bytes-received")
                    self.result["%s_packets_lost" % kind] = s.get("packets-lost")
                    self.result["%s_pli_sent" % kind] = s.get("pli-count")

    def stop(self):
        if self.stopping:
            return False
        self.stopping = True
        try:
            self.report_stats()
        except Exception as e:  # stats are a report, not an assertion
            log.warning("stats: %s", e)
        if self.location:
            r = peerlib.http("GET", self.location, token=self.args.token)
            if r.status == 200:
                self.result["relay_stats"] = json.loads(r.body)
        if self.location and not self.args.no_delete:
            r = peerlib.http("DELETE", self.location, token=self.args.token)
            self.result["delete_status"] = r.status
            log.info("DELETE %s -> %d", self.location, r.status)
        self.loop.quit()
        return False

    def run(self):
        GLib.timeout_add(int(self.args.timeout * 1000), self.on_timeout)
        if self.pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.result["error"] = "pipeline would not start"
            return peerlib.EXIT_SETUP
        GLib.idle_add(self.start_offer)
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)
        if self.t_answer is not None:
            self.result["receive_s"] = round(time.monotonic() - self.t_answer, 3)
        with self.lock:
            self.result["video_frames"] = self.video_frames
            self.result["width"] = self.width
            self.result["height"] = self.height
            self.result["audio_ms"] = round(self.audio_ms, 1)
            self.result["video_timeline"] = self.video_timeline
            self.result["audio_timeline"] = [round(ms) for ms in self.audio_timeline]
            self.result["video_loss_timeline"] = self.video_loss_timeline
            self.result["video_sizes"] = self.sizes
            self.result["first_video_frame_ms"] = (
                round(self.first_video * 1000)
                if self.first_video is not None else None)
            self.result["first_audio_ms"] = (
                round(self.first_audio * 1000)
                if self.first_audio is not None else None)
            if self.onsets is not None:
                self.report_markers()
        if self.result.get("ok"):
            return self.code
        if self.t_answer is None:
            self.result.setdefault("error", "no answer applied")
            return self.code
        failures = []
        if self.video_frames < self.args.min_video_frames:
            failures.append("video frames %d < %d"
                            % (self.video_frames, self.args.min_video_frames))
        if self.audio_ms < self.args.min_audio_ms:
            failures.append("audio %.0f ms < %.0f ms"
                            % (self.audio_ms, self.args.min_audio_ms))
        if failures:
            self.result["error"] = "; ".join(
                ([self.result["error"]] if "error" in self.result else [])
                + failures)
            return peerlib.EXIT_ASSERT
        if "error" in self.result:
            return peerlib.EXIT_ASSERT
        self.result["ok"] = True
        return peerlib.EXIT_OK


    def report_markers(self):
        """Per marker found in both tracks: its index, the flash's running
        time (s), audio minus video (ms) and the picture's size."""
        o = self.onsets
        size_at = dict(zip(o.video, o.video_sizes))
        seconds = self.args.timeout + 60
        self.result["markers"] = [
            [i, round(t, 3), round(off * 1000, 1), size_at.get(t)]
            for i, t, off in avmarkers.match(o.video, o.audio,
                                             self.args.markers, seconds)]
        self.result["marker_onsets"] = [[round(t, 3) for t in o.video],
                                        [round(t, 3) for t in o.audio]]


def main():
    args = parse_args()
    global log
    log = peerlib.setup_logging("whep_gst", args.verbose)
    Gst.init(None)
    viewer = Viewer(args)
    code = viewer.run()
    peerlib.emit(viewer.result)
    return code


if __name__ == "__main__":
    sys.exit(main())
