#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Viewers that vanish are dropped; offers never connected expire.

A viewer is killed (no DELETE, no DTLS close: a laptop lid shut, a cable
pulled). Consent freshness (RFC 7675) must end it within the configured
timeout while another viewer, still answering, keeps receiving. And a WHEP
offer whose ICE never starts must not hold a resource for ever.
"""
import os
import re
import time

import harness
from harness import check, check_eq
from common import viewer_token

CONSENT_S = 4
CONNECT_S = 3


def test(ctx):
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[media]\nconsent-timeout=%d\nconnect-timeout=%d\n"
                "[room lecture]\ntitle=Consent\nsource=testsrc-small\n"
                % (CONSENT_S, CONNECT_S))
    d = ctx.daemon(extra_args=["--config", conf])
    d.wait_live("lecture")

    stays = ctx.start_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                           "--token", viewer_token(d, "lecture", "Stays"),
                           "--duration", "14", "--min-video-frames", "100")
    vanishes = ctx.start_peer("whep_gst.py", "--url", d.whep_url("lecture"),
                              "--token", viewer_token(d, "lecture", "Vanishes"),
                              "--duration", "30")
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 2, 15,
                       "two viewers connected")
    vanishes.kill()
    t_kill = time.monotonic()
    harness.wait_until(lambda: d.metric("kringkast_viewers") == 1,
                       CONSENT_S + 4, "the vanished viewer dropped")
    dropped_after = time.monotonic() - t_kill
    harness.log("vanished viewer dropped after %.1f s", dropped_after)
    check(dropped_after >= CONSENT_S - 1,
          "not dropped before consent expired (%.1f s)", dropped_after)
    check(re.search(r"left \(consent-expired\)", d.log_text()),
          "the log names consent expiry")

    # An offer answered but never followed by ICE checks.
    offer = open(os.path.join(harness.REPO, "tests", "sdp",
                              "aiortc-recvonly.sdp")).read()
    never = viewer_token(d, "lecture", "Never")
    r = harness.http("POST", d.whep_url("lecture"), body=offer, token=never,
                     content_type="application/sdp")
    check_eq(r.status, 201, "WHEP POST")
    resource = d.url(r.header("Location"))
    check_eq(d.metric("kringkast_viewers_pending"), 1.0, "one pending viewer")
    r = harness.http("GET", resource, token=never)
    check_eq(r.status, 200, "the viewer reads its own connection")
    check_eq(r.json()["connected"], False, "not connected")
    check_eq(harness.http("GET", resource,
                          token=viewer_token(d, "lecture", "Other")).status,
             403, "another participant may not read it")
    harness.wait_until(lambda: d.metric("kringkast_viewers_pending") == 0,
                       CONNECT_S + 4, "the unconnected offer expired")
    check_eq(harness.http("GET", resource, token=never).status, 404,
             "the expired resource is gone")
    check(re.search(r"left \(never-connected\)", d.log_text()),
          "the log names the expiry")

    r = stays.wait(60)
    check(r.ok, "the viewer that stayed: %s", r.error)
    check(min(r["video_timeline"][2:-1]) > 5,
          "it kept receiving throughout: %s", r["video_timeline"])
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
