#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Two independent WebRTC stacks watch one lecture at the same time.

aiortc and GStreamer's webrtcbin share no code with each other or with
kringkast; both must decode video frames and audio from the relay's one
media port (ICE-lite, DTLS-SRTP, our SRTP), and /metrics must count what
was forwarded.
"""
import os

import harness
from harness import check, check_eq
from common import pipeline_daemon, viewer_token


def test(ctx):
    d = pipeline_daemon(ctx)
    a = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                       "--token", viewer_token(d, "lecture", "Kari"),
                       "--duration", "6", "--min-video-frames", "50",
                       "--min-audio-ms", "4000")
    g = ctx.start_peer("whep_gst.py", "--url", d.whep_url("lecture"),
                       "--token", viewer_token(d, "lecture", "Ola"),
                       "--duration", "6", "--min-video-frames", "50",
                       "--min-audio-ms", "4000")
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 2, 15,
                       "both viewers connected")
    check(d.room("lecture")["viewers"] == 2, "room shows 2 viewers")
    check(d.metric("kringkast_publishers", {"kind": "pipeline"}) == 1,
          "/metrics counts the pipeline source")
    ra, rg = a.wait(60), g.wait(60)
    for r in (ra, rg):
        check(r.ok, "%s: %s", r.name, r.error)
        check(r["width"] == 320 and r["height"] == 240,
              "%s decoded %sx%s", r.name, r["width"], r["height"])
        check(r["first_video_frame_ms"] < 2000,
              "%s: first frame after %s ms", r.name, r["first_video_frame_ms"])
        check(r["delete_status"] == 200, "%s DELETE -> %s", r.name,
              r["delete_status"])
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 0, 10,
                       "viewers gone after DELETE")
    check(d.metric("kringkast_packets_forwarded_total") > 500,
          "forwarded %s packets", d.metric("kringkast_packets_forwarded_total"))
    check(d.metric("kringkast_stun_checks_answered_total") >= 2,
          "ICE checks answered")
    check(d.stop() == 0, "daemon exit status")
    local_candidates(ctx)


def candidates(d, host):
    """The addresses of the answer's candidates, in priority order, for an
    offer sent to the relay's HTTP port at host."""
    offer = open(os.path.join(harness.REPO, "tests", "sdp",
                              "aiortc-recvonly.sdp")).read()
    base = "http://%s:%d" % (host, d.http_port)
    token = viewer_token(d, "lecture", "Per")
    r = harness.http("POST", base + "/whep/lecture", body=offer.encode(),
                     token=token, content_type="application/sdp")
    check_eq(r.status, 201, "WHEP POST to %s (%s)" % (host, r.text[:200]))
    found = sorted(((int(f[3]), f[4]) for f in
                    (line.split() for line in r.text.splitlines()
                     if line.startswith("a=candidate:"))), reverse=True)
    harness.http("DELETE", base + r.headers["Location"], token=token)
    return [address for _, address in found]


def local_candidates(ctx):
    """A relay left to find its own addresses leaves loopback out (here it
    finds the namespace's veth address). A viewer on the relay's machine
    (its HTTP request came over loopback) may be bound to loopback alone:
    its answer offers loopback first. One from elsewhere gets none."""
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    d = ctx.daemon(extra_args=["--config", conf], public_ip=None,
                   name="detecting")
    d.wait_live("lecture")
    local = candidates(d, "127.0.0.1")
    check(local and local[0] == "127.0.0.1",
          "loopback first for a local viewer: %s" % local)
    check("10.211.0.1" in local, "the detected address too: %s" % local)
    remote = candidates(d, "10.211.0.1")
    check("10.211.0.1" in remote and "127.0.0.1" not in remote
          and "::1" not in remote,
          "no loopback for a viewer from elsewhere: %s" % remote)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
