/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-relay: the daemon's parts wired together: store, rooms, forwarding
 * core, one lecture per room, the HTTP server with every route. main.c
 * only loads the config, runs the loop and handles signals; tests can run
 * a whole relay in-process the same way.
 */
#pragma once

#include <libsoup/soup.h>
#include "kk-attendance-log.h"
#include "kk-auth.h"
#include "kk-check-segments.h"
#include "kk-config.h"
#include "kk-fanout.h"
#include "kk-lecture.h"
#include "kk-metrics.h"
#include "kk-network-check.h"
#include "kk-presence.h"
#include "kk-questions.h"
#include "kk-recordings.h"
#include "kk-room.h"
#include "kk-roster.h"
#include "kk-schedule.h"
#include "kk-segments.h"
#include "kk-store.h"

G_BEGIN_DECLS

typedef struct {
  const KkConfig *config;
  KkStore *store;
  KkRoomRegistry *registry;
  KkAttendanceLog *attendance;
  KkRoster *roster;             /* pre-registration, access, check-in */
  KkPresence *presence;         /* attendance codes and prompts */
  KkRecordings *recordings;     /* recorded sessions, their files */
  KkSchedule *schedule;         /* sessions planned ahead */
  KkQuestions *questions;       /* questions asked in live sessions */
  KkSegments *segments;         /* the lectures over plain HTTPS */
  KkFanout *fanout;
  KkMetrics *metrics;
  SoupServer *server;
  KkAuth *auth;                 /* who may call which route */
  GHashTable *lectures;         /* room id -> KkLecture */
  KkNetworkCheck *network_check; /* the network check page's test pattern */
  KkCheckSegments *check_segments; /* the network check's HTTPS path */
} KkRelay;

/* Starts everything on the thread-default main context.
 * Returns: (transfer full): the relay, or NULL with @error. */
KkRelay *kk_relay_new (const KkConfig *config, GError **error);
/* Ends every broadcast and viewer (sessions closed at this moment), then
 * frees everything. */
void kk_relay_free (KkRelay *relay);

/* Returns: (transfer none) (nullable) */
KkLecture *kk_relay_get_lecture (KkRelay *relay, const char *room_id);

G_END_DECLS
