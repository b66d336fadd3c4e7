#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A room camera over RTSP: H.264 passed through, AAC transcoded to Opus.

GStreamer's RTSP server plays the camera (H.264 constrained baseline and
AAC). The room's source is pipelines/rtsp.pipeline with the camera's URL;
a viewer must decode H.264 (not re-encoded: same profile, same size) and
Opus audio.
"""
import os

import harness
from harness import check
from common import viewer_token


def test(ctx):
    port = harness.free_port()
    ctx.start_peer("rtsp_camera.py", "--port", str(port))
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[room aud1]\ntitle=Auditorium\nsource=rtsp\n"
                "source-uri=rtsp://127.0.0.1:%d/camera\n" % port)
    d = ctx.daemon(extra_args=["--config", conf])
    d.wait_live("aud1", timeout=20)
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url("aud1"),
                     "--token", viewer_token(d, "aud1"), "--duration", "4",
                     "--min-video-frames", "30", "--min-audio-ms", "2500")
    check(r.ok, "viewer: %s", r.error)
    received = {k.lower(): v for k, v in r["received_codecs"].items()}
    check(received.get("h264", 0) > 30 and "vp8" not in received,
          "H.264 passed through: %s", r["received_codecs"])
    check(received.get("opus", 0) > 50, "Opus audio: %s", r["received_codecs"])
    check(r["width"] == 320 and r["height"] == 240, "camera's own size")
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
