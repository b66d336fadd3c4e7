#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Memory under churn: rounds of viewers joining, watching and leaving.

The issue's benchmark (issue 10, item 7): the real daemon (use a release
build: sanitizers change the allocator) serves one live room from a
pipeline source (by default pipelines/testsrc-small.pipeline). Each round,
kringkast-load joins --viewers new people (POST /api/rooms/{room}/join,
one party each), connects them (ICE, DTLS, SRTP), holds them --watch
seconds and lets them leave (WHEP DELETE). After each round, once the
relay counts no viewers, the script notes the relay's memory:

  rss      VmRSS from /proc/PID/status
  anon     RssAnon (the heap and thread stacks, not mapped files)
  heap     bytes malloc has handed out and not had back, summed over
           glibc's arenas (kringkast_heap_bytes{state="in-use"} on
           /metrics), and what malloc holds free inside them
           (state="free"): fragmentation, not a leak

Before the rounds it also makes --requests plain HTTP requests (GET
/healthz, each on a connection of its own, which it closes after
its response) and prints the heap in use per request: what a page view's
requests cost the relay for good, if anything.

Rounds run until --rounds are done or --minutes have passed, whichever
comes first. At the end it prints the table and a least-squares slope
(KiB per round, bytes per join) over the last half of the rounds, for
RSS and for the heap in use: a leak keeps a slope, a bounded cache
levels off to zero.

It measures; it does not assert. It exits non-zero only if the run itself
failed (no daemon, the room never went live, a round's viewers did not
connect).

Usage (from the source tree, after `scripts/build build-rel
--buildtype=release`):
  /usr/bin/python3 tests/bench/churn-soak.py --build build-rel
Options: --rounds 25 --minutes 0 (no limit) --viewers 100 --watch 15
         --ramp 20 --settle 3 --pipeline testsrc-small --json FILE
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
from harness import check  # noqa: E402

ROOM = "soak"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", help="build directory (default: newest build*)")
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--minutes", type=float, default=0,
                   help="stop after this long (0: only --rounds counts)")
    p.add_argument("--viewers", type=int, default=100,
                   help="viewers joining in each round")
    p.add_argument("--watch", type=float, default=15,
                   help="seconds every viewer of a round watches")
    p.add_argument("--ramp", type=float, default=20,
                   help="joins per second")
    p.add_argument("--settle", type=float, default=3,
                   help="seconds to wait after a round before measuring")
    p.add_argument("--pipeline", default="testsrc-small")
    p.add_argument("--requests", type=int, default=1000,
                   help="plain requests measured before the rounds (0: none)")
    p.add_argument("--json", help="also write the numbers here")
    return p.parse_args()


def proc_status(pid):
    """VmRSS and RssAnon in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                out[key] = int(value.split()[0])
    return out


def sample(d, label):
    st = proc_status(d.proc.pid)
    in_use = d.metric("kringkast_heap_bytes", {"state": "in-use"})
    free = d.metric("kringkast_heap_bytes", {"state": "free"})
    return {
        "round": label,
        "rss_kib": st["VmRSS"],
        "anon_kib": st["RssAnon"],
        "heap_in_use_kib": None if in_use is None else int(in_use // 1024),
        "heap_free_kib": None if free is None else int(free // 1024),
        "t": time.monotonic(),
    }


def slope(points):
    """Least-squares slope of [(x, y)], or None with fewer than 2."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx if sxx else None


def run_round(ctx, d, args, load_bin, n):
    load_json = os.path.join(ctx.workdir, "load-%d.json" % n)
    load = harness.Peer(ctx, "kringkast-load-%d" % n, [
        load_bin, "-u", d.whep_url(ROOM), "-n", str(args.viewers),
        "-r", str(args.ramp), "-d", str(args.watch), "--verify-every", "50",
        "--json", load_json, "--quiet"])
    ctx.peers.append(load)
    load.wait(args.viewers / args.ramp + args.watch + 120)
    with open(load_json) as f:
        report = json.load(f)
    check(report.get("connected") == args.viewers,
          "round %d: %s of %d viewers connected (%s)", n,
          report.get("connected"), args.viewers, report.get("errors"))
    harness.wait_until(lambda: (d.metric("kringkast_viewers") or 0) == 0, 30,
                       "round %d's viewers gone" % n)
    time.sleep(args.settle)


def run(ctx, args, out):
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[room %s]\ntitle=Soak\nsource=%s\n" % (ROOM, args.pipeline))
    d = ctx.daemon(extra_args=["--config", conf])
    d.wait_live(ROOM, timeout=30)
    load_bin = os.path.join(os.path.dirname(os.path.dirname(d.binary)),
                            "tools", "load", "kringkast-load")
    check(os.access(load_bin, os.X_OK), "no %s", load_bin)

    if args.requests > 0:
        before = d.metric("kringkast_heap_bytes", {"state": "in-use"})
        for _ in range(args.requests):
            d.api("GET", "/healthz", token=None)
        after = d.metric("kringkast_heap_bytes", {"state": "in-use"})
        out["heap_bytes_per_request"] = (after - before) / args.requests
        harness.log("%d requests: heap in use %+.0f bytes per request",
                    args.requests, out["heap_bytes_per_request"])

    time.sleep(args.settle)
    rows = [sample(d, 0)]
    t0 = time.monotonic()
    for n in range(1, args.rounds + 1):
        if args.minutes and time.monotonic() - t0 > args.minutes * 60:
            break
        run_round(ctx, d, args, load_bin, n)
        rows.append(sample(d, n))
        r = rows[-1]
        harness.log("round %d: rss %d KiB, anon %d KiB, heap in use %s KiB, "
                    "free %s KiB", n, r["rss_kib"], r["anon_kib"],
                    r["heap_in_use_kib"], r["heap_free_kib"])
    out["rows"] = rows
    out["daemon_exit_code"] = d.stop()


def report(out, args):
    rows = out["rows"]
    lines = ["", "%5s %10s %10s %10s %12s %12s" % (
        "round", "rss KiB", "anon KiB", "d rss", "heap in use", "heap free")]
    prev = None
    for r in rows:
        lines.append("%5d %10d %10d %10s %12s %12s" % (
            r["round"], r["rss_kib"], r["anon_kib"],
            "" if prev is None else "%+d" % (r["rss_kib"] - prev),
            "-" if r["heap_in_use_kib"] is None else r["heap_in_use_kib"],
            "-" if r["heap_free_kib"] is None else r["heap_free_kib"]))
        prev = r["rss_kib"]
    done = [r for r in rows if r["round"] > 0]
    half = done[len(done) // 2:]
    out["slopes"] = {}
    for key in ("rss_kib", "anon_kib", "heap_in_use_kib"):
        s = slope([(r["round"], r[key]) for r in half
                   if r[key] is not None])
        out["slopes"][key] = s
        if s is not None:
            lines.append("slope of %s over rounds %d-%d: %+.1f KiB/round, "
                         "%+.0f bytes per join" % (
                             key, half[0]["round"], half[-1]["round"], s,
                             s * 1024 / args.viewers))
    if "heap_bytes_per_request" in out:
        lines.append("heap in use per plain HTTP request: %+.0f bytes"
                     % out["heap_bytes_per_request"])
    lines.append("%d rounds of %d viewers watching %.0f s; daemon exit %s"
                 % (len(done), args.viewers, args.watch,
                    out["daemon_exit_code"]))
    sys.stdout.write("\n".join(lines) + "\n")


def main():
    args = parse_args()
    if args.build:
        os.environ["KRINGKAST_BIN"] = os.path.join(
            os.path.abspath(args.build), "relay", "kringkast")
    out = {"args": vars(args)}

    def test(ctx):
        run(ctx, args, out)
        report(out, args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2)

    harness.main(test, name="churn-soak")


if __name__ == "__main__":
    main()
