#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A join-and-leave storm during a live lecture, and what the media path
felt of it.

The issue's benchmark: 500 joins and leaves within 10 s, with the media
path unaffected. The real daemon serves a pipeline lecture (by default
pipelines/testsrc.pipeline: 720p30 VP8, ~1.5 Mbit/s, Opus) to one real
viewer (tests/bench/frame_viewer.py, GStreamer webrtcbin, which notes the
time of every decoded frame). Then, for one window each:

  before  nothing else happens;
  storm   N people join (POST /api/rooms/{room}/join), open a WHEP
          resource with a canned offer (tests/sdp/chrome-recvonly.sdp)
          and DELETE it again, paced evenly over the window from a pool of
          client threads with keep-alive connections; and, because a
          canned offer never connects (so makes no attendance event),
          kringkast-load joins --real viewers that do connect (ICE, DTLS,
          SRTP) and leave within the window, each a connect and a leave
          written by the attendance log.

For both windows it prints the real viewer's frame rate (frames, lowest
one-second count, longest gap between frames) and the relay's counters
(/metrics: packets in from the source, forwarded, dropped) and CPU; for
the storm, request latencies and statuses, and what the attendance log
and the roster hold afterwards.

It measures; it does not assert. It exits non-zero only if the run itself
failed (no daemon, the viewer never played).

Usage (from the source tree, after a build):
  /usr/bin/python3 tests/bench/attendance-storm.py --build /work/build-att2
Options: --joins 500 --window 10 --real 20 --threads 32
         --pipeline testsrc|testsrc-small --json FILE
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
from harness import check  # noqa: E402

ROOM = "storm"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", help="build directory (default: newest build*)")
    p.add_argument("--joins", type=int, default=500)
    p.add_argument("--window", type=float, default=10.0)
    p.add_argument("--real", type=int, default=20,
                   help="kringkast-load viewers that connect and leave "
                        "during the storm (0: none)")
    p.add_argument("--threads", type=int, default=32)
    p.add_argument("--pipeline", default="testsrc")
    p.add_argument("--json", help="also write the numbers here")
    return p.parse_args()


# -- measuring -----------------------------------------------------------------

def metrics(d):
    """The counters the media path is judged by, summed over labels."""
    names = ("kringkast_ingest_packets_total",
             "kringkast_packets_forwarded_total",
             "kringkast_bytes_forwarded_total",
             "kringkast_packets_dropped_total",
             "kringkast_viewers")
    out = dict.fromkeys(names, 0.0)
    for line in d.metrics().splitlines():
        if line.startswith("#") or not line:
            continue
        key, _, value = line.rpartition(" ")
        name = key.partition("{")[0]
        if name in out:
            out[name] += float(value)
    return out


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Window:
    def __init__(self, d, name):
        self.d = d
        self.name = name
        self.t0 = time.time()
        self.m0 = metrics(d)
        self.cpu0 = cpu_seconds(d.proc.pid)

    def close(self):
        self.t1 = time.time()
        self.m1 = metrics(self.d)
        self.cpu1 = cpu_seconds(self.d.proc.pid)

    def rate(self, name):
        return (self.m1[name] - self.m0[name]) / (self.t1 - self.t0)

    def summary(self, frames):
        inside = [t for t in frames if self.t0 <= t < self.t1]
        seconds = self.t1 - self.t0
        per_second = [0] * int(seconds)
        for t in inside:
            i = int(t - self.t0)
            if i < len(per_second):
                per_second[i] += 1
        gaps = [b - a for a, b in zip(inside, inside[1:])]
        return {
            "window": self.name,
            "seconds": round(seconds, 2),
            "fps": round(len(inside) / seconds, 2),
            "fps_lowest_second": min(per_second) if per_second else 0,
            "longest_frame_gap_ms": round(max(gaps) * 1000) if gaps else None,
            "ingest_pps": round(self.rate("kringkast_ingest_packets_total"), 1),
            "forwarded_pps": round(
                self.rate("kringkast_packets_forwarded_total"), 1),
            "forwarded_kbps": round(
                self.rate("kringkast_bytes_forwarded_total") * 8 / 1000, 1),
            "dropped": int(self.m1["kringkast_packets_dropped_total"]
                           - self.m0["kringkast_packets_dropped_total"]),
            "relay_cpu_percent": round(
                100 * (self.cpu1 - self.cpu0) / seconds, 1),
        }


# -- the storm -----------------------------------------------------------------

class Storm:
    """One person at a time: join, open a WHEP resource, delete it."""

    def __init__(self, d, offer):
        self.d = d
        self.offer = offer.encode()
        self.local = threading.local()
        self.lock = threading.Lock()
        self.statuses = {}
        self.latency = {"join": [], "whep": [], "delete": []}
        self.errors = []

    def request(self, method, path, body=None, token=None, ctype=None):
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.d.http_port,
                                                  timeout=30)
                self.local.conn = conn
            headers = {}
            if token:
                headers["Authorization"] = "Bearer " + token
            if ctype:
                headers["Content-Type"] = ctype
            try:
                t0 = time.monotonic()
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                return r.status, data, r.getheader("Location"), \
                    time.monotonic() - t0
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def note(self, what, status, seconds):
        with self.lock:
            key = "%s %d" % (what, status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
            self.latency[what].append(seconds)

    def one(self, i, due):
        time.sleep(max(0.0, due - time.monotonic()))
        try:
            body = json.dumps({"name": "Storm %d" % i,
                               "workplace": "Benk"}).encode()
            status, data, _, s = self.request(
                "POST", "/api/rooms/%s/join" % ROOM, body,
                ctype="application/json")
            self.note("join", status, s)
            if status != 201:
                return
            token = json.loads(data)["token"]
            status, _, location, s = self.request(
                "POST", "/whep/%s" % ROOM, self.offer, token,
                "application/sdp")
            self.note("whep", status, s)
            if status != 201 or not location:
                return
            status, _, _, s = self.request("DELETE", location, token=token)
            self.note("delete", status, s)
        except Exception as e:
            with self.lock:
                self.errors.append("%s: %s" % (i, e))

    def run(self, n, window, threads):
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            for i in range(n):
                pool.submit(self.one, i, t0 + i * window / n)
        return time.monotonic() - t0


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * len(values))) - 1)]


# -- the run -------------------------------------------------------------------

def run(ctx, args, out):
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[room %s]\ntitle=Storm\nsource=%s\n" % (ROOM, args.pipeline))
    d = ctx.daemon(extra_args=["--config", conf])
    d.wait_live(ROOM, timeout=30)
    viewer_token = d.join(ROOM, "Real Viewer", "Benk")["token"]
    frames_path = os.path.join(ctx.workdir, "frames.txt")
    total = 3 + 2 * args.window + 8
    viewer = harness.Peer(ctx, "frame_viewer", [
        harness.PYTHON, os.path.join(HERE, "frame_viewer.py"),
        "--url=" + d.whep_url(ROOM), "--token=" + viewer_token,
        "--duration", str(total), "--no-audio", "--frames", frames_path])
    ctx.peers.append(viewer)
    harness.wait_until(lambda: (d.metric("kringkast_viewers") or 0) >= 1, 30,
                       "the real viewer connected")
    time.sleep(3)       # past its first keyframe and jitter buffer

    before = Window(d, "before")
    time.sleep(args.window)
    before.close()

    load = None
    load_json = os.path.join(ctx.workdir, "load.json")
    load_bin = os.path.join(os.path.dirname(os.path.dirname(d.binary)),
                            "tools", "load", "kringkast-load")
    if args.real > 0 and os.access(load_bin, os.X_OK):
        # Joins over the first half, holds a second, then all leave.
        ramp = max(1.0, args.real / (args.window / 2))
        load = harness.Peer(ctx, "kringkast-load", [
            load_bin, "-u", d.whep_url(ROOM), "-n", str(args.real),
            "-r", "%.1f" % ramp, "-d", "1", "--verify-every", "50",
            "--threads", "1", "--json", load_json, "--quiet"])
        ctx.peers.append(load)
    elif args.real > 0:
        harness.log("no %s: the storm has no connecting viewers", load_bin)

    offer = open(os.path.join(REPO, "tests", "sdp",
                              "chrome-recvonly.sdp")).read()
    storm = Storm(d, offer)
    during = Window(d, "storm")
    storm_seconds = storm.run(args.joins, args.window, args.threads)
    if load is not None:
        load.wait(args.window + 30)
    # The window is the storm's, at least as long as the one before.
    time.sleep(max(0.0, during.t0 + args.window - time.time()))
    during.close()

    res = viewer.wait(total + 30)
    check(res.ok, "the real viewer played: %s" % res.error)
    with open(frames_path) as f:
        frames = [float(line) for line in f if line.strip()]

    conns = d.api("GET", "/api/rooms/%s/connections" % ROOM).json()
    people = d.api("GET", "/api/rooms/%s/participants" % ROOM).json()
    load_report = None
    if load is not None and os.path.exists(load_json):
        with open(load_json) as f:
            load_report = json.load(f)

    out["before"] = before.summary(frames)
    out["storm"] = during.summary(frames)
    out["requests"] = {
        "people": args.joins,
        "seconds_for_all": round(storm_seconds, 2),
        "statuses": storm.statuses,
        "errors": storm.errors[:10],
        "latency_ms": {
            what: {"p50": round(1000 * (percentile(v, 50) or 0), 1),
                   "p99": round(1000 * (percentile(v, 99) or 0), 1),
                   "max": round(1000 * max(v), 1) if v else None}
            for what, v in storm.latency.items()},
    }
    out["real_viewers"] = {
        "asked": args.real if load is not None else 0,
        "connected": load_report.get("connected") if load_report else None,
        "errors": load_report.get("errors") if load_report else None,
    }
    out["attendance"] = {
        "connections_logged": len(conns),
        "connections_closed": sum(1 for c in conns if c["left_at"]),
        "people_registered": len(people),
    }
    out["daemon_exit_code"] = d.stop()


def report(out):
    b, s = out["before"], out["storm"]
    rows = [("real viewer fps", "fps"),
            ("  lowest 1-s count", "fps_lowest_second"),
            ("  longest frame gap (ms)", "longest_frame_gap_ms"),
            ("source packets/s", "ingest_pps"),
            ("forwarded packets/s", "forwarded_pps"),
            ("forwarded kbit/s", "forwarded_kbps"),
            ("packets dropped", "dropped"),
            ("relay CPU %", "relay_cpu_percent")]
    lines = ["", "%-28s %12s %12s" % ("", "before", "storm")]
    for label, key in rows:
        lines.append("%-28s %12s %12s" % (label, b[key], s[key]))
    q = out["requests"]
    lines.append("")
    lines.append("storm: %d people joined, opened and closed a WHEP resource "
                 "in %.2f s" % (q["people"], q["seconds_for_all"]))
    lines.append("  statuses: %s" % ", ".join(
        "%s x%d" % kv for kv in sorted(q["statuses"].items())))
    for what, lat in q["latency_ms"].items():
        lines.append("  %-6s latency p50 %s ms, p99 %s ms, max %s ms"
                     % (what, lat["p50"], lat["p99"], lat["max"]))
    if q["errors"]:
        lines.append("  errors: %s" % q["errors"])
    rv = out["real_viewers"]
    lines.append("  real viewers (kringkast-load): %s asked, %s connected, "
                 "errors %s" % (rv["asked"], rv["connected"], rv["errors"]))
    a = out["attendance"]
    lines.append("attendance log: %d connections (%d closed), %d people "
                 "registered" % (a["connections_logged"],
                                 a["connections_closed"],
                                 a["people_registered"]))
    sys.stdout.write("\n".join(lines) + "\n")


def main():
    args = parse_args()
    if args.build:
        os.environ["KRINGKAST_BIN"] = os.path.join(args.build, "relay",
                                                   "kringkast")
    out = {"args": vars(args)}

    def test(ctx):
        run(ctx, args, out)
        report(out)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2)

    harness.main(test, name="attendance-storm")


if __name__ == "__main__":
    main()
