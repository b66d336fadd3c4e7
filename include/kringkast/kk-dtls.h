/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-dtls: DTLS 1.2 with the use_srtp extension (RFC 5764) on OpenSSL, over
 * memory BIOs so that the forwarding core decides where datagrams go
 * (UDP or an ICE-TCP connection).
 *
 * One certificate (ECDSA P-256, self-signed) per process; its SHA-256
 * fingerprint goes into every answer. The peer's certificate is not checked
 * against a CA but against the fingerprint from its SDP (RFC 8122), which
 * is what authenticates it.
 */
#pragma once

#include <glib.h>
#include <kringkast/kk-srtp.h>

G_BEGIN_DECLS

#define KK_DTLS_ERROR (kk_dtls_error_quark ())
GQuark kk_dtls_error_quark (void);

typedef enum {
  KK_DTLS_ERROR_INIT,
  KK_DTLS_ERROR_HANDSHAKE,     /* alert, protocol error */
  KK_DTLS_ERROR_FINGERPRINT,   /* certificate does not match the SDP */
  KK_DTLS_ERROR_NO_SRTP,       /* no common SRTP protection profile */
  KK_DTLS_ERROR_CLOSED,        /* the peer sent close_notify */
} KkDtlsError;

/* The process's certificate and SSL_CTX. Thread-safe after creation. */
typedef struct _KkDtlsContext KkDtlsContext;

/* Returns: (transfer full): a context with a fresh key and certificate. */
KkDtlsContext *kk_dtls_context_new (GError **error);
void kk_dtls_context_free (KkDtlsContext *ctx);
/* "sha-256 AB:CD:..." for a=fingerprint. (transfer none) */
const char *kk_dtls_context_get_fingerprint (KkDtlsContext *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkDtlsContext, kk_dtls_context_free)

typedef enum {
  KK_DTLS_STATE_HANDSHAKING,
  KK_DTLS_STATE_CONNECTED,     /* keys are available */
  KK_DTLS_STATE_FAILED,
  KK_DTLS_STATE_CLOSED,
} KkDtlsState;

/* Called with each datagram the DTLS endpoint wants sent to the peer,
 * synchronously from within the kk_dtls_* call that produced it: it must not
 * free or re-enter that KkDtls. */
typedef void (*KkDtlsSendFunc) (const guint8 *data, gsize len, gpointer user_data);

typedef struct _KkDtls KkDtls;

/* One association. @is_server: TRUE when we take a=setup:passive.
 * @fingerprint_hash ("sha-256", "sha-1", ...) and @fingerprint (raw bytes)
 * are the peer's, from its SDP. Not thread-safe.
 * Returns: (transfer full) */
KkDtls *kk_dtls_new (KkDtlsContext *ctx, gboolean is_server,
    const char *fingerprint_hash, const guint8 *fingerprint,
    gsize fingerprint_len, KkDtlsSendFunc send, gpointer user_data);
void kk_dtls_free (KkDtls *dtls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkDtls, kk_dtls_free)

/* For the client role: sends the ClientHello. A server does nothing. */
void kk_dtls_start (KkDtls *dtls);

/* Feeds one datagram (a DTLS record or flight) from the peer. Returns the
 * new state; on FAILED or CLOSED, @error says why (KK_DTLS_ERROR_CLOSED
 * for a close_notify, from the peer or from kk_dtls_close()). Application
 * data is ignored. */
KkDtlsState kk_dtls_receive (KkDtls *dtls, const guint8 *data, gsize len,
    GError **error);

/* Retransmission timer: microseconds (monotonic) when kk_dtls_handle_timeout
 * should next be called, or 0 if none is pending. */
gint64 kk_dtls_get_timeout (KkDtls *dtls);
KkDtlsState kk_dtls_handle_timeout (KkDtls *dtls, GError **error);

/* OpenSSL's first retransmission timeout unless told otherwise, as
 * RFC 6347 §4.2.4.1 recommends. */
#define KK_DTLS_DEFAULT_INITIAL_TIMEOUT_MS 1000

/* Sets the retransmission timeout of each flight's first transmission, in
 * milliseconds (at least 1); each retransmission of the flight doubles it,
 * up to 60 s, as OpenSSL does. Browsers usually start lower (libwebrtc
 * from the ICE round trip: 50 ms to 3 s), so that a lost ClientHello
 * costs a fraction of a second. Applies from the next flight sent: call
 * it before kk_dtls_start () or the first kk_dtls_receive (). */
void kk_dtls_set_initial_timeout (KkDtls *dtls, guint timeout_ms);

KkDtlsState kk_dtls_get_state (KkDtls *dtls);

/* After CONNECTED: the negotiated profile and the keys (RFC 5764 §4.2).
 * "local" keys protect what we send, "remote" keys unprotect what we
 * receive, whichever role we had. Buffers are KK_SRTP_MAX_KEY_LEN and
 * KK_SRTP_MAX_SALT_LEN bytes. */
gboolean kk_dtls_get_srtp_keys (KkDtls *dtls, KkSrtpProfile *profile,
    guint8 *local_key, guint8 *local_salt,
    guint8 *remote_key, guint8 *remote_salt);

/* Sends close_notify (best effort). */
void kk_dtls_close (KkDtls *dtls);

/* The peer fingerprint as raw bytes from "AB:CD:..." text. FALSE if malformed. */
gboolean kk_dtls_parse_fingerprint (const char *text, guint8 *out,
    gsize out_size, gsize *out_len);

G_END_DECLS
