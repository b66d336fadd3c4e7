#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A new viewer's video starts on a keyframe within a fraction of a second,
whatever the publisher's keyframe interval.

Short GOP (the test lecture, 1 s): the viewer gets the GOP so far at once.
A publisher that sends keyframes only when asked (a browser, here webrtcbin
with a keyframe interval of minutes): the GOP is too long to replay, so the
relay asks the publisher for a keyframe (one request, however many viewers
join) and starts the viewer on it.

The replay is paced (REPLAY_SLICE packets per 20 ms tick of the worker),
not sent in one burst a weak link would lose: on a heavier lecture (720p30
at 1.5 Mbit/s), the relay's datagrams as the kernel passes them on
loopback show the replayed packets spread over several ticks.
"""
import os
import socket
import struct
import threading
import time

import harness
from harness import check
from common import pipeline_daemon, viewer_token

# The first decoded frame also waits for aiortc's own start-up and a busy
# 2-core machine; the relay's part is a few ms.
FIRST_FRAME_MS = 1500


# Linux's SO_TIMESTAMPNS (asm-generic/socket.h); Python names only some.
SO_TIMESTAMPNS = 35


class Capture(threading.Thread):
    """The relay's video datagrams (over 500 bytes, from its media port) as
    the kernel passes them on loopback (AF_PACKET, kernel timestamps):
    what the link carries, whatever the viewer's own loop does."""

    def __init__(self, media_port):
        super().__init__(daemon=True)
        self.port = media_port
        self.times = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                  socket.htons(0x0800))
        self.sock.bind(("lo", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.2)
        self.running = True
        self.start()

    def run(self):
        while self.running:
            try:
                data, anc, _, addr = self.sock.recvmsg(2048, 64)
            except socket.timeout:
                continue
            # Each datagram shows twice on loopback: keep it as received.
            if addr[2] != socket.PACKET_HOST or len(data) < 28 + 500:
                continue
            ihl = (data[0] & 0x0f) * 4
            if data[9] != 17 or struct.unpack("!H", data[ihl:ihl + 2])[0] != self.port:
                continue
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    self.times.append(sec + nsec / 1e9)

    def stop(self):
        self.running = False
        self.join()
        self.sock.close()


def first_frame(ctx, d, room):
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url(room),
                     "--token", viewer_token(d, room), "--duration", "2",
                     "--min-video-frames", "10")
    check(r.ok, "viewer: %s", r.error)
    return r["first_video_frame_ms"]


def test(ctx):
    d = pipeline_daemon(ctx)
    times = [first_frame(ctx, d, "lecture") for _ in range(3)]
    harness.log("short GOP: first frames after %s ms", times)
    check(max(times) < FIRST_FRAME_MS, "short GOP: %s ms", times)

    info = d.create_room("browser")
    ctx.start_peer("whip_gst.py", "--url", d.whip_url("browser"),
                   "--token", info["host_token"], "--duration", "0",
                   "--width", "320", "--height", "240",
                   "--keyframe-interval", "100000")
    d.wait_live("browser")
    # Long enough for the one GOP to outgrow what is replayed.
    time.sleep(9)
    before = d.metric("kringkast_keyframe_requests_total")
    times = [first_frame(ctx, d, "browser") for _ in range(2)]
    harness.log("keyframes on request: first frames after %s ms", times)
    check(max(times) < FIRST_FRAME_MS, "long GOP: %s ms", times)
    check(d.metric("kringkast_keyframe_requests_total") > before,
          "keyframes were asked for")
    check(d.stop() == 0, "daemon exit status")

    heavy = pipeline_daemon(ctx, room="heavy", source="testsrc")
    spans = []
    for delay in (0.3, 0.8, 0.8, 0.8, 0.8):
        time.sleep(delay)
        replayed = heavy.metric("kringkast_fast_start_packets_total")
        capture = Capture(heavy.media_port)
        r = ctx.run_peer("whep_aiortc.py", "--url", heavy.whep_url("heavy"),
                         "--token", viewer_token(heavy, "heavy"),
                         "--duration", "1", "--min-video-frames", "5")
        capture.stop()
        check(r.ok, "heavy viewer: %s", r.error)
        n = int(heavy.metric("kringkast_fast_start_packets_total") - replayed)
        # Its replay is its first n video datagrams (a few live ones may
        # come between): how long they took to go out.
        if n >= 20 and len(capture.times) >= n:
            spans.append((n, round((capture.times[n - 1] - capture.times[0]) * 1000, 1)))
    harness.log("720p30: packets replayed and the ms they took: %s", spans)
    check(spans, "no viewer had a GOP of 20 packets or more replayed")
    for n, ms in spans:
        # Paced, n packets take at least n / 10 - 1 ticks, and a tick may
        # come up to 10 ms early; at once, they take well under 1 ms.
        check(ms >= (n // 10 - 1) * 8, "%d packets replayed in %s ms", n, ms)
    check(heavy.stop() == 0, "daemon exit status")


harness.main(test)
