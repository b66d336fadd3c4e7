/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-schedule: sessions planned ahead by the course coordinator.
 *
 * A room's session may be scheduled (a start and an end) before anyone
 * broadcasts. The broadcast that starts within its window, from
 * %KK_STORE_SCHEDULE_LEAD_S before the scheduled start until the
 * scheduled end, becomes that session (the store decides, in the same
 * transaction that starts the session: see kk_store_session_start()), so
 * attendance and the recording carry the planned id. A session that was
 * never broadcast is "missed" once its scheduled end has passed; that is
 * derived from the times, not stored.
 *
 * Routes, all for the coordinator's token only (401 without a valid
 * token, 403 for a host's or participant's):
 *
 *   POST   /api/rooms/{room}/sessions   {"starts_at","ends_at"} → 201
 *   GET    /api/sessions/{id}           one session → 200
 *   PATCH  /api/sessions/{id}           new times → 200 (409 once live)
 *   DELETE /api/sessions/{id}           cancels it → 204 (409 once live)
 *
 * Times are RFC 3339 with an offset ("2025-03-04T10:00:00+01:00"); the
 * relay answers in UTC ("2025-03-04T09:00:00Z").
 *
 * The sessions not yet broadcast are also kept in memory (loaded at
 * startup, updated by every change and every broadcast start), so that a
 * room's JSON, which every waiting nurse's page polls, can say when the
 * next one starts without a query. Main context only.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kk-lecture.h"
#include "kk-room.h"
#include "kk-store.h"

G_BEGIN_DECLS

/* Bounds on what may be scheduled, from the moment of the request: a
 * session lasts 1 min to 24 h and starts at most a year ago (the plan of
 * a past session, entered late, shows it was missed) and at most three
 * years ahead. */
#define KK_SCHEDULE_MIN_DURATION_S 60
#define KK_SCHEDULE_MAX_DURATION_S (24 * 3600)
#define KK_SCHEDULE_MAX_PAST_S (366 * 86400)
#define KK_SCHEDULE_MAX_AHEAD_S (3 * 366 * 86400)

typedef enum {
  KK_SESSION_SCHEDULED,       /* planned, not broadcast, its end not past */
  KK_SESSION_LIVE,            /* being broadcast */
  KK_SESSION_ENDED,           /* was broadcast */
  KK_SESSION_MISSED,          /* planned, never broadcast, its end past */
} KkSessionState;

/* "scheduled", "live", "ended", "missed". */
const char *kk_session_state_to_string (KkSessionState state);
KkSessionState kk_session_state (const KkStoreSession *session,
    gint64 now_us);

/**
 * kk_schedule_parse_request:
 * @partial: TRUE for a PATCH body, where either member may be left out
 *   (at least one must be there)
 * @start_us: (out): the start in microseconds since the epoch, whole
 *   seconds (fractions are dropped); 0 when left out
 * @end_us: (out): the end, likewise
 *
 * Parses `{"starts_at": RFC 3339 time, "ends_at": RFC 3339 time}`. The
 * times must carry an offset (`Z` or `±hh:mm`): a time without one means
 * different things on the coordinator's machine and the relay's. Unknown
 * members are refused.
 *
 * Returns: FALSE with an error that maps to 400.
 */
gboolean kk_schedule_parse_request (const char *data, gsize length,
    gboolean partial, gint64 *start_us, gint64 *end_us, GError **error);

/* Checks @start_us and @end_us against the bounds above, as of @now_us.
 * Returns: FALSE with an error that maps to 400. */
gboolean kk_schedule_validate_times (gint64 start_us, gint64 end_us,
    gint64 now_us, GError **error);

/**
 * kk_schedule_build_session:
 * @store: for the session's recording (kk-recordings)
 *
 * One session as the API shows it: `{"id", "room", "state",
 * "scheduled_start", "scheduled_end", "started_at", "ended_at",
 * "recording"}`; the times in UTC, null where there is none (an ad hoc
 * session has no schedule, a planned one no broadcast yet).
 */
void kk_schedule_build_session (JsonBuilder *builder, KkStore *store,
    const KkStoreSession *session, gint64 now_us);

#define KK_TYPE_SCHEDULE (kk_schedule_get_type ())
G_DECLARE_FINAL_TYPE (KkSchedule, kk_schedule, KK, SCHEDULE, GObject)

/**
 * kk_schedule_new:
 * @store: (transfer none): a reference is kept
 * @registry: (transfer none): a reference is kept; for rooms and tokens
 *
 * Loads the sessions not yet broadcast, synchronously (startup only).
 *
 * Returns: (transfer full): the schedule, or NULL with @error.
 */
KkSchedule *kk_schedule_new (KkStore *store, KkRoomRegistry *registry,
    GError **error);

/* Follows @lecture's broadcasts (a session that goes live is no longer
 * next), and lets its room's JSON find the schedule (see
 * kk_schedule_add_next_session()). */
void kk_schedule_watch (KkSchedule *schedule, KkLecture *lecture);

/* Adds the routes above to @server (from kk_http_server_new()). */
void kk_schedule_register (KkSchedule *schedule, SoupServer *server);

/**
 * kk_schedule_add_next_session:
 *
 * Adds the member `"next_session"` to the object @builder is building:
 * `{"id", "starts_at", "ends_at"}` of @room's earliest session not yet
 * broadcast whose scheduled end is still ahead, or null (also for a room
 * no schedule watches).
 */
void kk_schedule_add_next_session (JsonBuilder *builder, KkRoom *room);

G_END_DECLS
