#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Two independent WebRTC stacks watch one lecture at the same time.

aiortc and GStreamer's webrtcbin share no code with each other or with
kringkast; both must decode video frames and audio from the relay's one
media port (ICE-lite, DTLS-SRTP, our SRTP), and /metrics must count what
was forwarded.
"""
import harness
from harness import check
from common import pipeline_daemon, viewer_token


def test(ctx):
    d = pipeline_daemon(ctx)
    a = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                       "--token", viewer_token(d, "lecture", "Kari"),
                       "--duration", "6", "--min-video-frames", "50",
                       "--min-audio-ms", "4000")
    g = ctx.start_peer("whep_gst.py", "--url", d.whep_url("lecture"),
                       "--token", viewer_token(d, "lecture", "Ola"),
                       "--duration", "6", "--min-video-frames", "50",
                       "--min-audio-ms", "4000")
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 2, 15,
                       "both viewers connected")
    check(d.room("lecture")["viewers"] == 2, "room shows 2 viewers")
    check(d.metric("kringkast_publishers", {"kind": "pipeline"}) == 1,
          "/metrics counts the pipeline source")
    ra, rg = a.wait(60), g.wait(60)
    for r in (ra, rg):
        check(r.ok, "%s: %s", r.name, r.error)
        check(r["width"] == 320 and r["height"] == 240,
              "%s decoded %sx%s", r.name, r["width"], r["height"])
        check(r["first_video_frame_ms"] < 2000,
              "%s: first frame after %s ms", r.name, r["first_video_frame_ms"])
        check(r["delete_status"] == 200, "%s DELETE -> %s", r.name,
              r["delete_status"])
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 0, 10,
                       "viewers gone after DELETE")
    check(d.metric("kringkast_packets_forwarded_total") > 500,
          "forwarded %s packets", d.metric("kringkast_packets_forwarded_total"))
    check(d.metric("kringkast_stun_checks_answered_total") >= 2,
          "ICE checks answered")
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
