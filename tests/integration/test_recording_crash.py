#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""SIGKILL while recording: the next start saves what was written.

A VP8 host (WebM) and an H.264 host (fragmented MP4) publish side by
side; about 8 s after the rooms went live the daemon is killed with
SIGKILL (no EOS, no index, the files as the kernel has them), the hosts
are stopped, and the daemon restarts on the same data directory. While
a file is being repaired it is not served; then each recording is
"finished" and plays (discoverer and a full decode, both streams, each
of them) up to within a few seconds of the kill. Then SIGTERM while
recording: the daemon exits 0 within 5 s and the file it finished plays
to the end.
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
    h264_token = d.create_room("crash-h264", record=True)["host_token"]
    t_start = time.monotonic()
    pub = rm.Publish(ctx, d, room, token, 60)
    pub_h264 = rm.Publish(ctx, d, "crash-h264", h264_token, 60, "--codec",
                          "h264")
    sid, rec = rm.wait_recording(d, room, states=("recording",))
    sid_h264, _ = rm.wait_recording(d, "crash-h264", states=("recording",))
    check_eq(d.api("GET", "/api/sessions/%s/recording" % sid).status, 409,
             "not served while it is written")
    time.sleep(8 - (time.monotonic() - pub.t_live))
    d.send_signal(signal.SIGKILL)
    t_kill = time.monotonic()
    d.proc.wait()
    d.proc = None
    pub.peer.kill()
    pub_h264.peer.kill()
    kill_span = t_kill - pub.t_live
    kill_span_h264 = t_kill - pub_h264.t_live
    for name in (sid + ".webm", sid_h264 + ".mp4"):
        check(os.path.getsize(os.path.join(d.data_dir, "recordings",
                                           name)) > 0,
              "something was written to %s before the kill" % name)

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
    # The MP4 too, sound included to the end (its first index says the
    # tracks last one fragment).
    _, rec = rm.wait_recording(d, "crash-h264", session_id=sid_h264)
    check_eq(rec["state"], "finished", "the MP4's state after the restart")
    path = os.path.join(ctx.workdir, "crash.mp4")
    check_eq(rm.download(d, rec["url"], path).status, 200, "GET the MP4")
    info = rm.inspect(path)
    harness.log("MP4 killed %.1f s after going live; %.1f s saved",
                kill_span_h264, info["duration"])
    rm.check_media(info, "h264", kill_span_h264 - LOSS_BOUND,
                   t_kill - t_start + 0.5)
    check_eq(d.log_text().count("cut off by an unclean stop"), 2,
             "the repairs are logged")
    check_eq(d.metric("kringkast_recordings_finished_total"), 2.0,
             "the repaired recordings are counted")

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
    check_eq(d.log_text().count("cut off by an unclean stop"), 2,
             "nothing to repair after SIGTERM")
    path = os.path.join(ctx.workdir, "term.webm")
    check_eq(rm.download(d, rec["url"], path).status, 200, "GET recording")
    rm.check_media(rm.inspect(path), "vp8", term_span - 1.0, term_span + 2.5)
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
