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
 * and bitrate, and how long a frame takes from push to its last packet
 * out. It reports, it does not assert.
 *
 *   bench-light-layer [SECONDS] [PIPELINES_DIR]
 *
 * Two contents per codec: "lecture", a slide-like picture with a moving
 * ball and a running clock, and "detail", a moving zone plate that keeps
 * every macroblock changing (a camera on a busy scene, near the worst).
 */
#include "kk-light-layer.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <kringkast/kk-rtp.h>
#include <string.h>
#include <sys/resource.h>

#define FPS 30

typedef struct {
  GMutex lock;
  guint64 bytes_out;
  gint64 last_out_us;         /* when the last packet came out */
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
  KkLightLayerStats s;
  KkLightLayer *layer;
  guint64 last_out = 0;
  guint full_bytes = 0;

  g_mutex_init (&output.lock);
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

  g_print ("| %s | %s | %u | %.2f | %.0f | %.0f | %.3f | %.1f | %.1f | %.3f |\n",
      codec == KK_CODEC_VP8 ? "VP8" : "H.264", content, seconds,
      s.frames_out / (gdouble) seconds,
      full_bytes * 8.0 / seconds / 1000, output.bytes_out * 8.0 / seconds
      / 1000, cpu / seconds,
      latencies->len ? g_array_index (latencies, gdouble,
          latencies->len / 2) : 0.0,
      latencies->len ? g_array_index (latencies, gdouble,
          latencies->len * 95 / 100) : 0.0,
      full_cpu / seconds);
  g_mutex_clear (&output.lock);
}

int
main (int argc, char **argv)
{
  guint seconds = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 30;
  const char *pipelines_dir = argc > 2 ? argv[2] : "pipelines";
  const KkCodec codecs[] = { KK_CODEC_VP8, KK_CODEC_H264 };

  gst_init (&argc, &argv);
  if (seconds == 0)
    seconds = 30;
  g_print ("| codec | content | s | light fps | full kbit/s | light kbit/s "
      "| light layer CPU s/s | push to out median ms | p95 ms "
      "| 720p encode of the input, CPU s/s |\n");
  g_print ("|---|---|---|---|---|---|---|---|---|---|\n");
  for (guint c = 0; c < G_N_ELEMENTS (codecs); c++)
    for (guint i = 0; i < G_N_ELEMENTS (contents); i++)
      run (codecs[c], contents[i][0], contents[i][1], seconds, pipelines_dir);
  return 0;
}
