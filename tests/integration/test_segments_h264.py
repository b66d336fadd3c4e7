#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""HTTPS segments of an H.264 lecture: fragmented MP4, no re-encoding.

A webrtcbin publisher sends H.264 (constrained baseline) and Opus over
WHIP with a keyframe only every 4 s; the relay asks it for keyframes so
that segments last about a second. A participant's playlist names the MSE
type with the publisher's H.264 profile, the segments are video/mp4, each
starts on a keyframe, and the init segment followed by a later run of
segments decodes (qtdemux, an H.264 decoder, opusdec) from its first
frame, both tracks.
"""
import os
import time

import harness
from harness import check, check_eq, log, wait_until
from common import viewer_token
from recording_media import inspect

ROOM = "h264"
PLAYLIST = "/api/rooms/%s/segments" % ROOM


def test(ctx):
    d = ctx.daemon()
    room = d.create_room(ROOM)
    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", room["host_token"], "--codec", "h264",
                         "--keyframe-interval", "120", "--duration", "0")
    d.wait_live(ROOM)
    tok = viewer_token(d, ROOM)

    def playlist_with(n):
        r = harness.http("GET", d.url(PLAYLIST), token=tok)
        check_eq(r.status, 200, "playlist")
        pl = r.json()
        return pl if len(pl["segments"]) >= n else None
    t0 = time.monotonic()
    pl = wait_until(lambda: playlist_with(6), 20, "six segments")
    log("six segments after %.1f s: %s", time.monotonic() - t0,
        [round(s["duration"], 2) for s in pl["segments"]])
    check(pl["mime_type"].startswith('video/mp4; codecs="avc1.42')
          and pl["mime_type"].endswith(',opus"'), "MSE type %s",
          pl["mime_type"])
    check(pl["init"].endswith("-init.mp4"), "init %s", pl["init"])
    # The publisher's GOP is 4 s; asked for keyframes, segments are ~1 s.
    for seg in pl["segments"][1:]:
        check(seg["keyframe"], "segment %d on a keyframe", seg["seq"])
        check(0.5 <= seg["duration"] <= 1.6, "segment %d lasts %.2f s",
              seg["seq"], seg["duration"])
    last = pl["segments"][-1]
    lag = pl["live_edge"] - (last["start"] + last["duration"])
    log("newest segment ends %.2f s before the live edge", lag)
    check(lag < 2.2, "segments listed late: %.2f s", lag)

    init = harness.http("GET", d.url(pl["init"]), token=tok)
    check_eq(init.status, 200, "init")
    check_eq(init.header("Content-Type"), "video/mp4", "init type")
    check(init.body[4:8] == b"ftyp", "init starts with ftyp")
    bodies = []
    for seg in pl["segments"][2:]:
        r = harness.http("GET", d.url(seg["url"]), token=tok)
        check_eq(r.status, 200, "segment %d" % seg["seq"])
        check_eq(r.header("Content-Type"), "video/mp4", "segment type")
        check(r.body[4:8] == b"moof", "segment %d starts with moof",
              seg["seq"])
        bodies.append(r.body)
    path = os.path.join(ctx.workdir, "late-joiner.mp4")
    with open(path, "wb") as f:
        f.write(init.body + b"".join(bodies))
    media = inspect(path)
    want = sum(s["duration"] for s in pl["segments"][2:])
    check(media["video"] == "video/x-h264", "video %s", media)
    check(media["video_frames"] >= (want - 0.5) * 25, "video frames %s",
          media)
    check(media["audio_buffers"] >= (want - 0.5) * 40, "audio %s", media)
    check(media["video_span"] >= want - 0.1, "video decoded over %.2f s "
          "of %.2f s", media["video_span"], want)
    check_eq(harness.http("GET", d.url("%s/%s-2.webm" % (PLAYLIST, pl["id"])),
                          token=tok).status, 404, "a WebM name for MP4")
    p = pub.stop()
    check(p.ok, "publisher: %s", p.error)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
