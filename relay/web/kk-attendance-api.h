/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-attendance-api: the coordinator's attendance routes, all behind the
 * admin token (401 without a valid token, 403 for a host or viewer token):
 *
 *   GET  /api/sessions/{id}/attendance       one row per person (JSON, or
 *                                            ?format=csv[&dialect=rfc4180]);
 *                                            &include=questions adds the
 *                                            session's questions
 *   GET  /api/sessions/{id}/connections      the connection log: every
 *                                            interval, for appeals (same
 *                                            formats)
 *   GET  /api/rooms/{room}/attendance        every session of a room
 *   GET  /api/rooms/{room}/connections       likewise
 *   POST /api/sessions/{id}/attendance/{participant}/override
 *                                            {"completed","reason","by"}
 *   GET|PUT /api/rooms/{room}/attendance-settings
 *
 * The body parsers are public so the fuzzer runs exactly what the
 * handlers run.
 */
#pragma once

#include <libsoup/soup.h>

#include "kk-attendance-log.h"
#include "kk-auth.h"
#include "kk-questions.h"
#include "kk-room.h"

G_BEGIN_DECLS

#define KK_ATTENDANCE_REASON_MAX 500

/**
 * kk_attendance_api_parse_settings:
 *
 * A PUT attendance-settings body: `{"completion_ratio": number or null
 * (the room's), "grace_seconds": 0..3600 (60), "max_lateness_seconds":
 * 0..86400 or null (none), "require_code": bool (false), "prompts":
 * 0..KK_ATTENDANCE_MAX_PROMPTS (0), "prompt_window_seconds": 10..3600
 * (180), "prompt_interval_seconds": 10..86400 (900), "retention_days":
 * 0..3650 (0: keep)}`. Absent members take their defaults; unknown ones
 * are refused.
 *
 * Returns: (transfer full): the settings, or NULL with an error that
 * maps to 400.
 */
KkAttendanceSettings *kk_attendance_api_parse_settings (const char *data,
    gsize length, GError **error);

/* An override body: `{"completed": bool, "reason": string, "by": string}`,
 * all required; reason and by are 1..KK_ATTENDANCE_REASON_MAX characters.
 * Returns FALSE with an error that maps to 400. */
gboolean kk_attendance_api_parse_override (const char *data, gsize length,
    gboolean *completed, char **reason, char **by, GError **error);

/**
 * kk_attendance_api_register:
 * @auth: (transfer none): a reference is kept; who may call
 * @log: (transfer none): a reference is kept
 * @registry: (transfer none): a reference is kept; for rooms
 * @questions: (transfer none) (nullable): a reference is kept; for a
 *   session's questions with its attendance (?include=questions)
 *
 * Adds the routes above to @server (the route module shape of kk-http.h).
 *
 * Returns: FALSE with @error if registration fails.
 */
gboolean kk_attendance_api_register (SoupServer *server, KkAuth *auth,
    KkAttendanceLog *log, KkRoomRegistry *registry, KkQuestions *questions,
    GError **error);

G_END_DECLS
