/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-recorder: what recording one lecture costs. A lecture's worth of
 * real RTP (VP8 640x360 at 30 fps, noise held to ~1 Mbit/s, Opus at 50 packets/s) is
 * encoded first, then pushed through a recorder into a WebM file as fast
 * as it will go; the CPU time that takes (user + system, all threads),
 * divided by the media time, is the share of one core a live recording
 * of that lecture keeps busy. It reports, it does not assert.
 *
 *   bench-recorder [SECONDS] [PIPELINES_DIR]
 */
#include "kk-recorder.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <kringkast/kk-rtp.h>
#include <string.h>
#include <sys/resource.h>

static gboolean ended;

static void
pull (GstElement *sink, GPtrArray *out, KkTrackKind kind, KkCodec codec)
{
  GstSample *sample;

  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    KkPacket *packet = g_new0 (KkPacket, 1);
    GstMapInfo map;
    KkRtpHeader hdr;

    gst_buffer_map (buffer, &map, GST_MAP_READ);
    if (map.size <= KK_PACKET_MAX && kk_rtp_parse (map.data, map.size, &hdr)) {
      packet->refcount = 1;
      packet->kind = kind;
      packet->codec = codec;
      packet->seq = hdr.seq;
      packet->timestamp = hdr.timestamp;
      packet->len = map.size;
      memcpy (packet->data, map.data, map.size);
      packet->keyframe_start = kind == KK_TRACK_VIDEO
          && kk_rtp_vp8_is_keyframe_start (hdr.payload, hdr.payload_len);
      g_ptr_array_add (out, packet);
    } else {
      g_free (packet);
    }
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
}

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
      + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static void
on_ended (KkRecorder *recorder, const GError *error, gpointer user_data)
{
  if (error != NULL)
    g_printerr ("recording failed: %s\n", error->message);
  ended = TRUE;
}

int
main (int argc, char **argv)
{
  guint seconds = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 60;
  const char *pipelines_dir = argc > 2 ? argv[2] : "pipelines";
  g_autofree char *description = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) v = NULL;
  g_autoptr (GstElement) a = NULL;
  g_autoptr (GPtrArray) video = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_packet_unref);
  g_autoptr (GPtrArray) audio = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_packet_unref);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  KkRecorderConfig config = { 0 };
  KkRecorderCallbacks callbacks = { .ended = on_ended };
  KkRecorder *recorder;
  GStatBuf st;
  gdouble cpu;
  guint i = 0, j = 0;

  gst_init (&argc, &argv);
  if (seconds == 0)
    seconds = 60;

  g_printerr ("encoding %u s of media...\n", seconds);
  description = g_strdup_printf ("videotestsrc num-buffers=%u pattern=snow "
      "! video/x-raw,width=640,height=360,framerate=30/1 "
      "! vp8enc deadline=1 cpu-used=16 target-bitrate=1000000 "
      "keyframe-max-dist=60 ! rtpvp8pay mtu=1200 ! appsink name=v sync=false "
      "audiotestsrc num-buffers=%u samplesperbuffer=960 "
      "! audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=48000 "
      "frame-size=20 ! rtpopuspay ! appsink name=a sync=false",
      seconds * 30, seconds * 50);
  pipeline = gst_parse_launch (description, &error);
  if (pipeline == NULL) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  v = gst_bin_get_by_name (GST_BIN (pipeline), "v");
  a = gst_bin_get_by_name (GST_BIN (pipeline), "a");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  pull (v, video, KK_TRACK_VIDEO, KK_CODEC_VP8);
  pull (a, audio, KK_TRACK_AUDIO, KK_CODEC_OPUS);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  dir = g_dir_make_tmp ("kk-bench-recorder-XXXXXX", &error);
  if (dir == NULL) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  config.pipelines_dir = pipelines_dir;
  config.directory = dir;
  config.basename = "lecture";

  cpu = cpu_seconds ();
  recorder = kk_recorder_new (&config, &callbacks, NULL);
  kk_recorder_prime (recorder, NULL, G_MAXINT64, NULL);
  /* Interleaved as a publisher sends: 3 audio packets per 2 video frames
   * is close enough for a muxer that queues by timestamp anyway. */
  while (i < video->len || j < audio->len) {
    gboolean take_video = j >= audio->len || (i < video->len
        && (guint64) i * audio->len <= (guint64) j * video->len);

    kk_recorder_push (recorder, take_video ? video->pdata[i++]
        : audio->pdata[j++]);
    g_main_context_iteration (NULL, FALSE);
  }
  kk_recorder_stop (recorder);
  while (!ended)
    g_main_context_iteration (NULL, TRUE);
  cpu = cpu_seconds () - cpu;

  path = g_strdup (kk_recorder_get_path (recorder));
  if (path != NULL && g_stat (path, &st) == 0)
    g_print ("recorded %.1f s (%u video + %u audio packets, %.1f MB) in "
        "%.3f s of CPU: %.2f %% of one core while live\n",
        kk_recorder_get_duration_us (recorder) / 1e6, video->len, audio->len,
        st.st_size / 1e6, cpu, 100.0 * cpu / seconds);
  kk_recorder_free (recorder);
  if (path != NULL)
    g_unlink (path);
  g_rmdir (dir);
  return path != NULL ? 0 : 1;
}
