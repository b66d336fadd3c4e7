/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-pages: the web pages people use, compiled into the binary with
 * GResource (relay/web/assets/), so the daemon needs no files and no front-end
 * build, and no page ever loads anything from another origin (the
 * Content-Security-Policy says so to the browser too).
 *
 *   GET /watch/{room}   the nurse's page (watch.html)
 *   GET /host/{room}    the host's page (host.html); the host token travels
 *                       in the URL fragment, which never reaches a server
 *   GET /admin          the coordinator's page (admin.html)
 *   GET /checkin/{room} checking in from one's own phone with the code a
 *                       shared screen shows (checkin.html)
 *   GET /report/{session} the session report for the coordinator
 *                       (report.html), printable
 *   GET /check          the network check a workplace runs before a
 *                       course (check.html)
 *   GET /static/{file}  the scripts, the stylesheet and images
 *   GET /qr.svg?data=   a QR code of @data (kk-qr), for links people open
 *                       on their phones
 *
 * The pages find everything else through the JSON API, with the tokens
 * the person holds, so serving them needs no authentication.
 */
#include "kk-pages.h"

#include "kk-http.h"
#include "kk-qr.h"
#include "kk-web-resources.h"
#include <string.h>

#define RESOURCE_PREFIX "/no/kringkast/web/"

static const char *
content_type_for (const char *name)
{
  if (g_str_has_suffix (name, ".html"))
    return "text/html; charset=utf-8";
  if (g_str_has_suffix (name, ".js"))
    return "text/javascript; charset=utf-8";
  if (g_str_has_suffix (name, ".css"))
    return "text/css; charset=utf-8";
  if (g_str_has_suffix (name, ".svg"))
    return "image/svg+xml";
  return "application/octet-stream";
}

static void
serve_resource (SoupServerMessage *msg, const char *name)
{
  g_autofree char *path = g_strconcat (RESOURCE_PREFIX, name, NULL);
  g_autoptr (GBytes) bytes = g_resources_lookup_data (path,
      G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gsize len;
  gconstpointer data;

  if (bytes == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such page");
    return;
  }
  data = g_bytes_get_data (bytes, &len);
  soup_message_headers_replace (headers, "Content-Security-Policy",
      "default-src 'self'; media-src 'self' blob: mediastream:; "
      "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
      "frame-ancestors 'none'");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  /* Pages change with the daemon; revalidating them is cheap. */
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type_for (name),
      SOUP_MEMORY_COPY, data, len);
}

/* The page routes pass the file name as user data. */
static void
page (KkHttpRequest *request, gpointer user_data)
{
  serve_resource (kk_http_request_get_message (request), user_data);
}

static void
qr_svg (KkHttpRequest *request, gpointer user_data)
{
  SoupServerMessage *msg = kk_http_request_get_message (request);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *data = kk_http_request_get_query (request, "data");
  g_autoptr (GError) error = NULL;
  char *svg;

  if (data == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "the data parameter is required");
    return;
  }
  svg = kk_qr_svg (data, strlen (data), &error);
  if (svg == NULL) {
    kk_http_reply_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  soup_message_headers_replace (headers, "Content-Security-Policy",
      "default-src 'none'");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  /* The picture depends on the query alone. */
  soup_message_headers_replace (headers, "Cache-Control",
      "public, max-age=86400");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "image/svg+xml", SOUP_MEMORY_TAKE,
      svg, strlen (svg));
}

static void
static_file (KkHttpRequest *request, gpointer user_data)
{
  const char *name = kk_http_request_get_param (request, 0);

  /* kk-http already refused "..", empty and odd segments; a name with a
   * slash cannot be one segment. Only the files in the bundle exist. */
  if (g_str_has_suffix (name, ".html")) {
    kk_http_reply_error (kk_http_request_get_message (request),
        SOUP_STATUS_NOT_FOUND, "no such file");
    return;
  }
  serve_resource (kk_http_request_get_message (request), name);
}

gboolean
kk_pages_register (SoupServer *server, GError **error)
{
  g_resources_register (kk_web_get_resource ());
  kk_http_add_route (server, "GET", "/watch/{room}", page, "watch.html");
  kk_http_add_route (server, "GET", "/host/{room}", page, "host.html");
  kk_http_add_route (server, "GET", "/admin", page, "admin.html");
  kk_http_add_route (server, "GET", "/checkin/{room}", page, "checkin.html");
  kk_http_add_route (server, "GET", "/report/{session}", page, "report.html");
  kk_http_add_route (server, "GET", "/check", page, "check.html");
  kk_http_add_route (server, "GET", "/qr.svg", qr_svg, NULL);
  kk_http_add_route (server, "GET", "/static/{file}", static_file, NULL);
  return TRUE;
}
