/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-webm-split: cuts a live WebM stream (what webmmux writes with
 * streamable=true) into the pieces Media Source Extensions take in turn:
 * one initialization segment (the EBML header, the Segment's header and
 * every top-level element before the first Cluster: Info, Tracks...) and
 * one media segment per Cluster.
 *
 * A streaming muxer cannot go back to write sizes, so the Segment and
 * each Cluster have the "unknown" size (all ones). A Cluster of unknown
 * size ends where the next top-level element starts; only then is it
 * handed out, with its size written in the place of the unknown one (the
 * same number of bytes), so each media segment is a complete element
 * that a browser can append, and a proxy can pass, on its own.
 *
 * Pure: bytes in, pieces out through a callback, on the caller's thread.
 * Bad input (not WebM, an element larger than the bound, a size that does
 * not fit) is a GError, after which the splitter takes nothing more.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_WEBM_SPLIT_ERROR (kk_webm_split_error_quark ())
GQuark kk_webm_split_error_quark (void);

typedef enum {
  KK_WEBM_SPLIT_ERROR_INVALID,    /* not the WebM a live muxer writes */
  KK_WEBM_SPLIT_ERROR_TOO_BIG,    /* an element over the bound */
} KkWebmSplitError;

typedef struct {
  guint64 timecode;         /* the Cluster's Timecode (in TimecodeScale units) */
  gboolean keyframe;        /* the video track's first block in it is a
                             * keyframe (FALSE without video) */
  guint64 duration;         /* its video: to its last frame's timecode,
                             * relative to it, plus one frame (in
                             * TimecodeScale units); 0 without video */
} KkWebmClusterInfo;

typedef struct {
  /* The initialization segment, once, before the first cluster. */
  void (*init) (GBytes *bytes, gpointer user_data);
  /* Each complete Cluster, its size known. */
  void (*cluster) (GBytes *bytes, const KkWebmClusterInfo *info,
      gpointer user_data);
} KkWebmSplitCallbacks;

typedef struct _KkWebmSplit KkWebmSplit;

/* @max_element: the largest element (a Cluster, with everything in it)
 * accepted.
 * Returns: (transfer full) */
KkWebmSplit *kk_webm_split_new (gsize max_element,
    const KkWebmSplitCallbacks *callbacks, gpointer user_data);
void kk_webm_split_free (KkWebmSplit *split);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkWebmSplit, kk_webm_split_free)

/* Feeds the next @len bytes of the stream; callbacks run from here.
 * Returns: FALSE with @error on bad input (and for every call after). */
gboolean kk_webm_split_push (KkWebmSplit *split, const guint8 *data,
    gsize len, GError **error);
/* The stream ended: a Cluster still open is complete now. */
gboolean kk_webm_split_finish (KkWebmSplit *split, GError **error);

G_END_DECLS
