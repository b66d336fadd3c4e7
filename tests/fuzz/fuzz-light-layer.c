/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-light-layer: a host's video, whatever it holds, goes
 * through the light layer's input (sequence numbers, timestamps and
 * keyframe flags in any order: gaps, repeats, timestamps going back) and
 * into the depayloader and decoder of the real pipeline files, which run
 * in the relay's own process. The pipeline files are the real ones with
 * a smaller picture (64x36), so that the encoder's work does not slow
 * the fuzzing down; one layer per codec takes every input in turn, as a
 * room's layer takes one host after another.
 *
 * Input: one byte choosing the codec (even VP8, odd H.264), then records
 * of [flags: bit 0 marker, bit 1 keyframe start][sequence step, int8]
 * [timestamp step, int16 BE][length, uint16 BE][payload].
 */
#include "kk-light-layer.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
on_packet (const guint8 *rtp, gsize len, gint64 capture_wall_us,
    gpointer user_data)
{
}

static void
on_error (const GError *error, gpointer user_data)
{
}

static const KkLightLayerCallbacks callbacks = {
  .packet = on_packet,
  .error = on_error,
};

/* Copies pipelines/@name.pipeline into @dir with a 64x36 picture.
 * Returns: (transfer full): the copy's path. */
static char *
copy_small (const char *dir, const char *name)
{
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  g_autofree char *file = g_strconcat (name, ".pipeline", NULL);
  g_autofree char *from = g_build_filename (srcdir != NULL ? srcdir
      : "tests", "..", "pipelines", file, NULL);
  char *to = g_build_filename (dir, file, NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) parts = NULL;
  g_autofree char *small = NULL;

  if (!g_file_get_contents (from, &text, NULL, NULL))
    abort ();
  parts = g_strsplit (text, "width=640,height=360", -1);
  if (g_strv_length (parts) != 2)
    abort ();
  small = g_strjoinv ("width=64,height=36", parts);
  if (!g_file_set_contents (to, small, -1, NULL))
    abort ();
  return to;
}

/* The layer of @codec; both are made on the first call, and their files
 * removed once loaded. */
static KkLightLayer *
get_layer (KkCodec codec)
{
  static KkLightLayer *layers[2];

  if (layers[0] == NULL) {
    g_autofree char *dir = g_dir_make_tmp ("fuzz-light-layer-XXXXXX", NULL);
    g_autofree char *vp8 = NULL;
    g_autofree char *h264 = NULL;

    gst_init (NULL, NULL);
    if (dir == NULL)
      abort ();
    vp8 = copy_small (dir, "light-vp8");
    h264 = copy_small (dir, "light-h264");
    layers[0] = kk_light_layer_new (dir, KK_CODEC_VP8, &callbacks, NULL,
        NULL);
    layers[1] = kk_light_layer_new (dir, KK_CODEC_H264, &callbacks, NULL,
        NULL);
    g_unlink (vp8);
    g_unlink (h264);
    g_rmdir (dir);
    if (layers[0] == NULL || layers[1] == NULL)
      abort ();
  }
  return layers[codec == KK_CODEC_H264];
}

static void
wait_taken (KkLightLayer *layer)
{
  KkLightLayerStats s;

  /* Not a timing: the layer may drop what it cannot decode, so a few ms
   * at most for the decoder to take what it was given. */
  for (guint i = 0; i < 20; i++) {
    kk_light_layer_get_stats (layer, &s);
    if (s.frames_decoded >= s.frames_in - s.frames_lost)
      break;
    g_usleep (500);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  KkCodec codec;
  KkLightLayer *layer;
  KkPacket packet = { .refcount = 1, .kind = KK_TRACK_VIDEO };
  /* Each input follows the last after a gap, as a new host would. */
  static guint16 seq;
  static guint32 ts;
  gsize off = 1;

  if (size < 1)
    return 0;
  codec = data[0] & 1 ? KK_CODEC_H264 : KK_CODEC_VP8;
  seq += 100;
  ts += 90000;
  layer = get_layer (codec);
  packet.codec = codec;
  while (size - off >= 6) {
    guint8 flags = data[off];
    gsize len = data[off + 4] << 8 | data[off + 5];

    seq += (gint8) data[off + 1];
    ts += (gint16) (data[off + 2] << 8 | data[off + 3]);
    off += 6;
    len = MIN (len, size - off);
    len = MIN (len, KK_PACKET_MAX - 12);
    packet.seq = seq;
    packet.timestamp = ts;
    packet.keyframe_start = (flags & 2) != 0;
    packet.capture_wall_us = ts;
    packet.len = 12 + len;
    memset (packet.data, 0, 12);
    packet.data[0] = 0x80;
    packet.data[1] = flags & 1 ? 0x80 : 0;
    packet.data[2] = seq >> 8;
    packet.data[3] = seq;
    packet.data[4] = ts >> 24;
    packet.data[5] = ts >> 16;
    packet.data[6] = ts >> 8;
    packet.data[7] = ts;
    memcpy (packet.data + 12, data + off, len);
    off += len;
    kk_light_layer_push (layer, &packet);
  }
  wait_taken (layer);
  kk_light_layer_request_keyframe (layer);
  return 0;
}
