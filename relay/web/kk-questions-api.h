/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-questions-api: the routes of kk-questions, questions to the lecturer
 * during a live session:
 *
 *   GET  /api/rooms/{room}/questions               viewer, host, coordinator:
 *                                                  the live session's list
 *   POST /api/rooms/{room}/questions               viewer: ask
 *                                                  {"text", "anonymous"} →
 *                                                  201; 413 too long, 429
 *                                                  too many, 409 not live
 *   POST /api/rooms/{room}/questions/{id}/support  viewer: "me too" → 200;
 *                                                  409 once per screen
 *   PUT  /api/rooms/{room}/questions/{id}/state    host, coordinator:
 *                                                  {"state"} → 200
 *   GET  /api/rooms/{room}/questions/events        viewer, host, coordinator:
 *                                                  Server-Sent Events
 *   GET  /api/sessions/{session}/questions         coordinator: any session's
 *
 * "viewer" is a screen's participant token, or, to ask and support, a
 * check-in receipt of that room (the list and the stream are the
 * screen's: kk-auth knows receipts only where a route asks for a
 * participant). A viewer sees the asker's name only of questions not asked
 * anonymously, and no hidden question; the host and the coordinator see
 * every question with its asker.
 *
 * The event stream (text/event-stream, one per page) begins with a
 * "reset" event carrying the whole list as the store has it now (nothing,
 * for a page whose Last-Event-ID is the session's last event: it missed
 * nothing); then "question" and "session" events as they happen, and a
 * comment every KK_QUESTIONS_HEARTBEAT_S so that proxies keep it open.
 * Streams are bounded per client address and in all, and so is what waits
 * unwritten for them; a client that does not read what is sent is cut off
 * (it reconnects and gets the list).
 * Main thread only.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-auth.h"
#include "kk-questions.h"
#include "kk-room.h"

G_BEGIN_DECLS

/* A screen may ask this many questions at once, then one per interval. */
#define KK_QUESTIONS_ASK_BURST 3
#define KK_QUESTIONS_ASK_INTERVAL_S 20
/* A screen may support this many questions at once, then one per
 * interval: "me too" on every question of a long session is still let
 * through, a loop is not. */
#define KK_QUESTIONS_SUPPORT_BURST 20
#define KK_QUESTIONS_SUPPORT_INTERVAL_S 2
/* Screens whose rate is kept. */
#define KK_QUESTIONS_ASK_CLIENTS_MAX 4096

/* Event streams open at once from one client address (a workplace's
 * screens may share one), and in all. */
#define KK_QUESTIONS_STREAMS_PER_ADDRESS 64
#define KK_QUESTIONS_STREAMS_MAX 4096
/* A comment on an idle stream this often; nginx's proxy_read_timeout
 * (deploy/nginx.conf) must be longer. */
#define KK_QUESTIONS_HEARTBEAT_S 15
/* Bytes sent to a stream and not yet written to its socket before the
 * client is deemed not to read, and cut off. */
#define KK_QUESTIONS_STREAM_MAX_QUEUED (256 * 1024)
/* Bytes waiting unwritten for all streams together, first bursts
 * included, which are never exceeded: no stream opens while less than
 * KK_QUESTIONS_STREAM_MAX_QUEUED of it is left, a stream whose list does
 * not fit is closed before it, and so is a client that is behind when an
 * event does not fit. */
#define KK_QUESTIONS_QUEUED_MAX (16 * 1024 * 1024)

/**
 * kk_questions_api_register:
 * @auth: (transfer none): a reference is kept
 * @registry: (transfer none): a reference is kept; for rooms
 * @questions: (transfer none): a reference is kept
 * @metrics: (transfer none): must outlive @server; samples
 *   kringkast_question_streams (open) and
 *   kringkast_question_streams_cut_total (closed for not reading)
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 *
 * Returns: TRUE.
 */
gboolean kk_questions_api_register (SoupServer *server, KkAuth *auth,
    KkRoomRegistry *registry, KkQuestions *questions, KkMetrics *metrics,
    GError **error);

/**
 * kk_questions_api_build_list:
 * @list: (element-type KkQuestion): the questions of one session
 *
 * Adds a "questions" member to the object being built in @builder: @list
 * as GET /api/sessions/{session}/questions shows it to the coordinator
 * (every question, hidden ones too, each with its asker), so that the
 * session report shows the very same objects.
 */
void kk_questions_api_build_list (JsonBuilder *builder, GPtrArray *list);

G_END_DECLS
