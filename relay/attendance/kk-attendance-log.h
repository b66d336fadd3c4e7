/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-attendance-log: the evidence behind attendance, kept durably, and the
 * reports made from it.
 *
 * It follows every lecture's signals (viewer-connected, viewer-left,
 * session-opened, session-closed) and writes each as a raw event plus the
 * connection or session row it opens or closes, through the store's kk-db
 * handle (SQLite by default: WAL, synchronous=FULL) on the store's thread,
 * in the common SQL dialect of kk-db.h: nothing here runs on the
 * media path, and the main thread only queues. Events that arrive while a
 * write is in flight are committed together in the next transaction, so a
 * burst of hundreds of joins costs a few fsyncs, not hundreds.
 *
 * Every KK_ATTENDANCE_HEARTBEAT_MS the open connections and sessions are
 * stamped "still alive". After a crash, the first thing the log does at
 * startup (before any new event, since store jobs run in order) is close
 * every row left open at its last stamp: never left open, never stretched
 * to the restart.
 *
 * Times are on the relay's steady time line: the wall clock at startup
 * advanced by the monotonic clock, so a wall-clock step while the daemon
 * runs does not stretch or shrink anyone's attendance.
 *
 * Its tables (att_*) are created by the store's migrations
 * (relay/store/kk-schema.c); their queries are here. It reads the store's rooms and participants tables for names and
 * the room's ratio.
 */
#pragma once

#include <gio/gio.h>

#include "kk-attendance.h"
#include "kk-audience.h"
#include "kk-lecture.h"
#include "kk-store.h"

G_BEGIN_DECLS

#define KK_ATTENDANCE_HEARTBEAT_MS 5000

#define KK_TYPE_ATTENDANCE_LOG (kk_attendance_log_get_type ())
G_DECLARE_FINAL_TYPE (KkAttendanceLog, kk_attendance_log, KK,
    ATTENDANCE_LOG, GObject)

/**
 * kk_attendance_log_new:
 * @store: (transfer none): a reference is kept
 *
 * Queues the recovery of rows a crash left open, ahead of every later
 * store job, and starts the
 * heartbeat on the thread-default main context.
 *
 * Returns: (transfer full)
 */
KkAttendanceLog *kk_attendance_log_new (KkStore *store);

/* Follows @lecture's signals until the log is shut down. */
void kk_attendance_log_watch (KkAttendanceLog *log, KkLecture *lecture);

/* Stops the heartbeat and queues every pending write; later events are
 * dropped with a warning. Call after the lectures and viewers have ended
 * (their last events are written) and before kk_store_close(). */
void kk_attendance_log_shutdown (KkAttendanceLog *log);

/* The relay's steady time line (see above), in microseconds. */
gint64 kk_attendance_log_now (KkAttendanceLog *log);

/* Queues every event received so far, so that a store job queued after
 * this call runs after their writes (kk-roster's erasure does). */
void kk_attendance_log_flush (KkAttendanceLog *log);

/**
 * KkAttendancePurgeFunc:
 * @now_us: the steady time line's now (kk_attendance_log_now())
 *
 * Deletes what a module above keeps of a room for as long as its raw
 * events (the room's retention_days in att_settings; 0: keep). Runs on
 * the store's thread, so it touches nothing but @db. Returns: the rows
 * deleted, or -1 with @error.
 */
typedef gint64 (*KkAttendancePurgeFunc) (KkDb *db, gint64 now_us,
    GError **error);

/* Runs @func with every retention purge from now on (at startup and
 * hourly), and once at once, so that it misses nothing of the startup
 * purge that already went. */
void kk_attendance_log_add_purger (KkAttendanceLog *log,
    KkAttendancePurgeFunc func);

/* ---- presence checks (kk-presence) ----
 *
 * Evidence of the checks a session made and who passed them, written like
 * any event (in order, group-committed, kept as raw events too). Times are
 * on the steady time line. @participant_id NULL means the screen (party)
 * answered for everyone watching it; otherwise one person answered with
 * their check-in receipt. */

/* The host revealed @code for @session_id. */
void kk_attendance_log_record_code (KkAttendanceLog *log, const char *room_id,
    const char *session_id, const char *code, gint64 at_us);
void kk_attendance_log_record_code_answer (KkAttendanceLog *log,
    const char *room_id, const char *session_id, const char *party_id,
    const char *participant_id, gint64 at_us);
/* A "still here?" prompt went out to @session_id's viewers. */
void kk_attendance_log_record_prompt (KkAttendanceLog *log,
    const char *room_id, const char *session_id, const char *prompt_id,
    gint64 issued_us);
void kk_attendance_log_record_prompt_answer (KkAttendanceLog *log,
    const char *room_id, const char *prompt_id, const char *party_id,
    const char *participant_id, gint64 at_us);

/* ---- reports ---- */

typedef struct {
  char *id;
  char *room_id;
  gint64 started_us;
  gint64 ended_us;                /* 0 while live */
  gint64 live_end_us;             /* ended_us, or now for a live session */
  gint64 scheduled_start_us;      /* its planned start (steady); 0: ad hoc */
  KkAttendancePolicy policy;      /* as frozen at the start */
} KkAttendanceSession;

typedef struct {
  char *resource_id;              /* one WHEP connection */
  char *party_id;                 /* the token that made it */
  gint64 connected_us;
  gint64 left_us;                 /* 0 while still connected */
  char *reason;                   /* why it ended; nullable while open */
  char *relay_protocol;           /* "udp", "tcp" or "tls": how the browser
                                   * reached the TURN server it received
                                   * through; nullable (not through TURN,
                                   * or not told) */
} KkAttendanceConnection;

typedef struct {
  const KkAttendanceSession *session;   /* owned by the report */
  char *participant_id;
  char *party_id;                 /* the token holder they watch with */
  char *name;
  char *workplace;
  gboolean code_given;            /* the session's attendance code */
  gint64 checked_in_us;           /* checked in at a screen (kk-roster): the
                                   * screen's connections count from then;
                                   * 0 for everyone else */
  KkAttendanceResult result;      /* what the evidence and the policy say */
  gboolean completed;             /* the override's, if any, else result's */
  gboolean overridden;
  char *override_reason;
  char *override_by;
  gint64 override_at_us;
  GPtrArray *connections;         /* element-type KkAttendanceConnection */
  GArray *intervals;              /* element-type KkInterval: when they
                                   * watched within the live time (the
                                   * union, gaps not forgiven), for the
                                   * session report's bars */
} KkAttendanceRow;

typedef struct {
  GPtrArray *sessions;            /* element-type KkAttendanceSession, oldest first */
  GPtrArray *rows;                /* element-type KkAttendanceRow, by session, then name */
} KkAttendanceReport;

void kk_attendance_report_free (KkAttendanceReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkAttendanceReport, kk_attendance_report_free)
void kk_attendance_session_free (KkAttendanceSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkAttendanceSession, kk_attendance_session_free)

/**
 * kk_attendance_log_get_session_async:
 *
 * One session as stored, with the policy frozen into it when it went
 * live; queued after every event received so far, so a session whose
 * "session-opened" was just emitted is found.
 * %KK_ATTENDANCE_ERROR_NOT_FOUND if there is no such session.
 */
void kk_attendance_log_get_session_async (KkAttendanceLog *log,
    const char *session_id, GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full): the session, or NULL with @error. */
KkAttendanceSession *kk_attendance_log_get_session_finish (
    KkAttendanceLog *log, GAsyncResult *result, GError **error);

/**
 * kk_attendance_log_report_async:
 * @session_id: (nullable): one session
 * @room_id: (nullable): every session of a room, when @session_id is NULL
 *
 * Evaluates attendance from the stored evidence (queued after every event
 * already received, so a report sees them). Fails with
 * %KK_ATTENDANCE_ERROR_NOT_FOUND when the session does not exist.
 */
void kk_attendance_log_report_async (KkAttendanceLog *log,
    const char *session_id, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full): the report, or NULL with @error. */
KkAttendanceReport *kk_attendance_log_report_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error);

/* The audience of one session over its live time (kk-audience). */
typedef struct {
  KkAttendanceSession *session;
  GArray *points;                 /* element-type KkAudiencePoint */
} KkAttendanceAudience;

void kk_attendance_audience_free (KkAttendanceAudience *audience);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkAttendanceAudience,
    kk_attendance_audience_free)

/**
 * kk_attendance_log_audience_async:
 * @session_id: (nullable): one session
 * @room_id: (nullable): the session of @room_id live now, when
 *   @session_id is NULL
 *
 * How many screens and people watched, over the session's live time (so
 * far, for a live one), from the stored evidence, queued after every
 * event already received. %KK_ATTENDANCE_ERROR_NOT_FOUND when there is no
 * such session, or @room_id is not live.
 */
void kk_attendance_log_audience_async (KkAttendanceLog *log,
    const char *session_id, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full): the audience, or NULL with @error. */
KkAttendanceAudience *kk_attendance_log_audience_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error);

/* A room's attendance settings; the policy part is frozen into each of
 * its sessions as it goes live. */
typedef struct {
  KkAttendancePolicy policy;      /* completion_ratio < 0: the room's own */
  guint retention_days;           /* raw events older than this are
                                   * deleted; 0 keeps them */
} KkAttendanceSettings;

/* Settings of @room_id: stored, or the defaults. Finish returns
 * (transfer full) a KkAttendanceSettings to g_free(). */
void kk_attendance_log_get_settings_async (KkAttendanceLog *log,
    const char *room_id, GAsyncReadyCallback callback, gpointer user_data);
KkAttendanceSettings *kk_attendance_log_get_settings_finish (
    KkAttendanceLog *log, GAsyncResult *result, GError **error);
void kk_attendance_log_set_settings_async (KkAttendanceLog *log,
    const char *room_id, const KkAttendanceSettings *settings,
    GAsyncReadyCallback callback, gpointer user_data);
gboolean kk_attendance_log_set_settings_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error);

/**
 * kk_attendance_log_override_async:
 * @reason: why (required), @by: who decided it (required)
 *
 * Sets the person's completion of the session by hand, kept with who,
 * when and why (and as a raw event, so a later override does not erase
 * the earlier one's trace). %KK_ATTENDANCE_ERROR_NOT_FOUND if the session
 * or the participant does not exist.
 */
void kk_attendance_log_override_async (KkAttendanceLog *log,
    const char *session_id, const char *participant_id, gboolean completed,
    const char *reason, const char *by, GAsyncReadyCallback callback,
    gpointer user_data);
gboolean kk_attendance_log_override_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error);

G_END_DECLS
