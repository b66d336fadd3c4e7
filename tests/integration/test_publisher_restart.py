#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The host's encoder dies and comes back: viewers keep playing.

The publisher is killed (no DELETE, like a crash or a pulled cable) and a
new one publishes within the grace period. The viewer's one connection
must go on decoding after the restart, without a new WHEP request (the
relay continues SSRC, sequence numbers and timestamps), and the broadcast
must stay one session.
"""
import time

import harness
from harness import check
from common import viewer_token


def test(ctx):
    d = ctx.daemon()
    info = d.create_room("restart")
    pub_args = ["--url", d.whip_url("restart"), "--token", info["host_token"],
                "--duration", "0", "--no-delete"]
    first = ctx.start_peer("whip_gst.py", *pub_args)
    d.wait_live("restart")
    session = d.room("restart")["session_id"]

    viewer = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("restart"),
                            "--token", viewer_token(d, "restart"),
                            "--duration", "16", "--min-video-frames", "100")
    time.sleep(5)
    first.kill()
    t_kill = time.monotonic()
    time.sleep(2)
    check(d.room("restart")["live"], "still live during the grace period")
    second = ctx.start_peer("whip_gst.py", *pub_args)
    harness.wait_until(
        lambda: d.metric("kringkast_ingest_packets_total") > 0, 5, "ingest")

    r = viewer.wait(60)
    check(r.ok, "viewer: %s", r.error)
    timeline = r["video_timeline"]
    harness.log("viewer frames per second: %s", timeline)
    # The last seconds of the viewer's run come after the second publisher
    # started: the same connection must have decoded frames there.
    tail = timeline[-5:-1]
    check(len(timeline) >= 14 and sum(tail) > 40,
          "frames after the restart: %s", timeline)
    check(d.room("restart")["session_id"] == session,
          "the same session continues")
    check(len(d.sessions("restart")) == 1, "one session: %s",
          d.sessions("restart"))
    second.stop()
    check(time.monotonic() - t_kill < 60, "test ran in time")
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
