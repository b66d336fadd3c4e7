# SPDX-License-Identifier: Apache-2.0
"""What the recording tests share: fetching a recording and looking inside.

inspect() asks GStreamer's discoverer (GstPbutils, through gi) for the
container's duration and streams, then decodes the whole file with
decodebin and reports, per stream, how many buffers came out and the
span of their timestamps: a file that is cut, unindexed or undecodable
fails here, not just one with the wrong header. sync() measures audio
against video in a recording of a whip_gst.py --markers publisher.
"""
import os
import statistics
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstPbutils", "1.0")
from gi.repository import Gst, GstPbutils  # noqa: E402

import harness  # noqa: E402
from harness import check, check_eq  # noqa: E402

sys.path.insert(0, harness.PEERS)
import avmarkers  # noqa: E402

Gst.init(None)

TERMINAL = ("finished", "failed", "empty", "deleted")


def session_recording(d, room, session_id=None):
    """The "recording" member of the room's (newest, or given) session."""
    sessions = d.sessions(room)
    check(sessions, "room %s has sessions" % room)
    if session_id is None:
        return sessions[-1]["id"], sessions[-1]["recording"]
    for s in sessions:
        if s["id"] == session_id:
            return s["id"], s["recording"]
    raise harness.TestFailure("no session %s in room %s" % (session_id, room))


def wait_recording(d, room, states=TERMINAL, timeout=30.0, session_id=None):
    """Polls the session listing until the recording is in one of states."""
    def ready():
        sid, rec = session_recording(d, room, session_id)
        return (sid, rec) if rec is not None and rec["state"] in states else None
    return harness.wait_until(ready, timeout, "recording of %s in %s"
                              % (room, "/".join(states)), interval=0.25)


def download(d, url, path, token=Ellipsis, headers=None):
    """GET the recording into path; returns the Response (body dropped)."""
    r = d.api("GET", url, token=token, headers=headers, timeout=60.0)
    if r.status in (200, 206):
        with open(path, "wb") as f:
            f.write(r.body)
    return r


def inspect(path, timeout=60.0):
    """Discover and fully decode path. Returns a dict:
    duration (s), video / audio (caps names in the container),
    video_frames, video_span, audio_buffers, audio_span (s)."""
    check(os.path.getsize(path) > 0, "%s is empty" % path)
    disc = GstPbutils.Discoverer.new(int(timeout * Gst.SECOND))
    info = disc.discover_uri(Gst.filename_to_uri(os.path.abspath(path)))
    check_eq(info.get_result(), GstPbutils.DiscovererResult.OK,
             "discoverer result for %s" % path)
    out = {"duration": info.get_duration() / Gst.SECOND,
           "video": None, "audio": None}
    for s in info.get_video_streams():
        out["video"] = s.get_caps().get_structure(0).get_name()
    for s in info.get_audio_streams():
        out["audio"] = s.get_caps().get_structure(0).get_name()

    pipeline = Gst.parse_launch("filesrc name=src ! decodebin name=dec")
    pipeline.get_by_name("src").set_property("location", path)
    spans = {}

    def probe(pad, probe_info, kind):
        buf = probe_info.get_buffer()
        if buf.pts == Gst.CLOCK_TIME_NONE:
            return Gst.PadProbeReturn.OK
        end = buf.pts + (buf.duration if buf.duration != Gst.CLOCK_TIME_NONE
                         else 0)
        st = spans.setdefault(kind, [0, buf.pts, end])
        st[0] += 1
        st[1] = min(st[1], buf.pts)
        st[2] = max(st[2], end)
        return Gst.PadProbeReturn.OK

    def pad_added(_dec, pad):
        kind = pad.get_current_caps().get_structure(0).get_name().split("/")[0]
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        pad.add_probe(Gst.PadProbeType.BUFFER, probe, kind)

    pipeline.get_by_name("dec").connect("pad-added", pad_added)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        int(timeout * Gst.SECOND), Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    check(msg is not None, "decoding %s timed out" % path)
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        raise harness.TestFailure("decoding %s: %s (%s)" % (path, err.message,
                                                            dbg))
    for kind in ("video", "audio"):
        n, start, end = spans.get(kind, [0, 0, 0])
        out[kind + ("_frames" if kind == "video" else "_buffers")] = n
        out[kind + "_span"] = (end - start) / Gst.SECOND
    harness.log("%s: %s", os.path.basename(path), out)
    return out


def check_media(info, codec, low, high):
    """Both streams decoded, the codec as published, and the container's
    duration and each stream's decoded span within [low, high] seconds."""
    want = {"vp8": "video/x-vp8", "h264": "video/x-h264"}[codec]
    check_eq(info["video"], want, "video codec in the container")
    check_eq(info["audio"], "audio/x-opus", "audio codec in the container")
    check(info["video_frames"] > 0 and info["audio_buffers"] > 0,
          "both streams decode: %s" % info)
    for key in ("duration", "video_span", "audio_span"):
        check(low <= info[key] <= high, "%s %.2f s, want %.1f..%.1f s"
              % (key, info[key], low, high))


class Publish:
    """A whip_gst.py publisher, with the two times a recording is judged
    by: live_span (from the room going live to the end, as the relay saw
    it) and run_s (how long the publisher captured, which includes what
    it captured while still connecting: webrtcbin sends that backlog in
    a burst once connected, with its real timestamps)."""

    def __init__(self, ctx, d, room, token, seconds, *extra):
        self.d = d
        self.room = room
        self.peer = ctx.start_peer("whip_gst.py", "--url", d.whip_url(room),
                                   "--token", token, "--duration", seconds,
                                   "--width", 320, "--height", 240, *extra)
        d.wait_live(room, timeout=20)
        self.t_live = time.monotonic()
        self.result = None

    def finish(self, timeout=40):
        self.result = self.peer.wait(timeout)
        check(self.result.ok, "publisher: %s" % self.result.error)
        self.live_span = time.monotonic() - self.t_live
        self.run_s = self.result["run_s"]
        harness.log("published: live %.2f s, publisher ran %.2f s",
                    self.live_span, self.run_s)
        return self


# Frames per second of a --markers publisher, as sync() expects.
MARKER_FPS = 30


def sync(path, seconds, source_offsets_ms=None):
    """Audio minus video at every marker of a recording of a whip_gst.py
    --markers publisher that ran for at most `seconds`; source_offsets_ms
    is what that publisher reported of its own (by marker index). Returns
    a dict of lists, in file order: indices (of the markers in the
    schedule), times (file time of each flash),
    offsets (s, audio minus video in the file), added (s, that minus the
    publisher's own, for the markers it reported) and added_times; and of
    the added
    offsets first, last, worst (largest magnitude), spread (max - min),
    drift (a least-squares line's slope times the span); found (flashes,
    beeps), span (s), starts (s, where each track's first buffer plays:
    {"video": ..., "audio": ...})."""
    r = avmarkers.measure(path, MARKER_FPS, seconds + 60)
    check(r["markers"], "no marker found in both tracks of %s: %s"
          % (path, {k: v for k, v in r.items() if k != "markers"}))
    source = {int(k): v / 1000 for k, v in (source_offsets_ms or {}).items()}
    times = [t for _, t, _ in r["markers"]]
    offsets = [o for _, _, o in r["markers"]]
    added = [(t, o - source[i]) for i, t, o in r["markers"] if i in source]
    check(added or not source, "no marker of the publisher's in %s" % path)
    added_t = [t for t, _ in added] if added else times
    added = [a for _, a in added] if added else offsets
    drift = 0.0
    if len(added_t) > 2 and added_t[-1] > added_t[0]:
        slope = statistics.linear_regression(added_t, added).slope
        drift = slope * (added_t[-1] - added_t[0])
    out = {"indices": [i for i, _, _ in r["markers"]], "times": times,
           "offsets": offsets, "added": added, "added_times": added_t,
           "first": added[0], "last": added[-1],
           "worst": max(added, key=abs), "spread": max(added) - min(added),
           "drift": drift, "found": (r["video_onsets"], r["audio_onsets"]),
           "span": times[-1] - times[0], "starts": r["starts"]}
    harness.log("%s: %d markers over %.0f s; audio-video in the file "
                "%+.1f..%+.1f ms; added by the relay: first %+.1f ms, last "
                "%+.1f ms, worst %+.1f ms, spread %.1f ms, drift %+.1f ms; "
                "video starts at %.3f s, audio at %.3f s",
                os.path.basename(path), len(offsets), out["span"],
                min(offsets) * 1000, max(offsets) * 1000, out["first"] * 1000,
                out["last"] * 1000, out["worst"] * 1000,
                out["spread"] * 1000, out["drift"] * 1000,
                r["starts"].get("video", -1), r["starts"].get("audio", -1))
    return out


def check_sync(codec, s, source_offsets_ms, bound):
    """What sync() measured, against bound (s): both tracks start together
    (an MP4 track that starts late does so only in an edit list, which not
    every player honours), every marker the publisher vouches for is in
    sync (not one of its start-up, whose frames may have gone missing
    before the wire), and so is what the relay added."""
    late = s["starts"]["audio"] - s["starts"]["video"]
    check(abs(late) < bound, "%s: audio starts %+.1f ms from video"
          % (codec, late * 1000))
    for i, t, off in zip(s["indices"], s["times"], s["offsets"]):
        if str(i) in source_offsets_ms:
            check(abs(off) < bound, "%s: at %.2f s audio is %+.1f ms "
                  "from video" % (codec, t, off * 1000))
    check(abs(s["worst"]) < bound, "%s: the relay moved audio %+.1f ms "
          "from video" % (codec, s["worst"] * 1000))
