/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-schedule-api: the routes of sessions planned ahead (kk-schedule),
 * all for the coordinator's token only (401 without a valid token, 403
 * for a host's or participant's):
 *
 *   POST   /api/rooms/{room}/sessions   {"starts_at","ends_at"} → 201
 *   GET    /api/sessions/{id}           one session → 200
 *   PATCH  /api/sessions/{id}           new times → 200 (409 once live)
 *   DELETE /api/sessions/{id}           cancels it → 204 (409 once live)
 *
 * Times are RFC 3339 with an offset ("2025-03-04T10:00:00+01:00"); the
 * relay answers in UTC ("2025-03-04T09:00:00Z"). A session's JSON, also
 * listed by kk-api's GET /api/sessions, is built here. The body parsers
 * are public so the fuzzer exercises exactly what the handlers run.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kk-auth.h"
#include "kk-recordings.h"
#include "kk-room.h"
#include "kk-schedule.h"
#include "kk-store.h"

G_BEGIN_DECLS

/**
 * kk_schedule_api_parse_request:
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
gboolean kk_schedule_api_parse_request (const char *data, gsize length,
    gboolean partial, gint64 *start_us, gint64 *end_us, GError **error);

/* Checks @start_us and @end_us against the bounds of kk-schedule.h, as of
 * @now_us.
 * Returns: FALSE with an error that maps to 400. */
gboolean kk_schedule_api_validate_times (gint64 start_us, gint64 end_us,
    gint64 now_us, GError **error);

/**
 * kk_schedule_api_build_session:
 * @recordings: (nullable): for the session's recording
 *
 * One session as the API shows it: `{"id", "room", "state",
 * "scheduled_start", "scheduled_end", "started_at", "ended_at",
 * "recording"}`; the times in UTC, null where there is none (an ad hoc
 * session has no schedule, a planned one no broadcast yet).
 */
void kk_schedule_api_build_session (JsonBuilder *builder,
    KkRecordings *recordings, const KkStoreSession *session, gint64 now_us);

/**
 * kk_schedule_api_add_next_session:
 * @schedule: (nullable): none on a relay that plans nothing
 *
 * Adds the member `"next_session"` to the object @builder is building:
 * `{"id", "starts_at", "ends_at"}` of @room's earliest session not yet
 * broadcast whose scheduled end is still ahead, or null.
 */
void kk_schedule_api_add_next_session (JsonBuilder *builder,
    KkSchedule *schedule, KkRoom *room);

/**
 * kk_schedule_api_register:
 * @auth: (transfer none): a reference is kept
 * @registry: (transfer none): a reference is kept; for rooms
 * @store: (transfer none): a reference is kept; it holds the sessions
 * @schedule: (transfer none): a reference is kept; told every change
 * @recordings: (transfer none) (nullable): a reference is kept
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_schedule_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkStore *store, KkSchedule *schedule,
    KkRecordings *recordings, GError **error);

G_END_DECLS
