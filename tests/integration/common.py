# SPDX-License-Identifier: Apache-2.0
"""What several integration tests share: a daemon with a pipeline room."""
import os

import harness


def pipeline_daemon(ctx, room="lecture", source="testsrc-small", extra=()):
    """A daemon whose room `room` is fed by pipelines/<source>.pipeline."""
    conf = os.path.join(ctx.workdir, "kringkast.conf")
    with open(conf, "w") as f:
        f.write("[room %s]\ntitle=Test lecture\nsource=%s\n" % (room, source))
    d = ctx.daemon(extra_args=["--config", conf] + list(extra))
    d.wait_live(room)
    return d


def viewer_token(d, room, name="Kari Nordmann", workplace="Gjøvik helsestasjon"):
    return d.join(room, name, workplace)["token"]
