#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An H.264 room's light layer, end to end.

An H.264 host (whip_gst.py --codec h264: x264enc, constrained baseline,
320x240) publishes through WHIP. A viewer, whep_gst.py (GStreamer's
webrtcbin, offering VP8 and H.264), asks for "save data" after 6 s and
for "best picture" after 16 s. What its decoder is given (h264parse's
caps, in order) must be the host's 320x240 stream, then the relay's light
layer, 640x360 H.264 constrained baseline, then the host's again, each
beginning on a keyframe (the relay switches a viewer only there), with
pictures decoded all along and the relay's statistics saying where the
viewer ended up. A second viewer, on automatic, is given the host's
stream alone.
"""
import harness
from harness import check, check_eq
import recording_media as rm
from common import viewer_token

FULL = ["constrained-baseline", 320, 240, True]
LIGHT = ["constrained-baseline", 640, 360, True]


def test(ctx):
    d = ctx.daemon()
    token = d.create_room("h264", "H.264 lecture")["host_token"]
    pub = rm.Publish(ctx, d, "h264", token, 40, "--codec", "h264")
    other = ctx.start_peer("whep_gst.py", "--url", d.whep_url("h264"),
                           "--token", viewer_token(d, "h264", "Ola Hansen"),
                           "--duration", "24", "--min-video-frames", "200")
    r = ctx.run_peer("whep_gst.py", "--url", d.whep_url("h264"),
                     "--token", viewer_token(d, "h264"),
                     "--duration", "24", "--min-video-frames", "200",
                     "--quality", "6:save-data", "--quality", "16:best")
    check(r.ok, "viewer: %s", r.error)
    harness.log("viewer: streams %s, frames %s, lost %s, PLIs %s",
                r.get("h264_streams"), r["video_frames"],
                r.get("video_packets_lost"), r.get("video_pli_sent"))
    check_eq(r.get("quality_replies"), [200, 200], "PATCH statuses")
    check_eq(r.get("h264_streams"), [FULL, LIGHT, FULL],
             "the streams its decoder was given: [profile, width, height, "
             "began on a keyframe]")

    o = other.wait(40)
    check(o.ok, "other viewer: %s", o.error)
    harness.log("other viewer: streams %s, frames %s", o.get("h264_streams"),
                o["video_frames"])
    check_eq(o.get("h264_streams"), [FULL], "the other viewer's streams")
    pub.finish(timeout=40)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
