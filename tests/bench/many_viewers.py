#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Many WHEP viewers in one aiortc process, for tests/bench/turn-viewers.py.

Each viewer joins the way the nurse's page does (its own participant
token; with --ice-servers, the TURN servers the relay mints for that
token, kept to those whose URL starts with --scheme), and receives the
lecture without decoding it: the bench measures what the relay and
coturn spend per viewer, and a decoder per viewer would take the cores
they are measured on. SRTP, RTCP and the jitter buffer still run, so the
relay sees ordinary receivers (receiver reports, NACKs).

Reads the tokens from --tokens (a JSON list in a file). Prints one JSON
line {"connected": n} once every viewer is connected (or --timeout
passed), then receives until its standard input closes, DELETEs every
resource, and prints {"packets": [per viewer], "transports": [...]}.
"""

import argparse
import asyncio
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "peers"))
import peerlib  # noqa: E402
import whep_aiortc  # noqa: E402


class NoDecoder:
    """What aiortc's receiver calls to decode a frame: nothing is made."""

    def decode(self, encoded_frame):
        return []


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="the room's WHEP endpoint")
    p.add_argument("--tokens", required=True, help="JSON list of tokens")
    p.add_argument("--ice-servers", default=None,
                   help="the relay's ice-servers route (per token)")
    p.add_argument("--scheme", default=None,
                   help="keep only the TURN URLs starting with this")
    p.add_argument("--local-ip", required=True)
    p.add_argument("--timeout", type=float, default=60)
    return p.parse_args()


def ice_configuration(args, token):
    from aiortc import RTCConfiguration, RTCIceServer
    if args.ice_servers is None:
        return None
    r = peerlib.http("GET", args.ice_servers, token=token)
    if r.status != 200:
        raise RuntimeError("ice-servers: HTTP %d" % r.status)
    servers = []
    for s in json.loads(r.body)["ice_servers"]:
        urls = s["urls"] if isinstance(s["urls"], list) else [s["urls"]]
        urls = [u for u in urls if u.startswith(args.scheme or "")]
        if urls:
            servers.append(RTCIceServer(urls=urls, username=s["username"],
                                        credential=s["credential"]))
    if not servers:
        raise RuntimeError("no TURN server with scheme %s" % args.scheme)
    return RTCConfiguration(iceServers=servers)


class Viewer:
    def __init__(self, args, token):
        self.args, self.token = args, token
        self.pc = None
        self.location = None
        self.packets = 0

    async def start(self):
        from aiortc import RTCPeerConnection, RTCSessionDescription
        loop = asyncio.get_running_loop()
        config = await loop.run_in_executor(
            None, ice_configuration, self.args, self.token)
        self.pc = RTCPeerConnection(config)
        for kind in ("audio", "video"):
            self.pc.addTransceiver(kind, direction="recvonly")

        @self.pc.on("track")
        def on_track(track):
            asyncio.ensure_future(self.drain(track))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        r = await loop.run_in_executor(None, lambda: peerlib.http(
            "POST", self.args.url, self.pc.localDescription.sdp,
            "application/sdp", self.token, timeout=self.args.timeout))
        if r.status != 201:
            raise RuntimeError("POST returned %d: %s" % (r.status, r.body[:200]))
        self.location = peerlib.resolve_location(self.args.url,
                                                 r.header("Location"))
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=r.body, type="answer"))
        for transceiver in self.pc.getTransceivers():
            receiver = transceiver.receiver
            original = receiver._handle_rtp_packet

            async def counting(packet, arrival_time_ms, original=original):
                self.packets += 1
                return await original(packet, arrival_time_ms)
            receiver._handle_rtp_packet = counting

    async def drain(self, track):
        from aiortc.mediastreams import MediaStreamError
        try:
            while True:
                await track.recv()
        except MediaStreamError:
            pass

    def connected(self):
        return self.pc is not None and self.pc.connectionState == "connected"

    async def stop(self):
        loop = asyncio.get_running_loop()
        if self.location:
            await loop.run_in_executor(None, lambda: peerlib.http(
                "DELETE", self.location, token=self.token))
        if self.pc is not None:
            await self.pc.close()


async def run(args):
    import aiortc.rtcrtpreceiver
    aiortc.rtcrtpreceiver.get_decoder = lambda codec: NoDecoder()
    whep_aiortc.loopback_only_ice(args.local_ip)
    whep_aiortc.bundle_safe_extmap()
    with open(args.tokens) as f:
        tokens = json.load(f)
    viewers = [Viewer(args, t) for t in tokens]
    # One at a time: a join storm is not what is measured.
    for v in viewers:
        await v.start()
    deadline = time.monotonic() + args.timeout
    while (time.monotonic() < deadline
           and not all(v.connected() for v in viewers)):
        await asyncio.sleep(0.2)
    print(json.dumps({"connected": sum(v.connected() for v in viewers)}),
          flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    result = {"packets": [v.packets for v in viewers]}
    for v in viewers:
        await v.stop()
    print(json.dumps(result), flush=True)


def main():
    args = parse_args()
    peerlib.setup_logging("many_viewers")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
