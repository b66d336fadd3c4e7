#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A WHEP viewer (tests/peers/whep_gst.py) that also writes down when each
video frame left its decoder.

Takes whep_gst.py's options plus --frames FILE: at exit, FILE gets one
line per decoded video frame, its wall-clock time in seconds (the clock
the benchmark's windows are on). The frame rate a person would see in any
window is then a count of lines.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "peers"))
import peerlib  # noqa: E402
import whep_gst  # noqa: E402


class FrameViewer(whep_gst.Viewer):
    def __init__(self, args):
        super().__init__(args)
        self.times = []

    def on_video(self, sink, buf, pad):
        super().on_video(sink, buf, pad)
        with self.lock:
            self.times.append(time.time())


def main():
    frames = None
    if "--frames" in sys.argv:
        i = sys.argv.index("--frames")
        frames = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    args = whep_gst.parse_args()
    whep_gst.log = peerlib.setup_logging("frame_viewer", args.verbose)
    whep_gst.Gst.init(None)
    viewer = FrameViewer(args)
    code = viewer.run()
    if frames is not None:
        with open(frames, "w") as f:
            f.write("".join("%.6f\n" % t for t in viewer.times))
    peerlib.emit(viewer.result)
    return code


if __name__ == "__main__":
    sys.exit(main())
