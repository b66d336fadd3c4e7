#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A viewer's quality, chosen on its WHEP resource, moves it between layers
in the forwarding core, and its stream stays one stream.

Two aiortc viewers of a test lecture. The first asks for "sound only"
after 3 s and for "best picture" again after 7 s: its video stops and
comes back on a keyframe, its sound goes on all along, and the RTP it
receives keeps one SSRC, sequence numbers without a gap, timestamps that
never go back and VP8 picture ids +1 per picture, across both switches.
Then "save data" moves it to the room's light layer (through sound
only while that layer starts). The
relay's statistics of the resource and /metrics count the switches; the
second viewer, watching meanwhile, sees no change at all.
"""
import harness
from harness import check, check_eq
from common import check_one_stream, pipeline_daemon, viewer_token


def test(ctx):
    d = pipeline_daemon(ctx)
    other = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                           "--token", viewer_token(d, "lecture", "Ola Hansen"),
                           "--duration", "16", "--min-video-frames", "150")
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                     "--token", viewer_token(d, "lecture"),
                     "--duration", "14", "--min-video-frames", "60",
                     "--min-audio-ms", "12000",
                     "--quality", "3:sound-only", "--quality", "7:best",
                     "--quality", "10:save-data")
    check(r.ok, "switching viewer: %s", r.error)
    harness.log("switching viewer: timeline %s, rtp %s, relay %s",
                r["video_timeline"], r["video_rtp"], r["relay_stats"])
    check_eq(r["quality_replies"], [200, 200, 200], "PATCH statuses")
    check_one_stream(r["video_rtp"], "switching viewer")
    # The picture stopped while "sound only" (seconds 4 to 6 after the
    # POST, give or take the switch at a frame and the keyframe back).
    timeline = r["video_timeline"]
    check(len(timeline) > 12 and sum(timeline[4:7]) == 0,
          "no video while sound only: %s", timeline)
    check(sum(timeline[9:12]) >= 30, "video back after best: %s", timeline)
    stats = r["relay_stats"]
    # "Save data" from the full layer: sound only until the room's light
    # layer flows (never more of the full layer), then light.
    check_eq(stats["layer_switches"], 4, "the relay's switch count")
    check_eq(stats["layer"], "light", "the layer of \"save data\"")
    check_eq(stats["quality"], "save-data", "the quality last asked for")
    check(d.metric("kringkast_layer_switches_total") == 4,
          "metrics: %s", d.metric("kringkast_layer_switches_total"))

    o = other.wait(40)
    check(o.ok, "other viewer: %s", o.error)
    harness.log("other viewer: timeline %s, rtp %s, relay %s",
                o["video_timeline"], o["video_rtp"], o["relay_stats"])
    check_one_stream(o["video_rtp"], "other viewer")
    check_eq(o["relay_stats"]["layer_switches"], 0, "other viewer's switches")
    check(min(o["video_timeline"][2:15]) >= 10,
          "other viewer's picture never stopped: %s", o["video_timeline"])

    # A body that is not a quality is refused, and nothing changes.
    token = viewer_token(d, "lecture", "Per Olsen")
    bad = harness.http("PATCH", d.whep_url("lecture") + "/nonexistent",
                       body='{"quality": "best"}', token=token,
                       content_type="application/json")
    check_eq(bad.status, 404, "PATCH of an unknown resource")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
