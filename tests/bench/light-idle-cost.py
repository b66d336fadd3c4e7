#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What a room's running light layer costs the viewers not on it (issue 13).

The light layer's packets go only to the worker threads that have a viewer
needing them; the others never see them. This measures that a room whose
light layer runs, with nobody on it, costs its viewers no more than one
without: the same lecture and viewers as tests/bench/janus-vs-kringkast.py
(720p VP8 at ~1.5 Mbit/s replayed as RTP into the room "bench" through
pipelines/rtp-in.pipeline, kringkast-load's viewers on loopback), in two
modes, alternating, each run with a fresh daemon:

  off    the viewers only; no light layer.
  light  the same, plus one helper viewer (tests/peers/whep_aiortc.py) that
         asks for "save data" for 2 s every 14 s (a PATCH of its resource,
         which every build understands) and for "sound only" in between:
         the light layer starts and keeps running (it lingers 20 s after
         its last user), while nobody is on it 6/7 of the time. The helper
         joins first and gets its picture before the viewers come.

Figures per run: the forwarding threads' CPU (kk-worker-*, kk-port, from
/proc/PID/task) per viewer over the hold, which leaves out what the light
layer itself costs once per room (its decoder and encoder threads:
tests/bench/bench-light-layer measures that); the load tool's server CPU
per viewer over idle (idle includes the light layer in mode "light", so it
carries that layer's encoder noise); and the light packets the workers were
handed (kringkast_light_packets_posted_total, this branch only). With
--baseline BUILD, the "light" mode also runs on that build (the commit
before the change, where every light packet went to every worker).

Usage (from the source tree, after a build):
  /usr/bin/python3 tests/bench/light-idle-cost.py --build build-rel \
      [--baseline build-base] [--repeat 3] [--viewers 100] [--hold 15]
It reports, it does not assert.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HELPER = os.path.join(REPO, "tests", "peers", "whep_aiortc.py")

# The room, replay and load tool of the main benchmark, used as they are.
_spec = importlib.util.spec_from_file_location(
    "jvk", os.path.join(HERE, "janus-vs-kringkast.py"))
jvk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jvk)
log = jvk.log

FORWARDING_THREADS = ("kk-worker-", "kk-port")
# The helper's cycle: save data for SAVE_S, then sound only, every CYCLE_S.
SAVE_S, CYCLE_S = 2, 14


def forwarding_ticks(pid):
    """utime + stime of the daemon's forwarding threads."""
    total = 0
    task_dir = "/proc/%d/task" % pid
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "comm")) as f:
                name = f.read().strip()
            if not name.startswith(FORWARDING_THREADS):
                continue
            with open(os.path.join(task_dir, tid, "stat")) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total


def api(server, method, path, body=None):
    request = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (server.http, path), method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + jvk.ADMIN})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read().decode()


def metric(server, name):
    total = None
    for line in api(server, "GET", "/metrics").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def start_helper(server, seconds, workdir):
    """The helper viewer, on save data now and then (see the top)."""
    token = json.loads(api(server, "POST", "/api/rooms/bench/join",
                           {"name": "Helper", "workplace": "Bench"}))["token"]
    schedule = []
    for start in range(0, int(seconds), CYCLE_S):
        schedule += ["--quality", "%d:save-data" % start,
                     "--quality", "%d:sound-only" % (start + SAVE_S)]
    return subprocess.Popen(
        [sys.executable, HELPER, "--url",
         "http://127.0.0.1:%d/whep/bench" % server.http, "--token", token,
         "--duration", str(seconds), "--timeout", str(seconds + 30),
         "--min-video-frames", "0"] + schedule,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, "helper.log"), "a"))


def run(server, load_bin, lecture, mode, viewers, ramp, hold, workdir):
    log("%s, %s: %d viewers" % (server.name, mode, viewers))
    server.start()
    replay = jvk.start_replay(lecture, workdir)
    helper = None
    try:
        server.wait_ready()
        ramp_s = viewers / ramp
        if mode == "light":
            helper = start_helper(server, ramp_s + hold + 30, workdir)
            time.sleep(6)       # its first save-data moment has passed
        out = os.path.join(workdir, "%s-%s.json" % (server.name, mode))
        argv = [load_bin] + server.load_args() + [
            "--viewers", str(viewers), "--ramp", str(ramp),
            "--duration", str(hold), "--pid", str(server.proc.pid),
            "--json", out, "--quiet", "--timeout", "20"]
        tool = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        # The window: from every viewer connected to the hold's end.
        time.sleep(ramp_s + 3)
        t0, ticks0 = time.monotonic(), forwarding_ticks(server.proc.pid)
        time.sleep(max(1.0, hold - 4))
        wall = time.monotonic() - t0
        ticks = forwarding_ticks(server.proc.pid) - ticks0
        posted = metric(server, "kringkast_light_packets_posted_total")
        tool.wait(ramp_s + hold + 120)
        with open(out) as f:
            report = json.load(f)
        connected = report.get("connected", viewers)
        return {
            "forwarding_ms_per_s_per_viewer":
                1000.0 * ticks / jvk.CLK_TCK / wall / max(1, connected),
            "server_cpu_ms_per_s_per_viewer":
                (report.get("server") or {}).get(
                    "marginal_cpu_ms_per_s_per_viewer"),
            "idle_cpu_ms_per_s": (report.get("server") or {}).get(
                "idle_cpu_ms_per_s"),
            "connected": connected,
            "light_packets_posted": posted,
            "loadavg": jvk.loadavg(),
        }
    finally:
        if helper is not None:
            jvk.stop(helper)
        jvk.stop(replay)
        server.stop()
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--ramp", type=float, default=50)
    ap.add_argument("--hold", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    load_bin = os.path.join(build, "tools", "load", "kringkast-load")
    workdir = os.path.join(build, "bench")
    os.makedirs(workdir, exist_ok=True)
    lecture = jvk.make_lecture(workdir, 90)
    runs = [("this", jvk.Kringkast(build, workdir, args.workers), "off"),
            ("this", jvk.Kringkast(build, workdir, args.workers), "light")]
    if args.baseline:
        runs.append(("baseline", jvk.Kringkast(
            os.path.abspath(args.baseline), workdir, args.workers,
            name="baseline"), "light"))
    rows = []
    for i in range(args.repeat):
        for label, server, mode in runs:
            r = run(server, load_bin, lecture, mode, args.viewers, args.ramp,
                    args.hold, workdir)
            r.update(run=i + 1, build=label, mode=mode)
            log(json.dumps(r))
            rows.append(r)

    print("| run | build | mode | forwarding threads CPU ms/s per viewer "
          "| server CPU ms/s per viewer over idle | idle CPU ms/s "
          "| viewers | light packets posted | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %d | %s | %s | %.3f | %s | %s | %d | %s | %.1f |" % (
            r["run"], r["build"], r["mode"],
            r["forwarding_ms_per_s_per_viewer"],
            jvk.fmt(r["server_cpu_ms_per_s_per_viewer"], 3),
            jvk.fmt(r["idle_cpu_ms_per_s"], 0), r["connected"],
            "-" if r["light_packets_posted"] is None
            else "%d" % r["light_packets_posted"], r["loadavg"]))
    print()
    for label, _, mode in runs:
        values = [r["forwarding_ms_per_s_per_viewer"] for r in rows
                  if r["build"] == label and r["mode"] == mode]
        print("median forwarding CPU per viewer, %s/%s: %.3f ms/s (%.3f-%.3f)"
              % (label, mode, statistics.median(values), min(values),
                 max(values)))


if __name__ == "__main__":
    main()
