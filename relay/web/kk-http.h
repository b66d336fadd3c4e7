/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-http: the daemon's SoupServer and the small toolkit every HTTP handler
 * uses: routes with path parameters, JSON replies and errors, bearer
 * tokens, Content-Type checks. Bodies are parsed with kk-json (relay/base),
 * whose errors are answered with 400 like %KK_HTTP_ERROR_BAD_REQUEST.
 *
 * Connections come through kk-http-guard, which bounds header blocks
 * (431) and the time to send them (408), and closes idle connections.
 *
 * The server made by kk_http_server_new() refuses request bodies over
 * KK_HTTP_MAX_BODY bytes with 413 before buffering them (by Content-Length
 * as soon as the headers are in, and by counting as chunked bodies
 * arrive), answers unknown paths with a JSON 404, and rejects paths with
 * empty, "." or ".." segments (404), or with control characters or
 * over-long segments (400), before any route sees them.
 *
 * Handlers run on the main context. A handler that answers later (after a
 * store write, say) calls kk_http_request_pause(), replies when done, and
 * then kk_http_request_resume().
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kk-config.h"
#include "kk-json.h"
#include "kk-metrics.h"
#include "kk-ratelimit.h"

G_BEGIN_DECLS

#define KK_HTTP_ERROR (kk_http_error_quark ())
GQuark kk_http_error_quark (void);

typedef enum {
  KK_HTTP_ERROR_BAD_REQUEST,    /* malformed input: HTTP 400 */
} KkHttpError;

/* libsoup 3.2 has no name for it (RFC 6585). */
#define KK_HTTP_STATUS_TOO_MANY_REQUESTS 429

/* Largest request body accepted; larger ones get 413. */
#define KK_HTTP_MAX_BODY (64 * 1024)
/* How much of a refused body is read (and dropped) so the client, still
 * sending, can read the 413; past this the connection is closed. */
#define KK_HTTP_MAX_DISCARD (1024 * 1024)
#define KK_HTTP_MAX_PATH 2048
#define KK_HTTP_MAX_SEGMENT 128

/**
 * kk_http_server_new:
 * @config: uses http_port (0: any free port) and http_address (NULL: all
 *   interfaces, IPv4 and IPv6)
 *
 * Creates a SoupServer with the body limit and the router installed, and
 * starts listening.
 *
 * Returns: (transfer full): the server, or NULL with @error.
 */
SoupServer *kk_http_server_new (const KkConfig *config, GError **error);

/* Returns: the port the server listens on (useful with port 0), or 0. */
guint16 kk_http_server_get_port (SoupServer *server);
/* Stops accepting connections and closes those open. */
void kk_http_server_disconnect (SoupServer *server);
/* A KkMetricsCollectFunc; @user_data is the server:
 * kringkast_http_rejected_total{reason}, every refusal for crossing a
 * bound (kk-http-guard.h, kk_http_request_reply_limited()). */
void kk_http_collect_metrics (KkMetrics *metrics, gpointer user_data);

/*
 * Route modules (kk-api, kk-attendance-api, kk-presence-api,
 * kk-recordings-api, kk-roster-api, kk-schedule-api, kk-signalling,
 * kk-pages) all have one shape:
 *
 *   gboolean kk_<x>_register (SoupServer *server, KkAuth *auth,
 *       <what its handlers use>..., GError **error);
 *
 * (kk-pages, whose routes are public, has no @auth.)
 * A module is handed everything its handlers use, once, here; it never
 * finds another module through the server or through object data, and it
 * asks kk-auth who may call (none of them decides on a token itself). It
 * makes its route data, gives it to kk_http_server_keep() so that the data
 * lives exactly as long as the routes, and adds its routes with
 * kk_http_add_route(). relay/kk-relay.c calls every register function, in
 * the order routes should match.
 */

/* Frees @data with @destroy when @server is finalized: a route module's
 * data, which its routes use for as long as the server has them. */
void kk_http_server_keep (SoupServer *server, gpointer data,
    GDestroyNotify destroy);

typedef struct _KkHttpRequest KkHttpRequest;

/**
 * KkHttpRouteFunc:
 * @request: (transfer none): the request; valid during the call, or until
 *   kk_http_request_resume() after kk_http_request_pause()
 */
typedef void (*KkHttpRouteFunc) (KkHttpRequest *request, gpointer user_data);

/**
 * kk_http_add_route:
 * @server: a server from kk_http_server_new()
 * @method: "GET", "POST", ...; a GET route also answers HEAD
 * @pattern: an absolute path whose segments are literal or `{name}`
 *   placeholders matching exactly one segment, e.g. "/api/rooms/{room}/join"
 *
 * Routes are matched segment by segment on the decoded path; the first
 * route registered wins. A path that matches only routes of other methods
 * gets 405 with an Allow header.
 */
void kk_http_add_route (SoupServer *server, const char *method,
    const char *pattern, KkHttpRouteFunc func, gpointer user_data);

KkHttpRequest *kk_http_request_ref (KkHttpRequest *request);
void kk_http_request_unref (KkHttpRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkHttpRequest, kk_http_request_unref)

/* Returns: (transfer none): the message. */
SoupServerMessage *kk_http_request_get_message (KkHttpRequest *request);
/* Returns: (transfer none): the value of the @index-th placeholder of the
 * route (0-based), already checked to be a sane path segment. */
const char *kk_http_request_get_param (KkHttpRequest *request, guint index);
/* Returns: (transfer none) (nullable): a decoded query parameter. */
const char *kk_http_request_get_query (KkHttpRequest *request,
    const char *name);
/* Returns: (transfer full): the request body (at most KK_HTTP_MAX_BODY). */
GBytes *kk_http_request_get_body (KkHttpRequest *request);

/* Suspends the response until kk_http_request_resume(), holding a
 * reference to @request meanwhile. */
void kk_http_request_pause (KkHttpRequest *request);
/* Sends the reply set since the pause (unless the client has gone) and
 * drops the pause's reference. */
void kk_http_request_resume (KkHttpRequest *request);

/* Replies 429 `{"error": @message}` with Retry-After (@retry_after_us
 * rounded up to whole seconds, at least 1) and counts it under
 * kringkast_http_rejected_total{reason=@reason} (a static string). */
void kk_http_request_reply_limited (KkHttpRequest *request,
    const char *reason, gint64 retry_after_us, const char *message);
/* Takes one from the bucket of the request's client (its address) in
 * @limit; TRUE if there was one, else replies 429 as above and returns
 * FALSE. Programs on this machine (tests, benchmarks: a local client
 * without X-Forwarded-For) are never limited. */
gboolean kk_http_request_take_client_slot (KkHttpRequest *request,
    KkRateLimit *limit, const char *reason, const char *message);

/* Returns: (transfer full) (nullable): the client's IP address as text:
 * the connection's, or, when that is loopback (a reverse proxy on this
 * machine, as in deploy/nginx.conf), the last X-Forwarded-For entry. */
char *kk_http_get_client_address (SoupServerMessage *msg);

/* Whether the request comes from this machine itself: a loopback peer
 * that is not a proxy passing a client's address (no X-Forwarded-For). */
gboolean kk_http_is_local_client (SoupServerMessage *msg);

/* Replies `{"error": MESSAGE}` with @status. A 401 also carries
 * `WWW-Authenticate: Bearer realm="kringkast"` (RFC 6750). */
void kk_http_reply_error (SoupServerMessage *msg, guint status,
    const char *format, ...) G_GNUC_PRINTF (3, 4);
/* Replies what @builder built as application/json, with Cache-Control:
 * no-store (our JSON may carry tokens). */
void kk_http_reply_builder (SoupServerMessage *msg, guint status,
    JsonBuilder *builder);
/* Sets @member of the object @builder is building to @value, or to null
 * when @value is NULL: our JSON shows a missing value as null. */
void kk_http_json_add_string (JsonBuilder *builder, const char *member,
    const char *value);
/* Sets @member to @time_us (microseconds since the Unix epoch) in UTC
 * (kk_time_format_utc()), or to null for 0: not happened (yet). */
void kk_http_json_add_time (JsonBuilder *builder, const char *member,
    gint64 time_us);

/* Returns: (transfer full) (nullable): the token of an
 * `Authorization: Bearer TOKEN` header, or NULL if there is none or it is
 * malformed. */
char *kk_http_get_bearer_token (SoupServerMessage *msg);

/* Checks that the request's media type is @media_type (parameters such as
 * charset ignored). If not, replies 415 and returns FALSE. */
gboolean kk_http_check_content_type (SoupServerMessage *msg,
    const char *media_type);

G_END_DECLS
