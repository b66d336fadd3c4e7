#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A screen that starts on the light layer moves up to the host's picture
once a probe has shown that its link carries it, and the probes it was
sent are counted in /metrics.

A test lecture (320x240 VP8, keyframes every second; the light layer,
from an operator's pipelines folder, 160x120 at 50 kbit/s so that the
step up adds bytes to probe with), a "save data" viewer that keeps the room's light layer running,
and an aiortc viewer over loopback that says it had the light layer last
time: it starts there, and after the clean period (4 s) and the probe
(3 s) it gets the full layer. Its stream stays one stream. The light
layer's log lines name the room.
"""
import time

import harness
from harness import check, check_eq
from common import check_one_stream, light_pipeline_daemon, viewer_token


def test(ctx):
    def lighter(description):
        for old, new in (("width=640,height=360", "width=160,height=120"),
                         ("target-bitrate=250000", "target-bitrate=50000")):
            check(old in description, "light-vp8.pipeline has %s" % old)
            description = description.replace(old, new)
        return description

    d = light_pipeline_daemon(ctx, lighter)
    saver = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                           "--token", viewer_token(d, "lecture", "Ola Hansen"),
                           "--duration", "20", "--quality", "0:save-data")
    time.sleep(4)
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                     "--token", viewer_token(d, "lecture"),
                     "--start-layer", "light", "--duration", "14",
                     "--min-video-frames", "100")
    check(r.ok, "viewer: %s", r.error)
    harness.log("viewer: sizes %s, timeline %s, relay %s", r["video_sizes"],
                r["video_timeline"], r["relay_stats"])
    check_eq(r["start_reply"], 200, "its PATCH")
    check_eq([(w, h) for _, w, h in r["video_sizes"]],
             [(160, 120), (320, 240)], "light, then the host's picture")
    up_at = r["video_sizes"][1][0]
    check(6.5 < up_at < 13, "moved up at %.1f s" % up_at)
    check_eq(r["relay_stats"]["layer"], "full", "the relay's layer")
    # Onto the light layer at the start (from no video yet), then up.
    check_eq(r["relay_stats"]["layer_switches"], 2, "the relay's switches")
    check_one_stream(r["video_rtp"], "viewer")
    check(saver.wait(40).ok, "the save-data viewer")
    probes = d.metric("kringkast_probe_packets_total")
    check(probes is not None and probes > 0, "probe packets in /metrics: %s",
          probes)
    # The light layer's log lines name the room.
    check("light layer room lecture, VP8: waiting for a keyframe -> running"
          in d.log_text(), "the light layer's log names its room")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
