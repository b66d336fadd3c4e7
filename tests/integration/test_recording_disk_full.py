#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The disk fills up during a recording.

The daemon runs in a mount namespace of its own (unshare --mount) where
<data-dir>/recordings is a 2 MB tmpfs, most of it already taken by a
filler file, so a VP8 host fills the rest within seconds. Skipped (77)
where mounting is not allowed. Checked: the recording ends with what it
had, in state "failed" with the error; a warning is logged; /metrics
counts it (failed, not active); the broadcast goes on: a viewer watching
across the failure keeps decoding, and one that joins after it decodes
too; what was written is still served and decodes.
"""
import os
import subprocess
import time

import harness
from harness import check, check_eq
import recording_media as rm

TMPFS = "2m"
FREE_KB = 160                   # left by the filler


class TmpfsDaemon(harness.Daemon):
    """A daemon whose recordings directory is a small tmpfs that only
    its own mount namespace sees."""

    def argv(self):
        recordings = os.path.join(self.data_dir, "recordings")
        script = ('mount -t tmpfs -o size=%s,mode=0750 kk-recordings "$1" '
                  '&& avail=$(df -k --output=avail "$1" | tail -1) '
                  '&& head -c $(( (avail - %d) * 1024 )) /dev/zero > "$1/filler" '
                  '&& shift && exec "$@"' % (TMPFS, FREE_KB))
        return (["unshare", "--mount", "sh", "-c", script, "sh", recordings]
                + super().argv())


def require_mount(workdir):
    probe = os.path.join(workdir, "mount-probe")
    os.makedirs(probe)
    r = subprocess.run(["unshare", "--mount", "sh", "-c",
                        'mount -t tmpfs -o size=1m kk-probe "$1"', "sh",
                        probe], capture_output=True, timeout=20)
    if r.returncode != 0:
        raise harness.TestSkip("cannot mount a tmpfs in a mount namespace "
                               "here: %s" % r.stderr.decode(errors="replace")
                               .strip())


def test(ctx):
    require_mount(ctx.workdir)
    d = TmpfsDaemon(ctx.workdir, name="kringkast")
    ctx.daemons.append(d)
    os.makedirs(os.path.join(d.data_dir, "recordings"))
    d.start()
    room = "full"
    token = d.create_room(room, record=True)["host_token"]

    pub = rm.Publish(ctx, d, room, token, 30, "--bitrate", 1500)
    viewer = ctx.start_peer("whep_gst.py", "--url", d.whep_url(room),
                            "--token", d.join(room, "Kari")["token"],
                            "--duration", 16)
    sid, rec = rm.wait_recording(d, room, states=("failed",), timeout=30)
    t_failed = time.monotonic()
    harness.log("failed %.1f s after going live: %s", t_failed - pub.t_live,
                rec)
    check(rec["error"], "the error is listed")
    check("space" in rec["error"].lower(), "the error says why: %r"
          % rec["error"])
    check(0 < rec["size_bytes"] <= FREE_KB * 1024 + 4096,
          "what fitted was kept (%d bytes)" % rec["size_bytes"])
    check_eq(d.metric("kringkast_recordings_failed_total"), 1.0,
             "failed counter")
    check_eq(d.metric("kringkast_recordings_active"), 0.0, "none active")
    check(d.room(room)["live"], "the broadcast goes on")

    # Viewers do not notice: one joins after the failure and decodes.
    late = ctx.run_peer("whep_gst.py", "--url", d.whep_url(room),
                        "--token", d.join(room, "Ola")["token"],
                        "--duration", 4, "--min-video-frames", 30)
    check(late.ok, "a viewer after the failure: %s" % late.error)
    early = viewer.wait(40)
    check(early.ok, "the viewer across the failure: %s" % early.error)
    harness.log("viewer across the failure: %d frames in %.1f s",
                early["video_frames"], early["receive_s"])
    # The host sends 30 fps; half of that over the whole stay means the
    # pictures did not stop when the recording did.
    check(early["video_frames"] >= 15 * (early["receive_s"] - 2),
          "the viewer kept decoding (%d frames in %.1f s)"
          % (early["video_frames"], early["receive_s"]))
    check(time.monotonic() - t_failed > 4, "the viewer watched past it")
    pub.peer.stop()

    _, rec = rm.session_recording(d, room, sid)
    check_eq(rec["state"], "failed", "still failed after the broadcast")
    path = os.path.join(ctx.workdir, "partial.webm")
    check_eq(rm.download(d, rec["url"], path).status, 200,
             "what was written is served")
    info = rm.inspect(path)
    check(info["video_frames"] > 0 and info["audio_buffers"] > 0,
          "what was written decodes")
    check("the recording of session %s failed" % sid in d.log_text(),
          "a warning is logged")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
