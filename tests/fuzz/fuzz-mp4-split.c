/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-mp4-split: the fragmented MP4 cutter of the HTTPS
 * segments (H.264). The input is split twice, whole and in pieces of a
 * size its first byte chooses, under a small box bound; both runs must
 * hand out the same pieces, and the pieces together can never be more
 * than the input (they are its boxes, in order, some left out), so the
 * cutter neither reads nor writes outside what it was given; every field
 * of the moov and the moofs it reads is bounds-checked under ASan.
 */

#include "kk-mp4-split.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  GByteArray *out;
  guint pieces;
} Collected;

static void
on_init (GBytes *bytes, gpointer user_data)
{
  Collected *c = user_data;
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);

  g_byte_array_append (c->out, p, len);
  c->pieces++;
}

static void
on_segment (GBytes *bytes, const KkMp4SegmentInfo *info, gpointer user_data)
{
  Collected *c = user_data;
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);

  /* At least the moof that starts it. */
  if (len < 8)
    abort ();
  g_byte_array_append (c->out, p, len);
  c->pieces++;
}

static const KkMp4SplitCallbacks callbacks = { on_init, on_segment };

static gboolean
run (const uint8_t *data, size_t size, size_t piece, Collected *c)
{
  g_autoptr (KkMp4Split) split = kk_mp4_split_new (64 * 1024, &callbacks,
      c);

  for (size_t at = 0; at < size; at += piece)
    if (!kk_mp4_split_push (split, data + at, MIN (piece, size - at), NULL))
      return FALSE;
  return kk_mp4_split_finish (split, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Collected whole = { g_byte_array_new (), 0 };
  Collected pieces = { g_byte_array_new (), 0 };
  size_t piece = size > 0 ? data[0] % 64 + 1 : 1;
  gboolean ok_whole = run (data, size, size > 0 ? size : 1, &whole);
  gboolean ok_pieces = run (data, size, piece, &pieces);

  /* Splitting must not depend on how the bytes arrive. */
  if (ok_whole != ok_pieces || whole.pieces != pieces.pieces
      || whole.out->len != pieces.out->len
      || memcmp (whole.out->data, pieces.out->data, whole.out->len) != 0)
    abort ();
  if (whole.out->len > size)
    abort ();
  g_byte_array_unref (whole.out);
  g_byte_array_unref (pieces.out);
  return 0;
}
