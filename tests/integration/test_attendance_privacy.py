#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Privacy: erasing one person, and the retention of raw events.

Two parties watch a pipeline lecture with independent viewers: Pål alone,
and Gro with a colleague at her screen. The coordinator erases Pål: his
row, connections, token and name are gone (from the API and from the
database files on disk), Gro's evidence is untouched. Erasing the
colleague leaves Gro's screen and row as they were.

Then retention: the room keeps raw events for one day. The daemon is
stopped, some of its raw events are aged by three days in the database
(as if they were that old), and the daemon is started again: the aged
events of that room are purged at startup, the recent ones stay, a room
without a retention setting keeps even its old ones, and the attendance
made from the connection rows is unchanged.
"""
import os
import sqlite3

import harness
from harness import check, check_eq
from common import pipeline_daemon

ROOM = "priv"
DAY_US = 86400 * 1000000


def db_path(d):
    return os.path.join(d.data_dir, "kringkast.db")


def on_disk(d, text):
    needle = text.encode("utf-8")
    for name in ("kringkast.db", "kringkast.db-wal"):
        path = os.path.join(d.data_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                if needle in f.read():
                    return True
    return False


def rows_by_name(d, session):
    return {row["name"]: row for row in d.attendance(session)}


def test(ctx):
    d = pipeline_daemon(ctx, room=ROOM)
    session = harness.wait_until(lambda: d.room(ROOM)["session_id"], 10,
                                 "the session is stored")
    d.create_room("keep")
    pal = d.join(ROOM, "Pål Personvern", "Sletteby")
    gro = d.join(ROOM, "Gro Gruppe", "Lillehammer",
                 colleagues=["Kåre Kollega"])
    viewers = [ctx.start_peer("whep_aiortc.py", "--url", d.whep_url(ROOM),
                              "--token", pal["token"], "--duration", "4",
                              "--no-audio"),
               ctx.start_peer("whep_gst.py", "--url", d.whep_url(ROOM),
                              "--token", gro["token"], "--duration", "4",
                              "--no-audio")]
    for v in viewers:
        res = v.wait(40)
        check(res.ok, "%s watched: %s" % (v.name, res.error))
    r = d.api("PUT", "/api/rooms/%s/attendance-settings" % ROOM,
              {"retention_days": 1})
    check_eq(r.status, 200, "retention set (%s)" % r.text[:200])

    before = rows_by_name(d, session)
    check_eq(sorted(before), ["Gro Gruppe", "Kåre Kollega", "Pål Personvern"],
             "rows before")
    gro_seconds = before["Gro Gruppe"]["attended_seconds"]
    check(gro_seconds >= 2, "Gro watched: %s" % before["Gro Gruppe"])

    # Erasure of someone who watched alone.
    path = "/api/participants/%s" % pal["participant_id"]
    check_eq(d.api("DELETE", path, token=gro["token"]).status, 403,
             "a viewer may not erase")
    r = d.api("DELETE", path)
    check_eq(r.status, 200, "erase Pål (%s)" % r.text[:200])
    check(r.json()["party_erased"], "his token went with him")
    check_eq(r.json()["connections_erased"], 1, "his connection")
    check_eq(d.api("DELETE", path).status, 404, "erased already")
    offer = open(os.path.join(harness.REPO, "tests", "sdp",
                              "aiortc-recvonly.sdp")).read()
    check_eq(harness.http("POST", d.whep_url(ROOM), body=offer.encode(),
                          token=pal["token"],
                          content_type="application/sdp").status, 401,
             "his token opens nothing")
    after = rows_by_name(d, session)
    check_eq(sorted(after), ["Gro Gruppe", "Kåre Kollega"], "rows after")
    log = d.api("GET", "/api/sessions/%s/connections?format=csv" % session)
    check("Pål" not in log.text and pal["participant_id"] not in log.text,
          "not in the connection log")
    check_eq(after["Gro Gruppe"]["attended_seconds"], gro_seconds,
             "Gro's time unchanged")

    # Erasure of one of a group: the screen's evidence stays.
    r = d.api("DELETE", "/api/participants/%s" % gro["colleague_ids"][0])
    check_eq(r.status, 200, "erase Kåre (%s)" % r.text[:200])
    check(not r.json()["party_erased"], "the screen stays Gro's")
    after = rows_by_name(d, session)
    check_eq(sorted(after), ["Gro Gruppe"], "rows after the colleague")
    check_eq(after["Gro Gruppe"]["attended_seconds"], gro_seconds,
             "Gro's time still unchanged")
    check_eq(d.stop(), 0, "daemon exit status")

    for name in ("Pål Personvern", "Sletteby", "Kåre Kollega"):
        check(not on_disk(d, name), "%s is not in the database files" % name)
    check(on_disk(d, "Gro Gruppe"), "Gro still is (the check can fail)")
    check("Pål" not in d.log_text(), "nor in the daemon's log")

    # Retention: age the room's connect events by three days.
    db = sqlite3.connect(db_path(d))
    with db:
        n_connect = db.execute(
            "SELECT count(*) FROM att_events WHERE room_id = ? AND kind ="
            " 'connect'", (ROOM,)).fetchone()[0]
        n_leave = db.execute(
            "SELECT count(*) FROM att_events WHERE room_id = ? AND kind ="
            " 'leave'", (ROOM,)).fetchone()[0]
        check(n_connect >= 1 and n_leave >= 1, "raw events to age: %d, %d"
              % (n_connect, n_leave))
        db.execute("UPDATE att_events SET at = at - 3 * ? WHERE room_id = ?"
                   " AND kind = 'connect'", (DAY_US, ROOM))
        db.execute("INSERT INTO att_events (room_id, kind, subject, at,"
                   " wall_at) SELECT 'keep', 'connect', 'old', at, wall_at"
                   " FROM att_events WHERE room_id = ? AND kind = 'connect'"
                   " LIMIT 1", (ROOM,))
        n_connections = db.execute("SELECT count(*) FROM att_connections"
                                   ).fetchone()[0]
    db.close()

    d.start()
    # A report is queued behind the startup purge, so it is done by then.
    check_eq(rows_by_name(d, session)["Gro Gruppe"]["attended_seconds"],
             gro_seconds, "attendance after the purge")
    check_eq(d.stop(), 0, "daemon exit status after the purge")
    db = sqlite3.connect(db_path(d))
    counts = dict(db.execute("SELECT room_id || '/' || kind, count(*) FROM"
                             " att_events GROUP BY 1").fetchall())
    check_eq(counts.get(ROOM + "/connect", 0), 0, "aged events purged")
    check_eq(counts.get(ROOM + "/leave", 0), n_leave, "recent events kept")
    check_eq(counts.get("keep/connect", 0), 1,
             "a room without retention keeps old events")
    check_eq(db.execute("SELECT count(*) FROM att_connections").fetchone()[0],
             n_connections, "connection rows are not raw events")
    db.close()
    harness.log("purged %d aged events; kept %d recent, %d connections",
                n_connect, n_leave, n_connections)


harness.main(test)
