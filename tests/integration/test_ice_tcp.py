#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A workplace whose network blocks UDP: the viewer may use ICE-TCP only.

webrtcbin's libnice agent is restricted to TCP candidates; it must reach
the relay's passive ICE-TCP candidate on the media port number (RFC 6544
framing) and decode video and audio over it.
"""
import harness
from harness import check
from common import pipeline_daemon, viewer_token


def test(ctx):
    d = pipeline_daemon(ctx)
    r = ctx.run_peer("whep_gst.py", "--url", d.whep_url("lecture"),
                     "--token", viewer_token(d, "lecture"), "--tcp-only",
                     "--duration", "5", "--min-video-frames", "40",
                     "--min-audio-ms", "3000")
    check(r.ok, "viewer: %s", r.error)
    check(r["selected_remote"]["protocol"] == "tcp",
          "selected pair %s", r["selected_remote"])
    check(r["selected_remote"]["port"] == d.media_port,
          "TCP on the media port number (%s)", r["selected_remote"])
    check(d.metric("kringkast_ice_tcp_connections_total") >= 1,
          "ICE-TCP connection counted")
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
