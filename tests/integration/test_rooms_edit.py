#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Editing a course: PATCH /api/rooms/{room}, and "access" at creation.

Each field (title, record, completion_ratio, access) changes alone and
together, and only the fields given change, also when two edits of
different fields run at once; access "invitation" turns joining away
(403) and "open" lets people in again. Bad bodies get a 400 that names
the problem, an unknown room 404, a missing or unknown token 401, a
host's or participant's token 403, a room of the config file 409 for
the settings the file owns. Everything holds after a restart. The room
JSON counts the audience (0 people and workplaces with nobody watching).
"""
import os
import threading

import harness
from harness import check, check_eq


def patch(d, room, body, token=Ellipsis, **kw):
    return d.api("PATCH", "/api/rooms/" + room, body, token=token, **kw)


def refused(d, room, body, status, words, **kw):
    """A refusal with `status` whose message says `words`; the room is
    left as it was."""
    before = d.room(room)
    r = patch(d, room, body, **kw)
    check_eq(r.status, status, "PATCH %r" % (body,))
    if words:
        message = r.json().get("error", "")
        check(words in message, "PATCH %r: error %r should say %r"
              % (body, message, words))
    check_eq(d.room(room), before, "the room after a refused PATCH %r"
             % (body,))


def test(ctx):
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[room aud1]\ntitle=Auditorium 1\n")
    d = ctx.daemon(extra_args=["--config", conf])

    # "access" at creation; a bad one creates nothing.
    r = d.api("POST", "/api/rooms", {"id": "lukket", "title": "Lukket kurs",
                                     "access": "invitation"})
    check_eq(r.status, 201, "POST with access (%s)" % r.text[:200])
    check_eq(r.json()["access"], "invitation", "access in the reply")
    check_eq(d.join("lukket", "Kari", expect=403).status, 403,
             "joining a room by invitation only")
    r = d.api("POST", "/api/rooms", {"id": "feil", "title": "Feil",
                                     "access": "closed"})
    check_eq(r.status, 400, "POST with a bad access")
    check_eq(d.api("GET", "/api/rooms/feil").status, 404,
             "no room from a refused POST")

    room = d.create_room("kurs", title="Legemiddelhåndtering")
    check_eq(room["record"], False, "record at creation")
    check_eq(room["access"], "open", "access at creation")
    check_eq((room["workplaces"], room["people"]), (0, 0),
             "nobody watching")

    # One field at a time: the others stay.
    r = patch(d, "kurs", {"title": "  Smittevern på sykehjem  "})
    check_eq(r.status, 200, "PATCH title (%s)" % r.text[:200])
    check_eq(r.json()["title"], "Smittevern på sykehjem", "trimmed title")
    check_eq(r.json()["host_token"], room["host_token"],
             "the reply is the coordinator's view")
    check_eq(patch(d, "kurs", {"record": True}).json()["record"], True,
             "record")
    check_eq(patch(d, "kurs", {"completion_ratio": 0.5}).json()
             ["completion_ratio"], 0.5, "completion ratio")
    check_eq(patch(d, "kurs", {"completion_ratio": 1}).json()
             ["completion_ratio"], 1.0, "a whole number ratio")
    r = patch(d, "kurs", {"access": "invitation"})
    check_eq(r.json()["access"], "invitation", "access")
    check_eq(d.api("GET", "/api/rooms/kurs/access").json()["access"],
             "invitation", "access as kk-roster tells it")
    d.join("kurs", "Ola", expect=403)
    now = d.room("kurs")
    check_eq((now["title"], now["record"], now["completion_ratio"],
              now["access"]),
             ("Smittevern på sykehjem", True, 1.0, "invitation"),
             "after one field at a time")
    # null is "not given".
    check_eq(patch(d, "kurs", {"title": None, "record": False}).json()
             ["title"], "Smittevern på sykehjem", "a null title")

    # All at once.
    r = patch(d, "kurs", {"title": "Smittevern i praksis", "record": True,
                          "completion_ratio": 0.75, "access": "open"})
    check_eq(r.status, 200, "PATCH all (%s)" % r.text[:200])
    check_eq({k: r.json()[k] for k in ("title", "record",
                                       "completion_ratio", "access")},
             {"title": "Smittevern i praksis", "record": True,
              "completion_ratio": 0.75, "access": "open"}, "all at once")
    d.join("kurs", "Ola", "Legevakt")

    # Two edits of different fields at once both hold.
    results = []

    def edit(body):
        results.append(patch(d, "kurs", body).status)
    threads = [threading.Thread(target=edit, args=(body,)) for body in
               ({"title": "Samtidig"}, {"completion_ratio": 0.6})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check_eq(results, [200, 200], "two edits at once")
    now = d.room("kurs")
    check_eq((now["title"], now["completion_ratio"]), ("Samtidig", 0.6),
             "both edits hold")

    # Bad input: 400, saying what is wrong, nothing changed.
    refused(d, "kurs", {}, 400, "nothing to change")
    refused(d, "kurs", {"id": "nytt"}, 400, "cannot be changed")
    refused(d, "kurs", {"titel": "x"}, 400, 'unknown member "titel"')
    refused(d, "kurs", {"title": ""}, 400, "title must be 1 to 200")
    refused(d, "kurs", {"title": "   "}, 400, "title must be 1 to 200")
    refused(d, "kurs", {"title": "x" * 201}, 400, "title must be 1 to 200")
    refused(d, "kurs", {"title": "a\u0007b"}, 400, "control character")
    refused(d, "kurs", {"title": 5}, 400, '"title" must be a string')
    refused(d, "kurs", {"record": "yes"}, 400, '"record" must be true or')
    refused(d, "kurs", {"completion_ratio": 80}, 400, "from 0 to 1")
    refused(d, "kurs", {"completion_ratio": -0.1}, 400, "from 0 to 1")
    refused(d, "kurs", {"completion_ratio": "0.8"}, 400, "a number")
    refused(d, "kurs", {"access": "closed"}, 400, '"open" or "invitation"')
    refused(d, "kurs", {"title": "Ny", "access": 1}, 400, "access")
    refused(d, "kurs", [1, 2], 400, "JSON object")
    refused(d, "kurs", b"{\"title\": ", 400, "",
            content_type="application/json")
    refused(d, "kurs", "title=x", 415, "application/json",
            content_type="application/x-www-form-urlencoded")

    # Who may.
    viewer = d.join("kurs", "Kari", "Sengepost 3")["token"]
    refused(d, "kurs", {"title": "x"}, 401, "coordinator token", token=None)
    refused(d, "kurs", {"title": "x"}, 401, "invalid token",
            token="not-a-token")
    refused(d, "kurs", {"title": "x"}, 403, "only the coordinator",
            token=room["host_token"])
    refused(d, "kurs", {"title": "x"}, 403, "only the coordinator",
            token=viewer)
    check_eq(patch(d, "finnes-ikke", {"title": "x"}).status, 404,
             "an unknown room")
    check_eq(patch(d, "finnes-ikke", {"title": "x"}, token=None).status, 401,
             "an unknown room without a token")

    # The config file's room: its settings are the file's (it would undo
    # the change at the next start); who may join is not in the file.
    refused(d, "aud1", {"title": "Nytt navn"}, 409, "config file")
    refused(d, "aud1", {"record": True, "access": "invitation"}, 409,
            "config file")
    check_eq(patch(d, "aud1", {"access": "invitation"}).status, 200,
             "access of a config room")

    # A restart keeps everything.
    check_eq(d.stop(), 0, "daemon exit status")
    d.start()
    now = d.room("kurs")
    check_eq({k: now[k] for k in ("title", "record", "completion_ratio",
                                  "access", "host_token")},
             {"title": "Samtidig", "record": True, "completion_ratio": 0.6,
              "access": "open", "host_token": room["host_token"]},
             "the course after a restart")
    check_eq(d.room("lukket")["access"], "invitation",
             "access given at creation, after a restart")
    check_eq((d.room("aud1")["title"], d.room("aud1")["access"]),
             ("Auditorium 1", "invitation"), "the config room after a restart")
    d.join("lukket", "Kari", expect=403)
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test, needs_peers=False)
