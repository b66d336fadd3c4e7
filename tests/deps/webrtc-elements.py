# SPDX-License-Identifier: Apache-2.0
"""Which elements webrtcbin really builds inside itself, found by a real run.

webrtcbin chooses its transport (nicesrc/nicesink, dtlssrtpenc/dec and
the srtp and dtls elements inside them), rtpbin and rtpbin's own
elements (jitter buffer, demuxers, RTX receiver) at run time, and which
ones depends on the GStreamer version and on what was negotiated. A list
written by hand would go stale with the next GStreamer; this instead
connects two webrtcbins over loopback ICE, lets VP8 and Opus flow, and
prints (JSON on stdout) the factory of every element inside each:

  "receiver": a webrtcbin set up as relay/media/kk-ingest-webrtc.c sets up the
      relay's WHIP ingest (max-bundle, answers the publisher's offer,
      NACK on every transceiver, RTP out to appsinks);
  "sender": a publishing webrtcbin, as the tests' peers use.

Run it inside a network namespace of its own (tests/integration/netns-run,
as meson does), so ICE checks reach only addresses the run itself made.
"""

import json
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402,F401

TIMEOUT_S = 60
# Buffers each of the receiver's two pads must pass before the run
# counts: by then rtpbin has made its per-SSRC elements.
BUFFERS = 20

SENDER = (
    "videotestsrc is-live=true ! video/x-raw,width=160,height=120 "
    "! vp8enc deadline=1 ! rtpvp8pay pt=96 "
    "! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! send. "
    "audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=111 "
    "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! send. "
    "webrtcbin name=send bundle-policy=max-bundle "
    "webrtcbin name=recv bundle-policy=max-bundle")


def copy(description):
    """A description of its own for the other webrtcbin, as a peer would
    get it from the network: one given to both is freed under the second."""
    _res, sdp = GstSdp.SDPMessage.new_from_text(description.sdp.as_text())
    return GstWebRTC.WebRTCSessionDescription.new(description.type, sdp)


def factories(bin_):
    names = set()
    it = bin_.iterate_recurse()
    while True:
        res, element = it.next()
        if res != Gst.IteratorResult.OK:
            break
        factory = element.get_factory()
        if factory is not None:
            names.add(factory.get_name())
    return sorted(names)


class Run:
    def __init__(self):
        self.loop = GLib.MainLoop()
        self.pipe = Gst.parse_launch(SENDER)
        self.send = self.pipe.get_by_name("send")
        self.recv = self.pipe.get_by_name("recv")
        self.counts = {}
        self.result = None
        self.error = None
        self.offered = False
        self.send.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.send.connect("on-ice-candidate", self.on_candidate, self.recv)
        self.recv.connect("on-ice-candidate", self.on_candidate, self.send)
        self.recv.connect("on-new-transceiver", self.on_new_transceiver)
        self.recv.connect("pad-added", self.on_pad_added)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    def on_error(self, _bus, message):
        err, debug = message.parse_error()
        self.fail("%s (%s)" % (err.message, debug))

    def fail(self, text):
        self.error = text
        self.loop.quit()

    @staticmethod
    def on_candidate(_webrtc, mline, candidate, other):
        other.emit("add-ice-candidate", mline, candidate)

    @staticmethod
    def on_new_transceiver(_webrtc, transceiver):
        transceiver.set_property("do-nack", True)

    def on_negotiation_needed(self, webrtc):
        # Once, as a publisher does: a send-only offer of what is linked.
        if self.offered:
            return
        self.offered = True
        for i in range(2):
            webrtc.emit("get-transceiver", i).set_property(
                "direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        self.send.emit("create-offer", None, promise)

    def on_offer(self, promise, _data):
        # The reply owns the description: keep it while the offer is used.
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        self.send.emit("set-local-description", offer, None)
        self.recv.emit("set-remote-description", copy(offer),
                       Gst.Promise.new_with_change_func(self.on_offer_set,
                                                        None))

    def on_offer_set(self, _promise, _data):
        promise = Gst.Promise.new_with_change_func(self.on_answer, None)
        self.recv.emit("create-answer", None, promise)

    def on_answer(self, promise, _data):
        reply = promise.get_reply()
        answer = reply.get_value("answer")
        self.recv.emit("set-local-description", answer, None)
        self.send.emit("set-remote-description", copy(answer), None)

    def on_pad_added(self, _webrtc, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        sink = Gst.ElementFactory.make("appsink")
        sink.set_property("drop", True)
        sink.set_property("max-buffers", 1)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        self.counts[pad.get_name()] = 0
        pad.add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)
        pad.link(sink.get_static_pad("sink"))

    def on_buffer(self, pad, _info):
        self.counts[pad.get_name()] += 1
        if (len(self.counts) == 2 and min(self.counts.values()) >= BUFFERS
                and self.result is None):
            self.result = {"receiver": factories(self.recv),
                           "sender": factories(self.send)}
            GLib.idle_add(self.loop.quit)
        return Gst.PadProbeReturn.OK

    def on_timeout(self):
        self.fail("no media through webrtcbin in %d s (buffers per pad: %s)"
                  % (TIMEOUT_S, self.counts))
        return GLib.SOURCE_REMOVE

    def run(self):
        GLib.timeout_add_seconds(TIMEOUT_S, self.on_timeout)
        self.pipe.set_state(Gst.State.PLAYING)
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)


def main():
    Gst.init(None)
    run = Run()
    run.run()
    if run.result is None:
        sys.stderr.write("webrtc-elements: %s\n" % (run.error or "stopped"))
        return 1
    json.dump(run.result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
