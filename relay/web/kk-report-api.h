/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-report-api: the session report and the host's live audience chart.
 *
 *   GET /api/sessions/{id}/report   coordinator: everything the report
 *                                   page (assets/report.html) shows of one
 *                                   broadcast session, in one answer: the
 *                                   session and its plan, the course, the
 *                                   live time, the audience over time,
 *                                   each person's bar and verdict, the
 *                                   recording with its pauses and a signed
 *                                   link for its player, the session's
 *                                   questions with who asked; 404 for an
 *                                   unknown session or one never broadcast
 *   GET /api/rooms/{room}/audience  the room's host or the coordinator:
 *                                   the audience over time of the room's
 *                                   live session, for the host's chart
 *                                   (an empty series when nothing is live)
 *
 * The figures are made where their data lives (the attendance log for
 * the audience and the bars, kk-recordings for the recording, the store
 * for the plan); this module only gathers them into one answer, so that a
 * page draws and computes nothing of its own. A new section of the
 * report is one more member of the report's object.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-attendance-log.h"
#include "kk-auth.h"
#include "kk-questions.h"
#include "kk-recordings.h"
#include "kk-room.h"
#include "kk-store.h"

G_BEGIN_DECLS

/**
 * kk_report_api_register:
 * @auth: (transfer none): a reference is kept; who may call
 * @log: (transfer none): a reference is kept; attendance and audience
 * @registry: (transfer none): a reference is kept; the courses' titles
 * @store: (transfer none): a reference is kept; the sessions' plans
 * @recordings: (transfer none): a reference is kept
 * @questions: (transfer none): a reference is kept; the sessions'
 *   questions
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_report_api_register (SoupServer *server, KkAuth *auth,
    KkAttendanceLog *log, KkRoomRegistry *registry, KkStore *store,
    KkRecordings *recordings, KkQuestions *questions, GError **error);

G_END_DECLS
