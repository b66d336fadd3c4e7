/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-lecture: one room's broadcast. It owns the room's feed (what viewers
 * receive), its current source (a WHIP publisher or a pipeline), its
 * viewers (WHEP resources), and the session: live from the first media of
 * a source until the source ends for good. A publisher who drops without
 * saying goodbye gets a grace period to come back; the session and the
 * viewers' streams simply continue when they do. The session is the
 * room's scheduled one when the broadcast starts within its window, else
 * a new, ad hoc one; the store decides (kk_store_session_start()).
 *
 * Main context only. Signals: session-opened, session-closed,
 * viewer-connected, viewer-left (see kk-lecture.c); attendance and
 * recording follow a lecture through them.
 */
#pragma once

#include <glib-object.h>
#include <gst/sdp/sdp.h>
#include <kringkast/kk-sdp.h>
#include "kk-config.h"
#include "kk-fanout.h"
#include "kk-room.h"
#include "kk-store.h"

G_BEGIN_DECLS

#define KK_LECTURE_ERROR (kk_lecture_error_quark ())
GQuark kk_lecture_error_quark (void);

typedef enum {
  KK_LECTURE_ERROR_BUSY,          /* a publisher is live: HTTP 409 */
  KK_LECTURE_ERROR_NOT_FOUND,     /* no such resource: 404 */
  KK_LECTURE_ERROR_NOT_WHIP,      /* the room's source is a pipeline: 409 */
  KK_LECTURE_ERROR_ICE_RESTART,   /* not supported: 422, the client POSTs again */
  KK_LECTURE_ERROR_FAILED,
} KkLectureError;

typedef enum {
  KK_LECTURE_IDLE,        /* no session */
  KK_LECTURE_STARTING,    /* a source is connecting, no media yet */
  KK_LECTURE_LIVE,        /* media flowing, session open */
  KK_LECTURE_GRACE,       /* source lost, session open, waiting for its return */
} KkLectureState;

#define KK_TYPE_LECTURE (kk_lecture_get_type ())
G_DECLARE_FINAL_TYPE (KkLecture, kk_lecture, KK, LECTURE, GObject)

/* Returns: (transfer full) */
KkLecture *kk_lecture_new (KkRoom *room, KkFanout *fanout, KkStore *store,
    const KkConfig *config);

KkRoom *kk_lecture_get_room (KkLecture *lecture);
/* (transfer none): what viewers receive; recorders tap it. */
KkFeed *kk_lecture_get_feed (KkLecture *lecture);
/* (transfer none) (nullable): the open session, once stored. */
const char *kk_lecture_get_session_id (KkLecture *lecture);
/* TRUE while a source (a WHIP publisher or a pipeline) is sending media. */
gboolean kk_lecture_has_live_source (KkLecture *lecture);

/* Starts the room's pipeline source (rooms whose source is not "whip");
 * it is restarted on its own when it fails. */
gboolean kk_lecture_start_pipeline (KkLecture *lecture, GError **error);

typedef void (*KkLecturePublishFunc) (KkLecture *lecture,
    const char *resource_id, const char *answer_sdp, const GError *error,
    gpointer user_data);

/* WHIP POST: a publisher with @offer (transfer none). Fails at once with
 * KK_LECTURE_ERROR_BUSY when another publisher is sending; otherwise
 * @answered follows on the main context. */
gboolean kk_lecture_publish (KkLecture *lecture, GstSDPMessage *offer,
    KkLecturePublishFunc answered, gpointer user_data, GError **error);
/* WHIP PATCH with candidates. */
gboolean kk_lecture_publisher_trickle (KkLecture *lecture,
    const char *resource_id, const KkTrickleFragment *fragment,
    GError **error);
/* WHIP DELETE: the host ends the broadcast. */
gboolean kk_lecture_unpublish (KkLecture *lecture, const char *resource_id,
    GError **error);

/* WHEP POST; @local_peer: see kk_viewer_new(). Returns: (transfer full):
 * the answer, and the resource id in @resource_id, or NULL with @error. */
char *kk_lecture_add_viewer (KkLecture *lecture, const KkViewerOffer *offer,
    gboolean local_peer, const char *party_id, char **resource_id,
    GError **error);
/* WHEP resources one participant token may hold at once in a room,
 * receiving or not yet. A token is one person or one group at one screen;
 * a person may watch on a PC and a phone, a page reload makes a new
 * resource before the old one is deleted (or, if the page could not say
 * goodbye, before it expires: 30 s), and a broken connection is replaced
 * after 5 s. So 3 screens with a reload or two each stay well inside 10,
 * while a token can no longer pile up resources (36 KiB each) that were
 * never connected. Over the bound the new offer is refused (429): one
 * already admitted is never evicted for it, and an unconnected one is not
 * either (it may be a phone still connecting). */
#define KK_LECTURE_MAX_VIEWERS_PER_PARTY 10

/* Returns: 0 if @party_id may add a WHEP resource now, else roughly how
 * long (microseconds, at least a second) until one of its resources
 * that is not receiving expires, or the consent timeout if all are. */
gint64 kk_lecture_party_wait_us (KkLecture *lecture, const char *party_id);
/* WHEP DELETE. */
gboolean kk_lecture_remove_viewer (KkLecture *lecture, const char *resource_id,
    GError **error);
/* (transfer none) (nullable): the viewer of a WHEP resource. */
KkViewer *kk_lecture_get_viewer (KkLecture *lecture, const char *resource_id);
/* What the page of WHEP resource @resource_id reported of its way to the
 * TURN server: kept in the viewer's statistics, and announced with
 * ::viewer-relay-protocol (once it is receiving) for the attendance log.
 * FALSE if there is no such resource. */
gboolean kk_lecture_set_viewer_relay_protocol (KkLecture *lecture,
    const char *resource_id, KkRelayProtocol protocol);
typedef void (*KkLectureViewerFunc) (const char *resource_id,
    const char *party_id, KkViewer *viewer, gpointer user_data);
/* Calls @func for each viewer whose media is flowing. */
void kk_lecture_foreach_connected_viewer (KkLecture *lecture,
    KkLectureViewerFunc func, gpointer user_data);
/* The party that owns a WHEP resource, or NULL. */
const char *kk_lecture_get_viewer_party (KkLecture *lecture,
    const char *resource_id);

/* A viewer the lecture does not serve itself (the HTTPS segments of
 * relay/segments): its owner announces when it starts and stops
 * receiving, as viewer-connected and viewer-left with the same arguments
 * a WHEP viewer's have, so that attendance and the room's counts take it
 * alike. Each connected is followed by exactly one left; @resource_id is
 * the owner's own, distinct from every WHEP resource's. */
void kk_lecture_announce_viewer_connected (KkLecture *lecture,
    const char *resource_id, const char *party_id, gint64 wall_us);
void kk_lecture_announce_viewer_left (KkLecture *lecture,
    const char *resource_id, const char *party_id, const char *reason,
    gint64 last_seen_wall_us);

/* Shutdown: ends the source and the session now. */
void kk_lecture_stop (KkLecture *lecture);

G_END_DECLS
