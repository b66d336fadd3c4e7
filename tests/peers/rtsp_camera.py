#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An RTSP camera for kringkast's tests: GStreamer's RTSP server (an
independent implementation) serving H.264 video and AAC audio, as a room
camera does, at rtsp://127.0.0.1:PORT/camera.

Runs until SIGTERM. Prints one JSON line {"url": ...} once it listens.
"""
import argparse
import json
import signal
import sys

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LAUNCH = (
    "( videotestsrc is-live=true pattern=smpte "
    "! video/x-raw,width=320,height=240,framerate=15/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 bitrate=300 "
    "! video/x-h264,profile=constrained-baseline "
    "! rtph264pay name=pay0 pt=96 config-interval=-1 "
    "audiotestsrc is-live=true wave=sine freq=330 "
    "! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 "
    "! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/camera", factory)
    if server.attach(None) == 0:
        sys.stderr.write("rtsp_camera: cannot listen on %d\n" % args.port)
        return 2
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(json.dumps({"url": "rtsp://127.0.0.1:%d/camera" % args.port}),
          flush=True)
    loop.run()
    print(json.dumps({"ok": True}), flush=True)
    return 0


sys.exit(main())
