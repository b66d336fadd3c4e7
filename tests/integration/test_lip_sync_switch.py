#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Lip sync holds across a viewer's layer switches, as a real receiver
plays the lecture.

A VP8 host, whip_gst.py --markers (320x240 at 30 fps: a black picture and
silence that flash white and beep at the same running time, at irregular
known times about once a second; tests/peers/avmarkers.py), publishes
through WHIP. A viewer, whep_gst.py (GStreamer's webrtcbin, whose rtpbin
lines audio and video up from the relay's RTCP sender reports, as a
browser does), finds every flash and beep after its decoders and gives,
per marker, audio minus video as it would play them, and the size of the
picture the flash came in: 320x240 on the full layer, 640x360 on the
light one. It asks for "save data" after 12 s and for "best picture"
after 24 s: full, light, full again.

On each layer there must be markers, and every offset must stay within
the bound the full layer keeps before any switch: under 100 ms in
magnitude (the recording's bound), and each layer's median within 40 ms
of the first full stretch's. The light layer keeps the timestamps of the
full frames it is made from and the viewer keeps one SSRC, so its sender
reports go on mapping both tracks to one clock. (At 15 frames a second
the light layer shows a flash that began on a frame it left out one
30 fps frame late: its offsets take two values 33 ms apart.)

Markers of the first START_S seconds are left out: until the receiver
has a sender report of each track (the relay sends one a second), its
rtpbin plays them as they arrive, which says nothing of the relay.
"""
import statistics

import harness
from harness import check
import recording_media as rm
from common import viewer_token

BOUND_MS = 100
MEDIAN_MS = 40
FULL, LIGHT = (320, 240), (640, 360)
START_S = 2.5


def test(ctx):
    d = ctx.daemon()
    token = d.create_room("sync", "Lip sync")["host_token"]
    pub = rm.Publish(ctx, d, "sync", token, 50, "--codec", "vp8",
                     "--markers", "--fps", rm.MARKER_FPS)
    r = ctx.run_peer("whep_gst.py", "--url", d.whep_url("sync"),
                     "--token", viewer_token(d, "sync"),
                     "--duration", "36", "--timeout", "60",
                     "--min-video-frames", "300",
                     "--markers", rm.MARKER_FPS,
                     "--quality", "12:save-data", "--quality", "24:best")
    check(r.ok, "viewer: %s", r.error)
    markers = r["markers"]
    harness.log("viewer: %d markers, PATCHes %s; flashes at %s, beeps at %s",
                len(markers), r.get("quality_replies"), *r["marker_onsets"])
    for i, t, off, size in markers:
        harness.log("marker %d at %.2f s: audio %+.1f ms from video, %s",
                    i, t, off, size)
    check(r.get("quality_replies") == [200, 200],
          "PATCH statuses: %s", r.get("quality_replies"))

    # The stretches, in order: full, light, full.
    stretches = []
    for _, t, off, size in markers:
        if t < START_S:
            continue
        size = tuple(size) if size else None
        if not stretches or stretches[-1][0] != size:
            stretches.append((size, []))
        stretches[-1][1].append(off)
    layers = [size for size, _ in stretches]
    check(layers == [FULL, LIGHT, FULL], "the layers the flashes came in: %s",
          layers)
    for size, offsets in stretches:
        check(len(offsets) >= 4, "markers on %s: %s", size, offsets)
    before = statistics.median(stretches[0][1])
    for size, offsets in stretches:
        for off in offsets:
            check(abs(off) < BOUND_MS, "on %s: audio %+.1f ms from video",
                  size, off)
        median = statistics.median(offsets)
        check(abs(median - before) < MEDIAN_MS,
              "on %s the median offset is %+.1f ms, %+.1f ms before the "
              "switches", size, median, before)
    pub.finish(timeout=60)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
