/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-json: JSON from untrusted bytes, for every layer's pure parse
 * functions (request bodies, roster uploads, schedules).
 *
 * kk_json_parse() bounds what json-glib would not: the size, the nesting
 * depth (its parser recurses per level) and NUL characters (a \u0000
 * escape silently cuts a C string short). kk_json_check_members() is the
 * one "a JSON object with only these members" check, so that a misspelt
 * member is refused the same way everywhere instead of being ignored.
 *
 * Errors are %KK_JSON_ERROR_INVALID; the HTTP layer answers them with 400.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define KK_JSON_ERROR (kk_json_error_quark ())
GQuark kk_json_error_quark (void);

typedef enum {
  KK_JSON_ERROR_INVALID,        /* malformed or unexpected JSON */
} KkJsonError;

/* Largest JSON text accepted (the HTTP layer's body limit too). */
#define KK_JSON_MAX_SIZE (64 * 1024)
/* Nesting depth allowed: ours need 2. */
#define KK_JSON_MAX_DEPTH 8
/* How much of an unknown member's name an error message echoes. */
#define KK_JSON_MEMBER_ECHO_MAX 64

/**
 * kk_json_parse:
 *
 * Parses JSON from untrusted bytes: at most KK_JSON_MAX_SIZE bytes of
 * valid UTF-8 without NUL (raw or as \u0000), nested at most
 * KK_JSON_MAX_DEPTH deep.
 *
 * Returns: (transfer full): the root, or NULL with %KK_JSON_ERROR_INVALID.
 */
JsonNode *kk_json_parse (const char *data, gsize length, GError **error);

/**
 * kk_json_find_unknown_member:
 * @allowed: (array zero-terminated=1): the member names allowed
 *
 * Returns: (transfer full) (nullable): the first member of @object not in
 * @allowed, cut to KK_JSON_MEMBER_ECHO_MAX characters so that an error
 * message can echo it, or NULL when every member is allowed.
 */
char *kk_json_find_unknown_member (JsonObject *object,
    const char *const *allowed);

/* Fails with `unknown member "NAME"` (%KK_JSON_ERROR_INVALID) unless
 * every member of @object is in @allowed. */
gboolean kk_json_check_members (JsonObject *object,
    const char *const *allowed, GError **error);

/**
 * kk_json_parse_object:
 * @allowed: (array zero-terminated=1) (nullable): the member names
 *   allowed, or NULL to allow any
 *
 * kk_json_parse(), then checks that the root is an object ("the body must
 * be a JSON object") with only @allowed members (kk_json_check_members()).
 *
 * Returns: (transfer full): the object, or NULL with
 * %KK_JSON_ERROR_INVALID.
 */
JsonObject *kk_json_parse_object (const char *data, gsize length,
    const char *const *allowed, GError **error);

/**
 * kk_json_parse_one_string:
 * @member: the one member the object must have
 * @shape: the error message when the text is JSON but not
 *   `{"@member": string}`
 *
 * For bodies of a single string, such as `{"code": "..."}`.
 *
 * Returns: (transfer full): the string, or NULL with
 * %KK_JSON_ERROR_INVALID: kk_json_parse()'s message for text that is not
 * JSON, else @shape.
 */
char *kk_json_parse_one_string (const char *data, gsize length,
    const char *member, const char *shape, GError **error);

G_END_DECLS
