#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A viewer on ICE-TCP whose link narrows to 500 kbit/s moves to the light
layer and back: over TCP the link does not lose packets, it backs up, and
the relay must judge from its own send backlog and drops.

The lab of shapedlab.py, one viewer restricted to TCP candidates
(GStreamer's webrtcbin through libnice, tests/peers/whep_gst.py; aioice
has no ICE-TCP), of the lecture of shapedlab.SOURCE. Its link is 20 s
unshaped, 60 s shaped with tc tbf to 500 kbit/s, 60 s unshaped. Checked:
the relay moves it to the light layer within 4 s (a link that backs up
rather than loses shows later: TCP first fills the connection's send
buffer, and only then do the backlog drops the relay judges by come;
README, weak links), makes at most two switches while narrow, and has it
back on full within about 15 s of the link recovering; once settled on
light it decodes at least 14 pictures a second and never freezes
(shapedlab.check_fps); over the 30 s settled on light (from 5 s after the
move), less than 1 % of its video packets are lost (webrtcbin's count:
over TCP, what the relay dropped at the backlog and never repaired).
"""

# ICE-TCP's bound for the move down, in seconds (see above).
TCP_DOWN_BOUND_S = 4.0

import harness
import shapedlab
from harness import check, check_eq
from common import viewer_token

UNSHAPED_S, SHAPED_S, RECOVERED_S = 20, 60, 60
RATE_KBIT = 500


def run(ctx, lab, d, watch):
    total = UNSHAPED_S + SHAPED_S + RECOVERED_S
    argv = harness.peer_argv("whep_gst.py", [
        "--url", d.whep_url(shapedlab.ROOM),
        "--token", viewer_token(d, shapedlab.ROOM),
        "--local-ip", shapedlab.WEAK, "--tcp-only",
        "--duration", str(total), "--timeout", str(total + 30),
        "--min-video-frames", "100"])
    weak = harness.Peer(ctx, "whep_gst-weak", lab.weak.wrap(argv))
    ctx.peers.append(weak)
    t_weak = shapedlab.wait_flowing(watch, "full", 1)
    check_eq(d.metric("kringkast_viewers", {"transport": "tcp"}), 1.0,
             "the viewer on ICE-TCP")
    t_shaped, t_open = shapedlab.play_timeline(
        lab, watch, t_weak, UNSHAPED_S, SHAPED_S, RECOVERED_S, RATE_KBIT)

    w = weak.wait(60)
    check(w.ok, "weak viewer: %s", w.error)
    harness.log("weak viewer: sizes %s, video %s, relay %s, lost %s of %s",
                w["video_sizes"], w["video_timeline"], w["relay_stats"],
                w.get("video_packets_lost"), w.get("video_packets"))
    check_eq(w["selected_remote"]["protocol"], "tcp", "the selected pair")
    t_light = shapedlab.check_switches(watch, t_shaped, t_open, 1,
                                       TCP_DOWN_BOUND_S)
    settled = shapedlab.to_peer_second(t_light + 5, t_weak, w)
    opened = shapedlab.to_peer_second(t_open, t_weak, w)
    shapedlab.check_fps(w["video_timeline"], settled, opened, "weak viewer")
    lost, expected = shapedlab.loss_over(w, settled, settled + 30)
    harness.log("MEASURED video packets lost over 30 s settled on light: "
                "%d of %d (over the run: %s of %s)", lost, expected,
                w["video_packets_lost"], w["video_packets"])
    check(expected > 0 and lost * 100 < expected,
          "video packets lost settled on light: %d of %d", lost, expected)
    harness.log("MEASURED switches: %d", w["relay_stats"]["layer_switches"])
    check_eq(w["relay_stats"]["layer"], "full", "the layer at the end")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(shapedlab.test_in_lab(run))
