# SPDX-License-Identifier: Apache-2.0
"""A workplace that reaches the relay only through TURN over TLS: the
network lab (netlab.py), coturn configured from deploy/turnserver.conf,
and the relay, for the tests that need them (it-turn, e2e-turn through
tests/e2e/turnlab-run).

    relay ns  10.30.1.1 (media, public-ip) ---- 10.30.1.2  turn ns
              10.30.3.1 (HTTP for the test) -- 10.30.3.2  the test's ns
              10.30.4.1 (HTTP for the viewer) - 10.30.4.2 \\
                                                           viewer ns
              turn ns   10.30.2.1 (TLS 443 only) -- 10.30.2.2 /

The test's namespace has its default route through 10.30.3.1: it is the
open network, where every path to the relay works but TURN (no route to
coturn).
The viewer has no route to 10.30.1.1, the relay's only media address:
its media can only come through coturn, which listens on nothing but TLS
on 443 and relays from 10.30.1.2. The viewer reaches the relay's HTTP
port on 10.30.4.1 as a workplace reaches HTTPS. coturn's certificate is
made by the lab with openssl, for 10.30.2.1, and thrown away with it.
"""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import time

import harness
import netlab

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEPLOY_CONF = os.path.join(REPO, "deploy", "turnserver.conf")

RELAY_MEDIA = "10.30.1.1"
TURN_RELAY = "10.30.1.2"
TURN_PUBLIC = "10.30.2.1"
VIEWER = "10.30.2.2"
RELAY_FOR_TEST = "10.30.3.1"
RELAY_FOR_VIEWER = "10.30.4.1"
SECRET = "kk-turnlab-shared-secret"
REALM = "turnlab.test"
TURN_URLS = ["turns:%s:443?transport=tcp" % TURN_PUBLIC,
             "turn:%s:3478?transport=udp" % TURN_PUBLIC]


def usable():
    """(True, "") or (False, why): what the lab needs on this machine."""
    for tool in ("turnserver", "openssl"):
        if shutil.which(tool) is None:
            return False, "%s is not installed (TESTS profile)" % tool
    if not netlab.available():
        return False, "no network namespaces here"
    return True, ""


def turn_config(workdir, cert, key, tls_only=True):
    """deploy/turnserver.conf with this lab's addresses, secret and
    throw-away certificate; its relay policy kept as it is. With
    @tls_only, coturn listens on nothing but TLS 443."""
    with open(DEPLOY_CONF) as f:
        text = f.read()
    values = {
        "listening-ip": TURN_PUBLIC,
        "relay-ip": TURN_RELAY,
        "cert": cert,
        "pkey": key,
        "static-auth-secret": SECRET,
        "realm": REALM,
        "allowed-peer-ip": RELAY_MEDIA,
        "log-file": os.path.join(workdir, "turnserver.log"),
        # Nonces go stale in seconds rather than minutes, so that a test
        # sees coturn check credentials again as it does every ten
        # minutes in service.
        "stale-nonce": "2",
    }
    for name, value in values.items():
        text, n = re.subn(r"(?m)^%s=.*$" % re.escape(name),
                          "%s=%s" % (name, value), text)
        if n != 1:
            raise netlab.LabError("deploy/turnserver.conf: %s appears %d "
                                  "times" % (name, n))
    text += "\n# turnlab\npidfile=%s\n" % os.path.join(workdir, "turnserver.pid")
    text += "userdb=%s\n" % os.path.join(workdir, "turndb")
    if tls_only:
        text += "no-udp\nno-tcp\nno-dtls\n"
    path = os.path.join(workdir, "turnserver.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def make_certificate(workdir):
    """A self-signed certificate for TURN_PUBLIC; returns (cert, key)."""
    cert = os.path.join(workdir, "turn-cert.pem")
    key = os.path.join(workdir, "turn-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=turnlab.test", "-addext",
                    "subjectAltName=IP:%s" % TURN_PUBLIC,
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


def spki_hash(cert):
    """base64 SHA-256 of the certificate's public key: what Chromium's
    --ignore-certificate-errors-spki-list trusts, the way it trusts a
    certificate from a CA a real TURN server would have."""
    pubkey = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey",
                             "-noout"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"],
                         input=pubkey, check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def relay_config(workdir, room_section):
    """kringkast.conf for the relay: the lab's TURN servers and secret."""
    path = os.path.join(workdir, "kringkast.conf")
    with open(path, "w") as f:
        f.write("[turn]\nurl = %s\nsecret = %s\nrelay-address = %s\n\n%s"
                % (";".join(TURN_URLS), SECRET, TURN_RELAY, room_section))
    return path


class TurnLab:
    """The namespaces and coturn; close() stops coturn (by PID) and
    removes the namespaces."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.lab = netlab.Lab()
        self.turnserver = None
        try:
            self.relay = self.lab.node("relay")
            self.turn = self.lab.node("turn")
            self.viewer = self.lab.node("viewer")
            self.lab.link(self.relay, RELAY_MEDIA + "/24", self.turn,
                          TURN_RELAY + "/24")
            self.lab.link(self.turn, TURN_PUBLIC + "/24", self.viewer,
                          VIEWER + "/24")
            self.lab.link(self.lab.here, "10.30.3.2/24",
                                             self.relay, RELAY_FOR_TEST + "/24")
            self.lab.link(self.viewer, "10.30.4.2/24", self.relay,
                          RELAY_FOR_VIEWER + "/24")
            # The test's own namespace is the open network: its default
            # route leads to the relay, so it reaches the relay's media
            # address (the relay takes packets for any of its addresses on
            # any link), but not coturn. Chromium takes the default
            # route's interface for its UDP candidates.
            self.lab.here.route("default", RELAY_FOR_TEST)
            # No route with "src" for the way back: the relay answers ICE
            # checks and sends media from the address each viewer sent
            # to (its media address here), not the one the kernel would
            # pick towards the open network (10.30.3.1).
            self.cert, self.key = make_certificate(workdir)
        except BaseException:
            self.lab.close()
            raise

    def start_turnserver(self, tls_only=True):
        conf = turn_config(self.workdir, self.cert, self.key, tls_only)
        out = open(os.path.join(self.workdir, "turnserver.out"), "wb")
        self.turnserver = self.turn.popen(["turnserver", "-c", conf],
                                          stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT)
        out.close()
        # Ready when its TLS port accepts.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.turnserver.poll() is not None:
                raise netlab.LabError("turnserver exited: %s" % self.log_tail())
            r = self.viewer.run(["/usr/bin/python3", "-c",
                                 "import socket; socket.create_connection("
                                 "('%s', 443), 1).close()" % TURN_PUBLIC],
                                check=False)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise netlab.LabError("turnserver not listening: %s" % self.log_tail())

    def log_tail(self, lines=40):
        for name in ("turnserver.log", "turnserver.out"):
            path = os.path.join(self.workdir, name)
            if os.path.exists(path) and os.path.getsize(path) > 0:
                with open(path, errors="replace") as f:
                    return "".join(f.readlines()[-lines:])
        return "(no coturn log)"

    def close(self):
        if self.turnserver is not None and self.turnserver.poll() is None:
            self.turnserver.terminate()
            try:
                self.turnserver.wait(5)
            except subprocess.TimeoutExpired:
                self.turnserver.kill()
                self.turnserver.wait()
        self.lab.close()


def test_in_lab(run):
    """The test (for harness.main) that runs run(ctx, lab) in a fresh
    TurnLab, skipped where the lab cannot be made; whatever happens, it
    stops the daemons and coturn and removes the namespaces, with
    coturn's log in the test's output when a check failed."""
    return lambda ctx: _run_in_lab(ctx, run)


def _run_in_lab(ctx, run):
    ok, why = usable()
    if not ok:
        raise harness.TestSkip(why)
    lab = TurnLab(ctx.workdir)
    try:
        run(ctx, lab)
    except harness.TestFailure:
        harness.log("coturn log:\n%s", lab.log_tail())
        raise
    finally:
        for d in ctx.daemons:
            d.stop()
        lab.close()
