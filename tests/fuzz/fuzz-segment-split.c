/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the cutters of the HTTPS segments: kk-webm-split (live
 * WebM, VP8) and kk-mp4-split (fragmented MP4, H.264). The input goes
 * through each twice, whole and in pieces of a size its first byte
 * chooses, under a small bound; both runs must hand out the same pieces,
 * and together the pieces can never be more than the input (they are its
 * elements or boxes, in order, some left out, only size fields and the
 * Opus header's byte order rewritten), so a cutter neither reads nor
 * writes outside what it was given; every field they read is
 * bounds-checked under ASan.
 */

#include "kk-mp4-split.h"
#include "kk-webm-split.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_ELEMENT (64 * 1024)

typedef struct {
  GByteArray *out;
  guint pieces;
} Collected;

static void
collect (Collected *c, GBytes *bytes)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);

  g_byte_array_append (c->out, p, len);
  c->pieces++;
}

static void
on_init (GBytes *bytes, gpointer user_data)
{
  collect (user_data, bytes);
}

static void
on_cluster (GBytes *bytes, const KkWebmClusterInfo *info, gpointer user_data)
{
  collect (user_data, bytes);
}

static void
on_segment (GBytes *bytes, const KkMp4SegmentInfo *info, gpointer user_data)
{
  collect (user_data, bytes);
}

static const KkWebmSplitCallbacks webm_callbacks = { on_init, on_cluster };
static const KkMp4SplitCallbacks mp4_callbacks = { on_init, on_segment };

static gboolean
run_webm (const uint8_t *data, size_t size, size_t piece, Collected *c)
{
  g_autoptr (KkWebmSplit) split = kk_webm_split_new (MAX_ELEMENT,
      &webm_callbacks, c);

  for (size_t at = 0; at < size; at += piece)
    if (!kk_webm_split_push (split, data + at, MIN (piece, size - at), NULL))
      return FALSE;
  return kk_webm_split_finish (split, NULL);
}

static gboolean
run_mp4 (const uint8_t *data, size_t size, size_t piece, Collected *c)
{
  g_autoptr (KkMp4Split) split = kk_mp4_split_new (MAX_ELEMENT,
      G_USEC_PER_SEC, &mp4_callbacks, c);

  for (size_t at = 0; at < size; at += piece)
    if (!kk_mp4_split_push (split, data + at, MIN (piece, size - at), NULL))
      return FALSE;
  return kk_mp4_split_finish (split, NULL);
}

/* Whole and in pieces: the same verdict, the same pieces. */
static void
check_both (gboolean (*run) (const uint8_t *, size_t, size_t, Collected *),
    const uint8_t *data, size_t size)
{
  Collected whole = { g_byte_array_new (), 0 };
  Collected pieces = { g_byte_array_new (), 0 };
  size_t piece = size > 0 ? data[0] % 64 + 1 : 1;
  gboolean ok_whole = run (data, size, size > 0 ? size : 1, &whole);
  gboolean ok_pieces = run (data, size, piece, &pieces);

  if (ok_whole != ok_pieces || whole.pieces != pieces.pieces
      || whole.out->len != pieces.out->len
      || (whole.out->len > 0
          && memcmp (whole.out->data, pieces.out->data, whole.out->len) != 0)
      || whole.out->len > size)
    abort ();
  g_byte_array_unref (whole.out);
  g_byte_array_unref (pieces.out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_both (run_webm, data, size);
  check_both (run_mp4, data, size);
  return 0;
}
