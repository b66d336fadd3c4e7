/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-check-segments: the network check's HTTPS path. The check page
 * measures the lecture over plain HTTP(S) segments, the last resort of a
 * workplace that lets nothing else out, with the check's own test
 * pattern (broadcast/kk-network-check.h): no course, no token, no
 * attendance.
 *
 * Each checker is a random id, given out by kk_check_segments_start ()
 * and good for KK_NETWORK_CHECK_SECONDS, like a WebRTC checker's stream;
 * at most KK_NETWORK_CHECK_MAX_VIEWERS run at once. Each holds the test
 * pattern running; while any runs, one segmenter (kk-segmenter, the same
 * cutting as a lecture's) is tapped onto the pattern's feed. When the
 * last checker's time is up both stop, so an idle relay spends nothing.
 *
 * Main context only.
 */
#pragma once

#include <glib.h>
#include "kk-network-check.h"
#include "kk-segmenter.h"

G_BEGIN_DECLS

typedef struct _KkCheckSegments KkCheckSegments;

/**
 * kk_check_segments_new:
 * @pipelines_dir: where segments-<codec>.pipeline files are
 * @check: (transfer none): must outlive the result
 *
 * Returns: (transfer full): with no checker and no segmenter.
 */
KkCheckSegments *kk_check_segments_new (const char *pipelines_dir,
    KkNetworkCheck *check);
/* Ends every checker and the segmenter, before @check stops. */
void kk_check_segments_stop (KkCheckSegments *segments);
void kk_check_segments_free (KkCheckSegments *segments);

/**
 * kk_check_segments_start:
 *
 * A new checker: starts the test pattern and the segmenter if they are
 * not running.
 *
 * Returns: (transfer full): the checker's id (32 hex digits), or NULL
 * with @error (%KK_NETWORK_CHECK_ERROR_BUSY when every slot is taken,
 * %KK_NETWORK_CHECK_ERROR_SOURCE when the pattern would not start).
 */
char *kk_check_segments_start (KkCheckSegments *segments, GError **error);

/* Returns: (transfer none) (nullable): the segmenter checker @id reads,
 * or NULL when there is no such checker or its time is up. Valid until
 * the next turn of the main loop at least. */
KkSegmenter *kk_check_segments_lookup (KkCheckSegments *segments,
    const char *id);

/* Checkers whose time is not up. */
guint kk_check_segments_count (KkCheckSegments *segments);

G_END_DECLS
