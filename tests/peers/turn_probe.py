#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A small TURN client (RFC 8656) that asks a TURN server for what a viewer
would: an allocation with the credentials it was given, then a permission
to send to each peer address named.

It is the independent check of what the relay hands out and of coturn's
configuration: a credential minted by the relay must allocate, a stale or
forged one must be refused (401), and an allocation must be refused
permission (403) for any peer but the relay. Standard library only: STUN
over UDP, TCP or TLS (RFC 8489 framing on streams), long-term credentials
(MESSAGE-INTEGRITY keyed with MD5(username:realm:password)).

With --relay-transport tcp it asks for a TCP allocation (RFC 6062) and
then to CONNECT to each peer, which a server run from
deploy/turnserver.conf must refuse: browsers use UDP allocations only,
and a TCP one would reach any TCP port of the relay's address.

Prints one JSON line: {"ok", "allocate": status, "relayed": "ip:port",
"permissions": {peer: status}, "connect": {peer: status}, "refresh":
status, "error"}; status is 200 or the error code.
"""
import argparse
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import ssl
import struct
import sys
import time

COOKIE = 0x2112A442
ALLOCATE, REFRESH, CREATE_PERMISSION, CONNECT = 0x003, 0x004, 0x008, 0x00a
SUCCESS, ERROR = 0x100, 0x110
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE = 0x0006, 0x0008, 0x0009
XOR_PEER_ADDRESS, REALM, NONCE = 0x0012, 0x0014, 0x0015
XOR_RELAYED_ADDRESS, REQUESTED_TRANSPORT = 0x0016, 0x0019


def attribute(kind, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def xor_address(host, port):
    addr = ipaddress.ip_address(host)
    if addr.version != 4:
        raise ValueError("IPv4 peers only")
    xport = port ^ (COOKIE >> 16)
    xaddr = int(addr) ^ COOKIE
    return struct.pack("!BBHI", 0, 1, xport, xaddr)


def parse_xor_address(value):
    _, family, xport, xaddr = struct.unpack("!BBHI", value[:8])
    return "%s:%d" % (ipaddress.ip_address(xaddr ^ COOKIE), xport ^ (COOKIE >> 16))


def message(method, attrs, key=None):
    txid = os.urandom(12)
    body = b"".join(attribute(k, v) for k, v in attrs)
    if key is not None:
        # The length covers MESSAGE-INTEGRITY itself (RFC 8489 14.5).
        header = struct.pack("!HHI", method, len(body) + 24, COOKIE) + txid
        mac = hmac.new(key, header + body, hashlib.sha1).digest()
        body += attribute(MESSAGE_INTEGRITY, mac)
    return struct.pack("!HHI", method, len(body), COOKIE) + txid + body, txid


def parse(data):
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    attrs = {}
    pos = 20
    while pos + 4 <= 20 + length:
        akind, alen = struct.unpack("!HH", data[pos:pos + 4])
        attrs.setdefault(akind, data[pos + 4:pos + 4 + alen])
        pos += 4 + alen + (4 - alen % 4) % 4
    return kind, data[8:20], attrs


class Channel:
    """One connection to the TURN server: a datagram or a stream."""

    def __init__(self, host, port, transport, ca_file, timeout):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if transport == "udp":
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
            self.stream = False
            return
        sock = socket.create_connection((host, port), timeout=timeout)
        if transport == "tls":
            context = ssl.create_default_context(cafile=ca_file)
            sock = context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.stream = True
        self.buffer = b""

    def request(self, data, txid):
        self.sock.sendall(data) if self.stream else self.sock.send(data)
        while True:
            reply = self._receive()
            kind, rtxid, attrs = parse(reply)
            if rtxid == txid:
                return kind, attrs

    def _receive(self):
        if not self.stream:
            return self.sock.recv(65536)
        while True:
            if len(self.buffer) >= 20:
                length = struct.unpack("!H", self.buffer[2:4])[0] + 20
                if len(self.buffer) >= length:
                    data, self.buffer = self.buffer[:length], self.buffer[length:]
                    return data
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the TURN server closed the connection")
            self.buffer += chunk


def status(kind, method, attrs):
    if kind == method | SUCCESS:
        return 200
    if kind == method | ERROR and ERROR_CODE in attrs:
        code = attrs[ERROR_CODE]
        return (code[2] & 0x7) * 100 + code[3]
    return -1


def probe(args):
    result = {"ok": False, "permissions": {}, "connect": {}}
    channel = Channel(args.host, args.port, args.transport, args.ca, 5.0)
    protocol = 6 if args.relay_transport == "tcp" else 17
    transport_attr = (REQUESTED_TRANSPORT,
                      struct.pack("!BBBB", protocol, 0, 0, 0))
    data, txid = message(ALLOCATE, [transport_attr])
    kind, attrs = channel.request(data, txid)
    code = status(kind, ALLOCATE, attrs)
    if code != 401 or REALM not in attrs or NONCE not in attrs:
        result["error"] = "no 401 challenge (status %d)" % code
        return result
    realm, nonce = attrs[REALM], attrs[NONCE]
    key = hashlib.md5(b"%s:%s:%s" % (args.username.encode(), realm,
                                      args.password.encode())).digest()
    auth = [(USERNAME, args.username.encode()), (REALM, realm), (NONCE, nonce)]
    data, txid = message(ALLOCATE, [transport_attr] + auth, key)
    kind, attrs = channel.request(data, txid)
    result["allocate"] = status(kind, ALLOCATE, attrs)
    if result["allocate"] != 200:
        result["ok"] = True
        return result
    result["relayed"] = parse_xor_address(attrs[XOR_RELAYED_ADDRESS])
    for peer in args.peer:
        host, _, port = peer.rpartition(":")
        data, txid = message(CREATE_PERMISSION,
                             [(XOR_PEER_ADDRESS, xor_address(host, int(port)))]
                             + auth, key)
        kind, attrs = channel.request(data, txid)
        result["permissions"][peer] = status(kind, CREATE_PERMISSION, attrs)
        if protocol == 6:
            # RFC 6062 4.3: a TCP connection from the relayed address to
            # the peer.
            data, txid = message(CONNECT, [(XOR_PEER_ADDRESS, xor_address(
                host, int(port)))] + auth, key)
            kind, attrs = channel.request(data, txid)
            result["connect"][peer] = status(kind, CONNECT, attrs)
    if args.refresh_after is not None:
        # What a browser does every few minutes to keep its allocation.
        time.sleep(args.refresh_after)
        data, txid = message(REFRESH, auth, key)
        kind, attrs = channel.request(data, txid)
        result["refresh"] = status(kind, REFRESH, attrs)
        if result["refresh"] == 438 and NONCE in attrs:
            # Stale nonce: the server wants the credentials again, with
            # its new nonce (RFC 8489 9.2.5).
            auth[2] = (NONCE, attrs[NONCE])
            data, txid = message(REFRESH, auth, key)
            kind, attrs = channel.request(data, txid)
            result["refresh"] = status(kind, REFRESH, attrs)
            result["refresh_after_stale_nonce"] = True
    result["ok"] = True
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp")
    p.add_argument("--ca", help="CA file to verify the TLS server with")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--relay-transport", choices=("udp", "tcp"), default="udp",
                   help="the allocation's transport (tcp: RFC 6062, needs "
                        "--transport tcp or tls)")
    p.add_argument("--peer", action="append", default=[],
                   help="IPv4:port to ask permission for (repeatable)")
    p.add_argument("--refresh-after", type=float, default=None,
                   help="then wait this many seconds and refresh the "
                        "allocation with the same credentials")
    args = p.parse_args()
    try:
        result = probe(args)
    except (OSError, ValueError, ssl.SSLError) as e:
        result = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(result))
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
