#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Presence checks, end to end: an attendance code and a "still here?"
prompt decide completion.

The room requires the code and sends one prompt (in the first 10 s,
30 s to answer). A WHIP host broadcasts for about 20 s; two independent
viewers (aiortc and webrtcbin) watch it, and a colleague checks in at the
second screen. The host reveals the code; both screens give it. Both the
first screen and the colleague wait for the prompt with a long poll and
answer it; the second screen does not. The report: the first screen and
the colleague completed, the second screen missed the prompt. A code
revealed after the settings changed still follows the session's frozen
policy.
"""
import threading

import harness
from harness import check, check_eq

ROOM = "quiz"


def long_poll(d, token, out):
    r = d.api("GET", "/api/rooms/%s/prompt?wait=25" % ROOM, token=token,
              timeout=35)
    out.append(r)


def test(ctx):
    d = ctx.daemon()
    info = d.create_room(ROOM, completion_ratio=0.3)
    r = d.api("PUT", "/api/rooms/%s/attendance-settings" % ROOM,
              {"require_code": True, "prompts": 1,
               "prompt_interval_seconds": 10, "prompt_window_seconds": 30,
               "grace_seconds": 2})
    check_eq(r.status, 200, "PUT attendance-settings (%s)" % r.text[:200])
    check_eq((r.json()["prompts"], r.json()["require_code"]), (1, True),
             "settings stored")
    host = info["host_token"]
    code_path = "/api/rooms/%s/attendance-code" % ROOM
    check_eq(d.api("POST", code_path, token=host).status, 409,
             "no code before the broadcast")
    check_eq(d.room(ROOM)["attendance_code"], False,
             "the nurse's page shows no code form before the broadcast")

    a = d.join(ROOM, "Anne Først", "Gjøvik")
    b = d.join(ROOM, "Bjørn Annen", "Hamar")
    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", host, "--duration", "20",
                         "--width", "320", "--height", "240")
    d.wait_live(ROOM)
    session = harness.wait_until(lambda: d.room(ROOM)["session_id"], 10,
                                 "the session is stored")
    # Changed after the start: this session keeps what it froze.
    d.api("PUT", "/api/rooms/%s/attendance-settings" % ROOM,
          {"require_code": False, "prompts": 0})
    harness.wait_until(lambda: d.room(ROOM)["attendance_code"], 10,
                       "the room tells nurses' pages the session asks for "
                       "the code (the frozen policy, not today's)")

    polls = {"a": [], "kari": []}
    va = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url(ROOM),
                        "--token", a["token"], "--duration", "14",
                        "--no-audio")
    vb = ctx.start_peer("whep_gst.py", "--url", d.whep_url(ROOM),
                        "--token", b["token"], "--duration", "14",
                        "--no-audio")
    r = d.api("GET", "/api/rooms/%s/checkin-code" % ROOM, token=b["token"])
    check_eq(r.status, 200, "Bjørn's screen's code")
    r = d.api("POST", "/api/rooms/%s/checkin" % ROOM,
              {"code": r.json()["code"], "name": "Kari Kollega",
               "workplace": "Hamar"}, token=None)
    check_eq(r.status, 201, "check-in (%s)" % r.text[:200])
    kari = r.json()

    threads = [threading.Thread(target=long_poll, args=(d, a["token"],
                                                        polls["a"])),
               threading.Thread(target=long_poll, args=(d, kari["receipt"],
                                                        polls["kari"]))]
    for t in threads:
        t.start()

    r = d.api("POST", code_path, token=host)
    check_eq(r.status, 201, "the host reveals the code (%s)" % r.text[:200])
    code = r.json()["code"]
    check(r.json()["required"], "the session requires it")
    check_eq(d.api("POST", code_path, token=host).json()["code"], code,
             "the same code when asked again")
    answer = "/api/rooms/%s/attendance-code/answer" % ROOM
    check_eq(d.api("POST", answer, {"code": "AAAAAA"},
                   token=a["token"]).status, 422, "a wrong code")
    for who in (a, b):
        check_eq(d.api("POST", answer, {"code": code.lower()},
                       token=who["token"]).status, 204, "code given")

    for t in threads:
        t.join(40)
    for name, got in polls.items():
        check(got and got[0].status == 200,
              "%s's poll brought the prompt: %s" % (name, got))
    prompt = polls["a"][0].json()
    check_eq(polls["kari"][0].json()["id"], prompt["id"], "one prompt")
    check(prompt["seconds_left"] > 20, "a window of 30 s: %s" % prompt)
    path = "/api/rooms/%s/prompt/%s" % (ROOM, prompt["id"])
    check_eq(d.api("POST", path, token=a["token"]).status, 204,
             "Anne's screen answers")
    check_eq(d.api("POST", path, token=kari["receipt"]).status, 204,
             "Kari answers for herself")
    check_eq(d.api("GET", "/api/rooms/%s/prompt" % ROOM,
                   token=b["token"]).json()["id"], prompt["id"],
             "Bjørn's screen still has it open")

    for p in (va, vb):
        res = p.wait(60)
        check(res.ok, "%s watched: %s" % (p.name, res.error))
    check(pub.wait(60).ok, "publisher")
    d.wait_live(ROOM, live=False, timeout=10)

    rows = {row["name"]: row for row in d.attendance(session)}
    check_eq(sorted(rows), ["Anne Først", "Bjørn Annen", "Kari Kollega"],
             "rows")
    for name, row in rows.items():
        harness.log("%s: %s s, code %s, prompts %s/%s missed, %s", name,
                    row["attended_seconds"], row["code_given"],
                    row["prompts_missed"], row["prompts_seen"],
                    row["verdict"])
        check(row["attended_ratio"] >= 0.3, "%s watched enough: %s"
              % (name, row))
        check(row["code_given"], "%s gave the code (or their screen did)"
              % name)
        check_eq(row["prompts_seen"], 1, "%s saw the prompt" % name)
    check_eq((rows["Anne Først"]["completed"], rows["Anne Først"]["verdict"]),
             (True, "completed"), "Anne")
    check_eq((rows["Kari Kollega"]["completed"],
              rows["Kari Kollega"]["verdict"]), (True, "completed"), "Kari")
    check_eq((rows["Bjørn Annen"]["completed"],
              rows["Bjørn Annen"]["verdict"]), (False, "missed-prompt"),
             "Bjørn")
    check(kari["receipt"] not in d.log_text(), "no receipts in logs")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
