/* SPDX-License-Identifier: Apache-2.0 */
/* The lecture over plain HTTPS, the nurse's page's last resort: when no
 * WebRTC path connects within a few seconds (a workplace network that lets
 * nothing out but HTTP(S), often through a proxy), the page plays the
 * relay's media segments with Media Source Extensions instead
 * (GET /api/rooms/{room}/segments and the segments it lists, with the
 * participant's token).
 *
 * KkSegmentsPlayer has the shape of WhepClient (start, stop, stats,
 * onstate), so watch.js treats it as one more client. Segments last
 * about a second, and only some start on a keyframe (the playlist says
 * which): the others continue the segment before them. So the player
 * starts with the init segment and the newest keyframe segment, then
 * fetches every later segment once and appends it in order. When it
 * needs a start point (it starts, or starts over after a gap) it says so
 * on the playlist request (?start=1), and the relay asks the lecturer's
 * encoder for a keyframe if the newest is too old; the player waits a
 * little (KK_SEGMENTS_START_WAIT_MS) for a fresh one rather than start
 * far behind. It keeps the picture close to live: the playlist says
 * where live is on the relay's clock (live_edge); a player a little
 * behind plays slightly faster until it has caught up, one more than
 * KK_SEGMENTS_MAX_BEHIND_S behind jumps ahead, but only to a keyframe
 * segment it has (asking for a start point when it has none ahead).
 *
 * It reads the playlist once per target duration (a segment's length:
 * nothing new can be there sooner). When the relay, or a proxy before
 * it, answers 429 or 503 (or a proxy 502 or 504: its relay is away), it
 * waits as long as Retry-After says, or else 1 s, 2 s, 4 s and so on up
 * to KK_SEGMENTS_RETRY_MAX_MS, plays what it has meanwhile, and says so
 * on the page when it lasts: a room of nurses behind one proxy must not
 * hammer a relay that is already struggling. */
"use strict";

const kkSegmentsText = kkTranslator({
  "path.https": "Over HTTPS (fallback)",
  "retrying": "the relay is busy or away (HTTP {status}): trying again in {seconds} s",
}, {
  "path.https": "Over HTTPS (reserveløsning)",
  "retrying": "reléet er opptatt eller borte (HTTP {status}): prøver igjen om {seconds} s",
});

/* A WebRTC attempt not connected after this long gives way to HTTPS. */
const KK_WEBRTC_CONNECT_MS = 5000;
/* How often the playlist is read until it says its target duration. */
const KK_SEGMENTS_POLL_MS = 1000;
/* Answers that mean "later": the relay's limits (429), a relay or proxy
 * that cannot serve now (503), a proxy whose relay is away (502, 504). */
const KK_SEGMENTS_RETRY_STATUSES = [429, 502, 503, 504];
/* Waits after such an answer without Retry-After: the first, doubled
 * each time up to the last. A Retry-After is honoured up to
 * KK_SEGMENTS_RETRY_AFTER_MAX_MS (a wrong one must not stop the lecture
 * for good). */
const KK_SEGMENTS_RETRY_FIRST_MS = 1000;
const KK_SEGMENTS_RETRY_MAX_MS = 16000;
const KK_SEGMENTS_RETRY_AFTER_MAX_MS = 60000;
/* Trouble that lasts longer than this is said on the page. */
const KK_SEGMENTS_TROUBLE_NOTICE_MS = 3000;
/* Behind live by more than this: jump ahead to the newest keyframe
 * segment buffered. A start point older than this is waited on for up to
 * KK_SEGMENTS_START_WAIT_MS (a publisher asked for a keyframe sends one
 * within a second or so; one that never does must not keep the nurse
 * waiting). */
const KK_SEGMENTS_MAX_BEHIND_S = 3.5;
const KK_SEGMENTS_START_WAIT_MS = 4000;
/* Behind by more than this: play a little faster. */
const KK_SEGMENTS_CATCH_UP_S = 2.8;
const KK_SEGMENTS_CATCH_UP_RATE = 1.08;
/* Media kept behind the playing position (removed only up to a keyframe:
 * a browser removing frames also removes every frame after them up to the
 * next keyframe, which could be the one playing). */
const KK_SEGMENTS_KEEP_S = 10;
/* Media behind the playing position with no keyframe in it to remove up
 * to (a publisher that sends keyframes only when asked): past this much a
 * start point is asked for, so that the buffer never outgrows the
 * browser's quota in a long lecture. */
const KK_SEGMENTS_KEEP_MAX_S = 60;

/* Watches a WebRTC attempt: @fallBack runs if it has not connected after
 * KK_WEBRTC_CONNECT_MS while @isCurrent. */
function kkSegmentsWatch(attempt, isCurrent, fallBack) {
  clearTimeout(attempt.kkConnectTimer);
  attempt.kkConnectTimer = setTimeout(() => {
    if (isCurrent() && !attempt.kkConnected) fallBack();
  }, KK_WEBRTC_CONNECT_MS);
}

/* For every state of a WebRTC attempt: TRUE when it failed without ever
 * connecting, so no WebRTC path works here and HTTPS should take over. */
function kkSegmentsShouldFallBack(attempt, state) {
  if (state === "connected") {
    attempt.kkConnected = true;
    clearTimeout(attempt.kkConnectTimer);
  }
  return state === "failed" && !attempt.kkConnected;
}

/* Retry-After (RFC 9110 10.2.3: seconds, or an HTTP date) in ms; null
 * when absent or unreadable. */
function kkRetryAfterMs(value) {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

class KkSegmentsPlayer {
  constructor(room, token, video) {
    this.playlist = `/api/rooms/${encodeURIComponent(room)}/segments`;
    this.token = token;
    this.video = video;
    this.onstate = null;
    this.stopped = false;
    this.playing = false;
    this.id = null;             /* the relay's segmenter, once its init is in */
    this.bufferFor = null;      /* the segmenter the source buffer is for */
    this.startAskedAt = null;   /* when trim() last asked for a keyframe */
    this.next = null;           /* the next segment to fetch */
    this.wantStart = true;      /* say ?start=1 on the next playlist request */
    this.lookingSince = null;   /* performance.now() since a start point is looked for */
    this.keyframes = [];        /* media times of the keyframe segments appended */
    this.fetched = 0;
    this.behindLive = null;     /* seconds, measured on the relay's clock */
    this.edge = null;           /* {media: live_edge, at: performance.now()} */
    this.pollMs = KK_SEGMENTS_POLL_MS;
    this.retryMs = 0;           /* the last wait after a "later" answer; 0 when none */
    this.trouble = null;        /* {status, since, until} while "later" answers come */
    this.playlistRequests = 0;
  }

  start() {
    this.run().catch((error) => {
      if (this.stopped) return;
      this.error = error;
      if (this.onstate) this.onstate("failed");
    });
  }

  stop() {
    this.stopped = true;
    if (this.url) {
      this.video.removeAttribute("src");
      this.video.load();
      URL.revokeObjectURL(this.url);
      this.url = null;
    }
  }

  async get(path, json) {
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${this.token}` }, cache: json ? "no-store" : "default",
    });
    if (!response.ok) {
      throw Object.assign(new Error(`HTTP ${response.status}`),
        { status: response.status, retryAfterMs: kkRetryAfterMs(response.headers.get("Retry-After")) });
    }
    return json ? response.json() : response.arrayBuffer();
  }

  async open() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.mediaSource = new MediaSource();
    this.buffer = null;
    this.bufferFor = null;
    this.playing = false;
    this.video.srcObject = null;
    this.url = URL.createObjectURL(this.mediaSource);
    this.video.src = this.url;
    await new Promise((resolve) => this.mediaSource.addEventListener("sourceopen", resolve, { once: true }));
  }

  async run() {
    if (typeof MediaSource !== "function") throw new Error("no Media Source Extensions");
    await this.open();
    while (!this.stopped) {
      const started = performance.now();
      let wait;
      try {
        this.playlistRequests++;
        const list = await this.get(this.wantStart ? `${this.playlist}?start=1` : this.playlist, true);
        this.wantStart = false;
        if (this.stopped) return;
        if (list.live_edge !== null) this.edge = { media: list.live_edge, at: performance.now() };
        if (list.target_duration > 0) this.pollMs = list.target_duration * 1000;
        await this.follow(list);
        this.retryMs = 0;
        this.trouble = null;
        wait = this.pollMs - (performance.now() - started);
      } catch (error) {
        if (this.stopped || !KK_SEGMENTS_RETRY_STATUSES.includes(error.status)) throw error;
        wait = this.backOff(error);
      }
      this.keepUp();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
  }

  /* A "later" answer to the playlist or a segment: how long to wait
   * before the next request. The segment not fetched is fetched then. */
  backOff(error) {
    const now = performance.now();
    this.retryMs = Math.min(this.retryMs ? this.retryMs * 2 : KK_SEGMENTS_RETRY_FIRST_MS, KK_SEGMENTS_RETRY_MAX_MS);
    const wait = error.retryAfterMs !== null ? Math.min(error.retryAfterMs, KK_SEGMENTS_RETRY_AFTER_MAX_MS)
      : this.retryMs;
    this.trouble = { status: error.status, since: this.trouble ? this.trouble.since : now, until: now + wait };
    return wait;
  }

  /* Appends what the playlist has that this player has not. */
  async follow(list) {
    const segments = list.segments;
    /* Until a keyframe segment is there, the relay is asked again for a
     * start point on every poll (it folds and bounds the asks): one lost
     * request must not leave the nurse waiting for the host's next own
     * keyframe. */
    if (!list.init || !list.mime_type || segments.length === 0) {
      this.wantStart = true;
      return;
    }
    if (this.id !== list.id) {
      /* A new segmenter on the relay numbers and times from zero again.
       * The source buffer is made once per segmenter; the id is taken
       * only once its init segment is in, so that an init fetch that
       * is told to wait (429/503) is fetched again, not skipped. */
      if (this.bufferFor !== list.id) {
        if (this.bufferFor !== null) await this.open();
        if (!MediaSource.isTypeSupported(list.mime_type)) throw new Error(`cannot play ${list.mime_type}`);
        this.buffer = this.mediaSource.addSourceBuffer(list.mime_type);
        this.bufferFor = list.id;
      }
      this.next = null;
      this.keyframes = [];
      let init;
      try {
        init = await this.get(list.init, false);
      } catch (error) {
        /* Replaced meanwhile: the next playlist names the new one. */
        if (error.status !== 404) throw error;
        return;
      }
      await this.append(init);
      this.id = list.id;
    }
    const first = segments[0].seq;
    const last = segments[segments.length - 1].seq;
    if (this.next === null || this.next < first || this.next > last + 1) {
      /* Start (or start over, if the window moved past us) with the
       * newest segment a player can start with, once it is fresh enough
       * or waiting for a fresher one has taken long enough. */
      const now = performance.now();
      if (this.lookingSince === null) this.lookingSince = now;
      const start = [...segments].reverse().find((s) => s.keyframe);
      const fresh = start && list.live_edge !== null && list.live_edge - start.start <= KK_SEGMENTS_MAX_BEHIND_S;
      if (!start || (!fresh && now - this.lookingSince < KK_SEGMENTS_START_WAIT_MS)) {
        this.next = null;
        this.wantStart = true;
        return;
      }
      this.next = start.seq;
      this.lookingSince = null;
    }
    for (const segment of segments) {
      if (segment.seq < this.next || this.stopped) continue;
      let data;
      try {
        data = await this.get(segment.url, false);
      } catch (error) {
        /* Gone from the window meanwhile (a slow network): start again
         * from the newest. */
        if (error.status !== 404) throw error;
        this.next = null;
        this.wantStart = true;
        return;
      }
      await this.trim();
      await this.append(data);
      if (segment.keyframe) this.keyframes.push(segment.start);
      this.next = segment.seq + 1;
      this.fetched++;
    }
  }

  update(action) {
    return new Promise((resolve, reject) => {
      const buffer = this.buffer;
      const done = () => { buffer.removeEventListener("error", failed); resolve(); };
      const failed = () => { buffer.removeEventListener("updateend", done); reject(new Error("the browser refused a segment")); };
      buffer.addEventListener("updateend", done, { once: true });
      buffer.addEventListener("error", failed, { once: true });
      action(buffer);
    });
  }

  append(data) {
    return this.update((buffer) => buffer.appendBuffer(data));
  }

  /* What was played long ago goes, so the browser's quota is never hit:
   * up to the newest keyframe at least KK_SEGMENTS_KEEP_S behind. */
  async trim() {
    const buffered = this.buffer.buffered;
    const limit = this.video.currentTime - KK_SEGMENTS_KEEP_S;
    /* The keyframe the buffer already starts at is no place to trim to. */
    const start = buffered.length > 0 ? buffered.start(0) + 0.01 : 0;
    const older = this.keyframes.filter((k) => k > start && k <= limit);
    if (older.length === 0) {
      /* A host that sends keyframes only when asked: past the bound with
       * no keyframe after the buffer's start, ask for one, once per
       * bound's half (the answer is a keyframe segment within a second
       * or two, which ends the asking). */
      const now = performance.now();
      if (buffered.length > 0 && this.video.currentTime - buffered.start(0) > KK_SEGMENTS_KEEP_MAX_S
        && !this.keyframes.some((k) => k > start)
        && (this.startAskedAt === null || now - this.startAskedAt > KK_SEGMENTS_KEEP_MAX_S * 500)) {
        this.wantStart = true;
        this.startAskedAt = now;
      }
      return;
    }
    const until = older[older.length - 1];
    this.keyframes = this.keyframes.filter((k) => k >= until);
    if (buffered.length > 0 && until > buffered.start(0)) {
      await this.update((buffer) => buffer.remove(0, until));
    }
  }

  /* Starts playing, and stays close to live. */
  keepUp() {
    const buffered = this.buffer ? this.buffer.buffered : null;
    if (!buffered || buffered.length === 0) return;
    const video = this.video;
    const newest = buffered.length - 1;
    const end = buffered.end(newest);
    let inside = false;
    for (let i = 0; i < buffered.length; i++) {
      if (video.currentTime >= buffered.start(i) - 0.1 && video.currentTime < buffered.end(i)) inside = true;
    }
    /* The start, or a gap (the relay dropped a segment before we had it):
     * go on where the newest media is. */
    if (!inside) video.currentTime = buffered.start(newest);
    if (!this.playing) {
      this.playing = true;
      if (this.onstate) this.onstate("connected");
    }
    if (!this.edge) return;
    const live = this.edge.media + (performance.now() - this.edge.at) / 1000;
    this.behindLive = live - video.currentTime;
    /* A jump lands only on a keyframe segment's start: anywhere else the
     * browser would decode from the keyframe before it first. */
    const ahead = this.keyframes.filter((k) => k > video.currentTime + 0.5 && k < end);
    if (this.behindLive > KK_SEGMENTS_MAX_BEHIND_S && ahead.length > 0) {
      video.currentTime = ahead[ahead.length - 1];
      video.playbackRate = 1;
    } else {
      /* Far behind with no keyframe ahead: ask for one (the relay folds
       * and limits such requests) and play faster meanwhile. */
      if (this.behindLive > KK_SEGMENTS_MAX_BEHIND_S) this.wantStart = true;
      video.playbackRate = this.behindLive > KK_SEGMENTS_CATCH_UP_S ? KK_SEGMENTS_CATCH_UP_RATE : 1;
    }
  }

  /* The shape of WhepClient.stats(), plus which path this is and how far
   * behind live it plays. */
  async stats() {
    const quality = this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality() : null;
    const now = performance.now();
    let path = kkSegmentsText("path.https");
    if (this.trouble && now - this.trouble.since >= KK_SEGMENTS_TROUBLE_NOTICE_MS) {
      path += ` · ${kkSegmentsText("retrying", {
        status: this.trouble.status, seconds: Math.max(0, Math.ceil((this.trouble.until - now) / 1000)),
      })}`;
    }
    return {
      framesDecoded: quality ? quality.totalVideoFrames - quality.droppedVideoFrames : 0,
      packetsLost: 0,
      packetsReceived: this.fetched,
      rtt: null,
      width: this.video.videoWidth,
      height: this.video.videoHeight,
      transport: "https",
      path,
      behindLive: this.behindLive,
      segmentsFetched: this.fetched,
      playlistRequests: this.playlistRequests,
      retrying: this.trouble ? { status: this.trouble.status, waitMs: this.trouble.until - now } : null,
    };
  }
}
