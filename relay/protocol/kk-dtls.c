/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-dtls: DTLS 1.2 + use_srtp on OpenSSL for every WebRTC association.
 *
 * The relay owns its sockets, so OpenSSL never sees one. Each association's
 * SSL object reads and writes through a small custom BIO: a write hands the
 * datagram OpenSSL produced straight to the caller's KkDtlsSendFunc (during
 * the handshake OpenSSL packs a flight's records into its own buffering BIO
 * and flushes it, one BIO_write per datagram of at most the MTU we give it;
 * afterwards each record is one write), and a read returns the one datagram
 * the caller is feeding through kk_dtls_receive(), then "would block". That
 * keeps datagram boundaries intact without the copies and re-splitting a
 * BIO_s_mem pair would need. The link MTU is fixed at 1200 bytes (SSL_OP_NO_QUERY_MTU):
 * the path MTU is unknown, 1200 fits IPv6's minimum with headroom and is
 * what browsers assume too.
 *
 * The peer's certificate is authenticated by the fingerprint from its SDP,
 * not by a CA: OpenSSL's chain verification result is ignored, and the leaf
 * certificate's digest is compared with the expected one, in the verify
 * callback (so that a mismatch aborts the handshake with an alert) and
 * again when the handshake completes (the callback is not guaranteed to see
 * depth 0 on every verification path; the completed handshake always has the
 * peer certificate).
 *
 * Threads: the KkDtlsContext (SSL_CTX, certificate, BIO method) is only read
 * after creation and OpenSSL 3 makes SSL_new() on a shared SSL_CTX safe, so
 * associations can live on different threads; each KkDtls is used by one.
 *
 * Memory: the relay keeps hundreds of associations, so the context turns
 * off everything that costs per-connection state it does not need (session
 * cache, tickets, renegotiation), and the ~34 KB of record buffers OpenSSL
 * would keep in each SSL exist only while we are inside OpenSSL (see
 * dtls_buffers_take()). A connected association then holds about 40 KB,
 * half of it the handshake reassembly buffer OpenSSL keeps for DTLS over
 * UDP (to answer retransmissions) with no API to release it.
 *
 * The send callback runs synchronously inside kk_dtls_start(),
 * kk_dtls_receive(), kk_dtls_handle_timeout() and kk_dtls_close().
 */
#include "kringkast/kk-dtls.h"

#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

G_DEFINE_QUARK (kk-dtls-error-quark, kk_dtls_error)

/* Largest datagram OpenSSL may write (record headers included). */
#define KK_DTLS_MTU 1200

/* RFC 6347 §4.2.4.1: doubling, "up to no less than" 60 s; OpenSSL's cap. */
#define KK_DTLS_MAX_TIMEOUT_US (60 * G_USEC_PER_SEC)

/* RFC 5764 §4.2 */
#define KK_DTLS_SRTP_EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

/* Our preference order: as a server OpenSSL picks the first profile of its
 * own list that the client offers, whatever the client's order. */
#define KK_DTLS_SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

/* Forward-secret AEAD suites first. The RSA ones are only useful when we are
 * the client of a peer with an RSA certificate (GStreamer's default, older
 * browsers); our own certificate is ECDSA. The CBC ones are for old peers. */
#define KK_DTLS_CIPHERS \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
  "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:" \
  "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"

#define KK_DTLS_GROUPS "X25519:P-256:P-384"

#define KK_DTLS_FINGERPRINT_MISMATCH \
  "peer certificate does not match the fingerprint from its SDP"

#define KK_DTLS_CERT_CN "kringkast"
#define KK_DTLS_CERT_BACKDATE_SECONDS (24 * 60 * 60)
#define KK_DTLS_CERT_LIFETIME_SECONDS (30 * 24 * 60 * 60)

struct _KkDtlsContext
{
  SSL_CTX *ssl_ctx;
  char *fingerprint;
};

struct _KkDtls
{
  SSL *ssl;
  KkDtlsState state;
  gboolean is_server;
  /* Set by the verify callback so that the resulting OpenSSL error is
   * reported as KK_DTLS_ERROR_FINGERPRINT rather than a generic failure. */
  gboolean fingerprint_mismatch;

  /* NULL for a hash we do not support: no certificate can then match. */
  const EVP_MD *peer_md;
  guint8 peer_fingerprint[EVP_MAX_MD_SIZE];
  gsize peer_fingerprint_len;

  /* The datagram kk_dtls_receive() is feeding to OpenSSL, until the BIO
   * read callback has handed it over. */
  const guint8 *rx_data;
  gsize rx_len;

  KkDtlsSendFunc send;
  gpointer user_data;

  /* A flight's first retransmission timeout, for dtls_timer_cb (); only
   * read once kk_dtls_set_initial_timeout () installed that. */
  guint initial_timeout_us;

  /* Why we are FAILED or CLOSED; handed out again by every later call. */
  GError *failure;
};

/* ---- The datagram BIO ---------------------------------------------------- */

static int
dtls_bio_write (BIO *bio, const char *data, int len)
{
  KkDtls *dtls = BIO_get_data (bio);

  BIO_clear_retry_flags (bio);
  if (len <= 0)
    return 0;
  dtls->send ((const guint8 *) data, (gsize) len, dtls->user_data);
  return len;
}

static int
dtls_bio_read (BIO *bio, char *buf, int size)
{
  KkDtls *dtls = BIO_get_data (bio);
  gsize n;

  BIO_clear_retry_flags (bio);
  if (dtls->rx_data == NULL) {
    BIO_set_retry_read (bio);
    return -1;
  }

  /* Datagram semantics: whatever does not fit is lost, as with recv(). */
  n = MIN (dtls->rx_len, (gsize) MAX (size, 0));
  memcpy (buf, dtls->rx_data, n);
  dtls->rx_data = NULL;
  dtls->rx_len = 0;
  return (int) n;
}

static long
dtls_bio_ctrl (BIO *bio, int cmd, long num, void *ptr)
{
  KkDtls *dtls = BIO_get_data (bio);

  switch (cmd) {
    case BIO_CTRL_FLUSH:
      /* Every write already went out. */
      return 1;
    case BIO_CTRL_WPENDING:
      /* Nothing is held back here (OpenSSL's own buffering BIO in front of
       * us accounts for what it holds), so the next datagram may fill a
       * whole MTU. */
      return 0;
    case BIO_CTRL_PENDING:
      return dtls->rx_data != NULL ? (long) dtls->rx_len : 0;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
      return KK_DTLS_MTU;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
      /* KK_DTLS_MTU already is the payload size, not a link MTU. */
      return 0;
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
      /* The caller drives timers through kk_dtls_get_timeout(). */
      return 1;
    default:
      /* Everything else (peer addresses, "did the last recv time out",
       * "was the MTU exceeded", ...) has no meaning without a socket; 0 is
       * the "no/unsupported" answer OpenSSL copes with. */
      return 0;
  }
}

static int
dtls_bio_create (BIO *bio)
{
  BIO_set_init (bio, 1);
  return 1;
}

/* One method table for the whole process: it is immutable once set up, and
 * keeping it out of KkDtlsContext means an association never depends on the
 * context outliving it (its SSL holds its own reference to the SSL_CTX). */
static BIO_METHOD *
dtls_bio_method (void)
{
  static gsize once = 0;
  static BIO_METHOD *method;

  if (g_once_init_enter (&once)) {
    method = BIO_meth_new (BIO_get_new_index () | BIO_TYPE_SOURCE_SINK,
        "kk-dtls datagram");
    if (method != NULL) {
      BIO_meth_set_write (method, dtls_bio_write);
      BIO_meth_set_read (method, dtls_bio_read);
      BIO_meth_set_ctrl (method, dtls_bio_ctrl);
      BIO_meth_set_create (method, dtls_bio_create);
    }
    g_once_init_leave (&once, 1);
  }
  return method;
}

/* ---- Errors -------------------------------------------------------------- */

/* The first error on this thread's OpenSSL error queue, which is then
 * emptied so that the next SSL_get_error() starts clean. */
static char *
dtls_openssl_error_string (void)
{
  unsigned long code = ERR_get_error ();
  char buf[256];

  ERR_clear_error ();
  if (code == 0)
    return g_strdup ("no OpenSSL error recorded");
  ERR_error_string_n (code, buf, sizeof buf);
  return g_strdup (buf);
}

static void
dtls_fail (KkDtls *dtls, KkDtlsState state, KkDtlsError code,
    const char *message)
{
  dtls->state = state;
  if (dtls->failure == NULL)
    dtls->failure = g_error_new_literal (KK_DTLS_ERROR, code, message);
}

/* Returns the state, copying the stored reason into @error when the
 * association is over. */
static KkDtlsState
dtls_report (KkDtls *dtls, GError **error)
{
  if ((dtls->state == KK_DTLS_STATE_FAILED
          || dtls->state == KK_DTLS_STATE_CLOSED) && dtls->failure != NULL)
    g_propagate_error (error, g_error_copy (dtls->failure));
  return dtls->state;
}

/* Classifies what SSL_get_error() said after a failed SSL call. */
static void
dtls_fail_from_ssl (KkDtls *dtls, int ssl_error)
{
  g_autofree char *reason = dtls_openssl_error_string ();
  g_autofree char *message = NULL;

  if (dtls->fingerprint_mismatch) {
    dtls_fail (dtls, KK_DTLS_STATE_FAILED, KK_DTLS_ERROR_FINGERPRINT,
        KK_DTLS_FINGERPRINT_MISMATCH);
    return;
  }
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    dtls_fail (dtls, KK_DTLS_STATE_CLOSED, KK_DTLS_ERROR_CLOSED,
        "peer sent close_notify");
    return;
  }
  message = g_strdup_printf ("DTLS %s failed: %s",
      dtls->state == KK_DTLS_STATE_HANDSHAKING ? "handshake" : "association",
      reason);
  dtls_fail (dtls, KK_DTLS_STATE_FAILED, KK_DTLS_ERROR_HANDSHAKE, message);
}

/* ---- Certificates -------------------------------------------------------- */

static const EVP_MD *
dtls_md_from_sdp_name (const char *name)
{
  /* RFC 8122 §5: hash function names from the IANA registry, compared
   * case-insensitively. MD5 and MD2 are deliberately not accepted. */
  static const struct
  {
    const char *name;
    const EVP_MD *(*md) (void);
  } hashes[] = {
    { "sha-1", EVP_sha1 },
    { "sha-224", EVP_sha224 },
    { "sha-256", EVP_sha256 },
    { "sha-384", EVP_sha384 },
    { "sha-512", EVP_sha512 },
  };

  if (name == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (hashes); i++) {
    if (g_ascii_strcasecmp (name, hashes[i].name) == 0)
      return hashes[i].md ();
  }
  return NULL;
}

static gboolean
dtls_certificate_matches (KkDtls *dtls, X509 *cert)
{
  guint8 digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;

  if (cert == NULL || dtls->peer_md == NULL)
    return FALSE;
  if (X509_digest (cert, dtls->peer_md, digest, &digest_len) != 1)
    return FALSE;
  return digest_len == dtls->peer_fingerprint_len
      && CRYPTO_memcmp (digest, dtls->peer_fingerprint, digest_len) == 0;
}

static int
dtls_verify_callback (int preverify_ok, X509_STORE_CTX *store)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store,
      SSL_get_ex_data_X509_STORE_CTX_idx ());
  KkDtls *dtls = SSL_get_app_data (ssl);

  /* Self-signed certificates never chain to a CA, so OpenSSL's own verdict
   * (preverify_ok) is meaningless here; intermediates a peer might send
   * are not what the fingerprint covers. Only the leaf decides. */
  if (X509_STORE_CTX_get_error_depth (store) != 0)
    return 1;
  if (!dtls_certificate_matches (dtls,
          X509_STORE_CTX_get_current_cert (store))) {
    dtls->fingerprint_mismatch = TRUE;
    /* Makes OpenSSL send bad_certificate rather than unknown_ca. */
    X509_STORE_CTX_set_error (store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  X509_STORE_CTX_set_error (store, X509_V_OK);
  return 1;
}

static X509 *
dtls_make_certificate (EVP_PKEY *key)
{
  X509 *cert = X509_new ();
  X509_NAME *name = NULL;
  BIGNUM *serial = NULL;
  guint8 serial_bytes[8];
  gboolean ok;

  if (cert == NULL)
    return NULL;

  /* 63 random bits: unique enough that two relay processes never present
   * the same issuer+serial, and positive as RFC 5280 requires. */
  ok = RAND_bytes (serial_bytes, sizeof serial_bytes) == 1;
  serial_bytes[0] &= 0x7f;
  if (ok) {
    serial = BN_bin2bn (serial_bytes, sizeof serial_bytes, NULL);
    ok = serial != NULL
        && BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (cert)) != NULL;
    BN_free (serial);
  }

  ok = ok && X509_set_version (cert, X509_VERSION_3) == 1;
  /* Backdated by a day so that a peer whose clock is a little behind ours
   * does not see a certificate from the future. */
  ok = ok && X509_gmtime_adj (X509_getm_notBefore (cert),
      -KK_DTLS_CERT_BACKDATE_SECONDS) != NULL;
  ok = ok && X509_gmtime_adj (X509_getm_notAfter (cert),
      KK_DTLS_CERT_LIFETIME_SECONDS - KK_DTLS_CERT_BACKDATE_SECONDS) != NULL;

  if (ok) {
    name = X509_get_subject_name (cert);
    ok = X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
        (const unsigned char *) KK_DTLS_CERT_CN, -1, -1, 0) == 1;
  }
  ok = ok && X509_set_issuer_name (cert, name) == 1;
  ok = ok && X509_set_pubkey (cert, key) == 1;
  ok = ok && X509_sign (cert, key, EVP_sha256 ()) > 0;

  if (!ok) {
    X509_free (cert);
    return NULL;
  }
  return cert;
}

static char *
dtls_format_fingerprint (X509 *cert)
{
  guint8 digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  GString *text;

  if (X509_digest (cert, EVP_sha256 (), digest, &digest_len) != 1)
    return NULL;

  text = g_string_new ("sha-256 ");
  for (unsigned int i = 0; i < digest_len; i++)
    g_string_append_printf (text, i == 0 ? "%02X" : ":%02X", digest[i]);
  return g_string_free (text, FALSE);
}

/* ---- Context ------------------------------------------------------------- */

static SSL_CTX *
dtls_make_ssl_ctx (EVP_PKEY *key, X509 *cert)
{
  SSL_CTX *ssl_ctx = SSL_CTX_new (DTLS_method ());
  gboolean ok;

  if (ssl_ctx == NULL)
    return NULL;

  ok = SSL_CTX_set_min_proto_version (ssl_ctx, DTLS1_2_VERSION) == 1
      && SSL_CTX_set_max_proto_version (ssl_ctx, DTLS1_2_VERSION) == 1
      && SSL_CTX_set_cipher_list (ssl_ctx, KK_DTLS_CIPHERS) == 1
      && SSL_CTX_set1_groups_list (ssl_ctx, KK_DTLS_GROUPS) == 1
      /* Unlike the rest of OpenSSL, this one returns 0 on success. */
      && SSL_CTX_set_tlsext_use_srtp (ssl_ctx, KK_DTLS_SRTP_PROFILES) == 0
      && SSL_CTX_use_certificate (ssl_ctx, cert) == 1
      && SSL_CTX_use_PrivateKey (ssl_ctx, key) == 1
      && SSL_CTX_check_private_key (ssl_ctx) == 1;
  if (!ok) {
    SSL_CTX_free (ssl_ctx);
    return NULL;
  }

  /* Every association is a fresh handshake with a fresh peer: resumption
   * would only cost memory and locking on the shared context. */
  SSL_CTX_set_session_cache_mode (ssl_ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options (ssl_ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION
      | SSL_OP_NO_QUERY_MTU | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode (ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
  /* Peers must present a certificate (it is the fingerprint's subject);
   * the callback replaces CA verification by the fingerprint check. */
  SSL_CTX_set_verify (ssl_ctx,
      SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
      dtls_verify_callback);
  return ssl_ctx;
}

KkDtlsContext *
kk_dtls_context_new (GError **error)
{
  g_autoptr (KkDtlsContext) ctx = g_new0 (KkDtlsContext, 1);
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;

  ERR_clear_error ();
  if (dtls_bio_method () == NULL) {
    g_set_error_literal (error, KK_DTLS_ERROR, KK_DTLS_ERROR_INIT,
        "cannot create the DTLS BIO method");
    return NULL;
  }

  key = EVP_EC_gen ("P-256");
  if (key != NULL)
    cert = dtls_make_certificate (key);
  if (cert != NULL) {
    ctx->ssl_ctx = dtls_make_ssl_ctx (key, cert);
    ctx->fingerprint = dtls_format_fingerprint (cert);
  }
  /* The SSL_CTX holds its own references to both. */
  X509_free (cert);
  EVP_PKEY_free (key);

  if (ctx->ssl_ctx == NULL || ctx->fingerprint == NULL) {
    g_autofree char *reason = dtls_openssl_error_string ();

    g_set_error (error, KK_DTLS_ERROR, KK_DTLS_ERROR_INIT,
        "cannot create the DTLS certificate and context: %s", reason);
    return NULL;
  }
  return g_steal_pointer (&ctx);
}

void
kk_dtls_context_free (KkDtlsContext *ctx)
{
  if (ctx == NULL)
    return;
  SSL_CTX_free (ctx->ssl_ctx);
  g_free (ctx->fingerprint);
  g_free (ctx);
}

const char *
kk_dtls_context_get_fingerprint (KkDtlsContext *ctx)
{
  return ctx->fingerprint;
}

/* ---- Association --------------------------------------------------------- */

KkDtls *
kk_dtls_new (KkDtlsContext *ctx, gboolean is_server,
    const char *fingerprint_hash, const guint8 *fingerprint,
    gsize fingerprint_len, KkDtlsSendFunc send, gpointer user_data)
{
  KkDtls *dtls = g_new0 (KkDtls, 1);
  BIO *bio;

  dtls->state = KK_DTLS_STATE_HANDSHAKING;
  dtls->is_server = is_server;
  dtls->send = send;
  dtls->user_data = user_data;

  /* A hash or length we cannot use is not an error here: the SDP is remote
   * input, and the handshake will then fail with KK_DTLS_ERROR_FINGERPRINT,
   * which is the truthful outcome. */
  dtls->peer_md = dtls_md_from_sdp_name (fingerprint_hash);
  if (fingerprint != NULL && fingerprint_len <= sizeof dtls->peer_fingerprint) {
    memcpy (dtls->peer_fingerprint, fingerprint, fingerprint_len);
    dtls->peer_fingerprint_len = fingerprint_len;
  }

  /* These only fail when memory runs out, which GLib treats as fatal too. */
  dtls->ssl = SSL_new (ctx->ssl_ctx);
  bio = BIO_new (dtls_bio_method ());
  if (dtls->ssl == NULL || bio == NULL)
    g_error ("kk-dtls: out of memory creating an SSL object");

  BIO_set_data (bio, dtls);
  /* One BIO for both directions; the SSL takes our single reference. */
  SSL_set_bio (dtls->ssl, bio, bio);
  SSL_set_app_data (dtls->ssl, dtls);
  SSL_set_mtu (dtls->ssl, KK_DTLS_MTU);
  if (is_server)
    SSL_set_accept_state (dtls->ssl);
  else
    SSL_set_connect_state (dtls->ssl);
  return dtls;
}

void
kk_dtls_free (KkDtls *dtls)
{
  if (dtls == NULL)
    return;
  SSL_free (dtls->ssl);
  g_clear_error (&dtls->failure);
  g_free (dtls);
}

/* The handshake just completed: check what it produced before we call it
 * connected. */
static void
dtls_finish_handshake (KkDtls *dtls)
{
  const SRTP_PROTECTION_PROFILE *profile;

  if (!dtls_certificate_matches (dtls,
          SSL_get0_peer_certificate (dtls->ssl))) {
    dtls_fail (dtls, KK_DTLS_STATE_FAILED, KK_DTLS_ERROR_FINGERPRINT,
        KK_DTLS_FINGERPRINT_MISMATCH);
    return;
  }

  profile = SSL_get_selected_srtp_profile (dtls->ssl);
  /* OpenSSL only negotiates the profiles we offered, all known to kk-srtp;
   * checked anyway, as the keys below depend on it. */
  if (profile == NULL
      || kk_srtp_profile_salt_length ((KkSrtpProfile) profile->id) == 0) {
    dtls_fail (dtls, KK_DTLS_STATE_FAILED, KK_DTLS_ERROR_NO_SRTP,
        "no common SRTP protection profile");
    return;
  }
  dtls->state = KK_DTLS_STATE_CONNECTED;
}

/* Once connected, records still arrive: a retransmitted final flight from
 * the peer (OpenSSL answers it with ours), alerts, close_notify. Any
 * application data is read and dropped. */
static void
dtls_drain (KkDtls *dtls)
{
  guint8 scratch[2048];

  for (;;) {
    int n, ssl_error;

    ERR_clear_error ();
    n = SSL_read (dtls->ssl, scratch, sizeof scratch);
    if (n > 0)
      continue;
    ssl_error = SSL_get_error (dtls->ssl, n);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE)
      return;
    dtls_fail_from_ssl (dtls, ssl_error);
    if (dtls->state == KK_DTLS_STATE_CLOSED) {
      /* RFC 5246 §7.2.1: answer close_notify with our own. */
      ERR_clear_error ();
      SSL_shutdown (dtls->ssl);
      ERR_clear_error ();
    }
    return;
  }
}

/* OpenSSL keeps a ~17 KB read and a write record buffer in every SSL
 * between calls, and SSL_MODE_RELEASE_BUFFERS only releases them for TLS,
 * not DTLS. With hundreds of mostly idle associations that is a large part
 * of their memory, so they exist only during our calls into OpenSSL: every
 * entry point that may read or write records brackets its work with these
 * two. They must be allocated again first because OpenSSL's DTLS write
 * path, unlike its read path, does not recreate a released write buffer. */
static void
dtls_buffers_take (KkDtls *dtls)
{
  if (SSL_alloc_buffers (dtls->ssl) != 1)
    g_error ("kk-dtls: out of memory allocating DTLS record buffers");
  ERR_clear_error ();
}

static void
dtls_buffers_release (KkDtls *dtls)
{
  /* 0 while a record is still half consumed: they go on a later call. */
  int released = SSL_free_buffers (dtls->ssl);

  (void) released;
  ERR_clear_error ();
}

/* Runs OpenSSL on whatever is pending (a received datagram, or nothing for
 * the ClientHello). */
static void
dtls_advance (KkDtls *dtls)
{
  dtls_buffers_take (dtls);
  if (dtls->state == KK_DTLS_STATE_HANDSHAKING) {
    int ret;

    ERR_clear_error ();
    ret = SSL_do_handshake (dtls->ssl);
    if (ret != 1) {
      int ssl_error = SSL_get_error (dtls->ssl, ret);

      if (ssl_error != SSL_ERROR_WANT_READ
          && ssl_error != SSL_ERROR_WANT_WRITE)
        dtls_fail_from_ssl (dtls, ssl_error);
    } else {
      dtls_finish_handshake (dtls);
    }
  }

  /* A datagram can carry the peer's last handshake record followed by more
   * (close_notify, an alert): process the rest of it now. */
  if (dtls->state == KK_DTLS_STATE_CONNECTED)
    dtls_drain (dtls);
  dtls_buffers_release (dtls);
}

void
kk_dtls_start (KkDtls *dtls)
{
  if (dtls->is_server || dtls->state != KK_DTLS_STATE_HANDSHAKING)
    return;
  dtls_advance (dtls);
}

KkDtlsState
kk_dtls_receive (KkDtls *dtls, const guint8 *data, gsize len, GError **error)
{
  if (len == 0
      || (dtls->state != KK_DTLS_STATE_HANDSHAKING
          && dtls->state != KK_DTLS_STATE_CONNECTED))
    return dtls_report (dtls, error);

  dtls->rx_data = data;
  dtls->rx_len = len;
  dtls_advance (dtls);
  /* Never leave a pointer to the caller's buffer behind, e.g. when OpenSSL
   * stopped before reading (a failed state). */
  dtls->rx_data = NULL;
  dtls->rx_len = 0;
  return dtls_report (dtls, error);
}

gint64
kk_dtls_get_timeout (KkDtls *dtls)
{
  struct timeval left;

  if (dtls->state != KK_DTLS_STATE_HANDSHAKING
      && dtls->state != KK_DTLS_STATE_CONNECTED)
    return 0;
  if (DTLSv1_get_timeout (dtls->ssl, &left) != 1)
    return 0;
  /* OpenSSL keeps the deadline on the wall clock; the remaining time is
   * the same on the monotonic one. */
  return g_get_monotonic_time () + (gint64) left.tv_sec * G_USEC_PER_SEC
      + left.tv_usec;
}

KkDtlsState
kk_dtls_handle_timeout (KkDtls *dtls, GError **error)
{
  if (dtls->state == KK_DTLS_STATE_HANDSHAKING
      || dtls->state == KK_DTLS_STATE_CONNECTED) {
    dtls_buffers_take (dtls);
    /* -1 once OpenSSL gives up retransmitting (12 timeouts). */
    if (DTLSv1_handle_timeout (dtls->ssl) < 0)
      dtls_fail_from_ssl (dtls, SSL_ERROR_SSL);
    dtls_buffers_release (dtls);
  }
  return dtls_report (dtls, error);
}

/* OpenSSL asks with @timer_us 0 when it starts a flight's timer and with
 * the last value when that timer expired. */
static unsigned int
dtls_timer_cb (SSL *ssl, unsigned int timer_us)
{
  KkDtls *dtls = SSL_get_app_data (ssl);

  if (timer_us == 0)
    return dtls->initial_timeout_us;
  return MIN ((guint64) timer_us * 2, KK_DTLS_MAX_TIMEOUT_US);
}

void
kk_dtls_set_initial_timeout (KkDtls *dtls, guint timeout_ms)
{
  g_return_if_fail (timeout_ms > 0);

  dtls->initial_timeout_us = MIN ((guint64) timeout_ms * 1000,
      KK_DTLS_MAX_TIMEOUT_US);
  DTLS_set_timer_cb (dtls->ssl, dtls_timer_cb);
}

KkDtlsState
kk_dtls_get_state (KkDtls *dtls)
{
  return dtls->state;
}

gboolean
kk_dtls_get_srtp_keys (KkDtls *dtls, KkSrtpProfile *profile,
    guint8 *local_key, guint8 *local_salt,
    guint8 *remote_key, guint8 *remote_salt)
{
  static const char label[] = KK_DTLS_SRTP_EXPORTER_LABEL;
  guint8 material[2 * (KK_SRTP_MAX_KEY_LEN + KK_SRTP_MAX_SALT_LEN)];
  const SRTP_PROTECTION_PROFILE *selected;
  const guint8 *client_key, *server_key, *client_salt, *server_salt;
  KkSrtpProfile negotiated;
  gsize key_len, salt_len;
  gboolean ok;

  if (dtls->state != KK_DTLS_STATE_CONNECTED)
    return FALSE;
  selected = SSL_get_selected_srtp_profile (dtls->ssl);
  if (selected == NULL)
    return FALSE;
  negotiated = (KkSrtpProfile) selected->id;
  key_len = kk_srtp_profile_key_length (negotiated);
  salt_len = kk_srtp_profile_salt_length (negotiated);
  if (key_len == 0 || key_len > KK_SRTP_MAX_KEY_LEN
      || salt_len == 0 || salt_len > KK_SRTP_MAX_SALT_LEN)
    return FALSE;

  /* RFC 5764 §4.2: client_key | server_key | client_salt | server_salt. */
  ERR_clear_error ();
  ok = SSL_export_keying_material (dtls->ssl, material,
      2 * (key_len + salt_len), label, sizeof label - 1, NULL, 0, 0) == 1;
  ERR_clear_error ();
  if (!ok)
    return FALSE;

  client_key = material;
  server_key = material + key_len;
  client_salt = material + 2 * key_len;
  server_salt = client_salt + salt_len;

  *profile = negotiated;
  memcpy (local_key, dtls->is_server ? server_key : client_key, key_len);
  memcpy (local_salt, dtls->is_server ? server_salt : client_salt, salt_len);
  memcpy (remote_key, dtls->is_server ? client_key : server_key, key_len);
  memcpy (remote_salt, dtls->is_server ? client_salt : server_salt, salt_len);
  OPENSSL_cleanse (material, sizeof material);
  return TRUE;
}

void
kk_dtls_close (KkDtls *dtls)
{
  if (dtls->state == KK_DTLS_STATE_CONNECTED) {
    /* Best effort: one close_notify, no waiting for the peer's. */
    dtls_buffers_take (dtls);
    SSL_shutdown (dtls->ssl);
    dtls_buffers_release (dtls);
  }
  if (dtls->state == KK_DTLS_STATE_CONNECTED
      || dtls->state == KK_DTLS_STATE_HANDSHAKING)
    dtls_fail (dtls, KK_DTLS_STATE_CLOSED, KK_DTLS_ERROR_CLOSED,
        "association closed locally");
}

gboolean
kk_dtls_parse_fingerprint (const char *text, guint8 *out, gsize out_size,
    gsize *out_len)
{
  gsize n = 0;

  if (text == NULL)
    return FALSE;

  for (const char *p = text;; p++) {
    int hi, lo;

    hi = g_ascii_xdigit_value (p[0]);
    lo = hi >= 0 ? g_ascii_xdigit_value (p[1]) : -1;
    if (lo < 0 || n >= out_size)
      return FALSE;
    out[n++] = (guint8) (hi << 4 | lo);
    p += 2;
    if (*p == '\0')
      break;
    if (*p != ':')
      return FALSE;
  }
  *out_len = n;
  return TRUE;
}
