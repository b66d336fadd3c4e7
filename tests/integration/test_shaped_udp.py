#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A viewer whose real link narrows to 500 kbit/s moves to the light layer
and back, and a viewer beside it on a good link sees nothing of it.

The lab of shapedlab.py: the relay in one namespace, two aiortc viewers
(UDP) of the same lecture (shapedlab.SOURCE: 15 pictures a second,
about 1.2 Mbit/s) in two others. The link to the weak one is 20 s unshaped,
60 s shaped with tc tbf to 500 kbit/s, then 60 s unshaped. Checked:

- the relay moves the weak viewer to the light layer within about 3 s of
  the link narrowing (/metrics, sampled every quarter second), and makes
  at most two switches while it stays narrow;
- once settled on the light layer, its video loses less than 1 % after
  retransmission over 30 s, decodes at least 14 pictures a second on
  average and never freezes, judged beside the good viewer so that
  seconds in which a loaded machine starved both are not held against
  the link (shapedlab.check_fps_beside);
- within about 15 s of the link recovering it is back on the full layer;
- the good viewer never changes layer (the relay's count says 0 switches
  for it) and loses no packet (its pictures a second are logged).
"""

import harness
import shapedlab
from harness import check, check_eq
from common import check_one_stream, viewer_token

UNSHAPED_S, SHAPED_S, RECOVERED_S = 20, 60, 60
RATE_KBIT = 500


def run(ctx, lab, d, watch):
    total = UNSHAPED_S + SHAPED_S + RECOVERED_S
    weak = shapedlab.start_aiortc(ctx, lab.weak, shapedlab.WEAK, d,
                                  viewer_token(d, shapedlab.ROOM), total + 2,
                                  "--min-video-frames", "100")
    t_weak = shapedlab.wait_flowing(watch, "full", 1)
    good = shapedlab.start_aiortc(ctx, lab.good, shapedlab.GOOD, d,
                                  viewer_token(d, shapedlab.ROOM, "Ola Hansen"),
                                  total, "--min-video-frames", "100")
    t_good = shapedlab.wait_flowing(watch, "full", 2)

    t_shaped, t_open = shapedlab.play_timeline(
        lab, watch, t_weak, UNSHAPED_S, SHAPED_S, RECOVERED_S, RATE_KBIT)

    w = weak.wait(60)
    g = good.wait(60)
    check(w.ok, "weak viewer: %s", w.error)
    check(g.ok, "good viewer: %s", g.error)
    harness.log("weak viewer: sizes %s, timeline %s, loss %s, relay %s",
                w["video_sizes"], w["video_timeline"],
                w["video_loss_timeline"], w["relay_stats"])
    harness.log("good viewer: sizes %s, timeline %s, rtp %s, relay %s",
                g["video_sizes"], g["video_timeline"], g["video_rtp"],
                g["relay_stats"])

    t_light = shapedlab.check_switches(watch, t_shaped, t_open, 2)
    stats = w["relay_stats"]
    harness.log("MEASURED switches of the weak viewer: %d", stats["layer_switches"])
    check(stats["layer_switches"] <= 4,
          "the weak viewer's switches (two while narrow, one back): %d",
          stats["layer_switches"])
    check_eq(stats["layer"], "full", "the weak viewer's layer at the end")

    # Settled on light: from 5 s after the switch to the end of the narrow
    # minute, in the peer's seconds; the 30 s of loss in the middle.
    settled = shapedlab.to_peer_second(t_light + 5, t_weak, w)
    opened = shapedlab.to_peer_second(t_open, t_weak, w)
    lost, expected = shapedlab.loss_over(w, settled + 5, settled + 35)
    harness.log("MEASURED loss after retransmission while narrow: %d of %d "
                "(%.2f %%)", lost, expected, 100.0 * lost / max(expected, 1))
    check(expected > 500 and lost * 100 < expected,
          "loss after retransmission %d of %d", lost, expected)
    # The good viewer's second of the same moment: both timelines count
    # from their own POST.
    offset = (shapedlab.to_peer_second(t_good, t_good, g)
              - shapedlab.to_peer_second(t_good, t_weak, w))
    shapedlab.check_fps_beside(w["video_timeline"], settled, opened,
                               g["video_timeline"], offset, "weak viewer")
    check_eq(w["video_rtp"]["ssrcs"], 1, "weak viewer: video SSRCs")
    check_eq(w["video_rtp"]["ts_backwards"], 0, "weak viewer: time going back")

    # The good viewer: nothing happened.
    check_eq(g["relay_stats"]["layer_switches"], 0, "good viewer's switches")
    check_one_stream(g["video_rtp"], "good viewer")
    lost, expected = shapedlab.loss_over(g, 0, len(g["video_loss_timeline"]))
    harness.log("MEASURED good viewer's loss: %d of %d", lost, expected)
    check_eq(lost, 0, "good viewer's packets lost for good")
    # Its pictures a second measure the machine (above), not the relay:
    # logged, not judged.
    good_fps = g["video_timeline"][5:int(shapedlab.to_peer_second(
        t_open + RECOVERED_S - 4, t_good, g))]
    harness.log("MEASURED good viewer fps over %d s: mean %.1f, lowest "
                "second %d", len(good_fps), sum(good_fps) / len(good_fps),
                min(good_fps))
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(shapedlab.test_in_lab(run))
