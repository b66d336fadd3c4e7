/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-store: the durable state (rooms, parties and their participants,
 * sessions: broadcast, and planned ahead) in SQLite or PostgreSQL, run on
 * one dedicated worker thread.
 *
 * Every asynchronous call is answered on the GMainContext that was the
 * thread-default when it was made, through a GAsyncReadyCallback and a
 * matching _finish function, exactly once. Jobs run in submission order.
 * The few synchronous calls (open, the startup loads) block the caller
 * until the worker has done the job; they are meant for startup only.
 *
 * Tokens are never stored: a viewer token is kept as the hex SHA-256 of
 * itself. Host tokens are stored as they are, because the coordinator may
 * read them back (GET /api/rooms with the admin token).
 *
 * Times are microseconds since the Unix epoch (g_get_real_time()).
 */
#pragma once

#include <gio/gio.h>

#include "kk-config.h"
#include "kk-db.h"
#include "kk-schema.h"

G_BEGIN_DECLS

/* A broadcast that starts from this long before a scheduled session's
 * start until its scheduled end becomes that session. */
#define KK_STORE_SCHEDULE_LEAD_S 3600

/* One person in a party; the party's own person comes first. */
typedef struct {
  char *id;
  char *name;
  char *workplace;            /* "" when not given */
} KkStoreParticipant;

/* A viewer token holder and the people at that screen. */
typedef struct {
  char *id;
  char *room_id;
  char *token_hash;           /* hex SHA-256 of the token */
  gint64 created_at;
  GPtrArray *participants;    /* element-type KkStoreParticipant, >= 1 */
} KkStoreParty;

/* A session: a broadcast, a planned one (scheduled), or both once a
 * planned one went live. */
typedef struct {
  char *id;
  char *room_id;
  gint64 started_at;          /* the broadcast's; 0 while not broadcast */
  gint64 ended_at;            /* 0 while the broadcast is live, or before */
  char *recording;            /* nullable: the recording's file path */
  gint64 scheduled_start;     /* 0: ad hoc (never planned) */
  gint64 scheduled_end;       /* 0: ad hoc */
} KkStoreSession;

void kk_store_participant_free (KkStoreParticipant *participant);
KkStoreParty *kk_store_party_new (void);
void kk_store_party_free (KkStoreParty *party);
void kk_store_session_free (KkStoreSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkStoreParty, kk_store_party_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkStoreSession, kk_store_session_free)

#define KK_TYPE_STORE (kk_store_get_type ())
G_DECLARE_FINAL_TYPE (KkStore, kk_store, KK, STORE, GObject)

/**
 * kk_store_open:
 * @data_dir: the daemon's data directory; created (mode 0750) if missing
 * @database: (nullable): a PostgreSQL connection URL
 *   (`postgresql://...`, see kk_db_pg_open()), for several relays sharing
 *   one database; NULL for the embedded default, `<data_dir>/kringkast.db`
 *
 * Starts the worker thread and opens the database on it (SQLite: WAL
 * journal, synchronous=FULL, foreign keys on), creating or migrating the
 * schema; relays opening one PostgreSQL database at once migrate it once,
 * one after the other. Sessions a crash left open are closed at their
 * start time, with a log line each. Blocks until done.
 *
 * Returns: (transfer full): the store, or NULL with @error (a database
 * that cannot be reached is one).
 */
KkStore *kk_store_open (const char *data_dir, const char *database,
    GError **error);

/**
 * kk_store_close:
 *
 * Runs every job already queued, closes the database and joins the worker.
 * Results of those jobs are still delivered, when their contexts next run.
 * Later calls fail with %KK_STORE_ERROR_CLOSED. Idempotent; also done at
 * finalization. Call it at shutdown before exiting, after queueing the
 * last writes (ending sessions), so they reach the disk.
 */
void kk_store_close (KkStore *store);

/* Returns: (transfer none): the data directory given to kk_store_open(). */
const char *kk_store_get_data_dir (KkStore *store);

/**
 * kk_store_load_admin_token:
 * @data_dir: the data directory (must exist)
 *
 * The coordinator token when KRINGKAST_ADMIN_TOKEN is not set: read from
 * `<data_dir>/admin-token`, or, at first start, made (32 random bytes,
 * base64url), written there with mode 0600 and printed once to stderr.
 *
 * Returns: (transfer full): the token, or NULL with @error.
 */
char *kk_store_load_admin_token (const char *data_dir, GError **error);

/* A fresh secret: 32 bytes from OpenSSL's CSPRNG, base64url without
 * padding (43 characters). Returns: (transfer full). */
char *kk_store_new_token (void);

/* Returns: (transfer full): the lowercase hex SHA-256 of @token, the form
 * in which viewer tokens are stored and looked up. */
char *kk_store_hash_token (const char *token);

/* Startup loads, synchronous. Returns: (transfer full): arrays of
 * KkRoomConfig (host_token set) ordered by id, and of KkStoreParty (with
 * participants) ordered by creation; NULL with @error. */
GPtrArray *kk_store_load_rooms (KkStore *store, GError **error);
GPtrArray *kk_store_load_parties (KkStore *store, GError **error);

/**
 * kk_store_ensure_room:
 * @room: a preconfigured room
 *
 * Synchronous, for config rooms at startup: inserts @room, or updates the
 * stored row's title, record, completion ratio and source from it. The
 * host token is @room's when it has one, else the stored one, else a new
 * one.
 *
 * Returns: (transfer full): the room as stored, or NULL with @error.
 */
KkRoomConfig *kk_store_ensure_room (KkStore *store, const KkRoomConfig *room,
    GError **error);

/* Inserts a new room (@room->host_token must be set); %KK_STORE_ERROR_EXISTS
 * if the id is taken. @room is copied. */
void kk_store_insert_room_async (KkStore *store, const KkRoomConfig *room,
    GAsyncReadyCallback callback, gpointer user_data);
gboolean kk_store_insert_room_finish (KkStore *store, GAsyncResult *result,
    GError **error);

/* Changes a stored room's title (unless NULL), record (unless < 0) and
 * completion ratio (unless NaN), leaving the other columns as they are;
 * %KK_STORE_ERROR_NOT_FOUND if there is no room @room_id. */
void kk_store_update_room_async (KkStore *store, const char *room_id,
    const char *title, int record, double completion_ratio,
    GAsyncReadyCallback callback, gpointer user_data);
gboolean kk_store_update_room_finish (KkStore *store, GAsyncResult *result,
    GError **error);

/* Inserts a party and its participants in one transaction. @party is
 * copied; @party->created_at of 0 means now. */
void kk_store_insert_party_async (KkStore *store, const KkStoreParty *party,
    GAsyncReadyCallback callback, gpointer user_data);
gboolean kk_store_insert_party_finish (KkStore *store, GAsyncResult *result,
    GError **error);

/**
 * kk_store_session_start:
 *
 * A broadcast of @room_id began at @started_at_us. It becomes the
 * scheduled session of the room whose window covers that moment (from
 * %KK_STORE_SCHEDULE_LEAD_S before its scheduled start until its
 * scheduled end) and that has not been broadcast, the earliest scheduled
 * first; without one, it is a new, ad hoc session. Finish returns:
 * (transfer full): the session's id.
 */
void kk_store_session_start (KkStore *store, const char *room_id,
    gint64 started_at_us, GAsyncReadyCallback callback, gpointer user_data);
char *kk_store_session_start_finish (KkStore *store, GAsyncResult *result,
    GError **error);

/* The broadcast ended; %KK_STORE_ERROR_NOT_FOUND if there is no open
 * session @session_id. @callback may be NULL. */
void kk_store_session_end (KkStore *store, const char *session_id,
    gint64 ended_at_us, GAsyncReadyCallback callback, gpointer user_data);
gboolean kk_store_session_end_finish (KkStore *store, GAsyncResult *result,
    GError **error);

/* Sessions of @room_id (nullable: all rooms), scheduled and broadcast,
 * oldest first (by scheduled start, else broadcast start). Finish
 * returns: (transfer full) (element-type KkStoreSession). */
void kk_store_list_sessions (KkStore *store, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *kk_store_list_sessions_finish (KkStore *store,
    GAsyncResult *result, GError **error);

/* Planned sessions. Times are microseconds since the epoch, start before
 * end; the planned times of one room's sessions never overlap
 * (%KK_STORE_ERROR_CONFLICT). Scheduling and rescheduling both finish
 * with kk_store_schedule_session_finish(), which returns: (transfer full):
 * the session as stored. */

/* A new scheduled session of @room_id (%KK_STORE_ERROR_NOT_FOUND if there
 * is no such room). */
void kk_store_schedule_session (KkStore *store, const char *room_id,
    gint64 start_us, gint64 end_us, GAsyncReadyCallback callback,
    gpointer user_data);
/* New times for a session not yet broadcast: %KK_STORE_ERROR_NOT_FOUND,
 * or %KK_STORE_ERROR_CONFLICT once it has gone live (or was ad hoc). */
void kk_store_reschedule_session (KkStore *store, const char *session_id,
    gint64 start_us, gint64 end_us, GAsyncReadyCallback callback,
    gpointer user_data);
KkStoreSession *kk_store_schedule_session_finish (KkStore *store,
    GAsyncResult *result, GError **error);
/* Deletes a session not yet broadcast; errors as for rescheduling. */
void kk_store_cancel_session (KkStore *store, const char *session_id,
    GAsyncReadyCallback callback, gpointer user_data);
gboolean kk_store_cancel_session_finish (KkStore *store,
    GAsyncResult *result, GError **error);
/* One session; %KK_STORE_ERROR_NOT_FOUND. Finish returns: (transfer
 * full). */
void kk_store_get_session (KkStore *store, const char *session_id,
    GAsyncReadyCallback callback, gpointer user_data);
KkStoreSession *kk_store_get_session_finish (KkStore *store,
    GAsyncResult *result, GError **error);

/* Startup load, synchronous. Returns: (transfer full) (element-type
 * KkStoreSession): the scheduled sessions not broadcast whose scheduled
 * end is after @now_us, earliest first; NULL with @error. */
GPtrArray *kk_store_load_scheduled (KkStore *store, gint64 now_us,
    GError **error);

/**
 * KkStoreJobFunc:
 * @db: the connection; valid only during the call
 * @job_data: what was given to kk_store_run_async()
 *
 * Runs on the store's worker thread, so it must touch nothing but @db and
 * @job_data. Returns: (transfer full) (nullable): the result, or NULL with
 * @error set on failure.
 */
typedef gpointer (*KkStoreJobFunc) (KkDb *db, gpointer job_data,
    GError **error);

/**
 * kk_store_run_async:
 * @job_data_free: (nullable): frees @job_data, on the worker thread
 * @result_free: (nullable): frees a result nobody collected
 *
 * Queues @func for the worker thread: the way for other modules to add
 * queries of their own without a connection of their own. A NULL result
 * without error is a success with no value.
 */
void kk_store_run_async (KkStore *store, KkStoreJobFunc func,
    gpointer job_data, GDestroyNotify job_data_free,
    GDestroyNotify result_free, GAsyncReadyCallback callback,
    gpointer user_data);
/* Returns: (transfer full) (nullable): the job's result. */
gpointer kk_store_run_finish (KkStore *store, GAsyncResult *result,
    GError **error);

G_END_DECLS
