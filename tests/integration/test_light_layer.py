#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The light layer, made by the room while a viewer needs it, reaches that
viewer through the forwarding core, and switching keeps its stream whole.

A test lecture (320x240 VP8, keyframes every second) and two aiortc
viewers. The first asks for "save data" after 2 s: the room starts its
light layer (pipelines/light-vp8.pipeline) and the viewer decodes it at
640x360; "best picture" after 8 s takes it back to the host's 320x240,
"save data" after 12 s to the light layer again. Across the three
switches its RTP keeps one SSRC, sequence numbers without a gap,
timestamps that never go back and VP8 picture ids +1 per picture. It
drops every 25th video packet as a lossy link would: each NACK, of
either layer and across the switches, brings back the very packet it
lost. The
second viewer, watching all along, sees no change: the host's picture,
no gap, no switch. A while after the first viewer left, the room stops
the light layer (its linger, 20 s, is longer than this test: it is
checked in the unit tests). A third viewer, a screen that had the light
layer last time (its page says so when it connects), joins while the room
has it and starts on it: its first picture is the light one.
"""
import time

import harness
from harness import check, check_eq
from common import check_one_stream, pipeline_daemon, viewer_token


def test(ctx):
    d = pipeline_daemon(ctx, source="testsrc-small")
    other = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                           "--token", viewer_token(d, "lecture", "Ola Hansen"),
                           "--duration", "19", "--min-video-frames", "150")
    switching = ctx.start_peer(
        "whep_aiortc.py", "--url", d.whep_url("lecture"),
        "--token", viewer_token(d, "lecture"),
        "--duration", "17", "--min-video-frames", "100",
        "--min-audio-ms", "15000", "--drop-every", "25",
        "--quality", "2:save-data", "--quality", "8:best",
        "--quality", "12:save-data")
    # A screen that had the light layer last time joins while the room has
    # it: it starts on it, no full picture first.
    time.sleep(5)
    s = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                     "--token", viewer_token(d, "lecture", "Anne Berg"),
                     "--start-layer", "light", "--duration", "3",
                     "--min-video-frames", "20")
    check(s.ok, "viewer starting on light: %s", s.error)
    harness.log("viewer starting on light: sizes %s, rtp %s, relay %s",
                s["video_sizes"], s["video_rtp"], s["relay_stats"])
    check_eq(s["start_reply"], 200, "its PATCH")
    check_eq([(w, h) for _, w, h in s["video_sizes"]], [(640, 360)],
             "its picture sizes")
    check_eq(s["relay_stats"]["layer"], "light", "its layer")
    check_one_stream(s["video_rtp"], "viewer starting on light")

    r = switching.wait(40)
    check(r.ok, "switching viewer: %s", r.error)
    harness.log("switching viewer: sizes %s, timeline %s, rtp %s, relay %s",
                r["video_sizes"], r["video_timeline"], r["video_rtp"],
                r["relay_stats"])
    sizes = [(w, h) for _, w, h in r["video_sizes"]]
    check_eq(sizes, [(320, 240), (640, 360), (320, 240), (640, 360)],
             "picture sizes in turn")
    times = [t for t, _, _ in r["video_sizes"]]
    check(times[1] < 7 and 8 < times[2] < 12.5 and times[3] > 12,
          "switch times %s", times)
    check_one_stream(r["video_rtp"], "switching viewer")
    stats = r["relay_stats"]
    rtp = r["video_rtp"]
    check(rtp["dropped"] >= 8, "packets dropped: %s", rtp["dropped"])
    check_eq(rtp["mismatched"], 0, "retransmissions that were not the packet lost")
    check_eq(rtp["unrecovered"], 0, "packets dropped and never retransmitted")
    check(rtp["recovered"] >= rtp["dropped"] - 2, "recovered %s of %s",
          rtp["recovered"], rtp["dropped"])
    check(stats["retransmissions"] >= rtp["recovered"], "the relay's count %s",
          stats["retransmissions"])
    check_eq(stats["layer"], "light", "the relay's layer at the end")
    # Three switches, or four when "save data" came before the light layer
    # was flowing: the viewer then waits on sound only, never on the full
    # layer its choice does not take (README, Weak links).
    check(stats["layer_switches"] in (3, 4), "the relay's switch count: %s",
          stats["layer_switches"])
    check(min(r["video_timeline"][1:16]) >= 5,
          "the picture went on through the switches: %s", r["video_timeline"])

    o = other.wait(40)
    check(o.ok, "other viewer: %s", o.error)
    harness.log("other viewer: sizes %s, timeline %s, rtp %s, relay %s",
                o["video_sizes"], o["video_timeline"], o["video_rtp"],
                o["relay_stats"])
    check_eq([(w, h) for _, w, h in o["video_sizes"]], [(320, 240)],
             "other viewer's picture size")
    check_one_stream(o["video_rtp"], "other viewer")
    check_eq(o["relay_stats"]["layer_switches"], 0, "other viewer's switches")
    check(min(o["video_timeline"][2:18]) >= 10,
          "other viewer's picture never stopped: %s", o["video_timeline"])
    # The switching viewer's, and the start on light.
    check_eq(d.metric("kringkast_layer_switches_total"),
             stats["layer_switches"] + 1, "metrics: switches")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
