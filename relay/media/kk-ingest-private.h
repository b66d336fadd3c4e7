/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by kk-ingest.c (the part common to every source, and pipeline
 * sources) and kk-ingest-webrtc.c (WHIP publishers).
 *
 * GStreamer calls us on its streaming threads and webrtcbin's own thread;
 * what must reach the lecture goes to the main context through
 * kk_ingest_invoke (), which holds a ref so the ingest outlives the hop,
 * and is skipped once the ingest was freed (the destroyed flag).
 */
#pragma once

#include "kk-ingest.h"

G_BEGIN_DECLS

struct _KkIngest {
  gint refcount;
  gint destroyed;               /* atomic */
  char *name;
  KkFeed *feed;
  KkIngestCallbacks callbacks;
  gpointer user_data;
  GMainContext *main_context;
  GstElement *pipeline;
  GMutex lock;
  GstElement *video_sink;       /* under lock: for keyframe requests */
  gint64 last_packet_mono_us;   /* atomic */
  gint media_started;           /* atomic */
  gboolean stopped;             /* main context */
  guint bus_watch;
  guint watchdog;
  gint64 created_mono_us;

  /* WHIP only */
  GstElement *webrtc;
  GstSDPMessage *offer;         /* the trimmed offer, read by webrtcbin's thread */
  KkIngestAnswerFunc answered;
  gpointer answered_data;
  gint answer_sent;             /* atomic */
  gint local_set;               /* atomic: webrtcbin has set the answer */
  gint gather_done;             /* atomic: gathered, or out of time */
  char *answer_text;            /* under lock, until delivered */
  char *answer_error;           /* under lock, until delivered */
  guint gather_timeout;         /* main context */
};

KkIngest *kk_ingest_alloc (const char *name, KkFeed *feed,
    const KkIngestCallbacks *callbacks, gpointer user_data);
KkIngest *kk_ingest_ref (KkIngest *ingest);
void kk_ingest_unref (KkIngest *ingest);
/* Runs @func (ingest) on the main context unless the ingest is freed first. */
void kk_ingest_invoke (KkIngest *ingest, void (*func) (KkIngest *ingest));
/* From any thread: the source is gone. */
void kk_ingest_stop_later (KkIngest *ingest, const char *reason);
/* Makes @sink (an appsink) deliver its RTP to the feed as @kind. */
void kk_ingest_attach_sink (KkIngest *ingest, GstElement *sink, KkTrackKind kind);
/* Watches the pipeline's bus and starts the no-media watchdog. */
void kk_ingest_watch (KkIngest *ingest);

G_END_DECLS
