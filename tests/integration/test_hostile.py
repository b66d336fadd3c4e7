#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Bad input gets a clear refusal, is counted, and breaks nothing.

HTTP: unknown room, missing/wrong/foreign tokens, wrong content type,
malformed and hostile SDP, a body over 64 KiB, a second publisher, WHIP to
a room fed by a pipeline. Media port: random UDP datagrams and TCP bytes,
STUN checks with an unknown ufrag and with a bad MESSAGE-INTEGRITY, DTLS
and RTP from addresses no viewer proved. Afterwards the daemon must still
answer /healthz and a real viewer must still decode the lecture.
"""
import hashlib
import hmac
import os
import random
import re
import socket
import struct
import time
import zlib

import harness
from harness import check, check_eq
from common import pipeline_daemon, viewer_token

SDP_DIR = os.path.join(harness.REPO, "tests", "sdp")


def stun_request(username, key):
    """A binding request with USERNAME, MESSAGE-INTEGRITY keyed with key and
    FINGERPRINT (RFC 5389 §15.4, §15.5)."""
    txid = os.urandom(12)
    user = username.encode()
    attrs = struct.pack("!HH", 0x0006, len(user)) + user + b"\0" * (-len(user) % 4)
    attrs += struct.pack("!HHI", 0x0024, 4, 0x6e7f1eff)        # PRIORITY
    header = struct.pack("!HHI", 0x0001, len(attrs) + 24, 0x2112A442) + txid
    mac = hmac.new(key.encode(), header + attrs, hashlib.sha1).digest()
    attrs += struct.pack("!HH", 0x0008, 20) + mac
    header = struct.pack("!HHI", 0x0001, len(attrs) + 8, 0x2112A442) + txid
    crc = (zlib.crc32(header + attrs) ^ 0x5354554E) & 0xffffffff
    return header + attrs + struct.pack("!HHI", 0x8028, 4, crc)


def http_checks(d):
    offer = open(os.path.join(SDP_DIR, "aiortc-recvonly.sdp")).read()
    tok = viewer_token(d, "lecture")
    other = d.create_room("other")
    other_tok = d.join("other", "Per", "Land")["token"]

    def whep(body=offer, token=tok, ctype="application/sdp", room="lecture"):
        return harness.http("POST", d.whep_url(room), body=body.encode()
                            if isinstance(body, str) else body,
                            token=token, content_type=ctype)

    check_eq(whep(room="nosuchroom").status, 404, "unknown room")
    check_eq(whep(token=None).status, 401, "no token")
    check_eq(whep(token="not-a-token").status, 401, "wrong token")
    check_eq(whep(token=other_tok).status, 403, "token of another room")
    check_eq(whep(token=other["host_token"]).status, 401,
             "a host token is no viewer token")
    check_eq(whep(ctype="application/json").status, 415, "content type")
    for bad in ["", "hello", "v=0\r\n" * 5000, "\x00\x01\x02" * 100,
                offer.replace("a=fingerprint", "a=x-fingerprint"),
                offer.replace("a=ice-ufrag", "a=x-ufrag"),
                re.sub(r"m=(audio|video) \d+ [^\r\n]+", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", offer),
                offer + ("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 100)]:
        r = whep(body=bad)
        check_eq(r.status, 400, "malformed offer %r" % bad[:40])
        check("error" in r.json(), "JSON error body")
    check_eq(whep(body=b"v=0\r\n" + b"a=x\r\n" * 20000).status, 413,
             "a body over 64 KiB")

    whip_offer = open(os.path.join(SDP_DIR, "webrtcbin-publisher.sdp")).read()
    r = harness.http("POST", d.whip_url("lecture"), body=whip_offer.encode(),
                     token=d.api("GET", "/api/rooms/lecture").json()["host_token"],
                     content_type="application/sdp")
    check_eq(r.status, 409, "WHIP to a room fed by a pipeline")
    r = harness.http("POST", d.whip_url("other"), body=whip_offer.encode(),
                     token=tok, content_type="application/sdp")
    check_eq(r.status, 401, "WHIP with a viewer token")
    return offer, tok


def media_port_checks(d, offer, tok):
    # An answer gives us a real ufrag to forge checks against.
    r = harness.http("POST", d.whep_url("lecture"), body=offer.encode(),
                     token=tok, content_type="application/sdp")
    check_eq(r.status, 201, "WHEP POST")
    ufrag = re.search(r"a=ice-ufrag:(\S+)", r.text).group(1)
    rng = random.Random(7)
    target = ("127.0.0.1", d.media_port)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(500):
        udp.sendto(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1400))),
                   target)
    udp.sendto(stun_request("nosuchufrag:x", "whatever"), target)
    udp.sendto(stun_request(ufrag + ":x", "wrong-password-wrong-password"), target)
    udp.sendto(bytes([22, 254, 253]) + os.urandom(100), target)    # DTLS
    udp.sendto(bytes([0x80, 96]) + os.urandom(200), target)         # RTP
    udp.sendto(bytes([0x80, 200]) + os.urandom(60), target)         # RTCP
    for _ in range(5):
        tcp = socket.create_connection(target, timeout=5)
        tcp.sendall(os.urandom(rng.randrange(1, 5000)))
        tcp.close()
    tcp = socket.create_connection(target, timeout=5)
    tcp.sendall(b"\xff\xff" + os.urandom(100))    # a frame over the limit
    tcp.settimeout(5)
    try:
        check_eq(tcp.recv(10), b"", "oversized ICE-TCP frame closes the connection")
    except ConnectionResetError:
        pass
    tcp.close()
    time.sleep(0.5)
    check(d.metric("kringkast_packets_dropped_total", {"reason": "stun-unknown-ufrag"}) >= 1,
          "unknown ufrag counted")
    check(d.metric("kringkast_packets_dropped_total", {"reason": "stun-rejected"}) >= 1,
          "bad credentials counted")
    check(d.metric("kringkast_packets_dropped_total", {"reason": "unknown-source"}) >= 3,
          "DTLS/RTP from unknown addresses counted")
    check(d.metric("kringkast_packets_dropped_total", {"reason": "not-webrtc"}) >= 1,
          "random bytes counted")
    check(d.metric("kringkast_packets_dropped_total", {"reason": "ice-tcp-bad-framing"}) >= 1,
          "bad ICE-TCP framing counted")


def test(ctx):
    d = pipeline_daemon(ctx)
    offer, tok = http_checks(d)
    media_port_checks(d, offer, tok)
    check_eq(d.api("GET", "/healthz", token=None).status, 200, "still healthy")
    r = ctx.run_peer("whep_aiortc.py", "--url", d.whep_url("lecture"),
                     "--token", tok, "--duration", "3",
                     "--min-video-frames", "20", "--min-audio-ms", "2000")
    check(r.ok, "a viewer still decodes: %s", r.error)
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
