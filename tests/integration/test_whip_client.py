#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Debian's simple-whip-client publishes; an aiortc viewer decodes.

Debian 12's whip-client links libsoup 2 while GStreamer's libnice pulls in
libsoup 3 (through gupnp-igd) and aborts ("libsoup2 symbols detected");
the harness runs it with a stand-in for gupnp-igd first on its library
path (tests/peers/shims). The client is Debian's, unmodified. Skipped (77)
only where it still cannot start.
"""
import harness
from harness import check
from common import viewer_token


def test(ctx):
    d = ctx.daemon()
    info = d.create_room("obsroom")
    ctx.start_whip_client(d.whip_url("obsroom"), info["host_token"])
    d.wait_live("obsroom")
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url("obsroom"),
                     "--token", viewer_token(d, "obsroom"), "--duration", "4",
                     "--min-video-frames", "40", "--min-audio-ms", "3000")
    check(r.ok, "viewer: %s", r.error)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
