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
 * The routes that plan, move and cancel sessions are kk-schedule-api's
 * (relay/web); they tell this module what the store answered.
 *
 * The sessions not yet broadcast are also kept in memory (loaded at
 * startup, updated by every change and every broadcast start), so that a
 * room's JSON, which every waiting nurse's page polls, can say when the
 * next one starts without a query. Main context only.
 */
#pragma once

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

#define KK_TYPE_SCHEDULE (kk_schedule_get_type ())
G_DECLARE_FINAL_TYPE (KkSchedule, kk_schedule, KK, SCHEDULE, GObject)

/**
 * kk_schedule_new:
 * @store: (transfer none): read once, now
 *
 * Loads the sessions not yet broadcast, synchronously (startup only).
 *
 * Returns: (transfer full): the schedule, or NULL with @error.
 */
KkSchedule *kk_schedule_new (KkStore *store, GError **error);

/* Mirrors what the store now holds for @session: kept while it is
 * planned and not yet broadcast, forgotten otherwise. */
void kk_schedule_remember (KkSchedule *schedule,
    const KkStoreSession *session);

/* Forgets @session_id: it went live (the store made it so when its
 * broadcast started; relay/kk-relay.c calls this on the lecture's
 * "session-opened") or it was cancelled. Either way it is nobody's next
 * session now. */
void kk_schedule_forget (KkSchedule *schedule, const char *session_id);

/**
 * kk_schedule_next_session:
 *
 * Returns: (transfer none) (nullable): @room_id's earliest session not yet
 * broadcast whose scheduled end is still ahead; valid until the schedule
 * next changes.
 */
const KkStoreSession *kk_schedule_next_session (KkSchedule *schedule,
    const char *room_id);

G_END_DECLS
