#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The host pauses the recording for 2 s.

A VP8 host publishes about 9 s; 3 s after going live its own token
pauses the recording (POST /api/rooms/{room}/recording {"paused": true}),
and resumes it 2 s later. The host sees the state through GET on the
same route; viewers are not affected (the pause is the recording's
only). The file is shorter by the pause (within 1 s: the recording
resumes on the next keyframe, which it asks the host for), decodes in
full, and the session lists the pause with its times.
"""
import os
import time

import harness
from harness import check, check_eq
import recording_media as rm

PAUSE_S = 2.0


def test(ctx):
    d = ctx.daemon()
    room = "pause"
    token = d.create_room(room, record=True)["host_token"]
    route = "/api/rooms/%s/recording" % room

    r = d.api("POST", route, {"paused": True}, token=token)
    check_eq(r.status, 409, "nothing to pause before the broadcast")
    pub = rm.Publish(ctx, d, room, token, 9, "--keyframe-interval", 30)
    time.sleep(3)
    r = d.api("POST", route, {"paused": True}, token=token)
    check_eq((r.status, r.json().get("paused")), (200, True), "pause")
    t_pause = time.monotonic()
    r = d.api("GET", route, token=token)
    check_eq((r.json()["recording"], r.json()["paused"]), (True, True),
             "the host sees it paused")
    _, rec = rm.session_recording(d, room)
    check_eq(rec["state"], "paused", "listed state while paused")
    check_eq(d.api("POST", route, {"retention_days": 1}, token=token).status,
             403, "the host may not set the retention")
    time.sleep(PAUSE_S - (time.monotonic() - t_pause))
    r = d.api("POST", route, {"paused": False}, token=token)
    check_eq((r.status, r.json().get("paused")), (200, False), "resume")
    paused_for = time.monotonic() - t_pause
    pub.finish()

    sid, rec = rm.wait_recording(d, room)
    harness.log("listed: %s", rec)
    check_eq(rec["state"], "finished", "state")
    check_eq(len(rec["paused"]), 1, "one pause listed")
    pause = rec["paused"][0]
    check(pause["from"] and pause["to"], "the pause has both ends")
    check(abs(pause["seconds"] - paused_for) < 0.5,
          "the pause lasted %.2f s, listed %.2f s" % (paused_for,
                                                      pause["seconds"]))
    path = os.path.join(ctx.workdir, "paused.webm")
    check_eq(rm.download(d, rec["url"], path).status, 200, "GET recording")
    info = rm.inspect(path)
    rm.check_media(info, "vp8", pub.live_span - paused_for - 1.0,
                   pub.run_s - paused_for + 1.0)
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
