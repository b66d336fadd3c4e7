# SPDX-License-Identifier: Apache-2.0
"""Shared plumbing for the WHIP/WHEP test peers.

The peers are independent WebRTC implementations (aiortc, GStreamer
webrtcbin) that the integration tests point at kringkast.  Each peer is a
CLI program with the same contract so the harness can treat them alike:
logs go to stderr, exactly one JSON object is printed on stdout at the end,
and the exit status says whether the peer's assertions held:

    0  the assertions passed
    1  the session ran but an assertion failed (too few frames, ...)
    2  the session could not be set up (HTTP error, timeout, bad SDP)

Only the standard library is used for HTTP (urllib), so the peers run with
Debian's /usr/bin/python3 and nothing else installed.
"""

import argparse
import ctypes
import json
import logging
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

EXIT_OK = 0
EXIT_ASSERT = 1
EXIT_SETUP = 2

log = logging.getLogger("peer")


def setup_logging(name, verbose=False):
    global log
    log = logging.getLogger(name)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s.%(msecs)03d " + name + " %(levelname)s %(message)s",
        datefmt="%H:%M:%S")
    return log


def common_args(description, kind):
    """The options every peer shares.  kind is 'whip' or 'whep'."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", required=True,
                   help="WHIP/WHEP endpoint, e.g. http://127.0.0.1:8080/%s/ROOM" % kind)
    p.add_argument("--token", default=None, help="bearer token")
    p.add_argument("--duration", type=float, default=5.0,
                   help="seconds to keep the session up after the answer")
    p.add_argument("--timeout", type=float, default=None,
                   help="hard limit for the whole run (default: duration + 20)")
    p.add_argument("--expect-status", type=int, default=201,
                   help="HTTP status the POST must return; anything but 201 "
                        "makes this a negative test that ends after the POST")
    p.add_argument("--local-ip", default="127.0.0.1",
                   help="the only address to gather ICE candidates on")
    p.add_argument("--verbose", action="store_true")
    return p


def finish_args(args):
    if args.timeout is None:
        args.timeout = args.duration + 20.0
    return args


class HttpResult:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None


def http(method, url, body=None, content_type=None, token=None,
         extra_headers=None, timeout=10.0):
    """One HTTP request; never raises for HTTP error statuses.

    Returns HttpResult; status 0 means the request did not get an answer
    (connection refused, timeout), with the reason in body.
    """
    data = body.encode("utf-8") if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (extra_headers or {}).items():
        req.add_header(k, v)
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode("utf-8", "replace")
            return HttpResult(resp.status, resp.headers, text,
                              time.monotonic() - t0)
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace") if e.fp else ""
        return HttpResult(e.code, e.headers, text, time.monotonic() - t0)
    except (urllib.error.URLError, OSError) as e:
        return HttpResult(0, None, str(e), time.monotonic() - t0)


def resolve_location(endpoint, location):
    """The resource URL from a Location header, which may be relative."""
    if not location:
        return None
    return urllib.parse.urljoin(endpoint, location)


def emit(result):
    """Print the one JSON result line on stdout."""
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()


def sdp_media_codecs(sdp):
    """Map media kind -> first codec name of each m-line in an SDP."""
    out = {}
    kind = None
    first_pt = None
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            kind = parts[0]
            first_pt = parts[3] if len(parts) > 3 else None
        elif line.startswith("a=rtpmap:") and kind and first_pt:
            pt, _, rest = line[len("a=rtpmap:"):].partition(" ")
            if pt == first_pt and kind not in out:
                out[kind] = rest.split("/")[0]
    return out


def sdp_payload_codecs(sdp):
    """Map payload type (int) -> codec name, over every m-line of an SDP."""
    out = {}
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith("a=rtpmap:"):
            pt, _, rest = line[len("a=rtpmap:"):].partition(" ")
            if pt.isdigit():
                out[int(pt)] = rest.split("/")[0]
    return out


def sdp_has_candidates(sdp):
    return any(l.startswith("a=candidate:") for l in sdp.splitlines())


def log_sdp(title, sdp):
    log.info("%s:\n%s", title, sdp.strip().replace("\r\n", "\n"))


def restrict_nice_agent(webrtcbin, local_ip, tcp_only=False):
    """Keep a webrtcbin's libnice agent on one local address.

    Without this libnice gathers on every interface; on loopback-only test
    machines that may be no usable address at all, and on others it would
    pair addresses the tests must not use.
    """
    import gi
    gi.require_version("Nice", "0.1")
    from gi.repository import Nice
    ice = webrtcbin.get_property("ice-agent")
    if ice.__grefcount__ == 1:
        # GStreamer 1.22's webrtcbin keeps its ICE object's initial floating
        # reference without sinking it, so PyGObject sinks it here and the
        # wrapper becomes the only owner: once the wrapper goes the object
        # dies under webrtcbin.  Give webrtcbin the reference it assumes.
        getptr = ctypes.pythonapi.PyCapsule_GetPointer
        getptr.restype = ctypes.c_void_p
        getptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
        gobject = ctypes.CDLL("libgobject-2.0.so.0")
        gobject.g_object_ref.argtypes = [ctypes.c_void_p]
        gobject.g_object_ref.restype = ctypes.c_void_p
        gobject.g_object_ref(getptr(ice.__gpointer__, None))
    if tcp_only:
        ice.set_property("ice-tcp", True)
        ice.set_property("ice-udp", False)
    agent = ice.get_property("agent")
    addr = Nice.Address.new()
    if not addr.set_from_string(local_ip):
        raise ValueError("bad --local-ip %r" % local_ip)
    agent.add_local_address(addr)
    return ice, agent


def gst_stats(webrtcbin):
    """webrtcbin's get-stats as {stat id: {field: value}} (plain Python)."""
    from gi.repository import Gst
    promise = Gst.Promise.new()
    webrtcbin.emit("get-stats", None, promise)
    if promise.wait() != Gst.PromiseResult.REPLIED:
        return {}
    reply = promise.get_reply()
    if reply is None:
        return {}
    out = {}
    for i in range(reply.n_fields()):
        name = reply.nth_field_name(i)
        st = reply.get_value(name)
        if not isinstance(st, Gst.Structure):
            continue
        fields = {}
        for j in range(st.n_fields()):
            fname = st.nth_field_name(j)
            try:
                v = st.get_value(fname)
            except TypeError:
                continue
            if hasattr(v, "value_nick"):
                v = v.value_nick
            if isinstance(v, (int, float, str, bool)):
                fields[fname] = v
        out[name] = fields
    return out
