#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A new viewer's video starts on a keyframe within a fraction of a second,
whatever the publisher's keyframe interval.

Short GOP (the test lecture, 1 s): the viewer gets the GOP so far at once.
A publisher that sends keyframes only when asked (a browser, here webrtcbin
with a keyframe interval of minutes): the GOP is too long to replay, so the
relay asks the publisher for a keyframe (one request, however many viewers
join) and starts the viewer on it.
"""
import time

import harness
from harness import check
from common import pipeline_daemon, viewer_token

# The first decoded frame also waits for aiortc's own start-up and a busy
# 2-core machine; the relay's part is a few ms.
FIRST_FRAME_MS = 1500


def first_frame(ctx, d, room):
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url(room),
                     "--token", viewer_token(d, room), "--duration", "2",
                     "--min-video-frames", "10")
    check(r.ok, "viewer: %s", r.error)
    return r["first_video_frame_ms"]


def test(ctx):
    d = pipeline_daemon(ctx)
    times = [first_frame(ctx, d, "lecture") for _ in range(3)]
    harness.log("short GOP: first frames after %s ms", times)
    check(max(times) < FIRST_FRAME_MS, "short GOP: %s ms", times)

    info = d.create_room("browser")
    ctx.start_peer("whip_gst.py", "--url", d.whip_url("browser"),
                   "--token", info["host_token"], "--duration", "0",
                   "--width", "320", "--height", "240",
                   "--keyframe-interval", "100000")
    d.wait_live("browser")
    # Long enough for the one GOP to outgrow what is replayed.
    time.sleep(9)
    before = d.metric("kringkast_keyframe_requests_total")
    times = [first_frame(ctx, d, "browser") for _ in range(2)]
    harness.log("keyframes on request: first frames after %s ms", times)
    check(max(times) < FIRST_FRAME_MS, "long GOP: %s ms", times)
    check(d.metric("kringkast_keyframe_requests_total") > before,
          "keyframes were asked for")
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
