#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""SIGKILL while people watch: no interval is left open or stretched.

Two viewers (aiortc and webrtcbin) watch a live pipeline lecture; the
daemon is killed with SIGKILL, its viewers are stopped, and it restarts
on the same data directory some seconds later. Every interval and the
session itself must have ended within 10 s before the kill (at the last
heartbeat), not at the restart and not never.
"""
import datetime
import signal
import time

import harness
from harness import check, check_eq
from common import pipeline_daemon, viewer_token

HEARTBEAT_BOUND = 10.0


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test(ctx):
    d = pipeline_daemon(ctx, room="crash")
    session = d.room("crash")["session_id"]
    a = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("crash"),
                       "--token", viewer_token(d, "crash", "Kari"),
                       "--duration", "60", "--no-audio")
    g = ctx.start_peer("whep_gst.py", "--url", d.whep_url("crash"),
                       "--token", viewer_token(d, "crash", "Ola"),
                       "--duration", "60", "--no-audio")
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 2, 20,
                       "both viewers connected")
    # Long enough for a few heartbeats (every 5 s).
    time.sleep(12)
    d.send_signal(signal.SIGKILL)
    t_kill = time.time()
    d.proc.wait()
    d.proc = None
    a.kill()
    g.kill()
    time.sleep(4)       # the restart comes noticeably later
    d.start()

    rows = d.attendance(session)
    check_eq(len(rows), 2, "both viewers have a row")
    for row in rows:
        check_eq(len(row["connections"]), 1, "one connection each")
        c = row["connections"][0]
        check(c["left_at"] is not None, "%s's interval was closed" % row["name"])
        left = parse_time(c["left_at"])
        harness.log("%s: left_at %.1f s before the kill, reason %s",
                    row["name"], t_kill - left, c["reason"])
        check(t_kill - HEARTBEAT_BOUND - 1 <= left <= t_kill + 1,
              "%s's interval ends within %d s of the kill (%.1f s before)",
              row["name"], HEARTBEAT_BOUND, t_kill - left)
        check_eq(c["reason"], "relay-restart", "end reason")
        # Counted up to that heartbeat, not to the restart.
        want = left - parse_time(c["connected_at"])
        check(abs(row["attended_seconds"] - want) <= 2,
              "attended %s s, connected for %.0f s", row["attended_seconds"],
              want)
    sessions = d.sessions("crash")
    crashed = [s for s in sessions if s["id"] == session][0]
    ended = parse_time(crashed["ended_at"])
    check(t_kill - HEARTBEAT_BOUND - 1 <= ended <= t_kill + 1,
          "the session ends at its last heartbeat (%.1f s before the kill)",
          t_kill - ended)
    check("connections left open by an unclean stop" in d.log_text(),
          "the recovery is logged")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
