#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The relay's route back to a viewer changes mid-lecture, and the viewer
keeps receiving: the source address of its media (IP_PKTINFO) is decided
again on a consent check every 30 s (kk-media-port.c, decide_source).

The lab of turnlab.py, with a second link between the relay and coturn's
namespace (the relay's 10.30.5.1, coturn's 10.30.5.2): a relay with a
second uplink. Two aiortc viewers of one lecture, both on quality "best"
so that the weak-link rules cannot move them while their media is cut:

- the TURN viewer reaches the relay only through coturn (TLS 443), which
  relays from 10.30.1.2 to the relay's media address 10.30.1.1. At first
  the relay's route back to 10.30.1.2 is the shared link, where the
  kernel sends from 10.30.1.1 by itself: no source address is attached.
  Then the route moves to the second link, where the kernel would send
  from 10.30.5.1, an address coturn has no permission for: it drops
  everything from there. Only the answers to the viewer's consent checks,
  always sent from the address the check came to, still reach it. The
  viewer must get its picture back within a consent interval (30 s) and
  aiortc's consent period (5 s, +-20 %), plus a margin.
- the direct viewer, in the test's namespace, sends to 10.30.1.1 while the
  relay's route back to it leaves from 10.30.3.1: the source address is
  attached from the start. At the same moment the route back gains
  "src 10.30.1.1", so the kernel's choice is the right one, and the relay
  must stop paying for the control message (the reverse); the viewer's
  picture must not stop.

The relay's log (kk-port at DEBUG) says what it decided for each viewer
at the start and when it changed its mind; the viewers' decoded frames
per second say what actually arrived.
"""
import os
import time

import harness
import turnlab
from harness import check, check_eq
from common import viewer_token

ROOM = "lecture"
SECOND_RELAY = "10.30.5.1"
SECOND_TURN = "10.30.5.2"
# aiortc's consent checks come every 4-6 s: the check that finds the
# decision 30 s old comes at most 6 s after that, and the test's view of
# when the viewer connected may be a second off its own.
REDECIDE_S = 30 + 6 + 2
# Seconds the viewers receive after the answer: the route changes about
# 3 s after they connect, and the TURN viewer must be seen receiving after
# the relay's second decision for as long as aiortc needs to decode whole
# pictures again after a gap of half a minute (7-9 s), and a few more.
VIEWING_S = 3 + REDECIDE_S + 16

ATTACHED = "from the address the viewer sent to"
KERNELS = "from the kernel's choice of address"


def start_viewer(ctx, node, name, url, token, local_ip, env=None, extra=()):
    argv = harness.peer_argv("whep_aiortc.py", [
        "--url", url, "--token", token, "--local-ip", local_ip,
        "--duration", str(VIEWING_S), "--timeout", str(VIEWING_S + 30),
        "--count-frames", "--quality", "0:best",
        "--min-video-frames", "30"] + list(extra))
    peer = harness.Peer(ctx, name, node.wrap(argv), env=env)
    ctx.peers.append(peer)
    return peer


def decisions(d):
    """What the relay's log says it decided for each viewer, by the media
    port's viewer id: a list of ATTACHED or KERNELS, the first decision
    and then each change; and the id of the viewer on TURN."""
    out, turn = {}, None
    for line in d.log_text().splitlines():
        head, sep, rest = line.partition(" viewer ")
        if not sep or "kk-port" not in head:
            continue
        viewer, _, said = rest.partition(": ")
        if "transport over udp from a TURN relay" in said:
            turn = viewer
        if said.startswith("media sent ") or "media now sent " in said:
            decided = ATTACHED if ATTACHED in said else KERNELS
            seen = out.setdefault(viewer, [])
            # Each decision is logged, the same one again every 30 s.
            if not seen or seen[-1] != decided:
                seen.append(decided)
    return out, turn


def run(ctx, lab):
    relay_second, _ = lab.lab.link(lab.relay, SECOND_RELAY + "/24", lab.turn,
                                   SECOND_TURN + "/24")
    relay_to_test = None
    for line in lab.relay.run(["ip", "-o", "addr", "show"]).stdout.splitlines():
        if " %s/" % turnlab.RELAY_FOR_TEST in line:
            relay_to_test = line.split()[1]
    check(relay_to_test is not None, "the relay's link to the test")
    lab.start_turnserver(tls_only=True)
    conf = turnlab.relay_config(
        ctx.workdir, "[room %s]\ntitle=Test lecture\nsource=testsrc-small\n"
        % ROOM)
    d = ctx.daemon(extra_args=["--config", conf], public_ip=turnlab.RELAY_MEDIA,
                   netns=lab.relay, http_host=turnlab.RELAY_FOR_TEST,
                   env={"GST_DEBUG": "kk-*:4,kk-port:5"})
    d.wait_live(ROOM)

    token = viewer_token(d, ROOM)
    turn_viewer = start_viewer(
        ctx, lab.viewer, "whep_aiortc-turn",
        "http://%s:%d/whep/%s" % (turnlab.RELAY_FOR_VIEWER, d.http_port, ROOM),
        token, turnlab.VIEWER, env=dict(os.environ, SSL_CERT_FILE=lab.cert),
        extra=["--ice-servers", "http://%s:%d/api/rooms/%s/ice-servers" % (
            turnlab.RELAY_FOR_VIEWER, d.http_port, ROOM)])
    direct_viewer = start_viewer(
        ctx, lab.lab.here, "whep_aiortc-direct", d.whep_url(ROOM),
        viewer_token(d, ROOM, "Ola Hansen"), "10.30.3.2")
    harness.wait_until(
        lambda: d.metric("kringkast_viewers", {"transport": "turn"}) == 1
        and d.metric("kringkast_viewers", {"transport": "udp"}) == 1,
        30, "one viewer on TURN and one on UDP in /metrics", interval=0.25)
    t_connected = time.monotonic()
    time.sleep(3)

    # Both routes change at once. The relay's way to coturn's relay
    # address moves to the second link (coturn's way back to the relay's
    # media address with it, so that no reverse-path filter a namespace
    # may inherit drops either direction), and the way back to the test
    # gains the media address as its source.
    lab.relay.ip("route", "replace", turnlab.TURN_RELAY + "/32", "via",
                 SECOND_TURN, "dev", relay_second)
    lab.turn.ip("route", "replace", turnlab.RELAY_MEDIA + "/32", "via",
                SECOND_RELAY)
    lab.relay.ip("route", "replace", "10.30.3.0/24", "dev", relay_to_test,
                 "src", turnlab.RELAY_MEDIA)
    t_changed = time.monotonic()
    harness.log("routes changed %.1f s after both viewers connected",
                t_changed - t_connected)

    t = turn_viewer.wait(VIEWING_S + 40)
    check(t.ok, "TURN viewer: %s", t.error)
    r = direct_viewer.wait(30)
    check(r.ok, "direct viewer: %s", r.error)
    harness.log("TURN viewer: timeline %s, connected %s ms, stats %s",
                t["video_timeline"], t.get("connected_ms"), t["relay_stats"])
    harness.log("direct viewer: timeline %s, connected %s ms, stats %s",
                r["video_timeline"], r.get("connected_ms"), r["relay_stats"])
    for result, who in ((t, "TURN viewer"), (r, "direct viewer")):
        check_eq(result["relay_stats"]["layer"], "full", who + "'s layer")
        check_eq(result["relay_stats"]["layer_switches"], 0,
                 who + "'s layer switches")
    check_eq(t["relay_stats"]["transport"], "turn", "TURN viewer's transport")
    check_eq(r["relay_stats"]["transport"], "udp", "direct viewer's transport")

    # The TURN viewer, second by second since its POST: receiving before
    # the change, cut off after it (coturn dropped the media from the
    # second address: else this test would prove nothing), back within
    # the bound, and receiving to the end. Packets and sound tell when
    # media arrived; aiortc's jitter buffer takes a few seconds more to
    # hand on whole pictures after a gap this long (it restarts on the
    # first packet, then again on the retransmissions of older ones).
    # The peer's timelines end with the last second something arrived in:
    # pad them to the end of its run.
    run_s = int(t["post_ms"] / 1000.0 + t["receive_s"]) + 1
    arrived, sound, pictures = (
        timeline + [0] * (run_s - len(timeline)) for timeline in (
            [second[0] for second in t["video_loss_timeline"]],
            t["audio_timeline"], t["video_timeline"]))
    connected = t["connected_ms"] / 1000.0
    changed = int(t_changed - t_connected + connected)
    check(sum(pictures[changed - 2:changed]) >= 10,
          "TURN viewer's pictures before the change: %s", pictures)
    cut = arrived[changed + 2:changed + 12] + sound[changed + 2:changed + 12]
    check(len(cut) == 20 and sum(cut) == 0,
          "TURN viewer cut off after the route change: packets %s, sound %s",
          arrived, sound)
    back = next((s for s in range(changed + 2, len(arrived))
                 if arrived[s] > 0), None)
    check(back is not None, "TURN viewer never received again: %s", arrived)
    harness.log("MEASURED TURN viewer's media back %d s after the route "
                "change", back - changed)
    check(back - changed <= REDECIDE_S,
          "TURN viewer's media back %d s after the route change (bound %d "
          "s): %s", back - changed, REDECIDE_S, arrived)
    check(len(arrived) - back >= 6 and min(arrived[back + 1:-1]) >= 10
          and min(sound[back + 1:-1]) >= 500,
          "TURN viewer receiving after its media came back: packets %s, "
          "sound %s", arrived[back:], sound[back:])
    # The last whole second (the run's last one is a part) with fewer
    # than 5 pictures is in the cut; from the next on they are steady.
    steady = 1 + max(s for s in range(len(pictures) - 1) if pictures[s] < 5)
    harness.log("MEASURED TURN viewer's pictures steady again %d s after the "
                "route change", steady - changed)
    check(len(pictures) - 1 - steady >= 4,
          "TURN viewer decoding pictures again at the end: %s", pictures)

    # The direct viewer never stopped: every whole second from its first
    # picture to the end has pictures.
    timeline = r["video_timeline"]
    first = next(s for s in range(len(timeline)) if timeline[s] > 0)
    steady = timeline[first + 1:-1]
    check(len(steady) >= VIEWING_S - 5 and min(steady) >= 5,
          "direct viewer receiving throughout: %s", timeline)

    # What the relay decided, as its log says: for the TURN viewer, the
    # kernel's choice and then its media address; for the direct one the
    # reverse (no control message once the kernel's choice is right).
    decided, turn = decisions(d)
    check(turn is not None and len(decided) == 2,
          "two viewers' decisions in the relay's log, one on TURN: %s", decided)
    check_eq(decided.pop(turn), [KERNELS, ATTACHED],
             "the relay's decisions for the TURN viewer")
    check_eq(decided.popitem()[1], [ATTACHED, KERNELS],
             "the relay's decisions for the direct viewer")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(turnlab.test_in_lab(run))
