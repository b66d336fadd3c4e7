# SPDX-License-Identifier: Apache-2.0
"""Keeps the CPU busy while a test runs: a relay serving a lecture is a
busy machine, and what it records must not depend on that.

CpuLoad(n) starts n busy-loop processes (Debian's python3 spinning, at
normal priority, so they compete with the daemon and the peers for
every core) and stops them, by PID, when the with-block ends however it
ends. With n = 0 it does nothing, so callers can make load optional.
"""

import os
import signal
import subprocess

import harness

SPIN = "while True: pass"


def cores():
    return len(os.sched_getaffinity(0))


class CpuLoad:
    def __init__(self, n):
        self.n = n
        self.procs = []

    def __enter__(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen(
                [harness.PYTHON, "-c", SPIN], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if self.procs:
            harness.log("load: %d busy loops (pids %s) on %d cores",
                        self.n, " ".join(str(p.pid) for p in self.procs),
                        cores())
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        self.procs = []
        return False
