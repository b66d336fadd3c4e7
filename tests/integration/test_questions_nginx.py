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
import re
import shutil
import subprocess
import time

import harness
from harness import check, check_eq
from common import pipeline_daemon
from sse import Stream

ROOM = "ngq"
NGINX = "/usr/sbin/nginx"
READ_TIMEOUT_S = 20


def nginx_config(workdir, port, upstream_port):
    """deploy/nginx.conf, its HTTPS server on 127.0.0.1:port without TLS,
    inside the smallest main configuration that runs it here."""
    with open(os.path.join(harness.REPO, "deploy", "nginx.conf")) as f:
        example = f.read()
    # The last server only redirects port 80 to HTTPS.
    example = example[:example.rindex("server {")]
    example = example.replace("listen 443 ssl http2;",
                              "listen 127.0.0.1:%d;" % port)
    example = re.sub(r"\n\s*ssl_certificate(_key)?\s[^;]*;", "", example)
    example = example.replace("server 127.0.0.1:8080;",
                              "server 127.0.0.1:%d;" % upstream_port)
    stream = example.index("/questions/events$ {")
    timeout = example.index("proxy_read_timeout 60s;", stream)
    example = (example[:timeout] + "proxy_read_timeout %ds;" % READ_TIMEOUT_S
               + example[timeout + len("proxy_read_timeout 60s;"):])
    temp = os.path.join(workdir, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    return """
daemon off;
master_process off;
user root;
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log info;
events { worker_connections 256; }
http {
    access_log %(w)s/nginx-access.log;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
%(example)s
}
""" % {"w": workdir, "t": temp, "example": example}


def test(ctx):
    if not os.path.exists(NGINX):
        raise harness.TestSkip("no %s (package nginx)" % NGINX)
    d = pipeline_daemon(ctx, room=ROOM)
    harness.wait_until(lambda: d.room(ROOM)["session_id"], 10,
                       "the session is stored")
    host = d.room(ROOM)["host_token"]
    nurse = d.join(ROOM, "Nina Nginx", "Gjøvik")

    port = harness.free_port()
    conf = os.path.join(ctx.workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_config(ctx.workdir, port, d.http_port))
    proxy = subprocess.Popen([NGINX, "-p", ctx.workdir, "-e",
                              os.path.join(ctx.workdir, "nginx-error.log"),
                              "-c", conf],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.STDOUT)
    try:
        base = "http://127.0.0.1:%d" % port
        def proxy_up():
            check(proxy.poll() is None, "nginx exited: %s" % harness.tail(
                os.path.join(ctx.workdir, "nginx-error.log")))
            try:
                return harness.http("GET", base + "/healthz").status == 200
            except OSError:
                return False

        harness.wait_until(proxy_up, 10, "nginx in front of the relay")

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
        proxy.terminate()
        proxy.wait(10)
        log = os.path.join(ctx.workdir, "nginx-error.log")
        if os.path.exists(log):
            shutil.copy(log, os.path.join(ctx.workdir, "nginx-error.kept"))


harness.main(test, needs_peers=False)
