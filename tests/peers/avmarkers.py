# SPDX-License-Identifier: Apache-2.0
"""Audio/video sync markers: made by a publisher, found in a recording.

The publisher (whip_gst.py --markers) sends a black picture and silence;
at known, irregular times the picture turns white for a few frames and,
at the same running time, a 1 kHz beep starts. Both tracks are made
here, frame by frame and buffer by buffer, and pushed into appsrcs at
the pace of the pipeline clock, each buffer stamped with the running
time it stands for, like a camera and a sound card would: so each marker
sits exactly at its time in both tracks before anything is encoded (the
picture flips on a frame, the beep on a sample).

The gaps between markers are irregular (a fixed pseudo-random sequence,
0.8 to 1.7 s): a track shifted by a whole gap cannot line up with the
other one by accident, and a recording that starts anywhere in the
schedule can still be placed in it.

measure() decodes a file (any container GStreamer reads), finds every
flash (the first all-white picture after an all-black one) and every
beep (the first sample above a tenth of full scale after 50 ms of
silence), places both series on the schedule, and returns per marker
the audio onset minus the video onset: positive when the sound comes
late.
"""

import array
import bisect
import math
import random
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

SEED = 20240611
GAP_MIN_S = 0.8
GAP_MAX_S = 1.7
FLASH_FRAMES = 3
BEEP_S = 0.1
BEEP_HZ = 1000
BEEP_AMPLITUDE = 16384
RATE = 48000
AUDIO_BUFFER_S = 0.01
# Matching a detected onset to the schedule: a marker found farther than
# this from where the others say it should be is counted as unmatched.
MATCH_TOLERANCE_S = 0.35


def gaps_in_frames(fps, count):
    """The schedule's gaps, in whole frames, always the same sequence."""
    rng = random.Random(SEED)
    lo, hi = round(GAP_MIN_S * fps), round(GAP_MAX_S * fps)
    return [rng.randint(lo, hi) for _ in range(count)]


def schedule_frames(fps, seconds):
    """Marker times in frames from the schedule's origin (the first
    marker is at 1 s)."""
    out, frames = [], fps
    for gap in gaps_in_frames(fps, int(seconds / GAP_MIN_S) + 2):
        if frames / fps > seconds:
            break
        out.append(frames)
        frames += gap
    return out


def schedule(fps, seconds):
    """Marker times in seconds from the schedule's origin."""
    return [f / fps for f in schedule_frames(fps, seconds)]


# Like a capture device's ring buffer, each appsrc holds 100 ms and
# drops the oldest when nobody reads (webrtcbin holds its input back
# until it is connected): a device does not build up a backlog.
APPSRC = ("appsrc is-live=true format=time do-timestamp=false "
          "max-time=100000000 max-bytes=0 max-buffers=0 leaky-type=downstream")


def video_source(width, height, fps):
    """The publisher's raw video, for gst_parse_launch (name markv)."""
    return ("%s name=markv caps=video/x-raw,format=I420,width=%d,height=%d,"
            "framerate=%d/1" % (APPSRC, width, height, fps))


def audio_source():
    """The publisher's raw audio, for gst_parse_launch (name marka)."""
    return ("%s name=marka caps=audio/x-raw,format=S16LE,rate=%d,channels=1,"
            "layout=interleaved" % (APPSRC, RATE))


class Source:
    """Feeds a pipeline made with video_source () and audio_source ()
    from start () (once it is PLAYING) until stop (). .sent holds the
    markers' running times (s), and .emitted, per marker index, the
    running times at which the video turned white and the audio loud as
    seen on the src pads of the elements named video_tap and audio_tap
    (the last raw ones before the encoders, so that a frame a leaky queue
    drops counts): the publisher's own offsets, before encoding."""

    def __init__(self, pipeline, width, height, fps, seconds,
                 video_tap="markv", audio_tap="marka"):
        self.pipeline = pipeline
        self.fps = fps
        self.seconds = seconds
        self.video = pipeline.get_by_name("markv")
        self.audio = pipeline.get_by_name("marka")
        luma, chroma = width * height, (width // 2) * (height // 2)
        self.black = bytes([16]) * luma + bytes([128]) * (2 * chroma)
        self.white = bytes([235]) * luma + bytes([128]) * (2 * chroma)
        self.sent = []
        self.emitted = {}
        self._white = True
        self._loud = True
        self._stopping = threading.Event()
        self._thread = None
        pipeline.get_by_name(video_tap).get_static_pad("src").add_probe(
            Gst.PadProbeType.BUFFER, self._on_frame)
        pipeline.get_by_name(audio_tap).get_static_pad("src").add_probe(
            Gst.PadProbeType.BUFFER, self._on_samples)

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _running_time(self):
        clock = self.pipeline.get_clock()
        return clock.get_time() - self.pipeline.get_base_time()

    def _run(self):
        frame_ns = Gst.SECOND / self.fps
        # The running time exists once the pipeline plays.
        while self.pipeline.get_state(0)[1] != Gst.State.PLAYING:
            if self._stopping.wait(0.01):
                return
        origin = self._running_time()
        marks = [origin + round(f * frame_ns)
                 for f in schedule_frames(self.fps, self.seconds)]
        self.sent = [m / Gst.SECOND for m in marks]
        flash_ns = round(FLASH_FRAMES * frame_ns)
        beep_ns = int(BEEP_S * Gst.SECOND)
        samples = int(AUDIO_BUFFER_S * RATE)
        frame = sample = 0
        while not self._stopping.is_set():
            video_pts = origin + round(frame * frame_ns)
            audio_pts = origin + sample * Gst.SECOND // RATE
            # A camera delivers a frame at its time, a sound card a buffer
            # once it is full.
            video_due = video_pts
            audio_due = audio_pts + samples * Gst.SECOND // RATE
            due = min(video_due, audio_due)
            wait = (due - self._running_time()) / Gst.SECOND
            if wait > 0:
                time.sleep(wait)
            if video_due <= audio_due:
                i = bisect.bisect_right(marks, video_pts) - 1
                white = i >= 0 and video_pts < marks[i] + flash_ns
                ok = self._push(self.video, self.white if white
                                else self.black, video_pts, round(frame_ns))
                frame += 1
            else:
                data = self._samples(marks, origin, sample, samples, beep_ns)
                ok = self._push(self.audio, data, audio_pts,
                                samples * Gst.SECOND // RATE)
                sample += samples
            if not ok:
                return

    @staticmethod
    def _samples(marks, origin, first, count, beep_ns):
        """S16 samples [first, first + count) of the audio (sample 0 at
        running time origin): silence, and a sine wherever a beep is on."""
        start_ns = origin + first * Gst.SECOND // RATE
        end_ns = origin + (first + count) * Gst.SECOND // RATE
        i = bisect.bisect_right(marks, end_ns)
        on = [m for m in marks[max(0, i - 2):i]
              if m < end_ns and m + beep_ns > start_ns]
        if not on:
            return bytes(2 * count)
        out = array.array("h", bytes(2 * count))
        for n in range(first, first + count):
            t = origin + n * Gst.SECOND // RATE
            if any(m <= t < m + beep_ns for m in on):
                out[n - first] = int(BEEP_AMPLITUDE * math.sin(
                    2 * math.pi * BEEP_HZ * n / RATE))
        return out.tobytes()

    @staticmethod
    def _push(appsrc, data, pts, duration):
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = pts
        buf.duration = duration
        return appsrc.emit("push-buffer", buf) == Gst.FlowReturn.OK

    def _note(self, kind, t):
        if not self.sent:
            return
        i, marker = nearest(self.sent, t)
        if abs(marker - t) < MATCH_TOLERANCE_S:
            self.emitted.setdefault(i, [None, None])[kind] = t

    def _on_frame(self, _pad, info):
        buf = info.get_buffer()
        ok, mapped = buf.map(Gst.MapFlags.READ)
        if ok:
            white = mapped.data[0] > 128
            buf.unmap(mapped)
            if white and not self._white:
                self._note(0, buf.pts / Gst.SECOND)
            self._white = white
        return Gst.PadProbeReturn.OK

    def _on_samples(self, _pad, info):
        buf = info.get_buffer()
        ok, mapped = buf.map(Gst.MapFlags.READ)
        if ok:
            samples = array.array("h", bytes(mapped.data))
            buf.unmap(mapped)
            first = first_loud(samples)
            if first is not None and not self._loud:
                self._note(1, buf.pts / Gst.SECOND + first / RATE)
            self._loud = first is not None
        return Gst.PadProbeReturn.OK

    def offsets(self, since=None):
        """The publisher's own audio-minus-video offsets (s), by marker
        index, of the markers it emitted in both tracks (from running
        time `since` on, when given)."""
        return {i: a - v for i, (v, a) in self.emitted.items()
                if v is not None and a is not None
                and (since is None or v >= since)}

    def running_time(self):
        """The pipeline's running time now (s), as the markers' times."""
        clock = self.pipeline.get_clock()
        if clock is None:
            return None
        return (clock.get_time() - self.pipeline.get_base_time()) / Gst.SECOND


# -- finding the markers in a file ------------------------------------------

LOUD = int(0.1 * 32767)


def first_loud(samples):
    """Index of the first sample of S16 samples above a tenth of full
    scale, or None."""
    if not samples or (max(samples) < LOUD and -min(samples) < LOUD):
        return None
    return next(i for i, x in enumerate(samples) if abs(x) >= LOUD)


def running_time(pad, pts):
    """The time (ns) at which a player plays the buffer stamped pts on
    pad: its running time. A demuxer that honours an MP4 edit list (a
    track that starts late has an empty edit first) says so in the
    segment, not in the timestamps."""
    event = pad.get_sticky_event(Gst.EventType.SEGMENT, 0)
    if event is None:
        return pts
    return event.parse_segment().to_running_time(Gst.Format.TIME, pts)


class Onsets:
    """Finds flashes and beeps in decoded media as it comes: video as
    16x16 GRAY8 thumbnails, audio as S16 mono at RATE, each buffer with
    the running time (s) it plays at. video and audio are the onsets
    found (s); video_sizes, beside video, the size of the picture each
    flash was decoded at, when the caller said (see size)."""

    def __init__(self):
        self.video, self.audio, self.video_sizes = [], [], []
        self.frames = self.samples = 0
        self.white = self.loud = True
        self.quiet_since = None
        self.starts = {}
        self.size = None      # the decoded picture's (width, height)

    def on_thumb(self, t, thumb):
        self.starts.setdefault("video", t)
        self.frames += 1
        # A picture a lost packet broke is neither all white nor all
        # black, and is not taken for either.
        if min(thumb) > 180:
            if not self.white:
                self.video.append(t)
                self.video_sizes.append(self.size)
            self.white = True
        elif max(thumb) < 60:
            self.white = False

    def on_samples(self, t, pts, duration, samples):
        self.starts.setdefault("audio", t)
        self.samples += len(samples)
        first = first_loud(samples)
        if first is None:
            # Silence: a beep may start again after 50 ms of it.
            if self.quiet_since is None:
                self.quiet_since = pts
            if pts + duration - self.quiet_since >= 50 * Gst.MSECOND:
                self.loud = False
            return
        self.quiet_since = None
        if not self.loud:
            self.audio.append(t + first / RATE)
        self.loud = True

    def video_probe(self, pad, info):
        """A buffer probe for the thumbnails' pad."""
        buf = info.get_buffer()
        ok, mapped = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.PadProbeReturn.OK
        thumb = bytes(mapped.data)
        buf.unmap(mapped)
        self.on_thumb(running_time(pad, buf.pts) / Gst.SECOND, thumb)
        return Gst.PadProbeReturn.OK

    def audio_probe(self, pad, info):
        """A buffer probe for the samples' pad."""
        buf = info.get_buffer()
        ok, mapped = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.PadProbeReturn.OK
        samples = array.array("h", bytes(mapped.data))
        buf.unmap(mapped)
        self.on_samples(running_time(pad, buf.pts) / Gst.SECOND, buf.pts,
                        buf.duration, samples)
        return Gst.PadProbeReturn.OK


# What turns decoded media into what Onsets reads.
THUMBS = ("videoconvert ! videoscale ! "
          "video/x-raw,format=GRAY8,width=16,height=16")
SAMPLES = ("audioconvert ! audioresample ! "
           "audio/x-raw,format=S16LE,channels=1,rate=%d" % RATE)


def find_onsets(path, timeout_s=3600):
    """Decodes path; returns (video onsets, audio onsets) in seconds of
    the file's timeline (as a player plays it), the number of video
    frames and audio seconds decoded, and where each track starts (s)."""
    pipeline = Gst.parse_launch(
        "filesrc name=src ! decodebin name=dec "
        "queue name=vconv ! %s ! fakesink name=vsink "
        "queue name=aconv ! %s ! fakesink name=asink" % (THUMBS, SAMPLES))
    pipeline.get_by_name("src").set_property("location", path)
    for sink in ("vsink", "asink"):
        pipeline.get_by_name(sink).set_property("sync", False)
    onsets = Onsets()

    def pad_added(_dec, pad):
        name = pad.get_current_caps().get_structure(0).get_name()
        target = "vconv" if name.startswith("video/") else "aconv"
        pad.link(pipeline.get_by_name(target).get_static_pad("sink"))

    pipeline.get_by_name("dec").connect("pad-added", pad_added)
    pipeline.get_by_name("vsink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, onsets.video_probe)
    pipeline.get_by_name("asink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, onsets.audio_probe)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        int(timeout_s * Gst.SECOND),
        Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        raise RuntimeError("decoding %s timed out" % path)
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        raise RuntimeError("decoding %s: %s (%s)" % (path, err.message, dbg))
    return (onsets.video, onsets.audio, onsets.frames,
            onsets.samples / RATE, onsets.starts)


def place(onsets, times):
    """Finds where a series of onsets sits in the schedule: the shift
    that lines most of them up with marker times. Returns {marker index:
    onset} for the onsets within MATCH_TOLERANCE_S of their marker."""
    if not onsets:
        return {}
    best = ((0, 0.0), 0.0)
    probe = onsets[:20]
    # Each onset of the probe in turn is tried on each marker, not only
    # the first: a first onset late by most of the tolerance (a receiver
    # still starting) would otherwise decide the shift for all the rest.
    # The most onsets within the tolerance wins, then the closest fit.
    for anchor in probe[:5]:
        for k in range(len(times)):
            shift = anchor - times[k]
            errors = [abs(nearest(times, t - shift)[1] - (t - shift))
                      for t in probe]
            hits = [e for e in errors if e < MATCH_TOLERANCE_S]
            score = (len(hits), -sum(hits))
            if score > best[0]:
                best = (score, shift)
    shift = best[1]
    placed = {}
    for t in onsets:
        i, marker = nearest(times, t - shift)
        if abs(marker - (t - shift)) < MATCH_TOLERANCE_S and i not in placed:
            placed[i] = t
    return placed


def nearest(times, t):
    i = bisect.bisect_left(times, t)
    candidates = [j for j in (i - 1, i) if 0 <= j < len(times)]
    j = min(candidates, key=lambda j: abs(times[j] - t))
    return j, times[j]


def match(video, audio, fps, seconds):
    """The markers found in both series of onsets (s): a list of (marker
    index, time of the flash, audio minus video in s)."""
    times = schedule(fps, seconds)
    v = place(video, times)
    a = place(audio, times)
    return [(i, v[i], a[i] - v[i]) for i in sorted(v) if i in a]


def measure(path, fps, seconds):
    """Returns a dict: markers (list of (marker index, file time of the
    flash, audio minus video in s)), video_onsets, audio_onsets (how many
    were found), frames, audio_s (decoded), starts ({"video": s, "audio":
    s}: where each track's first buffer plays)."""
    video, audio, frames, audio_s, starts = find_onsets(path)
    markers = match(video, audio, fps, seconds)
    return {"markers": markers, "video_onsets": len(video),
            "audio_onsets": len(audio), "frames": frames, "audio_s": audio_s,
            "starts": starts}
