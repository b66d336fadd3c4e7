#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Retention: the daemon deletes old recordings on its own.

The coordinator gives room "ret" a retention of 2 days; room "keep" has
none. Three broadcasts are recorded in "ret" and one in "keep". Then the
daemon is stopped and the broadcasts are made old the only honest way a
test can: their times are moved back in the SQLite file (sessions and
recordings alike), to 3 days ago (A), 1 day ago (B), 2 days less 10
seconds ago (C), and 30 days ago for "keep". On restart, with nothing
asked of it, the daemon deletes A's file and lists it "deleted" (410);
B, C and "keep" stay and play. Ten seconds later C comes due while the
daemon runs, and the daemon deletes it too: the sweep runs when a
recording comes due, not only at startup. B and "keep" are still there.
"""
import os
import sqlite3
import time

import harness
from harness import check, check_eq
import recording_media as rm

DAY_US = 24 * 3600 * 1000000


def record(ctx, d, room, token):
    rm.Publish(ctx, d, room, token, 3).finish()
    sid, rec = rm.wait_recording(d, room)
    check_eq(rec["state"], "finished", "%s recorded" % room)
    return sid


def move_back(db, sid, ended_at):
    """Makes session sid end at ended_at (wall-clock µs), same length."""
    con = sqlite3.connect(db)
    with con:
        for table, key in (("sessions", "id"), ("recordings", "session_id")):
            started, ended = con.execute(
                "SELECT started_at, ended_at FROM %s WHERE %s = ?"
                % (table, key), (sid,)).fetchone()
            con.execute("UPDATE %s SET started_at = ?, ended_at = ? "
                        "WHERE %s = ?" % (table, key),
                        (ended_at - (ended - started), ended_at, sid))
    con.close()


def state(d, room, sid):
    return rm.session_recording(d, room, sid)[1]


def test(ctx):
    d = ctx.daemon()
    token = d.create_room("ret", record=True)["host_token"]
    keep_token = d.create_room("keep", record=True)["host_token"]
    r = d.api("POST", "/api/rooms/ret/recording", {"retention_days": 2})
    check_eq(r.status, 200, "retention set (%s)" % r.text[:200])
    check_eq(r.json()["retention_days"], 2, "retention listed")

    a, b, c = (record(ctx, d, "ret", token) for _ in range(3))
    k = record(ctx, d, "keep", keep_token)
    files = {sid: os.path.join(d.data_dir, "recordings", sid + ".webm")
             for sid in (a, b, c, k)}
    check(all(os.path.exists(f) for f in files.values()), "four files")
    check_eq(d.stop(), 0, "daemon exit status")

    db = os.path.join(d.data_dir, "kringkast.db")
    now = int(time.time() * 1000000)
    move_back(db, a, now - 3 * DAY_US)
    move_back(db, b, now - 1 * DAY_US)
    move_back(db, c, now - 2 * DAY_US + 10 * 1000000)
    move_back(db, k, now - 30 * DAY_US)

    d.start()
    rec = state(d, "ret", a)
    check_eq((rec["state"], rec["url"]), ("deleted", None),
             "A, past the retention, deleted at startup")
    check(not os.path.exists(files[a]), "A's file is gone")
    check_eq(d.api("GET", "/api/sessions/%s/recording" % a).status, 410,
             "GET A")
    for sid, room in ((b, "ret"), (c, "ret"), (k, "keep")):
        rec = state(d, room, sid)
        check_eq(rec["state"], "finished", "%s of %s kept" % (sid, room))
        check(os.path.exists(files[sid]), "%s's file is there" % sid)
        path = os.path.join(ctx.workdir, sid + ".webm")
        check_eq(rm.download(d, rec["url"], path).status, 200, "GET %s" % sid)
        rm.inspect(path)

    # C comes due about 10 s after it was moved back.
    harness.wait_until(lambda: state(d, "ret", c)["state"] == "deleted", 30,
                       "C deleted while the daemon runs")
    harness.log("C deleted %.1f s after it came due",
                time.time() - (now + 10 * 1000000) / 1e6)
    check(not os.path.exists(files[c]), "C's file is gone")
    check_eq(state(d, "ret", b)["state"], "finished", "B still kept")
    check_eq(state(d, "keep", k)["state"], "finished",
             "a room without retention keeps everything")
    check(os.path.exists(files[b]) and os.path.exists(files[k]),
          "B's and keep's files are there")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
