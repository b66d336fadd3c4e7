# SPDX-License-Identifier: Apache-2.0
"""Harness for kringkast's integration tests.

An integration test is a plain Python script, run by meson with
protocol 'exitcode': it starts the real daemon on free loopback ports with
a throw-away data directory, drives it through the HTTP API, and points
independent WebRTC peers (tests/peers/*.py: aiortc and GStreamer
webrtcbin, plus Debian's whip-client) at it.  Exit 0 is a pass, 77 a skip
(no daemon binary or no WebRTC stack to test with), anything else a fail.

The harness owns every process it starts and stops them all, by PID, when
the test ends however it ends.  On failure it prints the tail of the
daemon's log and of each peer's stderr, and keeps the test's temporary
directory so the whole logs can be read.

Only the standard library is used (HTTP through urllib), so the tests run
with Debian's /usr/bin/python3 as they are.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(REPO, "tests", "peers")
PYTHON = "/usr/bin/python3"

EXIT_SKIP = 77

DEFAULT_ADMIN_TOKEN = "kk-test-admin-token"


class TestFailure(Exception):
    """An assertion of the test did not hold."""


class TestSkip(Exception):
    """The test cannot run here (exit 77)."""


def log(msg, *args):
    sys.stderr.write("[harness %s] %s\n" % (time.strftime("%H:%M:%S"),
                                             msg % args if args else msg))
    sys.stderr.flush()


def check(cond, msg, *args):
    if not cond:
        raise TestFailure(msg % args if args else msg)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, got, want))


def wait_until(pred, timeout, what, interval=0.1):
    """Poll pred() until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s"
                              % (timeout, what))
        time.sleep(interval)


def tail(path, lines=60):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)


# -- locating things ---------------------------------------------------------

def find_binary():
    """The kringkast binary: $KRINGKAST_BIN, else the newest build dir's."""
    env = os.environ.get("KRINGKAST_BIN")
    if env:
        if not os.access(env, os.X_OK):
            # named explicitly (as meson does), so its absence is an error
            raise TestFailure("KRINGKAST_BIN=%s is not executable" % env)
        return env
    candidates = []
    for pattern in (os.path.join(REPO, "build*", "relay", "kringkast"),
                    os.path.join(os.path.dirname(REPO), "build*", "relay",
                                 "kringkast")):
        candidates += [p for p in glob.glob(pattern) if os.access(p, os.X_OK)]
    if not candidates:
        raise TestSkip("no kringkast binary: set KRINGKAST_BIN or build "
                       "into build*/")
    return max(candidates, key=os.path.getmtime)


def free_port():
    """A port number free on 127.0.0.1 for both TCP and UDP.

    The media port carries UDP and ICE-TCP on the same number, so both
    must be free.  The sockets are closed before the daemon binds; another
    process could take the number in between, which Daemon.start retries.
    """
    for _ in range(50):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
        finally:
            tcp.close()
            udp.close()
    raise RuntimeError("no port free for both TCP and UDP")


def _free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return list(ports)


# -- HTTP --------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            raise TestFailure("response is not JSON (status %d): %r"
                              % (self.status, self.text[:300]))

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.text[:200])


def http(method, url, body=None, token=None, content_type=None,
         headers=None, timeout=10.0):
    """One request; HTTP error statuses are returned, not raised.

    body may be bytes, str, or any JSON-able object (sent as JSON).
    """
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        content_type = content_type or "application/json"
    if isinstance(body, str):
        body = body.encode("utf-8")
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read() if e.fp else b"")


# -- the daemon --------------------------------------------------------------

class Daemon:
    """One kringkast process on free loopback ports.

    ctx.daemon() makes, starts and registers one; stop() and start() again
    restart it on the same ports and data directory.
    """

    def __init__(self, workdir, admin_token=DEFAULT_ADMIN_TOKEN,
                 extra_args=(), env=None, data_dir=None, name="kringkast",
                 public_ip="127.0.0.1", netns=None, http_host="127.0.0.1"):
        self.binary = find_binary()
        # A netlab node to run in (tests/integration/netlab.py), and the
        # address the test reaches its HTTP port at from its own namespace.
        self.netns = netns
        self.http_host = http_host
        # The address in the relay's candidates; None: what it detects.
        self.public_ip = public_ip
        self.workdir = workdir
        self.name = name
        self.admin_token = admin_token
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.data_dir = data_dir or os.path.join(workdir, name + "-data")
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None
        self.http_port = None
        self.media_port = None
        self.exit_code = None
        # Sanitizer reports (LeakSanitizer's at exit) from each run's log.
        self.sanitizer_reports = []
        self._log_start = 0

    @property
    def base_url(self):
        return "http://%s:%d" % (self.http_host, self.http_port)

    def url(self, path):
        return self.base_url + path

    def whip_url(self, room):
        return self.url("/whip/" + room)

    def whep_url(self, room):
        return self.url("/whep/" + room)

    def argv(self):
        return [self.binary,
                "--data-dir", self.data_dir,
                "--http-port", str(self.http_port),
                "--media-port", str(self.media_port)] + (
                    ["--public-ip", self.public_ip] if self.public_ip
                    else []) + self.extra_args

    def start(self, timeout=10.0):
        os.makedirs(self.data_dir, exist_ok=True)
        keep_ports = self.http_port is not None
        for attempt in range(3):
            if not keep_ports:
                self.http_port, self.media_port = _free_ports(2)
            env = dict(os.environ)
            # Our modules' INFO lines (state changes, viewers joining and
            # leaving) are what a failed test is debugged from.
            env.setdefault("GST_DEBUG", "kk-*:4")
            env.setdefault("GST_DEBUG_NO_COLOR", "1")
            if self.admin_token is not None:
                env["KRINGKAST_ADMIN_TOKEN"] = self.admin_token
            else:
                env.pop("KRINGKAST_ADMIN_TOKEN", None)
            env.update(self.extra_env)
            logf = open(self.log_path, "ab")
            self._log_start = logf.tell()
            logf.write(("\n=== %s %s\n" % (time.strftime("%H:%M:%S"),
                                         " ".join(self.argv()))).encode())
            logf.flush()
            log("starting %s (http %d, media %d)", self.name, self.http_port,
                self.media_port)
            argv = self.netns.wrap(self.argv()) if self.netns else self.argv()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         env=env, cwd=self.workdir)
            logf.close()
            self.exit_code = None
            try:
                self._wait_healthy(timeout)
                return self
            except TestFailure:
                if (self.proc.poll() is not None and not keep_ports
                        and "in use" in tail(self.log_path, 20)):
                    log("port taken meanwhile, retrying")
                    continue
                raise
        raise TestFailure("%s would not start" % self.name)

    def _wait_healthy(self, timeout):
        t0 = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.exit_code = rc
                raise TestFailure("%s exited with %d before serving; log:\n%s"
                                  % (self.name, rc, tail(self.log_path)))
            try:
                r = http("GET", self.url("/healthz"), timeout=1.0)
                if r.status == 200:
                    log("%s healthy after %.0f ms", self.name,
                        (time.monotonic() - t0) * 1000)
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise TestFailure("%s: /healthz not 200 within %.0f s; log:\n%s"
                          % (self.name, timeout, tail(self.log_path)))

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.running:
            os.kill(self.proc.pid, sig)

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after grace seconds; returns the exit code
        (negative: killed by that signal)."""
        if self.proc is None:
            return self.exit_code
        if self.proc.poll() is None:
            t0 = time.monotonic()
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
                log("%s stopped in %.0f ms", self.name,
                    (time.monotonic() - t0) * 1000)
            except subprocess.TimeoutExpired:
                log("%s ignored SIGTERM for %.0f s, killing", self.name, grace)
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.exit_code = self.proc.returncode
        self.proc = None
        self._collect_sanitizer_report()
        return self.exit_code

    def _collect_sanitizer_report(self):
        """A sanitizer's report in this run's log: LeakSanitizer's comes at
        exit, so only a stopped daemon can have one."""
        with open(self.log_path, "r", errors="replace") as f:
            f.seek(self._log_start)
            text = f.read()
        start = text.find("==ERROR: ")
        if start >= 0:
            start = text.rfind("\n", 0, start) + 1
            end = text.find("SUMMARY: ", start)
            end = len(text) if end < 0 else text.find("\n", end)
            self.sanitizer_reports.append(text[start:end])

    def log_tail(self, lines=60):
        return tail(self.log_path, lines)

    def log_text(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    # -- API helpers ---------------------------------------------------------

    def api(self, method, path, body=None, token=Ellipsis, **kw):
        """Request against the daemon; token defaults to the admin token,
        pass None for an anonymous request."""
        if token is Ellipsis:
            token = self.admin_token
        return http(method, self.url(path), body=body, token=token, **kw)

    def create_room(self, room_id, title=None, record=False,
                    completion_ratio=0.8, expect=201):
        r = self.api("POST", "/api/rooms",
                     {"id": room_id, "title": title or "Room " + room_id,
                      "record": record, "completion_ratio": completion_ratio})
        check_eq(r.status, expect, "POST /api/rooms %s (%s)" % (room_id, r.text[:200]))
        return r.json() if r.status < 300 else r

    def room(self, room_id, token=Ellipsis):
        r = self.api("GET", "/api/rooms/" + room_id, token=token)
        check_eq(r.status, 200, "GET /api/rooms/%s (%s)" % (room_id, r.text[:200]))
        return r.json()

    def join(self, room_id, name, workplace="Ward 1", colleagues=None,
             expect=201):
        body = {"name": name, "workplace": workplace}
        if colleagues is not None:
            body["colleagues"] = list(colleagues)
        r = self.api("POST", "/api/rooms/%s/join" % room_id, body, token=None)
        check_eq(r.status, expect, "join %s as %s (%s)" % (room_id, name, r.text[:200]))
        return r.json() if r.status < 300 else r

    def wait_live(self, room_id, live=True, timeout=15.0):
        # A room goes live at once; its session id follows when the store
        # has written the session, a moment later.
        def reached():
            room = self.room(room_id)
            return room.get("live") == live and (
                not live or room.get("session_id") is not None)
        return wait_until(reached, timeout, "room %s live=%s" % (room_id, live))

    def sessions(self, room_id):
        r = self.api("GET", "/api/sessions?room=" + room_id)
        check_eq(r.status, 200, "GET /api/sessions (%s)" % r.text[:200])
        return r.json()

    def attendance(self, session_id, fmt=None):
        path = "/api/sessions/%s/attendance" % session_id
        if fmt:
            path += "?format=" + fmt
        r = self.api("GET", path)
        check_eq(r.status, 200, "GET %s (%s)" % (path, r.text[:200]))
        return r.text if fmt else r.json()

    def metrics(self):
        r = self.api("GET", "/metrics", token=None)
        check_eq(r.status, 200, "GET /metrics")
        return r.text

    def metric(self, name, labels=None):
        """Sum of the samples of one metric whose labels include labels."""
        total = None
        for line in self.metrics().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            mname, _, lab = key.partition("{")
            if mname != name:
                continue
            if labels and not all('%s="%s"' % kv in lab for kv in labels.items()):
                continue
            total = (total or 0.0) + float(value)
        return total


# -- peers -------------------------------------------------------------------

class PeerResult:
    def __init__(self, name, rc, result, stderr_path, duration):
        self.name = name
        self.rc = rc
        self.result = result or {}
        self.stderr_path = stderr_path
        self.duration = duration

    @property
    def ok(self):
        return self.rc == 0 and bool(self.result.get("ok"))

    @property
    def error(self):
        return self.result.get("error") or ("exit %s" % self.rc)

    def __getitem__(self, k):
        return self.result[k]

    def get(self, k, default=None):
        return self.result.get(k, default)

    def stderr_tail(self, lines=40):
        return tail(self.stderr_path, lines)

    def __repr__(self):
        return "<%s rc=%s %s>" % (self.name, self.rc,
                                  json.dumps(self.result, sort_keys=True))


class Peer:
    """A running peer process (tests/peers/NAME, or any argv)."""

    def __init__(self, ctx, name, argv, env=None):
        self.name = name
        self.ctx = ctx
        n = ctx.next_id()
        base = os.path.join(ctx.workdir, "%02d-%s" % (n, name.replace("/", "_")))
        self.stdout_path = base + ".out"
        self.stderr_path = base + ".log"
        self.t0 = time.monotonic()
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            err.write(("$ %s\n" % " ".join(argv)).encode())
            err.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err,
                                         cwd=ctx.workdir, env=env)
        log("started %s (pid %d)", name, self.proc.pid)

    @property
    def running(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.running:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Wait for exit (killing it after timeout) and parse its result."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log("%s still running after %.0f s, killing", self.name, timeout)
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        result = None
        try:
            with open(self.stdout_path, "r", errors="replace") as f:
                for line in reversed(f.read().splitlines()):
                    line = line.strip()
                    if line.startswith("{"):
                        try:
                            result = json.loads(line)
                            break
                        except ValueError:
                            pass
        except OSError:
            pass
        r = PeerResult(self.name, self.proc.returncode, result,
                       self.stderr_path, time.monotonic() - self.t0)
        log("%s exited %d: %s", self.name, r.rc,
            json.dumps(r.result, sort_keys=True))
        self.ctx.results.append(r)
        return r

    def stop(self, timeout=15.0, sig=signal.SIGTERM):
        """Ask it to finish (publishers: DELETE and report) and wait."""
        self.send_signal(sig)
        return self.wait(timeout)

    def kill(self):
        """SIGKILL: a peer that vanishes without any teardown."""
        self.send_signal(signal.SIGKILL)
        return self.wait(5)


def peer_argv(script, args):
    # Tokens are base64url and may start with '-', which argparse would take
    # for an option: pass option values glued on with '='.
    args = [str(a) for a in args]
    out = []
    i = 0
    while i < len(args):
        if args[i] in ("--token", "--url") and i + 1 < len(args):
            out.append("%s=%s" % (args[i], args[i + 1]))
            i += 2
        else:
            out.append(args[i])
            i += 1
    return [PYTHON, os.path.join(PEERS, script)] + out


def whip_client_argv(url, token=None, codec="vp8", trickle=True,
                     audio=True, video=True, log_level=4):
    """argv for Debian's simple-whip-client (/usr/bin/whip-client).

    whip-client appends " ! sendonly." to each pipeline and links it into
    its own "webrtcbin name=sendonly", so each -V/-A pipeline must end in
    RTP caps that name media, encoding-name and payload.  Candidates go in
    PATCH requests unless trickle=False (-n: all in the offer).  SIGINT or
    SIGTERM makes it DELETE the resource and exit.
    """
    argv = ["/usr/bin/whip-client", "-u", url, "-l", str(log_level), "-o"]
    if token:
        argv += ["-t", token]
    if not trickle:
        argv.append("-n")
    if video:
        if codec == "vp8":
            enc = ("vp8enc deadline=1 keyframe-max-dist=60 ! "
                   "rtpvp8pay pt=96 ssrc=1 ! queue ! "
                   "application/x-rtp,media=video,encoding-name=VP8,payload=96")
        elif codec == "h264":
            enc = ("x264enc tune=zerolatency speed-preset=ultrafast "
                   "key-int-max=60 ! video/x-h264,profile=constrained-baseline"
                   " ! rtph264pay pt=102 ssrc=1 config-interval=-1 ! queue ! "
                   "application/x-rtp,media=video,encoding-name=H264,"
                   "payload=102")
        else:
            raise ValueError("codec %r" % codec)
        argv += ["-V", "videotestsrc is-live=true pattern=ball ! "
                 "video/x-raw,width=640,height=360,framerate=30/1 ! "
                 "videoconvert ! queue ! " + enc]
    if audio:
        argv += ["-A", "audiotestsrc is-live=true wave=red-noise ! "
                 "audioconvert ! audioresample ! queue ! opusenc ! "
                 "rtpopuspay pt=111 ssrc=2 ! queue ! "
                 "application/x-rtp,media=audio,encoding-name=OPUS,payload=111"]
    return argv


_whip_client_verdict = None


def whip_client_env():
    """The environment whip-client runs in.

    Debian 12's whip-client links libsoup 2 while libnice (through
    gupnp-igd) links libsoup 3, and libsoup aborts such a process
    ("libsoup2 symbols detected").  tests/peers/shims builds a stand-in
    for gupnp-igd (UPnP port mapping, meaningless on loopback); meson puts
    its directory in KK_WHIP_CLIENT_SHIMS, and it goes first on
    LD_LIBRARY_PATH for whip-client only.  The client itself is Debian's,
    unmodified.
    """
    env = dict(os.environ)
    shims = os.environ.get("KK_WHIP_CLIENT_SHIMS")
    if shims:
        env["LD_LIBRARY_PATH"] = ":".join(
            p for p in (shims, env.get("LD_LIBRARY_PATH")) if p)
    return env


def whip_client_usable():
    """(usable, reason) for /usr/bin/whip-client on this machine.

    The probe publishes audio to a closed loopback port: a usable client
    fails on HTTP, a broken one aborts before that (see whip_client_env).
    """
    global _whip_client_verdict
    if _whip_client_verdict is not None:
        return _whip_client_verdict
    if not os.access("/usr/bin/whip-client", os.X_OK):
        _whip_client_verdict = (False, "/usr/bin/whip-client not installed")
        return _whip_client_verdict
    argv = whip_client_argv("http://127.0.0.1:1/whip/probe", video=False)
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, env=whip_client_env(),
                           capture_output=True, timeout=20)
        out = (r.stdout + r.stderr).decode(errors="replace")
        if "libsoup2 symbols detected" in out or r.returncode < 0:
            _whip_client_verdict = (False, "whip-client aborts here (rc %d): %s"
                                    % (r.returncode, out.strip()[-200:]))
        else:
            _whip_client_verdict = (True, "")
    except subprocess.TimeoutExpired:
        _whip_client_verdict = (False, "whip-client probe hung")
    return _whip_client_verdict


def whip_client_state(peer):
    """What a whip-client Peer's log says: 'connected', 'failed' or
    'pending'.  It logs to stdout, GLib criticals go to stderr."""
    text = tail(peer.stdout_path, 400) + tail(peer.stderr_path, 100)
    if "PeerConnection failed" in text or "ICE failed" in text \
            or "DTLS failed" in text or "HTTP error" in text \
            or "SDP error" in text:
        return "failed"
    if "PeerConnection connected" in text or "DTLS connected" in text:
        return "connected"
    return "pending"


# -- the test context --------------------------------------------------------

class Context:
    """Everything one test started, cleaned up at the end by main()."""

    def __init__(self, name):
        self.name = name
        self.workdir = tempfile.mkdtemp(prefix="kk-it-%s-" % name)
        self.daemons = []
        self.peers = []
        self.results = []
        self._n = 0

    def next_id(self):
        self._n += 1
        return self._n

    def daemon(self, start=True, **kw):
        kw.setdefault("name", "kringkast" if not self.daemons
                      else "kringkast%d" % len(self.daemons))
        d = Daemon(self.workdir, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def start_peer(self, script, *args):
        """Start tests/peers/SCRIPT in the background."""
        p = Peer(self, script, peer_argv(script, args))
        self.peers.append(p)
        return p

    def run_peer(self, script, *args, timeout=None):
        """Run tests/peers/SCRIPT to completion and return its PeerResult.

        timeout defaults to the peer's own --timeout (or --duration + 20)
        plus a margin, so a stuck peer is killed rather than hanging.
        """
        if timeout is None:
            timeout = _peer_timeout(args) + 15
        return self.start_peer(script, *args).wait(timeout)

    def start_whip_client(self, url, token, **kw):
        """Start Debian's whip-client (see whip_client_argv); skips the
        test when whip-client cannot run on this machine."""
        usable, why = whip_client_usable()
        if not usable:
            raise TestSkip(why)
        p = Peer(self, "whip-client", whip_client_argv(url, token, **kw),
                 env=whip_client_env())
        self.peers.append(p)
        return p

    def cleanup(self):
        for p in self.peers:
            if p.running:
                log("cleanup: killing %s (pid %d)", p.name, p.proc.pid)
                p.send_signal(signal.SIGKILL)
                try:
                    p.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        for d in self.daemons:
            if d.running:
                d.stop()

    def dump(self):
        for d in self.daemons:
            sys.stderr.write("\n----- %s log (tail) %s\n%s\n"
                             % (d.name, d.log_path, d.log_tail(80)))
        for p in self.peers:
            sys.stderr.write("\n----- %s stderr (tail) %s\n%s\n"
                             % (p.name, p.stderr_path, tail(p.stderr_path, 40)))
        sys.stderr.write("\nlogs kept in %s\n" % self.workdir)


def _peer_timeout(args):
    args = [str(a) for a in args]
    def opt(name):
        if name in args:
            i = args.index(name)
            if i + 1 < len(args):
                try:
                    return float(args[i + 1])
                except ValueError:
                    return None
        return None
    t = opt("--timeout")
    if t is not None:
        return t
    d = opt("--duration")
    return (d if d is not None else 5.0) + 20.0


def require_webrtc_stack():
    """Skip unless Debian's python3-aiortc and GStreamer webrtc are there."""
    probe = ("import aiortc, av, gi; gi.require_version('Gst', '1.0'); "
             "gi.require_version('GstWebRTC', '1.0'); "
             "from gi.repository import Gst; Gst.init(None); "
             "assert Gst.ElementFactory.find('webrtcbin'); "
             "assert Gst.ElementFactory.find('vp8enc')")
    r = subprocess.run([PYTHON, "-c", probe], capture_output=True, timeout=60)
    if r.returncode != 0:
        raise TestSkip("WebRTC test stack missing: %s"
                       % r.stderr.decode(errors="replace").strip()[-300:])


def main(test, name=None, needs_peers=True):
    """Run test(ctx) and exit with meson's exitcode protocol."""
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    ctx = Context(name)
    code = 1
    failure = None
    t0 = time.monotonic()
    try:
        if needs_peers:
            require_webrtc_stack()
        find_binary()
        test(ctx)
        code = 0
    except TestSkip as e:
        log("SKIP: %s", e)
        code = EXIT_SKIP
    except TestFailure as e:
        failure = "FAIL: %s" % e
        log("%s", failure)
    except Exception:
        failure = "ERROR: %s" % traceback.format_exception_only(*sys.exc_info()[:2])[-1].strip()
        log("ERROR:\n%s", traceback.format_exc())
    finally:
        try:
            ctx.cleanup()
        except Exception:
            log("cleanup failed:\n%s", traceback.format_exc())
    # Any daemon's sanitizer report fails the test, whether or not the test
    # looked at its exit status (a daemon stopped at cleanup, a restart).
    for d in ctx.daemons:
        for report in d.sanitizer_reports:
            log("FAIL: %s reported:\n%s", d.name, report)
            failure = failure or "FAIL: %s reported a sanitizer error (above)" % d.name
            code = 1
    log("%s: %s in %.1f s", name,
        {0: "PASS", EXIT_SKIP: "SKIP"}.get(code, "FAIL"),
        time.monotonic() - t0)
    if code not in (0, EXIT_SKIP):
        ctx.dump()
        # meson --print-errorlogs shows only the last 100 lines, which the
        # logs above fill: the reason comes once more at the very end.
        if failure:
            log("%s: %s", name, failure)
    else:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
    sys.exit(code)
