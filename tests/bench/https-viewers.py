#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What a viewer over HTTPS segments costs the relay, beside the UDP figure.

Against the real daemon with a live 720p lecture (VP8 ~1.5 Mbit/s with a
keyframe a second, and Opus 64 kbit/s),
encoded by a gst-launch-1.0 process of its own and sent as RTP to the
daemon's pipelines/rtp-in.pipeline, so that the relay's CPU is the
relay's, not an encoder's. The relay's CPU (from /proc/PID/stat) is
measured over --seconds in three states:

  idle       the lecture only: no segments are made;
  1 viewer   one HTTPS viewer: the segmenter (depayload, mux, cut) plus
             one reader;
  N viewers  --viewers readers, each on its own kept-alive connection,
             reading the playlist every 0.5 s and every new segment once,
             as the nurse's page does.

The segmenter's cost is "1 viewer" less "idle"; a viewer's is
("N viewers" less "1 viewer") / (N - 1). The WebRTC (UDP) figure to set
beside it is in RESULTS.md (server CPU ms/s per viewer over idle). It
measures; it does not assert.

Usage (from the source tree, after a release build):
  tests/integration/netns-run /usr/bin/python3 tests/bench/https-viewers.py \\
      --build build-release --viewers 25
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
from common import pipeline_daemon  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


ENCODER = [
    "gst-launch-1.0", "-q",
    "videotestsrc", "is-live=true", "pattern=ball", "motion=wavy",
    "!", "video/x-raw,width=1280,height=720,framerate=30/1",
    "!", "vp8enc", "deadline=1", "cpu-used=16", "threads=2",
    "target-bitrate=1500000", "keyframe-max-dist=30", "end-usage=cbr",
    "!", "rtpvp8pay", "pt=96", "mtu=1200", "picture-id-mode=15-bit",
    "!", "udpsink", "host=127.0.0.1", "port=5004",
    "audiotestsrc", "is-live=true", "wave=ticks",
    "!", "audio/x-raw,rate=48000,channels=2",
    "!", "opusenc", "bitrate=64000", "frame-size=20",
    "!", "rtpopuspay", "pt=111", "!", "udpsink", "host=127.0.0.1",
    "port=5006"]


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICK


class Reader(threading.Thread):
    """One HTTPS viewer: the playlist every 0.5 s, each new segment once."""

    def __init__(self, port, token, stop, host="127.0.0.1"):
        super().__init__(daemon=True)
        self.host, self.port, self.token, self.stop = host, port, token, stop
        self.segments = self.bytes = self.errors = 0
        self.seen = set()

    def get(self, conn, path):
        conn.request("GET", path, headers={
            "Authorization": "Bearer " + self.token})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            self.errors += 1
        return body

    def run(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        init = None
        while not self.stop.is_set():
            try:
                pl = json.loads(self.get(conn, "/api/rooms/lecture/segments"))
                if pl["init"] and init is None:
                    init = self.get(conn, pl["init"])
                for seg in pl["segments"]:
                    if seg["seq"] in self.seen:
                        continue
                    if not self.seen and seg is not pl["segments"][-1]:
                        continue        # start with the newest, like the page
                    self.bytes += len(self.get(conn, seg["url"]))
                    self.seen.add(seg["seq"])
                    self.segments += 1
            except (OSError, http.client.HTTPException, ValueError):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port,
                                                  timeout=10)
            self.stop.wait(0.5)


def measure(d, seconds):
    pid = d.proc.pid
    c0, t0 = cpu_ms(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_ms(pid) - c0) / (time.monotonic() - t0)


def with_readers(d, tokens, seconds, host="127.0.0.1", sample=None):
    """Readers of @tokens at the daemon's HTTP port on @host; returns what
    sample(seconds) measured while they read (by default the daemon's
    CPU ms/s) and the readers."""
    stop = threading.Event()
    readers = [Reader(d.http_port, t, stop, host) for t in tokens]
    for r in readers:
        r.start()
    time.sleep(4)               # the segmenter starts, every reader has begun
    ms = sample(seconds) if sample else measure(d, seconds)
    stop.set()
    for r in readers:
        r.join()
    return ms, readers


def parse_args(viewers):
    """--build, --viewers (default @viewers), --seconds; the build's
    daemon is the one the harness starts."""
    p = argparse.ArgumentParser()
    p.add_argument("--build", help="build dir holding relay/kringkast")
    p.add_argument("--viewers", type=int, default=viewers)
    p.add_argument("--seconds", type=float, default=15)
    args = p.parse_args()
    if args.build:
        os.environ["KRINGKAST_BIN"] = os.path.join(
            os.path.abspath(args.build), "relay", "kringkast")
    return args


def main():
    args = parse_args(25)
    out = {}

    def bench(ctx):
        encoder = subprocess.Popen(ENCODER, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            run_bench(ctx)
        finally:
            encoder.terminate()
            encoder.wait()

    def run_bench(ctx):
        d = pipeline_daemon(ctx, source="rtp-in")
        tokens = [d.join("lecture", "Viewer %d" % i, "Bench")["token"]
                  for i in range(args.viewers)]
        time.sleep(3)
        out["idle"] = measure(d, args.seconds)
        out["one"], _ = with_readers(d, tokens[:1], args.seconds)
        out["many"], readers = with_readers(d, tokens, args.seconds)
        out["segments"] = sum(r.segments for r in readers) / len(readers)
        out["mbit"] = sum(r.bytes for r in readers) * 8 / 1e6 / len(readers)
        out["errors"] = sum(r.errors for r in readers)
        with open("/proc/%d/status" % d.proc.pid) as f:
            out["threads"] = next(int(line.split()[1]) for line in f
                                  if line.startswith("Threads"))
        d.stop()
        report(out, args)

    harness.main(bench, needs_peers=False)


def report(out, args):
    n = args.viewers
    print("| figure | value |")
    print("|---|---|")
    print("| server CPU ms/s idle (lecture only) | %.1f |" % out["idle"])
    print("| server CPU ms/s, 1 HTTPS viewer | %.1f |" % out["one"])
    print("| server CPU ms/s, %d HTTPS viewers | %.1f |" % (n, out["many"]))
    print("| segmenter ms/s (1 viewer over idle) | %.2f |"
          % (out["one"] - out["idle"]))
    print("| server CPU ms/s per HTTPS viewer (over 1 viewer) | %.3f |"
          % ((out["many"] - out["one"]) / max(1, n - 1)))
    print("| segments read per viewer in %.0f s | %.1f |"
          % (args.seconds + 4, out["segments"]))
    print("| Mbit read per viewer | %.1f |" % out["mbit"])
    print("| request errors | %d |" % out["errors"])
    print("| server threads | %d |" % out["threads"], flush=True)


if __name__ == "__main__":
    main()
