#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The lecture over plain HTTPS segments: the API's promises.

A pipeline lecture; a participant fetches the playlist and the segments as
a player would (the playlist every half second, each new segment once):

- who may: no token or an unknown one 401, another room's participant
  403, an unknown room 404;
- what: an init segment and segments that say whether they start on a
  keyframe, and decode (GStreamer's matroskademux and vp8dec, opusdec)
  from any keyframe segment on;
  the playlist is no-store, segments private; unknown names, another
  segmenter's names and segments out of the window are 404;
- how fresh: a segment is listed within about a segment's length of
  the live edge;
- attendance: the time she fetched segments counts, as a connection with
  transport "https", ended where the fetched media ended; /metrics counts
  her among the viewers with transport "https"; someone who fetches only
  one segment every four seconds is counted for those segments' time,
  not for the whole while;
- limits per token: the polling above (the playlist every half second,
  twice a page's rate) is never refused; a burst of playlist GETs gets
  429 after the playlist's burst (no sooner, and no later than its refill
  allows), with Retry-After and a JSON error, counted under reason
  "https-playlist", and the GET after Retry-After is answered; so for
  segments ("https-segments");
- a slow reader: pipelined requests read one byte a second are cut off
  by the guard (send-timeout) while everyone else is served at once, and
  the daemon lets the connection go.
"""
import os
import socket
import time

import harness
from harness import check, check_eq, log, wait_until
from common import pipeline_daemon, viewer_token
from recording_media import inspect

PLAYLIST = "/api/rooms/lecture/segments"
# kk-segments-api.h's limits per token: a burst, then one per interval.
PLAYLIST_BURST = 8
SEGMENT_BURST = 48
REFILL_S = 0.25


def get(d, path, token):
    return harness.http("GET", d.url(path), token=token)


def check_auth(d, tok, other_tok, name):
    for path in (PLAYLIST, PLAYLIST + "/" + name):
        check_eq(get(d, path, None).status, 401, "no token: " + path)
        check_eq(get(d, path, "not-a-token").status, 401,
                 "unknown token: " + path)
        check_eq(get(d, path, other_tok).status, 403,
                 "another room's participant: " + path)
    check_eq(get(d, "/api/rooms/nowhere/segments", tok).status, 404,
             "unknown room")


def slow_reader(d, requests):
    """Pipelined GETs on one connection of each (url, token) of
    @requests, read 1 byte/s."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect(("127.0.0.1", d.http_port))
    req = "".join("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                  "\r\n\r\n" % (u, tok) for u, tok in requests)
    s.sendall(req.encode())
    return s


def check_burst(d, path, tok, burst, reason):
    """GETs of @path with @tok at once until one is refused: the first
    @burst are answered, the refusal is a counted 429 that says when to
    come back, and then the GET is answered again."""
    t = time.monotonic()
    answered, r = 0, None
    while answered < burst + 40:
        r = get(d, path, tok)
        if r.status != 200:
            break
        answered += 1
    elapsed = time.monotonic() - t
    log("%s: %d answered in %.2f s, then %d %s", reason, answered, elapsed,
        r.status, r.text)
    check_eq(r.status, 429, "a burst of GETs of %s" % path)
    check(burst <= answered <= burst + elapsed / REFILL_S + 1,
          "%d answered at once of a burst of %d", answered, burst)
    check("too many" in r.json()["error"], "the error: %s", r.text)
    retry_after = r.header("Retry-After")
    check(retry_after is not None and retry_after.isdigit()
          and int(retry_after) >= 1, "Retry-After: %s", retry_after)
    check_eq(d.metric("kringkast_http_rejected_total", {"reason": reason}),
             1, "refusals counted")
    time.sleep(int(retry_after))
    check_eq(get(d, path, tok).status, 200, "after Retry-After")


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test(ctx):
    d = pipeline_daemon(ctx)
    other = d.create_room("other")
    tok = viewer_token(d, "lecture")
    sparse_tok = viewer_token(d, "lecture", name="Siri Sjelden")
    other_tok = viewer_token(d, "other", name="Ola Annen")

    # The first request starts the segments.
    t0 = time.monotonic()
    r = get(d, PLAYLIST, tok)
    check_eq(r.status, 200, "playlist")
    check_eq(r.header("Cache-Control"), "no-store", "playlist caching")
    check(r.json()["live"], "lecture live")

    def playlist_with(n):
        pl = get(d, PLAYLIST, tok).json()
        return pl if len(pl["segments"]) >= n else None
    pl = wait_until(lambda: playlist_with(3), 10, "three segments",
                    interval=0.5)
    log("three segments after %.1f s", time.monotonic() - t0)
    check_eq(pl["mime_type"], 'video/webm; codecs="vp8,opus"', "MSE type")
    seg_id = pl["id"]
    check_auth(d, tok, other_tok, seg_id + "-init.webm")

    # Played like a page: each new segment once, for about 12 s.
    init = get(d, pl["init"], tok)
    check_eq(init.status, 200, "init")
    check(init.body[:4] == b"\x1a\x45\xdf\xa3", "init starts with EBML")
    fetched, lags = {}, []
    # Another participant fetches only the newest segment every 4 s.
    sparse, sparse_at = {}, 0
    started = time.time()
    while time.time() - started < 12:
        pl = get(d, PLAYLIST, tok).json()
        if time.time() - sparse_at >= 4:
            seg = pl["segments"][-1]
            check_eq(get(d, seg["url"], sparse_tok).status, 200,
                     "sparse fetch of %d" % seg["seq"])
            sparse[seg["seq"]] = seg["duration"]
            sparse_at = time.time()
        for seg in pl["segments"]:
            if seg["seq"] in fetched:
                continue
            check(seg["keyframe"] in (True, False), "segment %d keyframe %r",
                  seg["seq"], seg["keyframe"])
            r = get(d, seg["url"], tok)
            check_eq(r.status, 200, "segment %d" % seg["seq"])
            check(r.header("Cache-Control").startswith("private"),
                  "segment caching %s", r.header("Cache-Control"))
            check_eq(r.header("Content-Type"), "video/webm", "segment type")
            fetched[seg["seq"]] = (seg, r.body)
        last = pl["segments"][-1]
        lags.append(pl["live_edge"] - (last["start"] + last["duration"]))
        time.sleep(0.5)
    stopped = time.time()
    log("fetched %d segments; newest segment end behind the live edge: "
        "max %.2f s, mean %.2f s", len(fetched), max(lags),
        sum(lags) / len(lags))
    check(len(fetched) >= 10, "segments fetched: %d", len(fetched))
    # She and the sparse fetcher are HTTPS viewers in /metrics, beside
    # the WebRTC transports.
    check_eq(d.metric("kringkast_viewers", {"transport": "https"}), 2,
             "HTTPS viewers")
    # And they are screens of the room, as the host's page counts them.
    check_eq(d.api("GET", "/api/rooms/lecture").json()["viewers"], 2,
             "the room's screens")
    check((d.metric("kringkast_https_segments_served_total") or 0)
          >= len(fetched), "segments served counted")
    check_eq(d.metric("kringkast_https_segmenters"), 1, "segmenters")
    check(max(lags) < 2.2, "segments listed late: %.2f s", max(lags))
    seqs = sorted(fetched)
    check_eq(seqs, list(range(seqs[0], seqs[-1] + 1)), "no segment missed")

    # A late joiner: the init, then any run of segments from a keyframe
    # segment on, decodes from its first frame to its last, both tracks
    # (testsrc-small: 15 fps): a run whose segments did not continue each
    # other would lose the frames up to the next keyframe.
    start = next(s for s in seqs[3:] if fetched[s][0]["keyframe"])
    path = os.path.join(ctx.workdir, "late-joiner.webm")
    with open(path, "wb") as f:
        f.write(init.body + b"".join(fetched[s][1]
                                     for s in seqs[seqs.index(start):]))
    media = inspect(path)
    want = sum(fetched[s][0]["duration"] for s in seqs[seqs.index(start):])
    check(media["video_frames"] >= (want - 0.5) * 15, "video frames %s",
          media)
    check(media["audio_buffers"] >= (want - 0.5) * 50, "audio %s", media)
    # The span runs to the last frame's start: one frame (1/15 s) short.
    check(media["video_span"] >= want - 0.1, "video decoded over %.2f s "
          "of %.2f s", media["video_span"], want)

    # Names that are no segment.
    for name in ("%s-99999.webm" % seg_id, "0123456789abcdef-%d.webm" % start,
                 "%s-x.webm" % seg_id, "%s-1.mp4" % seg_id, seg_id):
        check_eq(get(d, PLAYLIST + "/" + name, tok).status, 404, name)
    # The window has moved past the first ones.
    check_eq(get(d, "%s/%s-0.webm" % (PLAYLIST, seg_id), tok).status, 404,
             "segment 0 after %.0f s" % (time.time() - started))

    # Limits per token: polling twice a page's rate was never refused;
    # a page (or proxy) in a loop is, and loses nothing.
    for reason in ("https-playlist", "https-segments"):
        check_eq(d.metric("kringkast_http_rejected_total",
                          {"reason": reason}) or 0, 0, "refused " + reason)
    loop_tok = viewer_token(d, "lecture", name="Lise Løkke")
    check_burst(d, PLAYLIST, loop_tok, PLAYLIST_BURST, "https-playlist")
    newest = get(d, PLAYLIST, loop_tok).json()["segments"][-1]
    check_burst(d, newest["url"], loop_tok, SEGMENT_BURST, "https-segments")

    # A slow reader: pipelined requests it never reads in time, more than
    # the kernel's socket buffers take (a few MB on loopback), so that a
    # response of the daemon's waits to be written.
    base_fds = fd_count(d.proc.pid)
    urls = [fetched[s][0]["url"] for s in seqs[-8:]]
    size = sum(len(fetched[s][1]) for s in seqs[-8:])
    urls = urls * (8 * 1024 * 1024 // size + 1)
    # Each token's requests within its burst of segments: the guard, not
    # the limit, must stop this reader.
    per_token = SEGMENT_BURST - 8
    slow_toks = [viewer_token(d, "lecture", name="Treg lesar %d" % i)
                 for i in range(len(urls) // per_token + 1)]
    sock = slow_reader(d, [(u, slow_toks[i // per_token])
                           for i, u in enumerate(urls)])
    t_slow = time.monotonic()
    # Meanwhile, everyone else is served at once.
    for _ in range(3):
        t = time.monotonic()
        check_eq(get(d, PLAYLIST, tok).status, 200, "playlist meanwhile")
        check(time.monotonic() - t < 1, "playlist meanwhile slow")
        sock.recv(1)
        time.sleep(1)

    def cut_off():
        try:
            sock.recv(1)
        except OSError:
            pass
        return (d.metric("kringkast_http_rejected_total",
                         {"reason": "send-timeout"}) or 0) >= 1
    wait_until(cut_off, 40, "the slow reader cut off", interval=1)
    log("slow reader cut off after %.1f s", time.monotonic() - t_slow)
    wait_until(lambda: fd_count(d.proc.pid) <= base_fds, 10,
               "the daemon let the slow connection go")
    sock.close()

    # Attendance: she stopped fetching at `stopped`; her HTTPS connection
    # ends where the media she fetched ends.
    session = d.sessions("lecture")[0]["id"]

    def https_connection():
        rows = [r for r in d.attendance(session) if r["name"] == "Kari Nordmann"]
        conns = [c for r in rows for c in r["connections"]
                 if c["transport"] == "https" and c["left_at"]]
        return conns[0] if conns else None
    conn = wait_until(https_connection, 30, "the HTTPS connection ended")
    log("attendance connection: %s", conn)
    check(conn["connection_id"].startswith("https-"), "connection id")
    # The 12 s she fetched.
    check(11 <= conn["seconds"] <= 19, "seconds %s", conn["seconds"])
    check_eq(conn["reason"], "https-stopped", "end reason")

    # The sparse fetcher: each fetched segment's time once, not the 12 s
    # between her first fetch and her last.
    def sparse_connections():
        rows = [r for r in d.attendance(session) if r["name"] == "Siri Sjelden"]
        conns = [c for r in rows for c in r["connections"]
                 if c["transport"] == "https"]
        return conns if conns and all(c["left_at"] for c in conns) else None
    conns = wait_until(sparse_connections, 30, "the sparse fetcher's end")
    counted = sum(c["seconds"] for c in conns)
    log("sparse fetcher: %d segments (%.1f s of media) over 12 s, counted "
        "%s s in %d connections", len(sparse), sum(sparse.values()), counted,
        len(conns))
    check(len(sparse) >= 3, "sparse fetches: %d", len(sparse))
    check(sum(sparse.values()) - 1.5 <= counted <= sum(sparse.values()) + 1.5,
          "sparse fetcher counted %s s for %.1f s of segments", counted,
          sum(sparse.values()))
    check(all(c["reason"] in ("https-gap", "https-stopped") for c in conns),
          "end reasons %s", [c["reason"] for c in conns])
    check(d.metric("kringkast_http_rejected_total",
                   {"reason": "send-timeout"}) == 1, "one send-timeout")
    check(d.stop() == 0, "daemon exit status")


harness.main(test)
