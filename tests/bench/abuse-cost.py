#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What one abusive client costs a running relay: the issue's probes.

Against the real daemon with a live pipeline lecture, one after another:

  whep     one participant token POSTs --whep offers (a canned offer that
           never connects) as fast as it can;
  joins    one client address (through a local proxy) POSTs --joins
           joins to the open room;
  headers  --big requests with a 100 KB header;
  loris    --loris connections send half a request and stop;
  closed   --closed kept-alive connections are closed by the client.

For each it prints the statuses, the time taken, and the relay's RSS and
open file descriptors before and after (loris: while they hang, and once
the relay has timed them out). It measures; it does not assert.

Usage (from the source tree, after a build):
  tests/integration/netns-run /usr/bin/python3 tests/bench/abuse-cost.py \\
      --build build-x
Options: --whep 2000 --joins 3000 --big 20 --loris 200 --closed 500
"""

import argparse
import collections
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
from common import pipeline_daemon  # noqa: E402

SDP = open(os.path.join(REPO, "tests", "sdp", "aiortc-recvonly.sdp"), "rb").read()


def usage(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    return rss, len(os.listdir("/proc/%d/fd" % d.proc.pid))


def report(name, d, before, statuses, seconds):
    rss, fds = usage(d)
    print("%-8s %-34s %6.1f s  RSS %+8d KiB  fds %+5d" % (
        name, " ".join("%s×%d" % kv for kv in sorted(statuses.items())),
        seconds, rss - before[0], fds - before[1]), flush=True)


def run(what, d, fn, n):
    before, statuses, t0 = usage(d), collections.Counter(), time.monotonic()
    for i in range(n):
        statuses[fn(i)] += 1
    report(what, d, before, statuses, time.monotonic() - t0)


def raw(d, data):
    s = socket.create_connection(("127.0.0.1", d.http_port), timeout=10)
    try:
        s.sendall(data)
        reply = s.recv(64)
    except OSError:
        reply = b""
    s.close()
    return reply.split(b" ")[1].decode() if reply.startswith(b"HTTP/") else "dropped"


def test(ctx, args):
    d = pipeline_daemon(ctx, source="testsrc-small")
    tok = d.join("lecture", "Prober", "Lab")["token"]
    time.sleep(2)
    run("whep", d, lambda i: harness.http(
        "POST", d.whep_url("lecture"), body=SDP, token=tok,
        content_type="application/sdp").status, args.whep)
    # As a remote client through the local proxy: programs on the relay's
    # own machine are not limited.
    run("joins", d, lambda i: harness.http(
        "POST", d.url("/api/rooms/lecture/join"), body={"name": "Probe %d" % i},
        headers={"X-Forwarded-For": "203.0.113.10"}).status, args.joins)
    run("headers", d, lambda i: raw(
        d, b"GET /healthz HTTP/1.1\r\nHost: r\r\nX-Big: " + b"a" * 100000
        + b"\r\n\r\n"), args.big)

    before, t0 = usage(d), time.monotonic()
    loris = []
    for _ in range(args.loris):
        s = socket.create_connection(("127.0.0.1", d.http_port), timeout=60)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: r\r\nX-A: ")
        loris.append(s)
    time.sleep(1)
    report("loris", d, before, {"hanging": len(loris)}, time.monotonic() - t0)
    # The relay answers them 20 s after their first byte; wait 25 s.
    statuses, deadline = collections.Counter(), t0 + 25
    for s in loris:
        s.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            reply = s.recv(64)
        except OSError:
            reply = b""
        statuses[reply.split(b" ")[1].decode() if reply else "open"] += 1
        s.close()
    time.sleep(3)
    report("loris", d, before, statuses, time.monotonic() - t0)

    def closed(i):
        s = socket.create_connection(("127.0.0.1", d.http_port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n")
        status = s.recv(4096).split(b" ")[1].decode()
        s.close()
        return status
    run("closed", d, closed, args.closed)
    time.sleep(1)
    report("closed", d, usage(d), {"after 1 s": 1}, 0)
    d.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=None, help="build dir with relay/kringkast")
    p.add_argument("--whep", type=int, default=2000)
    p.add_argument("--joins", type=int, default=3000)
    p.add_argument("--big", type=int, default=20)
    p.add_argument("--loris", type=int, default=200)
    p.add_argument("--closed", type=int, default=500)
    args = p.parse_args()
    if args.build:
        os.environ["KRINGKAST_BIN"] = os.path.join(
            os.path.abspath(args.build), "relay", "kringkast")
    os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    sys.argv = sys.argv[:1]
    harness.main(lambda ctx: test(ctx, args))


if __name__ == "__main__":
    main()
