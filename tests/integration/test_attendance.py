#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Attendance measured from media that reached independent viewers.

A WHIP host broadcasts for about 30 s. Around it, aiortc and GStreamer
webrtcbin viewers join and leave at known times: one waits before the
broadcast starts, one leaves and rejoins with the same token, one vanishes
without DELETE (consent freshness ends it), a group of three watches at
one screen, one comes late, and one person watches on two devices at once.
The JSON and CSV exports must give each person the time they really
received (within 2 s) and the completion the room's policy says; the
connection log must list every interval; an override must show who, when
and why; only the coordinator may read any of it.
"""
import datetime
import os
import re
import time

import harness
from harness import check, check_eq

ROOM = "att"
RATIO = 0.3
GRACE = 2           # s: the rejoin's gap (3 s) is longer than this
LATENESS = 10       # s: the late joiner comes later than this
TOLERANCE = 2.0     # s: the bound


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def peer_time(hhmmss, ref):
    """A peer's log time (HH:MM:SS.mmm, local) as epoch seconds, on the
    day of @ref (epoch seconds)."""
    day = datetime.datetime.fromtimestamp(ref)
    t = datetime.datetime.strptime(hhmmss, "%H:%M:%S.%f")
    at = day.replace(hour=t.hour, minute=t.minute, second=t.second,
                     microsecond=t.microsecond)
    if at.timestamp() - ref > 43200:        # the run crossed midnight
        at -= datetime.timedelta(days=1)
    return at.timestamp()


def observed(peer, end=None):
    """[connected, left] as the peer itself logged them: its own evidence,
    independent of the relay's."""
    start = stop = None
    with open(peer.stderr_path, errors="replace") as f:
        for line in f:
            m = re.match(r"(\d\d:\d\d:\d\d\.\d+) \S+ INFO (.*)", line)
            if not m:
                continue
            if start is None and re.match(r"connection (state )?connected",
                                          m.group(2)):
                start = peer_time(m.group(1), time.time())
            if m.group(2).startswith("DELETE "):
                stop = peer_time(m.group(1), time.time())
    check(start is not None, "%s never logged its connection", peer.name)
    stop = end if end is not None else stop
    check(stop is not None, "%s never logged its DELETE", peer.name)
    return (start, stop)


def expected(intervals, live, grace):
    """The rules, re-done independently: union, clip, forgive gaps."""
    merged = []
    for a, b in sorted((max(a, live[0]), min(b, live[1]))
                       for a, b in intervals):
        if b <= a:
            continue
        if merged and a - merged[-1][1] < grace:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return sum(b - a for a, b in merged), (merged[0][0] - live[0]
                                           if merged else None)


def viewer(ctx, d, token, duration, gst=False, *extra):
    script = "whep_gst.py" if gst else "whep_aiortc.py"
    return ctx.start_peer(script, "--url", d.whep_url(ROOM), "--token", token,
                          "--duration", str(duration), *extra)


def near(got, want, what):
    check(abs(got - want) <= TOLERANCE, "%s: attended %s s, expected %.1f s",
          what, got, want)


def test(ctx):
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        # A viewer that vanishes is dropped after 10 s of silence (webrtcbin
        # viewers report only every ~5 s, so not much less).
        f.write("[media]\nconsent-timeout=10\n")
    d = ctx.daemon(extra_args=["--config", conf])
    info = d.create_room(ROOM, completion_ratio=RATIO)
    r = d.api("PUT", "/api/rooms/%s/attendance-settings" % ROOM,
              {"grace_seconds": GRACE, "max_lateness_seconds": LATENESS})
    check_eq(r.status, 200, "PUT attendance-settings (%s)" % r.text[:200])
    check_eq(r.json()["effective_completion_ratio"], RATIO, "room's ratio")

    people = {
        "early": d.join(ROOM, "Åse Ødegård", "Gjøvik sjukehus"),
        "rejoin": d.join(ROOM, "Ola Nordmann", "=cmd|' /C calc'!A0"),
        "vanish": d.join(ROOM, "Vera Borte", "Hamar"),
        "group": d.join(ROOM, "Grete Gruppe", "Lillehammer",
                        colleagues=["Kari Kollega", "Per Kollega"]),
        "late": d.join(ROOM, "Lars Sen", "Elverum"),
        "two": d.join(ROOM, "Tove To", "Brumunddal"),
    }

    # Waiting before the broadcast: counts from its start.
    early = viewer(ctx, d, people["early"]["token"], 45)
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 1, 10,
                       "the early viewer connected")
    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", info["host_token"], "--duration", "30",
                         "--width", "320", "--height", "240")
    d.wait_live(ROOM)
    t_live = time.monotonic()
    session = d.room(ROOM)["session_id"]

    # The one that vanishes: killed 4 s after it connected, no goodbye.
    vanish = viewer(ctx, d, people["vanish"]["token"], 60)
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 2, 10,
                       "the vanishing viewer connected")
    t_vanish = time.monotonic()
    r1 = viewer(ctx, d, people["rejoin"]["token"], 4)
    group = viewer(ctx, d, people["group"]["token"], 11, True)
    d1 = viewer(ctx, d, people["two"]["token"], 6)
    time.sleep(3)
    d2 = viewer(ctx, d, people["two"]["token"], 10, True)
    time.sleep(max(0, t_vanish + 4 - time.monotonic()))
    vanish.kill()
    t_vanish_wall = time.time()
    # Comes clearly later than the room allows.
    time.sleep(max(0, t_live + LATENESS + 2 - time.monotonic()))
    late = viewer(ctx, d, people["late"]["token"], 14)
    check(r1.wait(30).ok, "first visit")
    time.sleep(3)      # the gap, longer than the grace
    r2 = viewer(ctx, d, people["rejoin"]["token"], 7)

    for p in (group, d1, d2, late, r2):
        check(p.wait(60).ok, "%s ran", p.name)
    check(pub.wait(60).ok, "publisher")
    d.wait_live(ROOM, live=False, timeout=10)
    check(early.wait(60).ok, "early viewer")

    sessions = d.sessions(ROOM)
    check_eq(len(sessions), 1, "one session")
    live = (parse_time(sessions[0]["started_at"]),
            parse_time(sessions[0]["ended_at"]))
    harness.log("session %s live %.0f s", session, live[1] - live[0])

    seen = {
        "Åse Ødegård": [observed(early)],
        "Ola Nordmann": [observed(r1), observed(r2)],
        "Vera Borte": [observed(vanish, end=t_vanish_wall)],
        "Grete Gruppe": [observed(group)],
        "Kari Kollega": [observed(group)],
        "Per Kollega": [observed(group)],
        "Lars Sen": [observed(late)],
        "Tove To": [observed(d1), observed(d2)],
    }
    rows = d.attendance(session)
    by_name = {row["name"]: row for row in rows}
    check_eq(sorted(by_name), sorted(seen), "one row per person (group of 3 "
             "included)")
    for row in rows:
        for field in ("participant_id", "name", "workplace", "first_join",
                      "last_leave", "attended_seconds", "attended_ratio",
                      "completed"):
            check(field in row, "field %s in %s", field, row)
        want, lateness = expected(seen[row["name"]], live, GRACE)
        harness.log("%s: attended %s s (peers saw %.1f), lateness %s (%.1f), "
                    "%s", row["name"], row["attended_seconds"], want,
                    row["lateness_seconds"],
                    -1 if lateness is None else lateness, row["verdict"])
        near(row["attended_seconds"], want, row["name"])
        # Completion as the rules give it, where the evidence is not within
        # the measuring tolerance of a threshold.
        threshold = RATIO * (live[1] - live[0])
        if abs(want - threshold) > TOLERANCE + 1 and (
                lateness is None or abs(lateness - LATENESS) > TOLERANCE + 1):
            check_eq(row["completed"], want >= threshold
                     and lateness is not None and lateness <= LATENESS,
                     "%s completed" % row["name"])

    e = by_name["Åse Ødegård"]
    check(parse_time(e["first_join"]) < live[0],
          "the early viewer joined before the start")
    check(e["completed"] and e["attended_ratio"] > 0.9, "early: %s", e)
    o = by_name["Ola Nordmann"]
    check_eq(o["rejoins"], 1, "rejoins")
    check_eq(len(o["connections"]), 2, "rejoin: two connections")
    v = by_name["Vera Borte"]
    # Without any goodbye, the interval ends when the relay last heard from
    # it, not when consent expired 10 s later.
    check_eq(v["connections"][0]["reason"], "consent-expired", "vanish reason")
    check(not v["completed"] and v["verdict"] == "too-short", "vanish: %s", v)
    check_eq(by_name["Kari Kollega"]["workplace"], "Lillehammer",
             "a colleague's workplace")
    lr = by_name["Lars Sen"]
    check(not lr["completed"] and lr["verdict"] == "late", "late: %s", lr)
    t = by_name["Tove To"]
    check(t["attended_seconds"] < sum(b - a for a, b in seen["Tove To"]) - 1,
          "two devices' overlap counted once: %s", t)
    check_eq(t["rejoins"], 0, "overlapping devices are not rejoins")

    # Excel CSV: BOM, ';', whole minutes, Oslo times, formula neutralised.
    csv = d.api("GET", "/api/sessions/%s/attendance?format=csv" % session)
    check_eq(csv.status, 200, "CSV status")
    check(csv.header("Content-Type").startswith("text/csv"), "CSV type")
    check(csv.body.startswith(b"\xef\xbb\xbf"), "BOM")
    text = csv.body[3:].decode("utf-8")
    lines = text.split("\r\n")
    check(lines[0].startswith("session_id;session_start;participant_id;name;"
                              "workplace;first_join;last_leave;"
                              "attended_minutes"), "header: %s", lines[0])
    check_eq(len([l for l in lines[1:] if l]), 8, "CSV rows")
    check("Åse Ødegård;Gjøvik sjukehus" in text, "æøå intact")
    check("\"'=cmd|' /C calc'!A0\"" in text, "formula neutralised: %s",
          [l for l in lines if "Ola" in l])
    check("+01:00;" in text or "+02:00;" in text, "Oslo offset in times")

    rfc = d.api("GET", "/api/sessions/%s/attendance?format=csv&dialect=rfc4180"
                % session)
    check(not rfc.body.startswith(b"\xef\xbb\xbf"), "no BOM in RFC 4180")
    check(rfc.text.startswith("session_id,session_start,"), "RFC 4180 commas")
    check(",=cmd|' /C calc'!A0," in rfc.text, "RFC 4180 keeps values")

    log = d.api("GET", "/api/sessions/%s/connections?format=csv" % session)
    check_eq(log.status, 200, "connection log")
    log_lines = [l for l in log.body[3:].decode().split("\r\n")[1:] if l]
    # early 1, rejoin 2, vanish 1, group 3 (one connection, three people),
    # late 1, two devices 2
    check_eq(len(log_lines), 10, "connection log rows")
    check(any("consent-expired" in l for l in log_lines), "leave reasons")

    # The coordinator's override, with who, when and why.
    pid = people["vanish"]["participant_id"]
    r = d.api("POST", "/api/sessions/%s/attendance/%s/override"
              % (session, pid), {"completed": True, "by": "Koordinator Kim",
                                 "reason": "Nettverksbrudd på avdelingen"})
    check_eq(r.status, 204, "override (%s)" % r.text[:200])
    v = {row["name"]: row for row in d.attendance(session)}["Vera Borte"]
    check(v["completed"] and v["verdict"] == "too-short", "override kept "
          "the evidence's verdict and changed completion: %s", v)
    check_eq(v["override"]["by"], "Koordinator Kim", "override by")
    check(v["override"]["at"] is not None, "override time")
    r = d.api("POST", "/api/sessions/%s/attendance/nobody/override" % session,
              {"completed": True, "by": "x", "reason": "y"})
    check_eq(r.status, 404, "override of an unknown person")

    room_rows = d.api("GET", "/api/rooms/%s/attendance" % ROOM).json()
    check_eq(len(room_rows), 8, "per-room export")

    # Only the coordinator.
    path = "/api/sessions/%s/attendance" % session
    check_eq(d.api("GET", path, token=None).status, 401, "anonymous")
    check_eq(d.api("GET", path, token="nonsense").status, 401, "bad token")
    check_eq(d.api("GET", path, token=people["early"]["token"]).status, 403,
             "viewer token")
    check_eq(d.api("GET", path, token=info["host_token"]).status, 403,
             "host token")
    check_eq(d.api("GET", "/api/sessions/nope/attendance").status, 404,
             "unknown session")
    check(people["early"]["token"] not in d.log_text(), "no tokens in logs")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
