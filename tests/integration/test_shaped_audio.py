#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A viewer whose real link narrows to 100 kbit/s keeps the sound, whole.

The lab of shapedlab.py, one aiortc viewer (UDP) of its lecture
(shapedlab.SOURCE, about 1.2 Mbit/s of video and 64 kbit/s of Opus). Its link is 15 s unshaped, 45 s shaped with tc tbf to 100 kbit/s,
then 30 s unshaped. Checked: the relay steps it down to sound only (full,
light, sound only: each step a few seconds, no more than the settling
time apart), and once there the sound goes on uninterrupted, every second
of it decoded, until the link opens; then the picture comes back.
"""
import time

import harness
import shapedlab
from harness import check, check_eq
from common import viewer_token

UNSHAPED_S, SHAPED_S, RECOVERED_S = 15, 45, 30
RATE_KBIT = 100


def run(ctx, lab, d, watch):
    total = UNSHAPED_S + SHAPED_S + RECOVERED_S
    weak = shapedlab.start_aiortc(ctx, lab.weak, shapedlab.WEAK, d,
                                  viewer_token(d, shapedlab.ROOM), total,
                                  "--min-video-frames", "100")
    t_weak = shapedlab.wait_flowing(watch, "full", 1)
    t_shaped, t_open = shapedlab.play_timeline(
        lab, watch, t_weak, UNSHAPED_S, SHAPED_S, RECOVERED_S, RATE_KBIT)

    w = weak.wait(60)
    check(w.ok, "weak viewer: %s", w.error)
    harness.log("layers while narrow: %s", watch.changes(t_shaped, t_open))
    harness.log("layers after: %s", watch.changes(t_open, time.monotonic()))
    harness.log("weak viewer: sizes %s, video %s, audio %s, relay %s",
                w["video_sizes"], w["video_timeline"], w["audio_timeline"],
                w["relay_stats"])

    t_audio = watch.first(t_shaped, lambda c: c["audio-only"] == 1)
    check(t_audio is not None, "the viewer never moved to sound only")
    down_s = t_audio - t_shaped
    harness.log("MEASURED sound only %.2f s after the link narrowed", down_s)
    # Two steps, the second no sooner than the settling time (3 s) after
    # the first.
    check(down_s <= 8, "sound only %.2f s after the link narrowed", down_s)
    check(watch.first(t_audio, lambda c: c["audio-only"] != 1) is None
          or watch.first(t_audio, lambda c: c["audio-only"] != 1) >= t_open,
          "left sound only while the link was narrow: %s",
          watch.changes(t_shaped, t_open))

    settled = shapedlab.to_peer_second(t_audio + 3, t_weak, w)
    opened = shapedlab.to_peer_second(t_open, t_weak, w)
    audio = w["audio_timeline"][int(settled) + 1:int(opened) - 1]
    harness.log("MEASURED sound while sound only: min %d ms a second over "
                "%d s", min(audio), len(audio))
    check(len(audio) >= 30 and min(audio) >= 900,
          "sound decoded each second while sound only: %s", audio)
    video = w["video_timeline"][int(settled) + 1:int(opened) - 1]
    check(sum(video) <= 2, "no picture while sound only: %s", video)

    t_back = watch.first(t_open, lambda c: c["audio-only"] == 0)
    check(t_back is not None, "the picture never came back")
    harness.log("MEASURED picture back %.2f s after the link recovered",
                t_back - t_open)
    check(t_back - t_open <= 15.5, "picture back %.2f s after the link "
          "recovered", t_back - t_open)
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(shapedlab.test_in_lab(run))
