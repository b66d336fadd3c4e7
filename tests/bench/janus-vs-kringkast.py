#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Kringkast and Janus side by side, under the same viewers.

One pre-encoded lecture (720p VP8 at ~1.5 Mbit/s with a 2 s GOP, and
Opus; made once with GStreamer into the build dir) is replayed at real
time as plain RTP to 127.0.0.1:5004 (video) and :5006 (audio). The server
under test receives it there: Kringkast through pipelines/rtp-in.pipeline,
Janus (Debian's package, installed here with apt-get if missing) through
one RTP mountpoint of its Streaming plugin. The servers run one at a time,
each fresh for each run, so neither shares the two cores with the other;
the replayer is the same process for both and costs both the same.

For each viewer count, kringkast-load joins the viewers (WHEP, or Janus's
HTTP API in its Janus mode), holds them, and reports the server's CPU and
memory (from /proc/PID), loss and times to first packet and keyframe.
Kringkast's viewers join once its packet history is full (see
HISTORY_WARMUP_S), so that the idle memory sample includes it.
Then a join storm (N viewers within 5 s), the 1000-viewer run (Kringkast
only), and Kringkast with 1 and with 2 worker threads.

Janus skips loopback interfaces when it gathers ICE candidates; it runs
with a small getifaddrs() shim (tests/bench/loopback-ifaddrs.c) preloaded
and ice_enforce_list = "lo", so it offers 127.0.0.1 and nothing else. All
traffic stays on loopback.

Usage (as root, for apt-get; from the source tree, after a build):
  /usr/bin/python3 tests/bench/janus-vs-kringkast.py --build /work/build-load
Options: --counts 25,50,100,200,400  --storm 300  --big 1000  --hold 15
         --only kringkast|janus  --skip-big  --skip-scaling  --out FILE
         --repeat N (then N alternating runs of both at --repeat-viewers,
         default 100)  --baseline BUILD (in those runs, also the kringkast
         of another build dir, e.g. the commit before a refactor)
It prints the tables and writes them (with the command line and the
machine's load during the runs) to tests/bench/RESULTS.md, or --out. A
section of that file headed "## Notes" (written by hand, after a run) is
kept as it is when the tables are written again.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ADMIN = "kk-bench-admin"
VIDEO_PORT, AUDIO_PORT = 5004, 5006
JANUS_HTTP = 18088
NOTES_HEADING = "## Notes"


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def free_port():
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def stop(proc, timeout=8):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def loadavg():
    """The machine's 1-minute load average: other people's work as well
    as this benchmark's own processes (server, replay, load tool)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_busy_ticks():
    """CPU ticks spent by anything on the machine, and the CPU count."""
    with open("/proc/stat") as f:
        lines = f.read().splitlines()
    fields = [int(v) for v in lines[0].split()[1:]]
    cpus = sum(1 for l in lines if l.startswith("cpu") and l[3:4].isdigit())
    # user nice system idle iowait irq softirq steal: all but idle, iowait
    return sum(fields[:8]) - fields[3] - fields[4], cpus


def proc_ticks(pid):
    """utime + stime of a process (all its threads), 0 once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def ksoftirqd_ticks():
    """The kernel's softirq threads: loopback delivery that the sender's
    own softirq processing left over is done there, and charged to no
    process of ours."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % name) as f:
                if not f.read().startswith("ksoftirqd/"):
                    continue
        except OSError:
            continue
        total += proc_ticks(int(name))
    return total


class CpuWatch:
    """Where the machine's CPU went while the load tool ran: the server,
    the load tool, the replay, the kernel's softirq threads, and
    everything else (other people's work on the same machine)."""

    def __init__(self, server_pid, replay_pid):
        self.pids = (server_pid, replay_pid)
        self.t0 = time.monotonic()
        self.busy0, self.cpus = machine_busy_ticks()
        self.server0, self.replay0 = (proc_ticks(p) for p in self.pids)
        self.ksoft0 = ksoftirqd_ticks()

    def finish(self, tool_cpu_s):
        wall = time.monotonic() - self.t0
        busy, _ = machine_busy_ticks()
        server, replay = (proc_ticks(p) for p in self.pids)

        def cores(ticks):
            return ticks / CLK_TCK / wall

        busy = cores(busy - self.busy0)
        server = cores(server - self.server0)
        replay = cores(replay - self.replay0)
        ksoft = cores(ksoftirqd_ticks() - self.ksoft0)
        tool = tool_cpu_s / wall
        return {"cpus": self.cpus, "busy": busy, "server": server,
                "tool": tool, "replay": replay, "ksoftirqd": ksoft,
                "others": max(0.0, busy - server - tool - replay - ksoft)}


def uptime():
    return subprocess.run(["uptime"], stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def kept_notes(path):
    """The hand-written notes section of an earlier RESULTS.md, if any."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    at = text.find("\n" + NOTES_HEADING)
    return text[at + 1:].rstrip("\n") if at >= 0 else None


def wait_http(url, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited (%s)" % proc.returncode)
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("timed out waiting for %s" % url)


# -- the lecture -------------------------------------------------------------

def make_lecture(workdir, seconds):
    path = os.path.join(workdir, "lecture.webm")
    if os.path.exists(path):
        return path
    log("encoding the lecture once (%d s of 720p VP8 + Opus)" % seconds)
    tmp = path + ".tmp"
    subprocess.run(
        ["gst-launch-1.0", "-q", "-e",
         "videotestsrc", "pattern=ball", "motion=wavy",
         "background-color=0xff203040", "num-buffers=%d" % (seconds * 30),
         "!", "video/x-raw,width=1280,height=720,framerate=30/1",
         "!", "timeoverlay", "halignment=right", "valignment=bottom",
         "font-desc=Sans 28",
         "!", "videoconvert",
         "!", "vp8enc", "deadline=1", "cpu-used=8", "threads=2",
         "target-bitrate=1500000", "keyframe-max-dist=60", "end-usage=cbr",
         "error-resilient=partitions",
         "!", "queue", "!", "webmmux", "name=m", "!", "filesink",
         "location=" + tmp,
         "audiotestsrc", "wave=ticks", "freq=660", "volume=0.3",
         "num-buffers=%d" % (seconds * 48000 // 1024),
         "!", "audio/x-raw,rate=48000,channels=2", "!", "audioconvert",
         "!", "opusenc", "bitrate=64000", "frame-size=20", "!", "queue",
         "!", "m."], check=True)
    os.rename(tmp, path)
    return path


def start_replay(lecture, logdir):
    """Real-time replay of the lecture as RTP: demux and packetise, no
    decoding, so the source costs little."""
    argv = ["gst-launch-1.0", "-q",
            "filesrc", "location=" + lecture, "!", "matroskademux", "name=d",
            "d.video_0", "!", "queue", "!", "rtpvp8pay", "pt=96", "mtu=1200",
            "picture-id-mode=15-bit", "!", "udpsink", "host=127.0.0.1",
            "port=%d" % VIDEO_PORT, "sync=true",
            "d.audio_0", "!", "queue", "!", "rtpopuspay", "pt=111", "!",
            "udpsink", "host=127.0.0.1", "port=%d" % AUDIO_PORT, "sync=true"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(logdir, "replay.log"),
                                        "a"))


# -- Kringkast ---------------------------------------------------------------

# The relay keeps the last 1024 packets of each track for NACKs (~1.5 KB
# each, ~3 MB in all), filled over the first ~20 s of a lecture: the
# audio's 50 packets a second take longest. The idle memory sample comes
# after that, or this per-lecture memory is charged to the viewers.
HISTORY_WARMUP_S = 21


class Kringkast:
    name = "kringkast"

    def __init__(self, build, workdir, workers=None, name=None):
        self.bin = os.path.join(build, "relay", "kringkast")
        if name:
            self.name = name
        self.workdir = workdir
        self.workers = workers
        self.proc = None

    def start(self):
        data = tempfile.mkdtemp(prefix="kk-data-", dir=self.workdir)
        conf = os.path.join(data, "bench.conf")
        with open(conf, "w") as f:
            f.write("[room bench]\ntitle=Benchmark lecture\nsource=rtp-in\n")
        self.http = free_port()
        media = free_port()
        argv = [self.bin, "--config", conf, "--http-port", str(self.http),
                "--media-port", str(media), "--public-ip", "127.0.0.1",
                "--data-dir", data]
        if self.workers:
            argv += ["--workers", str(self.workers)]
        env = dict(os.environ, KRINGKAST_ADMIN_TOKEN=ADMIN)
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.workdir, "kringkast.log"), "a"))
        wait_http("http://127.0.0.1:%d/healthz" % self.http, 15, self.proc)

    def wait_ready(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            room = json.loads(wait_http(
                "http://127.0.0.1:%d/api/rooms/bench" % self.http, 5))
            if room.get("live"):
                time.sleep(HISTORY_WARMUP_S)
                return
            time.sleep(0.3)
        raise RuntimeError("room bench never went live")

    def load_args(self):
        return ["--url", "http://127.0.0.1:%d/whep/bench" % self.http]

    def stop(self):
        stop(self.proc)


# -- Janus -------------------------------------------------------------------

JANUS_JCFG = """general: {
  configs_folder = "%(dir)s"
  plugins_folder = "%(dir)s/plugins"
  transports_folder = "%(dir)s/transports"
  events_folder = "%(dir)s/none"
  loggers_folder = "%(dir)s/none"
  debug_level = 3
  admin_secret = "janusoverlord"
  protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr", "/var"]
}
certificates: {
}
media: {
  rtp_port_range = "20000-40000"
}
nat: {
  nice_debug = false
  ice_enforce_list = "lo"
  ignore_mdns = true
}
plugins: {
}
transports: {
}
events: {
  broadcast = false
}
"""

HTTP_JCFG = """general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = %(port)d
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_base_path = "/admin"
  admin_http = false
  admin_https = false
}
cors: {
}
"""

STREAMING_JCFG = """general: {
}
lecture: {
  type = "rtp"
  id = 1
  description = "Benchmark lecture"
  media = (
    {
      type = "audio"
      mid = "a"
      label = "audio"
      port = %(audio)d
      pt = 111
      codec = "opus"
    },
    {
      type = "video"
      mid = "v"
      label = "video"
      port = %(video)d
      pt = 96
      codec = "vp8"
    }
  )
}
"""


def ensure_janus():
    if shutil.which("janus") and os.path.exists(
            "/usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_streaming.so"):
        return
    log("installing Debian's janus")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "janus"], check=True,
                   env=env)


def janus_lib_dir():
    for d in ("/usr/lib/x86_64-linux-gnu/janus", "/usr/lib/janus"):
        if os.path.isdir(d):
            return d
    raise RuntimeError("no Janus plugins directory")


class Janus:
    name = "janus"

    def __init__(self, workdir, shim):
        self.workdir = workdir
        self.shim = shim
        self.proc = None

    def start(self):
        cfg = tempfile.mkdtemp(prefix="janus-", dir=self.workdir)
        lib = janus_lib_dir()
        for sub, so in (("plugins", "libjanus_streaming.so"),
                        ("transports", "libjanus_http.so")):
            os.makedirs(os.path.join(cfg, sub))
            os.symlink(os.path.join(lib, sub, so), os.path.join(cfg, sub, so))
        os.makedirs(os.path.join(cfg, "none"))
        files = {
            "janus.jcfg": JANUS_JCFG % {"dir": cfg},
            "janus.transport.http.jcfg": HTTP_JCFG % {"port": JANUS_HTTP},
            "janus.plugin.streaming.jcfg": STREAMING_JCFG % {
                "audio": AUDIO_PORT, "video": VIDEO_PORT},
        }
        for name, text in files.items():
            with open(os.path.join(cfg, name), "w") as f:
                f.write(text)
        env = dict(os.environ, LD_PRELOAD=self.shim)
        self.proc = subprocess.Popen(
            ["janus", "-C", os.path.join(cfg, "janus.jcfg"), "-F", cfg],
            env=env, stdout=open(os.path.join(self.workdir, "janus.log"), "a"),
            stderr=subprocess.STDOUT)
        wait_http("http://127.0.0.1:%d/janus/info" % JANUS_HTTP, 20,
                  self.proc)

    def wait_ready(self):
        # The mountpoint has no "live" flag over plain HTTP; a few seconds
        # of replay give it a keyframe.
        time.sleep(3)

    def load_args(self):
        return ["--janus", "http://127.0.0.1:%d/janus" % JANUS_HTTP,
                "--janus-mountpoint", "1"]

    def stop(self):
        stop(self.proc)


def build_shim(workdir):
    out = os.path.join(workdir, "loopback-ifaddrs.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", out,
                    os.path.join(HERE, "loopback-ifaddrs.c"), "-ldl"],
                   check=True)
    return out


# -- runs --------------------------------------------------------------------

def run_one(server, load_bin, lecture, n, ramp, hold, workdir, label):
    log("%s: %d viewers at %.0f/s (%s)" % (server.name, n, ramp, label))
    server.start()
    replay = start_replay(lecture, workdir)
    try:
        server.wait_ready()
        out = os.path.join(workdir, "%s-%s-%d.json" % (server.name, label, n))
        argv = [load_bin] + server.load_args() + [
            "--viewers", str(n), "--ramp", str(ramp), "--duration", str(hold),
            "--pid", str(server.proc.pid), "--json", out, "--quiet",
            "--timeout", "20"]
        watch = CpuWatch(server.proc.pid, replay.pid)
        tool = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        timer = threading.Timer(n / ramp + hold + 120, tool.kill)
        timer.start()
        stdout = tool.stdout.read()
        # wait4 rather than Popen's wait: the tool's own CPU time comes
        # with it.
        _, status, usage = os.wait4(tool.pid, 0)
        timer.cancel()
        tool.returncode = os.waitstatus_to_exitcode(status)
        cpu = watch.finish(usage.ru_utime + usage.ru_stime)
        load = loadavg()
        sys.stderr.write(stdout)
        with open(out) as f:
            result = json.load(f)
        result["machine_loadavg_1min"] = load
        result["machine_cpu"] = cpu
        return result
    finally:
        stop(replay)
        server.stop()
        time.sleep(1)


def fmt(v, digits=2):
    if v is None:
        return "–"
    if isinstance(v, float):
        return ("%." + str(digits) + "f") % v
    return str(v)


def figures(r):
    s = r.get("server") or {}
    return {
        "connected": "%d/%d" % (r["connected"], r["viewers"]),
        "cpu": s.get("marginal_cpu_ms_per_s_per_viewer"),
        "idle": s.get("idle_cpu_ms_per_s"),
        "cpu_total": s.get("cpu_ms_per_s"),
        "kib": s.get("kib_per_viewer"),
        "threads": s.get("threads"),
        "loss": r["loss_percent"],
        "kf_med": r["first_keyframe_ms"]["median"],
        "kf_p95": r["first_keyframe_ms"]["p95"],
        "connect_p95": r["connect_ms"]["p95"],
        "dtls_rtx": r.get("dtls_retransmitted"),
        "tool": r["load_tool"]["cpu_ms_per_s_per_viewer"],
        "tool_join": r["load_tool"].get("join_cpu_ms_per_viewer"),
        "load": r.get("machine_loadavg_1min"),
        "others": (r.get("machine_cpu") or {}).get("others"),
        "ksoftirqd": (r.get("machine_cpu") or {}).get("ksoftirqd"),
    }


def ratio(a, b):
    if a is None or b in (None, 0):
        return "–"
    return "%.2f" % (a / b)


def table(results, counts):
    rows = ["| viewers | figure | Kringkast | Janus | Kringkast/Janus |",
            "|---|---|---|---|---|"]
    names = [("connected", "connected", None),
             ("cpu", "server CPU ms/s per viewer (over idle)", 3),
             ("cpu_total", "server CPU ms/s total", 0),
             ("idle", "server CPU ms/s idle (source only)", 0),
             ("kib", "server memory KiB per viewer", 0),
             ("threads", "server threads", None),
             ("loss", "loss %", 3),
             ("kf_med", "first keyframe median ms", 0),
             ("kf_p95", "first keyframe p95 ms", 0),
             ("connect_p95", "connect p95 ms", 0),
             ("dtls_rtx", "viewers whose DTLS needed a retransmission",
              None),
             ("tool", "load tool CPU ms/s per viewer", 3),
             ("tool_join", "load tool CPU ms per viewer joined", 2),
             ("load", "machine load (1-min average) after the run", 1),
             ("others", "CPU cores others used during the run", 2),
             ("ksoftirqd", "CPU cores in ksoftirqd during the run", 2)]
    for key in counts:
        k = results.get(("kringkast", key))
        j = results.get(("janus", key))
        fk = figures(k) if k else {}
        fj = figures(j) if j else {}
        for fkey, title, digits in names:
            a, b = fk.get(fkey), fj.get(fkey)
            show = (lambda v: fmt(v, digits) if digits is not None
                    else fmt(v))
            rows.append("| %s | %s | %s | %s | %s |" % (
                key, title, show(a), show(b),
                ratio(a, b) if fkey not in ("connected", "dtls_rtx", "load",
                                            "others", "ksoftirqd")
                and isinstance(a, (int, float))
                and isinstance(b, (int, float)) else "–"))
    return "\n".join(rows)


def repeat_table(repeats, viewers):
    """The alternating runs: Kringkast and Janus, and with --baseline a
    second Kringkast build (an earlier commit) between them."""
    baseline = "baseline" in repeats[0]
    order = "a Kringkast run, %sa Janus run" % (
        "a run of the baseline build, " if baseline else "")
    head = ["run", "Kringkast CPU ms/s per viewer"]
    if baseline:
        head += ["baseline CPU ms/s per viewer"]
    head += ["Janus CPU ms/s per viewer", "Kringkast/Janus"]
    if baseline:
        head += ["baseline/Janus", "Kringkast/baseline"]
    head += ["Kringkast KiB per viewer"]
    if baseline:
        head += ["baseline KiB per viewer"]
    head += ["Janus KiB per viewer", "others' CPU cores"]
    rows = ["## %d viewers again, the servers in turn" % viewers, "",
            "Each row is %s, so that they see about the same machine; the "
            "ratios are per row." % order, "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head)]
    ratios = {"Kringkast/Janus": [], "baseline/Janus": [],
              "Kringkast/baseline": []}

    def cpu_ratio(key, a, b):
        if isinstance(a, float) and a > 0 and isinstance(b, float) and b > 0:
            ratios[key].append(a / b)
        return ratio(a, b)

    for i, row in enumerate(repeats):
        k, j = figures(row["kringkast"]), figures(row["janus"])
        b = figures(row["baseline"]) if baseline else None
        cells = [str(i + 1), fmt(k["cpu"], 3)]
        if baseline:
            cells += [fmt(b["cpu"], 3)]
        cells += [fmt(j["cpu"], 3), cpu_ratio("Kringkast/Janus", k["cpu"],
                                              j["cpu"])]
        if baseline:
            cells += [cpu_ratio("baseline/Janus", b["cpu"], j["cpu"]),
                      cpu_ratio("Kringkast/baseline", k["cpu"], b["cpu"])]
        cells += [fmt(k["kib"], 0)]
        if baseline:
            cells += [fmt(b["kib"], 0)]
        cells += [fmt(j["kib"], 0), ", ".join(
            fmt(figures(row[name])["others"], 2) for name in row)]
        rows.append("| " + " | ".join(cells) + " |")
    rows.append("")
    for key, values in ratios.items():
        if values:
            values.sort()
            rows += ["Median %s CPU per viewer over %d runs: %.2f "
                     "(range %.2f–%.2f)." % (key, len(values),
                                              values[len(values) // 2],
                                              values[0], values[-1]), ""]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "..", "build-load"))
    ap.add_argument("--counts", default="25,50,100,200,400")
    ap.add_argument("--ramp", type=float, default=50)
    ap.add_argument("--storm", type=int, default=300)
    ap.add_argument("--big", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=15)
    ap.add_argument("--only", choices=("kringkast", "janus"))
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-storm", action="store_true")
    ap.add_argument("--repeat", type=int, default=0,
                    help="then this many alternating runs of both servers "
                    "at --repeat-viewers, so that one noisy run does not "
                    "decide a ratio")
    ap.add_argument("--repeat-viewers", type=int, default=100)
    ap.add_argument("--baseline", default=None,
                    help="another build dir (an earlier commit): in the "
                    "--repeat runs its kringkast runs between this build's "
                    "and Janus, to compare two commits on one machine")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    load_bin = os.path.join(build, "tools", "load", "kringkast-load")
    for b in (load_bin, os.path.join(build, "relay", "kringkast")):
        if not os.access(b, os.X_OK):
            sys.exit("missing %s: build first (meson setup %s "
                     "--buildtype=release && ninja -C %s)" % (b, build, build))
    workdir = os.path.join(build, "bench")
    os.makedirs(workdir, exist_ok=True)
    lecture = make_lecture(workdir, 90)

    servers = []
    if args.only != "janus":
        servers.append(Kringkast(build, workdir))
    if args.only != "kringkast":
        ensure_janus()
        servers.append(Janus(workdir, build_shim(workdir)))

    counts = [int(c) for c in args.counts.split(",") if c]
    notes = kept_notes(args.out)
    uptime_start = uptime()
    results = {}
    keys = []
    for n in counts:
        keys.append(str(n))
        for s in servers:
            results[(s.name, str(n))] = run_one(
                s, load_bin, lecture, n, args.ramp, args.hold, workdir,
                "ramp")
    if not args.skip_storm:
        key = "storm %d in 5 s" % args.storm
        keys.append(key)
        for s in servers:
            results[(s.name, key)] = run_one(
                s, load_bin, lecture, args.storm, args.storm / 5.0,
                args.hold, workdir, "storm")
    repeats = []
    if len(servers) == 2:
        in_turn = list(servers)
        if args.baseline:
            in_turn.insert(1, Kringkast(os.path.abspath(args.baseline),
                                        workdir, name="baseline"))
        for i in range(args.repeat):
            row = {}
            for s in in_turn:
                row[s.name] = run_one(
                    s, load_bin, lecture, args.repeat_viewers, args.ramp,
                    args.hold, workdir, "repeat%d" % (i + 1))
            repeats.append(row)
    extra = []
    if not args.skip_big and args.only != "janus":
        for workers in ((1, 2) if not args.skip_scaling else (None,)):
            k = Kringkast(build, workdir, workers)
            r = run_one(k, load_bin, lecture, args.big, args.ramp, args.hold,
                        workdir, "big-w%s" % workers)
            extra.append((workers, r))

    uptime_end = uptime()
    text = ["# Kringkast vs Janus: benchmark results", "",
            "Made by `tests/bench/janus-vs-kringkast.py` on this project's "
            "2-core machine; reproduce with:", "",
            "```sh",
            "meson setup %s --buildtype=release -Dtests=true "
            "&& ninja -C %s" % (build, build),
            "/usr/bin/python3 tests/bench/janus-vs-kringkast.py "
            + " ".join(sys.argv[1:]),
            "```", "",
            "The machine's load (`uptime`) when the runs began: `%s`; when "
            "they ended: `%s`. The load average counts other people's work "
            "on the same two cores as well as this benchmark's own server "
            "(Janus: a thread per viewer), replay and load tool, and the "
            "1-minute figure after each run still carries the run before "
            "it. Each run also measures, from /proc, how many CPU cores "
            "everything else on the machine used while it ran (busy time "
            "less the server, the tool, the replay and ksoftirqd), and "
            "ksoftirqd's share: loopback delivery that the senders' own "
            "softirq processing left over." % (uptime_start, uptime_end),
            "",
            "Lecture: 720p VP8 ~1.5 Mbit/s, 2 s GOP, Opus 64 kbit/s, "
            "replayed as RTP in real time to the server under test (one "
            "server at a time). Viewers join at %.0f/s (the storm: within "
            "5 s) and are held %.0f s; CPU is the server's during the hold, "
            "memory is the server's RSS growth over its idle RSS, both per "
            "viewer connected (Kringkast's idle sample is taken %d s after "
            "its source went live, once its per-track packet history for "
            "NACKs is full); CPU per viewer is (total - idle) / viewers, "
            "idle being the server's CPU receiving the source before the "
            "first join. Loss is by RTP sequence numbers after NACK "
            "recovery. Janus: Debian's package, Streaming plugin, one RTP "
            "mountpoint." % (args.ramp, args.hold, HISTORY_WARMUP_S), "",
            table(results, keys), ""]
    if extra:
        text += ["## %d viewers, Kringkast, by worker threads" % args.big, "",
                 "| workers | connected | server CPU ms/s | per viewer | "
                 "KiB per viewer | threads | loss % | keyframe median ms | "
                 "keyframe p95 ms | connect p95 ms | "
                 "load tool ms/s per viewer | machine load | "
                 "others' CPU cores | ksoftirqd cores |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for workers, r in extra:
            f = figures(r)
            text.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                        "| %s | %s | %s | %s |" % (
                            workers or "default", f["connected"],
                            fmt(f["cpu_total"], 0), fmt(f["cpu"], 3),
                            fmt(f["kib"], 1), fmt(f["threads"]),
                            fmt(f["loss"], 3), fmt(f["kf_med"], 0),
                            fmt(f["kf_p95"], 0), fmt(f["connect_p95"], 0),
                            fmt(f["tool"], 3), fmt(f["load"], 1),
                            fmt(f["others"], 2), fmt(f["ksoftirqd"], 2)))
        text.append("")
    if repeats:
        text += repeat_table(repeats, args.repeat_viewers)
    failures = [(k, r["errors"]) for k, r in sorted(results.items())
                if r.get("errors")]
    failures += [(("kringkast", "%d, %s workers" % (args.big, w)),
                  r["errors"]) for w, r in extra if r.get("errors")]
    if failures:
        text += ["Viewers that failed, and why:", ""]
        text += ["- %s, %s: %s" % (k[0], k[1], ", ".join(
            "%d × %s" % (n, why) for why, n in errors.items()))
            for k, errors in failures]
        text.append("")
    if notes:
        text += [notes, ""]
    output = "\n".join(text)
    print(output)
    with open(args.out, "w") as f:
        f.write(output)
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump({"%s/%s" % k: v for k, v in results.items()}, f, indent=1)
    log("wrote %s" % args.out)


if __name__ == "__main__":
    main()
