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
 * WebM segments are each a complete Cluster, and Firefox's MSE starts a
 * new demuxer for a Cluster whose first block is earlier than the end of
 * the frames before it (TrackBuffersManager: "new start is smaller than
 * last parsed end time"). With audio interleaved that is every Cluster,
 * by a few ms, and the new demuxer drops video up to the next keyframe:
 * without keyframes in the segments Firefox showed one second in six.
 * So the player appends a keyframe segment and the segments continuing
 * it as one Cluster of unknown size (KkWebmRun): the first with its size
 * made unknown, as the relay's muxer wrote it, the later ones as their
 * blocks alone, timed from the first Cluster's timecode. A block's
 * timecode is 16 bits, about 32 s of a run: past KK_SEGMENTS_RUN_ASK_S
 * the player asks for a start point (a keyframe segment starts a new
 * run), and a run that cannot go on starts a new Cluster anyway.
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
/* A run of WebM segments joined into one Cluster this long (in the
 * Cluster's timecode units, 1 ms as the relay's muxer writes them) asks
 * for a start point, once per KK_SEGMENTS_RUN_ASK_MS: a block's 16-bit
 * timecode reaches only 32767 units past its Cluster's. */
const KK_SEGMENTS_RUN_ASK_S = 20;
const KK_SEGMENTS_RUN_ASK_MS = 2000;

/* EBML (RFC 8794): an element ID keeps its length marker, a size drops it;
 * a size with every value bit set is "unknown". Each reader returns null
 * where the bytes end too soon or are not what a live WebM muxer writes. */
const KK_EBML_CLUSTER = 0x1F43B675;
const KK_EBML_TIMECODE = 0xE7;
const KK_EBML_BLOCK_GROUP = 0xA0;
const KK_EBML_BLOCK = 0xA1;
const KK_EBML_SIMPLE_BLOCK = 0xA3;

/* The variable-length integer at @at: {value, length}, the marker kept
 * (an ID) or not (a size); unknown is true for an all-ones size. */
function kkEbmlVint(bytes, at, keepMarker) {
  if (at >= bytes.length || bytes[at] === 0) return null;
  const length = Math.clz32(bytes[at]) - 23;
  if (at + length > bytes.length || length > (keepMarker ? 4 : 8)) return null;
  let value = keepMarker ? bytes[at] : bytes[at] & (0xFF >> length);
  let unknown = value === 0xFF >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[at + i];
    if (bytes[at + i] !== 0xFF) unknown = false;
  }
  return { value, length, unknown: !keepMarker && unknown };
}

/* The element at @at: {id, start (of its body), end}; null unless it is
 * whole within @end. */
function kkEbmlElement(bytes, at, end) {
  const id = kkEbmlVint(bytes, at, true);
  if (!id) return null;
  const size = kkEbmlVint(bytes, at + id.length, false);
  if (!size || size.unknown) return null;
  const start = at + id.length + size.length;
  if (start + size.value > end) return null;
  return { id: id.value, start, end: start + size.value, sizeAt: at + id.length, sizeLength: size.length };
}

/* Joins WebM segments (each one whole Cluster) into one Cluster of
 * unknown size, so that a browser's MSE sees one media segment for a
 * whole run; see the top of this file for why. */
class KkWebmRun {
  constructor() {
    this.base = null;   /* the run's Cluster timecode; null: no run */
    this.length = 0;    /* from it to the last segment joined's timecode */
  }

  /* The bytes to append for @data, a segment that continues the one
   * appended before it (@continues) or not. A continuation whose blocks
   * cannot be timed from the run's Cluster, or bytes that are not one
   * Cluster, go as they are (a Cluster of their own). */
  join(data, continues) {
    const bytes = new Uint8Array(data);
    const cluster = kkEbmlElement(bytes, 0, bytes.length);
    const timecode = cluster && cluster.id === KK_EBML_CLUSTER && cluster.end === bytes.length
      ? this.timecode(bytes, cluster) : null;
    if (timecode === null) {
      this.base = null;
      this.length = 0;
      return data;
    }
    if (continues && this.base !== null) {
      const blocks = this.blocks(bytes, cluster, timecode - this.base);
      if (blocks) {
        this.length = timecode - this.base;
        return blocks;
      }
    }
    /* A new run: this Cluster, its size made unknown (every value bit
     * set, in the same number of bytes), so that the blocks of the next
     * segments belong to it. */
    this.base = timecode;
    this.length = 0;
    const open = bytes.slice();
    open[cluster.sizeAt] = 0xFF >> (cluster.sizeLength - 1);
    open.fill(0xFF, cluster.sizeAt + 1, cluster.sizeAt + cluster.sizeLength);
    return open.buffer;
  }

  timecode(bytes, cluster) {
    for (let at = cluster.start; at < cluster.end;) {
      const child = kkEbmlElement(bytes, at, cluster.end);
      if (!child) return null;
      if (child.id === KK_EBML_TIMECODE) {
        let value = 0;
        for (let i = child.start; i < child.end; i++) value = value * 256 + bytes[i];
        return value;
      }
      at = child.end;
    }
    return null;
  }

  /* The Cluster's blocks (SimpleBlock, BlockGroup), each block's
   * timecode moved by @shift; null when one does not fit in 16 bits. */
  blocks(bytes, cluster, shift) {
    const out = [];
    for (let at = cluster.start; at < cluster.end;) {
      const child = kkEbmlElement(bytes, at, cluster.end);
      if (!child) return null;
      if (child.id === KK_EBML_SIMPLE_BLOCK || child.id === KK_EBML_BLOCK_GROUP) {
        const copy = bytes.slice(at, child.end);
        const block = child.id === KK_EBML_SIMPLE_BLOCK ? child
          : this.blockIn(bytes, child);
        if (!block || !this.shift(copy, block.start - at, block.end - at, shift)) return null;
        out.push(copy);
      }
      /* The Timecode goes (the run's Cluster has one); so do PrevSize and
       * Position, which say where this Cluster was. */
      at = child.end;
    }
    const joined = new Uint8Array(out.reduce((sum, b) => sum + b.length, 0));
    let offset = 0;
    for (const b of out) {
      joined.set(b, offset);
      offset += b.length;
    }
    return joined.buffer;
  }

  blockIn(bytes, group) {
    for (let at = group.start; at < group.end;) {
      const child = kkEbmlElement(bytes, at, group.end);
      if (!child) return null;
      if (child.id === KK_EBML_BLOCK) return child;
      at = child.end;
    }
    return null;
  }

  /* A block's body: the track number, then its timecode relative to its
   * Cluster's (signed, 16 bits, big-endian). */
  shift(copy, start, end, shift) {
    const track = kkEbmlVint(copy, start, false);
    if (!track || start + track.length + 2 > end) return false;
    const at = start + track.length;
    const relative = ((copy[at] << 24) >> 16) | copy[at + 1];
    const moved = relative + shift;
    if (moved < -32768 || moved > 32767) return false;
    copy[at] = (moved >> 8) & 0xFF;
    copy[at + 1] = moved & 0xFF;
    return true;
  }
}

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
    this.webmRun = null;        /* WebM: the run of segments joined into one Cluster */
    this.appendedSeq = null;    /* the last media segment appended */
    this.runAskedAt = null;     /* when a long run last asked for a keyframe */
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
      this.appendedSeq = null;
      this.webmRun = list.mime_type.includes("/webm") ? new KkWebmRun() : null;
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
      await this.append(this.webmRun ? this.joinRun(segment, data) : data);
      if (segment.keyframe) this.keyframes.push(segment.start);
      this.appendedSeq = segment.seq;
      this.next = segment.seq + 1;
      this.fetched++;
    }
  }

  /* A WebM segment's bytes as appended: joined to the run it continues
   * (the segment appended just before it, when it has no keyframe of
   * its own). A run grown long asks for a start point, which the next
   * keyframe segment answers by starting a new one. */
  joinRun(segment, data) {
    const continues = !segment.keyframe && this.appendedSeq === segment.seq - 1;
    const joined = this.webmRun.join(data, continues);
    const now = performance.now();
    if (this.webmRun.length > KK_SEGMENTS_RUN_ASK_S * 1000
      && (this.runAskedAt === null || now - this.runAskedAt > KK_SEGMENTS_RUN_ASK_MS)) {
      this.wantStart = true;
      this.runAskedAt = now;
    }
    return joined;
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
