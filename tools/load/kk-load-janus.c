/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-janus: reading Janus's HTTP API replies, for the load tool's
 * Janus mode (the side-by-side benchmark).
 *
 * Janus's REST transport: POST {"janus":"create"} to /janus gives a
 * session id, {"janus":"attach","plugin":"janus.plugin.streaming"} to
 * /janus/SESSION a handle id; a "message" to /janus/SESSION/HANDLE with
 * {"request":"watch","id":N} is acknowledged at once and answered later,
 * as an event carrying the JSEP offer, on the long poll GET
 * /janus/SESSION?maxev=N. The answer goes back in a "start" message.
 * Everything arrives as JSON objects with a "janus" member naming the
 * kind, and errors as "janus":"error" with error.reason, or as a plugin
 * event whose plugindata.data has "error".
 */
#include "kk-load.h"

static JsonObject *
parse_object (JsonParser *parser, const char *body, gsize len,
    GError **error)
{
  JsonNode *root;

  if (!json_parser_load_from_data (parser, body, len, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS,
        "the reply is not a JSON object");
    return NULL;
  }
  return json_node_get_object (root);
}

/* The text of an API error ("janus":"error") or a plugin error, or NULL. */
static const char *
error_text (JsonObject *obj)
{
  JsonObject *inner;
  JsonNode *node;

  if (g_strcmp0 (json_object_get_string_member_with_default (obj, "janus",
              ""), "error") == 0) {
    node = json_object_get_member (obj, "error");
    if (node != NULL && JSON_NODE_HOLDS_OBJECT (node)) {
      inner = json_node_get_object (node);
      return json_object_get_string_member_with_default (inner, "reason",
          "error");
    }
    return "error";
  }
  node = json_object_get_member (obj, "plugindata");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  node = json_object_get_member (json_node_get_object (node), "data");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  inner = json_node_get_object (node);
  if (!json_object_has_member (inner, "error"))
    return NULL;
  return json_object_get_string_member_with_default (inner, "error",
      "plugin error");
}

gboolean
kk_load_janus_parse_id (const char *body, gsize len, guint64 *id,
    GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *obj = parse_object (parser, body, len, error);
  const char *failure;
  JsonNode *node;
  JsonObject *data;

  if (obj == NULL)
    return FALSE;
  failure = error_text (obj);
  if (failure != NULL) {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS, "Janus: %s",
        failure);
    return FALSE;
  }
  node = json_object_get_member (obj, "data");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS,
        "the reply has no data object");
    return FALSE;
  }
  data = json_node_get_object (node);
  node = json_object_get_member (data, "id");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) <= 0) {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS,
        "the reply has no positive data.id");
    return FALSE;
  }
  *id = json_node_get_int (node);
  return TRUE;
}

void
kk_load_janus_event_clear (KkLoadJanusEvent *event)
{
  g_clear_pointer (&event->janus, g_free);
  g_clear_pointer (&event->jsep_type, g_free);
  g_clear_pointer (&event->jsep_sdp, g_free);
  g_clear_pointer (&event->error, g_free);
}

static void
event_from_object (JsonObject *obj, KkLoadJanusEvent *event)
{
  JsonNode *node;
  const char *failure;

  event->janus = g_strdup (json_object_get_string_member_with_default (obj,
          "janus", ""));
  node = json_object_get_member (obj, "sender");
  if (node != NULL && json_node_get_value_type (node) == G_TYPE_INT64
      && json_node_get_int (node) > 0)
    event->sender = json_node_get_int (node);
  node = json_object_get_member (obj, "jsep");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node)) {
    JsonObject *jsep = json_node_get_object (node);
    const char *type = json_object_get_string_member_with_default (jsep,
        "type", NULL);
    const char *sdp = json_object_get_string_member_with_default (jsep,
        "sdp", NULL);

    if (type != NULL && sdp != NULL) {
      event->jsep_type = g_strdup (type);
      event->jsep_sdp = g_strdup (sdp);
    }
  }
  failure = error_text (obj);
  if (failure != NULL)
    event->error = g_strdup (failure);
}

GArray *
kk_load_janus_parse_events (const char *body, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GArray) events = g_array_new (FALSE, TRUE,
      sizeof (KkLoadJanusEvent));
  JsonNode *root;

  g_array_set_clear_func (events,
      (GDestroyNotify) kk_load_janus_event_clear);
  if (!json_parser_load_from_data (parser, body, len, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root)) {
    KkLoadJanusEvent event = { 0 };

    event_from_object (json_node_get_object (root), &event);
    g_array_append_val (events, event);
  } else if (root != NULL && JSON_NODE_HOLDS_ARRAY (root)) {
    JsonArray *array = json_node_get_array (root);

    for (guint i = 0; i < json_array_get_length (array); i++) {
      JsonNode *node = json_array_get_element (array, i);
      KkLoadJanusEvent event = { 0 };

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      event_from_object (json_node_get_object (node), &event);
      g_array_append_val (events, event);
    }
  } else {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_JANUS,
        "the events are neither an object nor an array");
    return NULL;
  }
  return g_steal_pointer (&events);
}
