#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hosts publish over WHIP; viewers decode; the host's DELETE ends it.

Publishers: GStreamer webrtcbin sending VP8 + Opus with all candidates in
the offer, and H.264 (constrained baseline, as OBS sends) + Opus with
trickled candidates (PATCH). Debian's whip-client is tried too, and is
skipped where the Debian package cannot start (libsoup 2 and 3 in one
process).
"""
import os
import re

import harness
from harness import check, check_eq
from common import viewer_token

TWCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


def browser_feedback(d):
    """A browser publisher's offer (Chrome's, sending) must be answered
    with NACK, PLI and transport-wide congestion control, the extension
    included, or the browser's encoder never ramps up."""
    info = d.create_room("chrome")
    chrome = open(os.path.join(harness.REPO, "tests", "sdp",
                               "chrome-recvonly.sdp")).read()
    offer = chrome.replace("a=recvonly", "a=sendonly")
    r = harness.http("POST", d.whip_url("chrome"), body=offer,
                     token=info["host_token"], content_type="application/sdp")
    check_eq(r.status, 201, "WHIP POST of a Chrome offer (%s)" % r.text[:200])
    answer = r.text
    video = answer[answer.index("m=video"):]
    pt = video.split("\r\n")[0].split()[3]
    for fb in ("nack", "nack pli", "ccm fir", "transport-cc"):
        check("a=rtcp-fb:%s %s\r\n" % (pt, fb) in video,
              "answer has rtcp-fb %s for %s" % (fb, pt))
    check(re.search(r"a=extmap:\d+ " + re.escape(TWCC), video),
          "answer has the transport-cc extension")
    check(re.search(r"a=rtpmap:\d+ rtx/90000", video), "answer has RTX")
    check(re.search(r"a=rtpmap:%s (VP8|H264)/90000" % pt, video),
          "answer's video codec: %s" % video[:200])
    resource = d.url(r.header("Location"))
    ufrag = re.search(r"a=ice-ufrag:(\S+)", offer).group(1)
    pwd = re.search(r"a=ice-pwd:(\S+)", offer).group(1)
    frag = ("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
            "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n")
    r = harness.http("PATCH", resource, body=frag % (ufrag, pwd),
                     token=info["host_token"],
                     content_type="application/trickle-ice-sdpfrag")
    check_eq(r.status, 204, "trickled candidate (%s)" % r.text[:200])
    r = harness.http("PATCH", resource, body=frag % ("newu", "newpasswordnewpassword"),
                     token=info["host_token"],
                     content_type="application/trickle-ice-sdpfrag")
    check_eq(r.status, 422, "ICE restart refused clearly (%s)" % r.text[:200])
    check_eq(harness.http("DELETE", resource,
                          token=info["host_token"]).status, 200, "DELETE")


def obs_offer(d):
    """OBS 30's WHIP output (libdatachannel): session-level ICE and DTLS,
    Opus first, H.264 constrained baseline, goog-remb. It must be answered
    with H.264 and Opus as offered."""
    info = d.create_room("obs")
    offer = open(os.path.join(harness.REPO, "tests", "sdp", "obs-whip.sdp")).read()
    r = harness.http("POST", d.whip_url("obs"), body=offer,
                     token=info["host_token"], content_type="application/sdp")
    check_eq(r.status, 201, "WHIP POST of an OBS offer (%s)" % r.text[:200])
    check(re.search(r"m=audio \d+ UDP/TLS/RTP/SAVPF 111", r.text), "Opus 111")
    check(re.search(r"a=rtpmap:96 H264/90000", r.text), "H.264 96")
    check(re.search(r"a=fmtp:96 [^\r]*packetization-mode=1", r.text),
          "packetization-mode 1")
    check(re.search(r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 ", r.text, re.I),
          "a loopback host candidate")
    check_eq(harness.http("DELETE", d.url(r.header("Location")),
                          token=info["host_token"]).status, 200, "DELETE")


def publish_and_watch(ctx, d, room, codec, trickle):
    info = d.create_room(room)
    args = ["--url", d.whip_url(room), "--token", info["host_token"],
            "--duration", "0", "--codec", codec]
    if trickle:
        args.append("--trickle")
    pub = ctx.start_peer("whip_gst.py", *args)
    d.wait_live(room)
    check(d.metric("kringkast_publishers", {"kind": "whip"}) == 1,
          "/metrics counts the publisher")
    session = d.room(room)["session_id"]
    check(session, "a session id while live")
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url(room),
                     "--token", viewer_token(d, room), "--duration", "4",
                     "--min-video-frames", "50", "--min-audio-ms", "3000")
    check(r.ok, "viewer of %s: %s", codec, r.error)
    received = {name.lower(): n for name, n in r["received_codecs"].items()}
    check(received.get(codec, 0) > 50 and len(received) == 2,
          "viewer received %s", r["received_codecs"])
    p = pub.stop()
    check(p.ok and p["connected"], "publisher: %s", p.error)
    d.wait_live(room, live=False, timeout=5)
    check(d.metric("kringkast_publishers", {"kind": "whip"}) == 0,
          "/metrics: the publisher is gone")
    sessions = d.sessions(room)
    check(len(sessions) == 1 and sessions[0]["ended_at"],
          "one session, ended by the host's DELETE: %s", sessions)


def test(ctx):
    d = ctx.daemon()
    browser_feedback(d)
    obs_offer(d)
    publish_and_watch(ctx, d, "vp8room", "vp8", trickle=False)
    publish_and_watch(ctx, d, "h264room", "h264", trickle=True)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
