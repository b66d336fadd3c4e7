#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Signed links to recordings: what a <video> and a download use.

A host publishes about 3 s to a recorded room (whip_gst.py, 320x240).
While the file is written, no link (409). Then the coordinator asks for
a link (POST /api/sessions/{id}/recording/link); without any token it
gives the same bytes as the bearer download, with the course title and
date as the file name, and Range works. Forged and altered links are
403: a changed signature, a signature of another length, a later
expiry, another session's id, a second query parameter set; so is an
expired link (expires_in 1 s) and every link after a restart (the key
is the process's). Only the coordinator gets links (401 and 403), the
body is checked (400), and the log never holds a signature.
"""
import re
import time
import urllib.parse

import harness
from harness import check, check_eq
import recording_media as rm


def link(d, session_id, body=None, token=Ellipsis, expect=200):
    r = d.api("POST", "/api/sessions/%s/recording/link" % session_id, body,
              token=token)
    check_eq(r.status, expect, "POST link %r (%s)" % (body, r.text[:200]))
    return r.json() if r.status == 200 else r


def get(d, url, **kw):
    return d.api("GET", url, token=None, **kw)


def with_query(url, **changes):
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update(changes)
    return parts._replace(query=urllib.parse.urlencode(query)).geturl()


def test(ctx):
    d = ctx.daemon()
    host = d.create_room("kurs", title="Legemiddelhåndtering",
                         record=True)["host_token"]
    pub = rm.Publish(ctx, d, "kurs", host, 3)
    sid, _ = rm.wait_recording(d, "kurs", states=("recording",))
    link(d, sid, expect=409)
    pub.finish()
    sid, rec = rm.wait_recording(d, "kurs")
    check_eq(rec["state"], "finished", "state")

    whole = d.api("GET", rec["url"])
    check_eq(whole.status, 200, "the bearer download")

    # A link, and the file through it without a token.
    issued = link(d, sid)
    url = issued["url"]
    check(re.fullmatch(r"/api/sessions/%s/recording\?expires=\d+&sig=[0-9a-f]{64}"
                       % sid, url), "the link %s" % url)
    expires = int(dict(urllib.parse.parse_qsl(url.split("?")[1]))["expires"])
    check(abs(expires - time.time() - 900) < 30, "15 minutes by default")
    check_eq(issued["expires_at"], time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime(expires)),
             "expires_at")
    r = get(d, url)
    check_eq(r.status, 200, "GET through the link")
    check_eq(r.body, whole.body, "the same bytes as the bearer download")
    check_eq(r.header("Content-Type"), "video/webm", "Content-Type")
    disposition = r.header("Content-Disposition")
    check(re.match(r'attachment; filename="Legemiddelhandtering-\d{4}-\d\d-\d\d'
                   r'\.webm"; filename\*=UTF-8\'\'Legemiddelh%C3%A5ndtering%20',
                   disposition), "Content-Disposition %r" % disposition)
    r = get(d, url, headers={"Range": "bytes=100-199"})
    check_eq((r.status, r.body), (206, whole.body[100:200]),
             "Range through the link")

    # Forged, altered, foreign: 403, saying nothing about the session.
    sig = dict(urllib.parse.parse_qsl(url.split("?")[1]))["sig"]
    flipped = ("1" if sig[0] == "0" else "0") + sig[1:]
    other = d.create_room("annet", record=True)["host_token"]
    rm.Publish(ctx, d, "annet", other, 2).finish()
    other_sid, _ = rm.wait_recording(d, "annet")
    for what, bad in (
            ("a flipped signature", with_query(url, sig=flipped)),
            ("a signature in capitals", with_query(url, sig=sig.upper())),
            ("a short signature", with_query(url, sig=sig[:32])),
            ("no signature", url.split("&sig=")[0]),
            ("no expiry", "/api/sessions/%s/recording?sig=%s" % (sid, sig)),
            ("a later expiry", with_query(url, expires=str(expires + 3600))),
            ("an expiry with a sign", with_query(url, expires="+%d" % expires)),
            ("another session", url.replace(sid, other_sid)),
            ("an unknown session", url.replace(sid, "0" * 8 + sid[8:]))):
        r = get(d, bad)
        check_eq(r.status, 403, what)
        check("not valid" in r.json()["error"], "%s: %s" % (what, r.text))
    # The signature is not a token: it opens nothing else.
    check_eq(d.api("DELETE", url, token=None).status, 401,
             "DELETE with a link")
    check_eq(d.api("GET", rec["url"], token=sig).status, 401,
             "the signature as a bearer token")

    # Expiry.
    short = link(d, sid, {"expires_in": 1})["url"]
    check_eq(get(d, short, headers={"Range": "bytes=0-9"}).status, 206,
             "a fresh short link")
    time.sleep(2.2)
    r = get(d, short)
    check_eq(r.status, 403, "an expired link")
    check("expired" in r.json()["error"], "says expired: %s" % r.text)

    # Who may have one, and what the body may say.
    viewer = d.join("kurs", "Kari Nordmann")["token"]
    link(d, sid, token=None, expect=401)
    link(d, sid, token="not-a-token", expect=401)
    link(d, sid, token=host, expect=403)
    link(d, sid, token=viewer, expect=403)
    link(d, "0" * 8 + sid[8:], expect=404)
    for body in ({"expires_in": 0}, {"expires_in": 3601},
                 {"expires_in": "60"}, {"expires_in": 1.5},
                 {"seconds": 60}, [60]):
        link(d, sid, body, expect=400)
    check_eq(link(d, sid, {"expires_in": 3600})["url"].count("sig="), 1,
             "the longest link")
    check_eq(d.api("DELETE", rec["url"].replace(sid, other_sid)).status,
             204, "deleting the other recording")
    link(d, other_sid, expect=410)

    # A restart makes a new key: links issued before stop working.
    check_eq(d.stop(), 0, "daemon exit status")
    log = d.log_text()
    check("refused a recording link with a wrong signature" in log
          and "refused an expired recording link" in log,
          "the refusals are logged (GST_DEBUG=kk-*:4)")
    check(sig not in log and flipped not in log,
          "a signature in the daemon's log")
    d.start()
    check_eq(get(d, url).status, 403, "a link from before the restart")
    check_eq(get(d, link(d, sid)["url"]).status, 200, "a new link")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
