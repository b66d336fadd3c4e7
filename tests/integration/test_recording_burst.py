#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A host whose connection takes seconds: its backlog comes in a burst.

A VP8 host (into WebM), then an H.264 host (into MP4), each a whip_gst.py
--markers publisher (320x240), capture and encode for BACKLOG_S seconds
before they POST their offer (--post-delay), as a host behind TURN/TLS,
on a slow network, or an encoder that starts capturing before it
connects would. Once connected, webrtcbin sends what it captured
meanwhile at once, with its real RTP timestamps, and the ingest's jitter
buffer stamps all of it by its arrival: late, by different amounts per
track. The recorder must neither end its settling wait on the burst's
seconds of media nor take the burst's capture times for the tracks'
offset: both tracks must start together (within 100 ms), neither may
have a gap (their decoded spans agree within 300 ms, and the video's is
not longer than the publisher ran), and every marker the publisher
vouches for is in sync (within 100 ms). Once such a recording started
with video frozen for the burst's length (a gap of 3.3 s) and the
audio 3 s from the video.
"""
import os

import harness
from harness import check
import recording_media as rm

SECONDS = 12
BACKLOG_S = 8
BOUND_S = 0.100
SPAN_S = 0.300


def test(ctx):
    d = ctx.daemon()
    for codec in ("vp8", "h264"):
        room = "burst-" + codec
        token = d.create_room(room, record=True)["host_token"]
        pub = rm.Publish(ctx, d, room, token, SECONDS, "--codec", codec,
                         "--markers", "--fps", rm.MARKER_FPS,
                         "--post-delay", BACKLOG_S)
        pub.finish(timeout=SECONDS + BACKLOG_S + 40)
        source = pub.result["source_offsets_ms"]

        _, rec = rm.wait_recording(d, room)
        check(rec["state"] == "finished", "%s recording %s" % (codec, rec))
        path = os.path.join(ctx.workdir, "burst-%s.%s" % (
            codec, "webm" if codec == "vp8" else "mp4"))
        check(rm.download(d, rec["url"], path).status == 200,
              "GET %s recording" % codec)
        info = rm.inspect(path)
        # No gap in either track: what was captured plays for as long.
        check(abs(info["video_span"] - info["audio_span"]) < SPAN_S,
              "%s: video spans %.2f s, audio %.2f s"
              % (codec, info["video_span"], info["audio_span"]))
        check(info["video_span"] < pub.run_s + SPAN_S,
              "%s: video spans %.2f s, the publisher ran %.2f s"
              % (codec, info["video_span"], pub.run_s))
        s = rm.sync(path, SECONDS + BACKLOG_S, source)
        rm.check_sync(codec, s, source, BOUND_S)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
