#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Audio/video sync of a long recording: what the issue's "drift under
100 ms over an hour" is measured with.

The real daemon records one room while a WHIP host (tests/peers/
whip_gst.py --markers: webrtcbin, VP8 or H.264 and Opus) publishes for
--minutes: a black picture and silence that flash white and beep at the
same running time, at irregular known times about once a second
(tests/peers/avmarkers.py). Then the recording is downloaded and decoded
in full, and for every marker found in both tracks it takes audio time
minus video time, and subtracts what the publisher itself measured
before its encoders (0 but for frames its leaky queue dropped), leaving
what the relay added.

It prints the offset at the start and at the end, the largest, the
spread, the drift (a least-squares line through the offsets, over the
whole span), where each track starts in the file, and one line per
--window minutes. It measures; it does not assert, and exits non-zero
only if the run itself failed. Not part of CI.

--load N runs N busy loops (tests/integration/cpuload.py) beside the
daemon and the publisher for the whole run: the loaded variant, since a
relay serving a lecture is a busy machine and the publisher's encoders
fall behind on one.

Usage (from the source tree, after a build; the network namespace keeps
everything on a loopback of its own):
  tests/integration/netns-run /usr/bin/python3 \\
      tests/bench/recording-av-sync.py --build /work/build-x --minutes 60
Options: --codec vp8|h264 --width 320 --height 240 --window 5 --load N
--json FILE
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import cpuload  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402
import recording_media as rm  # noqa: E402

ROOM = "av-sync"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", help="build directory (default: newest build*)")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--codec", choices=("vp8", "h264"), default="vp8")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--window", type=float, default=5.0,
                   help="minutes per line of the report")
    p.add_argument("--load", type=int, default=0,
                   help="busy-loop processes to run beside it (0: none)")
    p.add_argument("--json", help="also write the numbers here")
    return p.parse_args()


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(ctx, args, out):
    seconds = int(args.minutes * 60)
    d = ctx.daemon()
    token = d.create_room(ROOM, title="A/V sync", record=True)["host_token"]
    out["load_start"] = load()
    harness.log("publishing %s %dx%d for %d s (load %s)", args.codec,
                args.width, args.height, seconds, out["load_start"])
    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", token, "--duration", seconds,
                         "--codec", args.codec, "--markers",
                         "--fps", rm.MARKER_FPS, "--width", args.width,
                         "--height", args.height)
    d.wait_live(ROOM, timeout=30)
    result = pub.wait(seconds + 120)
    check(result.ok, "publisher: %s" % result.error)
    out["load_end"] = load()

    sid, rec = rm.wait_recording(d, ROOM, timeout=120)
    check(rec["state"] == "finished", "recording %s" % rec)
    path = os.path.join(ctx.workdir, "av-sync." + (
        "webm" if args.codec == "vp8" else "mp4"))
    check(rm.download(d, rec["url"], path).status == 200, "GET recording")
    out["recording"] = {k: rec[k] for k in ("duration_seconds", "size_bytes",
                                             "content_type")}
    t0 = time.monotonic()
    s = rm.sync(path, seconds, result["source_offsets_ms"])
    out["decode_s"] = round(time.monotonic() - t0, 1)
    source = list(result["source_offsets_ms"].values())
    out["publisher_own_ms"] = {"median": statistics.median(source),
                               "min": min(source), "max": max(source)}
    ms = [round(a * 1000, 1) for a in s["added"]]
    out["markers"] = len(ms)
    out["span_s"] = round(s["span"], 1)
    out["file_offset_ms"] = {"min": round(min(s["offsets"]) * 1000, 1),
                             "max": round(max(s["offsets"]) * 1000, 1)}
    out["starts_ms"] = {k: round(v * 1000, 1) for k, v in s["starts"].items()}
    out["added_ms"] = {"first": ms[0], "last": ms[-1],
                       "worst": round(s["worst"] * 1000, 1),
                       "spread": round(s["spread"] * 1000, 1),
                       "drift": round(s["drift"] * 1000, 1)}
    windows = []
    step = args.window * 60
    times = s["added_times"]
    start = 0.0
    while start < times[-1]:
        inside = [m for t, m in zip(times, ms) if start <= t < start + step]
        if inside:
            windows.append({"from_min": round(start / 60, 1),
                            "markers": len(inside),
                            "mean_ms": round(statistics.mean(inside), 1),
                            "min_ms": min(inside), "max_ms": max(inside)})
        start += step
    out["windows"] = windows
    check(d.stop() == 0, "daemon exit status")


def report(out):
    a = out["added_ms"]
    lines = [
        "recording: %s s, %s bytes, %s" % (
            out["recording"]["duration_seconds"],
            out["recording"]["size_bytes"],
            out["recording"]["content_type"]),
        "load: %d busy loops; load average %s at the start, %s at the end"
        % (out["args"]["load"], out["load_start"], out["load_end"]),
        "markers: %d over %.0f s (decoded in %.0f s)" % (
            out["markers"], out["span_s"], out["decode_s"]),
        "publisher's own offsets: median %.1f ms (%.1f..%.1f)" % (
            out["publisher_own_ms"]["median"], out["publisher_own_ms"]["min"],
            out["publisher_own_ms"]["max"]),
        "audio minus video in the file: %+.1f..%+.1f ms" % (
            out["file_offset_ms"]["min"], out["file_offset_ms"]["max"]),
        "tracks start at: video %.1f ms, audio %.1f ms" % (
            out["starts_ms"].get("video", -1),
            out["starts_ms"].get("audio", -1)),
        "added by the relay: start %+.1f ms, end %+.1f ms, worst %+.1f ms, "
        "spread %.1f ms, drift %+.1f ms" % (a["first"], a["last"], a["worst"],
                                            a["spread"], a["drift"]),
    ]
    for w in out["windows"]:
        lines.append("  from %5.1f min: %3d markers, mean %+.1f ms "
                     "(%+.1f..%+.1f)" % (w["from_min"], w["markers"],
                                         w["mean_ms"], w["min_ms"],
                                         w["max_ms"]))
    sys.stdout.write("\n".join(lines) + "\n")


def main():
    args = parse_args()
    if args.build:
        os.environ["KRINGKAST_BIN"] = os.path.join(args.build, "relay",
                                                   "kringkast")
    out = {"args": vars(args)}

    def test(ctx):
        with cpuload.CpuLoad(args.load):
            run(ctx, args, out)
        report(out)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2)

    harness.main(test, name="recording-av-sync")


if __name__ == "__main__":
    main()
