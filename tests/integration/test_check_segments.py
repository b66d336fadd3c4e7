#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The network check's HTTPS path (POST /network-check/segments): the
check page measures the lecture over plain HTTP segments of the check's
own test pattern, with no token, no course and no attendance.

- a checker gets an id, a playlist that fills with segments of the test
  pattern within a few seconds (an init segment and WebM segments that
  start on keyframes), served like a lecture's;
- unknown ids and unknown segment names are 404;
- limits: five POSTs per address at once (then 429, counted under
  reason "network-check-https"), programs on this machine excepted;
  at most eight checkers at once (then 429); a checker's id lasts the
  check's 20 s, then its playlist is 404;
- a checker's playlist polled in a loop (from this machine too: the
  budget is the checker's) is refused after its burst of eight, 429 with
  Retry-After, counted under reason "network-check-https-playlist", and
  answered again after Retry-After;
- nothing counts: no HTTPS viewer in /metrics, no attendance row, even
  while a participant of the room's lecture exists.
"""
import time

import harness
from harness import check, check_eq, log, wait_until
from common import pipeline_daemon

POST = "/network-check/segments"


def post(d, client=None):
    headers = {"X-Forwarded-For": client} if client else None
    return harness.http("POST", d.url(POST), headers=headers)


def test(ctx):
    d = pipeline_daemon(ctx)
    d.join("lecture", "Kari Nordmann", "Gjøvik helsestasjon")

    t0 = time.monotonic()
    r = post(d)
    check_eq(r.status, 201, "a checker (%s)" % r.text)
    checker = r.json()
    check_eq(r.header("Location"), checker["playlist"], "Location")
    check_eq(checker["seconds"], 20, "a checker's seconds")
    check_eq(len(checker["id"]), 32, "the id: %s" % checker["id"])
    playlist = d.url(checker["playlist"])

    def with_segments(n):
        pl = harness.http("GET", playlist).json()
        return pl if len(pl["segments"]) >= n else None
    pl = wait_until(lambda: with_segments(2), 10, "two segments",
                    interval=0.5)
    first_after = time.monotonic() - t0
    log("two segments %.1f s after the POST", first_after)
    check_eq(pl["mime_type"], 'video/webm; codecs="vp8,opus"', "MSE type")
    check(pl["live_edge"] is not None, "a live edge")
    init = harness.http("GET", d.url(pl["init"]))
    check_eq(init.status, 200, "init")
    check(init.body[:4] == b"\x1a\x45\xdf\xa3", "init starts with EBML")
    for seg in pl["segments"]:
        check(seg["url"].startswith(checker["playlist"] + "/"), seg["url"])
        check(seg["keyframe"], "segment %d on a keyframe" % seg["seq"])
        r = harness.http("GET", d.url(seg["url"]))
        check_eq(r.status, 200, "segment %d" % seg["seq"])
        check_eq(r.header("Content-Type"), "video/webm", "segment type")
        check(len(r.body) > 1000, "segment %d: %d bytes" % (seg["seq"],
                                                           len(r.body)))
        lag = pl["live_edge"] - (seg["start"] + seg["duration"])
        check(lag < 4.0, "segment %d ends %.2f s behind live" % (seg["seq"],
                                                                 lag))

    # What is no checker or no segment.
    for path in (POST + "/0123456789abcdef0123456789abcdef",
                 POST + "/0123456789abcdef0123456789abcdef/" + "x-0.webm",
                 "%s/%s-99999.webm" % (checker["playlist"], pl["id"]),
                 "%s/%s-x.webm" % (checker["playlist"], pl["id"]),
                 "%s/%s-1.mp4" % (checker["playlist"], pl["id"])):
        check_eq(harness.http("GET", d.url(path)).status, 404, path)

    # A checker's playlist in a loop: its burst (kk-segments-api.h's
    # eight), then 429 until Retry-After; the polling above (twice the
    # page's rate) never was.
    reason = {"reason": "network-check-https-playlist"}
    check_eq(d.metric("kringkast_http_rejected_total", reason) or 0, 0,
             "polling refused")
    # The budget is full again 250 ms after the last poll above.
    time.sleep(0.3)
    t = time.monotonic()
    answered = 0
    while answered < 48:
        refused = harness.http("GET", playlist)
        if refused.status != 200:
            break
        answered += 1
    elapsed = time.monotonic() - t
    log("checker's playlist: %d answered in %.2f s, then %d", answered,
        elapsed, refused.status)
    check_eq(refused.status, 429, "a burst's refusal")
    # Eight at once, then one per 250 ms.
    check(8 <= answered <= 8 + elapsed / 0.25 + 1,
          "%d answered of a burst of eight", answered)
    check("too many" in refused.json()["error"], refused.text)
    retry_after = refused.header("Retry-After") or ""
    check(retry_after.isdigit() and int(retry_after) >= 1,
          "Retry-After: %r", retry_after)
    check(d.metric("kringkast_http_rejected_total", reason) >= 1, "counted")
    time.sleep(int(retry_after))
    check_eq(harness.http("GET", playlist).status, 200, "after Retry-After")

    # Nothing counts: no HTTPS viewer, no attendance row.
    check_eq(d.metric("kringkast_viewers", {"transport": "https"}) or 0, 0,
             "HTTPS viewers")
    check_eq(d.metric("kringkast_https_segmenters") or 0, 0,
             "lecture segmenters")

    # The rate limit per address: five, then 429.
    statuses = [post(d, "203.0.113.7").status for _ in range(6)]
    check_eq(statuses, [201] * 5 + [429], "POSTs from one address")
    check_eq(d.metric("kringkast_http_rejected_total",
                      {"reason": "network-check-https"}), 1, "counted")
    # Eight checkers at once: the first, five, two more; the ninth waits.
    check_eq([post(d).status for _ in range(3)], [201, 201, 429],
             "checkers beyond eight")
    check_eq(post(d, "198.51.100.9").status, 429, "busy for anyone")

    # The first checker's time is up 20 s after its POST.
    wait_until(lambda: harness.http("GET", playlist).status == 404, 25,
               "the first checker's playlist gone", interval=1)
    log("playlist 404 %.1f s after the POST", time.monotonic() - t0)
    check(time.monotonic() - t0 >= 19.5, "not before its 20 s")
    sessions = d.sessions("lecture")
    check(all(d.attendance(s["id"]) == [] for s in sessions),
          "attendance rows: %s" % [d.attendance(s["id"]) for s in sessions])
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
