/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-light-layer: real 720p30 VP8 and H.264 RTP (made here by
 * GStreamer's encoders and payloaders, with the timestamp jitter of a
 * browser's capture clock, and made into KkPackets by a real KkTrack)
 * goes through the light layer as a feed tap would deliver it, and what comes out is decoded by a depayloader and
 * decoder of the test's own: 640x360, 15 frames per second, every frame's
 * RTP timestamp and capture time those of the full-layer frame it was
 * made from, VP8 picture ids 15-bit and continuous, H.264 constrained
 * baseline with SPS and PPS before keyframes, a keyframe on request, a
 * lost keyframe or a gap waited out until the next keyframe, a burst
 * dropped rather than queued, errors on the main context, and free ()
 * while frames are in flight (run under ASan in CI).
 *
 * The tests wait for the layer frame by frame (by its counters, with a
 * generous deadline) rather than for time to pass, so a busy machine
 * makes them slower, not wrong.
 */
#include "kk-light-layer.h"

#include "feed-media.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <kringkast/kk-rtp.h>
#include <string.h>

#define FPS 30
#define SECONDS 6
#define KEYFRAME_DIST FPS
#define WALL_BASE_US G_GINT64_CONSTANT (1700000000000000)
#define DEADLINE_US (20 * G_USEC_PER_SEC)

typedef struct {
  guint16 len;
  gint64 capture_wall_us;
  guint8 data[KK_PACKET_MAX];
} OutPacket;

typedef struct {
  GMutex lock;
  GPtrArray *out;             /* OutPacket, in order */
  gint keyframe_asks;         /* atomic */
  gint packets_after_free;    /* atomic */
  gboolean freed;
  GError *error;
  gboolean error_on_main;
  gboolean free_on_error;     /* the error callback frees the layer */
  KkLightLayer *layer;
} Fixture;

/* One full-layer frame of the media: its packets [first, first + count). */
typedef struct {
  guint first;
  guint count;
  guint32 timestamp;
  gint64 capture_wall_us;
  gboolean keyframe;
} Frame;

typedef struct {
  GPtrArray *packets;         /* KkPacket */
  GArray *frames;             /* Frame */
} Media;

static Media media[2];        /* VP8, H.264 */

/* ---- making media ---- */

/* Gives frame @frame a timestamp off the 30 fps grid by up to ±3 ms, as
 * a browser's capture clock does, and a capture time of its own. */
typedef struct {
  GRand *rand;
  guint32 first_ts;
} Retime;

static void
retime_frame (guint frame, guint32 *timestamp, gint64 *capture_wall_us,
    gpointer user_data)
{
  Retime *retime = user_data;

  if (frame == 0)
    retime->first_ts = *timestamp;
  *timestamp = retime->first_ts + frame * (90000 / FPS)
      + (frame > 0 ? g_rand_int_range (retime->rand, -270, 271) : 0);
  *capture_wall_us = WALL_BASE_US + frame * (G_USEC_PER_SEC / FPS)
      + g_rand_int_range (retime->rand, 0, 5000);
}

/* SECONDS of a 720p30 lecture with a keyframe every second, made once
 * per codec. A moving zone plate: detail enough that delta frames span
 * several packets, as a real lecture's do. */
static Media *
get_media (KkCodec codec)
{
  Media *m = &media[codec == KK_CODEC_H264];
  g_autofree char *description = NULL;
  Retime retime = { .rand = g_rand_new_with_seed (13) };
  Frame frame = { 0 };

  if (m->packets != NULL) {
    g_rand_free (retime.rand);
    return m;
  }
  description = g_strdup_printf ("videotestsrc num-buffers=%u "
      "pattern=zone-plate kx2=20 ky2=20 kt=1 "
      "! video/x-raw,width=1280,height=720,framerate=%u/1 "
      "! %s ! appsink name=v sync=false", SECONDS * FPS, FPS,
      codec == KK_CODEC_VP8
      ? "vp8enc deadline=1 cpu-used=16 target-bitrate=1500000 "
      "keyframe-max-dist=30 ! rtpvp8pay mtu=1200 picture-id-mode=15-bit"
      : "x264enc tune=zerolatency speed-preset=ultrafast bitrate=1500 "
      "key-int-max=30 ! video/x-h264,profile=constrained-baseline "
      "! rtph264pay mtu=1200 config-interval=-1 aggregate-mode=zero-latency");
  m->packets = kk_feed_media_make (description, codec, retime_frame,
      &retime);
  g_rand_free (retime.rand);

  m->frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  for (guint i = 0; i < m->packets->len; i++) {
    KkPacket *p = m->packets->pdata[i];

    if (i > 0 && p->timestamp != frame.timestamp) {
      g_array_append_val (m->frames, frame);
      frame.count = 0;
    }
    if (frame.count == 0) {
      frame.first = i;
      frame.timestamp = p->timestamp;
      frame.capture_wall_us = p->capture_wall_us;
      frame.keyframe = p->keyframe_start;
    }
    frame.count++;
  }
  g_array_append_val (m->frames, frame);
  g_assert_cmpuint (m->frames->len, ==, SECONDS * FPS);
  g_assert_true (g_array_index (m->frames, Frame, 0).keyframe);
  return m;
}

static Frame *
frame_at (Media *m, guint index)
{
  return &g_array_index (m->frames, Frame, index);
}

/* The index of the first keyframe at or after @from. */
static guint
next_keyframe (Media *m, guint from)
{
  while (from < m->frames->len && !frame_at (m, from)->keyframe)
    from++;
  g_assert_cmpuint (from, <, m->frames->len);
  return from;
}

/* The frame with RTP timestamp @ts, or -1. */
static gint
frame_with_ts (Media *m, guint32 ts)
{
  for (guint i = 0; i < m->frames->len; i++)
    if (frame_at (m, i)->timestamp == ts)
      return i;
  return -1;
}

/* ---- the layer ---- */

static void
on_packet (const guint8 *rtp, gsize len, gint64 capture_wall_us,
    gpointer user_data)
{
  Fixture *f = user_data;
  OutPacket *packet = g_new (OutPacket, 1);

  g_assert_cmpuint (len, <=, KK_PACKET_MAX);
  packet->len = len;
  packet->capture_wall_us = capture_wall_us;
  memcpy (packet->data, rtp, len);
  g_mutex_lock (&f->lock);
  if (f->freed)
    g_atomic_int_inc (&f->packets_after_free);
  g_ptr_array_add (f->out, packet);
  g_mutex_unlock (&f->lock);
}

static void
on_error (const GError *error, gpointer user_data)
{
  Fixture *f = user_data;

  f->error_on_main = g_main_context_is_owner (g_main_context_default ());
  g_clear_error (&f->error);
  f->error = g_error_copy (error);
  if (f->free_on_error)
    g_clear_pointer (&f->layer, kk_light_layer_free);
}

static void
on_need_keyframe (gpointer user_data)
{
  Fixture *f = user_data;

  g_atomic_int_inc (&f->keyframe_asks);
}

static const KkLightLayerCallbacks callbacks = {
  .packet = on_packet,
  .error = on_error,
  .need_keyframe = on_need_keyframe,
};

static const char *
pipelines_dir (void)
{
  return g_test_get_filename (G_TEST_DIST, "..", "pipelines", NULL);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_mutex_init (&f->lock);
  f->out = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  kk_light_layer_free (f->layer);
  g_ptr_array_unref (f->out);
  g_clear_error (&f->error);
  g_mutex_clear (&f->lock);
}

static void
start_layer (Fixture *f, KkCodec codec)
{
  g_autoptr (GError) error = NULL;

  f->layer = kk_light_layer_new (pipelines_dir (), codec, &callbacks, f,
      &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->layer);
  kk_light_layer_set_name (f->layer, g_test_get_path ());
}

static void
push_frame (Fixture *f, Media *m, guint index, gint skip_packet)
{
  Frame *frame = frame_at (m, index);

  for (guint i = 0; i < frame->count; i++)
    if ((gint) i != skip_packet)
      kk_light_layer_push (f->layer, m->packets->pdata[frame->first + i]);
}

/* Waits until every whole frame the layer took in has been decoded, and
 * every decoded frame kept has been scaled and has either left as RTP or
 * been dropped by the leaky queue before the encoder: the layer holds no
 * frame back (@incomplete: frames the test fed only in part, which never
 * decode). Without @leaky, the queue must have dropped none. */
static void
wait_until_caught_up (Fixture *f, guint incomplete, gboolean leaky)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  KkLightLayerStats s;

  for (;;) {
    kk_light_layer_get_stats (f->layer, &s);
    if (kk_feed_media_light_layer_idle (&s, incomplete))
      break;
    if (g_get_monotonic_time () > deadline)
      g_error ("the light layer holds frames back: in %" G_GUINT64_FORMAT
          ", lost %" G_GUINT64_FORMAT ", decoded %" G_GUINT64_FORMAT
          ", thinned %" G_GUINT64_FORMAT ", scaled %" G_GUINT64_FORMAT
          ", waiting %" G_GUINT64_FORMAT ", dropped %" G_GUINT64_FORMAT
          ", encoded %" G_GUINT64_FORMAT ", out %" G_GUINT64_FORMAT,
          s.frames_in, s.frames_lost, s.frames_decoded, s.frames_thinned,
          s.frames_scaled, s.frames_waiting, s.frames_dropped,
          s.frames_encoded, s.frames_out);
    g_usleep (1000);
  }
  if (!leaky)
    g_assert_cmpuint (s.frames_dropped, ==, 0);
}

static void
wait_caught_up (Fixture *f, guint incomplete)
{
  wait_until_caught_up (f, incomplete, FALSE);
}

/* ---- reading what came out ---- */

/* One frame of the light layer. */
typedef struct {
  guint32 timestamp;
  gint64 capture_wall_us;
  gboolean keyframe;
  gint picture_id;            /* VP8: -1 when not 15-bit */
  gboolean has_sps;           /* H.264: an SPS of constrained baseline */
} OutFrame;

/* VP8 payload descriptor (RFC 7741 4.2): the 15-bit picture id of a
 * packet that starts a frame, or -1. */
static gint
vp8_picture_id (const guint8 *payload, gsize len)
{
  if (len < 4 || !(payload[0] & 0x80) || !(payload[1] & 0x80)
      || !(payload[2] & 0x80))
    return -1;
  return (payload[2] & 0x7f) << 8 | payload[3];
}

/* TRUE if @nal is an SPS of profile 66 with constraint_set1 (constrained
 * baseline). */
static gboolean
is_constrained_baseline_sps (const guint8 *nal, gsize len)
{
  return len >= 3 && (nal[0] & 0x1f) == 7 && nal[1] == 66
      && (nal[2] & 0x40) != 0;
}

static gboolean
h264_has_sps (const guint8 *payload, gsize len)
{
  gsize off = 1;

  if (len < 1)
    return FALSE;
  if ((payload[0] & 0x1f) != 24)
    return is_constrained_baseline_sps (payload, len);
  while (off + 2 < len) {
    gsize size = payload[off] << 8 | payload[off + 1];

    off += 2;
    if (size > len - off)
      return FALSE;
    if (is_constrained_baseline_sps (payload + off, size))
      return TRUE;
    off += size;
  }
  return FALSE;
}

static GArray *
out_frames (Fixture *f, KkCodec codec)
{
  GArray *frames = g_array_new (FALSE, TRUE, sizeof (OutFrame));
  OutFrame *current = NULL;

  g_mutex_lock (&f->lock);
  for (guint i = 0; i < f->out->len; i++) {
    OutPacket *p = f->out->pdata[i];
    KkRtpHeader hdr;

    g_assert_true (kk_rtp_parse (p->data, p->len, &hdr));
    g_assert_cmpuint (hdr.payload_type, ==, 0);
    if (current == NULL || hdr.timestamp != current->timestamp) {
      OutFrame frame = {
        .timestamp = hdr.timestamp,
        .capture_wall_us = p->capture_wall_us,
        .keyframe = codec == KK_CODEC_VP8
            ? kk_rtp_vp8_is_keyframe_start (hdr.payload, hdr.payload_len)
            : kk_rtp_h264_is_keyframe_start (hdr.payload, hdr.payload_len),
        .picture_id = codec == KK_CODEC_VP8
            ? vp8_picture_id (hdr.payload, hdr.payload_len) : -1,
      };

      g_array_append_val (frames, frame);
      current = &g_array_index (frames, OutFrame, frames->len - 1);
    }
    /* Every packet of a frame carries the frame's capture time. */
    g_assert_cmpint (p->capture_wall_us, ==, current->capture_wall_us);
    if (codec == KK_CODEC_H264 && h264_has_sps (hdr.payload,
            hdr.payload_len))
      current->has_sps = TRUE;
  }
  g_mutex_unlock (&f->lock);
  return frames;
}

static guint64
out_bytes (Fixture *f)
{
  guint64 bytes = 0;

  g_mutex_lock (&f->lock);
  for (guint i = 0; i < f->out->len; i++)
    bytes += ((OutPacket *) f->out->pdata[i])->len;
  g_mutex_unlock (&f->lock);
  return bytes;
}

/* Decodes what came out with a depayloader and decoder of the test's own.
 * Returns the number of frames decoded; each must be 640x360. */
static guint
decode_output (Fixture *f, KkCodec codec)
{
  g_autoptr (GPtrArray) packets = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_bytes_unref);
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;
  GstSample *sample;
  KkRtpHeader first;
  guint decoded = 0;

  g_mutex_lock (&f->lock);
  for (guint i = 0; i < f->out->len; i++) {
    OutPacket *p = f->out->pdata[i];

    g_ptr_array_add (packets, g_bytes_new (p->data, p->len));
  }
  g_mutex_unlock (&f->lock);
  g_assert_cmpuint (packets->len, >, 0);
  g_assert_true (kk_rtp_parse (g_bytes_get_data (packets->pdata[0], NULL),
          g_bytes_get_size (packets->pdata[0]), &first));
  pipeline = kk_feed_media_decode (codec, packets, first.timestamp, NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample),
        0);
    gint width = 0, height = 0;

    gst_structure_get_int (s, "width", &width);
    gst_structure_get_int (s, "height", &height);
    g_assert_cmpint (width, ==, 640);
    g_assert_cmpint (height, ==, 360);
    decoded++;
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return decoded;
}

/* Each frame out carries the RTP timestamp and capture time of a frame
 * of @m that the test fed whole. Returns the full-layer index of each. */
static GArray *
check_timeline (Media *m, GArray *frames)
{
  GArray *indices = g_array_new (FALSE, FALSE, sizeof (gint));

  for (guint i = 0; i < frames->len; i++) {
    OutFrame *out = &g_array_index (frames, OutFrame, i);
    gint index = frame_with_ts (m, out->timestamp);

    g_assert_cmpint (index, >=, 0);
    g_assert_cmpint (out->capture_wall_us, ==,
        frame_at (m, index)->capture_wall_us);
    if (i > 0)
      g_assert_cmpint (index, >, g_array_index (indices, gint, i - 1));
    g_array_append_val (indices, index);
  }
  return indices;
}

static void
check_picture_ids (GArray *frames)
{
  for (guint i = 0; i < frames->len; i++) {
    OutFrame *out = &g_array_index (frames, OutFrame, i);

    g_assert_cmpint (out->picture_id, >=, 0);
    if (i > 0)
      g_assert_cmpint (out->picture_id, ==,
          (g_array_index (frames, OutFrame, i - 1).picture_id + 1) % 32768);
  }
}

/* ---- tests ---- */

/* The whole lecture, frame by frame: 640x360 at 15 fps, the full layer's
 * timeline, a decodable stream. */
static void
test_output (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);
  g_autoptr (GArray) frames = NULL;
  g_autoptr (GArray) indices = NULL;
  KkLightLayerStats s;
  gdouble fps, kbits;

  start_layer (f, codec);
  for (guint i = 0; i < m->frames->len; i++) {
    push_frame (f, m, i, -1);
    wait_caught_up (f, 0);
  }
  kk_light_layer_get_stats (f->layer, &s);
  g_assert_cmpuint (s.frames_in, ==, m->frames->len);
  g_assert_cmpuint (s.frames_lost, ==, 0);
  g_assert_cmpuint (s.frames_decoded, ==, m->frames->len);

  frames = out_frames (f, codec);
  g_assert_cmpuint (frames->len, ==, s.frames_out);
  fps = frames->len / (gdouble) SECONDS;
  g_test_message ("%u frames in, %u out: %.2f fps", m->frames->len,
      frames->len, fps);
  g_assert_cmpfloat (fps, >=, KK_LIGHT_LAYER_MAX_FPS - 0.5);
  g_assert_cmpfloat (fps, <=, KK_LIGHT_LAYER_MAX_FPS + 0.5);
  indices = check_timeline (m, frames);
  /* Every other frame of a 30 fps lecture, jitter or not. */
  for (guint i = 1; i < indices->len; i++)
    g_assert_cmpint (g_array_index (indices, gint, i)
        - g_array_index (indices, gint, i - 1), ==, 2);
  g_assert_true (g_array_index (frames, OutFrame, 0).keyframe);
  if (codec == KK_CODEC_VP8) {
    check_picture_ids (frames);
  } else {
    for (guint i = 0; i < frames->len; i++) {
      OutFrame *out = &g_array_index (frames, OutFrame, i);

      g_assert_true (!out->keyframe || out->has_sps);
    }
    g_assert_true (g_array_index (frames, OutFrame, 0).has_sps);
  }
  /* The first frame, and no other unasked: the shipped pipelines make
   * one every 10 s, longer than this run (a keyframe is a burst a weak
   * link's queue must take; viewers get theirs on request). */
  g_assert_cmpuint (s.keyframes_out, ==, 1);
  g_assert_cmpuint (decode_output (f, codec), ==, frames->len);
  /* Room for audio and retransmissions on a 500 kbit/s link. */
  kbits = out_bytes (f) * 8.0 / SECONDS / 1000;
  g_test_message ("%.0f kbit/s", kbits);
  g_assert_cmpfloat (kbits, >, 100);
  g_assert_cmpfloat (kbits, <, 420);
}

/* A keyframe asked for is the next frame out, or the one after. */
static void
test_keyframe_request (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);
  g_autoptr (GArray) frames = NULL;
  guint asked_at = 0;

  start_layer (f, codec);
  for (guint i = 0; i < 2 * FPS; i++) {
    push_frame (f, m, i, -1);
    wait_caught_up (f, 0);
    if (i == FPS + 10) {
      KkLightLayerStats s;

      kk_light_layer_get_stats (f->layer, &s);
      asked_at = s.frames_out;
      kk_light_layer_request_keyframe (f->layer);
    }
  }
  frames = out_frames (f, codec);
  g_assert_cmpuint (frames->len, >, asked_at + 2);
  /* The first frame, then only the one asked for: the natural interval
   * (three seconds) is longer than what was pushed. */
  for (guint i = 0; i < frames->len; i++) {
    gboolean expected = i == 0 || i == asked_at || i == asked_at + 1;

    if (!expected)
      g_assert_false (g_array_index (frames, OutFrame, i).keyframe);
  }
  g_assert_true (g_array_index (frames, OutFrame, asked_at).keyframe
      || g_array_index (frames, OutFrame, asked_at + 1).keyframe);
  g_assert_cmpuint (decode_output (f, codec), ==, frames->len);
}

/* A keyframe lost whole, and a packet lost from a delta frame: nothing
 * undecodable is made, the layer waits for the next keyframe each time,
 * asks for one, and carries on with one timeline. */
static void
test_loss (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);
  guint lost_key = next_keyframe (m, 2 * FPS);
  guint resume1 = next_keyframe (m, lost_key + 1);
  guint gap_frame = resume1 + 5;
  guint resume2;
  guint incomplete = 0;
  g_autoptr (GArray) frames = NULL;
  g_autoptr (GArray) indices = NULL;
  KkLightLayerStats s;
  guint before = 0, between = 0, after = 0;

  while (frame_at (m, gap_frame)->count < 2 || frame_at (m, gap_frame)->keyframe)
    gap_frame++;
  resume2 = next_keyframe (m, gap_frame + 1);
  g_assert_cmpuint (resume2 + FPS / 2, <, m->frames->len);

  start_layer (f, codec);
  for (guint i = 0; i < m->frames->len; i++) {
    if (i == lost_key)
      continue;
    if (i == gap_frame)
      incomplete++;
    push_frame (f, m, i, i == gap_frame ? 1 : -1);
    wait_caught_up (f, incomplete);
  }
  kk_light_layer_get_stats (f->layer, &s);
  g_assert_cmpuint (s.frames_lost, ==, (resume1 - lost_key - 1)
      + (resume2 - gap_frame - 1));
  g_assert_cmpint (g_atomic_int_get (&f->keyframe_asks), ==, 2);

  frames = out_frames (f, codec);
  indices = check_timeline (m, frames);
  for (guint i = 0; i < indices->len; i++) {
    gint index = g_array_index (indices, gint, i);

    /* Nothing from frames that could not be decoded. */
    g_assert_false (index >= (gint) lost_key && index < (gint) resume1);
    g_assert_false (index >= (gint) gap_frame && index < (gint) resume2);
    if (index < (gint) lost_key)
      before++;
    else if (index < (gint) gap_frame)
      between++;
    else
      after++;
  }
  g_assert_cmpuint (before, >, 0);
  g_assert_cmpuint (between, >, 0);
  g_assert_cmpuint (after, >, 0);
  if (codec == KK_CODEC_VP8)
    check_picture_ids (frames);
  g_assert_cmpuint (decode_output (f, codec), ==, frames->len);
}

/* Made in the middle of a GOP: it asks for a keyframe at once, makes
 * nothing until the next one comes, and asks again each second it waits
 * (a browser sends a keyframe only when asked, and a request can be
 * lost). */
static void
test_start_mid_gop (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);
  guint start = 5;
  guint first_key = next_keyframe (m, start);
  guint second_key = next_keyframe (m, first_key + 1);
  g_autoptr (GArray) frames = NULL;
  g_autoptr (GArray) indices = NULL;

  start_layer (f, codec);
  push_frame (f, m, start, -1);
  g_assert_cmpint (g_atomic_int_get (&f->keyframe_asks), ==, 1);
  for (guint i = start + 1; i < first_key; i++)
    push_frame (f, m, i, -1);
  /* Less than a second of media since the first ask. */
  g_assert_cmpuint (first_key - start, <, FPS);
  g_assert_cmpint (g_atomic_int_get (&f->keyframe_asks), ==, 1);
  for (guint i = first_key; i < second_key; i++) {
    push_frame (f, m, i, -1);
    wait_caught_up (f, 0);
  }
  g_assert_cmpint (g_atomic_int_get (&f->keyframe_asks), ==, 1);
  frames = out_frames (f, codec);
  indices = check_timeline (m, frames);
  g_assert_cmpuint (indices->len, >, 0);
  g_assert_cmpint (g_array_index (indices, gint, 0), ==, first_key);
  g_assert_cmpuint (decode_output (f, codec), ==, frames->len);

  /* Without keyframes (every later one lost with its packets), asked for
   * again after each second of media. */
  g_atomic_int_set (&f->keyframe_asks, 0);
  for (guint i = second_key; i < m->frames->len; i++)
    if (!frame_at (m, i)->keyframe)
      push_frame (f, m, i, -1);
  g_assert_cmpint (g_atomic_int_get (&f->keyframe_asks), ==,
      (m->frames->len - second_key - 1) / FPS + 1);
}

/* The whole lecture pushed at once, far faster than it can be decoded:
 * the layer drops input up to keyframes instead of queueing it, and
 * carries on decodably once the input comes at its pace again. */
static void
test_burst (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);
  guint half = m->frames->len / 2;
  g_autoptr (GArray) frames = NULL;
  KkLightLayerStats s;
  guint64 out_after_burst;

  start_layer (f, codec);
  for (guint i = 0; i < half; i++)
    push_frame (f, m, i, -1);
  kk_light_layer_get_stats (f->layer, &s);
  g_test_message ("burst: %" G_GUINT64_FORMAT " frames in, %"
      G_GUINT64_FORMAT " dropped", s.frames_in, s.frames_lost);
  g_assert_cmpuint (s.frames_in, ==, half);
  g_assert_cmpuint (s.frames_lost, >, 0);
  g_assert_cmpuint (s.frames_in - s.frames_lost, <=, half / 2);
  g_assert_cmpint (g_atomic_int_get (&f->keyframe_asks), >=, 1);
  wait_until_caught_up (f, 0, TRUE);
  kk_light_layer_get_stats (f->layer, &s);
  out_after_burst = s.frames_out;

  for (guint i = half; i < m->frames->len; i++) {
    push_frame (f, m, i, -1);
    wait_until_caught_up (f, 0, TRUE);
  }
  frames = out_frames (f, codec);
  g_array_unref (check_timeline (m, frames));
  g_assert_cmpuint (decode_output (f, codec), ==, frames->len);
  if (codec == KK_CODEC_VP8)
    check_picture_ids (frames);
  /* Past the next keyframe of the second half, the frames the encoder
   * was given come out (a busy machine's encoder may drop a few more). */
  kk_light_layer_get_stats (f->layer, &s);
  g_assert_cmpuint (s.frames_out, ==, s.frames_encoded);
  g_test_message ("the encoder's queue dropped %" G_GUINT64_FORMAT
      " frames", s.frames_dropped);
  g_assert_cmpuint (s.frames_out - out_after_burst, >=,
      (m->frames->len - next_keyframe (m, half)) / 3);
}

static char *
write_pipelines (const char *name, const char *description)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("kk-light-XXXXXX", &error);
  g_autofree char *path = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, name, NULL);
  g_file_set_contents (path, description, -1, &error);
  g_assert_no_error (error);
  return dir;
}

static void
remove_pipelines (char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_unlink (path);
  g_rmdir (dir);
  g_free (dir);
}

/* The real pipeline file of @codec, with @what inserted before its
 * payloader, in a new directory. Returns: (transfer full): the directory. */
static char *
write_variant (KkCodec codec, const char *what)
{
  const char *file = codec == KK_CODEC_VP8 ? "light-vp8.pipeline"
      : "light-h264.pipeline";
  const char *payloader = codec == KK_CODEC_VP8 ? "! rtpvp8pay"
      : "! rtph264pay";
  g_autofree char *path = g_build_filename (pipelines_dir (), file, NULL);
  g_autofree char *text = NULL;
  g_autofree char *inserted = g_strconcat ("! ", what, " ", payloader, NULL);
  g_auto (GStrv) parts = NULL;
  g_autofree char *variant = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  parts = g_strsplit (text, payloader, -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  variant = g_strjoinv (inserted, parts);
  return write_pipelines (file, variant);
}

/* An encoder slower than the frames come (held up 200 ms a frame): the
 * leaky queue before it drops frames, counted, instead of queueing them;
 * what does come out is whole and on the full layer's timeline. */
static void
test_slow_encoder (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);
  char *dir = write_variant (codec, "identity sleep-time=200000");
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) frames = NULL;
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  KkLightLayerStats s;

  f->layer = kk_light_layer_new (dir, codec, &callbacks, f, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < FPS; i++) {
    push_frame (f, m, i, -1);
    /* The decoder keeps up (no input dropped); the encoder does not. */
    do {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
      kk_light_layer_get_stats (f->layer, &s);
    } while (s.frames_decoded < s.frames_in - s.frames_lost
        || s.frames_scaled < s.frames_decoded - s.frames_thinned);
  }
  wait_until_caught_up (f, 0, TRUE);
  kk_light_layer_get_stats (f->layer, &s);
  g_test_message ("%" G_GUINT64_FORMAT " frames scaled, %" G_GUINT64_FORMAT
      " dropped, %" G_GUINT64_FORMAT " encoded", s.frames_scaled,
      s.frames_dropped, s.frames_encoded);
  g_assert_cmpuint (s.frames_lost, ==, 0);
  g_assert_cmpuint (s.frames_dropped, >, 0);
  g_assert_cmpuint (s.frames_encoded + s.frames_dropped, ==, s.frames_scaled);
  g_assert_cmpuint (s.frames_out, ==, s.frames_encoded);
  frames = out_frames (f, codec);
  g_assert_cmpuint (frames->len, ==, s.frames_out);
  g_array_unref (check_timeline (m, frames));
  if (codec == KK_CODEC_VP8)
    check_picture_ids (frames);
  g_assert_cmpuint (decode_output (f, codec), ==, frames->len);
  remove_pipelines (dir, codec == KK_CODEC_VP8 ? "light-vp8.pipeline"
      : "light-h264.pipeline");
}

/* Freed with frames in every stage: no callback afterwards, and nothing
 * leaked or touched after its free (ASan). */
static void
test_free_running (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);

  start_layer (f, codec);
  for (guint i = 0; i < FPS; i++) {
    push_frame (f, m, i, -1);
    if (i < FPS / 2)
      wait_caught_up (f, 0);
  }
  kk_light_layer_request_keyframe (f->layer);
  kk_light_layer_free (g_steal_pointer (&f->layer));
  g_mutex_lock (&f->lock);
  f->freed = TRUE;
  g_assert_cmpuint (f->out->len, >, 0);
  g_mutex_unlock (&f->lock);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpint (g_atomic_int_get (&f->packets_after_free), ==, 0);
  g_assert_null (f->error);
}

/* ---- errors ---- */

/* An error while running reaches the error callback on the main context,
 * and the layer then takes no more input; the callback may free it. */
static void
test_runtime_error (Fixture *f, gconstpointer data)
{
  Media *m = get_media (KK_CODEC_VP8);
  char *dir = write_pipelines ("light-vp8.pipeline",
      "appsrc name=full ! rtpvp8depay ! vp8dec ! identity error-after=3\n"
      "  ! videoconvert ! queue ! vp8enc deadline=1 ! rtpvp8pay\n"
      "  ! appsink name=light sync=false\n");

  for (guint run = 0; run < 2; run++) {
    g_autoptr (GError) error = NULL;
    gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
    KkLightLayerStats before, after;
    guint pushed = 0;

    g_clear_error (&f->error);
    f->free_on_error = run == 1;
    f->layer = kk_light_layer_new (dir, KK_CODEC_VP8, &callbacks, f, &error);
    g_assert_no_error (error);
    while (f->error == NULL && g_get_monotonic_time () < deadline) {
      if (pushed < m->frames->len)
        push_frame (f, m, pushed++, -1);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
    g_assert_error (f->error, KK_LIGHT_LAYER_ERROR,
        KK_LIGHT_LAYER_ERROR_FAILED);
    g_assert_true (f->error_on_main);
    if (f->free_on_error) {
      g_assert_null (f->layer);
      continue;
    }
    kk_light_layer_get_stats (f->layer, &before);
    push_frame (f, m, pushed < m->frames->len ? pushed : 0, -1);
    kk_light_layer_get_stats (f->layer, &after);
    g_assert_cmpuint (after.frames_in, ==, before.frames_in);
    g_clear_pointer (&f->layer, kk_light_layer_free);
  }
  remove_pipelines (dir, "light-vp8.pipeline");
}

static void
test_load_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  char *dir;

  g_assert_null (kk_light_layer_new (pipelines_dir (), KK_CODEC_OPUS,
          &callbacks, f, &error));
  g_assert_error (error, KK_LIGHT_LAYER_ERROR, KK_LIGHT_LAYER_ERROR_CODEC);
  g_clear_error (&error);

  dir = write_pipelines ("light-vp8.pipeline",
      "appsrc name=input ! rtpvp8depay ! vp8dec ! vp8enc ! rtpvp8pay\n"
      "  ! appsink name=light\n");
  g_assert_null (kk_light_layer_new (dir, KK_CODEC_VP8, &callbacks, f,
          &error));
  g_assert_error (error, KK_LIGHT_LAYER_ERROR, KK_LIGHT_LAYER_ERROR_PIPELINE);
  g_assert_nonnull (strstr (error->message, "\"full\""));
  g_clear_error (&error);
  /* No H.264 file there. */
  g_assert_null (kk_light_layer_new (dir, KK_CODEC_H264, &callbacks, f,
          &error));
  g_assert_error (error, KK_LIGHT_LAYER_ERROR, KK_LIGHT_LAYER_ERROR_PIPELINE);
  g_assert_nonnull (strstr (error->message, "light-h264.pipeline"));
  remove_pipelines (dir, "light-vp8.pipeline");
}

/* The feed's cached GOP (a whole second of 720p, from its keyframe)
 * handed over at once when the layer starts, as a room does: every frame
 * of it is taken, no keyframe is asked of the host (every viewer would
 * get it), and the live frames after it are taken as well. */
static void
test_prime (Fixture *f, gconstpointer data)
{
  KkCodec codec = GPOINTER_TO_INT (data);
  Media *m = get_media (codec);
  g_autoptr (GPtrArray) gop = g_ptr_array_new ();
  guint gop_end = next_keyframe (m, 1);
  KkLightLayerStats s;

  g_assert_cmpuint (gop_end, ==, FPS);
  for (guint i = 0; i < frame_at (m, gop_end)->first; i++)
    g_ptr_array_add (gop, m->packets->pdata[i]);
  start_layer (f, codec);
  kk_light_layer_prime (f->layer, gop);
  for (guint i = gop_end; i < gop_end + FPS / 2; i++) {
    push_frame (f, m, i, -1);
    wait_until_caught_up (f, 0, TRUE);
  }
  kk_light_layer_get_stats (f->layer, &s);
  g_test_message ("primed: %" G_GUINT64_FORMAT " frames in, %"
      G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT " out", s.frames_in,
      s.frames_lost, s.frames_out);
  g_assert_cmpuint (s.frames_in, ==, gop_end + FPS / 2);
  g_assert_cmpuint (s.frames_lost, ==, 0);
  g_assert_cmpint (g_atomic_int_get (&f->keyframe_asks), ==, 0);
  g_assert_cmpuint (s.frames_out, >, 0);
}

static void
add (const char *path, KkCodec codec,
    void (*test) (Fixture *, gconstpointer))
{
  g_test_add (path, Fixture, GINT_TO_POINTER (codec), fixture_setup, test,
      fixture_teardown);
}

int
main (int argc, char **argv)
{
  int result;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  add ("/light-layer/vp8/output", KK_CODEC_VP8, test_output);
  add ("/light-layer/h264/output", KK_CODEC_H264, test_output);
  add ("/light-layer/vp8/keyframe-request", KK_CODEC_VP8,
      test_keyframe_request);
  add ("/light-layer/h264/keyframe-request", KK_CODEC_H264,
      test_keyframe_request);
  add ("/light-layer/vp8/loss", KK_CODEC_VP8, test_loss);
  add ("/light-layer/h264/loss", KK_CODEC_H264, test_loss);
  add ("/light-layer/vp8/start-mid-gop", KK_CODEC_VP8, test_start_mid_gop);
  add ("/light-layer/h264/start-mid-gop", KK_CODEC_H264, test_start_mid_gop);
  add ("/light-layer/vp8/burst", KK_CODEC_VP8, test_burst);
  add ("/light-layer/h264/burst", KK_CODEC_H264, test_burst);
  add ("/light-layer/vp8/prime", KK_CODEC_VP8, test_prime);
  add ("/light-layer/h264/prime", KK_CODEC_H264, test_prime);
  add ("/light-layer/vp8/slow-encoder", KK_CODEC_VP8, test_slow_encoder);
  add ("/light-layer/h264/slow-encoder", KK_CODEC_H264, test_slow_encoder);
  add ("/light-layer/vp8/free-running", KK_CODEC_VP8, test_free_running);
  add ("/light-layer/h264/free-running", KK_CODEC_H264, test_free_running);
  add ("/light-layer/runtime-error", KK_CODEC_VP8, test_runtime_error);
  add ("/light-layer/load-errors", KK_CODEC_VP8, test_load_errors);
  result = g_test_run ();

  for (guint i = 0; i < G_N_ELEMENTS (media); i++) {
    g_clear_pointer (&media[i].packets, g_ptr_array_unref);
    g_clear_pointer (&media[i].frames, g_array_unref);
  }
  return result;
}
