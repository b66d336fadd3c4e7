#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A viewer that must not have the full layer is not sent it while the
room's light layer is missing.

The room's light pipeline cannot be built here (the operator's
pipelines folder has a light-vp8.pipeline with no pipeline in it), so the light layer never flows. A viewer that asks for "save
data" (light at most) 2 s after connecting then gets the sound only: no
full picture, its sound uninterrupted, and the relay says `audio-only`.
A second viewer of the room (automatic, on a good link) keeps the host's
picture throughout. The room tries the light layer again 5 s after it
failed, then every 30 s.
"""
import harness
from harness import check, check_eq
from common import check_one_stream, light_pipeline_daemon, viewer_token


def test(ctx):
    d = light_pipeline_daemon(
        ctx, lambda _: "# An operator's mistake: nothing but this comment.\n")

    other = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                           "--token", viewer_token(d, "lecture", "Ola Hansen"),
                           "--duration", "12", "--min-video-frames", "100")
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                     "--token", viewer_token(d, "lecture"),
                     "--duration", "10", "--min-video-frames", "10",
                     "--min-audio-ms", "8000", "--quality", "2:save-data")
    check(r.ok, "save-data viewer: %s", r.error)
    harness.log("save-data viewer: timeline %s, relay %s",
                r["video_timeline"], r["relay_stats"])
    check_eq(r["quality_replies"], [200], "PATCH status")
    check_one_stream(r["video_rtp"], "save-data viewer")
    timeline = r["video_timeline"]
    # Full picture before the PATCH; from a second after it, none (the
    # timeline ends at the last second with a frame).
    check(sum(timeline[:2]) >= 10 and sum(timeline[4:]) == 0,
          "no full picture for save data: %s", timeline)
    check_eq(r["relay_stats"]["layer"], "audio-only", "the relay's layer")
    check_eq(r["relay_stats"]["quality"], "save-data", "the quality asked")

    # The room tries its light layer again 5 s after it failed, then
    # every 30 s, while it is wanted.
    log = d.log_text()
    check_eq(log.count("room lecture: no light layer"), 2,
             "light layer attempts")
    check("room lecture: light layer tried again in 5 s" in log
          and "room lecture: light layer tried again in 30 s" in log,
          "the retries' back-off")

    o = other.wait(40)
    check(o.ok, "other viewer: %s", o.error)
    check_one_stream(o["video_rtp"], "other viewer")
    check_eq(o["relay_stats"]["layer_switches"], 0, "other viewer's switches")
    check(min(o["video_timeline"][2:11]) >= 10,
          "other viewer's picture never stopped: %s", o["video_timeline"])


harness.main(test)
