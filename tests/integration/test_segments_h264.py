#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""HTTPS segments of an H.264 lecture: fragmented MP4, no re-encoding, and
no keyframe a second forced on everyone.

A webrtcbin publisher sends H.264 (constrained baseline) and Opus over
WHIP with a keyframe only every 40 s, unless asked. A participant's
player, played here as the page plays (?start=1 until a fresh keyframe
segment is listed, then every later segment once, in order), watches for
20 s:

- the playlist names the MSE type with the publisher's H.264 profile, the
  segments are video/mp4 and start with a moof;
- segments last about a second although the GOP is 40 s, and only those
  that start on a keyframe say so;
- the publisher is asked for a keyframe at most a couple of times (to
  start, kringkast_keyframe_requests_total) and sends no other while she
  watches, not one a second as long as she watches; only video lost on
  the way in (which the relay logs; a busy machine's jitter buffer gives
  up on late packets) adds one each, and may cut a segment short;
- her player, playing from its start point on at normal speed, never
  runs out of media and stays within about 4 s of live;
- the init segment followed by everything she fetched decodes (qtdemux,
  an H.264 decoder, opusdec) from its first frame to its last, both
  tracks;
- a second player that comes when the newest keyframe is too old to
  start at gets a start point within a few seconds (the relay asks the
  publisher for it), and a second ?start=1 from the same token at once is
  not passed on; a third player's ?start=1 within the feed's half second
  of folding is folded into the keyframe just asked for, and its reply
  says no keyframe was asked for it (start_requested false).
"""
import os
import time

import harness
from harness import check, check_eq, log, wait_until
from common import viewer_token
from recording_media import inspect

ROOM = "h264"
PLAYLIST = "/api/rooms/%s/segments" % ROOM
# The page's KK_SEGMENTS_MAX_BEHIND_S: a start point older is waited on.
MAX_BEHIND_S = 3.5
WATCH_S = 20


def playlist(d, tok, start=False):
    r = harness.http("GET", d.url(PLAYLIST + ("?start=1" if start else "")),
                     token=tok)
    check_eq(r.status, 200, "playlist")
    return r.json()


def fresh_start(pl):
    """The newest keyframe segment, if fresh enough to start with."""
    keyframes = [s for s in pl["segments"] if s["keyframe"]]
    if not pl["init"] or not keyframes or pl["live_edge"] is None:
        return None
    if pl["live_edge"] - keyframes[-1]["start"] > MAX_BEHIND_S:
        return None
    return keyframes[-1]


def test(ctx):
    d = ctx.daemon()
    room = d.create_room(ROOM)
    pub = ctx.start_peer("whip_gst.py", "--url", d.whip_url(ROOM),
                         "--token", room["host_token"], "--codec", "h264",
                         "--keyframe-interval", "1200", "--duration", "0")
    d.wait_live(ROOM)
    tok = viewer_token(d, ROOM)
    other_tok = viewer_token(d, ROOM, name="Ola Annen")
    third_tok = viewer_token(d, ROOM, name="Per Tredje")

    # The player starts: ?start=1 until a fresh keyframe segment is there.
    t0 = time.monotonic()
    pl = wait_until(lambda: (lambda p: p if fresh_start(p) else None)(
        playlist(d, tok, start=True)), 20, "a fresh start point",
        interval=0.5)
    start = fresh_start(pl)
    log("start point after %.1f s: segment %d, %.2f s behind live",
        time.monotonic() - t0, start["seq"],
        pl["live_edge"] - start["start"])
    check(pl["mime_type"].startswith('video/mp4; codecs="avc1.42')
          and pl["mime_type"].endswith(',opus"'), "MSE type %s",
          pl["mime_type"])
    check(pl["init"].endswith("-init.mp4"), "init %s", pl["init"])
    init = harness.http("GET", d.url(pl["init"]), token=tok)
    check_eq(init.status, 200, "init")
    check_eq(init.header("Content-Type"), "video/mp4", "init type")
    check(init.body[4:8] == b"ftyp", "init starts with ftyp")

    # Then every later segment once, in order, for WATCH_S. She plays
    # from the start point at normal speed from her first fetch on: how
    # far behind live that is, and whether the media she has runs out.
    fetched, behind, starved = [], [], []
    nxt = start["seq"]
    played_from = None
    while played_from is None or time.monotonic() - played_from < WATCH_S:
        pl = playlist(d, tok)
        for seg in pl["segments"]:
            if seg["seq"] < nxt:
                continue
            check_eq(seg["seq"], nxt, "no segment missed")
            r = harness.http("GET", d.url(seg["url"]), token=tok)
            check_eq(r.status, 200, "segment %d" % seg["seq"])
            check_eq(r.header("Content-Type"), "video/mp4", "segment type")
            check(r.body[4:8] == b"moof", "segment %d starts with moof",
                  seg["seq"])
            fetched.append((seg, r.body))
            nxt = seg["seq"] + 1
            if played_from is None:
                played_from = time.monotonic()
        if played_from is not None:
            position = start["start"] + time.monotonic() - played_from
            newest = fetched[-1][0]
            behind.append(pl["live_edge"] - position)
            starved.append(position - (newest["start"] + newest["duration"]))
        time.sleep(0.5)
    log("%d segments: durations %s; keyframes at %s", len(fetched),
        [round(s["duration"], 2) for s, _ in fetched],
        [s["seq"] for s, _ in fetched if s["keyframe"]])
    log("behind live: max %.2f s, mean %.2f s; media ahead of the playing "
        "position: min %.2f s", max(behind), sum(behind) / len(behind),
        -max(starved))
    check(len(fetched) >= WATCH_S - 3, "segments fetched: %d", len(fetched))
    # Video lost on the way in (a busy machine's jitter buffer gives up on
    # late packets) is a reason for a keyframe: the frames after it do not
    # decode until one. The relay logs each; those keyframes are allowed
    # for, and only those.
    losses = d.log_text().count("video lost on the way in")
    log("video losses on the way in: %d", losses)
    # About a second each (the GOP is 40 s), or shorter where a keyframe
    # (asked for after a loss) came soon after a cut; only the start and
    # those keyframes on a keyframe.
    for i, (seg, _) in enumerate(fetched[1:], 1):
        cut_by_keyframe = i + 1 == len(fetched) or fetched[i + 1][0]["keyframe"]
        check(seg["duration"] <= 1.6
              and (seg["duration"] >= 0.5 or cut_by_keyframe),
              "segment %d lasts %.2f s", seg["seq"], seg["duration"])
    check(fetched[0][0]["keyframe"], "the start point is a keyframe")
    check(sum(1 for s, _ in fetched if s["keyframe"]) <= 2 + losses,
          "keyframe segments while she watched: %s",
          [s["seq"] for s, _ in fetched if s["keyframe"]])
    check(max(behind) <= 4.0, "behind live: %.2f s", max(behind))
    # A player buffers a little; a segment is listed when the next begins.
    check(max(starved) <= 0.3, "ran out of media by %.2f s", max(starved))

    # Everything she fetched, after the init, decodes from its first frame.
    path = os.path.join(ctx.workdir, "player.mp4")
    with open(path, "wb") as f:
        f.write(init.body + b"".join(body for _, body in fetched))
    media = inspect(path)
    want = sum(s["duration"] for s, _ in fetched)
    check(media["video"] == "video/x-h264", "video %s", media)
    check(media["video_frames"] >= (want - 0.5) * 25, "video frames %s "
          "over %.1f s", media, want)
    check(media["audio_buffers"] >= (want - 0.5) * 40, "audio %s", media)
    check(media["video_span"] >= want - 0.1, "video decoded over %.2f s "
          "of %.2f s", media["video_span"], want)
    check_eq(harness.http("GET", d.url("%s/%s-2.webm" % (PLAYLIST, pl["id"])),
                          token=tok).status, 404, "a WebM name for MP4")

    # A second player, once the newest keyframe is too old to start at
    # (the one she started at has left the window; x264 may have put one
    # at a scene cut since): asking for a start point brings a fresh one.
    losses_before = d.log_text().count("video lost on the way in")
    # A loss's keyframe comes within a few hundred ms of its ask and is
    # listed about a second later: for a loss logged before that count,
    # 2.5 s on, the wait below sees it and waits until it is stale. One
    # logged after it may have folded her request (within 500 ms), or
    # brought a keyframe the segmenter has but does not list yet (under
    # 2 s old: it needs none for her); either way none is asked for her.
    time.sleep(2.5)
    wait_until(lambda: not fresh_start(playlist(d, other_tok)), 15,
               "no fresh start point", interval=0.5)
    asked_at = time.monotonic()
    first = playlist(d, other_tok, start=True)
    third = playlist(d, third_tok, start=True)
    # Both reached the feed within this time, the third after the first.
    both_within = time.monotonic() - asked_at
    # Unless a loss meanwhile brought a keyframe the relay asked for
    # already (then the newest is too young to ask again).
    check(first["start_requested"]
          or d.log_text().count("video lost on the way in") > losses_before,
          "a keyframe asked for the new player")
    check(not playlist(d, other_tok, start=True)["start_requested"],
          "a second ?start=1 at once is not passed on")
    # The feed folds keyframe requests into one per 500 ms: the third
    # player's need was passed on (another token) but folded, and the
    # reply says so (on a machine too busy to ask twice within 500 ms it
    # may have been asked for again).
    log("first and third ?start=1 within %.3f s: %s, %s", both_within,
        first["start_requested"], third["start_requested"])
    if both_within < 0.5:
        check(not third["start_requested"],
              "a folded start point is not reported as asked for")
    t1 = time.monotonic()
    wait_until(lambda: fresh_start(playlist(d, other_tok)), 6,
               "a start point for the second player", interval=0.5)
    log("second player's start point after %.1f s", time.monotonic() - t1)
    check_eq(harness.http("GET", d.url(PLAYLIST + "?start=2"),
                          token=other_tok).status, 400, "start=2")

    # What the publisher was asked for (the feed's requests, folded), and
    # so sent: one keyframe to start the segments, one for the second
    # player's start point; not one a second for the 20 s she watched
    # (the keyframe segments above show what it sent meanwhile).
    relay_asked = d.metric("kringkast_keyframe_requests_total")
    losses = d.log_text().count("video lost on the way in")
    log("keyframe requests sent to the publisher: %s", relay_asked)
    check(1 <= relay_asked <= 3 + losses, "keyframe requests sent: %s",
          relay_asked)
    p = pub.stop()
    check(p.ok, "publisher: %s", p.error)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
