/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-attendance-log: durable attendance evidence and reports; see
 * kk-attendance-log.h.
 *
 * Tables (all times on the steady time line, microseconds):
 *
 *   att_events       every raw event: connect, leave, session-open,
 *                    session-close, override, recovered; kept for appeals
 *                    (subject to the room's retention)
 *   att_connections  one row per WHEP connection: connected_at, alive_at
 *                    (the heartbeat), left_at and why, and for one
 *                    through a TURN server how the browser reached it
 *                    (relay_protocol, as its page reported)
 *   att_sessions     one row per broadcast with its frozen policy, its
 *                    planned start if it was scheduled (the store's
 *                    sessions row, moved onto the steady line), and its
 *                    own alive_at, so a crash ends it at the last stamp
 *   att_settings     a room's rules (absent: the defaults)
 *   att_overrides    the coordinator's decisions, latest per person
 *   att_access       a room's access mode (kk-roster; absent: open)
 *   att_people       pre-registered people: e-mail, HPR number, when
 *                    invited (kk-roster); they have rows in every session
 *                    of their room from then on, connected or not
 *   att_checkins     people who checked in at a screen with its code
 *                    (kk-roster): when, and the hash of their receipt
 *
 * Writes are queued on the main thread and committed by one job at a
 * time: whatever arrived while a job ran goes into the next one's single
 * transaction (group commit).
 */
#include "kk-attendance-log.h"

#include <string.h>

#define RETENTION_PURGE_S 3600

/* ---- events ---- */

typedef enum {
  EV_CONNECT,
  EV_LEAVE,
  EV_SESSION_OPEN,
  EV_SESSION_CLOSE,
  EV_HEARTBEAT,
  EV_ALIVE,
  EV_CODE,
  EV_CODE_ANSWER,
  EV_PROMPT,
  EV_PROMPT_ANSWER,
  EV_RELAY_PROTOCOL,
} KkAttEventKind;

static const char *const event_names[] = {
  [EV_CONNECT] = "connect",
  [EV_LEAVE] = "leave",
  [EV_SESSION_OPEN] = "session-open",
  [EV_SESSION_CLOSE] = "session-close",
  [EV_HEARTBEAT] = "heartbeat",
  [EV_ALIVE] = "alive",
  [EV_CODE] = "code-revealed",
  [EV_CODE_ANSWER] = "code-answer",
  [EV_PROMPT] = "prompt",
  [EV_PROMPT_ANSWER] = "prompt-answer",
  [EV_RELAY_PROTOCOL] = "relay-protocol",
};

typedef struct {
  KkAttEventKind kind;
  char *room_id;
  char *subject;                /* resource id or session id */
  char *party_id;
  gint64 at_us;                 /* steady */
  gint64 wall_us;               /* as the lecture reported it */
  char *detail;                 /* why a connection ended, its relay
                                 * protocol, ... */
} KkAttEvent;

static void
att_event_free (gpointer data)
{
  KkAttEvent *event = data;

  g_free (event->room_id);
  g_free (event->subject);
  g_free (event->party_id);
  g_free (event->detail);
  g_free (event);
}

struct _KkAttendanceLog {
  GObject parent;

  KkStore *store;
  gint64 anchor_wall_us;
  gint64 anchor_mono_us;
  GPtrArray *pending;           /* KkAttEvent, not yet submitted */
  gboolean in_flight;
  gboolean shut_down;
  guint heartbeat_timer;
  guint purge_timer;
  guint open_connections;
  GPtrArray *lectures;          /* watched, for disconnecting */
  GArray *purgers;              /* KkAttendancePurgeFunc of modules above */
};

G_DEFINE_FINAL_TYPE (KkAttendanceLog, kk_attendance_log, G_TYPE_OBJECT)

gint64
kk_attendance_log_now (KkAttendanceLog *log)
{
  return log->anchor_wall_us + (g_get_monotonic_time () - log->anchor_mono_us);
}

/* A wall time the lecture just reported, on the steady line. */
static gint64
steady_from_wall (KkAttendanceLog *log, gint64 wall_us)
{
  return wall_us + (kk_attendance_log_now (log) - g_get_real_time ());
}

/* ---- SQL helpers (store thread) ---- */

static char *
column_text (KkDbStmt *stmt, int index)
{
  const char *text = kk_db_column_text (stmt, index);

  return g_strdup (text != NULL ? text : "");
}

/* ---- recovery ---- */

/* Closing what a crash left open: each connection and session ends at
 * its last heartbeat. The store closed the crashed broadcast's own
 * session row at its start time (it knows no better); ours knows the
 * last moment it was live, so that row is corrected to match. */
static const char recovery[] =
  "INSERT INTO att_events (room_id, kind, subject, party_id, at, wall_at,"
  "    detail)"
  "  SELECT room_id, 'leave', resource_id, party_id, alive_at, alive_at,"
  "    'relay-restart' FROM att_connections WHERE left_at IS NULL;"
  "UPDATE att_connections SET left_at = alive_at, reason = 'relay-restart'"
  "  WHERE left_at IS NULL;"
  "INSERT INTO att_events (room_id, kind, subject, at, wall_at, detail)"
  "  SELECT room_id, 'session-close', id, alive_at, alive_at,"
  "    'relay-restart' FROM att_sessions WHERE ended_at IS NULL;"
  "UPDATE sessions SET ended_at = (SELECT alive_at FROM att_sessions a"
  "    WHERE a.id = sessions.id)"
  "  WHERE id IN (SELECT id FROM att_sessions WHERE ended_at IS NULL);"
  "UPDATE att_sessions SET ended_at = alive_at WHERE ended_at IS NULL;";

/* Counts the connections left open, and closes them and the sessions. */
static gboolean
recover (KkDb *db, gpointer user_data, GError **error)
{
  int *open_rows = user_data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT count(*)"
      " FROM att_connections WHERE left_at IS NULL", error);

  if (stmt == NULL)
    return FALSE;
  if (kk_db_step (stmt, NULL) == KK_DB_ROW)
    *open_rows = kk_db_column_int64 (stmt, 0);
  g_clear_pointer (&stmt, kk_db_stmt_free);
  return kk_db_exec (db, recovery, error);
}

static gpointer
setup_job (KkDb *db, gpointer job_data, GError **error)
{
  int open_rows = 0;

  if (!kk_db_transaction (db, recover, &open_rows, error))
    return NULL;
  return GINT_TO_POINTER (open_rows + 1);
}

static void
setup_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gpointer recovered = kk_store_run_finish (KK_STORE (source), result, &error);

  if (recovered == NULL)
    g_warning ("attendance: cannot recover open rows: %s", error->message);
  else if (GPOINTER_TO_INT (recovered) > 1)
    g_message ("attendance: %d connections left open by an unclean stop "
        "were closed at their last heartbeat",
        GPOINTER_TO_INT (recovered) - 1);
}

/* ---- writing events ---- */

static gboolean
insert_event (KkDb *db, const KkAttEvent *event, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "INSERT INTO att_events"
      " (room_id, kind, subject, party_id, at, wall_at, detail)"
      " VALUES (?,?,?,?,?,?,?)", error);

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, event->room_id);
  kk_db_bind_text (stmt, 2, event_names[event->kind]);
  kk_db_bind_text (stmt, 3, event->subject);
  kk_db_bind_text (stmt, 4, event->party_id);
  kk_db_bind_int64 (stmt, 5, event->at_us);
  kk_db_bind_int64 (stmt, 6, event->wall_us);
  kk_db_bind_text (stmt, 7, event->detail);
  return kk_db_step_done (stmt, error);
}

/* What each event does to the connection, session and presence-check
 * rows. A row that exists already is left as it is (ON CONFLICT DO
 * NOTHING), and one already closed is not closed again. A close never
 * goes back before the opening, nor a stamp back in time: the `CASE WHEN`
 * picks the larger of two values, which SQLite's two-argument max() and
 * PostgreSQL's GREATEST() each do under their own name only. */
static const char *const event_sql[] = {
  [EV_CONNECT] = "INSERT INTO att_connections"
      " (resource_id, room_id, party_id, connected_at, alive_at)"
      " VALUES (?1, ?2, ?3, ?4, ?4)"
      " ON CONFLICT (resource_id) DO NOTHING",
  [EV_LEAVE] = "UPDATE att_connections SET"
      " left_at = CASE WHEN ?2 > connected_at THEN ?2 ELSE connected_at END,"
      " alive_at = CASE WHEN ?2 > connected_at THEN ?2 ELSE connected_at END,"
      " reason = ?3 WHERE resource_id = ?1 AND left_at IS NULL",
  /* The room's rules are frozen here, so changing them later never
   * changes this session's results. So is the planned start of a
   * scheduled session (the store gave the broadcast that session before
   * the lecture announced it): a wall time, moved onto the steady line by
   * the event's own offset between the two. The `WHERE true` tells the
   * parser that the join's ON ends before the upsert's ON CONFLICT. */
  [EV_SESSION_OPEN] = "INSERT INTO att_sessions (id, room_id,"
      " started_at, alive_at, completion_ratio, grace_s, max_lateness_s,"
      " require_code, prompts, prompt_window_s, prompt_interval_s,"
      " scheduled_start)"
      " SELECT ?1, ?2, ?3, ?3,"
      "  coalesce (s.completion_ratio, r.completion_ratio, ?4),"
      "  coalesce (s.grace_s, ?5), s.max_lateness_s,"
      "  coalesce (s.require_code, 0), coalesce (s.prompts, 0),"
      "  coalesce (s.prompt_window_s, ?6),"
      "  coalesce (s.prompt_interval_s, ?7),"
      "  (SELECT scheduled_start + (?3 - ?8) FROM sessions WHERE id = ?1)"
      " FROM (SELECT ?2 AS id) AS x"
      " LEFT JOIN rooms r ON r.id = x.id"
      " LEFT JOIN att_settings s ON s.room_id = x.id"
      " WHERE true"
      " ON CONFLICT (id) DO NOTHING",
  [EV_SESSION_CLOSE] = "UPDATE att_sessions SET"
      " ended_at = CASE WHEN ?2 > started_at THEN ?2 ELSE started_at END,"
      " alive_at = CASE WHEN ?2 > started_at THEN ?2 ELSE started_at END"
      " WHERE id = ?1 AND ended_at IS NULL",
  [EV_HEARTBEAT] = "UPDATE att_sessions SET alive_at = ?1"
      " WHERE ended_at IS NULL",
  /* A connection's stamp is the last time the relay knew it was
   * receiving (its last consent check or report), not the time of the
   * heartbeat: a viewer that vanished silently is not counted on. */
  [EV_ALIVE] = "UPDATE att_connections SET"
      " alive_at = CASE WHEN ?2 > alive_at THEN ?2 ELSE alive_at END"
      " WHERE resource_id = ?1 AND left_at IS NULL",
  [EV_CODE] = "INSERT INTO att_codes (session_id, room_id, code,"
      " revealed_at) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT (session_id) DO NOTHING",
  [EV_CODE_ANSWER] = "INSERT INTO att_code_answers (session_id, party_id,"
      " participant_id, answered_at) VALUES (?1, ?2, ?3, ?4)",
  [EV_PROMPT] = "INSERT INTO att_prompts (id, session_id, room_id,"
      " issued_at) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT (id) DO NOTHING",
  [EV_PROMPT_ANSWER] = "INSERT INTO att_prompt_answers (prompt_id,"
      " party_id, participant_id, answered_at) VALUES (?1, ?2, ?3, ?4)",
  [EV_RELAY_PROTOCOL] = "UPDATE att_connections SET relay_protocol = ?2"
      " WHERE resource_id = ?1",
};

static gboolean
apply_event (KkDb *db, const KkAttEvent *event, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, event_sql[event->kind],
      error);

  if (stmt == NULL)
    return FALSE;
  switch (event->kind) {
    case EV_CONNECT:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_text (stmt, 2, event->room_id);
      kk_db_bind_text (stmt, 3, event->party_id);
      kk_db_bind_int64 (stmt, 4, event->at_us);
      break;
    case EV_LEAVE:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_int64 (stmt, 2, event->at_us);
      kk_db_bind_text (stmt, 3, event->detail);
      break;
    case EV_SESSION_OPEN:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_text (stmt, 2, event->room_id);
      kk_db_bind_int64 (stmt, 3, event->at_us);
      kk_db_bind_double (stmt, 4, KK_ATTENDANCE_DEFAULT_RATIO);
      kk_db_bind_int64 (stmt, 5, KK_ATTENDANCE_DEFAULT_GRACE_S);
      kk_db_bind_int64 (stmt, 6, KK_ATTENDANCE_DEFAULT_PROMPT_WINDOW_S);
      kk_db_bind_int64 (stmt, 7, KK_ATTENDANCE_DEFAULT_PROMPT_INTERVAL_S);
      kk_db_bind_int64 (stmt, 8, event->wall_us);
      break;
    case EV_CODE:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_text (stmt, 2, event->room_id);
      kk_db_bind_text (stmt, 3, event->detail);
      kk_db_bind_int64 (stmt, 4, event->at_us);
      break;
    case EV_PROMPT:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_text (stmt, 2, event->detail);
      kk_db_bind_text (stmt, 3, event->room_id);
      kk_db_bind_int64 (stmt, 4, event->at_us);
      break;
    case EV_CODE_ANSWER:
    case EV_PROMPT_ANSWER:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_text (stmt, 2, event->party_id);
      kk_db_bind_text (stmt, 3, event->detail);
      kk_db_bind_int64 (stmt, 4, event->at_us);
      break;
    case EV_SESSION_CLOSE:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_int64 (stmt, 2, event->at_us);
      break;
    case EV_ALIVE:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_int64 (stmt, 2, event->at_us);
      break;
    case EV_RELAY_PROTOCOL:
      kk_db_bind_text (stmt, 1, event->subject);
      kk_db_bind_text (stmt, 2, event->detail);
      break;
    case EV_HEARTBEAT:
      kk_db_bind_int64 (stmt, 1, event->at_us);
      break;
  }
  if (!kk_db_step_done (stmt, error))
    return FALSE;
  /* Stamps keep rows current; they are not evidence of their own. */
  if (event->kind == EV_ALIVE || event->kind == EV_HEARTBEAT)
    return TRUE;
  return insert_event (db, event, error);
}

static gboolean
apply_events (KkDb *db, gpointer user_data, GError **error)
{
  GPtrArray *events = user_data;

  for (guint i = 0; i < events->len; i++)
    if (!apply_event (db, events->pdata[i], error))
      return FALSE;
  return TRUE;
}

static gpointer
write_job (KkDb *db, gpointer job_data, GError **error)
{
  GPtrArray *events = job_data;

  if (!kk_db_transaction (db, apply_events, events, error))
    return NULL;
  return GUINT_TO_POINTER (events->len);
}

static void submit_pending (KkAttendanceLog *log);

static void
write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (KkAttendanceLog) log = user_data;
  g_autoptr (GError) error = NULL;

  if (kk_store_run_finish (KK_STORE (source), result, &error) == NULL)
    g_warning ("attendance: events not written: %s", error->message);
  log->in_flight = FALSE;
  if (!log->shut_down && log->pending->len > 0)
    submit_pending (log);
}

static void
submit_pending (KkAttendanceLog *log)
{
  GPtrArray *events = g_steal_pointer (&log->pending);

  log->pending = g_ptr_array_new_with_free_func (att_event_free);
  log->in_flight = TRUE;
  kk_store_run_async (log->store, write_job, events,
      (GDestroyNotify) g_ptr_array_unref, NULL, write_done,
      g_object_ref (log));
}

static void
queue_event (KkAttendanceLog *log, KkAttEventKind kind, const char *room_id,
    const char *subject, const char *party_id, gint64 at_us, gint64 wall_us,
    const char *detail)
{
  KkAttEvent *event;

  if (log->shut_down) {
    g_warning ("attendance: %s of %s after shutdown, not written",
        event_names[kind], subject);
    return;
  }
  event = g_new0 (KkAttEvent, 1);
  event->kind = kind;
  event->room_id = g_strdup (room_id);
  event->subject = g_strdup (subject);
  event->party_id = g_strdup (party_id);
  event->at_us = at_us;
  event->wall_us = wall_us;
  event->detail = g_strdup (detail);
  g_ptr_array_add (log->pending, event);
  if (!log->in_flight)
    submit_pending (log);
}

void
kk_attendance_log_flush (KkAttendanceLog *log)
{
  if (log->pending->len > 0 && !log->shut_down)
    submit_pending (log);
}

/* ---- presence checks ---- */

void
kk_attendance_log_record_code (KkAttendanceLog *log, const char *room_id,
    const char *session_id, const char *code, gint64 at_us)
{
  queue_event (log, EV_CODE, room_id, session_id, NULL, at_us,
      g_get_real_time (), code);
}

void
kk_attendance_log_record_code_answer (KkAttendanceLog *log,
    const char *room_id, const char *session_id, const char *party_id,
    const char *participant_id, gint64 at_us)
{
  queue_event (log, EV_CODE_ANSWER, room_id, session_id, party_id, at_us,
      g_get_real_time (), participant_id);
}

void
kk_attendance_log_record_prompt (KkAttendanceLog *log, const char *room_id,
    const char *session_id, const char *prompt_id, gint64 issued_us)
{
  queue_event (log, EV_PROMPT, room_id, prompt_id, NULL, issued_us,
      g_get_real_time (), session_id);
}

void
kk_attendance_log_record_prompt_answer (KkAttendanceLog *log,
    const char *room_id, const char *prompt_id, const char *party_id,
    const char *participant_id, gint64 at_us)
{
  queue_event (log, EV_PROMPT_ANSWER, room_id, prompt_id, party_id, at_us,
      g_get_real_time (), participant_id);
}

/* ---- lecture signals (main context) ---- */

static const char *
lecture_room (KkLecture *lecture)
{
  return kk_room_get_id (kk_lecture_get_room (lecture));
}

static void
on_viewer_connected (KkLecture *lecture, const char *resource_id,
    const char *party_id, gint64 wall_us, gpointer user_data)
{
  KkAttendanceLog *log = user_data;

  log->open_connections++;
  queue_event (log, EV_CONNECT, lecture_room (lecture), resource_id,
      party_id, steady_from_wall (log, wall_us), wall_us, NULL);
}

static void
on_viewer_left (KkLecture *lecture, const char *resource_id,
    const char *party_id, const char *reason, gint64 last_seen_wall_us,
    gpointer user_data)
{
  KkAttendanceLog *log = user_data;
  gint64 wall_us = last_seen_wall_us;

  /* A viewer that said goodbye (WHEP DELETE, DTLS close_notify, the relay
   * shutting down) received until this moment; only one that vanished
   * ends at the last time it was heard from. */
  if (g_str_equal (reason, "closed") || g_str_equal (reason, "dtls-closed"))
    wall_us = g_get_real_time ();
  if (log->open_connections > 0)
    log->open_connections--;
  queue_event (log, EV_LEAVE, lecture_room (lecture), resource_id, party_id,
      steady_from_wall (log, wall_us), wall_us, reason);
}

static void
on_viewer_relay_protocol (KkLecture *lecture, const char *resource_id,
    const char *party_id, const char *relay_protocol, gpointer user_data)
{
  KkAttendanceLog *log = user_data;
  gint64 wall_us = g_get_real_time ();

  queue_event (log, EV_RELAY_PROTOCOL, lecture_room (lecture), resource_id,
      party_id, steady_from_wall (log, wall_us), wall_us, relay_protocol);
}

static void
on_session_opened (KkLecture *lecture, const char *session_id,
    gint64 started_wall_us, gpointer user_data)
{
  KkAttendanceLog *log = user_data;

  queue_event (log, EV_SESSION_OPEN, lecture_room (lecture), session_id,
      NULL, steady_from_wall (log, started_wall_us), started_wall_us, NULL);
}

static void
on_session_closed (KkLecture *lecture, const char *session_id,
    gint64 ended_wall_us, gpointer user_data)
{
  KkAttendanceLog *log = user_data;

  queue_event (log, EV_SESSION_CLOSE, lecture_room (lecture), session_id,
      NULL, steady_from_wall (log, ended_wall_us), ended_wall_us, NULL);
}

void
kk_attendance_log_watch (KkAttendanceLog *log, KkLecture *lecture)
{
  g_signal_connect (lecture, "viewer-connected",
      G_CALLBACK (on_viewer_connected), log);
  g_signal_connect (lecture, "viewer-left", G_CALLBACK (on_viewer_left), log);
  g_signal_connect (lecture, "viewer-relay-protocol",
      G_CALLBACK (on_viewer_relay_protocol), log);
  g_signal_connect (lecture, "session-opened", G_CALLBACK (on_session_opened),
      log);
  g_signal_connect (lecture, "session-closed", G_CALLBACK (on_session_closed),
      log);
  g_ptr_array_add (log->lectures, g_object_ref (lecture));
}

static gboolean
something_open (KkAttendanceLog *log)
{
  if (log->open_connections > 0)
    return TRUE;
  for (guint i = 0; i < log->lectures->len; i++)
    if (kk_lecture_get_session_id (log->lectures->pdata[i]) != NULL)
      return TRUE;
  return FALSE;
}

static void
stamp_viewer (const char *resource_id, const char *party_id, KkViewer *viewer,
    gpointer user_data)
{
  KkAttendanceLog *log = user_data;
  KkAttEvent *event = g_new0 (KkAttEvent, 1);
  KkViewerStats stats;

  kk_viewer_get_stats (viewer, &stats);
  event->kind = EV_ALIVE;
  event->subject = g_strdup (resource_id);
  event->wall_us = stats.last_seen_wall_us;
  event->at_us = steady_from_wall (log, stats.last_seen_wall_us);
  g_ptr_array_add (log->pending, event);
}

static gboolean
on_heartbeat (gpointer user_data)
{
  KkAttendanceLog *log = user_data;
  KkAttEvent *event;

  /* Skipped when nothing is open, which is most of the day; otherwise
   * folded into the next transaction like any event. */
  if (!something_open (log))
    return G_SOURCE_CONTINUE;
  event = g_new0 (KkAttEvent, 1);
  event->kind = EV_HEARTBEAT;
  event->at_us = kk_attendance_log_now (log);
  g_ptr_array_add (log->pending, event);
  for (guint i = 0; i < log->lectures->len; i++)
    kk_lecture_foreach_connected_viewer (log->lectures->pdata[i],
        stamp_viewer, log);
  if (!log->in_flight)
    submit_pending (log);
  return G_SOURCE_CONTINUE;
}

/* ---- retention ---- */

typedef struct {
  gint64 now;
  gboolean events;              /* our raw events too, not just purgers' */
  GArray *purgers;              /* a copy: the store thread reads it */
} PurgeJob;

static void
purge_job_free (PurgeJob *job)
{
  g_array_unref (job->purgers);
  g_free (job);
}

static gpointer
purge_job (KkDb *db, gpointer job_data, GError **error)
{
  PurgeJob *job = job_data;
  int deleted = 0;

  if (job->events) {
    g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "DELETE FROM att_events"
        " WHERE seq IN (SELECT e.seq FROM att_events e JOIN att_settings s"
        "  ON s.room_id = e.room_id"
        "  WHERE s.retention_days > 0"
        "  AND e.at < ?1 - s.retention_days * 86400000000)", error);

    if (stmt == NULL)
      return NULL;
    kk_db_bind_int64 (stmt, 1, job->now);
    if (!kk_db_step_done (stmt, error))
      return NULL;
    deleted = (int) kk_db_changes (db);
  }
  for (guint i = 0; i < job->purgers->len; i++) {
    gint64 rows = g_array_index (job->purgers, KkAttendancePurgeFunc, i) (db,
        job->now, error);

    if (rows < 0)
      return NULL;
    deleted += (int) rows;
  }
  return GINT_TO_POINTER (deleted + 1);
}

static void
purge_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gpointer deleted = kk_store_run_finish (KK_STORE (source), result, &error);

  if (deleted == NULL)
    g_warning ("attendance: retention purge failed: %s", error->message);
  else if (GPOINTER_TO_INT (deleted) > 1)
    g_info ("attendance: %d rows past their room's retention deleted",
        GPOINTER_TO_INT (deleted) - 1);
}

static void
queue_purge (KkAttendanceLog *log, gboolean events, GArray *purgers)
{
  PurgeJob *job = g_new0 (PurgeJob, 1);

  job->now = kk_attendance_log_now (log);
  job->events = events;
  job->purgers = purgers;
  kk_store_run_async (log->store, purge_job, job,
      (GDestroyNotify) purge_job_free, NULL, purge_done, NULL);
}

static gboolean
on_purge (gpointer user_data)
{
  KkAttendanceLog *log = user_data;

  queue_purge (log, TRUE, g_array_copy (log->purgers));
  return G_SOURCE_CONTINUE;
}

void
kk_attendance_log_add_purger (KkAttendanceLog *log,
    KkAttendancePurgeFunc func)
{
  GArray *one = g_array_new (FALSE, FALSE, sizeof (KkAttendancePurgeFunc));

  g_array_append_val (log->purgers, func);
  g_array_append_val (one, func);
  queue_purge (log, FALSE, one);
}

/* ---- reports (store thread) ---- */

typedef struct {
  char *session_id;
  char *room_id;
  gint64 now_us;
} ReportQuery;

static void
report_query_free (gpointer data)
{
  ReportQuery *query = data;

  g_free (query->session_id);
  g_free (query->room_id);
  g_free (query);
}

void
kk_attendance_session_free (KkAttendanceSession *session)
{
  if (session == NULL)
    return;
  g_free (session->id);
  g_free (session->room_id);
  g_free (session);
}

static void
session_free (gpointer data)
{
  kk_attendance_session_free (data);
}

static void
connection_free (gpointer data)
{
  KkAttendanceConnection *connection = data;

  g_free (connection->resource_id);
  g_free (connection->party_id);
  g_free (connection->reason);
  g_free (connection->relay_protocol);
  g_free (connection);
}

static void
row_free (gpointer data)
{
  KkAttendanceRow *row = data;

  g_free (row->participant_id);
  g_free (row->party_id);
  g_free (row->name);
  g_free (row->workplace);
  g_free (row->override_reason);
  g_free (row->override_by);
  g_ptr_array_unref (row->connections);
  g_clear_pointer (&row->intervals, g_array_unref);
  g_free (row);
}

void
kk_attendance_report_free (KkAttendanceReport *report)
{
  if (report == NULL)
    return;
  g_ptr_array_unref (report->rows);
  g_ptr_array_unref (report->sessions);
  g_free (report);
}

#define SESSION_COLUMNS "id, room_id, started_at, coalesce (ended_at, 0)," \
  " completion_ratio, grace_s, coalesce (max_lateness_s, -1)," \
  " require_code, prompts, prompt_window_s, prompt_interval_s," \
  " coalesce (scheduled_start, 0)"

static KkAttendanceSession *
read_session (KkDbStmt *stmt, gint64 now_us)
{
  KkAttendanceSession *session = g_new0 (KkAttendanceSession, 1);
  gint64 lateness_s = kk_db_column_int64 (stmt, 6);

  session->id = column_text (stmt, 0);
  session->room_id = column_text (stmt, 1);
  session->started_us = kk_db_column_int64 (stmt, 2);
  session->ended_us = kk_db_column_int64 (stmt, 3);
  session->live_end_us = session->ended_us != 0 ? session->ended_us
      : MAX (now_us, session->started_us);
  kk_attendance_policy_init (&session->policy);
  session->policy.completion_ratio = kk_db_column_double (stmt, 4);
  session->policy.grace_us = kk_db_column_int64 (stmt, 5) * G_USEC_PER_SEC;
  session->policy.max_lateness_us = lateness_s < 0 ? -1
      : lateness_s * G_USEC_PER_SEC;
  session->policy.require_code = kk_db_column_int64 (stmt, 7) != 0;
  session->policy.prompts = kk_db_column_int64 (stmt, 8);
  session->policy.prompt_window_us = kk_db_column_int64 (stmt, 9)
      * G_USEC_PER_SEC;
  if (!kk_db_column_is_null (stmt, 10))
    session->policy.prompt_interval_us = kk_db_column_int64 (stmt, 10)
        * G_USEC_PER_SEC;
  session->scheduled_start_us = kk_db_column_int64 (stmt, 11);
  return session;
}

static int
compare_rows (gconstpointer a, gconstpointer b)
{
  const KkAttendanceRow *x = *(KkAttendanceRow * const *) a;
  const KkAttendanceRow *y = *(KkAttendanceRow * const *) b;
  int c = g_utf8_collate (x->name, y->name);

  return c != 0 ? c : strcmp (x->participant_id, y->participant_id);
}

static KkAttendanceRow *
row_new (const KkAttendanceSession *session, KkDbStmt *stmt)
{
  KkAttendanceRow *row = g_new0 (KkAttendanceRow, 1);

  row->session = session;
  row->participant_id = column_text (stmt, 0);
  row->name = column_text (stmt, 1);
  row->workplace = column_text (stmt, 2);
  row->checked_in_us = kk_db_column_int64 (stmt, 3);
  row->party_id = column_text (stmt, 4);
  row->connections = g_ptr_array_new_with_free_func (connection_free);
  return row;
}

/* The session's prompts, oldest first, as KkPromptAnswer with nobody's
 * answers yet, and their ids in @ids. */
static gboolean
load_prompts (KkDb *db, const KkAttendanceSession *session,
    GArray *prompts, GPtrArray *ids, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT id, issued_at"
      " FROM att_prompts WHERE session_id = ?1 ORDER BY issued_at, id",
      error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, session->id);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    KkPromptAnswer prompt = { kk_db_column_int64 (stmt, 1), 0 };

    g_array_append_val (prompts, prompt);
    g_ptr_array_add (ids, column_text (stmt, 0));
  }
  return step == KK_DB_DONE;
}

/* The presence checks @row passed: the code (given by them, or by their
 * screen for everyone at it), and the earliest answer to each prompt. */
static gboolean
load_answers (const KkAttendanceSession *session, KkAttendanceRow *row,
    KkDbStmt *code, KkDbStmt *answers, GArray *prompts, GPtrArray *ids,
    GError **error)
{
  KkDbStep step;

  kk_db_reset (code);
  kk_db_bind_text (code, 1, session->id);
  kk_db_bind_text (code, 2, row->party_id);
  kk_db_bind_text (code, 3, row->participant_id);
  step = kk_db_step (code, error);
  if (step == KK_DB_ERROR)
    return FALSE;
  row->code_given = step == KK_DB_ROW;

  for (guint i = 0; i < prompts->len; i++)
    g_array_index (prompts, KkPromptAnswer, i).answered_us = 0;
  if (prompts->len == 0)
    return TRUE;
  kk_db_reset (answers);
  kk_db_bind_text (answers, 1, session->id);
  kk_db_bind_text (answers, 2, row->party_id);
  kk_db_bind_text (answers, 3, row->participant_id);
  while ((step = kk_db_step (answers, error)) == KK_DB_ROW) {
    const char *id = kk_db_column_text (answers, 0);

    for (guint i = 0; i < ids->len; i++)
      if (g_strcmp0 (ids->pdata[i], id) == 0)
        g_array_index (prompts, KkPromptAnswer, i).answered_us =
            kk_db_column_int64 (answers, 1);
  }
  return step == KK_DB_DONE;
}

/* Everyone whose party had a connection overlapping @session, with each
 * of those connections, into @people and @found. */
static gboolean
load_connected (KkDb *db, const KkAttendanceSession *session, gint64 now_us,
    GHashTable *people, GPtrArray *found, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT p.id, p.name,"
      " p.workplace, coalesce (k.checked_in_at, 0), p.party_id,"
      " c.resource_id, c.party_id, c.connected_at, c.left_at, c.reason,"
      " c.relay_protocol"
      " FROM att_connections c JOIN participants p ON p.party_id = c.party_id"
      " LEFT JOIN att_checkins k ON k.participant_id = p.id"
      " WHERE c.room_id = ?1 AND c.connected_at <= ?3"
      " AND coalesce (c.left_at, ?4) >= ?2"
      " AND coalesce (c.left_at, ?4) >= coalesce (k.checked_in_at, 0)"
      " ORDER BY c.connected_at", error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, session->room_id);
  kk_db_bind_int64 (stmt, 2, session->started_us);
  kk_db_bind_int64 (stmt, 3, session->live_end_us);
  kk_db_bind_int64 (stmt, 4, now_us);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    const char *id = kk_db_column_text (stmt, 0);
    KkAttendanceRow *row = g_hash_table_lookup (people, id);
    KkAttendanceConnection *connection = g_new0 (KkAttendanceConnection, 1);

    if (row == NULL) {
      row = row_new (session, stmt);
      g_hash_table_insert (people, row->participant_id, row);
      g_ptr_array_add (found, row);
    }
    connection->resource_id = column_text (stmt, 5);
    connection->party_id = column_text (stmt, 6);
    connection->connected_us = kk_db_column_int64 (stmt, 7);
    connection->left_us = kk_db_column_int64 (stmt, 8);
    if (!kk_db_column_is_null (stmt, 9))
      connection->reason = column_text (stmt, 9);
    if (!kk_db_column_is_null (stmt, 10))
      connection->relay_protocol = column_text (stmt, 10);
    g_ptr_array_add (row->connections, connection);
  }
  return step == KK_DB_DONE;
}

/* Invited and never seen: a row that says so (absent, 0 s), rather than
 * nothing, so that the coordinator sees who did not come. */
static gboolean
load_invited (KkDb *db, const KkAttendanceSession *session,
    GHashTable *people, GPtrArray *found, GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT p.id, p.name,"
      " p.workplace, 0, p.party_id"
      " FROM att_people a"
      " JOIN participants p ON p.id = a.participant_id"
      " WHERE a.room_id = ?1 AND a.invited_at <= ?2", error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, session->room_id);
  kk_db_bind_int64 (stmt, 2, session->live_end_us);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    KkAttendanceRow *row;

    if (g_hash_table_contains (people, kk_db_column_text (stmt, 0)))
      continue;
    row = row_new (session, stmt);
    g_hash_table_insert (people, row->participant_id, row);
    g_ptr_array_add (found, row);
  }
  return step == KK_DB_DONE;
}

/* Everyone whose party had a connection overlapping @session, and every
 * person pre-registered for its room before it ended (connected or not),
 * with their verdicts, appended to @rows. */
static gboolean
evaluate_session (KkDb *db, const KkAttendanceSession *session,
    gint64 now_us, GPtrArray *rows, GError **error)
{
  g_autoptr (GHashTable) people = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (row_free);
  g_autoptr (GArray) prompts = g_array_new (FALSE, FALSE,
      sizeof (KkPromptAnswer));
  g_autoptr (GPtrArray) prompt_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (KkDbStmt) override = NULL;
  g_autoptr (KkDbStmt) code = NULL;
  g_autoptr (KkDbStmt) answers = NULL;

  if (!load_connected (db, session, now_us, people, found, error)
      || !load_invited (db, session, people, found, error)
      || !load_prompts (db, session, prompts, prompt_ids, error))
    return FALSE;
  override = kk_db_prepare (db, "SELECT completed, reason, decided_by,"
      " decided_at FROM att_overrides"
      " WHERE session_id = ?1 AND participant_id = ?2", error);
  if (override == NULL)
    return FALSE;
  code = kk_db_prepare (db, "SELECT 1 FROM att_code_answers"
      " WHERE session_id = ?1 AND party_id = ?2"
      " AND (participant_id IS NULL OR participant_id = ?3)", error);
  if (code == NULL)
    return FALSE;
  answers = kk_db_prepare (db, "SELECT a.prompt_id, min (a.answered_at)"
      " FROM att_prompt_answers a JOIN att_prompts p ON p.id = a.prompt_id"
      " WHERE p.session_id = ?1 AND a.party_id = ?2"
      " AND (a.participant_id IS NULL OR a.participant_id = ?3)"
      " GROUP BY a.prompt_id", error);
  if (answers == NULL)
    return FALSE;
  g_ptr_array_sort (found, compare_rows);
  for (guint i = 0; i < found->len; i++) {
    KkAttendanceRow *row = found->pdata[i];
    g_autoptr (GArray) intervals = g_array_new (FALSE, FALSE,
        sizeof (KkInterval));

    for (guint j = 0; j < row->connections->len; j++) {
      KkAttendanceConnection *c = row->connections->pdata[j];
      /* Someone who checked in at a screen was seen there from that
       * moment: what the screen received before is not theirs. */
      KkInterval interval = { MAX (c->connected_us, row->checked_in_us),
        c->left_us != 0 ? c->left_us : now_us };

      g_array_append_val (intervals, interval);
    }
    if (!load_answers (session, row, code, answers, prompts, prompt_ids,
            error))
      return FALSE;
    kk_attendance_evaluate (&session->policy, session->started_us,
        session->live_end_us, session->scheduled_start_us,
        (KkInterval *) intervals->data, intervals->len,
        row->code_given, (KkPromptAnswer *) prompts->data, prompts->len,
        &row->result);
    row->completed = row->result.completed;
    /* What the report draws: when they watched, gaps and all. */
    row->intervals = g_array_copy (intervals);
    kk_intervals_union (row->intervals);
    kk_intervals_clip (row->intervals, session->started_us,
        session->live_end_us);

    /* A failure to read the override leaves the evaluated verdict. */
    kk_db_reset (override);
    kk_db_bind_text (override, 1, session->id);
    kk_db_bind_text (override, 2, row->participant_id);
    if (kk_db_step (override, NULL) == KK_DB_ROW) {
      row->overridden = TRUE;
      row->completed = kk_db_column_int64 (override, 0) != 0;
      row->override_reason = column_text (override, 1);
      row->override_by = column_text (override, 2);
      row->override_at_us = kk_db_column_int64 (override, 3);
    }
  }
  /* The rows change hands only now, all evaluated. */
  g_ptr_array_set_free_func (found, NULL);
  for (guint i = 0; i < found->len; i++)
    g_ptr_array_add (rows, found->pdata[i]);
  return TRUE;
}

/* The query's session by its id, or else its room's sessions that
 * @room_where (a condition on ?1, the room's id) picks. */
static KkDbStmt *
select_sessions (KkDb *db, const ReportQuery *query, const char *room_where,
    GError **error)
{
  g_autofree char *sql = g_strconcat ("SELECT " SESSION_COLUMNS
      " FROM att_sessions WHERE ", query->session_id != NULL ? "id = ?1"
      : room_where, NULL);
  KkDbStmt *stmt = kk_db_prepare (db, sql, error);

  if (stmt != NULL)
    kk_db_bind_text (stmt, 1, query->session_id != NULL ? query->session_id
        : query->room_id);
  return stmt;
}

static gpointer
report_job (KkDb *db, gpointer job_data, GError **error)
{
  ReportQuery *query = job_data;
  g_autoptr (KkAttendanceReport) report = g_new0 (KkAttendanceReport, 1);
  g_autoptr (KkDbStmt) stmt = NULL;
  KkDbStep step;

  report->sessions = g_ptr_array_new_with_free_func (session_free);
  report->rows = g_ptr_array_new_with_free_func (row_free);
  stmt = select_sessions (db, query, "room_id = ?1 ORDER BY started_at",
      error);
  if (stmt == NULL)
    return NULL;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW)
    g_ptr_array_add (report->sessions, read_session (stmt, query->now_us));
  if (step != KK_DB_DONE)
    return NULL;
  g_clear_pointer (&stmt, kk_db_stmt_free);
  if (query->session_id != NULL && report->sessions->len == 0) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
        "no attendance for session %s", query->session_id);
    return NULL;
  }
  for (guint i = 0; i < report->sessions->len; i++)
    if (!evaluate_session (db, report->sessions->pdata[i], query->now_us,
            report->rows, error))
      return NULL;
  return g_steal_pointer (&report);
}

/* Queues @job on a ReportQuery of @session_id and @room_id. */
static void
run_report_query (KkAttendanceLog *log, KkStoreJobFunc job,
    GDestroyNotify free_result, const char *session_id, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  ReportQuery *query = g_new0 (ReportQuery, 1);

  query->session_id = g_strdup (session_id);
  query->room_id = g_strdup (room_id);
  query->now_us = kk_attendance_log_now (log);
  /* Events waiting behind a write in flight go first, so the report sees
   * everything received until now. */
  if (log->pending->len > 0 && !log->shut_down)
    submit_pending (log);
  kk_store_run_async (log->store, job, query, report_query_free,
      free_result, callback, user_data);
}

void
kk_attendance_log_report_async (KkAttendanceLog *log, const char *session_id,
    const char *room_id, GAsyncReadyCallback callback, gpointer user_data)
{
  run_report_query (log, report_job,
      (GDestroyNotify) kk_attendance_report_free, session_id, room_id,
      callback, user_data);
}

KkAttendanceReport *
kk_attendance_log_report_finish (KkAttendanceLog *log, GAsyncResult *result,
    GError **error)
{
  return kk_store_run_finish (log->store, result, error);
}

typedef struct {
  char *session_id;
  gint64 now_us;
} SessionQuery;

static void
session_query_free (gpointer data)
{
  SessionQuery *query = data;

  g_free (query->session_id);
  g_free (query);
}

static gpointer
session_job (KkDb *db, gpointer job_data, GError **error)
{
  SessionQuery *query = job_data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT " SESSION_COLUMNS
      " FROM att_sessions WHERE id = ?1", error);

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, query->session_id);
  switch (kk_db_step (stmt, error)) {
    case KK_DB_ROW:
      return read_session (stmt, query->now_us);
    case KK_DB_DONE:
      g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
          "no session %s", query->session_id);
      return NULL;
    case KK_DB_ERROR:
    default:
      return NULL;
  }
}

void
kk_attendance_log_get_session_async (KkAttendanceLog *log,
    const char *session_id, GAsyncReadyCallback callback, gpointer user_data)
{
  SessionQuery *query = g_new0 (SessionQuery, 1);

  query->session_id = g_strdup (session_id);
  query->now_us = kk_attendance_log_now (log);
  if (log->pending->len > 0 && !log->shut_down)
    submit_pending (log);
  kk_store_run_async (log->store, session_job, query, session_query_free,
      session_free, callback, user_data);
}

KkAttendanceSession *
kk_attendance_log_get_session_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error)
{
  return kk_store_run_finish (log->store, result, error);
}

/* ---- the audience over time ---- */

void
kk_attendance_audience_free (KkAttendanceAudience *audience)
{
  if (audience == NULL)
    return;
  kk_attendance_session_free (audience->session);
  g_clear_pointer (&audience->points, g_array_unref);
  g_free (audience);
}

static void
audience_free (gpointer data)
{
  kk_attendance_audience_free (data);
}

/* The screens' and the people's spans of @rows (load_connected's): a
 * screen watches while any of its connections is open, a person from
 * their check-in on. Every row lists its screen's connections, so a
 * screen's spans come once per person at it; they overlap, and
 * kk_audience_series counts the screen once. */
static GArray *
audience_of (const KkAttendanceSession *session, GPtrArray *rows,
    gint64 now_us)
{
  g_autoptr (GHashTable) screen_keys = g_hash_table_new (g_str_hash,
      g_str_equal);
  g_autoptr (GArray) screens = g_array_new (FALSE, FALSE,
      sizeof (KkAudienceSpan));
  g_autoptr (GArray) people = g_array_new (FALSE, FALSE,
      sizeof (KkAudienceSpan));

  for (guint i = 0; i < rows->len; i++) {
    const KkAttendanceRow *row = rows->pdata[i];

    for (guint j = 0; j < row->connections->len; j++) {
      const KkAttendanceConnection *c = row->connections->pdata[j];
      gpointer key;
      KkAudienceSpan screen, person;

      if (!g_hash_table_lookup_extended (screen_keys, c->party_id, NULL,
              &key)) {
        key = GUINT_TO_POINTER (g_hash_table_size (screen_keys));
        g_hash_table_insert (screen_keys, c->party_id, key);
      }
      screen.key = GPOINTER_TO_UINT (key);
      screen.start_us = c->connected_us;
      screen.end_us = c->left_us != 0 ? c->left_us : now_us;
      person.key = i;
      person.start_us = MAX (c->connected_us, row->checked_in_us);
      person.end_us = screen.end_us;
      g_array_append_val (screens, screen);
      g_array_append_val (people, person);
    }
  }
  return kk_audience_series ((KkAudienceSpan *) screens->data, screens->len,
      (KkAudienceSpan *) people->data, people->len, session->started_us,
      session->live_end_us);
}

/* A ReportQuery whose session_id NULL means the room's live session. */
static gpointer
audience_job (KkDb *db, gpointer job_data, GError **error)
{
  ReportQuery *query = job_data;
  g_autoptr (KkDbStmt) stmt = NULL;
  g_autoptr (KkAttendanceAudience) audience = NULL;
  g_autoptr (GHashTable) people = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (row_free);
  KkDbStep step;

  stmt = select_sessions (db, query, "room_id = ?1 AND ended_at IS NULL"
      " ORDER BY started_at DESC LIMIT 1", error);
  if (stmt == NULL)
    return NULL;
  step = kk_db_step (stmt, error);
  if (step == KK_DB_ERROR)
    return NULL;
  if (step == KK_DB_DONE) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
        query->session_id != NULL ? "no session %s" : "%s is not live",
        query->session_id != NULL ? query->session_id : query->room_id);
    return NULL;
  }
  audience = g_new0 (KkAttendanceAudience, 1);
  audience->session = read_session (stmt, query->now_us);
  g_clear_pointer (&stmt, kk_db_stmt_free);
  if (!load_connected (db, audience->session, query->now_us, people, rows,
          error))
    return NULL;
  audience->points = audience_of (audience->session, rows, query->now_us);
  return g_steal_pointer (&audience);
}

void
kk_attendance_log_audience_async (KkAttendanceLog *log,
    const char *session_id, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  run_report_query (log, audience_job, audience_free, session_id, room_id,
      callback, user_data);
}

KkAttendanceAudience *
kk_attendance_log_audience_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error)
{
  return kk_store_run_finish (log->store, result, error);
}

/* ---- settings and overrides ---- */

typedef struct {
  char *room_id;
  KkAttendanceSettings settings;
} SettingsJob;

static void
settings_job_free (gpointer data)
{
  SettingsJob *job = data;

  g_free (job->room_id);
  g_free (job);
}

static gpointer
get_settings_job (KkDb *db, gpointer job_data, GError **error)
{
  SettingsJob *job = job_data;
  KkAttendanceSettings *settings;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT"
      " coalesce (completion_ratio, -1), grace_s,"
      " coalesce (max_lateness_s, -1), require_code, prompts,"
      " prompt_window_s, retention_days, prompt_interval_s FROM att_settings"
      " WHERE room_id = ?1", error);

  if (stmt == NULL)
    return NULL;
  settings = g_new0 (KkAttendanceSettings, 1);
  kk_attendance_policy_init (&settings->policy);
  settings->policy.completion_ratio = -1;
  kk_db_bind_text (stmt, 1, job->room_id);
  /* No row (or none readable): the defaults. */
  if (kk_db_step (stmt, NULL) == KK_DB_ROW) {
    gint64 lateness_s = kk_db_column_int64 (stmt, 2);

    settings->policy.completion_ratio = kk_db_column_double (stmt, 0);
    settings->policy.grace_us = kk_db_column_int64 (stmt, 1)
        * G_USEC_PER_SEC;
    settings->policy.max_lateness_us = lateness_s < 0 ? -1
        : lateness_s * G_USEC_PER_SEC;
    settings->policy.require_code = kk_db_column_int64 (stmt, 3) != 0;
    settings->policy.prompts = kk_db_column_int64 (stmt, 4);
    settings->policy.prompt_window_us = kk_db_column_int64 (stmt, 5)
        * G_USEC_PER_SEC;
    settings->retention_days = kk_db_column_int64 (stmt, 6);
    if (!kk_db_column_is_null (stmt, 7))
      settings->policy.prompt_interval_us = kk_db_column_int64 (stmt, 7)
          * G_USEC_PER_SEC;
  }
  return settings;
}

void
kk_attendance_log_get_settings_async (KkAttendanceLog *log,
    const char *room_id, GAsyncReadyCallback callback, gpointer user_data)
{
  SettingsJob *job = g_new0 (SettingsJob, 1);

  job->room_id = g_strdup (room_id);
  kk_store_run_async (log->store, get_settings_job, job, settings_job_free,
      g_free, callback, user_data);
}

KkAttendanceSettings *
kk_attendance_log_get_settings_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error)
{
  return kk_store_run_finish (log->store, result, error);
}

static gpointer
set_settings_job (KkDb *db, gpointer job_data, GError **error)
{
  SettingsJob *job = job_data;
  const KkAttendancePolicy *policy = &job->settings.policy;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "INSERT INTO att_settings"
      " (room_id, completion_ratio, grace_s, max_lateness_s, require_code,"
      " prompts, prompt_window_s, retention_days, prompt_interval_s)"
      " VALUES (?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT (room_id) DO UPDATE SET"
      " completion_ratio = excluded.completion_ratio,"
      " grace_s = excluded.grace_s,"
      " max_lateness_s = excluded.max_lateness_s,"
      " require_code = excluded.require_code,"
      " prompts = excluded.prompts,"
      " prompt_window_s = excluded.prompt_window_s,"
      " retention_days = excluded.retention_days,"
      " prompt_interval_s = excluded.prompt_interval_s", error);

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, job->room_id);
  if (policy->completion_ratio >= 0)
    kk_db_bind_double (stmt, 2, policy->completion_ratio);
  else
    kk_db_bind_null (stmt, 2);
  kk_db_bind_int64 (stmt, 3, policy->grace_us / G_USEC_PER_SEC);
  if (policy->max_lateness_us >= 0)
    kk_db_bind_int64 (stmt, 4, policy->max_lateness_us / G_USEC_PER_SEC);
  else
    kk_db_bind_null (stmt, 4);
  kk_db_bind_int64 (stmt, 5, policy->require_code ? 1 : 0);
  kk_db_bind_int64 (stmt, 6, policy->prompts);
  kk_db_bind_int64 (stmt, 7, policy->prompt_window_us / G_USEC_PER_SEC);
  kk_db_bind_int64 (stmt, 8, job->settings.retention_days);
  kk_db_bind_int64 (stmt, 9, policy->prompt_interval_us / G_USEC_PER_SEC);
  if (!kk_db_step_done (stmt, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

void
kk_attendance_log_set_settings_async (KkAttendanceLog *log,
    const char *room_id, const KkAttendanceSettings *settings,
    GAsyncReadyCallback callback, gpointer user_data)
{
  SettingsJob *job = g_new0 (SettingsJob, 1);

  job->room_id = g_strdup (room_id);
  job->settings = *settings;
  kk_store_run_async (log->store, set_settings_job, job, settings_job_free,
      NULL, callback, user_data);
}

gboolean
kk_attendance_log_set_settings_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error)
{
  return kk_store_run_finish (log->store, result, error) != NULL;
}

typedef struct {
  char *session_id;
  char *participant_id;
  gboolean completed;
  char *reason;
  char *by;
  gint64 at_us;
  gint64 wall_us;
  char *room_id;                /* set by the job: the session's room */
} OverrideJob;

static void
override_job_free (gpointer data)
{
  OverrideJob *job = data;

  g_free (job->session_id);
  g_free (job->participant_id);
  g_free (job->reason);
  g_free (job->by);
  g_free (job->room_id);
  g_free (job);
}

static gboolean
row_exists (KkDb *db, const char *sql, const char *key, GError **error,
    gboolean *exists)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, sql, error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, key);
  step = kk_db_step (stmt, error);
  if (step == KK_DB_ERROR)
    return FALSE;
  *exists = step == KK_DB_ROW;
  return TRUE;
}

/* The decision, and its raw event (a later override does not erase the
 * earlier one's trace), together. */
static gboolean
store_override (KkDb *db, gpointer user_data, GError **error)
{
  OverrideJob *job = user_data;
  g_autofree char *detail = NULL;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "INSERT INTO att_overrides"
      " (session_id, participant_id, completed, reason, decided_by,"
      " decided_at) VALUES (?,?,?,?,?,?)"
      " ON CONFLICT (session_id, participant_id) DO UPDATE SET"
      " completed = excluded.completed, reason = excluded.reason,"
      " decided_by = excluded.decided_by, decided_at = excluded.decided_at",
      error);

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->session_id);
  kk_db_bind_text (stmt, 2, job->participant_id);
  kk_db_bind_int64 (stmt, 3, job->completed ? 1 : 0);
  kk_db_bind_text (stmt, 4, job->reason);
  kk_db_bind_text (stmt, 5, job->by);
  kk_db_bind_int64 (stmt, 6, job->at_us);
  if (!kk_db_step_done (stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);

  detail = g_strdup_printf ("session %s: completed=%s by %s: %s",
      job->session_id, job->completed ? "true" : "false", job->by,
      job->reason);
  stmt = kk_db_prepare (db, "INSERT INTO att_events (room_id, kind, subject,"
      " at, wall_at, detail) VALUES (?, 'override', ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->room_id);
  kk_db_bind_text (stmt, 2, job->participant_id);
  kk_db_bind_int64 (stmt, 3, job->at_us);
  kk_db_bind_int64 (stmt, 4, job->wall_us);
  kk_db_bind_text (stmt, 5, detail);
  return kk_db_step_done (stmt, error);
}

static gpointer
override_job (KkDb *db, gpointer job_data, GError **error)
{
  OverrideJob *job = job_data;
  g_autoptr (KkDbStmt) stmt = NULL;
  gboolean exists = FALSE;

  if (!row_exists (db, "SELECT 1 FROM participants WHERE id = ?1",
          job->participant_id, error, &exists))
    return NULL;
  if (!exists) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
        "no participant %s", job->participant_id);
    return NULL;
  }
  stmt = kk_db_prepare (db, "SELECT room_id FROM att_sessions WHERE id = ?1",
      error);
  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, job->session_id);
  /* A session that cannot be read is not there to override. */
  if (kk_db_step (stmt, NULL) == KK_DB_ROW)
    job->room_id = column_text (stmt, 0);
  g_clear_pointer (&stmt, kk_db_stmt_free);
  if (job->room_id == NULL) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
        "no session %s", job->session_id);
    return NULL;
  }
  if (!kk_db_transaction (db, store_override, job, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

void
kk_attendance_log_override_async (KkAttendanceLog *log,
    const char *session_id, const char *participant_id, gboolean completed,
    const char *reason, const char *by, GAsyncReadyCallback callback,
    gpointer user_data)
{
  OverrideJob *job = g_new0 (OverrideJob, 1);

  job->session_id = g_strdup (session_id);
  job->participant_id = g_strdup (participant_id);
  job->completed = completed;
  job->reason = g_strdup (reason);
  job->by = g_strdup (by);
  job->at_us = kk_attendance_log_now (log);
  job->wall_us = g_get_real_time ();
  kk_store_run_async (log->store, override_job, job, override_job_free,
      NULL, callback, user_data);
}

gboolean
kk_attendance_log_override_finish (KkAttendanceLog *log,
    GAsyncResult *result, GError **error)
{
  return kk_store_run_finish (log->store, result, error) != NULL;
}

/* ---- lifecycle ---- */

static void
disconnect_lectures (KkAttendanceLog *log)
{
  for (guint i = 0; i < log->lectures->len; i++)
    g_signal_handlers_disconnect_by_data (log->lectures->pdata[i], log);
  g_ptr_array_set_size (log->lectures, 0);
}

void
kk_attendance_log_shutdown (KkAttendanceLog *log)
{
  if (log->shut_down)
    return;
  if (log->heartbeat_timer != 0)
    g_source_remove (log->heartbeat_timer);
  if (log->purge_timer != 0)
    g_source_remove (log->purge_timer);
  log->heartbeat_timer = log->purge_timer = 0;
  disconnect_lectures (log);
  /* Queued behind any job in flight; the store runs them in order. */
  if (log->pending->len > 0)
    submit_pending (log);
  log->shut_down = TRUE;
}

KkAttendanceLog *
kk_attendance_log_new (KkStore *store)
{
  KkAttendanceLog *log = g_object_new (KK_TYPE_ATTENDANCE_LOG, NULL);

  log->store = g_object_ref (store);
  log->anchor_wall_us = g_get_real_time ();
  log->anchor_mono_us = g_get_monotonic_time ();
  kk_store_run_async (store, setup_job, NULL, NULL, NULL, setup_done,
      NULL);
  on_purge (log);
  log->heartbeat_timer = g_timeout_add (KK_ATTENDANCE_HEARTBEAT_MS,
      on_heartbeat, log);
  log->purge_timer = g_timeout_add_seconds (RETENTION_PURGE_S, on_purge, log);
  return log;
}

static void
kk_attendance_log_dispose (GObject *object)
{
  KkAttendanceLog *log = KK_ATTENDANCE_LOG (object);

  if (log->heartbeat_timer != 0)
    g_source_remove (log->heartbeat_timer);
  if (log->purge_timer != 0)
    g_source_remove (log->purge_timer);
  log->heartbeat_timer = log->purge_timer = 0;
  disconnect_lectures (log);
  G_OBJECT_CLASS (kk_attendance_log_parent_class)->dispose (object);
}

static void
kk_attendance_log_finalize (GObject *object)
{
  KkAttendanceLog *log = KK_ATTENDANCE_LOG (object);

  if (log->pending->len > 0)
    g_warning ("attendance: %u events lost: the log was freed before "
        "kk_attendance_log_shutdown()", log->pending->len);
  g_ptr_array_unref (log->pending);
  g_ptr_array_unref (log->lectures);
  g_array_unref (log->purgers);
  g_clear_object (&log->store);
  G_OBJECT_CLASS (kk_attendance_log_parent_class)->finalize (object);
}

static void
kk_attendance_log_class_init (KkAttendanceLogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = kk_attendance_log_dispose;
  object_class->finalize = kk_attendance_log_finalize;
}

static void
kk_attendance_log_init (KkAttendanceLog *log)
{
  log->pending = g_ptr_array_new_with_free_func (att_event_free);
  log->lectures = g_ptr_array_new_with_free_func (g_object_unref);
  log->purgers = g_array_new (FALSE, FALSE, sizeof (KkAttendancePurgeFunc));
}
