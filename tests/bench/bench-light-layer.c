/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-light-layer: what the light layer of one room costs (issue 13).
 * A lecture's worth of 720p30 RTP at ~1.5 Mbit/s (VP8 or H.264, made
 * first by GStreamer's encoders) goes through a light layer built from
 * the real pipeline files, one frame at a time: each frame is pushed once
 * the previous one has come out, as a live room's would be. The CPU time
 * that takes (user + system, every thread of the process), divided by the
 * media time, is the share of one core a room's light layer keeps busy
 * while someone watches it. Also printed: the light layer's frame rate
 * and bitrate, how long a frame takes from push to its last packet out,
 * and its quality: PSNR and SSIM (luma) of each light frame against the
 * same full-layer frame decoded and scaled to 640x360 with videoscale's
 * Lanczos filter, the picture a viewer would get if scaling and encoding
 * cost nothing. It reports, it does not assert.
 *
 *   bench-light-layer [SECONDS] [PIPELINES_DIR] [vp8|h264]
 *
 * A PIPELINES_DIR of variants of the light-*.pipeline files compares
 * their settings (tests/bench/RESULTS.md has such a comparison).
 *
 * Two contents per codec: "lecture", a slide-like picture with a moving
 * ball and a running clock, and "detail", a moving zone plate that keeps
 * every macroblock changing (a camera on a busy scene, near the worst).
 */
#include "kk-light-layer.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <kringkast/kk-rtp.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#define FPS 30

typedef struct {
  GMutex lock;
  guint64 bytes_out;
  gint64 last_out_us;         /* when the last packet came out */
  GPtrArray *packets;         /* GBytes: what came out, for the quality */
} Output;

/* What follows "videotestsrc num-buffers=N" in each content's source. */
static const char *const contents[][2] = {
  { "lecture", "pattern=ball motion=wavy background-color=0xff203040 "
        "! video/x-raw,width=1280,height=720,framerate=30/1 "
        "! timeoverlay font-desc=\"Sans 28\" "
        "! textoverlay text=Kringkast font-desc=\"Sans 36\"" },
  { "detail", "pattern=zone-plate kx2=20 ky2=20 kt=1 "
        "! video/x-raw,width=1280,height=720,framerate=30/1" },
};

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
      + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* The 720p30 full layer: its packets as the feed makes them. */
static GPtrArray *
make_full_layer (KkCodec codec, const char *source, guint seconds,
    gdouble *cpu)
{
  g_autofree char *description = g_strdup_printf (
      "videotestsrc num-buffers=%u %s ! videoconvert ! %s "
      "! appsink name=v sync=false", seconds * FPS, source,
      codec == KK_CODEC_VP8
      ? "vp8enc deadline=1 cpu-used=16 target-bitrate=1500000 end-usage=cbr "
      "keyframe-max-dist=60 ! rtpvp8pay mtu=1200 picture-id-mode=15-bit"
      : "x264enc tune=zerolatency speed-preset=ultrafast bitrate=1500 "
      "key-int-max=60 ! video/x-h264,profile=constrained-baseline "
      "! rtph264pay mtu=1200 config-interval=-1 aggregate-mode=zero-latency");
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;
  GPtrArray *packets = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_packet_unref);
  GstSample *sample;
  gdouble start = cpu_seconds ();
  gint64 wall = G_GINT64_CONSTANT (1700000000000000);

  pipeline = gst_parse_launch (description, &error);
  if (pipeline == NULL)
    g_error ("%s", error->message);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "v");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    KkPacket *packet = g_new0 (KkPacket, 1);
    GstMapInfo map;
    KkRtpHeader hdr;

    gst_buffer_map (buffer, &map, GST_MAP_READ);
    if (map.size > KK_PACKET_MAX || !kk_rtp_parse (map.data, map.size, &hdr))
      g_error ("the payloader made a packet the feed would refuse");
    packet->refcount = 1;
    packet->kind = KK_TRACK_VIDEO;
    packet->codec = codec;
    packet->seq = hdr.seq;
    packet->timestamp = hdr.timestamp;
    packet->capture_wall_us = wall + GST_BUFFER_PTS (buffer) / 1000;
    packet->len = map.size;
    memcpy (packet->data, map.data, map.size);
    packet->data[1] &= 0x80;
    packet->keyframe_start = codec == KK_CODEC_VP8
        ? kk_rtp_vp8_is_keyframe_start (hdr.payload, hdr.payload_len)
        : kk_rtp_h264_is_keyframe_start (hdr.payload, hdr.payload_len);
    g_ptr_array_add (packets, packet);
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  *cpu = cpu_seconds () - start;
  return packets;
}

static void
on_packet (const guint8 *rtp, gsize len, gint64 capture_wall_us,
    gpointer user_data)
{
  Output *output = user_data;

  g_mutex_lock (&output->lock);
  g_ptr_array_add (output->packets, g_bytes_new (rtp, len));
  output->bytes_out += len;
  output->last_out_us = g_get_monotonic_time ();
  g_mutex_unlock (&output->lock);
}

static void
on_error (const GError *error, gpointer user_data)
{
  g_error ("light layer: %s", error->message);
}

/* Waits until the layer has sent every frame it took in and kept. */
static void
wait_caught_up (KkLightLayer *layer)
{
  KkLightLayerStats s;

  for (;;) {
    kk_light_layer_get_stats (layer, &s);
    if (s.frames_decoded >= s.frames_in - s.frames_lost
        && s.frames_encoded >= s.frames_decoded - s.frames_thinned
        && s.frames_out >= s.frames_encoded)
      return;
    g_usleep (200);
  }
}

/* ---- quality ---- */

/* A decoder of @codec's RTP, fed @packets (GBytes) at once, its frames
 * (I420, @scale: at 640x360, Lanczos) taken from the appsink "sink" one
 * at a time; PTS from the RTP timestamp, from @first_ts. */
static GstElement *
start_decoder (KkCodec codec, GPtrArray *packets, guint32 first_ts,
    gboolean scale)
{
  g_autofree char *description = g_strdup_printf (
      "appsrc name=src format=time caps=application/x-rtp,media=video,"
      "clock-rate=90000,encoding-name=%s,payload=96 ! %s ! videoconvert "
      "%s ! appsink name=sink sync=false max-buffers=2",
      codec == KK_CODEC_VP8 ? "VP8" : "H264",
      codec == KK_CODEC_VP8 ? "rtpvp8depay ! vp8dec"
      : "rtph264depay ! avdec_h264", scale
      ? "! videoscale method=lanczos ! video/x-raw,format=I420,width=640,"
      "height=360" : "! video/x-raw,format=I420");
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch_full (description, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  g_autoptr (GstElement) src = NULL;

  if (pipeline == NULL)
    g_error ("%s", error->message);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_set (src, "max-bytes", (guint64) 0, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (guint i = 0; i < packets->len; i++) {
    gsize len;
    const guint8 *rtp = g_bytes_get_data (packets->pdata[i], &len);
    GstBuffer *buffer = gst_buffer_new_memdup (rtp, len);
    KkRtpHeader hdr;
    GstMapInfo map;

    kk_rtp_parse (rtp, len, &hdr);
    gst_buffer_map (buffer, &map, GST_MAP_WRITE);
    map.data[1] = (map.data[1] & 0x80) | 96;
    gst_buffer_unmap (buffer, &map);
    GST_BUFFER_PTS (buffer) = gst_util_uint64_scale_int (
        (guint32) (hdr.timestamp - first_ts), GST_SECOND, 90000);
    gst_app_src_push_buffer (GST_APP_SRC (src), buffer);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  return pipeline;
}

/* Mean SSIM of two luma planes over 8x8 windows, 4 apart. */
static gdouble
ssim (const guint8 *a, gint stride_a, const guint8 *b, gint stride_b,
    gint width, gint height)
{
  const gdouble c1 = 6.5025, c2 = 58.5225;  /* (0.01*255)^2, (0.03*255)^2 */
  gdouble total = 0;
  guint windows = 0;

  for (gint y = 0; y + 8 <= height; y += 4)
    for (gint x = 0; x + 8 <= width; x += 4) {
      gdouble sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, ma, mb, va, vb, cov;

      for (gint j = 0; j < 8; j++)
        for (gint i = 0; i < 8; i++) {
          gdouble pa = a[(y + j) * stride_a + x + i];
          gdouble pb = b[(y + j) * stride_b + x + i];

          sa += pa;
          sb += pb;
          saa += pa * pa;
          sbb += pb * pb;
          sab += pa * pb;
        }
      ma = sa / 64;
      mb = sb / 64;
      va = saa / 64 - ma * ma;
      vb = sbb / 64 - mb * mb;
      cov = sab / 64 - ma * mb;
      total += (2 * ma * mb + c1) * (2 * cov + c2)
          / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      windows++;
    }
  return total / windows;
}

static gdouble
psnr (const guint8 *a, gint stride_a, const guint8 *b, gint stride_b,
    gint width, gint height)
{
  gdouble sum = 0;

  for (gint y = 0; y < height; y++)
    for (gint x = 0; x < width; x++) {
      gint d = a[y * stride_a + x] - b[y * stride_b + x];

      sum += d * d;
    }
  if (sum == 0)
    return 99;
  return 10 * log10 (255.0 * 255.0 * width * height / sum);
}

/* Pulls the next frame; FALSE at the end. */
static gboolean
pull_frame (GstElement *pipeline, GstSample **sample, GstVideoFrame *frame)
{
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline),
      "sink");
  GstVideoInfo info;

  *sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  if (*sample == NULL)
    return FALSE;
  gst_video_info_from_caps (&info, gst_sample_get_caps (*sample));
  gst_video_frame_map (frame, &info, gst_sample_get_buffer (*sample),
      GST_MAP_READ);
  return TRUE;
}

static void
release_frame (GstSample *sample, GstVideoFrame *frame)
{
  gst_video_frame_unmap (frame);
  gst_sample_unref (sample);
}

/* Each light frame against the full-layer frame of the same timestamp,
 * decoded and scaled: mean PSNR and SSIM of the luma. */
static void
measure_quality (KkCodec codec, GPtrArray *full, GPtrArray *light,
    gdouble *mean_psnr, gdouble *mean_ssim)
{
  g_autoptr (GPtrArray) full_bytes = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_bytes_unref);
  guint32 first_ts = ((KkPacket *) full->pdata[0])->timestamp;
  GstElement *reference, *decoded;
  GstSample *ref_sample, *light_sample;
  GstVideoFrame ref_frame, light_frame;
  gdouble psnr_sum = 0, ssim_sum = 0;
  guint compared = 0;

  for (guint i = 0; i < full->len; i++) {
    KkPacket *packet = full->pdata[i];

    g_ptr_array_add (full_bytes, g_bytes_new (packet->data, packet->len));
  }
  reference = start_decoder (codec, full_bytes, first_ts, TRUE);
  decoded = start_decoder (codec, light, first_ts, FALSE);
  while (pull_frame (decoded, &light_sample, &light_frame)) {
    GstClockTime pts = GST_BUFFER_PTS (gst_sample_get_buffer (light_sample));
    gboolean found = FALSE;

    while (!found && pull_frame (reference, &ref_sample, &ref_frame)) {
      found = GST_BUFFER_PTS (gst_sample_get_buffer (ref_sample)) == pts;
      if (found) {
        const guint8 *a = GST_VIDEO_FRAME_PLANE_DATA (&ref_frame, 0);
        const guint8 *b = GST_VIDEO_FRAME_PLANE_DATA (&light_frame, 0);
        gint sa = GST_VIDEO_FRAME_PLANE_STRIDE (&ref_frame, 0);
        gint sb = GST_VIDEO_FRAME_PLANE_STRIDE (&light_frame, 0);
        gint w = GST_VIDEO_FRAME_WIDTH (&light_frame);
        gint h = GST_VIDEO_FRAME_HEIGHT (&light_frame);

        psnr_sum += psnr (a, sa, b, sb, w, h);
        ssim_sum += ssim (a, sa, b, sb, w, h);
        compared++;
      }
      release_frame (ref_sample, &ref_frame);
    }
    release_frame (light_sample, &light_frame);
  }
  gst_element_set_state (reference, GST_STATE_NULL);
  gst_element_set_state (decoded, GST_STATE_NULL);
  gst_object_unref (reference);
  gst_object_unref (decoded);
  *mean_psnr = compared ? psnr_sum / compared : 0;
  *mean_ssim = compared ? ssim_sum / compared : 0;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

static void
run (KkCodec codec, const char *content, const char *source, guint seconds,
    const char *pipelines_dir)
{
  gdouble full_cpu, cpu;
  g_autoptr (GPtrArray) packets = make_full_layer (codec, source, seconds,
      &full_cpu);
  g_autoptr (GArray) latencies = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr (GError) error = NULL;
  KkLightLayerCallbacks callbacks = { .packet = on_packet,
    .error = on_error };
  Output output = { 0 };
  gdouble mean_psnr, mean_ssim;
  KkLightLayerStats s;
  KkLightLayer *layer;
  guint64 last_out = 0;
  guint full_bytes = 0;

  g_mutex_init (&output.lock);
  output.packets = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_bytes_unref);
  cpu = cpu_seconds ();
  layer = kk_light_layer_new (pipelines_dir, codec, &callbacks, &output,
      &error);
  if (layer == NULL)
    g_error ("%s", error->message);
  for (guint i = 0; i < packets->len; i++) {
    KkPacket *packet = packets->pdata[i];
    KkPacket *next = i + 1 < packets->len ? packets->pdata[i + 1] : NULL;
    gint64 pushed_us;

    full_bytes += packet->len;
    kk_light_layer_push (layer, packet);
    if (next != NULL && next->timestamp == packet->timestamp)
      continue;
    /* A whole frame is in: time it to its last packet out. */
    pushed_us = g_get_monotonic_time ();
    wait_caught_up (layer);
    kk_light_layer_get_stats (layer, &s);
    if (s.frames_out > last_out) {
      gdouble ms;

      g_mutex_lock (&output.lock);
      ms = (output.last_out_us - pushed_us) / 1000.0;
      g_mutex_unlock (&output.lock);
      g_array_append_val (latencies, ms);
      last_out = s.frames_out;
    }
  }
  kk_light_layer_get_stats (layer, &s);
  kk_light_layer_free (layer);
  cpu = cpu_seconds () - cpu;
  g_array_sort (latencies, compare_double);
  measure_quality (codec, packets, output.packets, &mean_psnr, &mean_ssim);

  g_print ("| %s | %s | %u | %.2f | %.0f | %.0f | %.3f | %.1f | %.1f "
      "| %.2f | %.4f | %.3f |\n",
      codec == KK_CODEC_VP8 ? "VP8" : "H.264", content, seconds,
      s.frames_out / (gdouble) seconds,
      full_bytes * 8.0 / seconds / 1000, output.bytes_out * 8.0 / seconds
      / 1000, cpu / seconds,
      latencies->len ? g_array_index (latencies, gdouble,
          latencies->len / 2) : 0.0,
      latencies->len ? g_array_index (latencies, gdouble,
          latencies->len * 95 / 100) : 0.0,
      mean_psnr, mean_ssim, full_cpu / seconds);
  g_ptr_array_unref (output.packets);
  g_mutex_clear (&output.lock);
}

int
main (int argc, char **argv)
{
  guint seconds = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 30;
  const char *pipelines_dir = argc > 2 ? argv[2] : "pipelines";
  const char *only = argc > 3 ? argv[3] : NULL;
  const KkCodec codecs[] = { KK_CODEC_VP8, KK_CODEC_H264 };

  gst_init (&argc, &argv);
  if (seconds == 0)
    seconds = 30;
  g_print ("| codec | content | s | light fps | full kbit/s | light kbit/s "
      "| light layer CPU s/s | push to out median ms | p95 ms "
      "| PSNR-Y dB | SSIM-Y | 720p encode of the input, CPU s/s |\n");
  g_print ("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (guint c = 0; c < G_N_ELEMENTS (codecs); c++) {
    if (only != NULL && g_ascii_strcasecmp (only,
            codecs[c] == KK_CODEC_VP8 ? "vp8" : "h264") != 0)
      continue;
    for (guint i = 0; i < G_N_ELEMENTS (contents); i++)
      run (codecs[c], contents[i][0], contents[i][1], seconds, pipelines_dir);
  }
  return 0;
}
