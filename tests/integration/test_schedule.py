#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Scheduled sessions: planned by the coordinator, taken over by the
broadcast, attendance counted against the plan.

The coordinator schedules a session whose start is already a minute past
(the host is late), one in the past that nobody broadcast, one for later
that she moves, and one she cancels; bad bodies get 400, no token 401, a
host's token 403, an overlap 409. A viewer waits for the lecture (the room
says when it is planned), the host publishes (GStreamer webrtcbin) and the
broadcast becomes the planned session: same id, 409 on changing it while
live. A second viewer comes later than the room allows after the
broadcast began. When the host stops, the session is `ended` with both
its planned and its broadcast times, the past one `missed`, the moved one
`scheduled` at its new time; its attendance has the waiting viewer
completed (counted from the broadcast's start, not late although the
host was) and the late one `late`. All of it survives a restart.
"""
import datetime
import time

import harness
from harness import check, check_eq

ROOM = "sched"
LATENESS = 5        # s: the late viewer comes clearly later than this
OSLO_WINTER = datetime.timezone(datetime.timedelta(hours=1))


def rfc3339(ts, tz=OSLO_WINTER):
    """Epoch seconds as RFC 3339 with an offset, as a coordinator's tool
    would send it."""
    return datetime.datetime.fromtimestamp(int(ts), tz).isoformat()


def utc(ts):
    return datetime.datetime.fromtimestamp(
        int(ts), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def schedule(d, start, end, expect=201, room=ROOM, **kw):
    r = d.api("POST", "/api/rooms/%s/sessions" % room,
              {"starts_at": rfc3339(start), "ends_at": rfc3339(end)}, **kw)
    check_eq(r.status, expect, "schedule %s-%s (%s)" % (start, end,
                                                        r.text[:200]))
    return r.json() if r.status == 201 else r


def by_id(d):
    return {s["id"]: s for s in d.sessions(ROOM)}


def test(ctx):
    d = ctx.daemon()
    # A ratio the late viewer meets, so that lateness is what fails her.
    info = d.create_room(ROOM, completion_ratio=0.1)
    r = d.api("PUT", "/api/rooms/%s/attendance-settings" % ROOM,
              {"grace_seconds": 2, "max_lateness_seconds": LATENESS})
    check_eq(r.status, 200, "attendance settings (%s)" % r.text[:200])
    path = "/api/rooms/%s/sessions" % ROOM
    now = time.time()
    good = {"starts_at": rfc3339(now + 86400),
            "ends_at": rfc3339(now + 86400 + 3600)}

    # Who may: the coordinator only.
    check_eq(d.api("POST", path, good, token=None).status, 401, "no token")
    check_eq(d.api("POST", path, good, token="wrong").status, 401,
             "unknown token")
    check_eq(d.api("POST", path, good, token=info["host_token"]).status, 403,
             "host token")
    check_eq(d.api("GET", "/api/sessions?room=" + ROOM, token=None).status,
             401, "listing without a token")
    check_eq(d.api("POST", "/api/rooms/nope/sessions", good).status, 404,
             "unknown room")

    # What may be asked.
    naive = datetime.datetime.fromtimestamp(int(now + 86400)).isoformat()
    for body, why in (
            ({"starts_at": good["starts_at"]}, "no end"),
            ({"starts_at": naive, "ends_at": good["ends_at"]}, "no offset"),
            ({"starts_at": good["ends_at"], "ends_at": good["starts_at"]},
             "end before start"),
            ({"starts_at": good["starts_at"],
              "ends_at": rfc3339(now + 86400 + 25 * 3600)}, "25 hours"),
            ({"starts_at": rfc3339(now - 400 * 86400),
              "ends_at": rfc3339(now - 400 * 86400 + 3600)}, "400 days ago"),
            ({"starts_at": "tomorrow", "ends_at": good["ends_at"]}, "prose"),
            (dict(good, room=ROOM), "unknown member"),
            ("[1, 2]", "not an object")):
        r = d.api("POST", path, body, content_type="application/json")
        check_eq(r.status, 400, "%s (%s)" % (why, r.text[:200]))
        check("error" in r.json(), "400 says why: %s" % r.text)

    # Planned a minute ago (the host will be late), until in 10 min.
    s1 = schedule(d, now - 60, now + 600)
    check_eq(s1["state"], "scheduled", "planned session state")
    check_eq(s1["scheduled_start"], utc(now - 60), "scheduled_start in UTC")
    check_eq(s1["scheduled_end"], utc(now + 600), "scheduled_end")
    check(s1["started_at"] is None and s1["ended_at"] is None,
          "not broadcast yet: %s" % s1)
    check_eq(d.api("GET", "/api/sessions/" + s1["id"]).json(), s1,
             "GET /api/sessions/{id}")
    # In the past and never broadcast: missed.
    s2 = schedule(d, now - 3 * 3600, now - 2 * 3600)
    check_eq(s2["state"], "missed", "past session state")
    # Tomorrow, then moved; an overlap is refused.
    s3 = schedule(d, now + 86400, now + 86400 + 3600)
    schedule(d, now + 86400 + 1800, now + 86400 + 7200, expect=409)
    r = d.api("PATCH", "/api/sessions/" + s3["id"],
              {"starts_at": rfc3339(now + 2 * 86400),
               "ends_at": rfc3339(now + 2 * 86400 + 3600)})
    check_eq(r.status, 200, "reschedule (%s)" % r.text[:200])
    r = d.api("PATCH", "/api/sessions/" + s3["id"],
              {"ends_at": rfc3339(now + 2 * 86400 + 5400)})
    check_eq(r.status, 200, "move only the end (%s)" % r.text[:200])
    s3 = r.json()
    check_eq((s3["scheduled_start"], s3["scheduled_end"]),
             (utc(now + 2 * 86400), utc(now + 2 * 86400 + 5400)),
             "rescheduled times")
    r = d.api("PATCH", "/api/sessions/" + s3["id"],
              {"ends_at": rfc3339(now + 2 * 86400 - 60)})
    check_eq(r.status, 400, "reschedule to end before start")
    check_eq(d.api("PATCH", "/api/sessions/nope",
                   {"ends_at": good["ends_at"]}).status, 404,
             "reschedule nothing")
    check_eq(d.api("PATCH", "/api/sessions/" + s3["id"],
                   {"ends_at": good["ends_at"]}, token=None).status, 401,
             "reschedule without token")
    # Cancelled: gone.
    s4 = schedule(d, now + 3 * 86400, now + 3 * 86400 + 3600)
    check_eq(d.api("DELETE", "/api/sessions/" + s4["id"], token=None).status,
             401, "cancel without token")
    check_eq(d.api("DELETE", "/api/sessions/" + s4["id"]).status, 204,
             "cancel")
    check_eq(d.api("GET", "/api/sessions/" + s4["id"]).status, 404,
             "cancelled session")
    check_eq(d.api("DELETE", "/api/sessions/" + s4["id"]).status, 404,
             "cancel twice")

    # The nurse's page learns when the lecture is planned.
    nxt = d.room(ROOM, token=None)["next_session"]
    check_eq(nxt, {"id": s1["id"], "starts_at": s1["scheduled_start"],
                   "ends_at": s1["scheduled_end"]}, "next_session")

    waiting = d.join(ROOM, "Anna Venter", "Gjøvik")
    late = d.join(ROOM, "Bernt Sein", "Hamar")
    a = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url(ROOM),
                       "--token", waiting["token"], "--duration", "30")
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 1, 15,
                       "the waiting viewer connected")
    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", info["host_token"], "--duration", "0",
                         "--width", "320", "--height", "240")
    d.wait_live(ROOM)
    t_live = time.monotonic()
    room = d.room(ROOM, token=None)
    check_eq(room["session_id"], s1["id"], "the broadcast is the planned "
             "session")
    check_eq(room["next_session"]["id"], s3["id"], "next_session once live")
    r = d.api("PATCH", "/api/sessions/" + s1["id"],
              {"ends_at": rfc3339(now + 1200)})
    check_eq(r.status, 409, "reschedule a live session (%s)" % r.text[:200])
    check_eq(d.api("DELETE", "/api/sessions/" + s1["id"]).status, 409,
             "cancel a live session")
    check_eq(by_id(d)[s1["id"]]["state"], "live", "state while live")

    time.sleep(max(0, t_live + LATENESS + 3 - time.monotonic()))
    b = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url(ROOM),
                       "--token", late["token"], "--duration", "8")
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 2, 20,
                       "the late viewer connected")
    # She watches the rest: a few seconds, then the host stops.
    time.sleep(4)
    check(pub.stop().ok, "publisher")
    check(b.wait(30).ok, "late viewer")
    d.wait_live(ROOM, live=False, timeout=10)
    check(a.wait(40).ok, "waiting viewer")

    def check_sessions(when):
        sessions = by_id(d)
        check_eq(sorted(sessions), sorted([s1["id"], s2["id"], s3["id"]]),
                 "sessions %s: the planned ones, no ad hoc one" % when)
        s = sessions[s1["id"]]
        check_eq(s["state"], "ended", "state %s" % when)
        check_eq((s["scheduled_start"], s["scheduled_end"]),
                 (s1["scheduled_start"], s1["scheduled_end"]),
                 "planned times kept %s" % when)
        check(s["started_at"] is not None and s["ended_at"] is not None,
              "broadcast times %s: %s" % (when, s))
        check(parse_time(s["started_at"]) > parse_time(s["scheduled_start"])
              + 30, "the host started late: %s" % s)
        check_eq(sessions[s2["id"]]["state"], "missed", "missed %s" % when)
        check(sessions[s2["id"]]["started_at"] is None,
              "a missed session has no broadcast")
        check_eq(sessions[s3["id"]]["state"], "scheduled",
                 "rescheduled one %s" % when)
        check_eq(sessions[s3["id"]]["scheduled_start"],
                 s3["scheduled_start"], "its new start %s" % when)
        return s

    s = check_sessions("after the broadcast")
    harness.log("planned %s, broadcast %s to %s", s["scheduled_start"],
                s["started_at"], s["ended_at"])

    rows = {row["name"]: row for row in d.attendance(s1["id"])}
    for row in rows.values():
        harness.log("%s: attended %s of %s s, lateness %s s, %s", row["name"],
                    row["attended_seconds"], row["live_seconds"],
                    row["lateness_seconds"], row["verdict"])
    w = rows["Anna Venter"]
    check(w["completed"] and w["verdict"] == "completed"
          and w["lateness_seconds"] == 0,
          "waited for a late host: on time, completed: %s" % w)
    lt = rows["Bernt Sein"]
    check(not lt["completed"] and lt["verdict"] == "late"
          and lt["lateness_seconds"] > LATENESS,
          "came after the allowed lateness from the broadcast's start: %s"
          % lt)

    d.stop()
    d.start()
    check_sessions("after a restart")
    check_eq(d.room(ROOM, token=None)["next_session"]["id"], s3["id"],
             "next_session after a restart")


if __name__ == "__main__":
    harness.main(test)
