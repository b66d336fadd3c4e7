#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A host who drops and comes back within the grace period continues the
same recording.

A VP8 host publishes 4 s and vanishes without a DELETE; a new publisher
(the host's reconnect) takes over 2 s later and publishes 4 s more. There
is one session, with one recording, and it holds both parts (the feed's
timestamps run on across the gap, so the file's do too).
"""
import os
import time

import harness
from harness import check, check_eq
import recording_media as rm


def test(ctx):
    d = ctx.daemon()
    room = "again"
    token = d.create_room(room, record=True)["host_token"]
    first = rm.Publish(ctx, d, room, token, 4, "--no-delete").finish()
    time.sleep(2)
    check(d.room(room)["live"], "the session waits for the host")
    second = rm.Publish(ctx, d, room, token, 4).finish()
    wall = time.monotonic() - first.t_live

    sessions = d.sessions(room)
    check_eq(len(sessions), 1, "one session")
    sid, rec = rm.wait_recording(d, room)
    harness.log("listed: %s", rec)
    check_eq(rec["state"], "finished", "state")
    path = os.path.join(ctx.workdir, "again.webm")
    check_eq(rm.download(d, rec["url"], path).status, 200, "GET recording")
    info = rm.inspect(path)
    # Both parts are in it: the audio alone (20 ms packets) holds more
    # than either part. The timeline runs on across the gap as the feed
    # sets it, from the publishers' capture clocks, so its length is only
    # bounded loosely from above.
    both = first.live_span + second.live_span - 1.5
    check(info["audio_buffers"] * 0.020 >= both,
          "%.1f s of audio in the file, want both parts (%.1f s)"
          % (info["audio_buffers"] * 0.020, both))
    rm.check_media(info, "vp8", both, wall + 6.0)
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
