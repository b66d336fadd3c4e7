#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The demo a newcomer starts first: `kringkast --demo`, as scripts/demo runs it.

scripts/demo (the README's first command) execs
`kringkast --demo --data-dir ./var` with nothing else set: no admin token
in the environment, no --public-ip, no config file.  This test starts the
daemon the same way (only the ports differ, so it can run beside another
relay) and checks what the newcomer is promised: the URLs are printed,
the coordinator token is made, printed once and kept, the demo room goes
live with the built-in test lecture (every element of
pipelines/testsrc.pipeline present: the demo once shipped without
gstreamer1.0-x and said "not started yet" forever), and an independent
viewer who joins through the open form decodes its video and its audio.
"""
import os

import harness
from harness import check, check_eq


def test(ctx):
    d = ctx.daemon(extra_args=["--demo"], admin_token=None, public_ip=None)
    d.admin_token = None

    # What the terminal shows: the URLs to open and, at first start, the
    # coordinator token, which is also kept in the data dir.
    harness.wait_until(lambda: "is running" in d.log_text(), 10,
                       "the start-up banner")
    banner = d.log_text()
    check("/watch/demo" in banner, "the banner names the demo's watch URL:\n%s"
          % d.log_tail(20))
    token_file = os.path.join(d.data_dir, "admin-token")
    check(os.path.exists(token_file), "the coordinator token is kept in %s"
          % token_file)
    with open(token_file) as f:
        admin = f.read().strip()
    check(len(admin) >= 20 and admin in banner,
          "the coordinator token is printed once at first start")

    # The demo room goes live on its own, with nothing published to it.
    d.admin_token = admin
    d.wait_live("demo", timeout=30)
    room = d.room("demo", token=None)
    check_eq(room.get("live"), True, "demo room live")
    log = d.log_text()
    check("does not start" not in log and "missing elements" not in log,
          "the demo's source started:\n%s" % d.log_tail(20))

    r = d.api("GET", "/watch/demo", token=None)
    check_eq(r.status, 200, "GET /watch/demo")

    # A nurse fills in the open form and watches.  webrtcbin shares no code
    # with the relay: it must decode the 720p test pattern and the tone.
    nurse = d.join("demo", "Kari Nordmann", "Gjøvik helsestasjon")
    v = ctx.run_peer("whep_gst.py", "--url", d.whep_url("demo"),
                     "--token", nurse["token"], "--duration", "6",
                     "--min-video-frames", "60", "--min-audio-ms", "4000")
    check(v.ok, "viewer: %s", v.error)
    check((v["width"], v["height"]) == (1280, 720),
          "decoded %sx%s, the demo is 1280x720" % (v["width"], v["height"]))
    check(v["first_video_frame_ms"] < 3000,
          "first frame after %s ms" % v["first_video_frame_ms"])

    # Stopping keeps to the contract: exit 0 within the grace.
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
