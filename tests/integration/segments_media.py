# SPDX-License-Identifier: Apache-2.0
"""What the HTTPS segments tests share: decoding what a player would get."""
import os

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def decode(data, workdir, extension):
    """Decodes an init segment and segments, as one stream, with GStreamer
    (decodebin picks the demuxer and decoders); returns (video frames,
    first video PTS in seconds, audio buffers)."""
    path = os.path.join(workdir, "segments." + extension)
    with open(path, "wb") as f:
        f.write(data)
    Gst.init(None)
    pipeline = Gst.parse_launch("filesrc location=%s ! decodebin name=d" % path)
    counts = {"video": 0, "audio": 0, "first": None}

    def probe(pad, info, kind):
        if kind == "video" and counts["first"] is None:
            counts["first"] = info.get_buffer().pts / Gst.SECOND
        counts[kind] += 1
        return Gst.PadProbeReturn.OK

    def pad_added(decodebin, pad):
        caps = pad.get_current_caps().to_string()
        kind = "video" if caps.startswith("video/") else "audio"
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        pad.add_probe(Gst.PadProbeType.BUFFER, probe, kind)

    pipeline.get_by_name("d").connect("pad-added", pad_added)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        raise AssertionError("decoding the segments: %s"
                             % (msg.parse_error()[0].message if msg else
                                "timed out"))
    return counts["video"], counts["first"], counts["audio"]
