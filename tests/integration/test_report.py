#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The session report's and the host's live chart's routes, against the
real daemon with independent viewers.

A WHIP host broadcasts (recorded) the session planned for now. A screen watches from early on
(webrtcbin) and a colleague checks in at it a few seconds later from her
phone; a second screen (aiortc) watches for a while in the middle. While
live, the host's GET /api/rooms/{room}/audience must show the screen
alone (one person), then with the colleague (two people at one screen),
then both screens. Afterwards GET /api/sessions/{id}/report must give:
the audience series that the connection log and the check-in times give
when re-done here; each person's intervals (the colleague's from her
check-in); the planned times, the course's title, the recording with a signed
link that plays without a token; the questions asked during the broadcast
(one anonymous, supported by the other screen and answered) exactly as the
coordinator's GET /api/sessions/{id}/questions lists them, with the
anonymous one's asker. And who may ask: 401 without a token,
403 for a viewer or another room's host, 404 for an unknown session or
room. The daemon must then stop cleanly (LeakSanitizer checks it).
"""
import datetime
import time

import harness
from harness import check, check_eq

ROOM = "rapport"
TITLE = "Smittevern i hjemmetjenesten"


def sec(text):
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp())


def utc(ts):
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def counts(spans, start, end):
    """Distinct keys watching in each second of [start, end): the series,
    re-done from the evidence."""
    return [len({key for key, a, b in spans if a <= s < b})
            for s in range(start, end)]


def steps(points, key, start, end):
    """The report's series read as the step function it is."""
    out = []
    for s in range(start, end):
        held = [p[key] for p in points if sec(p["at"]) <= s]
        out.append(held[-1] if held else 0)
    return out


def live_points(d, token):
    r = d.api("GET", "/api/rooms/%s/audience" % ROOM, token=token)
    check_eq(r.status, 200, "live audience (%s)" % r.text[:200])
    return r.json()


def test(ctx):
    d = ctx.daemon()
    info = d.create_room(ROOM, title=TITLE, record=True)
    other = d.create_room("annet", record=False)
    screen = d.join(ROOM, "Vaktrommet", "Sone 2")
    second = d.join(ROOM, "Per Berg", "Hjemmetjenesten")

    # Who may ask, before anything is live.
    check_eq(d.api("GET", "/api/sessions/nope/report").status, 404,
             "an unknown session's report")
    for token, status, who in ((None, 401, "no token"),
                               (info["host_token"], 403, "a host"),
                               (screen["token"], 403, "a viewer")):
        check_eq(d.api("GET", "/api/sessions/nope/report",
                       token=token).status, status, "report for %s" % who)
    path = "/api/rooms/%s/audience" % ROOM
    check_eq(d.api("GET", path, token=None).status, 401, "audience, no token")
    check_eq(d.api("GET", path, token=screen["token"]).status, 403,
             "audience for a viewer")
    check_eq(d.api("GET", path, token=other["host_token"]).status, 403,
             "audience for another room's host")
    check_eq(d.api("GET", "/api/rooms/nope/audience").status, 404,
             "audience of an unknown room")
    # The session is planned ahead (starting in two minutes, for an hour):
    # the broadcast that starts now, within the lead time, becomes it.
    now = int(time.time())
    plan = {"starts_at": utc(now + 120), "ends_at": utc(now + 3720)}
    r = d.api("POST", "/api/rooms/%s/sessions" % ROOM, plan)
    check_eq(r.status, 201, "the plan (%s)" % r.text[:200])
    planned = r.json()["id"]
    idle = live_points(d, info["host_token"])
    check(idle["session_id"] is None and idle["audience"] == [],
          "nothing live: an empty series (%s)" % idle)

    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", info["host_token"], "--duration", "24",
                         "--width", "320", "--height", "240")
    d.wait_live(ROOM)
    session = d.room(ROOM)["session_id"]
    check_eq(session, planned, "the broadcast is the planned session")
    host = info["host_token"]

    def last(want_screens, want_people):
        def reached():
            a = live_points(d, host)
            p = a["audience"][-1] if a["audience"] else None
            return (a["session_id"] == session and p is not None
                    and (p["screens"], p["people"])
                    == (want_screens, want_people))
        harness.wait_until(reached, 15, "the live audience at %d screens, "
                           "%d people" % (want_screens, want_people))

    v1 = ctx.start_peer("whep_gst.py", "--url", d.whep_url(ROOM), "--token",
                        screen["token"], "--duration", "16", "--no-audio")
    last(1, 1)
    time.sleep(2)
    r = d.api("GET", "/api/rooms/%s/checkin-code" % ROOM,
              token=screen["token"])
    check_eq(r.status, 200, "the screen's check-in code (%s)" % r.text[:200])
    r = d.api("POST", "/api/rooms/%s/checkin" % ROOM,
              {"code": r.json()["code"], "name": "Kari Kollega",
               "workplace": "Sone 2"}, token=None)
    check_eq(r.status, 201, "the colleague's check-in (%s)" % r.text[:200])
    kari = r.json()["participant_id"]
    last(1, 2)
    # Questions while live: the first screen's without its name shown to
    # others, supported by the second screen and then answered; the second
    # screen's own, left open.
    r = d.api("POST", "/api/rooms/%s/questions" % ROOM,
              {"text": "Gjelder <b>dette</b> også barn?", "anonymous": True},
              token=screen["token"])
    check_eq(r.status, 201, "the first screen asks (%s)" % r.text[:200])
    asked = r.json()["id"]
    r = d.api("POST", "/api/rooms/%s/questions" % ROOM,
              {"text": "Hvor lenge virker hånddesinfeksjon?"},
              token=second["token"])
    check_eq(r.status, 201, "the second screen asks (%s)" % r.text[:200])
    r = d.api("POST", "/api/rooms/%s/questions/%s/support" % (ROOM, asked),
              token=second["token"])
    check_eq(r.status, 200, "the second screen supports (%s)" % r.text[:200])
    r = d.api("PUT", "/api/rooms/%s/questions/%s/state" % (ROOM, asked),
              {"state": "answered"}, token=host)
    check_eq(r.status, 200, "the host answered it (%s)" % r.text[:200])
    v2 = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url(ROOM),
                        "--token", second["token"], "--duration", "5")
    last(2, 3)
    check(v2.wait(30).ok, "the second screen watched")
    check(v1.wait(40).ok, "the first screen watched")
    check(pub.wait(60).ok, "the publisher")
    d.wait_live(ROOM, live=False, timeout=10)
    harness.wait_until(
        lambda: (d.api("GET", "/api/sessions/%s" % session).json()
                 .get("recording") or {}).get("state") == "finished",
        60, "the recording finished")

    r = d.api("GET", "/api/sessions/%s/report" % session)
    check_eq(r.status, 200, "the report (%s)" % r.text[:200])
    report = r.json()
    check_eq(report["title"], TITLE, "the course's title")
    check_eq(report["session"]["id"], session, "the session")
    check_eq((report["session"]["scheduled_start"],
              report["session"]["scheduled_end"]),
             (plan["starts_at"], plan["ends_at"]), "the planned times")
    check_eq(report["completion_ratio"], 0.8, "the frozen rule")
    check(not report["live"]["running"], "ended")
    start, end = sec(report["live"]["from"]), sec(report["live"]["to"])
    check(abs(start - sec(report["session"]["started_at"])) <= 1
          and abs(end - sec(report["session"]["ended_at"])) <= 1,
          "the live time is the broadcast's: %s" % report["live"])

    # The series against the evidence: the connection log, and when the
    # colleague checked in (she counts from then).
    rows = {row["participant_id"]: row for row in d.attendance(session)}
    log = d.api("GET", "/api/sessions/%s/connections" % session).json()
    screens, people = [], []
    for c in log:
        a = sec(c["connected_at"])
        b = sec(c["left_at"]) if c["left_at"] else end
        checked = rows[c["participant_id"]]["checked_in_at"]
        screens.append((c["party_id"], a, b))
        people.append((c["participant_id"], max(a, sec(checked)) if checked
                       else a, b))
    for key, spans in (("screens", screens), ("people", people)):
        want, have = counts(spans, start, end), steps(report["audience"], key,
                                                      start, end)
        harness.log("%s: %s", key, "".join(map(str, have)))
        check_eq(have, want, "%s over time" % key)
    check_eq(max(p["people"] for p in report["audience"]), 3, "most people")
    for a, b in zip(report["audience"], report["audience"][1:]):
        check(sec(a["at"]) <= sec(b["at"]), "points in time order: %s" % b)
        check((a["screens"], a["people"]) != (b["screens"], b["people"]),
              "a point only where a count changes: %s, %s" % (a, b))

    # Each person's intervals: their connections' union within the live
    # time, from the check-in for the colleague.
    by_id = {p["participant_id"]: p for p in report["people"]}
    check_eq(sorted(by_id), sorted(rows), "one line per attendance row")
    for pid, row in rows.items():
        mine = sorted((max(a, start), min(b, end)) for key, a, b in people
                      if key == pid)
        have = [(sec(i["from"]), sec(i["to"])) for i in by_id[pid]["intervals"]]
        check_eq(have, [m for m in mine if m[1] > m[0]],
                 "%s's intervals" % row["name"])
        check_eq(by_id[pid]["verdict"], row["verdict"], "%s's verdict"
                 % row["name"])
        check_eq(by_id[pid]["completed"], row["completed"], "completed")
    check(sec(by_id[kari]["intervals"][0]["from"])
          >= sec(rows[kari]["checked_in_at"]), "Kari from her check-in")

    # The questions: the coordinator's list of them, the same objects.
    r = d.api("GET", "/api/sessions/%s/questions" % session)
    check_eq(r.status, 200, "the session's questions (%s)" % r.text[:200])
    check_eq(report["questions"], r.json()["questions"],
             "the report's questions are the session's")
    by_text = {q["text"]: q for q in report["questions"]}
    check_eq(sorted(by_text), ["Gjelder <b>dette</b> også barn?",
                               "Hvor lenge virker hånddesinfeksjon?"],
             "both questions, markup kept as text")
    q = by_text["Gjelder <b>dette</b> også barn?"]
    check_eq((q["id"], q["asker"], q["anonymous"], q["supports"], q["state"]),
             (asked, "Vaktrommet", True, 1, "answered"),
             "the anonymous one with its asker, support and state")
    check(start <= sec(q["asked_at"]) <= sec(q["state_at"]) <= end,
          "asked and answered while live: %s" % q)
    q = by_text["Hvor lenge virker hånddesinfeksjon?"]
    check_eq((q["asker"], q["anonymous"], q["supports"], q["state"]),
             ("Per Berg", False, 0, "open"), "the second screen's, open")

    # The recording: listed with its pauses, and a signed link that plays
    # without the token.
    check_eq(report["session"]["recording"]["state"], "finished", "recording")
    check_eq(report["session"]["recording"]["paused"], [], "never paused")
    url = report["recording_link"]["url"]
    check("sig=" in url and "expires=" in url, "a signed link: %s" % url)
    r = d.api("GET", url, token=None, headers={"Range": "bytes=0-99"})
    check_eq(r.status, 206, "the signed link plays")
    check_eq(len(r.body), 100, "the range asked for")
    check_eq(d.stop(), 0, "daemon exit status")


if __name__ == "__main__":
    harness.main(test)
