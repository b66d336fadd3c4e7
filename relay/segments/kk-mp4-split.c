/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-mp4-split: cuts a live fragmented MP4 stream into MSE segments; see
 * kk-mp4-split.h.
 *
 * Every box is a 32-bit size (1: a 64-bit size follows the type; 0: "to
 * the end of the file", which a live stream never ends, so refused), a
 * four-character type and its body. Top-level boxes are taken whole from
 * @pending as they complete; the moov and each moof are then read with
 * bounds checks on every field, since a box's size is only a claim.
 */
#include "kk-mp4-split.h"

#include <string.h>

#include "kk-split-input.h"

G_DEFINE_QUARK (kk-mp4-split-error-quark, kk_mp4_split_error)

#define FOURCC(a, b, c, d) \
  (((guint32) (a) << 24) | ((guint32) (b) << 16) | ((guint32) (c) << 8) \
      | (guint32) (d))

/* Tracks read from the moov (we mux two). */
#define MAX_TRACKS 8
/* A sample whose flags have this bit is not a sync sample. */
#define SAMPLE_IS_NON_SYNC 0x00010000u

typedef struct {
  guint32 id;
  guint32 timescale;
  gboolean video;
  guint32 default_duration;     /* trex */
  guint32 default_flags;        /* trex */
} Track;

struct _KkMp4Split {
  KkSplitInput input;
  gint64 target_us;
  KkMp4SplitCallbacks callbacks;
  gpointer user_data;
  gboolean media;               /* past the initialization segment */
  Track tracks[MAX_TRACKS];
  guint n_tracks;
  /* The segment under way; NULL before the first keyframe. */
  GByteArray *segment;
  KkMp4SegmentInfo info;
  guint64 video_ticks;          /* its video samples' durations */
};

typedef struct {
  const guint8 *data;           /* the box, header included */
  gsize size;
  gsize header;
  guint32 type;
} Box;

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16)
      | ((guint32) p[2] << 8) | p[3];
}

static guint64
be64 (const guint8 *p)
{
  return ((guint64) be32 (p) << 32) | be32 (p + 4);
}

/* Reads the box at @data (at most @avail bytes). Returns 1 with @box,
 * 0 when its header is not all there, -1 when it is invalid. Its body
 * may still be incomplete: check box->size against @avail. */
static int
read_box_header (const guint8 *data, gsize avail, Box *box)
{
  guint64 size;

  if (avail < 8)
    return 0;
  size = be32 (data);
  box->header = 8;
  if (size == 1) {
    if (avail < 16)
      return 0;
    size = be64 (data + 8);
    box->header = 16;
  }
  if (size < box->header || size > G_MAXSIZE)
    return -1;
  box->data = data;
  box->size = size;
  box->type = be32 (data + 4);
  return 1;
}

/* The child boxes of @parent's body, from @offset into it. Returns FALSE
 * at the end or at a child that does not fit. */
static gboolean
next_child (const Box *parent, gsize *offset, Box *child)
{
  gsize start = parent->header + *offset;

  if (start >= parent->size
      || read_box_header (parent->data + start, parent->size - start,
          child) != 1
      || child->size > parent->size - start)
    return FALSE;
  *offset += child->size;
  return TRUE;
}

static gboolean
find_child (const Box *parent, guint32 type, Box *found)
{
  gsize offset = 0;

  while (next_child (parent, &offset, found))
    if (found->type == type)
      return TRUE;
  return FALSE;
}

/* A full box's body (after version and flags) has @need bytes? */
static gboolean
body_has (const Box *box, gsize need)
{
  return box->size - box->header >= need;
}

static Track *
find_track (KkMp4Split *split, guint32 id)
{
  for (guint i = 0; i < split->n_tracks; i++)
    if (split->tracks[i].id == id)
      return &split->tracks[i];
  return NULL;
}

/* One trak of the moov: its id (tkhd), timescale (mdhd), kind (hdlr). */
static void
read_trak (KkMp4Split *split, const Box *trak)
{
  Box tkhd, mdia, mdhd, hdlr;
  const guint8 *body;
  Track track = { 0 };

  if (split->n_tracks == MAX_TRACKS
      || !find_child (trak, FOURCC ('t', 'k', 'h', 'd'), &tkhd)
      || !find_child (trak, FOURCC ('m', 'd', 'i', 'a'), &mdia)
      || !find_child (&mdia, FOURCC ('m', 'd', 'h', 'd'), &mdhd)
      || !find_child (&mdia, FOURCC ('h', 'd', 'l', 'r'), &hdlr))
    return;
  body = tkhd.data + tkhd.header;
  if (body_has (&tkhd, 24))
    track.id = be32 (body + (body[0] == 1 ? 20 : 12));
  body = mdhd.data + mdhd.header;
  if (body_has (&mdhd, 24))
    track.timescale = be32 (body + (body[0] == 1 ? 20 : 12));
  body = hdlr.data + hdlr.header;
  if (body_has (&hdlr, 12))
    track.video = be32 (body + 8) == FOURCC ('v', 'i', 'd', 'e');
  if (track.id == 0 || track.timescale == 0 || find_track (split, track.id))
    return;
  split->tracks[split->n_tracks++] = track;
}

static void
read_moov (KkMp4Split *split, const Box *moov)
{
  Box child, mvex, trex;
  gsize offset = 0;

  while (next_child (moov, &offset, &child))
    if (child.type == FOURCC ('t', 'r', 'a', 'k'))
      read_trak (split, &child);
  if (!find_child (moov, FOURCC ('m', 'v', 'e', 'x'), &mvex))
    return;
  offset = 0;
  while (next_child (&mvex, &offset, &trex)) {
    const guint8 *body = trex.data + trex.header;
    Track *track;

    if (trex.type != FOURCC ('t', 'r', 'e', 'x') || !body_has (&trex, 24))
      continue;
    track = find_track (split, be32 (body + 4));
    if (track == NULL)
      continue;
    track->default_duration = be32 (body + 12);
    track->default_flags = be32 (body + 20);
  }
}

/* The sample rates Opus knows (RFC 7845's input sample rates). */
static gboolean
is_opus_rate (guint32 rate)
{
  return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000
      || rate == 48000;
}

static void
swap_bytes (guint8 *p, gsize len)
{
  for (gsize i = 0; i < len / 2; i++) {
    guint8 t = p[i];

    p[i] = p[len - 1 - i];
    p[len - 1 - i] = t;
  }
}

/* GStreamer 1.22's mp4mux writes the Opus track's dOps box with its
 * fields little-endian, as Ogg's OpusHead has them, where Opus in ISOBMFF
 * (the "Encapsulation of Opus in ISO Base Media File Format", 4.3.2) says
 * big-endian; Chromium refuses such a stream ("Opus AudioSampleEntry sample
 * rate mismatches OpusSpecificBox"). Where InputSampleRate read big-endian
 * is no Opus rate and read little-endian is one, PreSkip, InputSampleRate
 * and OutputGain are turned around in place in @moov (a whole moov box),
 * so a muxer that writes them right is left alone. */
static void
fix_opus_header (guint8 *moov, gsize size)
{
  const guint32 path[] = { FOURCC ('t', 'r', 'a', 'k'), FOURCC ('m', 'd', 'i', 'a'),
    FOURCC ('m', 'i', 'n', 'f'), FOURCC ('s', 't', 'b', 'l'),
    FOURCC ('s', 't', 's', 'd') };
  Box top, trak, box, inner_box, entry, dops;
  gsize offset = 0, children;
  guint8 *p;

  if (read_box_header (moov, size, &top) != 1 || top.size != size)
    return;
  while (next_child (&top, &offset, &trak)) {
    if (trak.type != path[0])
      continue;
    box = trak;
    for (guint i = 1; i < G_N_ELEMENTS (path); i++) {
      if (!find_child (&box, path[i], &inner_box))
        break;
      box = inner_box;
    }
    /* stsd: version, flags and an entry count before its entries; an
     * AudioSampleEntry has 28 bytes before its own boxes. */
    if (box.type != path[G_N_ELEMENTS (path) - 1])
      continue;
    children = 8;
    while (next_child (&box, &children, &entry)) {
      gsize inner = 28;

      if (entry.type != FOURCC ('O', 'p', 'u', 's'))
        continue;
      while (next_child (&entry, &inner, &dops)) {
        if (dops.type != FOURCC ('d', 'O', 'p', 's')
            || !body_has (&dops, 10))
          continue;
        /* Version, OutputChannelCount, PreSkip, InputSampleRate,
         * OutputGain. */
        p = moov + (dops.data - (const guint8 *) moov) + dops.header;
        if (is_opus_rate (be32 (p + 4)) || !is_opus_rate (
                (guint32) p[4] | (guint32) p[5] << 8 | (guint32) p[6] << 16
                | (guint32) p[7] << 24))
          continue;
        swap_bytes (p + 2, 2);
        swap_bytes (p + 4, 4);
        swap_bytes (p + 8, 2);
      }
    }
  }
}

typedef struct {
  gboolean video;
  gboolean have_time;
  guint64 decode_time;          /* tfdt */
  gboolean have_first_flags;
  guint32 first_flags;
  guint64 ticks;                /* the samples' durations */
  guint32 timescale;
} Fragment;

/* The video fragment of a moof, if it has one. FALSE if a box in it does
 * not hold what its flags say. */
static gboolean
read_traf (KkMp4Split *split, const Box *traf, Fragment *fragment)
{
  Box tfhd, child;
  const guint8 *body;
  guint32 flags, default_duration, default_flags;
  gsize offset = 0, at;
  Track *track;

  if (!find_child (traf, FOURCC ('t', 'f', 'h', 'd'), &tfhd)
      || !body_has (&tfhd, 8))
    return FALSE;
  body = tfhd.data + tfhd.header;
  flags = be32 (body) & 0xffffff;
  track = find_track (split, be32 (body + 4));
  if (track == NULL || !track->video)
    return TRUE;
  default_duration = track->default_duration;
  default_flags = track->default_flags;
  at = 8;
  if (flags & 0x01)
    at += 8;                    /* base_data_offset */
  if (flags & 0x02)
    at += 4;                    /* sample_description_index */
  if (flags & 0x08) {
    if (!body_has (&tfhd, at + 4))
      return FALSE;
    default_duration = be32 (body + at);
    at += 4;
  }
  if (flags & 0x10)
    at += 4;                    /* default_sample_size */
  if (flags & 0x20) {
    if (!body_has (&tfhd, at + 4))
      return FALSE;
    default_flags = be32 (body + at);
  }
  fragment->video = TRUE;
  fragment->timescale = track->timescale;

  while (next_child (traf, &offset, &child)) {
    body = child.data + child.header;
    if (child.type == FOURCC ('t', 'f', 'd', 't')) {
      if (!body_has (&child, body[0] == 1 ? 12 : 8))
        return FALSE;
      fragment->decode_time = body[0] == 1 ? be64 (body + 4) : be32 (body + 4);
      fragment->have_time = TRUE;
    } else if (child.type == FOURCC ('t', 'r', 'u', 'n')) {
      guint32 count, entry = 0;
      gsize room;

      if (!body_has (&child, 8))
        return FALSE;
      flags = be32 (body) & 0xffffff;
      count = be32 (body + 4);
      at = 8;
      if (flags & 0x001)
        at += 4;                /* data_offset */
      if (flags & 0x004) {
        if (!body_has (&child, at + 4))
          return FALSE;
        if (!fragment->have_first_flags) {
          fragment->first_flags = be32 (body + at);
          fragment->have_first_flags = TRUE;
        }
        at += 4;
      }
      for (guint32 bit = 0x100; bit <= 0x800; bit <<= 1)
        if (flags & bit)
          entry += 4;
      room = child.size - child.header;
      if (at > room || (entry > 0 && count > (room - at) / entry))
        return FALSE;
      for (guint32 i = 0; i < count; i++) {
        const guint8 *sample = body + at + (gsize) i * entry;
        gsize field = 0;

        if (flags & 0x100) {
          fragment->ticks += be32 (sample);
          field += 4;
        } else {
          fragment->ticks += default_duration;
        }
        if (flags & 0x200)
          field += 4;
        if (i == 0 && !fragment->have_first_flags) {
          fragment->first_flags = (flags & 0x400) ? be32 (sample + field)
              : default_flags;
          fragment->have_first_flags = TRUE;
        }
      }
    }
  }
  return TRUE;
}

KkMp4Split *
kk_mp4_split_new (gsize max_element, gint64 target_us,
    const KkMp4SplitCallbacks *callbacks, gpointer user_data)
{
  KkMp4Split *split = g_new0 (KkMp4Split, 1);

  kk_split_input_init (&split->input, max_element);
  split->target_us = target_us;
  split->callbacks = *callbacks;
  split->user_data = user_data;
  return split;
}

void
kk_mp4_split_free (KkMp4Split *split)
{
  if (split == NULL)
    return;
  kk_split_input_clear (&split->input);
  if (split->segment != NULL)
    g_byte_array_unref (split->segment);
  g_free (split);
}

static gboolean
fail (KkMp4Split *split, GError **error, KkMp4SplitError code,
    const char *message)
{
  return kk_split_input_fail (&split->input, error, KK_MP4_SPLIT_ERROR, code,
      message);
}

static void
emit_segment (KkMp4Split *split)
{
  g_autoptr (GBytes) bytes = NULL;

  if (split->segment == NULL)
    return;
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&split->segment));
  split->callbacks.segment (bytes, &split->info, split->user_data);
}

/* Whether the segment under way ends before a video fragment: at a
 * keyframe (@keyframe), or when its video has lasted the target. A tenth of the
 * target is forgiven, so that fragments whose durations round down a
 * little (a frame rate that does not divide the fragment duration) do
 * not make segments a fragment longer than meant. */
static gboolean
ends_before (KkMp4Split *split, gboolean keyframe)
{
  if (split->segment == NULL)
    return keyframe;
  return keyframe || split->info.duration_us
      >= split->target_us - split->target_us / 10;
}

/* A moof: a keyframe's, or a video one after the target, starts a
 * segment; the others join the current. */
static gboolean
take_moof (KkMp4Split *split, const Box *moof, GError **error)
{
  Fragment video = { 0 };
  Box traf;
  gsize offset = 0;

  while (next_child (moof, &offset, &traf)) {
    Fragment fragment = { 0 };

    if (traf.type != FOURCC ('t', 'r', 'a', 'f'))
      continue;
    if (!read_traf (split, &traf, &fragment))
      return fail (split, error, KK_MP4_SPLIT_ERROR_INVALID,
          "a track fragment that does not hold what it says");
    if (fragment.video && !video.video)
      video = fragment;
  }
  if (video.video && video.have_time && video.have_first_flags
      && ends_before (split, !(video.first_flags & SAMPLE_IS_NON_SYNC))) {
    emit_segment (split);
    split->segment = g_byte_array_new ();
    split->video_ticks = 0;
    split->info.start_us = (gint64) (video.decode_time * G_USEC_PER_SEC
        / video.timescale);
    split->info.duration_us = 0;
    split->info.keyframe = !(video.first_flags & SAMPLE_IS_NON_SYNC);
  }
  if (split->segment != NULL && video.video) {
    split->video_ticks += video.ticks;
    split->info.duration_us = (gint64) (split->video_ticks * G_USEC_PER_SEC
        / video.timescale);
  }
  return TRUE;
}

static gboolean
parse (KkMp4Split *split, GError **error)
{
  for (;;) {
    const guint8 *data = split->input.pending->data;
    gsize avail = split->input.pending->len;
    Box box;
    int r = read_box_header (data, avail, &box);

    if (r == 0)
      return TRUE;
    if (r < 0)
      return fail (split, error, KK_MP4_SPLIT_ERROR_INVALID,
          "an invalid box header");
    if (box.size > split->input.max_element)
      return fail (split, error, KK_MP4_SPLIT_ERROR_TOO_BIG,
          "a box over the bound");
    if (avail < box.size)
      return TRUE;

    if (!split->media && box.type == FOURCC ('m', 'o', 'o', 'f')) {
      g_autoptr (GBytes) init = NULL;

      if (split->n_tracks == 0)
        return fail (split, error, KK_MP4_SPLIT_ERROR_INVALID,
            "a movie fragment before any track");
      split->media = TRUE;
      init = kk_split_input_steal_init (&split->input);
      split->callbacks.init (init, split->user_data);
    }
    if (!split->media) {
      GByteArray *init = split->input.init;
      gsize at = init->len;

      g_byte_array_append (init, data, box.size);
      if (box.type == FOURCC ('m', 'o', 'o', 'v')) {
        read_moov (split, &box);
        fix_opus_header (init->data + at, box.size);
      }
    } else {
      if (box.type == FOURCC ('m', 'o', 'o', 'v')
          || box.type == FOURCC ('f', 't', 'y', 'p'))
        return fail (split, error, KK_MP4_SPLIT_ERROR_INVALID,
            "a second movie header in a live stream");
      if (box.type == FOURCC ('m', 'o', 'o', 'f')
          && !take_moof (split, &box, error))
        return FALSE;
      /* Fragments before the first keyframe, and the index a muxer
       * writes at the end (mfra), are no part of any segment. */
      if (split->segment != NULL && box.type != FOURCC ('m', 'f', 'r', 'a')) {
        if (split->segment->len + box.size > split->input.max_element)
          return fail (split, error, KK_MP4_SPLIT_ERROR_TOO_BIG,
              "a segment over the bound");
        g_byte_array_append (split->segment, data, box.size);
      }
    }
    g_byte_array_remove_range (split->input.pending, 0, box.size);
  }
}

gboolean
kk_mp4_split_push (KkMp4Split *split, const guint8 *data, gsize len,
    GError **error)
{
  return kk_split_input_take (&split->input, data, len, KK_MP4_SPLIT_ERROR,
      KK_MP4_SPLIT_ERROR_INVALID, error) && parse (split, error);
}

gboolean
kk_mp4_split_finish (KkMp4Split *split, GError **error)
{
  if (!kk_split_input_check (&split->input, KK_MP4_SPLIT_ERROR,
          KK_MP4_SPLIT_ERROR_INVALID, error))
    return FALSE;
  if (split->input.pending->len != 0)
    return fail (split, error, KK_MP4_SPLIT_ERROR_INVALID,
        "the stream ends inside a box");
  emit_segment (split);
  return TRUE;
}
