/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-http-guard: bounded header blocks and header/idle time limits in
 * front of SoupServer; see kk-http-guard.h.
 *
 * Why not inside SoupServer: libsoup 3.2 reads a request's header block
 * in soup_message_io_data_read_headers() (http1/soup-message-io-data.c)
 * up to a fixed HEADER_SIZE_LIMIT of 64 KiB; past it the read fails with
 * G_IO_ERROR_PARTIAL_INPUT, io_run() in soup-server-message-io-http1.c
 * marks the message 500 and finishes it without writing anything, and
 * the connection is dropped. It has no time limit for a request at all,
 * and no signal reaches us before the drop. So the bytes are watched
 * from below: every connection is accepted here and given to SoupServer
 * as a GIOStream whose input stream (KkGuardInput) sees each byte before
 * libsoup does.
 *
 * Phases of a connection (KkGuardStream): WAITING for a request (from
 * accept, and again after SoupServer finishes one: "request-finished");
 * HEADERS from its first byte until kk_http_head_scan_feed() finds the
 * empty line; BODY after it (not timed here: handlers may hold a request,
 * e.g. a long poll); REFUSED once a limit is crossed. A refusal writes the
 * answer straight to the socket (libsoup writes nothing while it reads a
 * request), then makes libsoup's pending read fail: the read fails at once
 * for 431; for the timers, a per-connection GCancellable, a child of every
 * source the stream hands out, wakes libsoup to read and fail. libsoup
 * then closes the stream, and the close lingers (see below).
 *
 * Mapping a SoupServerMessage back to its connection: libsoup keeps the
 * remote GSocketAddress we give soup_server_accept_iostream() and returns
 * that very object from soup_server_message_get_remote_address(), so the
 * stream is found as qdata on it.
 *
 * Keep-alive: SoupServer keeps a connection open after a response only
 * while it has a listener of its own (request_finished() in
 * soup-server.c checks priv->listeners), and reports its URIs from them.
 * So SoupServer is given the listening socket too (a dup of it), but its
 * listener is created with a private main context pushed as
 * thread-default, which nobody runs: its accept source never fires and
 * every connection comes through here.
 */
#include "kk-http-guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "kk-build-config.h"

/* A refused connection is read and dropped this long (or this much) after
 * the answer, so closing it with unread bytes does not reset it before
 * the client has read the answer. */
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (256 * 1024)

/* ---- the header block scanner ---- */

enum {
  SCAN_TEXT,                    /* within a line */
  SCAN_LINE_START,              /* just after LF */
  SCAN_LINE_START_CR,           /* LF, then CR */
};

void
kk_http_head_scan_init (KkHttpHeadScan *scan)
{
  memset (scan, 0, sizeof (*scan));
  scan->state = SCAN_TEXT;
}

gsize
kk_http_head_scan_feed (KkHttpHeadScan *scan, const guint8 *data, gsize len)
{
  gsize i;

  if (scan->complete)
    return 0;
  for (i = 0; i < len && !scan->complete; i++) {
    guint8 c = data[i];

    if (c == '\n')
      scan->complete = scan->state != SCAN_TEXT;
    switch (c) {
      case '\n':
        scan->state = SCAN_LINE_START;
        break;
      case '\r':
        scan->state = scan->state == SCAN_LINE_START
            ? SCAN_LINE_START_CR : SCAN_TEXT;
        break;
      default:
        scan->state = SCAN_TEXT;
        break;
    }
  }
  scan->size += i;
  return i;
}

/* ---- the guard ---- */

struct _KkHttpGuard {
  SoupServer *server;           /* not a ref: it owns us */
  GMainContext *unpolled;       /* SoupServer's own listeners live here */
  GSocketService *service;
  GHashTable *streams;          /* KkGuardStream set, not refs */
  GHashTable *counts;           /* static reason → count */
  guint sweep_id;
};

static GQuark stream_quark;

typedef enum {
  PHASE_WAITING,
  PHASE_HEADERS,
  PHASE_BODY,
  PHASE_REFUSED,
} KkGuardPhase;

#define KK_TYPE_GUARD_STREAM (kk_guard_stream_get_type ())
G_DECLARE_FINAL_TYPE (KkGuardStream, kk_guard_stream, KK, GUARD_STREAM,
    GIOStream)
#define KK_TYPE_GUARD_INPUT (kk_guard_input_get_type ())
G_DECLARE_FINAL_TYPE (KkGuardInput, kk_guard_input, KK, GUARD_INPUT,
    GFilterInputStream)

struct _KkGuardStream {
  GIOStream parent;

  KkHttpGuard *guard;           /* NULL once the guard is gone */
  GSocketConnection *base;
  GInputStream *input;          /* a KkGuardInput */
  GSocketAddress *remote;       /* carries us as qdata */
  GCancellable *wake;           /* cancelled: libsoup's read must run now */
  SoupServerMessage *last_msg;  /* while WAITING after a request: see drop_idle() */
  gboolean drop_scheduled;
  KkGuardPhase phase;
  gboolean answered;            /* a refusal was written */
  KkHttpHeadScan scan;
  gint64 deadline_us;           /* monotonic; 0: none */
  gint64 send_deadline_us;      /* a response's; 0: none */
};

struct _KkGuardInput {
  GFilterInputStream parent;
  KkGuardStream *stream;        /* not a ref: the stream owns us */
};

void
kk_http_guard_count (KkHttpGuard *guard, const char *reason)
{
  gsize count = GPOINTER_TO_SIZE (g_hash_table_lookup (guard->counts, reason));

  g_hash_table_insert (guard->counts, (gpointer) reason,
      GSIZE_TO_POINTER (count + 1));
}

/* Writes a complete answer if the socket takes it now; a client that does
 * not even read gets nothing, which costs it nothing more either. */
static void
write_refusal (KkGuardStream *stream, guint status, const char *phrase,
    const char *message)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (
          stream->base));
  g_autofree char *body = g_strdup_printf ("{\"error\": \"%s\"}", message);
  g_autofree char *text = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
      "Server: kringkast/" KK_VERSION "\r\n"
      "Content-Type: application/json\r\n"
      "Cache-Control: no-store\r\n"
      "Connection: close\r\n"
      "Content-Length: %zu\r\n\r\n%s", status, phrase, strlen (body), body);

  if (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (
              out), text, strlen (text), NULL, NULL) > 0)
    stream->answered = TRUE;
}

/* @status 0: close without an answer (an idle connection). libsoup 3.2
 * knows neither 431 nor its phrase, hence @phrase. */
static void
refuse (KkGuardStream *stream, guint status, const char *phrase,
    const char *message, const char *reason)
{
  if (status != 0)
    write_refusal (stream, status, phrase, message);
  g_debug ("http: refusing a connection: %s", reason);
  stream->phase = PHASE_REFUSED;
  stream->deadline_us = 0;
  if (stream->guard != NULL && status != 0)
    kk_http_guard_count (stream->guard, reason);
}

/* What libsoup reads passes through here. Returns @nread, or -1 with
 * @error once the connection is refused. */
static gssize
guard_received (KkGuardStream *stream, const void *buffer, gssize nread,
    GError **error)
{
  if (nread <= 0 || stream->phase == PHASE_BODY)
    return nread;
  if (stream->phase == PHASE_WAITING) {
    /* libsoup now treats this request as started: it ends it itself. */
    g_clear_object (&stream->last_msg);
    stream->phase = PHASE_HEADERS;
    kk_http_head_scan_init (&stream->scan);
    stream->deadline_us = g_get_monotonic_time ()
        + KK_HTTP_HEADER_TIMEOUT_S * G_USEC_PER_SEC;
  }
  kk_http_head_scan_feed (&stream->scan, buffer, nread);
  if (stream->scan.size > KK_HTTP_MAX_HEADER) {
    g_autofree char *message = g_strdup_printf (
        "request header block over %d bytes", KK_HTTP_MAX_HEADER);

    refuse (stream, 431, "Request Header Fields Too Large", message,
        "header-too-large");
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
        "header block over %d bytes", KK_HTTP_MAX_HEADER);
    return -1;
  }
  if (stream->scan.complete) {
    stream->phase = PHASE_BODY;
    stream->deadline_us = 0;
  }
  return nread;
}

static gboolean
refused (KkGuardStream *stream, GError **error)
{
  if (stream->phase != PHASE_REFUSED)
    return FALSE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
      "connection refused by the HTTP guard");
  return TRUE;
}

/* libsoup 3.2 cannot end a kept-alive connection on which no request
 * came: after a failed read it forgets the connection without closing it
 * or letting SoupServer drop it (fixed in libsoup 3.3, "server: do not
 * leak idle connections closed by the client"), so the socket and its
 * objects would stay until shutdown. Stealing the connection through the
 * last message on it makes SoupServer let go, and we close it. */
static void
drop_idle (KkGuardStream *stream)
{
  g_autoptr (SoupServerMessage) msg = g_steal_pointer (&stream->last_msg);
  g_autoptr (GIOStream) stolen = NULL;

  if (msg == NULL || stream->phase != PHASE_WAITING)
    return;
  stream->phase = PHASE_REFUSED;
  stream->deadline_us = 0;
  stolen = soup_server_message_steal_connection (msg);
  if (stolen != NULL)
    g_io_stream_close (stolen, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (stream), NULL, NULL);
}

static gboolean
drop_idle_cb (gpointer user_data)
{
  drop_idle (user_data);
  return G_SOURCE_REMOVE;
}

static void
schedule_drop (KkGuardStream *stream)
{
  if (stream->drop_scheduled)
    return;
  stream->drop_scheduled = TRUE;
  g_idle_add_full (G_PRIORITY_HIGH, drop_idle_cb, g_object_ref (stream),
      g_object_unref);
}

/* ---- KkGuardInput ---- */

static void kk_guard_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (KkGuardInput, kk_guard_input,
    G_TYPE_FILTER_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
        kk_guard_input_pollable_init))

static GInputStream *
base_input (KkGuardInput *input)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (input));
}

static gssize
kk_guard_input_read (GInputStream *stream, void *buffer, gsize count,
    GCancellable *cancellable, GError **error)
{
  KkGuardInput *input = KK_GUARD_INPUT (stream);

  if (refused (input->stream, error))
    return -1;
  return guard_received (input->stream, buffer, g_input_stream_read (
          base_input (input), buffer, count, cancellable, error), error);
}

static gssize
kk_guard_input_read_nonblocking (GPollableInputStream *stream, void *buffer,
    gsize count, GError **error)
{
  KkGuardInput *input = KK_GUARD_INPUT (stream);
  KkGuardStream *guarded = input->stream;
  g_autoptr (GError) local_error = NULL;
  gssize nread;

  if (refused (guarded, error))
    return -1;
  nread = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (
          base_input (input)), buffer, count, NULL, &local_error);
  /* The client closed (or reset) a kept-alive connection between
   * requests: libsoup would keep it (see drop_idle()), so it is dropped
   * from the main loop, outside libsoup's read. */
  if ((nread == 0 || (nread < 0 && !g_error_matches (local_error, G_IO_ERROR,
                  G_IO_ERROR_WOULD_BLOCK)))
      && guarded->phase == PHASE_WAITING && guarded->last_msg != NULL) {
    schedule_drop (guarded);
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
        "closed by the client; dropped next");
    return -1;
  }
  if (nread < 0) {
    g_propagate_error (error, g_steal_pointer (&local_error));
    return -1;
  }
  return guard_received (guarded, buffer, nread, error);
}

static gboolean
kk_guard_input_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
kk_guard_input_is_readable (GPollableInputStream *stream)
{
  KkGuardInput *input = KK_GUARD_INPUT (stream);

  return input->stream->phase == PHASE_REFUSED
      || g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (
              base_input (input)));
}

static GSource *
kk_guard_input_create_source (GPollableInputStream *stream,
    GCancellable *cancellable)
{
  KkGuardInput *input = KK_GUARD_INPUT (stream);
  GSource *source = g_pollable_source_new (G_OBJECT (stream));
  GSource *child;

  child = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (
          base_input (input)), cancellable);
  g_source_set_dummy_callback (child);
  g_source_add_child_source (source, child);
  g_source_unref (child);

  child = g_cancellable_source_new (input->stream->wake);
  g_source_set_dummy_callback (child);
  g_source_add_child_source (source, child);
  g_source_unref (child);
  return source;
}

static void
kk_guard_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = kk_guard_input_can_poll;
  iface->is_readable = kk_guard_input_is_readable;
  iface->create_source = kk_guard_input_create_source;
  iface->read_nonblocking = kk_guard_input_read_nonblocking;
}

static void
kk_guard_input_class_init (KkGuardInputClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = kk_guard_input_read;
}

static void
kk_guard_input_init (KkGuardInput *input)
{
}

/* ---- lingering close ---- */

typedef struct {
  GSocketConnection *base;
  GSource *read_source;
  guint timeout_id;
  gboolean read_source_done;    /* its callback returned REMOVE */
  gsize drained;
} KkLinger;

static void
linger_end (KkLinger *linger)
{
  if (!linger->read_source_done)
    g_source_destroy (linger->read_source);
  g_source_unref (linger->read_source);
  if (linger->timeout_id != 0)
    g_source_remove (linger->timeout_id);
  g_io_stream_close (G_IO_STREAM (linger->base), NULL, NULL);
  g_object_unref (linger->base);
  g_free (linger);
}

static gboolean
linger_read_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  KkLinger *linger = user_data;
  g_autoptr (GError) error = NULL;
  char buffer[4096];
  gssize n;

  do {
    n = g_socket_receive_with_blocking (socket, buffer, sizeof (buffer), FALSE,
        NULL, &error);
    if (n > 0)
      linger->drained += n;
  } while (n > 0 && linger->drained <= LINGER_MAX_BYTES);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  /* The client closed, failed, or keeps sending too much. */
  linger->read_source_done = TRUE;
  linger_end (linger);
  return G_SOURCE_REMOVE;
}

static gboolean
linger_timeout_cb (gpointer user_data)
{
  KkLinger *linger = user_data;

  linger->timeout_id = 0;
  linger_end (linger);
  return G_SOURCE_REMOVE;
}

/* Half-closes @base after the answer, drops what still arrives, closes. */
static void
linger_close (GSocketConnection *base)
{
  GSocket *socket = g_socket_connection_get_socket (base);
  KkLinger *linger = g_new0 (KkLinger, 1);

  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  linger->base = g_object_ref (base);
  linger->read_source = g_socket_create_source (socket,
      G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (linger->read_source, (GSourceFunc) (void (*) (void))
      linger_read_cb, linger, NULL);
  g_source_attach (linger->read_source, NULL);
  linger->timeout_id = g_timeout_add (LINGER_MS, linger_timeout_cb, linger);
}

/* ---- KkGuardStream ---- */

G_DEFINE_FINAL_TYPE (KkGuardStream, kk_guard_stream, G_TYPE_IO_STREAM)

static GInputStream *
kk_guard_stream_get_input_stream (GIOStream *io)
{
  return KK_GUARD_STREAM (io)->input;
}

static GOutputStream *
kk_guard_stream_get_output_stream (GIOStream *io)
{
  return g_io_stream_get_output_stream (G_IO_STREAM (KK_GUARD_STREAM (
              io)->base));
}

static void
detach (KkGuardStream *stream)
{
  if (stream->guard != NULL)
    g_hash_table_remove (stream->guard->streams, stream);
  stream->guard = NULL;
  stream->deadline_us = 0;
}

static gboolean
kk_guard_stream_close (GIOStream *io, GCancellable *cancellable,
    GError **error)
{
  KkGuardStream *stream = KK_GUARD_STREAM (io);

  detach (stream);
  g_clear_object (&stream->last_msg);
  if (stream->answered)
    linger_close (stream->base);
  else
    g_io_stream_close (G_IO_STREAM (stream->base), NULL, NULL);
  return TRUE;
}

static void
kk_guard_stream_finalize (GObject *object)
{
  KkGuardStream *stream = KK_GUARD_STREAM (object);

  detach (stream);
  g_object_set_qdata (G_OBJECT (stream->remote), stream_quark, NULL);
  g_object_unref (stream->remote);
  g_object_unref (stream->input);
  g_object_unref (stream->base);
  g_object_unref (stream->wake);
  G_OBJECT_CLASS (kk_guard_stream_parent_class)->finalize (object);
}

static void
kk_guard_stream_class_init (KkGuardStreamClass *klass)
{
  GIOStreamClass *io_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = kk_guard_stream_finalize;
  io_class->get_input_stream = kk_guard_stream_get_input_stream;
  io_class->get_output_stream = kk_guard_stream_get_output_stream;
  io_class->close_fn = kk_guard_stream_close;
}

static void
kk_guard_stream_init (KkGuardStream *stream)
{
}

static KkGuardStream *
guard_stream_new (KkHttpGuard *guard, GSocketConnection *base,
    GSocketAddress *remote)
{
  KkGuardStream *stream = g_object_new (KK_TYPE_GUARD_STREAM, NULL);
  KkGuardInput *input = g_object_new (KK_TYPE_GUARD_INPUT, "base-stream",
      g_io_stream_get_input_stream (G_IO_STREAM (base)), NULL);

  input->stream = stream;
  stream->input = G_INPUT_STREAM (input);
  stream->guard = guard;
  stream->base = g_object_ref (base);
  stream->remote = g_object_ref (remote);
  stream->wake = g_cancellable_new ();
  stream->phase = PHASE_WAITING;
  stream->deadline_us = g_get_monotonic_time ()
      + KK_HTTP_IDLE_TIMEOUT_S * G_USEC_PER_SEC;
  g_object_set_qdata (G_OBJECT (remote), stream_quark, stream);
  g_hash_table_add (guard->streams, stream);
  return stream;
}

/* ---- accepting and timing ---- */

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection,
    GObject *source_object, gpointer user_data)
{
  KkHttpGuard *guard = user_data;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (KkGuardStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  local = g_socket_connection_get_local_address (connection, NULL);
  remote = g_socket_connection_get_remote_address (connection, NULL);
  if (local == NULL || remote == NULL)
    return TRUE;                /* gone already; dropping it closes it */
  g_socket_set_option (g_socket_connection_get_socket (connection),
      IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  stream = guard_stream_new (guard, connection, remote);
  if (!soup_server_accept_iostream (guard->server, G_IO_STREAM (stream),
          local, remote, &error))
    g_warning ("http: cannot accept a connection: %s", error->message);
  return TRUE;
}

/* The next request on a kept-alive connection is timed from now. */
static void
request_done_cb (SoupServer *server, SoupServerMessage *msg,
    gpointer user_data)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  KkGuardStream *stream = remote != NULL
      ? g_object_get_qdata (G_OBJECT (remote), stream_quark) : NULL;

  if (stream == NULL || stream->phase == PHASE_REFUSED)
    return;
  g_set_object (&stream->last_msg, msg);
  stream->send_deadline_us = 0;
  stream->phase = PHASE_WAITING;
  stream->deadline_us = g_get_monotonic_time ()
      + KK_HTTP_IDLE_TIMEOUT_S * G_USEC_PER_SEC;
}

/* Once a second: refuse what overstayed. Refusing closes streams, so the
 * table is not iterated meanwhile. */
static gboolean
sweep_cb (gpointer user_data)
{
  KkHttpGuard *guard = user_data;
  g_autoptr (GPtrArray) due = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, guard->streams);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    KkGuardStream *stream = key;

    if ((stream->deadline_us != 0 && now >= stream->deadline_us)
        || (stream->send_deadline_us != 0 && now >= stream->send_deadline_us))
      g_ptr_array_add (due, g_object_ref (stream));
  }
  for (guint i = 0; i < due->len; i++) {
    KkGuardStream *stream = due->pdata[i];

    if (stream->send_deadline_us != 0 && now >= stream->send_deadline_us) {
      /* libsoup's write under way fails, and it lets the connection and
       * the message (and the response it holds) go. */
      stream->send_deadline_us = 0;
      refuse (stream, 0, NULL, NULL, "send-timeout");
      kk_http_guard_count (guard, "send-timeout");
      g_socket_shutdown (g_socket_connection_get_socket (stream->base), TRUE,
          TRUE, NULL);
      g_cancellable_cancel (stream->wake);
    } else if (stream->phase == PHASE_HEADERS) {
      refuse (stream, SOUP_STATUS_REQUEST_TIMEOUT, "Request Timeout",
          "the request's headers did not arrive in time", "header-timeout");
      g_cancellable_cancel (stream->wake);
    } else if (stream->last_msg != NULL) {
      drop_idle (stream);
    } else {
      /* A new connection that never sent a byte: libsoup's first request
       * ends the connection itself once its read fails. */
      refuse (stream, 0, NULL, NULL, "idle");
      g_cancellable_cancel (stream->wake);
    }
  }
  return G_SOURCE_CONTINUE;
}

void
kk_http_guard_limit_response (SoupServerMessage *msg, guint seconds)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  KkGuardStream *stream = remote != NULL
      ? g_object_get_qdata (G_OBJECT (remote), stream_quark) : NULL;

  if (stream == NULL || stream->phase == PHASE_REFUSED)
    return;
  stream->send_deadline_us = g_get_monotonic_time ()
      + seconds * G_USEC_PER_SEC;
}

KkHttpGuard *
kk_http_guard_new (SoupServer *server)
{
  KkHttpGuard *guard = g_new0 (KkHttpGuard, 1);

  if (stream_quark == 0)
    stream_quark = g_quark_from_static_string ("kk-http-guard-stream");
  guard->server = server;
  guard->unpolled = g_main_context_new ();
  guard->service = g_socket_service_new ();
  guard->streams = g_hash_table_new (NULL, NULL);
  guard->counts = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (guard->counts, (gpointer) "header-too-large", NULL);
  g_hash_table_insert (guard->counts, (gpointer) "header-timeout", NULL);
  g_signal_connect (guard->service, "incoming", G_CALLBACK (incoming_cb),
      guard);
  g_signal_connect (server, "request-finished", G_CALLBACK (request_done_cb),
      guard);
  g_signal_connect (server, "request-aborted", G_CALLBACK (request_done_cb),
      guard);
  guard->sweep_id = g_timeout_add_seconds (1, sweep_cb, guard);
  return guard;
}

void
kk_http_guard_stop (KkHttpGuard *guard)
{
  g_socket_service_stop (guard->service);
  g_socket_listener_close (G_SOCKET_LISTENER (guard->service));
}

void
kk_http_guard_free (KkHttpGuard *guard)
{
  GHashTableIter iter;
  gpointer key;

  if (guard == NULL)
    return;
  kk_http_guard_stop (guard);
  g_signal_handlers_disconnect_by_data (guard->server, guard);
  g_source_remove (guard->sweep_id);
  g_hash_table_iter_init (&iter, guard->streams);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    ((KkGuardStream *) key)->guard = NULL;
  g_hash_table_unref (guard->streams);
  g_hash_table_unref (guard->counts);
  g_object_unref (guard->service);
  g_main_context_unref (guard->unpolled);
  g_free (guard);
}

gboolean
kk_http_guard_add_socket (KkHttpGuard *guard, GSocket *socket, GError **error)
{
  g_autoptr (GSocket) soup_socket = NULL;
  int fd = dup (g_socket_get_fd (socket));
  gboolean ok;

  /* SoupServer gets a socket of its own on the same port, so that its
   * closing it (soup_server_disconnect()) never pulls the socket from
   * under our pending accept. */
  if (fd < 0) {
    int saved = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
        "dup: %s", g_strerror (saved));
    return FALSE;
  }
  soup_socket = g_socket_new_from_fd (fd, error);
  if (soup_socket == NULL) {
    close (fd);
    return FALSE;
  }
  g_main_context_push_thread_default (guard->unpolled);
  ok = soup_server_listen_socket (guard->server, soup_socket, 0, error);
  g_main_context_pop_thread_default (guard->unpolled);
  return ok && g_socket_listener_add_socket (G_SOCKET_LISTENER (
          guard->service), socket, NULL, error);
}

GHashTable *
kk_http_guard_get_counts (KkHttpGuard *guard)
{
  return guard->counts;
}
