#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Who attends: invitations, access modes, check-in, and their rows.

A pipeline lecture (testsrc-small) is live in an invitation-only room.
Self-registration is refused there. The coordinator uploads a CSV as
Norwegian Excel saves it; each person gets a link whose token an
independent WHEP viewer (aiortc) uses to watch. A re-issued link makes
the old token useless for WHEP. The session's attendance has a row for
everyone invited, with 0 s and completed=false for those who never came.

A shared screen (a webrtcbin viewer with an invited token) shows its
check-in code; two colleagues check in with it from "their phones" (plain
HTTP, no second stream) a few seconds into the screen's viewing. Each gets
a row of their own, counted from their check-in.
"""
import os
import re
import time

import harness
from harness import check, check_eq
from common import pipeline_daemon

ROOM = "kurs"
SDP_DIR = os.path.join(harness.REPO, "tests", "sdp")


def token_of(link):
    m = re.fullmatch(r"/watch/%s#token=([A-Za-z0-9_-]+)" % ROOM, link)
    check(m is not None, "invitation link %r", link)
    return m.group(1)


def whep_post(d, token):
    offer = open(os.path.join(SDP_DIR, "aiortc-recvonly.sdp")).read()
    return harness.http("POST", d.whep_url(ROOM), body=offer.encode(),
                        token=token, content_type="application/sdp")


def invitations(ctx, d):
    """Returns {name: invitation} and the aiortc viewer's peer."""
    r = d.api("PUT", "/api/rooms/%s/access" % ROOM, {"access": "invitation"})
    check_eq(r.status, 200, "PUT access (%s)" % r.text[:200])
    check_eq(d.room(ROOM, token=None)["access"], "invitation", "public access")
    r = d.join(ROOM, "Selv Registrert", expect=403)
    check("invitation" in r.json()["error"], "why join is refused")

    sheet = ("\ufeffNavn;Arbeidssted;E-post;HPR-nummer\r\n"
             "Åse Ødegård;Gjøvik sjukehus;ase@example.no;1234567\r\n"
             "Ola Nordmann;\"Hamar; avd. 3\";;\r\n"
             "Per Borte;Elverum;;7654321\r\n"
             "Vaktrommet;Lillehammer;;\r\n")
    r = d.api("POST", "/api/rooms/%s/participants" % ROOM,
              sheet.encode("utf-8"), content_type="text/csv")
    check_eq(r.status, 201, "CSV import (%s)" % r.text[:300])
    check_eq(r.json()["invited"], 4, "people invited")
    people = {p["name"]: p for p in r.json()["participants"]}
    check_eq(people["Ola Nordmann"]["workplace"], "Hamar; avd. 3",
             "a quoted field")
    check_eq(people["Åse Ødegård"]["hpr"], "1234567", "HPR number")

    # A sheet with identity numbers is refused whole.
    r = d.api("POST", "/api/rooms/%s/participants" % ROOM,
              "navn;fødselsnummer\nKari;01019912345\n".encode(),
              content_type="text/csv")
    check_eq(r.status, 400, "identity numbers refused")

    # The link works: an independent viewer watches with its token.
    ase = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url(ROOM),
                         "--token", token_of(people["Åse Ødegård"]["link"]),
                         "--duration", "6", "--no-audio")

    # A lost link: a new one, and the old token no longer opens WHEP.
    ola = people["Ola Nordmann"]
    old = token_of(ola["link"])
    r = d.api("POST", "/api/participants/%s/invitation" % ola["participant_id"])
    check_eq(r.status, 201, "re-issue (%s)" % r.text[:200])
    fresh = token_of(r.json()["link"])
    check(fresh != old, "a new token")
    check_eq(whep_post(d, old).status, 401, "WHEP with the old token")
    r = whep_post(d, fresh)
    check_eq(r.status, 201, "WHEP with the new token")
    r = harness.http("DELETE", d.url(r.header("Location")), token=fresh)
    check(r.status in (200, 204), "DELETE the resource: %s" % r)
    return people, ase


def check_invitation_rows(d, session, people):
    rows = {row["name"]: row for row in d.attendance(session)}
    check_eq(sorted(n for n in rows if n in people), sorted(people),
             "a row for every invited person")
    a = rows["Åse Ødegård"]
    check(a["attended_seconds"] >= 3, "Åse watched: %s" % a)
    check_eq(a["participant_id"], people["Åse Ødegård"]["participant_id"],
             "keyed by the opaque id")
    for name in ("Ola Nordmann", "Per Borte"):
        row = rows[name]
        check_eq((row["attended_seconds"], row["completed"], row["verdict"]),
                 (0, False, "absent"), "%s never came" % name)
    listing = {p["name"]: p for p in
               d.api("GET", "/api/rooms/%s/participants" % ROOM).json()}
    check(listing["Åse Ødegård"]["connected"], "Åse has connected")
    check(not listing["Per Borte"]["connected"], "Per never connected")
    check_eq(listing["Per Borte"]["kind"], "invited", "kind")
    for p in people.values():
        check(token_of(p["link"]) not in d.log_text(), "no tokens in logs")


def connected(d, name):
    listing = d.api("GET", "/api/rooms/%s/participants" % ROOM).json()
    return any(p["name"] == name and p["connected"] for p in listing)


def checkin(ctx, d, people):
    """A screen and two colleagues; returns the screen's peer and the
    check-ins by name."""
    screen_token = token_of(people["Vaktrommet"]["link"])
    path = "/api/rooms/%s/checkin-code" % ROOM
    check_eq(d.api("GET", path, token=None).status, 401, "code: no token")
    screen = ctx.start_peer("whep_gst.py", "--url", d.whep_url(ROOM),
                            "--token", screen_token, "--duration", "12",
                            "--no-audio")
    harness.wait_until(lambda: connected(d, "Vaktrommet"), 20,
                       "the screen connected")
    r = d.api("GET", path, token=screen_token)
    check_eq(r.status, 200, "the screen's code (%s)" % r.text[:200])
    code = r.json()["code"]
    check(re.fullmatch(r"[ACDEFGHJKMNPRTUVWXY34679]{6}", code), "code %r",
          code)
    wrong = ("A" if code[0] != "A" else "C") + code[1:]
    r = d.api("POST", "/api/rooms/%s/checkin" % ROOM,
              {"code": wrong, "name": "Gjetter"}, token=None)
    check_eq(r.status, 403, "a wrong code")
    time.sleep(3)
    seen = {}
    for name in ("Kari Kollega", "Liv Kollega"):
        r = d.api("POST", "/api/rooms/%s/checkin" % ROOM,
                  {"code": code.lower(), "name": name,
                   "workplace": "Lillehammer"}, token=None)
        check_eq(r.status, 201, "check-in of %s (%s)" % (name, r.text[:200]))
        seen[name] = r.json()
    return screen, seen


def check_checkin_rows(d, session, seen):
    rows = {row["name"]: row for row in d.attendance(session)}
    s = rows["Vaktrommet"]
    check(s["attended_seconds"] >= 8, "the screen watched: %s" % s)
    for name, receipt in seen.items():
        row = rows[name]
        check_eq(row["participant_id"], receipt["participant_id"], "id")
        check(row["checked_in_at"] is not None, "%s checked in" % name)
        # From the check-in on: about 3 s less than the screen.
        check(0 < row["attended_seconds"] <= s["attended_seconds"] - 2,
              "%s counted from the check-in: %s (screen %s)"
              % (name, row["attended_seconds"], s["attended_seconds"]))
        check_eq(len(row["connections"]), 1, "the screen's one connection")
        check(receipt["receipt"] not in d.log_text(), "no receipts in logs")


def test(ctx):
    d = pipeline_daemon(ctx, room=ROOM)
    session = harness.wait_until(lambda: d.room(ROOM)["session_id"], 10,
                                 "the session is stored")
    people, ase = invitations(ctx, d)
    screen, seen = checkin(ctx, d, people)
    # Two viewers at most at any time: check-ins made no stream of their own.
    res = ase.wait(40)
    check(res.ok, "the invited viewer watched: %s" % res.error)
    res = screen.wait(40)
    check(res.ok, "the screen watched: %s" % res.error)
    check_invitation_rows(d, session, people)
    check_checkin_rows(d, session, seen)
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
