/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-recorder: one recording of one broadcast, written from the packets
 * the viewers get (a feed's tap), without re-encoding: a GStreamer
 * pipeline read from pipelines/record-<codec>.pipeline depayloads the RTP
 * fed to two appsrcs (named "video" and "audio") and muxes the publisher's
 * own VP8/H.264 and Opus into a file ("sink": an fdsink, whose file the
 * recorder opens, syncs to disk every few seconds, and owns).
 *
 * Timestamps. Each track's presentation time is its RTP timestamp, made
 * relative to a reference (the capture time of its first packet): the RTP
 * clocks, not arrival times, carry each track, so neither jitters, and a
 * publisher's reconnect (which the feed already bridges with continuous
 * timestamps) is a gap at most. Where the two tracks sit against each
 * other comes from the packets' capture times (the ingest's jitter
 * buffers, lip-synced by the publisher's sender reports where it can),
 * or their arrival where that is earlier (a sender report can be wrong):
 * for each track the least "capture time minus RTP time" of the last ten
 * seconds, since a packet can be stamped late (held up on its way) but
 * not early. The first packets are the least reliable (a backlog sent in
 * a burst, no sender report yet), so the start of the file waits, held,
 * until that offset has stayed put for a second (at most four) of the
 * time the packets were seen, not of their media: a host whose connection
 * took seconds sends seconds of media in no time.
 * Afterwards video follows it, by at most 2 ms a frame, so that a host
 * whose sound card clock drifts from its camera's stays in sync for
 * hours; an offset that moves by more than 100 ms at once (a reconnect)
 * becomes a gap in the track that must come later. Audio is never
 * slewed. The file starts at the first video keyframe, and audio with
 * it: audio that came before the keyframe is kept (from the feed's recent
 * audio, then held while waiting) for KK_RECORDER_AUDIO_PREROLL_US, since
 * a busy host's video can run a second behind its audio, and a track that
 * starts late in an MP4 starts late only in an edit list, which not every
 * player honours. A pause drops
 * every packet; the recording resumes on the next keyframe, with the
 * paused time cut out of the timeline.
 *
 * Threads: kk_recorder_push () runs on the ingest's streaming thread and
 * never blocks (appsrc queues are bounded and leak the oldest data rather
 * than wait); everything else, and every callback, is on the main context
 * the recorder was made on. Recorders are plain structs with one mutex.
 */
#pragma once

#include <glib.h>
#include "kk-track.h"

G_BEGIN_DECLS

#define KK_RECORDER_ERROR (kk_recorder_error_quark ())
GQuark kk_recorder_error_quark (void);

typedef enum {
  KK_RECORDER_ERROR_PIPELINE,   /* the pipeline description is unusable */
  KK_RECORDER_ERROR_WRITE,      /* the file cannot be written (disk full, ...) */
  KK_RECORDER_ERROR_CODEC,      /* a codec we have no pipeline for */
  KK_RECORDER_ERROR_EMPTY,      /* stopped before the first keyframe: no file */
  KK_RECORDER_ERROR_FAILED,
} KkRecorderError;

/* How often the open file is flushed to stable storage: what a power
 * loss can cost at most, on top of the muxer's own cluster. */
#define KK_RECORDER_SYNC_INTERVAL_S 2
/* How long kk_recorder_finish_sync () waits for the muxer to finish. */
#define KK_RECORDER_FINISH_TIMEOUT_MS 3000

typedef struct _KkRecorder KkRecorder;

typedef struct {
  /* Main context. The first keyframe arrived and the file is open:
   * kk_recorder_get_path () and the codec getters are now valid. */
  void (*started) (KkRecorder *recorder, gpointer user_data);
  /* Main context, exactly once: the file is complete (after
   * kk_recorder_stop ()), or writing failed (@error), in which case the
   * file holds what was written until then. Without started before it,
   * there is no file (%KK_RECORDER_ERROR_EMPTY, or the pipeline failed). */
  void (*ended) (KkRecorder *recorder, const GError *error,
      gpointer user_data);
  /* Any thread: the recording waits for a keyframe (start, resume), or
   * video was lost and the frames after it do not decode until one. */
  void (*need_keyframe) (KkRecorder *recorder, gpointer user_data);
} KkRecorderCallbacks;

typedef struct {
  const char *pipelines_dir;    /* where record-<codec>.pipeline files are */
  const char *directory;        /* where the file goes; must exist */
  const char *basename;         /* file name without extension */
} KkRecorderConfig;

/* Returns: (transfer full): a recorder waiting for its first keyframe. */
KkRecorder *kk_recorder_new (const KkRecorderConfig *config,
    const KkRecorderCallbacks *callbacks, gpointer user_data);
/* Stops (see kk_recorder_finish_sync ()) if still running, then frees.
 * No callback runs after this. */
void kk_recorder_free (KkRecorder *recorder);

/* How much of the feed's recent audio kk_recorder_prime () can use. */
#define KK_RECORDER_AUDIO_PREROLL_US (5 * G_USEC_PER_SEC)

/**
 * kk_recorder_prime:
 * @gop: (transfer none) (nullable) (element-type KkPacket): the feed's
 *   current GOP, taken after the tap was installed
 * @keyframe_age_us: how old its keyframe is
 * @audio: (transfer none) (nullable) (element-type KkPacket): the feed's
 *   audio of the last %KK_RECORDER_AUDIO_PREROLL_US, oldest first, taken
 *   after the tap was installed
 *
 * Packets pushed before this are held back; this writes @audio and @gop
 * first (@gop when its keyframe is recent), then what was held back,
 * skipping what they already had. Call once, right after installing the
 * tap.
 */
void kk_recorder_prime (KkRecorder *recorder, GPtrArray *gop,
    gint64 keyframe_age_us, GPtrArray *audio);

/* The tap: any thread, never blocks. */
void kk_recorder_push (KkRecorder *recorder, KkPacket *packet);

/* Pausing drops everything until resumed; the recording then continues at
 * the next keyframe, with no gap in its timeline. */
void kk_recorder_set_paused (KkRecorder *recorder, gboolean paused);
gboolean kk_recorder_get_paused (KkRecorder *recorder);

/* Ends the recording: the muxer finishes the file (index, duration) and
 * ended follows. The caller must have removed the tap first. */
void kk_recorder_stop (KkRecorder *recorder);
/* Like kk_recorder_stop (), but waits (at most
 * KK_RECORDER_FINISH_TIMEOUT_MS) for the file to be finished, for
 * shutdown when no main loop runs any more. ended is called before this
 * returns. */
void kk_recorder_finish_sync (KkRecorder *recorder);

/* (transfer none) (nullable): known once started. */
const char *kk_recorder_get_path (KkRecorder *recorder);
const char *kk_recorder_get_content_type (KkRecorder *recorder);
const char *kk_recorder_get_video_codec (KkRecorder *recorder);
const char *kk_recorder_get_audio_codec (KkRecorder *recorder);
/* Media time written so far, paused parts excluded. */
gint64 kk_recorder_get_duration_us (KkRecorder *recorder);

/**
 * kk_recorder_repair:
 * @path: a recording that was being written when the daemon died
 * @duration_us: (out) (optional): the duration of what could be saved
 *
 * Remuxes what @path holds (every complete cluster or fragment) into a
 * finished file with an index and a duration, and replaces @path with it.
 * No re-encoding. Blocking: call from a worker thread.
 *
 * Returns: FALSE with @error if nothing could be saved (@path is kept).
 */
gboolean kk_recorder_repair (const char *path, gint64 *duration_us,
    GError **error);

/* Content type of a recording file, from its extension. */
const char *kk_recorder_content_type_for_path (const char *path);

G_END_DECLS
