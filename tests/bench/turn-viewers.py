#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What a viewer costs the relay and coturn on each path: UDP, TURN over
UDP, TURN over TLS and HTTPS segments, on the same lecture in one run.

The lab of tests/integration/turnlab.py (namespaces, coturn configured
from deploy/turnserver.conf, here listening on UDP 3478 and TLS 443),
the real daemon in the relay's namespace with a live 720p lecture (VP8
~1.5 Mbit/s with a keyframe a second, Opus 64 kbit/s: the encoder of
https-viewers.py, run in the relay's namespace and sent as RTP to
pipelines/rtp-in.pipeline). The relay's and coturn's CPU (from
/proc/PID/stat) are measured over --seconds in each state, one after the
other:

  idle       the lecture only;
  udp        --viewers viewers from the open network, straight to the
             media port over UDP;
  turn-udp   --viewers viewers in the workplace namespace (no route to
             the media address), through coturn over UDP;
  turn-tls   the same through coturn over TLS on 443;
  https      one HTTPS segment reader, then --viewers of them (the
             readers of https-viewers.py).

The WebRTC viewers are many_viewers.py (aiortc, no decoding), one process
per state; /metrics must count them under the path measured
(kringkast_viewers{transport}), or the run fails. A WebRTC viewer's cost
is (state - idle) / N; an HTTPS viewer's (N readers - 1 reader) / (N - 1),
the segmenter's (1 reader - idle), as in https-viewers.py. It measures;
it does not assert figures.

Usage (from the source tree, after a build; as root, for the namespaces):
  tests/integration/netns-run /usr/bin/python3 tests/bench/turn-viewers.py \\
      --build build-dev --viewers 10
"""

import importlib.util
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
import turnlab  # noqa: E402

ROOM = "lecture"


def load_https_viewers():
    spec = importlib.util.spec_from_file_location(
        "https_viewers", os.path.join(HERE, "https-viewers.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


https_viewers = load_https_viewers()


class Sampler:
    """CPU ms/s of the relay and coturn over one interval."""

    def __init__(self, pids):
        self.pids = pids

    def measure(self, seconds):
        c0 = [https_viewers.cpu_ms(p) for p in self.pids]
        t0 = time.monotonic()
        time.sleep(seconds)
        dt = time.monotonic() - t0
        return [(https_viewers.cpu_ms(p) - c) / dt
                for p, c in zip(self.pids, c0)]


def webrtc_state(ctx, d, lab, sampler, tokens, args, state):
    """Starts the viewers of @state, measures, stops them; returns the
    [relay, coturn] CPU ms/s and the viewers' packet counts."""
    tokens_file = os.path.join(ctx.workdir, "tokens-%s.json" % state)
    with open(tokens_file, "w") as f:
        json.dump(tokens, f)
    if state == "udp":
        node, host, local_ip, extra = (lab.lab.here, turnlab.RELAY_FOR_TEST,
                                       "10.30.3.2", [])
    else:
        node, host, local_ip = lab.viewer, turnlab.RELAY_FOR_VIEWER, turnlab.VIEWER
        extra = ["--ice-servers", "http://%s:%d/api/rooms/%s/ice-servers"
                 % (host, d.http_port, ROOM),
                 "--scheme", "turns:" if state == "turn-tls" else "turn:"]
    argv = [harness.PYTHON, os.path.join(HERE, "many_viewers.py"),
            "--url=http://%s:%d/whep/%s" % (host, d.http_port, ROOM),
            "--tokens", tokens_file, "--local-ip", local_ip] + extra
    log = open(os.path.join(ctx.workdir, "viewers-%s.log" % state), "wb")
    peer = node.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=log, env=dict(os.environ, SSL_CERT_FILE=lab.cert))
    log.close()
    try:
        line = peer.stdout.readline()
        if not line:
            raise harness.TestFailure("%s viewers exited (see %s)"
                                      % (state, log.name))
        connected = json.loads(line)["connected"]
        transport = "udp" if state == "udp" else "turn"
        counted = d.metric("kringkast_viewers", {"transport": transport})
        harness.check_eq(connected, len(tokens), "%s viewers connected" % state)
        harness.check_eq(counted, float(len(tokens)),
                         "/metrics viewers on %s" % transport)
        time.sleep(3)           # past the fast start of the last one
        cpu = sampler.measure(args.seconds)
        peer.stdin.close()
        result = json.loads(peer.stdout.readline())
    finally:
        if peer.poll() is None:
            try:
                peer.wait(20)
            except subprocess.TimeoutExpired:
                peer.kill()
                peer.wait()
    time.sleep(2)               # the viewers' resources are gone
    return cpu, result["packets"]


def https_state(d, sampler, tokens, seconds):
    return https_viewers.with_readers(d, tokens, seconds,
                                      host=turnlab.RELAY_FOR_TEST,
                                      sample=sampler.measure)


def main():
    args = https_viewers.parse_args(10)

    def bench(ctx):
        ok, why = turnlab.usable()
        if not ok:
            raise harness.TestSkip(why)
        lab = turnlab.TurnLab(ctx.workdir)
        encoder = None
        try:
            lab.start_turnserver(tls_only=False)
            encoder = lab.relay.popen(https_viewers.ENCODER,
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            run_bench(ctx, lab)
        finally:
            if encoder is not None:
                encoder.terminate()
                encoder.wait()
            for d in ctx.daemons:
                d.stop()
            lab.close()

    def run_bench(ctx, lab):
        conf = turnlab.relay_config(
            ctx.workdir, "[room %s]\ntitle=Bench\nsource=rtp-in\n" % ROOM)
        d = ctx.daemon(extra_args=["--config", conf],
                       public_ip=turnlab.RELAY_MEDIA, netns=lab.relay,
                       http_host=turnlab.RELAY_FOR_TEST)
        d.wait_live(ROOM)
        n = args.viewers
        tokens = [d.join(ROOM, "Viewer %d" % i, "Bench")["token"]
                  for i in range(4 * n)]
        sampler = Sampler([d.proc.pid, lab.turnserver.pid])
        time.sleep(3)
        out = {"idle": sampler.measure(args.seconds), "packets": {}}
        for i, state in enumerate(("udp", "turn-udp", "turn-tls")):
            out[state], packets = webrtc_state(
                ctx, d, lab, sampler, tokens[i * n:(i + 1) * n], args, state)
            out["packets"][state] = min(packets)
        out["https-1"], _ = https_state(d, sampler, tokens[3 * n:3 * n + 1],
                                        args.seconds)
        out["https"], readers = https_state(d, sampler, tokens[3 * n:],
                                            args.seconds)
        out["https-errors"] = sum(r.errors for r in readers)
        out["https-mbit"] = (sum(r.bytes for r in readers) * 8 / 1e6
                             / len(readers) / (args.seconds + 4))
        with open("/proc/loadavg") as f:
            out["load"] = f.read().split()[:3]
        d.stop()
        report(out, args)

    harness.main(bench)


def report(out, args):
    n = args.viewers
    idle_relay, idle_turn = out["idle"]
    print("| state | relay CPU ms/s | coturn CPU ms/s | relay ms/s per viewer "
          "| coturn ms/s per viewer | least packets a viewer got |")
    print("|---|---|---|---|---|---|")
    print("| idle (lecture only) | %.1f | %.1f | | | |" % (idle_relay, idle_turn))
    for state in ("udp", "turn-udp", "turn-tls"):
        relay, turn = out[state]
        print("| %d viewers, %s | %.1f | %.1f | %.3f | %.3f | %d |"
              % (n, state, relay, turn, (relay - idle_relay) / n,
                 (turn - idle_turn) / n, out["packets"][state]))
    one, many = out["https-1"], out["https"]
    print("| 1 HTTPS viewer | %.1f | %.1f | segmenter %.2f | | |"
          % (one[0], one[1], one[0] - idle_relay))
    print("| %d HTTPS viewers | %.1f | %.1f | %.3f | %.3f | |"
          % (n, many[0], many[1], (many[0] - one[0]) / max(1, n - 1),
             (many[1] - one[1]) / max(1, n - 1)))
    print("\nHTTPS: %.2f Mbit/s read per viewer, %d request errors; "
          "load average at the end %s" % (out["https-mbit"],
                                          out["https-errors"],
                                          " ".join(out["load"])), flush=True)


if __name__ == "__main__":
    main()
