/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-room-rules: what a room's fields may be. The validators below are
 * the single definition of what a room id, a title, a name, a source etc.
 * may be; the config loader ([room ID] sections), the HTTP API and the
 * room registry all use them.
 *
 * They live in the base layer, below the registry (kk-room.h), because
 * the config loader checks the rooms of the file before anything else of
 * the daemon exists. The error domain lives here with them: the
 * validators report its INVALID code, the registry the others.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_ROOM_ERROR (kk_room_error_quark ())
GQuark kk_room_error_quark (void);

typedef enum {
  KK_ROOM_ERROR_INVALID,      /* a value fails validation: HTTP 400 */
  KK_ROOM_ERROR_EXISTS,       /* room id taken: HTTP 409 */
  KK_ROOM_ERROR_NOT_FOUND,    /* no such room: HTTP 404 */
  KK_ROOM_ERROR_FAILED,       /* the store failed: HTTP 500 */
  KK_ROOM_ERROR_FORBIDDEN,    /* the room does not allow it: HTTP 403 */
  KK_ROOM_ERROR_CONFIGURED,   /* set by the config file, which wins at
                               * every start: HTTP 409 */
} KkRoomError;

#define KK_ROOM_ID_MAX 64
#define KK_ROOM_TITLE_MAX 200
#define KK_ROOM_NAME_MAX 200
#define KK_ROOM_WORKPLACE_MAX 200
#define KK_ROOM_COLLEAGUES_MAX 20
#define KK_ROOM_SOURCE_URI_MAX 2048
#define KK_ROOM_DEFAULT_COMPLETION_RATIO 0.8

/* Source of a room fed by a WHIP publisher (the default). Any other source
 * names a pipeline in the pipelines directory. */
#define KK_ROOM_SOURCE_WHIP "whip"
/* The room --demo adds, and its test-pattern source. */
#define KK_ROOM_DEMO_ID "demo"
#define KK_ROOM_SOURCE_DEMO "testsrc"

/* ^[a-z0-9][a-z0-9-]{0,63}$ */
gboolean kk_room_validate_id (const char *id, GError **error);
/* Valid UTF-8 without control characters, @min_chars..@max_chars
 * characters, and not only white space when @min_chars > 0. @what names
 * the field in the message. */
gboolean kk_room_validate_text (const char *what, const char *text,
    guint min_chars, guint max_chars, GError **error);
/* A finite number in [0, 1]. */
gboolean kk_room_validate_completion_ratio (double ratio, GError **error);
/* "whip", or a pipeline name: [a-z0-9][a-z0-9_-]{0,63}. */
gboolean kk_room_validate_source (const char *source, GError **error);
/* An absolute URI of at most KK_ROOM_SOURCE_URI_MAX bytes. */
gboolean kk_room_validate_source_uri (const char *uri, GError **error);

G_END_DECLS
