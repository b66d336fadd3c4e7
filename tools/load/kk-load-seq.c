/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-seq: loss, gaps and NACK recovery of one RTP stream, from
 * sequence numbers alone.
 *
 * The RTP header is not encrypted by SRTP, so every packet is counted
 * here, whether or not the tool decrypts it. Sequence numbers are extended
 * to 64 bits the RFC 3550 way (the candidate nearest the highest seen).
 * Two bitmaps over the last KK_LOAD_SEQ_WINDOW numbers say which arrived
 * and which we asked for again; that is all the state, so a viewer costs a
 * fixed 512 bytes here whatever the loss.
 */
#include "kk-load.h"

#include <string.h>

#define BIT_INDEX(ext) ((ext) & (KK_LOAD_SEQ_WINDOW - 1))

static inline gboolean
bit_get (const guint32 *bits, guint64 ext)
{
  guint64 i = BIT_INDEX (ext);

  return (bits[i / 32] >> (i % 32)) & 1;
}

static inline void
bit_set (guint32 *bits, guint64 ext, gboolean value)
{
  guint64 i = BIT_INDEX (ext);

  if (value)
    bits[i / 32] |= 1u << (i % 32);
  else
    bits[i / 32] &= ~(1u << (i % 32));
}

static guint64
extend (const KkLoadSeq *seq, guint16 seq16)
{
  guint64 candidate = (seq->highest & ~(guint64) 0xffff) | seq16;

  if (candidate + 0x8000 < seq->highest)
    candidate += 0x10000;
  else if (candidate > seq->highest + 0x8000 && candidate >= 0x10000)
    candidate -= 0x10000;
  return candidate;
}

KkLoadSeqResult
kk_load_seq_push (KkLoadSeq *seq, guint16 seq16, guint16 *lost,
    guint *n_lost, guint max_lost)
{
  guint64 ext;

  if (n_lost != NULL)
    *n_lost = 0;
  if (!seq->started) {
    /* Start in the second cycle so that a reordered first packet cannot
     * underflow. */
    seq->started = TRUE;
    seq->first = seq->highest = 0x10000 + seq16;
    seq->received = 1;
    bit_set (seq->received_bits, seq->highest, TRUE);
    return KK_LOAD_SEQ_NEW;
  }

  ext = extend (seq, seq16);
  if (ext > seq->highest) {
    guint64 missing = ext - seq->highest - 1;
    guint64 from = seq->highest + 1;

    /* Forget what the window slides over. */
    if (ext - seq->highest >= KK_LOAD_SEQ_WINDOW) {
      memset (seq->received_bits, 0, sizeof (seq->received_bits));
      memset (seq->nacked_bits, 0, sizeof (seq->nacked_bits));
    } else {
      for (guint64 s = from; s <= ext; s++) {
        bit_set (seq->received_bits, s, FALSE);
        bit_set (seq->nacked_bits, s, FALSE);
      }
    }
    seq->gaps += missing;
    if (missing > 0 && lost != NULL && n_lost != NULL) {
      guint64 window_start = ext >= KK_LOAD_SEQ_WINDOW
          ? ext - KK_LOAD_SEQ_WINDOW + 1 : 0;
      guint64 start = MAX (from, window_start);

      /* The newest ones: older ones would be out of the relay's history
       * before a retransmission could arrive anyway. */
      if (ext - start > max_lost)
        start = ext - max_lost;
      for (guint64 s = start; s < ext; s++) {
        lost[(*n_lost)++] = (guint16) s;
        bit_set (seq->nacked_bits, s, TRUE);
        seq->nacked++;
      }
    }
    seq->highest = ext;
    seq->received++;
    bit_set (seq->received_bits, ext, TRUE);
    return KK_LOAD_SEQ_NEW;
  }

  if (seq->highest - ext >= KK_LOAD_SEQ_WINDOW || ext < seq->first) {
    seq->too_old++;
    return KK_LOAD_SEQ_TOO_OLD;
  }
  if (bit_get (seq->received_bits, ext)) {
    seq->duplicates++;
    return KK_LOAD_SEQ_DUPLICATE;
  }
  bit_set (seq->received_bits, ext, TRUE);
  seq->received++;
  seq->recovered++;
  if (bit_get (seq->nacked_bits, ext))
    seq->recovered_nacked++;
  return KK_LOAD_SEQ_RECOVERED;
}

guint64
kk_load_seq_expected (const KkLoadSeq *seq)
{
  return seq->started ? seq->highest - seq->first + 1 : 0;
}

guint64
kk_load_seq_lost (const KkLoadSeq *seq)
{
  guint64 expected = kk_load_seq_expected (seq);

  return expected > seq->received ? expected - seq->received : 0;
}
