#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Abuse is bounded, a real course stays well inside the bounds, and a
viewer already watching keeps decoding throughout.

- Joins per client address on an open room (named by the local proxy's
  X-Forwarded-For): 100 joins at once all pass (a course), the burst of
  200 is then crossed: 429 with Retry-After and a JSON error, counted;
  another address still joins, and so does a program on the relay's own
  machine (kringkast-load).
- WHEP resources per participant token: 3 screens and a reload pass; the
  11th resource of one token is refused (429, Retry-After), the token's
  live viewer is not evicted, and a DELETE frees a place again.
- Header blocks: a browser-size one passes; 40 KB (under libsoup's own
  64 KiB) and 100 KB get 431 with a JSON body instead of a dropped
  connection.
- Time: half-sent requests get 408 after 20 s while other clients are
  served; a slow but steady client is not cut off; a kept-alive
  connection may idle 10 s and is closed quietly after 30 s.
- Connections that clients close between requests do not stay open.
"""
import json
import os
import socket
import struct
import time

import harness
from harness import check, check_eq
from common import pipeline_daemon, viewer_token

SDP = open(os.path.join(harness.REPO, "tests", "sdp",
                        "aiortc-recvonly.sdp")).read().encode()


def rejected(d, reason):
    return d.metric("kringkast_http_rejected_total", {"reason": reason}) or 0


def join(d, name, headers=None):
    return harness.http("POST", d.url("/api/rooms/lecture/join"),
                        body={"name": name, "workplace": "Ward 7"},
                        headers=headers)


def check_limited(r, what, max_after):
    check_eq(r.status, 429, what)
    after = r.header("Retry-After")
    check(after is not None and after.isdigit()
          and 1 <= int(after) <= max_after,
          "%s: Retry-After %r (1..%d)", what, after, max_after)
    check("error" in r.json(), "%s: JSON error body", what)


# One hospital's NAT address, as the local proxy (deploy/nginx.conf) names
# it: programs on the relay's own machine are not limited.
HOSPITAL = {"X-Forwarded-For": "203.0.113.10"}


def joins(d):
    before = rejected(d, "join-rate")
    t0 = time.monotonic()
    # A course of 100 people behind one hospital address, all at once.
    for i in range(100):
        check_eq(join(d, "Deltaker %d" % i, HOSPITAL).status, 201,
                 "course join %d" % i)
    # An attacker at the same address goes on.
    created, first_429 = 100, None
    for i in range(400):
        r = join(d, "Flood %d" % i, HOSPITAL)
        if r.status == 429:
            first_429 = r
            break
        check_eq(r.status, 201, "join before the bound")
        created += 1
    elapsed = time.monotonic() - t0
    check(first_429 is not None, "joins are bounded")
    # One more per second refills.
    check(200 <= created <= 200 + elapsed + 2,
          "%d joins from one address in %.1f s before 429", created, elapsed)
    check_limited(first_429, "join over the bound", 2)
    check(rejected(d, "join-rate") >= before + 1, "join-rate counted")
    other = join(d, "Elsewhere", headers={"X-Forwarded-For": "198.51.100.7"})
    check_eq(other.status, 201, "another address behind the local proxy")
    check_eq(join(d, "Load tool").status, 201,
             "a program on the relay's machine is not limited")
    harness.log("joins: %d passed from one address in %.1f s, then 429",
                created, elapsed)


def whep_post(d, token):
    return harness.http("POST", d.whep_url("lecture"), body=SDP, token=token,
                        content_type="application/sdp")


def whep_delete(d, token, location):
    return harness.http("DELETE", d.url(location), token=token)


def whep_resources(d, viewer_tok):
    # Three screens of one token, one of them reloading (its new offer
    # comes before the old resource is deleted).
    r = join(d, "Gruppe A", headers={"X-Forwarded-For": "198.51.100.8"})
    check_eq(r.status, 201, "a screen's join")
    tok = r.json()["token"]
    screens = []
    for i in range(4):
        r = whep_post(d, tok)
        check_eq(r.status, 201, "screen %d" % i)
        screens.append(r.header("Location"))
    check_eq(whep_delete(d, tok, screens[0]).status, 200, "reload's DELETE")

    # The live viewer holds one resource of viewer_tok; nine more fill it.
    before = rejected(d, "whep-resources")
    held = []
    for i in range(9):
        r = whep_post(d, viewer_tok)
        check_eq(r.status, 201, "resource %d of the token" % (i + 2))
        held.append(r.header("Location"))
    r = whep_post(d, viewer_tok)
    check_limited(r, "the 11th resource of one token", 30)
    check(rejected(d, "whep-resources") >= before + 1, "whep-resources counted")
    check_eq(whep_delete(d, viewer_tok, held.pop()).status, 200, "DELETE one")
    check_eq(whep_post(d, viewer_tok).status, 201, "a freed place is usable")
    check_eq(whep_post(d, viewer_tok).status, 429, "and bounded again")


def raw_request(port, data, timeout=10.0):
    """Sends data, returns (status, headers+body text) of the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except socket.timeout:
        pass
    s.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None
    return status, head.decode(errors="replace"), body


def get_with(port, extra):
    return raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: relay\r\n"
                       b"Connection: close\r\n" + extra + b"\r\n")


def header_sizes(d):
    before = rejected(d, "header-too-large")
    browser = (b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"
               b" (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
               b"Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n"
               b"Accept-Language: nb-NO,nb;q=0.9,no;q=0.8,en;q=0.6\r\n"
               b"Accept-Encoding: gzip, deflate\r\n"
               b"Cookie: " + b"; ".join(b"intranet%d=%s" % (i, b"x" * 90)
                                        for i in range(60)) + b"\r\n")
    status, _, _ = get_with(d.http_port, browser)
    check_eq(status, 200, "a browser's headers with 6 KB of cookies")
    for size in (40_000, 100_000):
        status, head, body = get_with(d.http_port,
                                      b"X-Big: " + b"a" * size + b"\r\n")
        check_eq(status, 431, "a %d byte header" % size)
        check("error" in json.loads(body), "431 has a JSON body: %r" % body)
    check(rejected(d, "header-too-large") >= before + 2, "431s counted")


def read_response(s):
    """One response with Content-Length from a kept-alive socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        check(chunk, "connection closed before a response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        body += s.recv(4096)
    return int(head.split()[1])


def timeouts(d):
    port = d.http_port
    before = rejected(d, "header-timeout")
    request = b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n"

    def connect():
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    t0 = time.monotonic()
    loris = [connect() for _ in range(20)]
    for s in loris:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-A: ")
    kept, idle = connect(), connect()
    for s in (kept, idle):
        s.sendall(request)
        check_eq(read_response(s), 200, "first request on a kept connection")
    slow = connect()
    for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: relay\r\n", b"\r\n"):
        slow.sendall(part)
        time.sleep(2)
    check_eq(read_response(slow), 200, "a slow but steady client is served")
    harness.wait_until(lambda: time.monotonic() - t0 > 10, 15, "10 s")
    kept.sendall(request)
    check_eq(read_response(kept), 200, "a connection idle for 10 s still works")
    check_eq(d.api("GET", "/healthz", token=None).status, 200,
             "others are served while 20 requests hang")

    for i, s in enumerate(loris):
        s.settimeout(30)
        reply = s.recv(4096)
        check(reply.startswith(b"HTTP/1.1 408 "), "half-sent request %d: %r",
              i, reply[:40])
    waited = time.monotonic() - t0
    check(18 <= waited <= 30, "408 after %.1f s (20 s expected)", waited)
    check(rejected(d, "header-timeout") >= before + 20, "408s counted")

    idle.settimeout(30)
    check_eq(idle.recv(4096), b"", "an idle kept-alive connection is closed")
    idle_s = time.monotonic() - t0
    check(28 <= idle_s <= 45, "idle close after %.1f s (30 s expected)", idle_s)
    for s in loris + [kept, idle, slow]:
        s.close()


def open_fds(d):
    return len(os.listdir("/proc/%d/fd" % d.proc.pid))


def closed_connections(d):
    """Kept-alive connections that clients close (or reset) between
    requests are let go at once: libsoup 3.2 alone kept each one's socket
    until the daemon exited."""
    base = open_fds(d)
    request = b"GET /api/rooms HTTP/1.1\r\nHost: relay\r\n\r\n"
    for i in range(60):
        s = socket.create_connection(("127.0.0.1", d.http_port), timeout=10)
        s.sendall(request)
        check_eq(read_response(s), 200, "a request before closing")
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        s.close()
    harness.wait_until(lambda: open_fds(d) <= base + 2, 5,
                       "closed connections are let go")


def test(ctx):
    d = pipeline_daemon(ctx)
    tok = viewer_token(d, "lecture")
    viewer = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                            "--token", tok, "--duration", "55",
                            "--min-video-frames", "300",
                            "--min-audio-ms", "40000")
    harness.wait_until(
        lambda: (d.metric("kringkast_viewers") or 0) >= 1, 20,
        "the viewer is watching")
    joins(d)
    whep_resources(d, tok)
    header_sizes(d)
    closed_connections(d)
    timeouts(d)
    check_eq(d.api("GET", "/healthz", token=None).status, 200, "still healthy")

    r = viewer.wait(60)
    check(r.ok, "the admitted viewer decoded throughout: %s", r.error)
    timeline = r["video_timeline"]
    check(min(timeline[3:-1]) >= 5,
          "the viewer never stalled (frames per second): %s", timeline)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
