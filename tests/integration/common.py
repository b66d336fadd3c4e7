# SPDX-License-Identifier: Apache-2.0
"""What several integration tests share: a daemon with a pipeline room."""
import os
import shutil

import harness

PIPELINES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "..", "..", "pipelines")


def pipeline_daemon(ctx, room="lecture", source="testsrc-small", extra=()):
    """A daemon whose room `room` is fed by pipelines/<source>.pipeline."""
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[room %s]\ntitle=Test lecture\nsource=%s\n" % (room, source))
    d = ctx.daemon(extra_args=["--config", conf] + list(extra))
    d.wait_live(room)
    return d


def light_pipeline_daemon(ctx, light_vp8):
    """A daemon whose room "lecture" is fed by testsrc-small, with an
    operator's pipelines folder (a copy of pipelines/) in which
    light-vp8.pipeline is light_vp8(its text) instead."""
    pipelines = os.path.join(ctx.workdir, "pipelines")
    shutil.copytree(PIPELINES, pipelines)
    light = os.path.join(pipelines, "light-vp8.pipeline")
    with open(light) as f:
        description = light_vp8(f.read())
    with open(light, "w") as f:
        f.write(description)
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[ingest]\npipelines-dir=%s\n"
                "[room lecture]\ntitle=Test lecture\nsource=testsrc-small\n"
                % pipelines)
    d = ctx.daemon(extra_args=["--config", conf])
    d.wait_live("lecture")
    return d


def viewer_token(d, room, name="Kari Nordmann", workplace="Gjøvik helsestasjon"):
    return d.join(room, name, workplace)["token"]


def check_one_stream(rtp, who):
    """A viewer's video as whep_aiortc.py saw it (its "video_rtp") is one
    stream: one SSRC, no sequence gap, time never going back, VP8 picture
    ids +1 per picture, whatever layers it was spliced from."""
    harness.check_eq(rtp["ssrcs"], 1, who + ": video SSRCs")
    harness.check_eq(rtp["seq_gaps"], 0, who + ": video sequence gaps")
    harness.check_eq(rtp["ts_backwards"], 0, who + ": timestamps going back")
    harness.check_eq(rtp["picture_id_gaps"], 0, who + ": VP8 picture id gaps")
