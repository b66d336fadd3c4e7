#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Audio and video of a recording stay in sync.

A VP8 host (recorded into WebM), then an H.264 host (into MP4), publish
through WHIP, each a whip_gst.py --markers publisher (320x240): a black
picture and silence that flash white and beep at the same running time,
at irregular known times about once a second (tests/peers/avmarkers.py).
The publisher reports, per marker, how far apart the flash and the beep
reached its encoders (0, or a frame or two when its leaky queue dropped
some while it was connecting). After about 20 s each recording is
downloaded, decoded in full, and every marker found in both tracks gives
audio time minus video time. Every offset must be under 100 ms in
magnitude (the issue's bound for an hour), and so must what the relay
added to the publisher's own; the spread of the latter must be under
40 ms. Nearly every marker between the first and the last must be
there: a busy machine loses the odd packet on loopback too, and a
picture broken until the next keyframe can hide a flash. Both tracks
must start together (within 100 ms): a late MP4 track is only an empty
edit, which many players ignore.

It all runs with a busy loop per core (cpuload.py): a relay serving a
lecture is a busy machine, and there a host's video arrives hundreds of
ms behind the audio captured with it (the recorder once dropped that
audio, and the MP4's audio started up to a second late).

The hosts publish one after the other: a host whose encoder is starved
of CPU sends one track later than the other, and the relay, which lines
tracks up by their arrival unless sender reports do (these hosts'
reports run over a second ahead of their packets, and are refused or
discounted), would record that.

tests/bench/recording-av-sync.py runs the same for an hour.
"""
import os
import statistics

import cpuload
import harness
from harness import check
import recording_media as rm

SECONDS = 20
BOUND_S = 0.100
SPREAD_S = 0.040


def test(ctx):
    # One busy loop per core, for the whole test: the daemon, the
    # publisher's encoders and these loops all compete for the CPU.
    with cpuload.CpuLoad(cpuload.cores()):
        run(ctx)


def run(ctx):
    d = ctx.daemon()
    for codec in ("vp8", "h264"):
        room = "sync-" + codec
        token = d.create_room(room, record=True)["host_token"]
        pub = rm.Publish(ctx, d, room, token, SECONDS, "--codec", codec,
                         "--markers", "--fps", rm.MARKER_FPS)
        pub.finish(timeout=SECONDS + 40)
        # Exact, but for a frame its leaky queue dropped before the
        # connection was up.
        source = pub.result["source_offsets_ms"]
        check(source and abs(statistics.median(source.values())) < 1,
              "the %s publisher's own markers: %s" % (codec, source))

        sid, rec = rm.wait_recording(d, room)
        check(rec["state"] == "finished", "%s recording %s" % (codec, rec))
        path = os.path.join(ctx.workdir, "sync-%s.%s" % (
            codec, "webm" if codec == "vp8" else "mp4"))
        check(rm.download(d, rec["url"], path).status == 200,
              "GET %s recording" % codec)
        s = rm.sync(path, SECONDS, source)
        # The markers cover the recording (the first and last few seconds
        # may be cut), and hardly any is missing in between.
        check(s["span"] >= SECONDS * 0.6, "%s: markers over %.1f s only"
              % (codec, s["span"]))
        first, last = s["indices"][0], s["indices"][-1]
        check(len(s["indices"]) >= 0.85 * (last - first + 1), "%s: markers "
              "%d..%d, but only %s in both tracks (found %s)"
              % (codec, first, last, s["indices"], s["found"]))
        rm.check_sync(codec, s, source, BOUND_S)
        check(s["spread"] < SPREAD_S, "%s: what the relay added spreads "
              "over %.1f ms" % (codec, s["spread"] * 1000))
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
