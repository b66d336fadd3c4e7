/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-recorder: one recording; see kk-recorder.h for the role.
 *
 * States (under the recorder's lock, logged on every transition):
 *
 *   WAITING --video keyframe--> STARTING --pipeline built (main)--> RUNNING
 *   RUNNING --stop--> STOPPING --EOS--> ENDED
 *   any --error, or stop before a keyframe--> ENDED
 *
 * Packets that arrive while the pipeline is being built, or before
 * kk_recorder_prime (), are held in a bounded queue and written in order
 * once it is ready, so nothing between the keyframe and the first write
 * is lost and the tap never waits for GStreamer.
 */
#include "kk-recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kk-pipeline-feed.h"
#include "kk-pipeline-file.h"

GST_DEBUG_CATEGORY_STATIC (kk_recorder_debug);
#define GST_CAT_DEFAULT kk_recorder_debug

G_DEFINE_QUARK (kk-recorder-error-quark, kk_recorder_error)

/* Held packets beyond this are dropped (oldest first): several seconds of
 * a lecture (at 2 Mbit/s), about one of a 1080p one. */
#define MAX_HELD 2048
/* A GOP older than this is not used to start a recording: its start would
 * lie before the broadcast the recording is for. */
#define MAX_GOP_AGE_US (5 * G_USEC_PER_SEC)
/* Audio waiting for the first keyframe is kept for as long. */
#define PREROLL_NS (KK_RECORDER_AUDIO_PREROLL_US * GST_USECOND)
/* Bound on what each appsrc queues; past it the oldest data goes. */
#define APPSRC_MAX_BYTES (8 * 1024 * 1024)
/* A repaired MP4's moov is read whole; ours are a few KiB. */
#define MAX_MOOV_BYTES (16 * 1024 * 1024)
/* The gap left in the timeline where a pause was cut out. */
#define RESUME_GAP_NS (20 * GST_MSECOND)
/* Lip sync (see "Timestamps" in kk-recorder.h): a track's lag is the
 * least of its packets' over the last LAG_BUCKETS * LAG_BUCKET_NS of
 * media, kept as one minimum per bucket. */
#define LAG_BUCKET_NS (500 * GST_MSECOND)
#define LAG_BUCKETS 20
/* The start is written once the audio-video offset has held within
 * SETTLE_TOLERANCE_NS for SETTLE_NS, or after SETTLE_MAX_NS, both in the
 * time packets were seen (see watch_settling ()), not in media time. */
#define SETTLE_TOLERANCE_NS (10 * GST_MSECOND)
#define SETTLE_NS (GST_SECOND)
#define SETTLE_MAX_NS (4 * GST_SECOND)
/* Afterwards, video follows the offset by at most this per frame (far
 * below what anyone sees in a frame's timing)... */
#define SLEW_NS (2 * GST_MSECOND)
/* ...unless it is off by more than this: then the track that must be
 * later jumps ahead, leaving a gap, since neither may go back. */
#define JUMP_NS (100 * GST_MSECOND)

typedef enum {
  STATE_WAITING,
  STATE_STARTING,
  STATE_RUNNING,
  STATE_STOPPING,
  STATE_ENDED,
} RecorderState;

typedef struct {
  gboolean have_seq;
  guint16 last_seq;
  KkRtpUnwrap unwrap;       /* from the first packet on */
  gint64 ref_mono_us;       /* when the first packet was captured */
  /* Capture time minus raw time (ns): the least of each bucket of raw
   * time (bucket[i] says which; G_MININT64 for none yet). */
  gint64 lag[LAG_BUCKETS];
  gint64 lag_bucket[LAG_BUCKETS];
  gint64 last_bucket;
} TrackClock;

/* A packet held back: before kk_recorder_prime () with its arrival time
 * (monotonic µs), while the pipeline is being built with its raw time
 * (ns, see raw_time_ns ()). */
typedef struct {
  KkPacket *packet;
  gint64 time;
} HeldPacket;

struct _KkRecorder {
  GMutex lock;
  char *pipelines_dir;
  char *directory;
  char *basename;
  KkRecorderCallbacks callbacks;
  gpointer user_data;
  GMainContext *context;
  gint64 base_mono_us;
  gint64 wall_minus_mono_us;    /* to read packets' capture times */

  /* Under lock. */
  RecorderState state;
  gboolean primed;
  gboolean paused;
  gboolean resuming;          /* paused, then resumed: waiting for a keyframe */
  gboolean keyframe_wanted;   /* video was lost: ask once the lock is let go */
  GQueue held;                /* HeldPacket */
  KkCodec video_codec;
  TrackClock clocks[KK_TRACK_N];
  gint64 start_ns;            /* raw time of the first keyframe */
  gint64 seen_ns;             /* latest time a packet was seen, see process () */
  gint64 start_seen_ns;       /* seen_ns when the first keyframe came */
  gboolean settled;           /* the start's audio-video offset is known */
  gint64 settle_offset_ns;    /* the offset the settling watches */
  gint64 settle_since_ns;     /* seen_ns since which it has held */
  gint64 shift_ns[KK_TRACK_N];  /* added to each track's raw times */
  gint64 offset_ns;           /* subtracted from raw times: start and pauses */
  gint64 written_end_ns;      /* largest timestamp written */
  GstAppSrc *srcs[KK_TRACK_N];
  guint64 dropped;

  /* Main context only. */
  GSource *build_source;
  GstElement *pipeline;
  KkPipelineWatch *watch;
  guint finish_timer;
  int fd;
  char *path;
  const char *content_type;
  gboolean started;
  gboolean ended;

  /* The sync thread flushes @fd to disk while the file is open. */
  GThread *sync_thread;
  GMutex sync_lock;
  GCond sync_cond;
  gboolean sync_quit;
};

static const char *
state_name (RecorderState state)
{
  switch (state) {
    case STATE_WAITING:
      return "waiting";
    case STATE_STARTING:
      return "starting";
    case STATE_RUNNING:
      return "running";
    case STATE_STOPPING:
      return "stopping";
    case STATE_ENDED:
      return "ended";
  }
  return "?";
}

/* Lock held. */
static void
set_state (KkRecorder *recorder, RecorderState state)
{
  if (recorder->state == state)
    return;
  GST_INFO ("recording %s: %s -> %s", recorder->basename,
      state_name (recorder->state), state_name (state));
  recorder->state = state;
}

static void
held_packet_free (gpointer data)
{
  HeldPacket *held = data;

  kk_packet_unref (held->packet);
  g_free (held);
}

KkRecorder *
kk_recorder_new (const KkRecorderConfig *config,
    const KkRecorderCallbacks *callbacks, gpointer user_data)
{
  KkRecorder *recorder = g_new0 (KkRecorder, 1);

  if (kk_recorder_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_recorder_debug, "kk-recorder", 0,
        "Kringkast recordings");

  g_mutex_init (&recorder->lock);
  g_mutex_init (&recorder->sync_lock);
  g_cond_init (&recorder->sync_cond);
  recorder->pipelines_dir = g_strdup (config->pipelines_dir);
  recorder->directory = g_strdup (config->directory);
  recorder->basename = g_strdup (config->basename);
  if (callbacks != NULL)
    recorder->callbacks = *callbacks;
  recorder->user_data = user_data;
  recorder->context = g_main_context_ref_thread_default ();
  recorder->base_mono_us = g_get_monotonic_time ();
  recorder->wall_minus_mono_us = g_get_real_time () - recorder->base_mono_us;
  recorder->fd = -1;
  recorder->seen_ns = G_MININT64;
  g_queue_init (&recorder->held);
  kk_rtp_unwrap_init (&recorder->clocks[KK_TRACK_AUDIO].unwrap, 48000);
  kk_rtp_unwrap_init (&recorder->clocks[KK_TRACK_VIDEO].unwrap, 90000);
  for (guint i = 0; i < KK_TRACK_N; i++) {
    recorder->clocks[i].last_bucket = G_MININT64;
    for (guint j = 0; j < LAG_BUCKETS; j++)
      recorder->clocks[i].lag_bucket[j] = G_MININT64;
  }
  return recorder;
}

/* ---- the packet path (lock held) ---- */

/* Raw presentation time of the track's last packet: nanoseconds since the
 * recorder was made, from the track's first arrival and its RTP clock. */
static gint64
raw_time_ns (KkRecorder *recorder, TrackClock *clock)
{
  return (clock->ref_mono_us - recorder->base_mono_us) * GST_USECOND
      + kk_rtp_unwrap_elapsed (&clock->unwrap, GST_SECOND);
}

/* Advances the track's clock; FALSE for a duplicate or an old packet. */
static gboolean
update_clock (TrackClock *clock, KkPacket *packet, gint64 mono_us)
{
  if (clock->have_seq && kk_seq_diff (packet->seq, clock->last_seq) <= 0)
    return FALSE;
  if (!clock->unwrap.started)
    clock->ref_mono_us = mono_us;
  kk_rtp_unwrap_next (&clock->unwrap, packet->timestamp, NULL);
  clock->have_seq = TRUE;
  clock->last_seq = packet->seq;
  return TRUE;
}

/* Notes how much later than its RTP timestamp says a packet was
 * captured. Capture times come from the ingest's jitter buffer, which
 * times packets by their arrival until the sender reports line the tracks
 * up: a packet held up on its way (a publisher's backlog, a stalled
 * network, a busy host) is stamped late, and none is stamped early. So
 * the least lag over a few seconds is the track's own, and a late burst
 * does not move it. */
static void
note_lag (TrackClock *clock, gint64 raw_ns, gint64 lag_ns)
{
  gint64 bucket = raw_ns >= 0 ? raw_ns / LAG_BUCKET_NS
      : -((-raw_ns + LAG_BUCKET_NS - 1) / LAG_BUCKET_NS);
  guint slot = (guint) (bucket % LAG_BUCKETS + LAG_BUCKETS) % LAG_BUCKETS;

  if (clock->lag_bucket[slot] != bucket) {
    clock->lag_bucket[slot] = bucket;
    clock->lag[slot] = lag_ns;
  } else if (lag_ns < clock->lag[slot]) {
    clock->lag[slot] = lag_ns;
  }
  clock->last_bucket = MAX (clock->last_bucket, bucket);
}

/* The track's lag: the least over its recent buckets. */
static gboolean
track_lag (TrackClock *clock, gint64 *lag_ns)
{
  gboolean found = FALSE;

  for (guint i = 0; i < LAG_BUCKETS; i++) {
    if (clock->lag_bucket[i] == G_MININT64
        || clock->lag_bucket[i] <= clock->last_bucket - LAG_BUCKETS)
      continue;
    if (!found || clock->lag[i] < *lag_ns)
      *lag_ns = clock->lag[i];
    found = TRUE;
  }
  return found;
}

/* How much later than audio video must be written, so that what was
 * captured together plays together: FALSE until both tracks have had
 * capture times. */
static gboolean
sync_offset (KkRecorder *recorder, gint64 *offset_ns)
{
  gint64 video = 0, audio = 0;

  if (!track_lag (&recorder->clocks[KK_TRACK_VIDEO], &video)
      || !track_lag (&recorder->clocks[KK_TRACK_AUDIO], &audio))
    return FALSE;
  *offset_ns = video - audio;
  return TRUE;
}

static void
write_packet (KkRecorder *recorder, KkPacket *packet, gint64 raw_ns)
{
  gint64 pts = raw_ns + recorder->shift_ns[packet->kind] - recorder->offset_ns;
  GstAppSrc *src = recorder->srcs[packet->kind];

  /* Audio from before the first keyframe, or from before a resume. */
  if (pts < 0 || src == NULL)
    return;
  if (kk_pipeline_feed_push (src, packet, pts, FALSE) != GST_FLOW_OK)
    recorder->dropped++;
  if (pts > recorder->written_end_ns)
    recorder->written_end_ns = pts;
}

static void
write_held (KkRecorder *recorder)
{
  HeldPacket *held;

  while ((held = g_queue_pop_head (&recorder->held)) != NULL) {
    write_packet (recorder, held->packet, held->time);
    held_packet_free (held);
  }
}

/* Fixes where the file starts: the first keyframe at 0, and video shifted
 * by the audio-video offset known now (none without capture times). What
 * was held is written if the pipeline runs, else once it does. */
static void
settle (KkRecorder *recorder, const char *why)
{
  gint64 offset = 0;

  if (recorder->settled)
    return;
  recorder->settled = TRUE;
  sync_offset (recorder, &offset);
  recorder->shift_ns[KK_TRACK_AUDIO] = 0;
  recorder->shift_ns[KK_TRACK_VIDEO] = offset;
  recorder->offset_ns = recorder->start_ns + offset;
  GST_INFO ("recording %s: starts with video %+.1f ms from audio (%s)",
      recorder->basename, offset / 1e6, why);
  if (recorder->state == STATE_RUNNING)
    write_held (recorder);
}

/* Before the start is settled, on each video frame: capture times are
 * unreliable while the ingest's jitter buffers start (a publisher's
 * backlog comes in a burst; lip sync needs both tracks' first RTCP sender
 * reports), so the start waits, held, until the offset has stayed put
 * for SETTLE_NS. That is measured in the time packets were seen, not in
 * their media time: a host whose connection took seconds sends what it
 * captured meanwhile at once, seconds of media that the ingest stamps
 * with their arrival, late and track by track, so the offset moves until
 * the burst is over, however much media it carried. */
static void
watch_settling (KkRecorder *recorder)
{
  gint64 seen_ns = recorder->seen_ns;
  gint64 offset;

  if (seen_ns - recorder->start_seen_ns >= SETTLE_MAX_NS) {
    settle (recorder, "still moving; following it");
    return;
  }
  if (!sync_offset (recorder, &offset))
    return;
  if (recorder->settle_since_ns == G_MININT64
      || ABS (offset - recorder->settle_offset_ns) > SETTLE_TOLERANCE_NS) {
    recorder->settle_offset_ns = offset;
    recorder->settle_since_ns = seen_ns;
  } else if (seen_ns - recorder->settle_since_ns >= SETTLE_NS) {
    settle (recorder, "steady");
  }
}

/* Unsettled, on each packet: the held queue is bounded, and past its
 * audio pre-roll its oldest packet is the first keyframe, so a full queue
 * ends the wait. */
static void
wait_settling (KkRecorder *recorder, gboolean new_frame)
{
  if (new_frame)
    watch_settling (recorder);
  if (!recorder->settled && g_queue_get_length (&recorder->held) >= MAX_HELD)
    settle (recorder, "no room to wait longer");
}

/* Once settled, on each video frame: follows the audio-video offset, so
 * that a publisher whose audio clock runs apart from its video clock (a
 * sound card's crystal against the system clock; its sender reports say
 * so, and the ingest's capture times with them) does not drift out of
 * sync over an hour. Audio is never slewed: a shifted sample is heard. */
static void
follow_sync (KkRecorder *recorder)
{
  gint64 *shift = recorder->shift_ns;
  gint64 target, error;

  if (!sync_offset (recorder, &target))
    return;
  error = target - (shift[KK_TRACK_VIDEO] - shift[KK_TRACK_AUDIO]);
  if (error > JUMP_NS) {
    shift[KK_TRACK_VIDEO] += error;
  } else if (error < -JUMP_NS) {
    shift[KK_TRACK_AUDIO] -= error;
  } else {
    shift[KK_TRACK_VIDEO] += CLAMP (error, -SLEW_NS, SLEW_NS);
    return;
  }
  GST_INFO ("recording %s: video now %+.1f ms from audio: a gap of %.1f ms "
      "in the %s", recorder->basename, target / 1e6, ABS (error) / 1e6,
      error > 0 ? "video" : "audio");
}

static gboolean build_pipeline (gpointer data);

static void
hold (KkRecorder *recorder, KkPacket *packet, gint64 time)
{
  HeldPacket *held;

  if (g_queue_get_length (&recorder->held) >= MAX_HELD) {
    held_packet_free (g_queue_pop_head (&recorder->held));
    recorder->dropped++;
  }
  held = g_new (HeldPacket, 1);
  held->packet = kk_packet_ref (packet);
  held->time = time;
  g_queue_push_tail (&recorder->held, held);
}

/* Waiting for the first keyframe: audio is kept (as the head of the held
 * queue) for PREROLL_NS of media, since the video captured with it can
 * come much later: a busy host's video encoder runs hundreds of ms behind
 * its audio. Dropped, the file's audio would start that much after its
 * video, which MP4 says only in an edit list (an empty edit) that many
 * players ignore, playing the whole recording out of sync. What turns
 * out to precede the keyframe is dropped when written. */
static void
preroll_audio (KkRecorder *recorder, KkPacket *packet, gint64 raw_ns)
{
  HeldPacket *oldest;

  hold (recorder, packet, raw_ns);
  while ((oldest = g_queue_peek_head (&recorder->held)) != NULL
      && raw_ns - oldest->time > PREROLL_NS)
    held_packet_free (g_queue_pop_head (&recorder->held));
}

/* @arrival_us: when the tap gave us @packet (monotonic), or 0 when that
 * says nothing (the GOP or recent audio, read from the feed's cache). */
static void
process (KkRecorder *recorder, KkPacket *packet, gint64 mono_us,
    gint64 arrival_us)
{
  TrackClock *clock;
  gboolean keyframe = packet->kind == KK_TRACK_VIDEO
      && packet->keyframe_start;
  gboolean new_frame;
  gint64 raw_ns, seen_us;

  if (packet->kind >= KK_TRACK_N)
    return;
  /* Each track's clock is anchored on when its first packet was captured,
   * in the publisher's lip-synced timeline, not on when it arrived; its
   * later packets' capture times say how far that anchor was off. */
  if (packet->capture_wall_us != 0)
    mono_us = packet->capture_wall_us - recorder->wall_minus_mono_us;
  clock = &recorder->clocks[packet->kind];
  new_frame = packet->kind == KK_TRACK_VIDEO
      && (!clock->have_seq || packet->timestamp != clock->unwrap.last);
  /* Video the jitter buffer gave up on leaves every frame after it broken
   * until the next keyframe, and a browser sends one only when asked: the
   * viewers' decoders ask for theirs, but a lecture may have none. */
  if (packet->kind == KK_TRACK_VIDEO && clock->have_seq
      && kk_seq_diff (packet->seq, clock->last_seq) > 1
      && recorder->state == STATE_RUNNING && !recorder->paused) {
    GST_DEBUG ("recording %s: video lost before %u, asking for a keyframe",
        recorder->basename, packet->seq);
    recorder->keyframe_wanted = TRUE;
  }
  if (!update_clock (clock, packet, mono_us))
    return;
  raw_ns = raw_time_ns (recorder, clock);
  /* When the packet was seen: its capture time, or its arrival where
   * that is earlier. A capture time later than the packet's arrival is no
   * capture time: the ingest's jitter buffer stamps packets with their
   * playout time, which lip sync by the host's sender reports may put
   * ahead, by as much as those reports are wrong (a GStreamer host's were
   * by 190 ms). A burst is seen all at once, whatever media it carries. */
  seen_us = arrival_us != 0 ? MIN (mono_us, arrival_us) : mono_us;
  recorder->seen_ns = MAX (recorder->seen_ns,
      (seen_us - recorder->base_mono_us) * GST_USECOND);
  if (packet->capture_wall_us != 0)
    note_lag (clock, raw_ns, (seen_us - recorder->base_mono_us) * GST_USECOND
        - raw_ns);

  switch (recorder->state) {
    case STATE_WAITING:
      if (recorder->paused)
        return;
      if (packet->kind == KK_TRACK_AUDIO)
        preroll_audio (recorder, packet, raw_ns);
      if (!keyframe)
        return;
      if (packet->codec != KK_CODEC_VP8 && packet->codec != KK_CODEC_H264) {
        GST_WARNING ("recording %s: no pipeline for video codec %u",
            recorder->basename, packet->codec);
        return;
      }
      recorder->video_codec = packet->codec;
      recorder->start_ns = raw_ns;
      recorder->start_seen_ns = recorder->seen_ns;
      recorder->settle_since_ns = G_MININT64;
      set_state (recorder, STATE_STARTING);
      /* Written once the pipeline runs, at its raw time. */
      hold (recorder, packet, raw_ns);
      /* Without capture times there is nothing to wait for. */
      if (packet->capture_wall_us == 0)
        settle (recorder, "no capture times");
      recorder->build_source = g_idle_source_new ();
      g_source_set_callback (recorder->build_source, build_pipeline, recorder,
          NULL);
      g_source_attach (recorder->build_source, recorder->context);
      return;
    case STATE_STARTING:
      if (recorder->paused)
        return;
      if (!recorder->settled)
        wait_settling (recorder, new_frame);
      hold (recorder, packet, raw_ns);
      return;
    case STATE_RUNNING:
      if (recorder->paused)
        return;
      if (!recorder->settled) {
        wait_settling (recorder, new_frame);
        if (!recorder->settled) {
          hold (recorder, packet, raw_ns);
          return;
        }
      } else if (new_frame) {
        follow_sync (recorder);
      }
      if (recorder->resuming) {
        if (!keyframe)
          return;
        /* Cut the pause out: the keyframe follows what was written last. */
        recorder->offset_ns = raw_ns + recorder->shift_ns[KK_TRACK_VIDEO]
            - recorder->written_end_ns - RESUME_GAP_NS;
        recorder->resuming = FALSE;
        GST_INFO ("recording %s: resumed at %" GST_TIME_FORMAT,
            recorder->basename, GST_TIME_ARGS (recorder->written_end_ns));
      }
      write_packet (recorder, packet, raw_ns);
      return;
    case STATE_STOPPING:
    case STATE_ENDED:
      return;
  }
  return;
}

void
kk_recorder_push (KkRecorder *recorder, KkPacket *packet)
{
  gint64 now = g_get_monotonic_time ();
  gboolean keyframe_wanted;

  g_mutex_lock (&recorder->lock);
  if (!recorder->primed)
    hold (recorder, packet, now);
  else
    process (recorder, packet, now, now);
  keyframe_wanted = recorder->keyframe_wanted;
  recorder->keyframe_wanted = FALSE;
  g_mutex_unlock (&recorder->lock);

  if (keyframe_wanted && recorder->callbacks.need_keyframe != NULL)
    recorder->callbacks.need_keyframe (recorder, recorder->user_data);
}

void
kk_recorder_prime (KkRecorder *recorder, GPtrArray *gop,
    gint64 keyframe_age_us, GPtrArray *audio)
{
  gint64 now = g_get_monotonic_time ();
  gboolean need_keyframe;
  GQueue held = G_QUEUE_INIT;
  HeldPacket *entry;

  g_mutex_lock (&recorder->lock);
  g_return_if_fail (!recorder->primed);
  recorder->primed = TRUE;
  held = recorder->held;
  g_queue_init (&recorder->held);

  /* Before the keyframe, so that it is held as pre-roll. */
  for (guint i = 0; audio != NULL && i < audio->len; i++)
    process (recorder, audio->pdata[i], now, 0);
  if (gop != NULL && gop->len > 0 && keyframe_age_us <= MAX_GOP_AGE_US) {
    /* The keyframe was captured @keyframe_age_us ago; its followers are
     * placed from there by their RTP timestamps. */
    for (guint i = 0; i < gop->len; i++)
      process (recorder, gop->pdata[i], now - keyframe_age_us, 0);
  }
  /* Duplicates of cached packets are skipped by sequence number. */
  while ((entry = g_queue_pop_head (&held)) != NULL) {
    process (recorder, entry->packet, entry->time, entry->time);
    held_packet_free (entry);
  }
  need_keyframe = recorder->state == STATE_WAITING;
  g_mutex_unlock (&recorder->lock);

  if (need_keyframe && recorder->callbacks.need_keyframe != NULL)
    recorder->callbacks.need_keyframe (recorder, recorder->user_data);
}

void
kk_recorder_set_paused (KkRecorder *recorder, gboolean paused)
{
  gboolean need_keyframe = FALSE;

  g_mutex_lock (&recorder->lock);
  if (recorder->paused != paused) {
    GST_INFO ("recording %s: %s", recorder->basename,
        paused ? "paused" : "resuming");
    /* What was held before the pause is part of the recording. */
    if (paused && (recorder->state == STATE_STARTING
            || recorder->state == STATE_RUNNING))
      settle (recorder, "paused");
    recorder->paused = paused;
    if (!paused && recorder->state == STATE_RUNNING) {
      recorder->resuming = TRUE;
      need_keyframe = TRUE;
    } else if (!paused && recorder->state == STATE_WAITING) {
      need_keyframe = TRUE;
    }
  }
  g_mutex_unlock (&recorder->lock);

  if (need_keyframe && recorder->callbacks.need_keyframe != NULL)
    recorder->callbacks.need_keyframe (recorder, recorder->user_data);
}

gboolean
kk_recorder_get_paused (KkRecorder *recorder)
{
  gboolean paused;

  g_mutex_lock (&recorder->lock);
  paused = recorder->paused;
  g_mutex_unlock (&recorder->lock);
  return paused;
}

/* ---- the pipeline (main context) ---- */

static gpointer
sync_thread_func (gpointer data)
{
  KkRecorder *recorder = data;

  g_mutex_lock (&recorder->sync_lock);
  while (!recorder->sync_quit) {
    gint64 deadline = g_get_monotonic_time ()
        + KK_RECORDER_SYNC_INTERVAL_S * G_USEC_PER_SEC;

    if (g_cond_wait_until (&recorder->sync_cond, &recorder->sync_lock,
            deadline))
      continue;
    /* Outside the lock: a slow disk must not hold up stopping. The fd
     * stays open until this thread is joined. */
    g_mutex_unlock (&recorder->sync_lock);
    if (fdatasync (recorder->fd) != 0 && errno != EINVAL)
      GST_WARNING ("recording %s: fdatasync: %s", recorder->basename,
          g_strerror (errno));
    g_mutex_lock (&recorder->sync_lock);
  }
  g_mutex_unlock (&recorder->sync_lock);
  return NULL;
}

static void
stop_sync_thread (KkRecorder *recorder)
{
  if (recorder->sync_thread == NULL)
    return;
  g_mutex_lock (&recorder->sync_lock);
  recorder->sync_quit = TRUE;
  g_cond_signal (&recorder->sync_cond);
  g_mutex_unlock (&recorder->sync_lock);
  g_thread_join (g_steal_pointer (&recorder->sync_thread));
}

/* The container follows from the muxer the operator put in the pipeline. */
static gboolean
container_for_muxer (GstElement *pipeline, const char **extension,
    const char **content_type)
{
  g_auto (GValue) item = G_VALUE_INIT;
  GstIterator *iter = gst_bin_iterate_recurse (GST_BIN (pipeline));
  gboolean found = FALSE;

  while (!found && gst_iterator_next (iter, &item) == GST_ITERATOR_OK) {
    GstElement *element = g_value_get_object (&item);
    GstElementFactory *factory = gst_element_get_factory (element);
    const char *name = factory ? GST_OBJECT_NAME (factory) : "";

    if (g_str_equal (name, "webmmux")) {
      *extension = "webm";
      found = TRUE;
    } else if (g_str_equal (name, "matroskamux")) {
      *extension = "mkv";
      found = TRUE;
    } else if (g_str_equal (name, "mp4mux") || g_str_equal (name, "qtmux")) {
      *extension = "mp4";
      found = TRUE;
    }
    g_value_reset (&item);
  }
  gst_iterator_free (iter);
  if (found) {
    g_autofree char *file = g_strconcat ("x.", *extension, NULL);

    *content_type = kk_recorder_content_type_for_path (file);
  }
  return found;
}

const char *
kk_recorder_content_type_for_path (const char *path)
{
  if (g_str_has_suffix (path, ".webm"))
    return "video/webm";
  if (g_str_has_suffix (path, ".mp4"))
    return "video/mp4";
  if (g_str_has_suffix (path, ".mkv"))
    return "video/x-matroska";
  return "application/octet-stream";
}

static void end_recording (KkRecorder *recorder, GError *error);

/* The muxer has written the file's end. */
static void
on_pipeline_eos (gpointer user_data)
{
  end_recording (user_data, NULL);
}

static void
on_pipeline_error (const GError *gst_error, const char *debug,
    gpointer user_data)
{
  KkRecorder *recorder = user_data;

  GST_WARNING ("recording %s: %s (%s)", recorder->basename,
      gst_error->message, debug ? debug : "");
  /* A resource error is the file's: the disk full, the directory gone. */
  end_recording (recorder, g_error_new (KK_RECORDER_ERROR,
          gst_error->domain == GST_RESOURCE_ERROR
          ? KK_RECORDER_ERROR_WRITE : KK_RECORDER_ERROR_FAILED,
          "%s", gst_error->message));
}

static GstElement *
make_pipeline (KkRecorder *recorder, KkCodec codec, GstAppSrc **srcs,
    GstElement **sink, GError **error)
{
  const char *name = codec == KK_CODEC_H264 ? "record-h264" : "record-vp8";
  g_autofree char *path = kk_pipeline_file_path (recorder->pipelines_dir,
      name);
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GError) load_error = NULL;

  pipeline = kk_pipeline_file_load (recorder->pipelines_dir, name, NULL, NULL,
      &load_error);
  if (pipeline == NULL) {
    g_set_error_literal (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_PIPELINE,
        load_error->message);
    return NULL;
  }
  *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  /* The appsrcs bounded: rather lose data than grow without bound when
   * the disk cannot keep up. */
  if (*sink == NULL
      || !g_object_class_find_property (G_OBJECT_GET_CLASS (*sink), "fd")
      || !kk_pipeline_feed_get_srcs (pipeline, codec, APPSRC_MAX_BYTES,
          srcs)) {
    g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_PIPELINE,
        "%s: needs appsrcs named \"video\" and \"audio\" and an fdsink "
        "named \"sink\"", path);
    g_clear_object (sink);
    return NULL;
  }
  return g_steal_pointer (&pipeline);
}

static gboolean
build_pipeline (gpointer data)
{
  KkRecorder *recorder = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;
  static const KkPipelineWatchCallbacks watch_callbacks = {
    .error = on_pipeline_error,
    .eos = on_pipeline_eos,
  };
  GstAppSrc *srcs[KK_TRACK_N] = { NULL, NULL };
  const char *extension = NULL;
  const char *content_type = NULL;
  g_autofree char *file = NULL;
  KkCodec codec;

  g_clear_pointer (&recorder->build_source, g_source_unref);
  g_mutex_lock (&recorder->lock);
  codec = recorder->video_codec;
  g_mutex_unlock (&recorder->lock);

  pipeline = make_pipeline (recorder, codec, srcs, &sink, &error);
  if (pipeline == NULL)
    goto failed;
  if (!container_for_muxer (pipeline, &extension, &content_type)) {
    g_set_error (&error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_PIPELINE,
        "the recording pipeline for %s has no webmmux, matroskamux or "
        "mp4mux", codec == KK_CODEC_H264 ? "H.264" : "VP8");
    goto failed;
  }
  file = g_strconcat (recorder->basename, ".", extension, NULL);
  recorder->path = g_build_filename (recorder->directory, file, NULL);
  recorder->content_type = content_type;
  recorder->fd = open (recorder->path,
      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (recorder->fd < 0) {
    int saved = errno;

    g_set_error (&error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_WRITE,
        "cannot create %s: %s", recorder->path, g_strerror (saved));
    goto failed;
  }
  g_object_set (sink, "fd", recorder->fd, NULL);

  recorder->watch = kk_pipeline_watch_new (pipeline, recorder->context,
      "kk-recorder-error", &watch_callbacks, recorder);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_set_error (&error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_PIPELINE,
        "the recording pipeline does not start");
    g_clear_pointer (&recorder->watch, kk_pipeline_watch_free);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    goto failed;
  }
  recorder->pipeline = g_steal_pointer (&pipeline);
  recorder->sync_thread = g_thread_new ("kk-rec-sync", sync_thread_func,
      recorder);

  g_mutex_lock (&recorder->lock);
  recorder->srcs[KK_TRACK_VIDEO] = srcs[KK_TRACK_VIDEO];
  recorder->srcs[KK_TRACK_AUDIO] = srcs[KK_TRACK_AUDIO];
  if (recorder->state == STATE_STARTING) {
    set_state (recorder, STATE_RUNNING);
    /* Held packets carry their raw time already; unsettled, they wait. */
    if (recorder->settled)
      write_held (recorder);
  }
  g_mutex_unlock (&recorder->lock);

  GST_INFO ("recording %s: writing %s", recorder->basename, recorder->path);
  recorder->started = TRUE;
  if (recorder->callbacks.started != NULL)
    recorder->callbacks.started (recorder, recorder->user_data);
  return G_SOURCE_REMOVE;

failed:
  for (guint i = 0; i < KK_TRACK_N; i++)
    g_clear_object (&srcs[i]);
  if (recorder->fd >= 0) {
    close (recorder->fd);
    recorder->fd = -1;
    unlink (recorder->path);
  }
  g_clear_pointer (&recorder->path, g_free);
  GST_WARNING ("recording %s: %s", recorder->basename, error->message);
  end_recording (recorder, g_steal_pointer (&error));
  return G_SOURCE_REMOVE;
}

/* Tears everything down and reports, once. Takes @error. */
static void
end_recording (KkRecorder *recorder, GError *error)
{
  GstElement *pipeline;
  GstAppSrc *srcs[KK_TRACK_N];

  g_mutex_lock (&recorder->lock);
  set_state (recorder, STATE_ENDED);
  for (guint i = 0; i < KK_TRACK_N; i++)
    srcs[i] = g_steal_pointer (&recorder->srcs[i]);
  g_queue_clear_full (&recorder->held, held_packet_free);
  g_mutex_unlock (&recorder->lock);

  if (recorder->build_source != NULL) {
    g_source_destroy (recorder->build_source);
    g_clear_pointer (&recorder->build_source, g_source_unref);
  }
  if (recorder->finish_timer != 0) {
    g_source_remove (recorder->finish_timer);
    recorder->finish_timer = 0;
  }
  /* Also when the watch itself reported the end. */
  g_clear_pointer (&recorder->watch, kk_pipeline_watch_free);
  pipeline = g_steal_pointer (&recorder->pipeline);
  if (pipeline != NULL) {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
  }
  for (guint i = 0; i < KK_TRACK_N; i++)
    g_clear_object (&srcs[i]);
  stop_sync_thread (recorder);
  if (recorder->fd >= 0) {
    if (fdatasync (recorder->fd) != 0 && error == NULL)
      error = g_error_new (KK_RECORDER_ERROR, KK_RECORDER_ERROR_WRITE,
          "cannot write %s: %s", recorder->path, g_strerror (errno));
    close (recorder->fd);
    recorder->fd = -1;
  }
  if (error == NULL && !recorder->started)
    error = g_error_new_literal (KK_RECORDER_ERROR, KK_RECORDER_ERROR_EMPTY,
        "no keyframe arrived: nothing was recorded");

  if (recorder->ended) {
    g_clear_error (&error);
    return;
  }
  recorder->ended = TRUE;
  GST_INFO ("recording %s: ended (%s), %" GST_TIME_FORMAT,
      recorder->basename, error ? error->message : "complete",
      GST_TIME_ARGS (recorder->written_end_ns));
  if (recorder->callbacks.ended != NULL)
    recorder->callbacks.ended (recorder, error, recorder->user_data);
  g_clear_error (&error);
}

static gboolean
on_finish_timeout (gpointer user_data)
{
  KkRecorder *recorder = user_data;

  recorder->finish_timer = 0;
  end_recording (recorder, g_error_new (KK_RECORDER_ERROR,
          KK_RECORDER_ERROR_FAILED, "the muxer did not finish the file "
          "within %d ms", KK_RECORDER_FINISH_TIMEOUT_MS));
  return G_SOURCE_REMOVE;
}

/* Returns TRUE if the pipeline was sent EOS and is finishing. */
static gboolean
begin_stop (KkRecorder *recorder)
{
  gboolean running;

  g_mutex_lock (&recorder->lock);
  running = recorder->state == STATE_RUNNING;
  if (running) {
    settle (recorder, "stopped");
    set_state (recorder, STATE_STOPPING);
    for (guint i = 0; i < KK_TRACK_N; i++)
      gst_app_src_end_of_stream (recorder->srcs[i]);
  }
  g_mutex_unlock (&recorder->lock);
  return running;
}

void
kk_recorder_stop (KkRecorder *recorder)
{
  if (recorder->ended || recorder->finish_timer != 0)
    return;
  if (!begin_stop (recorder)) {
    end_recording (recorder, NULL);
    return;
  }
  recorder->finish_timer = g_timeout_add (KK_RECORDER_FINISH_TIMEOUT_MS,
      on_finish_timeout, recorder);
}

void
kk_recorder_finish_sync (KkRecorder *recorder)
{
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) message = NULL;

  if (recorder->ended)
    return;
  if (recorder->pipeline == NULL) {
    end_recording (recorder, NULL);
    return;
  }
  /* Take the messages off the bus here rather than through the watch. */
  g_clear_pointer (&recorder->watch, kk_pipeline_watch_free);
  begin_stop (recorder);
  bus = gst_element_get_bus (recorder->pipeline);
  message = gst_bus_timed_pop_filtered (bus,
      KK_RECORDER_FINISH_TIMEOUT_MS * GST_MSECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (message == NULL) {
    end_recording (recorder, g_error_new (KK_RECORDER_ERROR,
            KK_RECORDER_ERROR_FAILED, "the muxer did not finish the file "
            "within %d ms", KK_RECORDER_FINISH_TIMEOUT_MS));
  } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) gst_error = NULL;

    gst_message_parse_error (message, &gst_error, NULL);
    end_recording (recorder, g_error_new (KK_RECORDER_ERROR,
            KK_RECORDER_ERROR_WRITE, "%s", gst_error->message));
  } else {
    end_recording (recorder, NULL);
  }
}

void
kk_recorder_free (KkRecorder *recorder)
{
  if (recorder == NULL)
    return;
  memset (&recorder->callbacks, 0, sizeof recorder->callbacks);
  kk_recorder_finish_sync (recorder);
  g_queue_clear_full (&recorder->held, held_packet_free);
  g_main_context_unref (recorder->context);
  g_mutex_clear (&recorder->lock);
  g_mutex_clear (&recorder->sync_lock);
  g_cond_clear (&recorder->sync_cond);
  g_free (recorder->path);
  g_free (recorder->pipelines_dir);
  g_free (recorder->directory);
  g_free (recorder->basename);
  g_free (recorder);
}

const char *
kk_recorder_get_path (KkRecorder *recorder)
{
  return recorder->path;
}

const char *
kk_recorder_get_content_type (KkRecorder *recorder)
{
  return recorder->content_type;
}

const char *
kk_recorder_get_video_codec (KkRecorder *recorder)
{
  if (!recorder->started)
    return NULL;
  return recorder->video_codec == KK_CODEC_H264 ? "H264" : "VP8";
}

const char *
kk_recorder_get_audio_codec (KkRecorder *recorder)
{
  return recorder->started ? "opus" : NULL;
}

gint64
kk_recorder_get_duration_us (KkRecorder *recorder)
{
  gint64 end;

  g_mutex_lock (&recorder->lock);
  end = recorder->written_end_ns;
  g_mutex_unlock (&recorder->lock);
  return end / GST_USECOND;
}

/* ---- repair ---- */

typedef struct {
  GstElement *mux;
  GMutex lock;
  GstClockTime end;
} RepairState;

static GstPadProbeReturn
repair_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  RepairState *state = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime end;

  /* qtdemux gives the samples of a fragment cut off mid-write a DTS but
   * no PTS, which mp4mux refuses; our streams have no B-frames, so the
   * two are the same. */
  if (!GST_BUFFER_PTS_IS_VALID (buffer) && GST_BUFFER_DTS_IS_VALID (buffer)) {
    buffer = gst_buffer_make_writable (buffer);
    GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer);
    GST_PAD_PROBE_INFO_DATA (info) = buffer;
  }
  end = GST_BUFFER_PTS (buffer);

  if (GST_CLOCK_TIME_IS_VALID (end)) {
    if (GST_BUFFER_DURATION_IS_VALID (buffer))
      end += GST_BUFFER_DURATION (buffer);
    g_mutex_lock (&state->lock);
    if (!GST_CLOCK_TIME_IS_VALID (state->end) || end > state->end)
      state->end = end;
    g_mutex_unlock (&state->lock);
  }
  return GST_PAD_PROBE_OK;
}

static void
repair_pad_added (GstElement *parsebin, GstPad *pad, gpointer user_data)
{
  RepairState *state = user_data;
  g_autoptr (GstCaps) caps = gst_pad_query_caps (pad, NULL);
  g_autoptr (GstPad) sink = gst_element_get_compatible_pad (state->mux, pad,
      caps);
  GstElement *queue = gst_element_factory_make ("queue", NULL);
  g_autoptr (GstPad) queue_sink = NULL;
  g_autoptr (GstPad) queue_src = NULL;

  /* The demuxer pushes every stream from one thread, and the muxer waits
   * for all of them: a queue per stream keeps them from waiting on each
   * other. Clusters hold about a second, so a few seconds suffice. */
  g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
      "max-size-time", (guint64) 10 * GST_SECOND, NULL);
  gst_bin_add (GST_BIN (GST_ELEMENT_PARENT (state->mux)), queue);
  gst_element_sync_state_with_parent (queue);
  queue_sink = gst_element_get_static_pad (queue, "sink");
  queue_src = gst_element_get_static_pad (queue, "src");
  if (sink == NULL || gst_pad_link (pad, queue_sink) != GST_PAD_LINK_OK
      || gst_pad_link (queue_src, sink) != GST_PAD_LINK_OK) {
    GST_WARNING ("repair: cannot mux a stream of %" GST_PTR_FORMAT, caps);
    return;
  }
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, repair_probe, state,
      NULL);
}

/* A box of an ISO base media file (MP4): its type and where its body
 * and the box end, as offsets into what was read. */
typedef struct {
  guint32 type;
  gsize body;
  gsize end;
} Box;

/* Big-endian fields at any alignment (GST_READ_* may load unaligned). */
static guint64
read_be (const guint8 *p, guint bytes)
{
  guint64 value = 0;

  for (guint i = 0; i < bytes; i++)
    value = value << 8 | p[i];
  return value;
}

/* A box type as GST_MAKE_FOURCC () spells it. */
static guint32
read_fourcc (const guint8 *p)
{
  return GST_MAKE_FOURCC (p[0], p[1], p[2], p[3]);
}

/* Reads the box at @data + *@offset, which must end by @limit, and moves
 * *@offset past it. FALSE at the end, or for a box that does not fit. */
static gboolean
read_box (const guint8 *data, gsize limit, gsize *offset, Box *box)
{
  gsize at = *offset;
  guint64 size;
  gsize header = 8;

  if (at > limit || limit - at < 8)
    return FALSE;
  size = read_be (data + at, 4);
  box->type = read_fourcc (data + at + 4);
  if (size == 1) {
    if (limit - at < 16)
      return FALSE;
    size = read_be (data + at + 8, 8);
    header = 16;
  } else if (size == 0) {
    size = limit - at;
  }
  if (size < header || size > limit - at)
    return FALSE;
  box->body = at + header;
  box->end = at + size;
  *offset = box->end;
  return TRUE;
}

/* The first child of @parent of @type. */
static gboolean
find_box (const guint8 *data, const Box *parent, guint32 type, Box *found)
{
  gsize offset = parent->body;

  while (read_box (data, parent->end, &offset, found))
    if (found->type == type)
      return TRUE;
  return FALSE;
}

/* Each edit that plays media in @moov (a whole moov box, read) is made
 * to run to the end of its track: a segment_duration of 0 (ISO/IEC
 * 14496-12, 8.6.6). Empty edits (a track that starts late) stay. */
static void
open_edit_lists (guint8 *moov, gsize length)
{
  Box box, trak, edts, elst;
  gsize offset = 0;

  if (!read_box (moov, length, &offset, &box))
    return;
  offset = box.body;
  while (read_box (moov, box.end, &offset, &trak)) {
    guint version, entry_size;
    guint32 count;
    guint8 *entry;

    if (trak.type != GST_MAKE_FOURCC ('t', 'r', 'a', 'k')
        || !find_box (moov, &trak, GST_MAKE_FOURCC ('e', 'd', 't', 's'), &edts)
        || !find_box (moov, &edts, GST_MAKE_FOURCC ('e', 'l', 's', 't'), &elst)
        || elst.end - elst.body < 8)
      continue;
    version = moov[elst.body];
    entry_size = version == 1 ? 20 : 12;
    count = read_be (moov + elst.body + 4, 4);
    if (count > (elst.end - elst.body - 8) / entry_size)
      continue;
    entry = moov + elst.body + 8;
    for (; count > 0; count--, entry += entry_size) {
      /* Each entry: segment_duration, media_time (-1: an empty edit),
       * media_rate; the first two of 8 bytes in version 1, else 4. */
      if (version == 1 && read_be (entry + 8, 8) != G_MAXUINT64)
        memset (entry, 0, 8);
      else if (version != 1 && read_be (entry + 4, 4) != G_MAXUINT32)
        memset (entry, 0, 4);
    }
  }
}

/* mp4mux writing fragments ("first-moov-then-finalise") puts the moov
 * first, before any fragment, and it is only rewritten at the end: in a
 * file cut off, its edit lists still say the tracks last as long as the
 * first fragment, and qtdemux would end each track there (an audio track
 * that starts a few ms after the video has one). So they are opened up,
 * in place, before the file is remuxed. */
static gboolean
open_mp4_edit_lists (const char *path, GError **error)
{
  int fd = open (path, O_RDWR | O_CLOEXEC);
  guint64 offset = 0;
  guint8 header[16];
  struct stat st;
  gboolean ok = TRUE;

  if (fd < 0 || fstat (fd, &st) != 0) {
    int saved = errno;

    g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_WRITE,
        "cannot open %s: %s", path, g_strerror (saved));
    if (fd >= 0)
      close (fd);
    return FALSE;
  }
  while (offset + 8 <= (guint64) st.st_size
      && pread (fd, header, sizeof header, offset) >= 8) {
    guint64 size = read_be (header, 4);

    if (size == 1)
      size = read_be (header + 8, 8);
    else if (size == 0)
      size = st.st_size - offset;
    if (size < 8 || size > (guint64) st.st_size - offset)
      break;
    if (read_fourcc (header + 4) == GST_MAKE_FOURCC ('m', 'o', 'o', 'v')
        && size <= MAX_MOOV_BYTES) {
      g_autofree guint8 *moov = g_malloc (size);

      if (pread (fd, moov, size, offset) != (gssize) size) {
        ok = FALSE;
      } else {
        open_edit_lists (moov, size);
        ok = pwrite (fd, moov, size, offset) == (gssize) size;
      }
      if (!ok)
        g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_WRITE,
            "cannot rewrite the index of %s: %s", path, g_strerror (errno));
      break;
    }
    offset += size;
  }
  close (fd);
  return ok;
}

gboolean
kk_recorder_repair (const char *path, gint64 *duration_us, GError **error)
{
  const char *muxer = g_str_has_suffix (path, ".webm") ? "webmmux"
      : g_str_has_suffix (path, ".mp4") ? "mp4mux" : "matroskamux";
  g_autofree char *temp = g_strconcat (path, ".repair", NULL);
  g_autoptr (GstElement) pipeline = gst_pipeline_new ("kk-repair");
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) message = NULL;
  GstElement *src, *parse, *mux, *sink;
  RepairState state = { .end = GST_CLOCK_TIME_NONE };
  gboolean ok = FALSE;

  if (kk_recorder_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_recorder_debug, "kk-recorder", 0,
        "Kringkast recordings");

  if (g_str_has_suffix (path, ".mp4") && !open_mp4_edit_lists (path, error))
    return FALSE;
  src = gst_element_factory_make ("filesrc", NULL);
  parse = gst_element_factory_make ("parsebin", NULL);
  mux = gst_element_factory_make (muxer, NULL);
  sink = gst_element_factory_make ("filesink", NULL);
  if (src == NULL || parse == NULL || mux == NULL || sink == NULL) {
    g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_PIPELINE,
        "filesrc, parsebin, %s or filesink is missing", muxer);
    g_clear_object (&src);
    g_clear_object (&parse);
    g_clear_object (&mux);
    g_clear_object (&sink);
    return FALSE;
  }
  g_mutex_init (&state.lock);
  state.mux = mux;
  g_object_set (src, "location", path, NULL);
  g_object_set (sink, "location", temp, NULL);
  gst_bin_add_many (GST_BIN (pipeline), src, parse, mux, sink, NULL);
  gst_element_link (src, parse);
  gst_element_link (mux, sink);
  g_signal_connect (parse, "pad-added", G_CALLBACK (repair_pad_added), &state);

  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  message = gst_bus_timed_pop_filtered (bus, 600 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (message != NULL && GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) gst_error = NULL;

    gst_message_parse_error (message, &gst_error, NULL);
    g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_FAILED,
        "cannot repair %s: %s", path, gst_error->message);
  } else if (message == NULL) {
    g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_FAILED,
        "repairing %s takes too long", path);
  } else if (!GST_CLOCK_TIME_IS_VALID (state.end)) {
    g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_EMPTY,
        "%s holds no media", path);
  } else {
    ok = TRUE;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_mutex_clear (&state.lock);

  if (ok && g_rename (temp, path) != 0) {
    int saved = errno;

    g_set_error (error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_WRITE,
        "cannot replace %s: %s", path, g_strerror (saved));
    ok = FALSE;
  }
  if (!ok) {
    g_unlink (temp);
    return FALSE;
  }
  if (duration_us != NULL)
    *duration_us = state.end / GST_USECOND;
  GST_INFO ("repaired %s: %" GST_TIME_FORMAT, path, GST_TIME_ARGS (state.end));
  return TRUE;
}
