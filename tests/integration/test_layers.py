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
second viewer, watching meanwhile, sees no change at all. With two
worker threads, one viewer on each, the light layer's packets go only to
the switching viewer's worker.

The choice may also come with the offer (`POST /whep/lecture?quality=`):
a viewer on "save data" then gets the light layer's picture from its
first frame, and one on "sound only" not a single video packet, never
the full layer's fast start first; a quality the relay does not know is
refused before any viewer is made.
"""
import harness
from harness import check, check_eq
from common import check_one_stream, pipeline_daemon, viewer_token


def test(ctx):
    d = pipeline_daemon(ctx, extra=["--workers", "2"])
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
    # The other viewer's worker (each joined the one with fewer viewers)
    # never needed the light layer: it got none of its packets.
    posted = [d.metric("kringkast_light_packets_posted_total",
                       {"worker": str(i)}) for i in range(2)]
    check(min(posted) == 0 and max(posted) > 0,
          "light packets posted per worker: %s", posted)
    check(min(o["video_timeline"][2:15]) >= 10,
          "other viewer's picture never stopped: %s", o["video_timeline"])

    # A body that is not a quality is refused, and nothing changes.
    token = viewer_token(d, "lecture", "Per Olsen")
    bad = harness.http("PATCH", d.whep_url("lecture") + "/nonexistent",
                       body='{"quality": "best"}', token=token,
                       content_type="application/json")
    check_eq(bad.status, 404, "PATCH of an unknown resource")

    # The choice with the offer.
    saver = ctx.start_peer("whep_aiortc.py",
                           "--url", d.whep_url("lecture") + "?quality=save-data",
                           "--token", viewer_token(d, "lecture", "Lise Berg"),
                           "--duration", "8", "--min-video-frames", "20")
    quiet = ctx.run_peer("whep_aiortc.py",
                         "--url", d.whep_url("lecture") + "?quality=sound-only",
                         "--token", viewer_token(d, "lecture", "Nils Dahl"),
                         "--duration", "6", "--min-video-frames", "0",
                         "--min-audio-ms", "4000")
    check(quiet.ok, "sound-only viewer: %s", quiet.error)
    harness.log("sound-only viewer: frames %s, rtp %s, relay %s",
                quiet["video_frames"], quiet["video_rtp"],
                quiet["relay_stats"])
    check_eq(quiet["video_frames"], 0, "frames of the sound-only viewer")
    check_eq(quiet.get("video_packets", 0), 0,
             "video packets to the sound-only viewer")
    check_eq(quiet["relay_stats"]["quality"], "sound-only",
             "its quality at the relay")
    check_eq(quiet["relay_stats"]["layer_switches"], 0,
             "its switches (it never had a picture to leave)")
    s = saver.wait(40)
    check(s.ok, "save-data viewer: %s", s.error)
    harness.log("save-data viewer: sizes %s, rtp %s, relay %s",
                s["video_sizes"], s["video_rtp"], s["relay_stats"])
    check_eq([(w, h) for _, w, h in s["video_sizes"]], [(640, 360)],
             "its picture sizes (the light layer's from the first frame)")
    check_one_stream(s["video_rtp"], "save-data viewer")
    check_eq(s["relay_stats"]["layer"], "light", "its layer")
    check_eq(s["relay_stats"]["quality"], "save-data", "its quality")

    pending = d.metric("kringkast_viewers_pending")
    bad = ctx.run_peer("whep_aiortc.py",
                       "--url", d.whep_url("lecture") + "?quality=fast",
                       "--token", viewer_token(d, "lecture", "Eva Lund"),
                       "--expect-status", "400")
    check(bad.ok, "an unknown quality: %s", bad.error)
    check("unknown quality" in bad.get("response", ""),
          "the 400 says why: %s", bad.get("response"))
    check_eq(d.metric("kringkast_viewers_pending"), pending,
             "viewers made by the refusal (none)")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
