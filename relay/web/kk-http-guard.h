/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-http-guard: the HTTP port's front door. It accepts connections
 * itself and hands each to SoupServer (soup_server_accept_iostream)
 * through a stream that watches the bytes of every request's header
 * block, so that:
 *
 *   - a header block over KK_HTTP_MAX_HEADER bytes is answered 431
 *     (SoupServer alone drops the connection without a word, at 64 KiB);
 *   - a header block not complete KK_HTTP_HEADER_TIMEOUT_S after its
 *     first byte is answered 408 and the connection closed (slowloris);
 *   - a connection that waits for a request (new, or kept alive after
 *     one) for KK_HTTP_IDLE_TIMEOUT_S without a byte is closed quietly,
 *     as every server does with idle keep-alive connections.
 *
 * Each refusal is counted (kk_http_guard_count()). Everything runs on
 * the default main context, like the daemon's SoupServer. The answered
 * connection is closed gently: our side stops sending, reads and drops
 * what the client still sends for a moment, then closes, so the client
 * reads the answer rather than a reset.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The whole header block (request line and fields). Browsers send 1-2 KiB;
 * a hospital intranet's cookies may add a few KiB. 32 KiB is what nginx
 * allows by default (4 buffers of 8 KiB). */
#define KK_HTTP_MAX_HEADER (32 * 1024)
/* From a request's first byte to its blank line. A browser sends its
 * headers in one segment; 20 s covers many retransmissions on a lossy
 * ward network. */
#define KK_HTTP_HEADER_TIMEOUT_S 20
/* A connection with no request under way. Browsers reopen a connection
 * the server closed without noticing; the nurse's page polls far more
 * often than this while it plays. */
#define KK_HTTP_IDLE_TIMEOUT_S 30

/* Scans a request's header block as its bytes arrive: it ends at the
 * first empty line (CRLF CRLF, or LF LF as libsoup also accepts). */
typedef struct {
  gsize size;                 /* bytes of the block so far */
  gboolean complete;          /* its empty line has been seen */
  guint8 state;               /* private */
} KkHttpHeadScan;

void kk_http_head_scan_init (KkHttpHeadScan *scan);
/* Feeds @len bytes that follow what was fed before. Returns: how many of
 * them belong to the header block (all, unless it ends within them);
 * @scan->size grows by that much. Feeding a complete scan returns 0. */
gsize kk_http_head_scan_feed (KkHttpHeadScan *scan, const guint8 *data,
    gsize len);

typedef struct _KkHttpGuard KkHttpGuard;

/* Returns: (transfer full): a guard feeding @server (not a ref: the
 * server must outlive the guard). */
KkHttpGuard *kk_http_guard_new (SoupServer *server);
/* Stops accepting and lets go of every connection. */
void kk_http_guard_free (KkHttpGuard *guard);

/* Accepts connections on @socket (bound and listening) from now on. */
gboolean kk_http_guard_add_socket (KkHttpGuard *guard, GSocket *socket,
    GError **error);
/* Stops accepting; connections already accepted stay SoupServer's. */
void kk_http_guard_stop (KkHttpGuard *guard);

/* Bounds the time @msg's response may take to be written, from now: past
 * @seconds the connection is shut down (counted as "send-timeout"), so a
 * client that reads slowly cannot hold a large response, or the
 * connection, for longer. For routes that send media; no effect on a
 * connection the guard did not accept. */
void kk_http_guard_limit_response (SoupServerMessage *msg, guint seconds);

/* Counts a refusal under kringkast_http_rejected_total{reason=@reason};
 * @reason must be a static string. */
void kk_http_guard_count (KkHttpGuard *guard, const char *reason);
/* Returns: (transfer none) (element-type utf8 gsize): reason → count
 * (GSIZE_TO_POINTER), for /metrics. */
GHashTable *kk_http_guard_get_counts (KkHttpGuard *guard);

G_END_DECLS
