/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-http: hardening and routing around libsoup 3's SoupServer.
 *
 * Body limit. SoupServer reads a whole request body into memory before any
 * normal handler runs, and an early handler is only reached for paths
 * nobody registered a more specific normal handler for. So the limit hangs
 * off "request-started" instead, which fires for every message on every
 * path: it connects to the message's "got-headers" (refuse a declared
 * Content-Length over the limit at once) and "got-chunk" (count what
 * actually arrives, which also covers chunked bodies). Refusing sets the
 * 413 reply, which keeps SoupServer from calling any handler, and turns
 * off accumulation, so the rest of the body is read and dropped rather
 * than stored. A client that keeps sending past KK_HTTP_MAX_DISCARD loses
 * its connection: SoupServer has no way to stop reading a body other than
 * taking the connection away from it.
 *
 * Connections. kk-http-guard accepts them and hands them to SoupServer:
 * header blocks are bounded (431), so is the time to send one (408), and
 * idle connections are closed. Handlers refuse over their own bounds
 * with kk_http_request_reply_limited(); both are counted for /metrics.
 *
 * Routing. One SoupServer handler at "/" feeds a small router: routes are
 * method + pattern with `{name}` segments, matched against the path that
 * libsoup already percent-decoded and rid of dot segments. The router
 * still checks every segment itself (no "..", no control characters, a
 * bounded length), so handlers get path parameters that are safe to use
 * as ids or file names without further care. Other modules can still add
 * plain SoupServer handlers for their own prefixes; libsoup prefers the
 * longest prefix.
 */

#include "kk-http.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <string.h>

#include "kk-build-config.h"
#include "kk-http-guard.h"
#include "kk-time.h"

G_DEFINE_QUARK (kk-http-error-quark, kk_http_error)

/* A body the server accepts is never refused by kk_json_parse() for its
 * size alone. */
G_STATIC_ASSERT (KK_HTTP_MAX_BODY <= KK_JSON_MAX_SIZE);

/* Per-message body accounting, as qdata on the SoupServerMessage. */
typedef struct {
  gsize received;
  gboolean refused;
} KkHttpBodyState;

static GQuark body_state_quark;

typedef struct {
  char *method;
  char **segments;
  guint n_segments;
  KkHttpRouteFunc func;
  gpointer user_data;
} KkHttpRoute;

/* Route module data kept for the server's lifetime. */
typedef struct {
  gpointer data;
  GDestroyNotify destroy;
} KkHttpKept;

typedef struct {
  GPtrArray *routes;            /* element-type KkHttpRoute */
  GArray *kept;                 /* element-type KkHttpKept */
} KkHttpRouter;

/* The server kk_http_server_new() makes: a SoupServer that holds what
 * this module keeps per server, its router and its connection guard. */
#define KK_TYPE_HTTP_SERVER (kk_http_server_get_type ())
G_DECLARE_FINAL_TYPE (KkHttpServer, kk_http_server, KK, HTTP_SERVER,
    SoupServer)

struct _KkHttpServer {
  SoupServer parent;

  KkHttpRouter *router;
  KkHttpGuard *guard;
};

struct _KkHttpRequest {
  int ref_count;                /* main thread only */
  SoupServer *server;           /* not a ref: it outlives its requests */
  SoupServerMessage *msg;
  char **params;
  GHashTable *query;            /* nullable */
  gulong finished_id;
  gulong disconnected_id;
  gboolean gone;                /* finished or disconnected: no I/O left */
  gboolean paused;
};

/* Replies. */

static void
set_no_store (SoupServerMessage *msg)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Cache-Control", "no-store");
}

static void
reply_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  char *text;
  gsize length;

  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));
  g_return_if_fail (node != NULL);

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, &length);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
      text, length);
  set_no_store (msg);
}

void
kk_http_reply_builder (SoupServerMessage *msg, guint status,
    JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  reply_json (msg, status, root);
}

void
kk_http_json_add_string (JsonBuilder *builder, const char *member,
    const char *value)
{
  json_builder_set_member_name (builder, member);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
kk_http_json_add_time (JsonBuilder *builder, const char *member,
    gint64 time_us)
{
  g_autofree char *text = time_us != 0 ? kk_time_format_utc (time_us) : NULL;

  kk_http_json_add_string (builder, member, text);
}

void
kk_http_reply_error (SoupServerMessage *msg, guint status, const char *format,
    ...)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *message = NULL;
  va_list args;

  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  kk_http_reply_builder (msg, status, builder);

  if (status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
        "WWW-Authenticate", "Bearer realm=\"kringkast\"");
}

/* Request inspection. */

char *
kk_http_get_bearer_token (SoupServerMessage *msg)
{
  const char *value = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");
  const char *start, *end;

  if (value == NULL)
    return NULL;
  while (*value == ' ' || *value == '\t')
    value++;
  if (g_ascii_strncasecmp (value, "Bearer", 6) != 0
      || (value[6] != ' ' && value[6] != '\t'))
    return NULL;
  start = value + 6;
  while (*start == ' ' || *start == '\t')
    start++;
  end = start;
  while (*end > 0x20 && *end < 0x7f)
    end++;
  if (end == start)
    return NULL;
  /* Only trailing blanks may follow the token (RFC 6750 token68). */
  for (const char *p = end; *p != '\0'; p++) {
    if (*p != ' ' && *p != '\t')
      return NULL;
  }
  return g_strndup (start, end - start);
}

gboolean
kk_http_check_content_type (SoupServerMessage *msg, const char *media_type)
{
  const char *type = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), NULL);

  if (type != NULL && g_ascii_strcasecmp (type, media_type) == 0)
    return TRUE;
  kk_http_reply_error (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
      "the body must be %s", media_type);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Accept", media_type);
  return FALSE;
}

/* Requests. */

static void
request_gone_cb (SoupServerMessage *msg, KkHttpRequest *request)
{
  request->gone = TRUE;
}

static KkHttpRequest *
request_new (SoupServer *server, SoupServerMessage *msg, GPtrArray *params,
    GHashTable *query)
{
  KkHttpRequest *request = g_new0 (KkHttpRequest, 1);

  request->ref_count = 1;
  request->server = server;
  request->msg = g_object_ref (msg);
  g_ptr_array_add (params, NULL);
  request->params = g_strdupv ((char **) params->pdata);
  request->query = query != NULL ? g_hash_table_ref (query) : NULL;
  /* While paused, a message can lose its connection (the server shutting
   * down disconnects every client); unpausing it then would be a
   * programming error, so keep track. */
  request->finished_id = g_signal_connect (msg, "finished",
      G_CALLBACK (request_gone_cb), request);
  request->disconnected_id = g_signal_connect (msg, "disconnected",
      G_CALLBACK (request_gone_cb), request);
  return request;
}

KkHttpRequest *
kk_http_request_ref (KkHttpRequest *request)
{
  g_return_val_if_fail (request != NULL, NULL);

  request->ref_count++;
  return request;
}

void
kk_http_request_unref (KkHttpRequest *request)
{
  g_return_if_fail (request != NULL);

  if (--request->ref_count > 0)
    return;
  g_signal_handler_disconnect (request->msg, request->finished_id);
  g_signal_handler_disconnect (request->msg, request->disconnected_id);
  g_object_unref (request->msg);
  g_strfreev (request->params);
  g_clear_pointer (&request->query, g_hash_table_unref);
  g_free (request);
}

SoupServerMessage *
kk_http_request_get_message (KkHttpRequest *request)
{
  return request->msg;
}

const char *
kk_http_request_get_param (KkHttpRequest *request, guint index)
{
  g_return_val_if_fail (index < g_strv_length (request->params), NULL);

  return request->params[index];
}

const char *
kk_http_request_get_query (KkHttpRequest *request, const char *name)
{
  if (request->query == NULL)
    return NULL;
  return g_hash_table_lookup (request->query, name);
}

GBytes *
kk_http_request_get_body (KkHttpRequest *request)
{
  return soup_message_body_flatten (
      soup_server_message_get_request_body (request->msg));
}

void
kk_http_request_pause (KkHttpRequest *request)
{
  g_return_if_fail (!request->paused);

  request->paused = TRUE;
  kk_http_request_ref (request);
  soup_server_message_pause (request->msg);
}

void
kk_http_request_resume (KkHttpRequest *request)
{
  g_return_if_fail (request->paused);

  request->paused = FALSE;
  if (!request->gone)
    soup_server_message_unpause (request->msg);
  kk_http_request_unref (request);
}

static KkHttpGuard *
get_guard (SoupServer *server)
{
  return KK_HTTP_SERVER (server)->guard;
}

void
kk_http_request_reply_limited (KkHttpRequest *request, const char *reason,
    gint64 retry_after_us, const char *message)
{
  SoupServerMessage *msg = request->msg;
  /* Whole seconds, rounded up: a client that waits exactly that long is
   * let in. */
  g_autofree char *after = g_strdup_printf ("%" G_GINT64_FORMAT,
      MAX ((retry_after_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, 1));

  kk_http_reply_error (msg, KK_HTTP_STATUS_TOO_MANY_REQUESTS, "%s", message);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Retry-After", after);
  kk_http_guard_count (get_guard (request->server), reason);
}

gboolean
kk_http_request_take_client_slot (KkHttpRequest *request,
    KkRateLimit *limit, const char *reason, const char *message)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  g_autofree char *client = NULL;
  g_autofree char *key = NULL;
  gint64 wait;

  if (kk_http_is_local_client (msg))
    return TRUE;
  client = kk_http_get_client_address (msg);
  key = kk_rate_limit_client_key (client);
  wait = kk_rate_limit_take (limit, key, g_get_monotonic_time ());
  if (wait == 0)
    return TRUE;
  kk_http_request_reply_limited (request, reason, wait, message);
  return FALSE;
}

gboolean
kk_http_is_local_client (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return G_IS_INET_SOCKET_ADDRESS (remote)
      && g_inet_address_get_is_loopback (g_inet_socket_address_get_address (
              G_INET_SOCKET_ADDRESS (remote)))
      && soup_message_headers_get_one (
          soup_server_message_get_request_headers (msg),
          "X-Forwarded-For") == NULL;
}

char *
kk_http_get_client_address (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  const char *forwarded = soup_message_headers_get_list (
      soup_server_message_get_request_headers (msg), "X-Forwarded-For");
  GInetAddress *address;
  const char *last;

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return NULL;
  address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  /* A proxy on this machine (deploy/nginx.conf) appends the address it
   * saw last; anything before that is what the client claimed. */
  if (forwarded != NULL && g_inet_address_get_is_loopback (address)) {
    g_autofree char *claimed = NULL;

    last = strrchr (forwarded, ',');
    claimed = g_strstrip (g_strdup (last != NULL ? last + 1 : forwarded));
    if (g_hostname_is_ip_address (claimed))
      return g_steal_pointer (&claimed);
  }
  return g_inet_address_to_string (address);
}

/* Body limit. */

static KkHttpBodyState *
body_state (SoupServerMessage *msg)
{
  KkHttpBodyState *state = g_object_get_qdata (G_OBJECT (msg),
      body_state_quark);

  if (state == NULL) {
    state = g_new0 (KkHttpBodyState, 1);
    g_object_set_qdata_full (G_OBJECT (msg), body_state_quark, state, g_free);
  }
  return state;
}

static void
refuse_body (SoupServerMessage *msg, KkHttpBodyState *state)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  state->refused = TRUE;
  soup_message_body_set_accumulate (body, FALSE);
  soup_message_body_truncate (body);
  g_debug ("http: refusing a request body over %d bytes", KK_HTTP_MAX_BODY);
  kk_http_reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
      "request body over %d bytes", KK_HTTP_MAX_BODY);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Connection", "close");
}

static void
got_headers_cb (SoupServerMessage *msg, gpointer user_data)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (headers) > KK_HTTP_MAX_BODY)
    refuse_body (msg, body_state (msg));
}

static void
got_chunk_cb (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  KkHttpBodyState *state = body_state (msg);

  state->received += g_bytes_get_size (chunk);
  if (!state->refused && state->received > KK_HTTP_MAX_BODY)
    refuse_body (msg, state);

  if (state->refused && state->received > KK_HTTP_MAX_DISCARD) {
    g_autoptr (GIOStream) stream = NULL;

    g_debug ("http: client keeps sending a refused body; closing");
    stream = soup_server_message_steal_connection (msg);
    if (stream != NULL)
      g_io_stream_close (stream, NULL, NULL);
  } else if (state->refused) {
    soup_message_body_truncate (soup_server_message_get_request_body (msg));
  }
}

static void
request_started_cb (SoupServer *server, SoupServerMessage *msg,
    gpointer user_data)
{
  g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers_cb), NULL);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), NULL);
}

/* Router. */

static void
route_free (KkHttpRoute *route)
{
  g_free (route->method);
  g_strfreev (route->segments);
  g_free (route);
}

static void
router_free (KkHttpRouter *router)
{
  g_ptr_array_unref (router->routes);
  /* Last kept, first freed: a module may use what an earlier one kept. */
  for (guint i = router->kept->len; i > 0; i--) {
    KkHttpKept *kept = &g_array_index (router->kept, KkHttpKept, i - 1);

    kept->destroy (kept->data);
  }
  g_array_unref (router->kept);
  g_free (router);
}

static gboolean
is_placeholder (const char *segment)
{
  gsize len = strlen (segment);

  return len >= 2 && segment[0] == '{' && segment[len - 1] == '}';
}

/* Splits "/a/b" into {"a", "b"}; "/" into {}. Returns the HTTP status to
 * refuse the path with, or 0 if it is acceptable. */
static guint
split_path (const char *path, GPtrArray *segments)
{
  const char *p;

  if (path == NULL || path[0] != '/')
    return SOUP_STATUS_BAD_REQUEST;
  if (strlen (path) > KK_HTTP_MAX_PATH)
    return SOUP_STATUS_BAD_REQUEST;
  if (path[1] == '\0')
    return 0;

  p = path + 1;
  for (;;) {
    const char *end = strchrnul (p, '/');
    gsize len = end - p;

    if (len == 0)
      return SOUP_STATUS_NOT_FOUND;
    if (len > KK_HTTP_MAX_SEGMENT)
      return SOUP_STATUS_BAD_REQUEST;
    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
      return SOUP_STATUS_NOT_FOUND;
    for (gsize i = 0; i < len; i++) {
      if ((guchar) p[i] < 0x20 || p[i] == 0x7f)
        return SOUP_STATUS_BAD_REQUEST;
    }
    g_ptr_array_add (segments, g_strndup (p, len));
    if (*end == '\0')
      return 0;
    p = end + 1;
  }
}

static gboolean
route_matches_path (const KkHttpRoute *route, GPtrArray *segments,
    GPtrArray *params)
{
  if (route->n_segments != segments->len)
    return FALSE;
  for (guint i = 0; i < segments->len; i++) {
    const char *want = route->segments[i];
    const char *have = g_ptr_array_index (segments, i);

    if (is_placeholder (want)) {
      if (params != NULL)
        g_ptr_array_add (params, (gpointer) have);
    } else if (strcmp (want, have) != 0) {
      return FALSE;
    }
  }
  return TRUE;
}

static void
router_dispatch (SoupServer *server, SoupServerMessage *msg,
    const char *path, GHashTable *query, gpointer user_data)
{
  KkHttpRouter *router = user_data;
  g_autoptr (GPtrArray) segments = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) allow = g_string_new (NULL);
  const char *method = soup_server_message_get_method (msg);
  guint status;

  status = split_path (path, segments);
  if (status != 0) {
    kk_http_reply_error (msg, status, status == SOUP_STATUS_NOT_FOUND
        ? "no such resource" : "malformed path");
    return;
  }

  /* HEAD is GET without the body; libsoup drops the body itself. */
  if (g_str_equal (method, SOUP_METHOD_HEAD))
    method = SOUP_METHOD_GET;

  for (guint i = 0; i < router->routes->len; i++) {
    KkHttpRoute *route = g_ptr_array_index (router->routes, i);
    g_autoptr (GPtrArray) params = NULL;
    KkHttpRequest *request;

    if (!route_matches_path (route, segments, NULL))
      continue;
    if (!g_str_equal (route->method, method)) {
      if (strstr (allow->str, route->method) == NULL)
        g_string_append_printf (allow, "%s%s", allow->len > 0 ? ", " : "",
            route->method);
      continue;
    }

    params = g_ptr_array_new ();
    route_matches_path (route, segments, params);
    request = request_new (server, msg, params, query);
    route->func (request, route->user_data);
    kk_http_request_unref (request);
    return;
  }

  if (allow->len > 0) {
    kk_http_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        "method %s not allowed here", soup_server_message_get_method (msg));
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Allow", allow->str);
    return;
  }
  kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such resource");
}

void
kk_http_add_route (SoupServer *server, const char *method,
    const char *pattern, KkHttpRouteFunc func, gpointer user_data)
{
  KkHttpRouter *router;
  KkHttpRoute *route;

  g_return_if_fail (SOUP_IS_SERVER (server));
  g_return_if_fail (method != NULL && func != NULL);
  g_return_if_fail (pattern != NULL && pattern[0] == '/');

  g_return_if_fail (KK_IS_HTTP_SERVER (server));

  router = KK_HTTP_SERVER (server)->router;
  route = g_new0 (KkHttpRoute, 1);
  route->method = g_strdup (method);
  route->segments = pattern[1] != '\0'
      ? g_strsplit (pattern + 1, "/", -1) : g_new0 (char *, 1);
  route->n_segments = g_strv_length (route->segments);
  route->func = func;
  route->user_data = user_data;
  g_ptr_array_add (router->routes, route);
}

void
kk_http_server_keep (SoupServer *server, gpointer data,
    GDestroyNotify destroy)
{
  KkHttpRouter *router;
  KkHttpKept kept = { data, destroy };

  g_return_if_fail (KK_IS_HTTP_SERVER (server));
  g_return_if_fail (destroy != NULL);

  router = KK_HTTP_SERVER (server)->router;
  g_array_append_val (router->kept, kept);
}

/* Server. */

G_DEFINE_FINAL_TYPE (KkHttpServer, kk_http_server, SOUP_TYPE_SERVER)

static void
kk_http_server_finalize (GObject *object)
{
  KkHttpServer *self = KK_HTTP_SERVER (object);
  KkHttpGuard *guard = g_steal_pointer (&self->guard);
  KkHttpRouter *router = g_steal_pointer (&self->router);

  /* SoupServer finishes first: the guard and the routes' data outlive
   * it, as they would as object data. */
  G_OBJECT_CLASS (kk_http_server_parent_class)->finalize (object);
  kk_http_guard_free (guard);
  router_free (router);
}

static void
kk_http_server_class_init (KkHttpServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_http_server_finalize;
}

static void
kk_http_server_init (KkHttpServer *self)
{
}

/* GSocket's default listen backlog is 10: a join storm (a course's start,
 * hundreds of nurses opening their links in the same minute) would see
 * connections refused by the kernel before libsoup accepts them. */
#define LISTEN_BACKLOG 1024

static gboolean
listen_on (SoupServer *server, GSocketAddress *address, GError **error)
{
  GSocketFamily family = g_socket_address_get_family (address);
  g_autoptr (GSocket) socket = NULL;

  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
      error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, NULL);
  /* One IPv6 socket takes IPv4 clients too (v4-mapped). */
  if (family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 0, NULL);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error)
      || !g_socket_listen (socket, error))
    return FALSE;
  return kk_http_guard_add_socket (get_guard (server), socket, error);
}

static gboolean
listen_all (SoupServer *server, guint16 port, GError **error)
{
  g_autoptr (GSocketAddress) any6 = g_inet_socket_address_new_from_string ("::", port);
  g_autoptr (GSocketAddress) any4 = NULL;
  g_autoptr (GError) v6_error = NULL;

  if (listen_on (server, any6, &v6_error))
    return TRUE;
  /* No IPv6 on this host (or in this container). */
  any4 = g_inet_socket_address_new_from_string ("0.0.0.0", port);
  return listen_on (server, any4, error);
}

SoupServer *
kk_http_server_new (const KkConfig *config, GError **error)
{
  g_autoptr (SoupServer) server = NULL;
  KkHttpServer *self;
  KkHttpRouter *router;
  gboolean ok;

  g_return_val_if_fail (config != NULL, NULL);

  if (body_state_quark == 0)
    body_state_quark = g_quark_from_static_string ("kk-http-body-state");

  server = g_object_new (KK_TYPE_HTTP_SERVER,
      "server-header", "kringkast/" KK_VERSION, NULL);
  self = KK_HTTP_SERVER (server);
  g_signal_connect (server, "request-started",
      G_CALLBACK (request_started_cb), NULL);

  self->guard = kk_http_guard_new (server);

  router = g_new0 (KkHttpRouter, 1);
  router->routes = g_ptr_array_new_with_free_func ((GDestroyNotify) route_free);
  router->kept = g_array_new (FALSE, FALSE, sizeof (KkHttpKept));
  self->router = router;
  soup_server_add_handler (server, "/", router_dispatch, router, NULL);

  if (config->http_address != NULL) {
    g_autoptr (GSocketAddress) address = g_inet_socket_address_new_from_string (
        config->http_address, config->http_port);

    if (address == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "'%s' is not an IP address", config->http_address);
      return NULL;
    }
    ok = listen_on (server, address, error);
  } else {
    ok = listen_all (server, config->http_port, error);
  }
  if (!ok) {
    g_prefix_error (error, "HTTP port %u: ", config->http_port);
    return NULL;
  }
  return g_steal_pointer (&server);
}

guint16
kk_http_server_get_port (SoupServer *server)
{
  GSList *uris = soup_server_get_uris (server);
  guint16 port = 0;

  if (uris != NULL)
    port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return port;
}

void
kk_http_server_disconnect (SoupServer *server)
{
  kk_http_guard_stop (get_guard (server));
  soup_server_disconnect (server);
}

void
kk_http_collect_metrics (KkMetrics *metrics, gpointer user_data)
{
  GHashTable *counts = kk_http_guard_get_counts (get_guard (user_data));
  g_autoptr (GList) reasons = g_list_sort (g_hash_table_get_keys (counts),
      (GCompareFunc) strcmp);

  for (GList *l = reasons; l != NULL; l = l->next) {
    g_autofree char *labels = g_strdup_printf ("reason=\"%s\"",
        (const char *) l->data);

    kk_metrics_sample (metrics, "kringkast_http_rejected_total",
        KK_METRIC_COUNTER, "Requests and connections refused for crossing "
        "a bound (429, 431, 408)", labels,
        GPOINTER_TO_SIZE (g_hash_table_lookup (counts, l->data)));
  }
}
