/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-recorder: real encoded media (VP8 or H.264, and Opus,
 * made here by GStreamer encoders and payloaders) goes through the
 * recorder exactly as the feed's tap would deliver it, and the file that
 * comes out is decoded in full: both streams present, the codec the
 * publisher sent, the duration of what was sent (minus what was paused),
 * a file cut off mid-recording (as a SIGKILL leaves it) repaired, and
 * audio and video placed by the capture times the ingest gives packets
 * (a backlog sent in a burst, a late excursion, a drifting sound card).
 */
#include "kk-recorder.h"
#include "test-media.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <kringkast/kk-rtp.h>
#include <math.h>
#include <string.h>

#define FPS 15

typedef struct {
  char *dir;
  GPtrArray *packets;         /* KkPacket, in send order */
  KkRecorder *recorder;
  gboolean started;
  gboolean ended;
  GError *error;
  guint keyframe_requests;
} Fixture;

/* ---- making media ---- */

/* @seconds of media, interleaved by media time like a live publisher. */
static GPtrArray *
make_media (KkCodec codec, guint seconds)
{
  return kk_test_media_make (codec, seconds, FPS, 15);
}

static gdouble
packet_seconds (KkPacket *packet, guint32 first_ts)
{
  return kk_test_media_seconds (packet, first_ts);
}

/* ---- decoding what came out ---- */

typedef KkTestDecoded Decoded;

static void
demux_pad_added (GstElement *parsebin, GstPad *pad, gpointer user_data)
{
  Decoded *decoded = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const char *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));

  if (g_str_has_prefix (name, "video/"))
    decoded->video_caps = g_strdup (name);
}

/* Decodes @path in full; fails the test on any error. */
static void
decode (const char *path, Decoded *decoded)
{
  kk_test_media_decode (path, decoded);
}

/* The codec in the container, without decoding. */
static char *
container_video_codec (const char *path)
{
  g_autofree char *description = g_strdup_printf (
      "filesrc location=\"%s\" ! parsebin name=p", path);
  g_autoptr (GstElement) pipeline = gst_parse_launch (description, NULL);
  g_autoptr (GstElement) parsebin = gst_bin_get_by_name (GST_BIN (pipeline),
      "p");
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) message = NULL;
  Decoded decoded = { 0 };

  g_signal_connect (parsebin, "pad-added", G_CALLBACK (demux_pad_added),
      &decoded);
  gst_element_set_state (pipeline, GST_STATE_PAUSED);
  message = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return decoded.video_caps;
}

/* ---- the fixture ---- */

static void
on_started (KkRecorder *recorder, gpointer user_data)
{
  Fixture *f = user_data;

  f->started = TRUE;
}

static void
on_ended (KkRecorder *recorder, const GError *error, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_false (f->ended);
  f->ended = TRUE;
  if (error != NULL)
    f->error = g_error_copy (error);
}

static void
on_need_keyframe (KkRecorder *recorder, gpointer user_data)
{
  Fixture *f = user_data;

  f->keyframe_requests++;
}

static const KkRecorderCallbacks callbacks = {
  .started = on_started,
  .ended = on_ended,
  .need_keyframe = on_need_keyframe,
};

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("kk-recorder-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  kk_recorder_free (f->recorder);
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *path = g_build_filename (f->dir, name, NULL);

    g_unlink (path);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_clear_pointer (&f->packets, g_ptr_array_unref);
  g_clear_error (&f->error);
}

static void
spin_until (gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (*flag);
}

static void
start_recorder (Fixture *f, const char *directory)
{
  KkRecorderConfig config = {
    .pipelines_dir = g_test_get_filename (G_TEST_DIST, "..", "pipelines",
        NULL),
    .directory = directory,
    .basename = "session",
  };

  f->recorder = kk_recorder_new (&config, &callbacks, f);
}

/* Pushes packets [@from, @to) of the media. */
static void
push_range (Fixture *f, guint from, guint to)
{
  for (guint i = from; i < to && i < f->packets->len; i++) {
    kk_recorder_push (f->recorder, f->packets->pdata[i]);
    /* Let the pipeline be built as soon as the keyframe asks for it. */
    g_main_context_iteration (NULL, FALSE);
  }
}

static guint
index_at (Fixture *f, gdouble seconds)
{
  guint32 first[KK_TRACK_N];
  gboolean seen[KK_TRACK_N] = { FALSE, FALSE };

  for (guint i = 0; i < f->packets->len; i++) {
    KkPacket *p = f->packets->pdata[i];

    if (!seen[p->kind]) {
      seen[p->kind] = TRUE;
      first[p->kind] = p->timestamp;
    }
    if (packet_seconds (p, first[p->kind]) >= seconds)
      return i;
  }
  return f->packets->len;
}

/* ---- tests ---- */

static void
test_record (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  const char *suffix = codec == KK_CODEC_VP8 ? ".webm" : ".mp4";
  Decoded decoded;
  g_autofree char *caps = NULL;

  f->packets = make_media (codec, 3);
  start_recorder (f, f->dir);
  kk_recorder_prime (f->recorder, NULL, G_MAXINT64, NULL);
  g_assert_cmpuint (f->keyframe_requests, ==, 1);
  push_range (f, 0, f->packets->len);
  spin_until (&f->started);
  g_assert_true (g_str_has_suffix (kk_recorder_get_path (f->recorder),
          suffix));
  kk_recorder_stop (f->recorder);
  spin_until (&f->ended);
  g_assert_no_error (f->error);
  g_assert_cmpint (kk_recorder_get_duration_us (f->recorder), >, 2900000);

  decode (kk_recorder_get_path (f->recorder), &decoded);
  g_assert_cmpuint (decoded.video_frames, ==, 3 * FPS);
  g_assert_cmpfloat (fabs (decoded.video_end / 1e9 - 3.0), <, 0.15);
  g_assert_cmpfloat (fabs (decoded.audio_end / 1e9 - 3.0), <, 0.15);
  caps = container_video_codec (kk_recorder_get_path (f->recorder));
  g_assert_cmpstr (caps, ==, codec == KK_CODEC_VP8
      ? "video/x-vp8" : "video/x-h264");
}

/* One second, a paused second, one more second: two in the file. */
static void
test_pause (Fixture *f, gconstpointer data)
{
  Decoded decoded;

  f->packets = make_media (KK_CODEC_VP8, 3);
  start_recorder (f, f->dir);
  kk_recorder_prime (f->recorder, NULL, G_MAXINT64, NULL);
  push_range (f, 0, index_at (f, 1.0));
  kk_recorder_set_paused (f->recorder, TRUE);
  g_assert_true (kk_recorder_get_paused (f->recorder));
  push_range (f, index_at (f, 1.0), index_at (f, 1.5));
  kk_recorder_set_paused (f->recorder, FALSE);
  /* The resume asks for a keyframe; the encoder's next is at 2.0 s. */
  g_assert_cmpuint (f->keyframe_requests, ==, 2);
  push_range (f, index_at (f, 1.5), f->packets->len);
  kk_recorder_stop (f->recorder);
  spin_until (&f->ended);
  g_assert_no_error (f->error);

  decode (kk_recorder_get_path (f->recorder), &decoded);
  g_assert_cmpfloat (fabs (decoded.video_end / 1e9 - 2.0), <, 0.2);
  g_assert_cmpfloat (fabs (decoded.audio_end / 1e9 - 2.0), <, 0.2);
  g_assert_cmpuint (decoded.video_frames, ==, 2 * FPS);
}

/* The GOP the feed had when the recording began comes first, and packets
 * the tap delivered meanwhile are not written twice. */
static void
test_prime_gop (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) gop = g_ptr_array_new ();
  guint start, overlap;
  Decoded decoded;

  f->packets = make_media (KK_CODEC_VP8, 2);
  start = index_at (f, 1.0);
  overlap = start + 10;

  for (guint i = start; i < overlap; i++) {
    KkPacket *p = f->packets->pdata[i];

    if (p->kind == KK_TRACK_VIDEO)
      g_ptr_array_add (gop, p);
  }
  g_assert_true (((KkPacket *) gop->pdata[0])->keyframe_start);
  start_recorder (f, f->dir);
  /* Delivered by the tap before the GOP was read: held, then deduplicated. */
  push_range (f, start, overlap);
  kk_recorder_prime (f->recorder, gop, 10000, NULL);
  g_assert_cmpuint (f->keyframe_requests, ==, 0);
  push_range (f, overlap, f->packets->len);
  kk_recorder_stop (f->recorder);
  spin_until (&f->ended);
  g_assert_no_error (f->error);
  decode (kk_recorder_get_path (f->recorder), &decoded);
  g_assert_cmpuint (decoded.video_frames, ==, FPS);
}

/* Gives every packet the capture time an ingest would: media time
 * (audio's RTP clock running @drift fast, like a sound card's crystal),
 * plus how late it came: the first second as a backlog sent at once
 * (@backlog_video, @backlog_audio s late at its start, none at 1 s), and
 * audio from 4 to 4.5 s held up by 150 ms. All of it in the past: the
 * packets are pushed at once, and a capture time after a packet's
 * arrival would not count. */
static void
stamp_capture_times (GPtrArray *packets, gdouble drift,
    gdouble backlog_video, gdouble backlog_audio)
{
  gint64 base = g_get_real_time () - 30 * G_USEC_PER_SEC;
  guint32 first[KK_TRACK_N];
  gboolean seen[KK_TRACK_N] = { FALSE, FALSE };

  for (guint i = 0; i < packets->len; i++) {
    KkPacket *p = packets->pdata[i];
    gboolean audio = p->kind == KK_TRACK_AUDIO;
    gdouble t, late;

    if (!seen[p->kind]) {
      seen[p->kind] = TRUE;
      first[p->kind] = p->timestamp;
    }
    t = packet_seconds (p, first[p->kind]) / (audio ? 1.0 + drift : 1.0);
    late = (audio ? backlog_audio : backlog_video) * MAX (0.0, 1.0 - t);
    if (audio && t >= 4.0 && t < 4.5)
      late += 0.150;
    p->capture_wall_us = base + (gint64) ((t + late) * G_USEC_PER_SEC);
  }
}

/* Records @packets, pushed in that order, and decodes the file; again,
 * if called again. */
static void
record_in_order (Fixture *f, GPtrArray *packets, Decoded *decoded)
{
  g_clear_pointer (&f->recorder, kk_recorder_free);
  f->started = f->ended = FALSE;
  start_recorder (f, f->dir);
  kk_recorder_prime (f->recorder, NULL, G_MAXINT64, NULL);
  for (guint i = 0; i < packets->len; i++) {
    kk_recorder_push (f->recorder, packets->pdata[i]);
    /* Let the pipeline be built as soon as the keyframe asks for it. */
    g_main_context_iteration (NULL, FALSE);
  }
  kk_recorder_stop (f->recorder);
  spin_until (&f->ended);
  g_assert_no_error (f->error);
  decode (kk_recorder_get_path (f->recorder), decoded);
}

/* Records the media and returns where video ends minus where audio ends;
 * again, if called again. */
static gdouble
record_end_offset (Fixture *f)
{
  Decoded decoded;

  record_in_order (f, f->packets, &decoded);
  return ((gdouble) decoded.video_end - (gdouble) decoded.audio_end) / 1e9;
}

/* Video's first second came 1.2 s late, audio's 0.4 s: anchored on their
 * first packets, video would be 0.8 s behind. The start waits until the
 * capture times settle, and a later excursion does not move it: the ends
 * of the tracks are where they are when every packet came on time. */
static void
test_sync_backlog (Fixture *f, gconstpointer data)
{
  gdouble on_time, offset;

  f->packets = make_media (KK_CODEC_VP8, 6);
  stamp_capture_times (f->packets, 0.0, 0.0, 0.0);
  on_time = record_end_offset (f);
  stamp_capture_times (f->packets, 0.0, 1.2, 0.4);
  offset = record_end_offset (f);
  g_test_message ("video ends %+.3f s from audio, %+.3f s if on time",
      offset, on_time);
  g_assert_cmpfloat (fabs (offset - on_time), <, 0.005);
}

/* Audio's clock runs 0.5 % fast: its 8 s of media took 7.96 s. Video
 * follows audio's timeline, so it ends 40 ms later than by its own clock. */
static void
test_sync_drift (Fixture *f, gconstpointer data)
{
  gdouble steady, offset;

  f->packets = make_media (KK_CODEC_VP8, 8);
  stamp_capture_times (f->packets, 0.0, 0.0, 0.0);
  steady = record_end_offset (f);
  stamp_capture_times (f->packets, 0.005, 0.0, 0.0);
  offset = record_end_offset (f);
  g_test_message ("video ends %+.3f s from audio, %+.3f s without drift",
      offset, steady);
  g_assert_cmpfloat (offset - steady, >, 0.030);
  g_assert_cmpfloat (offset - steady, <, 0.050);
}

/* For g_ptr_array_sort (): packets by capture time, which for the
 * packets of stamp_burst () is when they arrive. */
static gint
by_capture_time (gconstpointer a, gconstpointer b)
{
  const KkPacket *pa = *(KkPacket * const *) a;
  const KkPacket *pb = *(KkPacket * const *) b;

  return (pa->capture_wall_us > pb->capture_wall_us)
      - (pa->capture_wall_us < pb->capture_wall_us);
}

/* Gives the packets of @media the capture times an ingest gives a host
 * whose connection took seconds: what it captured before @video_at
 * (@audio_at for audio) s comes in a burst at that time, all of it
 * stamped with its arrival (no sender report yet), and what follows on
 * time. All of it in the past, as in stamp_capture_times (). Returns the
 * packets in the order they arrive: (transfer container). */
static GPtrArray *
stamp_burst (GPtrArray *media, gdouble video_at, gdouble audio_at)
{
  gint64 base = g_get_real_time () - 30 * G_USEC_PER_SEC;
  GPtrArray *order = g_ptr_array_new ();
  guint32 first[KK_TRACK_N];
  gboolean seen[KK_TRACK_N] = { FALSE, FALSE };

  for (guint i = 0; i < media->len; i++) {
    KkPacket *p = media->pdata[i];
    gdouble t;

    if (!seen[p->kind]) {
      seen[p->kind] = TRUE;
      first[p->kind] = p->timestamp;
    }
    t = MAX (packet_seconds (p, first[p->kind]),
        p->kind == KK_TRACK_VIDEO ? video_at : audio_at);
    p->capture_wall_us = base + (gint64) (t * G_USEC_PER_SEC);
    g_ptr_array_add (order, p);
  }
  /* Stable: among packets that arrive together, the earlier stays first. */
  g_ptr_array_sort (order, by_capture_time);
  return order;
}

/* The host connected after 4.5 s: its first 4.5 s of video came at once,
 * then, 0.4 s later, its audio's. A burst carries more media than the
 * settling wait lasts, but arrives in no time: the wait must not end on
 * it, nor take the offset of half a burst for the start's. The file
 * starts with audio and video together and has no gap: video ends where
 * audio does, as when every packet came on time. */
static void
test_sync_burst (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) order = NULL;
  gdouble on_time, offset;
  Decoded decoded;

  f->packets = make_media (KK_CODEC_VP8, 8);
  stamp_capture_times (f->packets, 0.0, 0.0, 0.0);
  on_time = record_end_offset (f);
  order = stamp_burst (f->packets, 4.5, 4.9);
  g_assert_true (((KkPacket *) order->pdata[0])->kind == KK_TRACK_VIDEO);
  record_in_order (f, order, &decoded);
  offset = ((gdouble) decoded.video_end - (gdouble) decoded.audio_end) / 1e9;
  g_test_message ("audio starts at %.3f s; video ends %+.3f s from audio, "
      "%+.3f s if on time", decoded.audio_start / 1e9, offset, on_time);
  g_assert_cmpuint (decoded.video_start, <, 10 * GST_MSECOND);
  g_assert_cmpuint (decoded.audio_start, <, 30 * GST_MSECOND);
  g_assert_cmpfloat (fabs (offset - on_time), <, 0.005);
}

/* The packets of @media in the order they reach the relay when video
 * comes @video_late s behind the audio captured with it (a busy host's
 * encoder): (transfer container). */
static GPtrArray *
video_behind (GPtrArray *media, gdouble video_late)
{
  GPtrArray *order = g_ptr_array_new ();
  guint32 first[KK_TRACK_N];
  gboolean seen[KK_TRACK_N] = { FALSE, FALSE };
  g_autoptr (GArray) due = g_array_new (FALSE, FALSE, sizeof (gdouble));

  for (guint i = 0; i < media->len; i++) {
    KkPacket *p = media->pdata[i];
    gdouble t;
    guint at = order->len;

    if (!seen[p->kind]) {
      seen[p->kind] = TRUE;
      first[p->kind] = p->timestamp;
    }
    t = packet_seconds (p, first[p->kind])
        + (p->kind == KK_TRACK_VIDEO ? video_late : 0.0);
    /* Stable: among packets due together, the earlier stays first. */
    while (at > 0 && g_array_index (due, gdouble, at - 1) > t)
      at--;
    g_ptr_array_insert (order, at, p);
    g_array_insert_val (due, at, t);
  }
  return order;
}

/* H.264's first keyframe comes 0.6 s after the audio captured with it.
 * The file's audio still starts with its video: neither the audio held
 * while waiting for the keyframe (@data NULL) nor the feed's recent audio
 * given with a GOP is lost. In an MP4 a late track would be an empty
 * edit, which many players ignore. */
static void
test_audio_before_keyframe (Fixture *f, gconstpointer data)
{
  gboolean primed = data != NULL;
  g_autoptr (GPtrArray) order = NULL;
  g_autoptr (GPtrArray) gop = g_ptr_array_new ();
  g_autoptr (GPtrArray) audio = g_ptr_array_new ();
  guint tapped = 0;
  Decoded decoded;

  f->packets = make_media (KK_CODEC_H264, 3);
  stamp_capture_times (f->packets, 0.0, 0.0, 0.0);
  order = video_behind (f->packets, 0.6);
  g_assert_false (((KkPacket *) order->pdata[0])->kind == KK_TRACK_VIDEO);
  start_recorder (f, f->dir);
  if (primed) {
    /* The feed has the first GOP's start and the audio before it. */
    for (; tapped < order->len; tapped++) {
      KkPacket *p = order->pdata[tapped];

      if (p->kind == KK_TRACK_AUDIO)
        g_ptr_array_add (audio, p);
      else if (gop->len >= 10)
        break;
      /* Like the feed's, the GOP starts at the keyframe. */
      else if (gop->len > 0 || p->keyframe_start)
        g_ptr_array_add (gop, p);
    }
    g_assert_true (((KkPacket *) gop->pdata[0])->keyframe_start);
  }
  kk_recorder_prime (f->recorder, primed ? gop : NULL, 10000,
      primed ? audio : NULL);
  for (guint i = tapped; i < order->len; i++) {
    kk_recorder_push (f->recorder, order->pdata[i]);
    g_main_context_iteration (NULL, FALSE);
  }
  kk_recorder_stop (f->recorder);
  spin_until (&f->ended);
  g_assert_no_error (f->error);
  decode (kk_recorder_get_path (f->recorder), &decoded);
  g_assert_cmpuint (decoded.video_start, <, 10 * GST_MSECOND);
  g_assert_cmpuint (decoded.audio_start, <, 30 * GST_MSECOND);
}

/* A video packet that never comes (the jitter buffer gave up on it):
 * what follows does not decode until a keyframe, so one is asked for. */
static void
test_loss (Fixture *f, gconstpointer data)
{
  guint lost;

  f->packets = make_media (KK_CODEC_VP8, 2);
  for (lost = index_at (f, 1.0); lost < f->packets->len; lost++) {
    KkPacket *p = f->packets->pdata[lost];

    if (p->kind == KK_TRACK_VIDEO && !p->keyframe_start)
      break;
  }
  start_recorder (f, f->dir);
  kk_recorder_prime (f->recorder, NULL, G_MAXINT64, NULL);
  push_range (f, 0, lost);
  spin_until (&f->started);
  g_assert_cmpuint (f->keyframe_requests, ==, 1);
  push_range (f, lost + 1, f->packets->len);
  g_assert_cmpuint (f->keyframe_requests, ==, 2);
  kk_recorder_stop (f->recorder);
  spin_until (&f->ended);
  g_assert_no_error (f->error);
}

/* What a SIGKILL leaves: the file as it is on disk mid-recording. */
static void
test_repair (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  g_autofree char *copy = g_build_filename (f->dir, codec == KK_CODEC_VP8
      ? "killed.webm" : "killed.mp4", NULL);
  g_autofree char *contents = NULL;
  gsize length;
  gint64 duration_us = 0;
  g_autoptr (GError) error = NULL;
  Decoded decoded;

  f->packets = make_media (codec, 4);
  start_recorder (f, f->dir);
  kk_recorder_prime (f->recorder, NULL, G_MAXINT64, NULL);
  push_range (f, 0, f->packets->len);
  spin_until (&f->started);
  /* Let the streaming threads write what they were given. */
  g_usleep (500000);
  g_assert_true (g_file_get_contents (kk_recorder_get_path (f->recorder),
          &contents, &length, NULL));
  g_assert_true (g_file_set_contents (copy, contents, length, NULL));

  g_assert_true (kk_recorder_repair (copy, &duration_us, &error));
  g_assert_no_error (error);
  g_test_message ("repaired: %.3f s of 4", duration_us / 1e6);
  g_assert_cmpint (duration_us, >, 2000000);
  decode (copy, &decoded);
  g_assert_cmpuint (decoded.video_frames, >, 2 * FPS);
  g_assert_cmpuint (decoded.audio_end, >, 2 * GST_SECOND);
}

static void
test_unwritable (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "no", "such", NULL);

  f->packets = make_media (KK_CODEC_VP8, 1);
  start_recorder (f, missing);
  kk_recorder_prime (f->recorder, NULL, G_MAXINT64, NULL);
  push_range (f, 0, f->packets->len);
  spin_until (&f->ended);
  g_assert_false (f->started);
  g_assert_error (f->error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_WRITE);
  g_assert_null (kk_recorder_get_path (f->recorder));
}

static void
test_empty (Fixture *f, gconstpointer data)
{
  start_recorder (f, f->dir);
  kk_recorder_prime (f->recorder, NULL, G_MAXINT64, NULL);
  kk_recorder_stop (f->recorder);
  g_assert_true (f->ended);
  g_assert_error (f->error, KK_RECORDER_ERROR, KK_RECORDER_ERROR_EMPTY);
}

int
main (int argc, char **argv)
{
  int ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/recorder/vp8-webm", Fixture, GINT_TO_POINTER (KK_CODEC_VP8),
      fixture_setup, test_record, fixture_teardown);
  g_test_add ("/recorder/h264-mp4", Fixture, GINT_TO_POINTER (KK_CODEC_H264),
      fixture_setup, test_record, fixture_teardown);
  g_test_add ("/recorder/pause", Fixture, NULL, fixture_setup, test_pause,
      fixture_teardown);
  g_test_add ("/recorder/audio-before-keyframe/held", Fixture, NULL,
      fixture_setup, test_audio_before_keyframe, fixture_teardown);
  g_test_add ("/recorder/audio-before-keyframe/primed", Fixture, "primed",
      fixture_setup, test_audio_before_keyframe, fixture_teardown);
  g_test_add ("/recorder/prime-gop", Fixture, NULL, fixture_setup,
      test_prime_gop, fixture_teardown);
  g_test_add ("/recorder/sync-backlog", Fixture, NULL, fixture_setup,
      test_sync_backlog, fixture_teardown);
  g_test_add ("/recorder/sync-burst", Fixture, NULL, fixture_setup,
      test_sync_burst, fixture_teardown);
  g_test_add ("/recorder/sync-drift", Fixture, NULL, fixture_setup,
      test_sync_drift, fixture_teardown);
  g_test_add ("/recorder/loss", Fixture, NULL, fixture_setup, test_loss,
      fixture_teardown);
  g_test_add ("/recorder/repair-webm", Fixture,
      GINT_TO_POINTER (KK_CODEC_VP8), fixture_setup, test_repair,
      fixture_teardown);
  g_test_add ("/recorder/repair-mp4", Fixture,
      GINT_TO_POINTER (KK_CODEC_H264), fixture_setup, test_repair,
      fixture_teardown);
  g_test_add ("/recorder/unwritable", Fixture, NULL, fixture_setup,
      test_unwritable, fixture_teardown);
  g_test_add ("/recorder/empty", Fixture, NULL, fixture_setup, test_empty,
      fixture_teardown);
  ret = g_test_run ();
  /* GStreamer's pooled threads would otherwise still be winding down while
   * LeakSanitizer stops the world at exit, which it cannot always do. */
  gst_deinit ();
  return ret;
}
