/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-ingest: where a lecture's media comes from. Either a WHIP publisher,
 * terminated by one webrtcbin, or a pipeline description from pipelines/
 * (the test-pattern lecture, an RTSP camera). Both end in appsinks whose
 * RTP packets go to the lecture's feed, and both answer keyframe requests
 * by sending a force-key-unit event upstream (webrtcbin turns it into a
 * PLI to the publisher, an encoder into a keyframe).
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include "kk-fanout.h"

G_BEGIN_DECLS

#define KK_INGEST_ERROR (kk_ingest_error_quark ())
GQuark kk_ingest_error_quark (void);

typedef enum {
  KK_INGEST_ERROR_PIPELINE,     /* a pipeline without its appsinks, or
                                 * that does not run */
  KK_INGEST_ERROR_NEGOTIATION,  /* webrtcbin refused the offer */
} KkIngestError;

typedef struct _KkIngest KkIngest;

typedef struct {
  /* Main context. The first packet reached the feed. */
  void (*media_started) (KkIngest *ingest, gpointer user_data);
  /* Main context. The source is gone: ICE failed, the pipeline ended or
   * failed, or no media came for a while. Called at most once. */
  void (*stopped) (KkIngest *ingest, const char *reason, gpointer user_data);
} KkIngestCallbacks;

/* A pipeline source. @pipeline (transfer full), as kk_pipeline_file_load ()
 * made it, must contain appsinks named "video" and/or "audio" that
 * receive RTP (application/x-rtp); the ingest starts it.
 * Returns: (transfer full): the running ingest, or NULL with @error. */
KkIngest *kk_ingest_new_pipeline (const char *name, GstElement *pipeline,
    KkFeed *feed, const KkIngestCallbacks *callbacks, gpointer user_data,
    GError **error);

typedef struct {
  guint latency_ms;             /* webrtcbin's jitter buffer */
  const char *const *local_addresses;   /* for libnice; NULL = its own choice */
} KkWebrtcIngestConfig;

typedef void (*KkIngestAnswerFunc) (KkIngest *ingest, const char *answer_sdp,
    const GError *error, gpointer user_data);

/* A WHIP publisher: webrtcbin answers @offer (transfer none); @answered is
 * called on the main context with the complete answer (all candidates
 * gathered) or an error.
 * Returns: (transfer full): the ingest. */
KkIngest *kk_ingest_new_webrtc (const char *name, GstSDPMessage *offer,
    const KkWebrtcIngestConfig *config, KkFeed *feed,
    const KkIngestCallbacks *callbacks, gpointer user_data,
    KkIngestAnswerFunc answered, gpointer answered_data);

/* Trickled remote candidates (WHIP PATCH). */
void kk_ingest_add_candidate (KkIngest *ingest, guint mline_index,
    const char *candidate);

void kk_ingest_request_keyframe (KkIngest *ingest);

/* Monotonic time of the last packet, 0 if none yet. Any thread. */
gint64 kk_ingest_get_last_packet_time (KkIngest *ingest);

/* Stops the pipeline (synchronously) and frees it; no callback follows. */
void kk_ingest_free (KkIngest *ingest);
/* kk_ingest_free() from an idle callback on the main context: for a
 * caller inside one of @ingest's own callbacks, which must return first. */
void kk_ingest_free_later (KkIngest *ingest);

G_END_DECLS
