#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The questions' live stream through the nginx example (deploy/nginx.conf).

The example's HTTPS server is run as it is written, on a loopback port
without TLS (no certificate here), in front of the daemon; only its
proxy_read_timeout for the stream is shortened from 60 s to 20 s, so that
the test outlives it in reasonable time. Through nginx: a question asked
reaches the host's stream within a second (nginx passes each event on
rather than buffering it); a stream that reconnects with Last-Event-ID
gets the list with what it missed, and one that missed nothing gets no
list (nginx passes the header on); and a stream with
nothing to say stays open past nginx's read timeout, kept by the relay's
heartbeat comments, and past the relay's idle bound (which times a
connection between requests, never a response under way).
"""
import os
import time

import harness
import nginxlab
from harness import check, check_eq
from common import pipeline_daemon
from sse import Stream

ROOM = "ngq"
READ_TIMEOUT_S = 20


def shorten_read_timeout(example):
    """The stream's proxy_read_timeout, 60 s in the example, shortened."""
    stream = example.index("/questions/events$ {")
    timeout = example.index("proxy_read_timeout 60s;", stream)
    return (example[:timeout] + "proxy_read_timeout %ds;" % READ_TIMEOUT_S
            + example[timeout + len("proxy_read_timeout 60s;"):])


def test(ctx):
    if not os.path.exists(nginxlab.NGINX):
        raise harness.TestSkip("no %s (package nginx)" % nginxlab.NGINX)
    d = pipeline_daemon(ctx, room=ROOM)
    harness.wait_until(lambda: d.room(ROOM)["session_id"], 10,
                       "the session is stored")
    host = d.room(ROOM)["host_token"]
    nurse = d.join(ROOM, "Nina Nginx", "Gjøvik")

    proxy = nginxlab.Nginx(ctx.workdir, d.http_port, shorten_read_timeout)
    try:
        base = proxy.base

        # Within a second, event by event.
        stream = Stream(base, ROOM, host)
        check_eq(stream.status, 200, "the host's stream through nginx")
        check_eq(stream.resp.getheader("Content-Type"), "text/event-stream",
                 "its type")
        check_eq(stream.next()["event"], "reset", "the list first")
        for text in ("Første spørsmål via nginx?", "Andre spørsmål?"):
            asked = time.monotonic()
            r = harness.http("POST", base + "/api/rooms/%s/questions" % ROOM,
                             {"text": text}, token=nurse["token"])
            check_eq(r.status, 201, "asked through nginx (%s)" % r.text[:200])
            ev = stream.next(timeout=5)
            check_eq(ev["data"]["text"], text, "the event")
            harness.log("through nginx in %.0f ms",
                        (ev["at"] - asked) * 1000)
            check(ev["at"] - asked < 1.0, "within a second")
        resume_from = stream.last_id
        stream.close()

        # Resumed with Last-Event-ID: the list as it now is.
        missed = "Spurt mens strømmen var borte?"
        r = harness.http("POST", base + "/api/rooms/%s/questions" % ROOM,
                         {"text": missed}, token=nurse["token"])
        check_eq(r.status, 201, "asked meanwhile")
        resumed = Stream(base, ROOM, host, last_event_id=resume_from)
        ev = resumed.next(timeout=5)
        check_eq(ev["event"], "reset", "the list")
        qid = [q["id"] for q in ev["data"]["questions"]
               if q["text"] == missed]
        check_eq(len(qid), 1, "with what was missed")
        # A page that missed nothing gets no list: the header got through.
        current = Stream(base, ROOM, host, last_event_id=resumed.last_id)
        time.sleep(0.5)
        check(current.events.empty(), "Last-Event-ID is passed on")
        current.close()

        # Nothing to say for longer than nginx's read timeout, and than
        # the relay's own bound on a connection without a request
        # (kk-http-guard, 30 s: it does not time a response under way):
        # the heartbeat keeps the stream open, and it still delivers.
        time.sleep(35)
        check(resumed.comments >= 2, "heartbeat comments came through (%d)"
              % resumed.comments)
        r = harness.http("PUT", base + "/api/rooms/%s/questions/%s/state"
                         % (ROOM, qid[0]), {"state": "answering"},
                         token=host)
        check_eq(r.status, 200, "the host answers it")
        check_eq(resumed.next(timeout=5)["data"]["state"], "answering",
                 "the stream is still open past the read timeout")
        resumed.close()
    finally:
        proxy.close()


harness.main(test, needs_peers=False)
