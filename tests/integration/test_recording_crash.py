#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""SIGKILL while recording: the next start saves what was written.

A VP8 host publishes; about 8 s after the room went live the daemon is
killed with SIGKILL (no EOS, no index, the file as the kernel has it),
the host is stopped, and the daemon restarts on the same data directory.
While the file is being repaired it is not served; then the recording is
"finished" and plays (discoverer and a full decode, both streams) up to
within a few seconds of the kill. Then SIGTERM while recording: the
daemon exits 0 within 5 s and the file it finished plays to the end.
"""
import os
import signal
import time

import harness
from harness import check, check_eq
import recording_media as rm

LOSS_BOUND = 3.0


def test(ctx):
    d = ctx.daemon()
    room = "crash"
    token = d.create_room(room, record=True)["host_token"]
    t_start = time.monotonic()
    pub = rm.Publish(ctx, d, room, token, 60)
    sid, rec = rm.wait_recording(d, room, states=("recording",))
    check_eq(d.api("GET", "/api/sessions/%s/recording" % sid).status, 409,
             "not served while it is written")
    time.sleep(8 - (time.monotonic() - pub.t_live))
    d.send_signal(signal.SIGKILL)
    t_kill = time.monotonic()
    d.proc.wait()
    d.proc = None
    pub.peer.kill()
    kill_span = t_kill - pub.t_live
    check(os.path.getsize(os.path.join(d.data_dir, "recordings",
                                       sid + ".webm")) > 0,
          "something was written before the kill")

    d.start()
    _, rec = rm.session_recording(d, room, sid)
    if rec["state"] == "recording":
        check_eq(d.api("GET", rec["url"] or "/api/sessions/%s/recording"
                       % sid).status, 409, "not served while repaired")
    sid, rec = rm.wait_recording(d, room, session_id=sid)
    harness.log("after the restart: %s", rec)
    check_eq(rec["state"], "finished", "state after the restart")
    check(rec["ended_at"] is not None, "ended_at set")
    path = os.path.join(ctx.workdir, "crash.webm")
    check_eq(rm.download(d, rec["url"], path).status, 200, "GET recording")
    info = rm.inspect(path)
    harness.log("killed %.1f s after going live; %.1f s saved", kill_span,
                info["duration"])
    # At most what the host captured before the kill; at least all but
    # the last few seconds.
    rm.check_media(info, "vp8", kill_span - LOSS_BOUND,
                   t_kill - t_start + 0.5)
    check("cut off by an unclean stop" in d.log_text(), "the repair is logged")
    check_eq(d.metric("kringkast_recordings_finished_total"), 1.0,
             "the repaired recording is counted")

    # SIGTERM while recording: the daemon finishes the file itself.
    pub = rm.Publish(ctx, d, room, token, 60)
    sid2, _ = rm.wait_recording(d, room, states=("recording",))
    time.sleep(4)
    t_term = time.monotonic()
    check_eq(d.stop(), 0, "exit status after SIGTERM while recording")
    harness.log("stopped %.2f s after SIGTERM", time.monotonic() - t_term)
    term_span = t_term - pub.t_live
    pub.peer.kill()
    d.start()
    _, rec = rm.session_recording(d, room, sid2)
    check_eq(rec["state"], "finished", "finished by the shutdown, at once")
    check_eq(d.log_text().count("cut off by an unclean stop"), 1,
             "nothing to repair after SIGTERM")
    path = os.path.join(ctx.workdir, "term.webm")
    check_eq(rm.download(d, rec["url"], path).status, 200, "GET recording")
    rm.check_media(rm.inspect(path), "vp8", term_span - 1.0, term_span + 2.5)
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
