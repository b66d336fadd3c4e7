#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""TURN: credentials the relay mints, coturn configured as deploy/ ships it,
and a viewer that reaches the relay through nothing but TURN over TLS.

In the lab of turnlab.py (the viewer's namespace has no route to the
relay's media address, coturn listens only on TLS 443):

- WHEP and WHIP answers, and an OPTIONS request with the room's token,
  carry one `Link: <...>; rel="ice-server"` per configured server, with
  credentials bound to the caller (the viewer's party, "host-<room>"); a
  CORS preflight (no token) carries none; the pages' route gives the same
  servers to a participant or the host, 401 to nobody, 403 to another
  room's token.
- coturn accepts the minted credential (an independent TURN client,
  tests/peers/turn_probe.py, over TLS), refuses a stale one, a forged one
  and one moved to another identity (401), and refuses an allocation
  permission for any peer but the relay's address (403): loopback, the
  viewer's network, coturn's own, the internet; it refuses a TCP
  allocation (RFC 6062, 442), which could CONNECT to the relay's HTTP
  port.
- the network check's credential (no token needed) is named after the
  caller's address and lives two minutes: coturn takes it at once and
  refuses it after; the check holds at most two streams per address.
- aiortc in the viewer's namespace, given the TURN servers the way the
  nurse's page is, decodes the lecture through coturn; /metrics counts it
  under transport="turn", its WHEP statistics say turn (and the TURN
  server's protocol once told, as the page does), and the attendance row
  is there, with that protocol in the connection's evidence (JSON, CSV).
"""
import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse

import harness
import turnlab
from harness import check, check_eq

ROOM = "lecture"


def links(response):
    """The rel="ice-server" Link values of a response."""
    values = response.headers.get_all("Link") or []
    out = []
    for value in values:
        # Several may come folded into one line, comma-separated; no
        # value of ours contains a comma.
        out += [v.strip() for v in value.split(",") if "ice-server" in v]
    return out


def link_params(link):
    url = link[link.index("<") + 1:link.index(">")]
    params = {}
    for part in link.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        params[name] = value.strip('"')
    return url, params


def mint(username):
    return base64.b64encode(hmac.new(turnlab.SECRET.encode(), username.encode(),
                                     hashlib.sha1).digest()).decode()


def probe(ctx, lab, username, password, peers=(), refresh_after=None,
          relay_transport="udp"):
    argv = [harness.PYTHON, os.path.join(harness.PEERS, "turn_probe.py"),
            "--host", turnlab.TURN_PUBLIC, "--port", "443", "--transport",
            "tls", "--ca", lab.cert, "--username", username, "--password",
            password, "--relay-transport", relay_transport]
    for peer in peers:
        argv += ["--peer", peer]
    if refresh_after is not None:
        argv += ["--refresh-after", str(refresh_after)]
    peer = harness.Peer(ctx, "turn_probe", lab.viewer.wrap(argv))
    ctx.peers.append(peer)
    r = peer.wait(20)
    check(r.ok, "turn_probe: %s", r.error)
    return r


def check_links(response, identity, what):
    found = links(response)
    check_eq(len(found), 2, "%s: ice-server links (%s)" % (what, found))
    now = time.time()
    for link, url in zip(found, turnlab.TURN_URLS):
        got_url, params = link_params(link)
        check_eq(got_url, url, what + ": link URL")
        check_eq(params.get("rel"), "ice-server", what + ": rel")
        check_eq(params.get("credential-type"), "password", what + ": type")
        expiry, _, who = params["username"].partition(":")
        check_eq(who, identity, what + ": credential bound to")
        check(now < int(expiry) <= now + 3600 + 5,
              "%s: expiry %s not within the lifetime", what, expiry)
        check_eq(params["credential"], mint(params["username"]),
                 what + ": credential is HMAC-SHA1(secret, username)")
    return link_params(found[0])[1]


def check_credential(d):
    """The network check's TURN credential: (username, password), checked
    to live two minutes and to be named after the test's address."""
    r = d.api("GET", "/api/network-check", token=None)
    check_eq(r.status, 200, "GET /api/network-check (%s)" % r.text)
    info = r.json()
    check_eq(info["media_port"], d.media_port, "the media port")
    check_eq(info["addresses"], [turnlab.RELAY_MEDIA], "the addresses")
    server = info["ice_servers"][0]
    check_eq(server["urls"], turnlab.TURN_URLS, "TURN urls")
    expiry, _, who = server["username"].partition(":")
    now = time.time()
    check(now < int(expiry) <= now + 120 + 2,
          "a check's credential lives two minutes: expires %s, now %d",
          expiry, now)
    # One name per address (the test's, 10.30.3.2), keyed with the
    # secret: coturn's user-quota counts an address's checks together.
    name = "check-" + hmac.new(turnlab.SECRET.encode(), b"10.30.3.2",
                               hashlib.sha256).hexdigest()[:16]
    check_eq(who, name, "a check's credential names the address's hash")
    check_eq(server["credential"], mint(server["username"]),
             "check credential is HMAC-SHA1(secret, username)")
    again = d.api("GET", "/api/network-check", token=None).json()
    check_eq(again["ice_servers"][0]["username"].partition(":")[2], name,
             "the same address, the same name")
    return server["username"], server["credential"]


def check_network_check_routes(d, offer, first_taken):
    """The network check's streams: at most two at once per address, and
    its rate limit (the test is not a local client: it comes from another
    namespace)."""
    resources = []
    for i in range(2):
        r = harness.http("POST", d.url("/network-check/whep"), offer,
                         content_type="application/sdp")
        check_eq(r.status, 201, "network check stream %d (%s)" % (i, r.text))
        check(r.header("Location").startswith("/network-check/whep/"),
              "Location %s", r.header("Location"))
        resources.append(d.url(r.header("Location")))
    r = harness.http("POST", d.url("/network-check/whep"), offer,
                     content_type="application/sdp")
    check_eq(r.status, 429, "a third stream from one address while two run")
    check(r.header("Retry-After") is not None, "Retry-After on 429")
    check_eq(harness.http("DELETE", resources.pop()).status, 200, "DELETE")
    # The slot is free once the fan-out has let the viewer go.
    harness.wait_until(lambda: d.metric("kringkast_viewers_pending") == 1.0,
                       5, "one check viewer left")
    r = harness.http("POST", d.url("/network-check/whep"), offer,
                     content_type="application/sdp")
    check_eq(r.status, 201, "a stream again once one ended (%s)" % r.text)
    resources.append(d.url(r.header("Location")))
    for resource in resources:
        check_eq(harness.http("DELETE", resource).status, 200, "DELETE")
    check_eq(harness.http("DELETE", resources[0]).status, 404, "DELETE again")
    harness.wait_until(lambda: d.metric("kringkast_viewers_pending") == 0.0,
                       5, "no check viewer left")
    # Six taken so far (two GETs, four POSTs) of the bucket's twenty, and
    # one more back every three seconds since the first.
    refilled = int((time.monotonic() - first_taken) / 3)
    granted = 0
    while d.api("GET", "/api/network-check", token=None).status == 200:
        granted += 1
        check(granted <= 14 + refilled + 1, "no end to the burst")
    check(14 <= granted <= 14 + refilled + 1,
          "the rest of the burst: %d granted, %d refilled", granted, refilled)


def run(ctx, lab):
    lab.start_turnserver(tls_only=True)
    conf = turnlab.relay_config(
        ctx.workdir, "[room %s]\ntitle=Test lecture\nsource=testsrc-small\n"
        "[room other]\ntitle=Other\n" % ROOM)
    d = ctx.daemon(extra_args=["--config", conf], public_ip=turnlab.RELAY_MEDIA,
                   netns=lab.relay, http_host=turnlab.RELAY_FOR_TEST)
    d.wait_live(ROOM)
    # First, so that its two minutes run out while the rest is tested.
    first_taken = time.monotonic()
    check_user, check_password = check_credential(d)
    room = d.room(ROOM)
    other = d.room("other")
    joined = d.join(ROOM, "Kari Nordmann", "Gjøvik helsestasjon")
    token, party = joined["token"], joined["participant_id"]
    other_token = d.join("other", "Ola Nordmann")["token"]

    # The pages' route: the participant's and the host's own credentials.
    path = "/api/rooms/%s/ice-servers" % ROOM
    r = d.api("GET", path, token=token)
    check_eq(r.status, 200, "ice-servers for the participant (%s)" % r.text)
    servers = r.json()["ice_servers"]
    check_eq(len(servers), 1, "one RTCIceServer")
    check_eq(servers[0]["urls"], turnlab.TURN_URLS, "its urls")
    viewer_user = servers[0]["username"]
    viewer_password = servers[0]["credential"]
    check(r.json()["expires_at"].endswith("Z"), "expires_at %s",
          r.json()["expires_at"])
    r = d.api("GET", path, token=room["host_token"])
    check_eq(r.status, 200, "ice-servers for the host")
    check(r.json()["ice_servers"][0]["username"].endswith(":host-" + ROOM),
          "host credential %s", r.json()["ice_servers"][0]["username"])
    check_eq(d.api("GET", path, token=None).status, 401, "anonymous")
    check_eq(d.api("GET", path, token="not-a-token").status, 401, "unknown")
    check_eq(d.api("GET", path, token=other_token).status, 403,
             "another room's participant")
    check_eq(d.api("GET", path, token=other["host_token"]).status, 403,
             "another room's host")
    check_eq(d.api("GET", "/api/rooms/nope/ice-servers", token=token).status,
             404, "unknown room")

    # Link headers on WHEP and WHIP answers, and on OPTIONS with a token.
    sdp_dir = os.path.join(harness.REPO, "tests", "sdp")
    with open(os.path.join(sdp_dir, "chrome-recvonly.sdp")) as f:
        viewer_offer = f.read()
    r = harness.http("POST", d.whep_url(ROOM), viewer_offer, token=token,
                     content_type="application/sdp")
    check_eq(r.status, 201, "WHEP POST (%s)" % r.text[:200])
    party_id = link_params(links(r)[0])[1]["username"].partition(":")[2]
    check_links(r, party_id, "WHEP 201")
    resource = d.url(r.header("Location"))
    check_eq(harness.http("DELETE", resource, token=token).status, 200,
             "WHEP DELETE")
    r = harness.http("OPTIONS", d.whep_url(ROOM), token=token)
    check_eq(r.status, 204, "WHEP OPTIONS with a token")
    check_links(r, party_id, "WHEP OPTIONS")
    r = harness.http("OPTIONS", d.whep_url(ROOM), headers={
        "Origin": "https://elsewhere.example",
        "Access-Control-Request-Method": "POST"})
    check_eq(r.status, 204, "CORS preflight")
    check_eq(links(r), [], "no credentials for a preflight")
    check_eq(harness.http("OPTIONS", d.whep_url(ROOM), token=other_token).status,
             403, "OPTIONS with another room's token")
    check_eq(viewer_user.partition(":")[2], party_id,
             "the page's credential names the same party as the WHEP one")

    d.create_room("studio")
    studio = d.room("studio")
    with open(os.path.join(sdp_dir, "webrtcbin-publisher.sdp")) as f:
        publisher_offer = f.read()
    r = harness.http("POST", d.whip_url("studio"), publisher_offer,
                     token=studio["host_token"], content_type="application/sdp")
    check_eq(r.status, 201, "WHIP POST (%s)" % r.text[:200])
    check_links(r, "host-studio", "WHIP 201")
    check_eq(harness.http("DELETE", d.url(r.header("Location")),
                          token=studio["host_token"]).status, 200, "WHIP DELETE")

    check_network_check_routes(d, viewer_offer, first_taken)

    # coturn takes the minted credential and relays to the relay only.
    media = "%s:%d" % (turnlab.RELAY_MEDIA, d.media_port)
    refused_peers = ["127.0.0.1:%d" % d.media_port, "10.30.2.2:9",
                     "%s:9" % turnlab.TURN_RELAY, "192.0.2.1:3478",
                     "10.30.3.2:9"]
    r = probe(ctx, lab, viewer_user, viewer_password,
              [media] + refused_peers)
    check_eq(r["allocate"], 200, "allocation with the minted credential")
    check(r["relayed"].startswith(turnlab.TURN_RELAY + ":"),
          "relayed from %s", r["relayed"])
    check_eq(r["permissions"][media], 200, "permission for the relay")
    for peer in refused_peers:
        check_eq(r["permissions"][peer], 403, "permission for " + peer)
    # No TCP allocations: one could CONNECT to any TCP port of the
    # relay's address, its HTTP port (behind nginx in service) included.
    http_peer = "%s:%d" % (turnlab.RELAY_MEDIA, d.http_port)
    r = probe(ctx, lab, viewer_user, viewer_password, [http_peer],
              relay_transport="tcp")
    check_eq(r["allocate"], 442, "a TCP allocation (%s)" % r)
    # The network check's credential works, for now.
    r = probe(ctx, lab, check_user, check_password, [media])
    check_eq(r["allocate"], 200, "allocation with a network check credential")
    check_eq(r["permissions"][media], 200, "its permission for the relay")

    # Refused: stale, forged, or moved to another identity.
    stale = "%d:%s" % (int(time.time()) - 60, party_id)
    check_eq(probe(ctx, lab, stale, mint(stale))["allocate"], 401,
             "a credential past its expiry")
    check_eq(probe(ctx, lab, viewer_user, base64.b64encode(
        b"0" * 20).decode())["allocate"], 401, "a forged password")
    # A credential that runs out while its allocation lives: the
    # allocation goes on (refreshed, also after coturn asked for the
    # credentials again with a new nonce), so a lecture longer than the
    # credential's lifetime is not cut (README, TURN).
    short = "%d:%s" % (int(time.time()) + 3, party_id)
    r = probe(ctx, lab, short, mint(short), refresh_after=5)
    check_eq(r["allocate"], 200, "allocation with a credential about to expire")
    check_eq(r["refresh"], 200, "refresh after the expiry")
    check(r.get("refresh_after_stale_nonce"), "the nonce went stale first")
    check_eq(probe(ctx, lab, short, mint(short))["allocate"], 401,
             "a new allocation with that credential, now expired")
    moved = viewer_user.partition(":")[0] + ":someone-else"
    check_eq(probe(ctx, lab, moved, viewer_password)["allocate"], 401,
             "a password used for another identity")

    # A viewer whose only way to the relay is coturn over TLS.
    env = dict(os.environ, SSL_CERT_FILE=lab.cert)
    argv = harness.peer_argv("whep_aiortc.py", [
        "--url", "http://%s:%d/whep/%s" % (turnlab.RELAY_FOR_VIEWER,
                                           d.http_port, ROOM),
        "--token", token,
        "--ice-servers", "http://%s:%d%s" % (turnlab.RELAY_FOR_VIEWER,
                                             d.http_port, path),
        "--local-ip", turnlab.VIEWER, "--duration", "6",
        "--min-video-frames", "40", "--min-audio-ms", "3000", "--no-delete"])
    viewer = harness.Peer(ctx, "whep_aiortc", lab.viewer.wrap(argv), env=env)
    ctx.peers.append(viewer)
    harness.wait_until(
        lambda: d.metric("kringkast_viewers", {"transport": "turn"}) == 1,
        30, "one viewer on TURN in /metrics", interval=0.5)
    check_eq(d.metric("kringkast_viewers", {"transport": "udp"}), 0.0,
             "no viewer counted on UDP")
    r = viewer.wait(60)
    check(r.ok, "viewer through TURN/TLS: %s", r.error)
    # The peer reached the relay on the viewer's address; the test asks on
    # its own.
    resource = d.url(urllib.parse.urlsplit(r["location"]).path)
    stats = harness.http("GET", resource, token=token)
    check_eq(stats.status, 200, "WHEP GET statistics")
    check_eq(stats.json()["transport"], "turn", "WHEP GET transport")
    check(stats.json()["packets_sent"] > 100, "packets sent %s",
          stats.json()["packets_sent"])
    check_eq(stats.json()["relay_protocol"], None, "relay_protocol untold")
    # What a page tells of its way to coturn (aiortc would not).
    told = resource + "/relay-protocol"
    for body, want in (('{"relay_protocol": "tls"}', 204),
                       ('{"relay_protocol": "sctp"}', 400),
                       ('{"relay_protocol": 3}', 400),
                       ('{"relay_protocol": "tls", "x": 1}', 400),
                       ('not json', 400)):
        r = harness.http("PUT", told, body, token=token,
                         content_type="application/json")
        check_eq(r.status, want, "PUT relay-protocol %s (%s)" % (body, r.text))
    check_eq(harness.http("PUT", told, '{"relay_protocol": "udp"}',
                          token=other_token,
                          content_type="application/json").status, 403,
             "PUT relay-protocol with another room's token")
    check_eq(harness.http("PUT", d.url("/whep/%s/nope/relay-protocol" % ROOM),
                          '{"relay_protocol": "udp"}', token=token,
                          content_type="application/json").status, 404,
             "PUT relay-protocol of an unknown resource")
    stats = harness.http("GET", resource, token=token)
    check_eq(stats.json()["relay_protocol"], "tls", "relay_protocol as told")
    check_eq(harness.http("DELETE", resource, token=token).status, 200,
             "WHEP DELETE")

    session = d.room(ROOM)["session_id"]
    rows = harness.wait_until(
        lambda: [row for row in d.attendance(session)
                 if row["participant_id"] == party
                 and row["attended_seconds"] >= 3], 10,
        "the attendance row of the viewer on TURN")
    harness.log("attendance: %s", json.dumps(rows))
    # The page's word on its way to coturn stays with the connection, in
    # the attendance evidence and its exports (JSON and CSV).
    told_rows = [c for c in rows[0]["connections"]
                 if c["relay_protocol"] is not None]
    check_eq([(c["transport"], c["relay_protocol"]) for c in told_rows],
             [("webrtc", "tls")], "the connection's relay protocol")
    log = d.api("GET", "/api/sessions/%s/connections" % session)
    check_eq(log.status, 200, "the connection log")
    check_eq([c["relay_protocol"] for c in log.json()
              if c["participant_id"] == party], ["tls"],
             "the connection log's relay protocol")
    csv = d.api("GET", "/api/sessions/%s/connections?format=csv" % session)
    check_eq(csv.status, 200, "the connection log as CSV")
    lines = csv.text.lstrip("\ufeff").splitlines()
    header = lines[0].split(";" if ";" in lines[0] else ",")
    check(header[-2:] == ["transport", "relay_protocol"],
          "CSV columns: %s", header)
    check(any(line.endswith("webrtc%stls" % (";" if ";" in line else ","))
              for line in lines[1:]), "CSV rows: %s", lines[1:])

    # The network check's credential, two minutes on: coturn refuses it.
    expiry = int(check_user.partition(":")[0])
    harness.log("waiting %.0f s for the check credential to expire",
                max(0, expiry + 1 - time.time()))
    time.sleep(max(0, expiry + 1 - time.time()))
    check_eq(probe(ctx, lab, check_user, check_password)["allocate"], 401,
             "a network check credential after its two minutes")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(turnlab.test_in_lab(run))
