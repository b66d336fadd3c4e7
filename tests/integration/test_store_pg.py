#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The daemon on PostgreSQL (--database), run by tests/pg-run.

A room made through the API, a WHIP host (webrtcbin) broadcasting, and a
nurse's viewer (aiortc) watching for a known time: the attendance row,
read back through the API, gives her the time she watched (within 2 s of
what the test itself timed) and is in the shared database, not in a
SQLite file: a second relay on another data directory, opened on the same
database, reads the same room, session and row. A database that cannot be
reached stops the daemon at start-up with a clear message.
"""
import os
import subprocess
import time

import harness
from harness import check, check_eq
from common import viewer_token

ROOM = "pg"
WATCH = 8           # s the viewer stays
TOLERANCE = 2.0     # s


def unreachable(ctx):
    """A database URL whose socket directory has no server in it."""
    data = os.path.join(ctx.workdir, "unreachable-data")
    argv = [harness.find_binary(), "--data-dir", data,
            "--http-port", "0", "--media-port", "0",
            "--database", "postgresql:///kk?host=/nonexistent-kk-pg"]
    r = subprocess.run(argv, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    text = r.stderr.decode(errors="replace")
    harness.log("unreachable database: exit %d: %s", r.returncode,
                text.strip()[-300:])
    check(r.returncode != 0, "the daemon refused to start")
    check("cannot connect to PostgreSQL database kk" in text,
          "a clear error names the database")


def test(ctx):
    url = os.environ.get("KK_TEST_DATABASE")
    if not url:
        raise harness.TestSkip("no PostgreSQL server: run under tests/pg-run")

    unreachable(ctx)

    d = ctx.daemon(extra_args=["--database", url])
    info = d.create_room(ROOM, completion_ratio=0.5)
    token = viewer_token(d, ROOM, "Åse Ødegård", "Gjøvik sjukehus")
    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", info["host_token"], "--duration",
                         str(WATCH + 12), "--width", "320", "--height", "240")
    d.wait_live(ROOM)
    session = d.room(ROOM)["session_id"]

    viewer = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url(ROOM),
                            "--token", token, "--duration", str(WATCH))
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 1, 15,
                       "the viewer connected")
    t_connected = time.monotonic()
    result = viewer.wait(WATCH + 30)
    check(result.ok, "the viewer ran: %s", result.error)
    check(result["video_frames"] > 0, "the viewer decoded video")
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 0, 15,
                       "the viewer left")
    t_left = time.monotonic()
    watched = t_left - t_connected
    check(pub.wait(60).ok, "the host ran")
    d.wait_live(ROOM, live=False, timeout=15)

    rows = d.attendance(session)
    check_eq(len(rows), 1, "attendance rows")
    row = rows[0]
    harness.log("attendance row: %s; the test timed %.1f s", row, watched)
    check_eq(row["name"], "Åse Ødegård", "name")
    check_eq(row["workplace"], "Gjøvik sjukehus", "workplace")
    check(abs(row["attended_seconds"] - watched) <= TOLERANCE,
          "attended %s s, the test timed %.1f s", row["attended_seconds"],
          watched)
    check(row["first_join"] is not None and row["last_leave"] is not None,
          "join and leave times")
    check(not os.path.exists(os.path.join(d.data_dir, "kringkast.db")),
          "no SQLite file in the data directory")
    check_eq(d.stop(), 0, "daemon exit status")

    # Another relay, another data directory, the same database.
    other = ctx.daemon(extra_args=["--database", url], name="second")
    check_eq(other.room(ROOM)["id"], ROOM, "the room, from the database")
    sessions = other.sessions(ROOM)
    check_eq([s["id"] for s in sessions], [session], "the session")
    check_eq(other.attendance(session), rows, "the same attendance row")
    check_eq(other.stop(), 0, "second daemon exit status")


harness.main(test)
