#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Recordings end to end: what a host publishes is what the coordinator
downloads.

A VP8 host and an H.264 host (whip_gst.py, 320x240) each publish about
6 s to a room with "record": true. Each recording is listed with the
session (state, codecs, duration, size), downloaded, and checked with
GStreamer's discoverer and a full decode: both streams, the codec the
host sent (VP8 in WebM, H.264 in MP4, nothing re-encoded), and a
duration within 1 s of what was published. Then: Range gives 206 with
the right bytes; only the coordinator may fetch (no token 401, the host
403, a viewer 403); traversal and foreign ids are 404 (or refused
before routing); DELETE removes the file, and the recording is then
listed "deleted" and gone (410).
"""
import os
import uuid

import harness
from harness import check, check_eq
import recording_media as rm


def publish_and_check(ctx, d, room, codec):
    token = d.create_room(room, title="Kurs %s" % codec, record=True)[
        "host_token"]
    pub = rm.Publish(ctx, d, room, token, 6, "--codec", codec).finish()
    sid, rec = rm.wait_recording(d, room)
    harness.log("%s listed: %s", room, rec)
    check_eq(rec["state"], "finished", "state")
    check_eq(rec["url"], "/api/sessions/%s/recording" % sid, "url")
    check_eq(rec["content_type"], {"vp8": "video/webm",
                                   "h264": "video/mp4"}[codec], "content type")
    check_eq(rec["video_codec"], codec.upper(), "listed video codec")
    check_eq(rec["audio_codec"], "opus", "listed audio codec")
    check(rec["ended_at"] and rec["paused"] == [], "ended, never paused")

    path = os.path.join(ctx.workdir, "%s.%s" % (room, "webm" if codec == "vp8"
                                                else "mp4"))
    r = rm.download(d, rec["url"], path)
    check_eq(r.status, 200, "GET recording")
    check_eq(r.header("Content-Type"), rec["content_type"], "Content-Type")
    check_eq(os.path.getsize(path), rec["size_bytes"], "size as listed")
    disposition = r.header("Content-Disposition")
    check(disposition.startswith('attachment; filename="Kurs-%s-' % codec)
          and "filename*=UTF-8''Kurs%%20%s%%20" % codec in disposition,
          "Content-Disposition %r" % disposition)
    info = rm.inspect(path)
    # At least what the relay saw live, at most what the host captured.
    rm.check_media(info, codec, pub.live_span - 1.0, pub.run_s + 1.0)
    check(abs(rec["duration_seconds"] - info["duration"]) < 1.0,
          "listed duration %.2f s, file %.2f s" % (rec["duration_seconds"],
                                                   info["duration"]))
    return sid, rec, path, token


def test(ctx):
    d = ctx.daemon()
    sid, rec, path, host_token = publish_and_check(ctx, d, "kurs-vp8", "vp8")
    publish_and_check(ctx, d, "kurs-h264", "h264")
    url = rec["url"]
    with open(path, "rb") as f:
        whole = f.read()

    # Range: one range, and a suffix; past the end is 416.
    r = d.api("GET", url, headers={"Range": "bytes=1000-4999"})
    check_eq(r.status, 206, "ranged GET")
    check_eq(r.body, whole[1000:5000], "the bytes of the range")
    check_eq(r.header("Content-Range"), "bytes 1000-4999/%d" % len(whole),
             "Content-Range")
    r = d.api("GET", url, headers={"Range": "bytes=-100"})
    check_eq((r.status, r.body), (206, whole[-100:]), "suffix range")
    r = d.api("GET", url, headers={"Range": "bytes=%d-" % len(whole)})
    check_eq(r.status, 416, "range past the end")

    # Only the coordinator.
    viewer = d.join("kurs-vp8", "Kari Nordmann")["token"]
    check_eq(d.api("GET", url, token=None).status, 401, "no token")
    check_eq(d.api("GET", url, token="not-a-token").status, 401, "bad token")
    check_eq(d.api("GET", url, token=host_token).status, 403, "host token")
    check_eq(d.api("GET", url, token=viewer).status, 403, "viewer token")
    check_eq(d.api("DELETE", url, token=host_token).status, 403,
             "host may not delete")

    # Nothing outside the recordings, nothing of other sessions. libsoup
    # itself refuses a path whose decoding has ".." segments (400).
    r = d.api("GET", "/api/sessions/..%2F..%2Fetc/recording")
    check(r.status in (400, 404), "traversal refused (%d)" % r.status)
    check(b"root:" not in r.body, "no file content")
    for path_ in ("/api/sessions/..%252F..%252Fetc%252Fpasswd/recording",
                  "/api/sessions/%s/recording" % uuid.uuid4(),
                  "/api/sessions/%s/recording" % sid.upper().replace("-", ""),
                  "/api/sessions/kringkast.db/recording"):
        check_eq(d.api("GET", path_).status, 404, path_)
    d.create_room("plain", record=False)
    plain = rm.Publish(ctx, d, "plain", d.room("plain")["host_token"], 2)
    plain.finish()
    plain_sid = d.sessions("plain")[-1]["id"]
    check_eq(d.sessions("plain")[-1]["recording"], None,
             "a room without record has no recording")
    check_eq(d.api("GET", "/api/sessions/%s/recording" % plain_sid).status,
             404, "a session that was not recorded")

    # Deletion.
    file_on_disk = os.path.join(d.data_dir, "recordings", sid + ".webm")
    check(os.path.exists(file_on_disk), "the file is in <data-dir>/recordings")
    check_eq(d.api("DELETE", url).status, 204, "DELETE")
    check(not os.path.exists(file_on_disk), "the file is gone")
    check_eq(d.api("GET", url).status, 410, "GET after DELETE")
    _, rec = rm.session_recording(d, "kurs-vp8", sid)
    check_eq((rec["state"], rec["url"]), ("deleted", None), "listed deleted")
    check_eq(d.metric("kringkast_recordings_finished_total"), 2.0,
             "finished counter")
    check(d.metric("kringkast_recording_bytes_written_total") >= len(whole),
          "bytes counter")
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test)
