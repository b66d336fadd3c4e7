/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-schedule: sessions planned ahead; see kk-schedule.h.
 *
 * The store is the authority: it refuses overlapping plans and changes
 * to a session that went live inside its own transactions, so a PATCH
 * racing the host's first packet gets either the old plan moved or a
 * 409, never a live session with new times. The routes (kk-schedule-api)
 * ask the store and tell this module the answer, which it mirrors in its
 * memory of sessions not yet broadcast.
 */
#include "kk-schedule.h"

#include <string.h>

struct _KkSchedule {
  GObject parent;

  GHashTable *pending;          /* session id -> KkStoreSession, not yet
                                 * broadcast */
};

G_DEFINE_FINAL_TYPE (KkSchedule, kk_schedule, G_TYPE_OBJECT)

/* ---- states ---- */

const char *
kk_session_state_to_string (KkSessionState state)
{
  switch (state) {
    case KK_SESSION_SCHEDULED:
      return "scheduled";
    case KK_SESSION_LIVE:
      return "live";
    case KK_SESSION_ENDED:
      return "ended";
    case KK_SESSION_MISSED:
      return "missed";
  }
  return "?";
}

KkSessionState
kk_session_state (const KkStoreSession *session, gint64 now_us)
{
  if (session->started_at != 0)
    return session->ended_at == 0 ? KK_SESSION_LIVE : KK_SESSION_ENDED;
  return session->scheduled_end <= now_us ? KK_SESSION_MISSED
      : KK_SESSION_SCHEDULED;
}

/* ---- memory of sessions not yet broadcast ---- */

static KkStoreSession *
session_copy (const KkStoreSession *session)
{
  KkStoreSession *copy = g_new0 (KkStoreSession, 1);

  copy->id = g_strdup (session->id);
  copy->room_id = g_strdup (session->room_id);
  copy->started_at = session->started_at;
  copy->ended_at = session->ended_at;
  copy->recording = g_strdup (session->recording);
  copy->scheduled_start = session->scheduled_start;
  copy->scheduled_end = session->scheduled_end;
  return copy;
}

void
kk_schedule_remember (KkSchedule *schedule, const KkStoreSession *session)
{
  g_return_if_fail (KK_IS_SCHEDULE (schedule));

  if (session->started_at == 0 && session->scheduled_start != 0)
    g_hash_table_replace (schedule->pending, g_strdup (session->id),
        session_copy (session));
  else
    g_hash_table_remove (schedule->pending, session->id);
}

void
kk_schedule_forget (KkSchedule *schedule, const char *session_id)
{
  g_return_if_fail (KK_IS_SCHEDULE (schedule));

  g_hash_table_remove (schedule->pending, session_id);
}

static gboolean
is_over (gpointer key, gpointer value, gpointer user_data)
{
  const KkStoreSession *session = value;

  return session->scheduled_end <= *(const gint64 *) user_data;
}

const KkStoreSession *
kk_schedule_next_session (KkSchedule *schedule, const char *room_id)
{
  const KkStoreSession *next = NULL;
  gint64 now = g_get_real_time ();
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (KK_IS_SCHEDULE (schedule), NULL);

  /* Missed sessions are of no more use here; a reschedule brings one
   * back. */
  g_hash_table_foreach_remove (schedule->pending, is_over, &now);
  g_hash_table_iter_init (&iter, schedule->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    const KkStoreSession *s = value;

    if (g_strcmp0 (s->room_id, room_id) != 0)
      continue;
    if (next == NULL || s->scheduled_start < next->scheduled_start
        || (s->scheduled_start == next->scheduled_start
            && strcmp (s->id, next->id) < 0))
      next = s;
  }
  return next;
}

/* ---- lifecycle ---- */

KkSchedule *
kk_schedule_new (KkStore *store, GError **error)
{
  g_autoptr (KkSchedule) schedule = NULL;
  g_autoptr (GPtrArray) planned = NULL;

  g_return_val_if_fail (KK_IS_STORE (store), NULL);

  planned = kk_store_load_scheduled (store, g_get_real_time (), error);
  if (planned == NULL)
    return NULL;
  schedule = g_object_new (KK_TYPE_SCHEDULE, NULL);
  for (guint i = 0; i < planned->len; i++)
    kk_schedule_remember (schedule, planned->pdata[i]);
  return g_steal_pointer (&schedule);
}

static void
kk_schedule_finalize (GObject *object)
{
  KkSchedule *schedule = KK_SCHEDULE (object);

  g_hash_table_unref (schedule->pending);
  G_OBJECT_CLASS (kk_schedule_parent_class)->finalize (object);
}

static void
kk_schedule_class_init (KkScheduleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = kk_schedule_finalize;
}

static void
kk_schedule_init (KkSchedule *schedule)
{
  schedule->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) kk_store_session_free);
}
