/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-json: bounded JSON parsing and the allowed-members check; see
 * kk-json.h. Pure functions, no I/O: the fuzzers call them through the
 * parse functions of every layer.
 */
#include "kk-json.h"

#include <string.h>

G_DEFINE_QUARK (kk-json-error-quark, kk_json_error)

/* Checks what json-glib would not: its parser recurses per nesting level,
 * so the depth is bounded before it sees the text (brackets counted
 * outside strings); and it turns a \u0000 escape into a NUL that silently
 * cuts the C string short, so such escapes are refused. */
static gboolean
json_prescan (const char *data, gsize length, GError **error)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < length; i++) {
    char c = data[i];

    if (in_string) {
      if (c == '\\') {
        if (i + 5 < length && data[i + 1] == 'u'
            && strncmp (data + i + 2, "0000", 4) == 0) {
          g_set_error_literal (error, KK_JSON_ERROR,
              KK_JSON_ERROR_INVALID, "JSON strings may not contain NUL");
          return FALSE;
        }
        i++;
      } else if (c == '"') {
        in_string = FALSE;
      }
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > KK_JSON_MAX_DEPTH) {
        g_set_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
            "JSON nested deeper than %d", KK_JSON_MAX_DEPTH);
        return FALSE;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return TRUE;
}

JsonNode *
kk_json_parse (const char *data, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;

  if (length > KK_JSON_MAX_SIZE) {
    g_set_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "body over %d bytes", KK_JSON_MAX_SIZE);
    return NULL;
  }
  if (length == 0) {
    g_set_error_literal (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "empty body");
    return NULL;
  }
  if (memchr (data, '\0', length) != NULL
      || !g_utf8_validate_len (data, length, NULL)) {
    g_set_error_literal (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "the body is not UTF-8 text");
    return NULL;
  }
  if (!json_prescan (data, length, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, length, &local_error)) {
    g_set_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "malformed JSON: %s", local_error->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL) {
    g_set_error_literal (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "empty JSON document");
    return NULL;
  }
  return json_node_ref (root);
}

char *
kk_json_find_unknown_member (JsonObject *object, const char *const *allowed)
{
  g_autoptr (GList) members = json_object_get_members (object);

  for (GList *l = members; l != NULL; l = l->next) {
    /* The text is valid UTF-8 already; just keep the echo short. */
    if (!g_strv_contains (allowed, l->data))
      return g_utf8_substring (l->data, 0, MIN (KK_JSON_MEMBER_ECHO_MAX,
              g_utf8_strlen (l->data, -1)));
  }
  return NULL;
}

gboolean
kk_json_check_members (JsonObject *object, const char *const *allowed,
    GError **error)
{
  g_autofree char *unknown = kk_json_find_unknown_member (object, allowed);

  if (unknown == NULL)
    return TRUE;
  g_set_error (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
      "unknown member \"%s\"", unknown);
  return FALSE;
}

JsonObject *
kk_json_parse_object (const char *data, gsize length,
    const char *const *allowed, GError **error)
{
  g_autoptr (JsonNode) root = kk_json_parse (data, length, error);
  JsonObject *object;

  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error_literal (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID,
        "the body must be a JSON object");
    return NULL;
  }
  object = json_node_get_object (root);
  if (allowed != NULL && !kk_json_check_members (object, allowed, error))
    return NULL;
  return json_object_ref (object);
}

char *
kk_json_parse_one_string (const char *data, gsize length,
    const char *member, const char *shape, GError **error)
{
  g_autoptr (JsonNode) root = kk_json_parse (data, length, error);
  JsonObject *object;
  JsonNode *node;

  if (root == NULL)
    return NULL;
  object = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  node = object != NULL ? json_object_get_member (object, member) : NULL;
  if (node == NULL || json_object_get_size (object) != 1
      || json_node_get_value_type (node) != G_TYPE_STRING) {
    g_set_error_literal (error, KK_JSON_ERROR, KK_JSON_ERROR_INVALID, shape);
    return NULL;
  }
  return g_strdup (json_node_get_string (node));
}
