/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-segments: the HTTPS segments of every lecture, made only while
 * someone watches that way, and the people who watch them.
 *
 * A lecture's segmenter (kk-segmenter) is started by the first request
 * for its playlist and tapped onto the lecture's feed; it is stopped (the
 * tap removed) when nobody has asked for its playlist or a segment for
 * KK_SEGMENTS_IDLE_S. A segmenter whose pipeline failed is replaced at
 * the next request.
 *
 * Attendance. Each segment a participant's token fetches is viewing,
 * and only the segments fetched count, each once: a run of consecutive
 * segments (seq after seq, of one segmenter) makes one connection, which
 * the lecture's own viewer-connected and viewer-left signals announce
 * (kk_lecture_announce_viewer_connected () and _left ()), exactly as a
 * WHEP viewer's, so the attendance log, the room's audience
 * and everything else that follows a lecture's viewers count it with no
 * second path. Its resource id starts with KK_SEGMENTS_RESOURCE_PREFIX.
 * It starts when its first segment was fetched and lasts the sum of its
 * segments' durations; a segment fetched again adds nothing, and a
 * skipped segment ends the run (reason "https-gap") and starts another,
 * so a page that fetches one segment in nine counts a ninth of the time.
 * A party that fetches nothing for KK_SEGMENTS_VIEWER_GAP_S has left
 * ("https-stopped"). What was fetched counts, not how long a page stayed
 * open.
 *
 * Start points. A player that starts (or starts over after a gap) needs
 * a segment that starts on a keyframe, fresh enough to play close to
 * live; kk_segments_want_start_point () passes its need on to the
 * segmenter (which asks the publisher for a keyframe only when the
 * newest is too old), at most once every KK_SEGMENTS_START_INTERVAL_S per
 * participant, so that no page, however it misbehaves, makes the
 * publisher send keyframes to every WebRTC viewer more often than that.
 *
 * Main context only.
 */
#pragma once

#include <glib.h>
#include "kk-lecture.h"
#include "kk-metrics.h"
#include "kk-segmenter.h"

G_BEGIN_DECLS

/* A segmenter nobody asked anything of for this long is stopped. */
#define KK_SEGMENTS_IDLE_S 30
/* A party that fetched no segment for this long has stopped watching. */
#define KK_SEGMENTS_VIEWER_GAP_S 10
/* A participant's need of a start point is passed on at most this often. */
#define KK_SEGMENTS_START_INTERVAL_S 2
/* The resource ids of HTTPS viewers. */
#define KK_SEGMENTS_RESOURCE_PREFIX "https-"

typedef struct _KkSegments KkSegments;

/* @pipelines_dir: where segments-<codec>.pipeline files are.
 * Returns: (transfer full) */
KkSegments *kk_segments_new (const char *pipelines_dir);
/* Ends every HTTPS viewer (viewer-left "closed") and every segmenter.
 * Call while the attendance log still takes events. Idempotent. */
void kk_segments_shutdown (KkSegments *segments);
void kk_segments_free (KkSegments *segments);

/**
 * kk_segments_want:
 * @lecture: (transfer none): a reference is kept while its segmenter runs
 *
 * Someone wants @lecture's segments now: starts its segmenter if none
 * runs (or the last one failed) and keeps it running.
 *
 * Returns: (transfer none): the segmenter, valid until the next turn of
 *   the main loop at least.
 */
KkSegmenter *kk_segments_want (KkSegments *segments, KkLecture *lecture);

/* Returns: (transfer none) (nullable): @lecture's running segmenter, if
 * any; does not start one. */
KkSegmenter *kk_segments_peek (KkSegments *segments, KkLecture *lecture);

/**
 * kk_segments_note_fetch:
 * @party_id: the token that fetched @segment
 *
 * @party_id fetched @segment of @lecture's segmenter: counted as viewing
 * (see above).
 */
void kk_segments_note_fetch (KkSegments *segments, KkLecture *lecture,
    const char *party_id, const KkSegment *segment);

/**
 * kk_segments_want_start_point:
 * @party_id: the token whose player needs a start point
 *
 * @party_id's player needs a start point in @lecture's segments (which
 * it has asked for: kk_segments_want ()). Passed on to the segmenter
 * unless @party_id's last need was less than KK_SEGMENTS_START_INTERVAL_S
 * ago.
 *
 * Returns: whether a keyframe was asked of the publisher for it (FALSE
 * when none was needed, for the limit above, and when the feed folded
 * the request into one it made less than its interval ago).
 */
gboolean kk_segments_want_start_point (KkSegments *segments,
    KkLecture *lecture, const char *party_id);

/* HTTPS viewers watching now. */
guint kk_segments_count_viewers (KkSegments *segments);

/* A KkMetricsCollectFunc; @user_data is the KkSegments:
 * kringkast_viewers{transport="https"} (beside the fan-out's udp and
 * tcp), kringkast_https_segmenters (rooms making segments now) and
 * kringkast_https_segments_served_total. */
void kk_segments_collect_metrics (KkMetrics *metrics, gpointer user_data);

G_END_DECLS
