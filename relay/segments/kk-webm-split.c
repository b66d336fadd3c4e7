/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-webm-split: cuts a live WebM stream into MSE segments; see
 * kk-webm-split.h.
 *
 * EBML in brief (RFC 8794): every element is an ID (a variable-length
 * integer of 1 to 4 bytes, its length marker kept as part of the ID), a
 * size (a variable-length integer of 1 to 8 bytes, the marker stripped;
 * all value bits set means "unknown") and that many bytes of body. The
 * bytes arrive in any pieces, so everything not yet handed out waits in
 * the input's pending bytes (kk-split-input.h), and parsing resumes
 * where it stopped.
 */
#include "kk-webm-split.h"

#include <string.h>

#include "kk-split-input.h"

G_DEFINE_QUARK (kk-webm-split-error-quark, kk_webm_split_error)

#define ID_EBML 0x1A45DFA3u
#define ID_SEGMENT 0x18538067u
#define ID_CLUSTER 0x1F43B675u
#define ID_TIMECODE 0xE7u
#define ID_SIMPLE_BLOCK 0xA3u
#define ID_BLOCK_GROUP 0xA0u
#define ID_BLOCK 0xA1u
#define ID_REFERENCE_BLOCK 0xFBu
#define ID_TRACKS 0x1654AE6Bu
#define ID_TRACK_ENTRY 0xAEu
#define ID_TRACK_NUMBER 0xD7u
#define ID_TRACK_TYPE 0x83u
#define TRACK_TYPE_VIDEO 1

/* Elements before the first Cluster (Info, Tracks...) are small; a larger
 * one is not what a muxer of two tracks writes. */
#define MAX_HEADER_ELEMENT (64 * 1024)

typedef enum {
  STATE_EBML,         /* expecting the EBML header */
  STATE_SEGMENT,      /* expecting the Segment's header */
  STATE_TOP,          /* at a Segment child */
  STATE_CLUSTER,      /* inside a Cluster of unknown size */
} SplitState;

struct _KkWebmSplit {
  KkSplitInput input;
  KkWebmSplitCallbacks callbacks;
  gpointer user_data;
  SplitState state;
  gboolean init_done;
  /* STATE_CLUSTER: how much of the pending bytes the Cluster's complete children
   * cover, where its size field is and how long, and what it says. */
  gsize cluster_len;
  guint size_len;
  gboolean seen_video;       /* the Cluster's first video block was read */
  gint16 last_video;         /* the newest video block's relative time */
  gint16 frame;              /* the least step between video blocks */
  guint64 video_track;       /* from Tracks; 0: none */
  KkWebmClusterInfo info;
};

typedef struct {
  guint32 id;
  guint64 size;
  gboolean unknown;
  gsize header_len;         /* ID and size */
  guint size_len;
} Element;

/* A variable-length integer at @data (at most @avail bytes). Returns its
 * length, 0 when more bytes are needed, -1 when it is invalid. */
static int
read_vint (const guint8 *data, gsize avail, guint max_len, gboolean keep_marker,
    guint64 *value, gboolean *all_ones)
{
  guint len = 1;
  guint64 v;
  gboolean ones;

  if (avail == 0)
    return 0;
  while (len <= 8 && !(data[0] & (0x80 >> (len - 1))))
    len++;
  if (len > max_len)
    return -1;
  if (avail < len)
    return 0;
  v = keep_marker ? data[0] : (data[0] & ((0x80 >> (len - 1)) - 1));
  ones = (data[0] & ((0x80 >> (len - 1)) - 1)) == (guint) ((0x80 >> (len - 1)) - 1);
  for (guint i = 1; i < len; i++) {
    v = (v << 8) | data[i];
    ones = ones && data[i] == 0xff;
  }
  *value = v;
  if (all_ones != NULL)
    *all_ones = ones;
  return len;
}

/* Returns 1 with @element read, 0 when more bytes are needed, -1 when the
 * header is invalid. */
static int
read_element (const guint8 *data, gsize avail, Element *element)
{
  guint64 id;
  int id_len, size_len;

  id_len = read_vint (data, avail, 4, TRUE, &id, NULL);
  if (id_len <= 0)
    return id_len;
  size_len = read_vint (data + id_len, avail - id_len, 8, FALSE,
      &element->size, &element->unknown);
  if (size_len <= 0)
    return size_len;
  element->id = (guint32) id;
  element->header_len = id_len + size_len;
  element->size_len = size_len;
  return 1;
}

/* The IDs that end a Cluster of unknown size: its siblings (RFC 9559
 * top-level elements), and a new stream's EBML header. */
static gboolean
is_top_level (guint32 id)
{
  switch (id) {
    case 0x114D9B74u:   /* SeekHead */
    case 0x1549A966u:   /* Info */
    case 0x1654AE6Bu:   /* Tracks */
    case ID_CLUSTER:
    case 0x1C53BB6Bu:   /* Cues */
    case 0x1941A469u:   /* Attachments */
    case 0x1043A770u:   /* Chapters */
    case 0x1254C367u:   /* Tags */
    case ID_EBML:
    case ID_SEGMENT:
      return TRUE;
    default:
      return FALSE;
  }
}

KkWebmSplit *
kk_webm_split_new (gsize max_element, const KkWebmSplitCallbacks *callbacks,
    gpointer user_data)
{
  KkWebmSplit *split = g_new0 (KkWebmSplit, 1);

  kk_split_input_init (&split->input, max_element);
  split->callbacks = *callbacks;
  split->user_data = user_data;
  return split;
}

void
kk_webm_split_free (KkWebmSplit *split)
{
  if (split == NULL)
    return;
  kk_split_input_clear (&split->input);
  g_free (split);
}

static gboolean
fail (KkWebmSplit *split, GError **error, KkWebmSplitError code,
    const char *message)
{
  return kk_split_input_fail (&split->input, error, KK_WEBM_SPLIT_ERROR, code,
      message);
}

static void
consume (KkWebmSplit *split, gsize len)
{
  g_byte_array_remove_range (split->input.pending, 0, len);
}

static void
emit_init (KkWebmSplit *split)
{
  g_autoptr (GBytes) bytes = NULL;

  if (split->init_done)
    return;
  split->init_done = TRUE;
  bytes = kk_split_input_steal_init (&split->input);
  split->callbacks.init (bytes, split->user_data);
}

/* Reads an unsigned integer element's body. */
static guint64
read_uint (const guint8 *body, guint64 size)
{
  guint64 v = 0;

  for (guint64 i = 0; i < size && i < 8; i++)
    v = (v << 8) | body[i];
  return v;
}

/* Calls @func for each complete child of the element body @data; stops
 * at the first child that does not fit. */
static void
foreach_child (const guint8 *data, gsize len,
    void (*func) (const Element *child, const guint8 *body, gpointer data),
    gpointer user_data)
{
  gsize offset = 0;
  Element child;

  while (offset < len
      && read_element (data + offset, len - offset, &child) == 1
      && !child.unknown
      && child.size <= len - offset - child.header_len) {
    func (&child, data + offset + child.header_len, user_data);
    offset += child.header_len + child.size;
  }
}

typedef struct {
  guint64 number;
  guint64 type;
} TrackEntry;

static void
on_track_field (const Element *child, const guint8 *body, gpointer data)
{
  TrackEntry *entry = data;

  if (child->id == ID_TRACK_NUMBER)
    entry->number = read_uint (body, child->size);
  else if (child->id == ID_TRACK_TYPE)
    entry->type = read_uint (body, child->size);
}

static void
on_track_entry (const Element *child, const guint8 *body, gpointer data)
{
  KkWebmSplit *split = data;
  TrackEntry entry = { 0, 0 };

  if (child->id != ID_TRACK_ENTRY)
    return;
  foreach_child (body, child->size, on_track_field, &entry);
  if (entry.type == TRACK_TYPE_VIDEO && split->video_track == 0)
    split->video_track = entry.number;
}

/* A Block's or SimpleBlock's header: track number, 16-bit timecode
 * relative to the Cluster's, flags. Returns FALSE if it is cut short. */
static gboolean
read_block_header (const guint8 *body, guint64 size, guint64 *track,
    gint16 *relative, guint8 *flags)
{
  int len = read_vint (body, size, 8, FALSE, track, NULL);

  if (len <= 0 || size < (guint64) len + 3)
    return FALSE;
  *relative = (gint16) ((body[len] << 8) | body[len + 1]);
  *flags = body[len + 2];
  return TRUE;
}

typedef struct {
  gboolean have_block;
  guint64 track;
  gint16 relative;
  gboolean referenced;      /* it has a ReferenceBlock: not a keyframe */
} BlockGroup;

static void
on_block_group_child (const Element *child, const guint8 *body, gpointer data)
{
  BlockGroup *group = data;
  guint8 flags;

  if (child->id == ID_BLOCK)
    group->have_block = read_block_header (body, child->size, &group->track,
        &group->relative, &flags);
  else if (child->id == ID_REFERENCE_BLOCK)
    group->referenced = TRUE;
}

/* A block of the Cluster: the first of the video track says whether a
 * player can start with it; the video's last, and the step between its
 * frames, how long the Cluster lasts. */
static void
note_block (KkWebmSplit *split, guint64 track, gint16 relative,
    gboolean keyframe)
{
  if (track != split->video_track)
    return;
  if (!split->seen_video) {
    split->seen_video = TRUE;
    split->info.keyframe = keyframe;
  } else if (relative > split->last_video && (split->frame == 0
          || relative - split->last_video < split->frame)) {
    split->frame = relative - split->last_video;
  }
  split->last_video = relative;
  if (relative >= 0)
    split->info.duration = (guint64) relative + split->frame;
}

/* A child of the Cluster: its Timecode, or a block (a SimpleBlock is a
 * keyframe by its flags, bit 0x80; a BlockGroup's Block when it refers to
 * no other block). */
static void
note_child (KkWebmSplit *split, const Element *child, const guint8 *body)
{
  guint64 track;
  gint16 relative;
  guint8 flags;

  if (child->id == ID_TIMECODE && child->size <= 8) {
    split->info.timecode = read_uint (body, child->size);
  } else if (child->id == ID_SIMPLE_BLOCK) {
    if (read_block_header (body, child->size, &track, &relative, &flags))
      note_block (split, track, relative, (flags & 0x80) != 0);
  } else if (child->id == ID_BLOCK_GROUP) {
    BlockGroup group = { FALSE, 0, 0, FALSE };

    foreach_child (body, child->size, on_block_group_child, &group);
    if (group.have_block)
      note_block (split, group.track, group.relative, !group.referenced);
  }
}

/* Whether a Cluster of @len bytes can say its size in the field the
 * muxer left for it (the all-ones value is reserved for "unknown"). */
static gboolean
size_fits (KkWebmSplit *split, gsize len)
{
  guint64 body = len - 4 - split->size_len;

  return split->size_len == 8 || body < (G_GUINT64_CONSTANT (1)
      << (7 * split->size_len)) - 1;
}

static void
emit_cluster (KkWebmSplit *split, gsize len)
{
  g_autoptr (GBytes) bytes = NULL;
  guint8 *data;
  guint64 body = len - 4 - split->size_len;

  emit_init (split);
  data = g_memdup2 (split->input.pending->data, len);
  /* The size, in as many bytes as the unknown one took: the marker bit of
   * that length, then the value. */
  for (guint i = 0; i < split->size_len; i++)
    data[4 + split->size_len - 1 - i] = (body >> (8 * i)) & 0xff;
  data[4] |= 0x80 >> (split->size_len - 1);
  bytes = g_bytes_new_take (data, len);
  consume (split, len);
  split->callbacks.cluster (bytes, &split->info, split->user_data);
}

static void
start_cluster (KkWebmSplit *split, const Element *element)
{
  split->cluster_len = element->header_len;
  split->size_len = element->size_len;
  split->seen_video = FALSE;
  split->last_video = 0;
  split->frame = 0;
  memset (&split->info, 0, sizeof split->info);
}

/* Parses the pending bytes; returns FALSE on bad input. */
static gboolean
parse (KkWebmSplit *split, GError **error)
{
  for (;;) {
    const guint8 *data = split->input.pending->data;
    gsize avail = split->input.pending->len;
    Element element;
    int r;

    switch (split->state) {
      case STATE_EBML:
      case STATE_SEGMENT:
        r = read_element (data, avail, &element);
        if (r == 0)
          return TRUE;
        if (r < 0 || element.id != (split->state == STATE_EBML ? ID_EBML
                : ID_SEGMENT))
          return fail (split, error, KK_WEBM_SPLIT_ERROR_INVALID,
              split->state == STATE_EBML ? "no EBML header"
              : "no Segment after the EBML header");
        if (split->state == STATE_EBML) {
          if (element.unknown || element.size > MAX_HEADER_ELEMENT)
            return fail (split, error, KK_WEBM_SPLIT_ERROR_TOO_BIG,
                "the EBML header has no usable size");
          if (avail < element.header_len + element.size)
            return TRUE;
          g_byte_array_append (split->input.init, data,
              element.header_len + element.size);
          consume (split, element.header_len + element.size);
          split->state = STATE_SEGMENT;
        } else {
          /* Its children follow; its size (unknown when live) is kept. */
          g_byte_array_append (split->input.init, data, element.header_len);
          consume (split, element.header_len);
          split->state = STATE_TOP;
        }
        break;

      case STATE_TOP:
        r = read_element (data, avail, &element);
        if (r == 0)
          return TRUE;
        if (r < 0 || element.id == ID_EBML || element.id == ID_SEGMENT)
          return fail (split, error, KK_WEBM_SPLIT_ERROR_INVALID,
              "an invalid element in the Segment");
        if (element.id == ID_CLUSTER) {
          start_cluster (split, &element);
          split->state = STATE_CLUSTER;
          /* A known size is written back the same way as an unknown one
           * is: the Cluster still ends after its last child. */
          break;
        }
        if (element.unknown || element.size > MAX_HEADER_ELEMENT)
          return fail (split, error, KK_WEBM_SPLIT_ERROR_TOO_BIG,
              "a top-level element has no usable size");
        if (avail < element.header_len + element.size)
          return TRUE;
        /* Info, Tracks and the like belong to the initialization
         * segment; after the first Cluster (Cues, Tags at the end of a
         * stream) a player needs none of them. */
        if (!split->init_done) {
          if (element.id == ID_TRACKS)
            foreach_child (data + element.header_len, element.size,
                on_track_entry, split);
          g_byte_array_append (split->input.init, data,
              element.header_len + element.size);
        }
        consume (split, element.header_len + element.size);
        break;

      case STATE_CLUSTER:
        r = read_element (data + split->cluster_len,
            avail - split->cluster_len, &element);
        if (r == 0)
          return TRUE;
        if (r < 0)
          return fail (split, error, KK_WEBM_SPLIT_ERROR_INVALID,
              "an invalid element in a Cluster");
        if (is_top_level (element.id)) {
          if (!size_fits (split, split->cluster_len))
            return fail (split, error, KK_WEBM_SPLIT_ERROR_TOO_BIG,
                "a Cluster too large for its size field");
          emit_cluster (split, split->cluster_len);
          split->state = STATE_TOP;
          break;
        }
        if (element.unknown)
          return fail (split, error, KK_WEBM_SPLIT_ERROR_INVALID,
              "a Cluster's child has an unknown size");
        if (element.size > split->input.max_element
            || split->cluster_len + element.header_len + element.size
            > split->input.max_element)
          return fail (split, error, KK_WEBM_SPLIT_ERROR_TOO_BIG,
              "a Cluster over the bound");
        if (avail - split->cluster_len < element.header_len + element.size)
          return TRUE;
        note_child (split, &element,
            data + split->cluster_len + element.header_len);
        split->cluster_len += element.header_len + element.size;
        break;
    }
  }
}

gboolean
kk_webm_split_push (KkWebmSplit *split, const guint8 *data, gsize len,
    GError **error)
{
  return kk_split_input_take (&split->input, data, len, KK_WEBM_SPLIT_ERROR,
      KK_WEBM_SPLIT_ERROR_INVALID, error) && parse (split, error);
}

gboolean
kk_webm_split_finish (KkWebmSplit *split, GError **error)
{
  if (!kk_split_input_check (&split->input, KK_WEBM_SPLIT_ERROR,
          KK_WEBM_SPLIT_ERROR_INVALID, error))
    return FALSE;
  if (split->state == STATE_CLUSTER) {
    if (split->input.pending->len != split->cluster_len)
      return fail (split, error, KK_WEBM_SPLIT_ERROR_INVALID,
          "the stream ends inside a Cluster's child");
    if (!size_fits (split, split->cluster_len))
      return fail (split, error, KK_WEBM_SPLIT_ERROR_TOO_BIG,
          "a Cluster too large for its size field");
    emit_cluster (split, split->cluster_len);
    split->state = STATE_TOP;
  }
  return TRUE;
}
