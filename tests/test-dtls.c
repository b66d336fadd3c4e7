/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-dtls. Datagrams travel through in-memory queues so that the
 * tests can drop, corrupt and reorder them. Peers:
 *
 *  - KkDtls against KkDtls (both roles, lost flights, wrong fingerprints,
 *    several threads sharing one context);
 *  - a bare OpenSSL endpoint configured by the test, to offer SRTP profiles
 *    we would not offer ourselves and to check the RFC 5764 key layout from
 *    its own exported keying material;
 *  - GStreamer's dtlssrtpenc/dtlssrtpdec (an independent DTLS-SRTP
 *    implementation), whose SRTP keys must equal ours, and whose view of our
 *    certificate must match our advertised fingerprint.
 */

#include "kringkast/kk-dtls.h"
#include "kringkast/kk-srtp.h"

#include <malloc.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define SALT_LEN_CM 14
#define SALT_LEN_GCM 12
#define KEY_LEN 16
#define TEST_MTU 1200

/* ---- Endpoints ----------------------------------------------------------- */

typedef struct _Endpoint Endpoint;

struct _Endpoint
{
  const char *name;
  gboolean is_server;

  /* Exactly one of the two is set. */
  KkDtls *dtls;
  SSL *ssl;                     /* bare OpenSSL peer, over memory BIOs */
  BIO *rbio, *wbio;

  GQueue inbox;                 /* GBytes waiting to be delivered to us */
  Endpoint *peer;
  gboolean drop;                /* while TRUE, what we send is lost */
  guint dropped, sent;
  GError *error;
};

static void
endpoint_send (const guint8 *data, gsize len, gpointer user_data)
{
  Endpoint *e = user_data;

  g_assert_cmpuint (len, >, 0);
  g_assert_cmpuint (len, <=, TEST_MTU);
  e->sent++;
  if (e->drop) {
    e->dropped++;
    return;
  }
  g_queue_push_tail (&e->peer->inbox, g_bytes_new (data, len));
}

static void
endpoint_clear (Endpoint *e)
{
  g_clear_pointer (&e->dtls, kk_dtls_free);
  g_clear_pointer (&e->ssl, SSL_free);   /* frees both BIOs */
  g_queue_clear_full (&e->inbox, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&e->error);
}

static void
endpoint_link (Endpoint *a, Endpoint *b)
{
  a->peer = b;
  b->peer = a;
}

/* The peer's fingerprint as kk_dtls_new() wants it, from the SDP text. */
static gsize
parse_sdp_fingerprint (const char *attr, guint8 *out)
{
  gsize len = 0;

  g_assert_true (g_str_has_prefix (attr, "sha-256 "));
  g_assert_true (kk_dtls_parse_fingerprint (attr + strlen ("sha-256 "), out,
          EVP_MAX_MD_SIZE, &len));
  g_assert_cmpuint (len, ==, 32);
  return len;
}

static void
endpoint_init_kk (Endpoint *e, const char *name, KkDtlsContext *ctx,
    gboolean is_server, const char *hash, const guint8 *fp, gsize fp_len)
{
  e->name = name;
  e->is_server = is_server;
  e->dtls = kk_dtls_new (ctx, is_server, hash, fp, fp_len, endpoint_send, e);
}

/* A KkDtls that expects the certificate of @peer_ctx. */
static void
endpoint_init_kk_for (Endpoint *e, const char *name, KkDtlsContext *ctx,
    gboolean is_server, KkDtlsContext *peer_ctx)
{
  guint8 fp[EVP_MAX_MD_SIZE];
  gsize fp_len = parse_sdp_fingerprint (kk_dtls_context_get_fingerprint
      (peer_ctx), fp);

  endpoint_init_kk (e, name, ctx, is_server, "sha-256", fp, fp_len);
}

/* Everything the bare OpenSSL endpoint wrote since last time, as one
 * datagram: several records in one datagram is valid DTLS, and it makes
 * our side parse packed records too. */
static void
endpoint_flush_ssl (Endpoint *e)
{
  char *data;
  long len = BIO_get_mem_data (e->wbio, &data);

  if (len > 0) {
    e->sent++;
    if (e->drop)
      e->dropped++;
    else
      g_queue_push_tail (&e->peer->inbox, g_bytes_new (data, (gsize) len));
  }
  (void) BIO_reset (e->wbio);
}

static gboolean
endpoint_is_done (Endpoint *e)
{
  if (e->dtls)
    return kk_dtls_get_state (e->dtls) != KK_DTLS_STATE_HANDSHAKING;
  return SSL_is_init_finished (e->ssl) || e->error != NULL;
}

static void
endpoint_step_ssl (Endpoint *e)
{
  int ret;

  ERR_clear_error ();
  if (SSL_is_init_finished (e->ssl)) {
    guint8 scratch[2048];

    ret = SSL_read (e->ssl, scratch, sizeof scratch);
  } else {
    ret = SSL_do_handshake (e->ssl);
  }
  if (ret <= 0) {
    int err = SSL_get_error (e->ssl, ret);

    if (err != SSL_ERROR_WANT_READ && e->error == NULL)
      e->error = g_error_new (g_quark_from_static_string ("openssl-peer"),
          err, "OpenSSL peer: %s", ERR_error_string (ERR_get_error (), NULL));
  }
  endpoint_flush_ssl (e);
}

static void
endpoint_start (Endpoint *e)
{
  if (e->dtls)
    kk_dtls_start (e->dtls);
  else if (!e->is_server)
    endpoint_step_ssl (e);
}

/* Delivers one queued datagram; FALSE if there was none. */
static gboolean
endpoint_deliver_one (Endpoint *e)
{
  g_autoptr (GBytes) datagram = g_queue_pop_head (&e->inbox);
  gsize len;
  const guint8 *data;

  if (datagram == NULL)
    return FALSE;
  data = g_bytes_get_data (datagram, &len);
  if (e->dtls) {
    g_autoptr (GError) error = NULL;
    KkDtlsState state = kk_dtls_receive (e->dtls, data, len, &error);

    if (state == KK_DTLS_STATE_FAILED || state == KK_DTLS_STATE_CLOSED)
      g_assert_nonnull (error);
    else
      g_assert_null (error);
    if (error != NULL && e->error == NULL)
      e->error = g_steal_pointer (&error);
  } else {
    BIO_write (e->rbio, data, (int) len);
    endpoint_step_ssl (e);
  }
  return TRUE;
}

static gint64
endpoint_get_timeout (Endpoint *e)
{
  struct timeval left;

  if (e->dtls)
    return kk_dtls_get_timeout (e->dtls);
  if (DTLSv1_get_timeout (e->ssl, &left) != 1)
    return 0;
  return g_get_monotonic_time () + left.tv_sec * G_USEC_PER_SEC + left.tv_usec;
}

static void
endpoint_handle_timeout (Endpoint *e)
{
  if (e->dtls) {
    g_autoptr (GError) error = NULL;
    KkDtlsState state = kk_dtls_handle_timeout (e->dtls, &error);

    g_assert_true ((state == KK_DTLS_STATE_FAILED
            || state == KK_DTLS_STATE_CLOSED) == (error != NULL));
  } else {
    DTLSv1_handle_timeout (e->ssl);
    endpoint_flush_ssl (e);
  }
}

/* Delivers datagrams both ways until both sides are done and quiet, firing
 * retransmission timers (real time: OpenSSL's clock) when nothing is in
 * flight. */
static void
run_until_done (Endpoint *a, Endpoint *b)
{
  gint64 give_up = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < give_up) {
    gint64 ta, tb, wait;

    if (endpoint_deliver_one (a) || endpoint_deliver_one (b))
      continue;
    if (endpoint_is_done (a) && endpoint_is_done (b))
      return;

    ta = endpoint_is_done (a) && a->dtls == NULL ? 0 : endpoint_get_timeout (a);
    tb = endpoint_is_done (b) && b->dtls == NULL ? 0 : endpoint_get_timeout (b);
    if (ta == 0 && tb == 0)
      return;                   /* stalled: the caller's asserts will say so */
    wait = (ta == 0 ? tb : tb == 0 ? ta : MIN (ta, tb))
        - g_get_monotonic_time ();
    if (wait > 0)
      g_usleep ((gulong) wait);
    if (ta != 0 && ta <= g_get_monotonic_time ())
      endpoint_handle_timeout (a);
    if (tb != 0 && tb <= g_get_monotonic_time ())
      endpoint_handle_timeout (b);
  }
}

static void
handshake (Endpoint *client, Endpoint *server)
{
  endpoint_link (client, server);
  endpoint_start (client);
  endpoint_start (server);
  run_until_done (client, server);
}

/* ---- Keys ---------------------------------------------------------------- */

typedef struct
{
  KkSrtpProfile profile;
  guint8 local_key[KK_SRTP_MAX_KEY_LEN], local_salt[KK_SRTP_MAX_SALT_LEN];
  guint8 remote_key[KK_SRTP_MAX_KEY_LEN], remote_salt[KK_SRTP_MAX_SALT_LEN];
} Keys;

static void
get_keys (KkDtls *dtls, Keys *keys)
{
  memset (keys, 0, sizeof *keys);
  g_assert_true (kk_dtls_get_srtp_keys (dtls, &keys->profile,
          keys->local_key, keys->local_salt,
          keys->remote_key, keys->remote_salt));
}

static gsize
salt_len (KkSrtpProfile profile)
{
  return profile == KK_SRTP_AEAD_AES_128_GCM ? SALT_LEN_GCM : SALT_LEN_CM;
}

static gboolean
all_zero (const guint8 *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

/* What one side sends, the other receives, and the two directions differ. */
static void
assert_keys_crosswise (KkDtls *client, KkDtls *server,
    KkSrtpProfile expected_profile)
{
  Keys c, s;
  gsize sl = salt_len (expected_profile);

  get_keys (client, &c);
  get_keys (server, &s);
  g_assert_cmpint (c.profile, ==, expected_profile);
  g_assert_cmpint (s.profile, ==, expected_profile);
  g_assert_cmpmem (c.local_key, KEY_LEN, s.remote_key, KEY_LEN);
  g_assert_cmpmem (c.local_salt, sl, s.remote_salt, sl);
  g_assert_cmpmem (s.local_key, KEY_LEN, c.remote_key, KEY_LEN);
  g_assert_cmpmem (s.local_salt, sl, c.remote_salt, sl);
  g_assert_false (all_zero (c.local_key, KEY_LEN));
  g_assert_false (all_zero (s.local_key, KEY_LEN));
  g_assert_true (memcmp (c.local_key, c.remote_key, KEY_LEN) != 0);
  g_assert_true (memcmp (c.local_salt, c.remote_salt, sl) != 0);
}

/* ---- KkDtls against KkDtls ----------------------------------------------- */

typedef struct
{
  KkDtlsContext *a, *b;
} Contexts;

static Contexts contexts;

static void
test_fingerprint_format (void)
{
  const char *fp = kk_dtls_context_get_fingerprint (contexts.a);
  guint8 raw[64];

  g_assert_cmpuint (strlen (fp), ==, strlen ("sha-256 ") + 32 * 3 - 1);
  g_assert_true (g_str_has_prefix (fp, "sha-256 "));
  for (const char *p = fp + 8; *p; p++)
    g_assert_true (*p == ':' || g_ascii_isdigit (*p)
        || (*p >= 'A' && *p <= 'F'));
  parse_sdp_fingerprint (fp, raw);
  /* Each context has its own key and certificate. */
  g_assert_cmpstr (fp, !=, kk_dtls_context_get_fingerprint (contexts.b));
}

static void
test_parse_fingerprint (void)
{
  static const char *const bad[] = {
    "", "A", "AB:", ":AB", "AB::CD", "ABC", "AB:C", "AG:00", "AB CD",
    "AB:CD ", " AB", "AB-CD", "0x:00",
  };
  guint8 out[4];
  gsize len = 0;

  g_assert_true (kk_dtls_parse_fingerprint ("00:ab:CD:fF", out, 4, &len));
  g_assert_cmpuint (len, ==, 4);
  g_assert_cmpmem (out, 4, "\x00\xab\xcd\xff", 4);
  g_assert_true (kk_dtls_parse_fingerprint ("7F", out, 4, &len));
  g_assert_cmpuint (len, ==, 1);
  g_assert_cmpuint (out[0], ==, 0x7f);
  /* One byte too many for the buffer. */
  g_assert_false (kk_dtls_parse_fingerprint ("00:11:22:33:44", out, 4, &len));
  g_assert_false (kk_dtls_parse_fingerprint (NULL, out, 4, &len));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_test_message ("malformed fingerprint '%s'", bad[i]);
    g_assert_false (kk_dtls_parse_fingerprint (bad[i], out, 4, &len));
  }
}

static void
check_handshake_roles (KkDtlsContext *server_ctx, KkDtlsContext *client_ctx)
{
  Endpoint client = { 0 }, server = { 0 };
  Keys k;

  endpoint_init_kk_for (&server, "server", server_ctx, TRUE, client_ctx);
  endpoint_init_kk_for (&client, "client", client_ctx, FALSE, server_ctx);
  handshake (&client, &server);

  g_assert_no_error (client.error);
  g_assert_no_error (server.error);
  g_assert_cmpint (kk_dtls_get_state (client.dtls), ==,
      KK_DTLS_STATE_CONNECTED);
  g_assert_cmpint (kk_dtls_get_state (server.dtls), ==,
      KK_DTLS_STATE_CONNECTED);
  /* Both sides offer both profiles, GCM first. */
  assert_keys_crosswise (client.dtls, server.dtls, KK_SRTP_AEAD_AES_128_GCM);
  /* No retransmission timer is left running: a quiet association costs
   * the relay no wake-ups. (The server keeps its last flight and resends it
   * when the client retransmits; see test_lost_final_flight.) */
  g_assert_cmpint (kk_dtls_get_timeout (client.dtls), ==, 0);
  g_assert_cmpint (kk_dtls_get_timeout (server.dtls), ==, 0);

  /* close_notify reaches the peer and ends it cleanly. */
  kk_dtls_close (client.dtls);
  g_assert_cmpint (kk_dtls_get_state (client.dtls), ==, KK_DTLS_STATE_CLOSED);
  g_assert_cmpuint (g_queue_get_length (&server.inbox), ==, 1);
  run_until_done (&client, &server);
  g_assert_cmpint (kk_dtls_get_state (server.dtls), ==, KK_DTLS_STATE_CLOSED);
  g_assert_error (server.error, KK_DTLS_ERROR, KK_DTLS_ERROR_CLOSED);
  /* Keys are only handed out while connected. */
  g_assert_false (kk_dtls_get_srtp_keys (server.dtls, &k.profile,
          k.local_key, k.local_salt, k.remote_key, k.remote_salt));

  endpoint_clear (&client);
  endpoint_clear (&server);
}

static void
test_handshake (void)
{
  check_handshake_roles (contexts.a, contexts.b);
  check_handshake_roles (contexts.b, contexts.a);
}

static void
check_wrong_fingerprint (gboolean wrong_at_server)
{
  Endpoint client = { 0 }, server = { 0 };
  Endpoint *wrong = wrong_at_server ? &server : &client;
  Endpoint *other = wrong_at_server ? &client : &server;
  guint8 fp[EVP_MAX_MD_SIZE];
  gsize fp_len;

  endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
  fp_len = parse_sdp_fingerprint (kk_dtls_context_get_fingerprint
      (contexts.b), fp);
  fp[fp_len - 1] ^= 0x01;
  if (wrong_at_server) {
    endpoint_init_kk (&server, "server", contexts.a, TRUE, "sha-256", fp,
        fp_len);
  } else {
    endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
    kk_dtls_free (client.dtls);
    fp_len = parse_sdp_fingerprint (kk_dtls_context_get_fingerprint
        (contexts.a), fp);
    fp[0] ^= 0x80;
    endpoint_init_kk (&client, "client", contexts.b, FALSE, "sha-256", fp,
        fp_len);
  }
  handshake (&client, &server);

  g_assert_cmpint (kk_dtls_get_state (wrong->dtls), ==, KK_DTLS_STATE_FAILED);
  g_assert_error (wrong->error, KK_DTLS_ERROR, KK_DTLS_ERROR_FINGERPRINT);
  /* The mismatch aborts the handshake with an alert, so the other side
   * fails too instead of believing it is connected. */
  g_assert_cmpint (kk_dtls_get_state (other->dtls), ==, KK_DTLS_STATE_FAILED);
  g_assert_error (other->error, KK_DTLS_ERROR, KK_DTLS_ERROR_HANDSHAKE);
  g_test_message ("%s saw: %s", other->name, other->error->message);

  /* A failed association keeps saying why. */
  {
    g_autoptr (GError) again = NULL;

    g_assert_cmpint (kk_dtls_receive (wrong->dtls, (const guint8 *) "\x16", 1,
            &again), ==, KK_DTLS_STATE_FAILED);
    g_assert_error (again, KK_DTLS_ERROR, KK_DTLS_ERROR_FINGERPRINT);
  }
  endpoint_clear (&client);
  endpoint_clear (&server);
}

static void
test_wrong_fingerprint (void)
{
  check_wrong_fingerprint (TRUE);
  check_wrong_fingerprint (FALSE);
}

/* A correct fingerprint under a hash we do not accept, or of the wrong
 * length, is a mismatch, not a crash. */
static void
test_bad_fingerprint_hash (void)
{
  static const struct
  {
    const char *hash;
    gsize len;
  } cases[] = {
    { "md5", 32 }, { "sha-257", 32 }, { NULL, 32 }, { "sha-256", 31 },
    { "sha-256", 0 }, { "sha-512", 32 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    Endpoint client = { 0 }, server = { 0 };
    guint8 fp[EVP_MAX_MD_SIZE];

    parse_sdp_fingerprint (kk_dtls_context_get_fingerprint (contexts.b), fp);
    endpoint_init_kk (&server, "server", contexts.a, TRUE, cases[i].hash,
        fp, cases[i].len);
    endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
    handshake (&client, &server);
    g_assert_cmpint (kk_dtls_get_state (server.dtls), ==,
        KK_DTLS_STATE_FAILED);
    g_assert_error (server.error, KK_DTLS_ERROR, KK_DTLS_ERROR_FINGERPRINT);
    endpoint_clear (&client);
    endpoint_clear (&server);
  }
}

/* The server's whole first flight is lost; the client's (and server's)
 * retransmission timers must recover. */
static void
test_lost_first_flight (void)
{
  Endpoint client = { 0 }, server = { 0 };
  gint64 t0;

  endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
  endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
  endpoint_link (&client, &server);

  kk_dtls_start (client.dtls);
  g_assert_cmpuint (g_queue_get_length (&server.inbox), ==, 1);
  g_assert_cmpint (kk_dtls_get_timeout (client.dtls), >,
      g_get_monotonic_time ());

  server.drop = TRUE;
  g_assert_true (endpoint_deliver_one (&server));
  server.drop = FALSE;
  /* ServerHello, Certificate, ServerKeyExchange, CertificateRequest and
   * ServerHelloDone, packed into datagrams of at most the MTU. */
  g_assert_cmpuint (server.dropped, >=, 1);
  g_assert_cmpuint (g_queue_get_length (&client.inbox), ==, 0);
  g_assert_cmpint (kk_dtls_get_timeout (server.dtls), >, 0);

  t0 = g_get_monotonic_time ();
  run_until_done (&client, &server);
  g_test_message ("recovered after %.2f s",
      (g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, G_USEC_PER_SEC / 2);

  g_assert_no_error (client.error);
  g_assert_no_error (server.error);
  assert_keys_crosswise (client.dtls, server.dtls, KK_SRTP_AEAD_AES_128_GCM);
  endpoint_clear (&client);
  endpoint_clear (&server);
}

/* A shorter first retransmission timeout (browsers start between 50 ms
 * and 3 s; OpenSSL at 1 s): a lost ClientHello costs that long, and each
 * retransmission of the same flight waits twice as long as the one before.
 * The deadlines are read against a clock taken before the call that armed
 * the timer, so they can only be later than the timeout, never earlier. */
static void
test_initial_timeout (void)
{
  Endpoint client = { 0 }, server = { 0 };
  gint64 t0;

  endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
  endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
  endpoint_link (&client, &server);
  kk_dtls_set_initial_timeout (client.dtls, 200);
  kk_dtls_set_initial_timeout (server.dtls, 200);

  client.drop = TRUE;
  t0 = g_get_monotonic_time ();
  kk_dtls_start (client.dtls);
  g_assert_cmpuint (client.dropped, ==, 1);
  g_assert_cmpint (kk_dtls_get_timeout (client.dtls) - t0, >=, 199 * 1000);
  g_assert_cmpint (kk_dtls_get_timeout (client.dtls) - t0, <,
      KK_DTLS_DEFAULT_INITIAL_TIMEOUT_MS * 1000);

  /* The ClientHello again, lost again: the next wait is doubled. */
  while (kk_dtls_get_timeout (client.dtls) > g_get_monotonic_time ())
    g_usleep (5 * 1000);
  t0 = g_get_monotonic_time ();
  endpoint_handle_timeout (&client);
  g_assert_cmpuint (client.dropped, ==, 2);
  g_assert_cmpint (kk_dtls_get_timeout (client.dtls) - t0, >=, 399 * 1000);
  g_assert_cmpint (kk_dtls_get_timeout (client.dtls) - t0, <,
      KK_DTLS_DEFAULT_INITIAL_TIMEOUT_MS * 1000);

  /* The third one gets through, and so does the rest. */
  client.drop = FALSE;
  run_until_done (&client, &server);
  g_assert_cmpuint (client.dropped, ==, 2);
  g_assert_no_error (client.error);
  g_assert_no_error (server.error);
  assert_keys_crosswise (client.dtls, server.dtls, KK_SRTP_AEAD_AES_128_GCM);
  endpoint_clear (&client);
  endpoint_clear (&server);
}

/* The server's final flight (ChangeCipherSpec, Finished) is lost: the
 * server already is CONNECTED and must answer the client's retransmission
 * with its final flight again. */
static void
test_lost_final_flight (void)
{
  Endpoint client = { 0 }, server = { 0 };

  endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
  endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
  endpoint_link (&client, &server);

  kk_dtls_start (client.dtls);
  while (endpoint_deliver_one (&server))
    ;
  while (endpoint_deliver_one (&client))
    ;
  server.drop = TRUE;
  while (endpoint_deliver_one (&server))
    ;
  server.drop = FALSE;
  g_assert_cmpuint (server.dropped, >=, 1);
  g_assert_cmpint (kk_dtls_get_state (server.dtls), ==,
      KK_DTLS_STATE_CONNECTED);
  g_assert_cmpint (kk_dtls_get_state (client.dtls), ==,
      KK_DTLS_STATE_HANDSHAKING);

  run_until_done (&client, &server);
  g_assert_no_error (client.error);
  g_assert_no_error (server.error);
  assert_keys_crosswise (client.dtls, server.dtls, KK_SRTP_AEAD_AES_128_GCM);
  endpoint_clear (&client);
  endpoint_clear (&server);
}

/* Datagrams arriving in reverse order within each flight (the client's
 * second flight mixes epochs: Finished is encrypted under the new keys). */
static void
test_reordered (void)
{
  Endpoint client = { 0 }, server = { 0 };

  endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
  endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
  endpoint_link (&client, &server);
  kk_dtls_start (client.dtls);
  for (guint round = 0; round < 8; round++) {
    g_queue_reverse (&server.inbox);
    while (endpoint_deliver_one (&server))
      ;
    g_queue_reverse (&client.inbox);
    while (endpoint_deliver_one (&client))
      ;
  }
  run_until_done (&client, &server);
  g_assert_no_error (client.error);
  g_assert_no_error (server.error);
  assert_keys_crosswise (client.dtls, server.dtls, KK_SRTP_AEAD_AES_128_GCM);
  endpoint_clear (&client);
  endpoint_clear (&server);
}

/* The ClientHello our client sends, to mutilate. */
static GBytes *
capture_client_hello (void)
{
  Endpoint client = { 0 }, sink = { 0 };
  GBytes *hello;

  endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
  endpoint_link (&client, &sink);
  kk_dtls_start (client.dtls);
  g_assert_cmpuint (g_queue_get_length (&sink.inbox), ==, 1);
  hello = g_queue_pop_head (&sink.inbox);
  endpoint_clear (&client);
  return hello;
}

static KkDtlsState
feed_fresh_server (const guint8 *data, gsize len)
{
  Endpoint server = { 0 }, sink = { 0 };
  g_autoptr (GError) error = NULL;
  KkDtlsState state;

  endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
  endpoint_link (&server, &sink);
  state = kk_dtls_receive (server.dtls, data, len, &error);
  g_assert_true ((state == KK_DTLS_STATE_FAILED) == (error != NULL));
  g_assert_true (state == KK_DTLS_STATE_HANDSHAKING
      || state == KK_DTLS_STATE_FAILED);
  if (error != NULL)
    g_assert_true (error->domain == KK_DTLS_ERROR);
  endpoint_clear (&server);
  endpoint_clear (&sink);
  return state;
}

static void
test_garbage (void)
{
  g_autoptr (GBytes) hello = capture_client_hello ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (20240611);
  gsize hello_len;
  const guint8 *hello_data = g_bytes_get_data (hello, &hello_len);
  g_autofree guint8 *buf = g_malloc (2048);
  guint outcomes[KK_DTLS_STATE_CLOSED + 1] = { 0 };

  /* The intact ClientHello is accepted (this is what makes the rest a test
   * of the mutilations rather than of an unusable server). */
  g_assert_cmpint (feed_fresh_server (hello_data, hello_len), ==,
      KK_DTLS_STATE_HANDSHAKING);

  /* Every truncation. */
  for (gsize n = 1; n < hello_len; n++)
    outcomes[feed_fresh_server (hello_data, n)]++;

  /* Random bit flips. */
  for (guint i = 0; i < 300; i++) {
    memcpy (buf, hello_data, hello_len);
    for (guint f = 0; f < 1 + i % 4; f++)
      buf[g_rand_int_range (rand, 0, (gint32) hello_len)] ^=
          (guint8) (1u << g_rand_int_range (rand, 0, 8));
    outcomes[feed_fresh_server (buf, hello_len)]++;
  }

  /* Random datagrams, some looking like handshake records. */
  for (guint i = 0; i < 300; i++) {
    gsize len = (gsize) g_rand_int_range (rand, 1, 2048);

    for (gsize j = 0; j < len; j++)
      buf[j] = (guint8) g_rand_int (rand);
    if (i % 2 == 0 && len > 13) {
      memcpy (buf, hello_data, 13);   /* a plausible record header */
      buf[11] = (guint8) g_rand_int (rand);
      buf[12] = (guint8) g_rand_int (rand);
    }
    outcomes[feed_fresh_server (buf, len)]++;
  }

  /* The ClientHello with a record length claiming more than was sent, and
   * the largest claim. */
  memcpy (buf, hello_data, hello_len);
  buf[11] = 0xff;
  buf[12] = 0xff;
  feed_fresh_server (buf, hello_len);
  g_test_message ("mutilated datagrams: %u failed the handshake, %u ignored",
      outcomes[KK_DTLS_STATE_FAILED], outcomes[KK_DTLS_STATE_HANDSHAKING]);
  /* Some mutilations must have been parsed far enough to be refused. */
  g_assert_cmpuint (outcomes[KK_DTLS_STATE_FAILED], >, 0);

  /* Garbage before the real handshake is ignored, not fatal. */
  {
    Endpoint client = { 0 }, server = { 0 };
    static const guint8 noise[] = { 0x80, 0x60, 0x12, 0x34, 0, 0, 0, 1 };

    endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
    endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
    endpoint_link (&client, &server);
    g_queue_push_tail (&server.inbox, g_bytes_new (noise, sizeof noise));
    g_queue_push_tail (&server.inbox, g_bytes_new (hello_data, 5));
    handshake (&client, &server);
    g_assert_no_error (server.error);
    assert_keys_crosswise (client.dtls, server.dtls,
        KK_SRTP_AEAD_AES_128_GCM);

    /* And once connected, forged records are dropped, not fatal. */
    for (guint i = 0; i < 50; i++) {
      gsize len = (gsize) g_rand_int_range (rand, 14, 200);

      for (gsize j = 0; j < len; j++)
        buf[j] = (guint8) g_rand_int (rand);
      buf[0] = (guint8) (20 + i % 4);   /* CCS, alert, handshake, data */
      buf[1] = 0xfe;
      buf[2] = 0xfd;
      g_assert_cmpint (kk_dtls_receive (server.dtls, buf, len, NULL), ==,
          KK_DTLS_STATE_CONNECTED);
    }
    endpoint_clear (&client);
    endpoint_clear (&server);
  }
}

/* ---- Several threads sharing the contexts -------------------------------- */

static gpointer
handshake_thread (gpointer data)
{
  for (guint i = 0; i < 10; i++) {
    Endpoint client = { 0 }, server = { 0 };

    endpoint_init_kk_for (&server, "server", contexts.a, TRUE, contexts.b);
    endpoint_init_kk_for (&client, "client", contexts.b, FALSE, contexts.a);
    handshake (&client, &server);
    g_assert_no_error (client.error);
    g_assert_no_error (server.error);
    assert_keys_crosswise (client.dtls, server.dtls,
        KK_SRTP_AEAD_AES_128_GCM);
    endpoint_clear (&client);
    endpoint_clear (&server);
  }
  return NULL;
}

static void
test_threads (void)
{
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("handshakes", handshake_thread, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

/* ---- Memory -------------------------------------------------------------- */

static void
test_memory (void)
{
  enum { N = 100 };
  Endpoint *clients = g_new0 (Endpoint, N), *servers = g_new0 (Endpoint, N);
  struct mallinfo2 before, created, after;
  gint64 per_new, per_connected;

  /* Warm up OpenSSL's lazily fetched algorithms. */
  handshake_thread (NULL);

  before = mallinfo2 ();
  for (guint i = 0; i < N; i++) {
    endpoint_init_kk_for (&servers[i], "server", contexts.a, TRUE,
        contexts.b);
    endpoint_init_kk_for (&clients[i], "client", contexts.b, FALSE,
        contexts.a);
  }
  created = mallinfo2 ();
  for (guint i = 0; i < N; i++) {
    handshake (&clients[i], &servers[i]);
    g_assert_cmpint (kk_dtls_get_state (servers[i].dtls), ==,
        KK_DTLS_STATE_CONNECTED);
    g_assert_cmpint (kk_dtls_get_state (clients[i].dtls), ==,
        KK_DTLS_STATE_CONNECTED);
  }
  after = mallinfo2 ();

  per_new = ((gint64) created.uordblks - (gint64) before.uordblks) / (2 * N);
  per_connected = ((gint64) after.uordblks - (gint64) before.uordblks)
      / (2 * N);
  g_test_message ("heap per association: %" G_GINT64_FORMAT " B new, %"
      G_GINT64_FORMAT " B connected", per_new, per_connected);
  /* Sanitizer allocators do not feed mallinfo2(); only a real glibc heap
   * gives numbers to hold to. */
  if (per_connected > 0)
    g_assert_cmpint (per_connected, <, 48 * 1024);

  for (guint i = 0; i < N; i++) {
    endpoint_clear (&clients[i]);
    endpoint_clear (&servers[i]);
  }
  g_free (clients);
  g_free (servers);
}

/* ---- A bare OpenSSL peer ------------------------------------------------- */

static int
accept_any_certificate (int ok, X509_STORE_CTX *store)
{
  return 1;
}

static X509 *
make_test_certificate (EVP_PKEY *key)
{
  X509 *cert = X509_new ();
  X509_NAME *name = X509_get_subject_name (cert);

  ASN1_INTEGER_set (X509_get_serialNumber (cert), 42);
  X509_gmtime_adj (X509_getm_notBefore (cert), -3600);
  X509_gmtime_adj (X509_getm_notAfter (cert), 3600);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
      (const unsigned char *) "test-peer", -1, -1, 0);
  X509_set_issuer_name (cert, name);
  X509_set_pubkey (cert, key);
  g_assert_cmpint (X509_sign (cert, key, EVP_sha256 ()), >, 0);
  return cert;
}

/* A DTLS 1.2 endpoint that offers exactly @profiles. */
static void
endpoint_init_ssl (Endpoint *e, const char *name, gboolean is_server,
    const char *profiles, X509 **cert_out)
{
  SSL_CTX *ctx = SSL_CTX_new (DTLS_method ());
  EVP_PKEY *key = EVP_EC_gen ("P-256");
  X509 *cert = make_test_certificate (key);

  g_assert_true (SSL_CTX_set_min_proto_version (ctx, DTLS1_2_VERSION));
  g_assert_cmpint (SSL_CTX_set_tlsext_use_srtp (ctx, profiles), ==, 0);
  g_assert_true (SSL_CTX_use_certificate (ctx, cert));
  g_assert_true (SSL_CTX_use_PrivateKey (ctx, key));
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, accept_any_certificate);
  SSL_CTX_set_options (ctx, SSL_OP_NO_QUERY_MTU);

  e->name = name;
  e->is_server = is_server;
  e->ssl = SSL_new (ctx);
  e->rbio = BIO_new (BIO_s_mem ());
  e->wbio = BIO_new (BIO_s_mem ());
  SSL_set_bio (e->ssl, e->rbio, e->wbio);
  SSL_set_mtu (e->ssl, TEST_MTU);
  if (is_server)
    SSL_set_accept_state (e->ssl);
  else
    SSL_set_connect_state (e->ssl);

  SSL_CTX_free (ctx);           /* the SSL keeps it */
  EVP_PKEY_free (key);
  *cert_out = cert;
}

/* Checks our keys against the peer's own export, sliced as RFC 5764 §4.2
 * lays it out. */
static void
assert_keys_match_openssl (Endpoint *ours, Endpoint *theirs,
    KkSrtpProfile expected)
{
  static const char label[] = "EXTRACTOR-dtls_srtp";
  gsize sl = salt_len (expected);
  guint8 material[2 * (KEY_LEN + SALT_LEN_CM)];
  const guint8 *client_key = material, *server_key = material + KEY_LEN;
  const guint8 *client_salt = material + 2 * KEY_LEN;
  const guint8 *server_salt = client_salt + sl;
  const SRTP_PROTECTION_PROFILE *theirs_profile =
      SSL_get_selected_srtp_profile (theirs->ssl);
  Keys k;

  g_assert_nonnull (theirs_profile);
  g_assert_cmpuint (theirs_profile->id, ==, expected);
  g_assert_cmpint (SSL_export_keying_material (theirs->ssl, material,
          2 * (KEY_LEN + sl), label, strlen (label), NULL, 0, 0), ==, 1);
  get_keys (ours->dtls, &k);
  g_assert_cmpint (k.profile, ==, expected);
  if (ours->is_server) {
    g_assert_cmpmem (k.local_key, KEY_LEN, server_key, KEY_LEN);
    g_assert_cmpmem (k.local_salt, sl, server_salt, sl);
    g_assert_cmpmem (k.remote_key, KEY_LEN, client_key, KEY_LEN);
    g_assert_cmpmem (k.remote_salt, sl, client_salt, sl);
  } else {
    g_assert_cmpmem (k.local_key, KEY_LEN, client_key, KEY_LEN);
    g_assert_cmpmem (k.local_salt, sl, client_salt, sl);
    g_assert_cmpmem (k.remote_key, KEY_LEN, server_key, KEY_LEN);
    g_assert_cmpmem (k.remote_salt, sl, server_salt, sl);
  }
}

/* Our certificate as a peer sees it. */
static void
assert_our_certificate (X509 *cert, KkDtlsContext *ctx)
{
  guint8 digest[EVP_MAX_MD_SIZE], advertised[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  char cn[64];
  int day, sec;
  EVP_PKEY *key = X509_get0_pubkey (cert);
  char group[32];
  size_t group_len;

  g_assert_nonnull (cert);
  g_assert_true (X509_digest (cert, EVP_sha256 (), digest, &digest_len));
  parse_sdp_fingerprint (kk_dtls_context_get_fingerprint (ctx), advertised);
  g_assert_cmpmem (digest, digest_len, advertised, 32);

  g_assert_cmpint (X509_NAME_get_text_by_NID (X509_get_subject_name (cert),
          NID_commonName, cn, sizeof cn), >, 0);
  g_assert_cmpstr (cn, ==, "kringkast");
  g_assert_cmpint (X509_NAME_cmp (X509_get_subject_name (cert),
          X509_get_issuer_name (cert)), ==, 0);
  g_assert_cmpint (X509_get_signature_nid (cert), ==,
      NID_ecdsa_with_SHA256);
  g_assert_true (EVP_PKEY_is_a (key, "EC"));
  g_assert_true (EVP_PKEY_get_utf8_string_param (key, "group", group,
          sizeof group, &group_len));
  g_assert_cmpstr (group, ==, "prime256v1");
  g_assert_cmpint (X509_verify (cert, key), ==, 1);

  /* Valid from a day ago, for 30 days. */
  g_assert_true (ASN1_TIME_diff (&day, &sec, NULL, X509_get0_notBefore (cert)));
  g_assert_cmpint (day * 86400 + sec, <=, -86400 + 60);
  g_assert_cmpint (day * 86400 + sec, >=, -86400 - 3600);
  g_assert_true (ASN1_TIME_diff (&day, &sec, X509_get0_notBefore (cert),
          X509_get0_notAfter (cert)));
  g_assert_cmpint (day, ==, 30);
}

static void
check_against_openssl (gboolean ours_is_server, const char *their_profiles,
    KkSrtpProfile expected)
{
  Endpoint ours = { 0 }, theirs = { 0 };
  X509 *their_cert = NULL;
  guint8 fp[EVP_MAX_MD_SIZE];
  unsigned int fp_len = 0;

  g_test_message ("OpenSSL peer as %s offering %s",
      ours_is_server ? "client" : "server", their_profiles);
  endpoint_init_ssl (&theirs, "openssl", !ours_is_server, their_profiles,
      &their_cert);
  g_assert_true (X509_digest (their_cert, EVP_sha256 (), fp, &fp_len));
  endpoint_init_kk (&ours, "ours", contexts.a, ours_is_server, "SHA-256", fp,
      fp_len);
  X509_free (their_cert);

  if (ours_is_server)
    handshake (&theirs, &ours);
  else
    handshake (&ours, &theirs);
  g_assert_no_error (theirs.error);
  g_assert_no_error (ours.error);
  g_assert_cmpint (kk_dtls_get_state (ours.dtls), ==, KK_DTLS_STATE_CONNECTED);
  g_assert_true (SSL_is_init_finished (theirs.ssl));
  assert_keys_match_openssl (&ours, &theirs, expected);
  assert_our_certificate (SSL_get0_peer_certificate (theirs.ssl), contexts.a);

  endpoint_clear (&ours);
  endpoint_clear (&theirs);
}

static void
test_openssl_profiles (void)
{
  /* A client that only offers AES-CM gets AES-CM. */
  check_against_openssl (TRUE, "SRTP_AES128_CM_SHA1_80",
      KK_SRTP_AES128_CM_SHA1_80);
  /* A client preferring AES-CM still gets GCM: our order wins. */
  check_against_openssl (TRUE,
      "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM",
      KK_SRTP_AEAD_AES_128_GCM);
  check_against_openssl (TRUE,
      "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
      KK_SRTP_AEAD_AES_128_GCM);
  /* As a client, we take what the server picks among ours. */
  check_against_openssl (FALSE, "SRTP_AES128_CM_SHA1_80",
      KK_SRTP_AES128_CM_SHA1_80);
  check_against_openssl (FALSE, "SRTP_AEAD_AES_128_GCM",
      KK_SRTP_AEAD_AES_128_GCM);
}

/* A peer that shares no profile with us (RFC 5764 allows the handshake to
 * complete without use_srtp) must not end up CONNECTED. */
static void
test_no_common_profile (void)
{
  Endpoint ours = { 0 }, theirs = { 0 };
  X509 *their_cert = NULL;
  guint8 fp[EVP_MAX_MD_SIZE];
  unsigned int fp_len = 0;

  endpoint_init_ssl (&theirs, "openssl", FALSE, "SRTP_AES128_CM_SHA1_32",
      &their_cert);
  g_assert_true (X509_digest (their_cert, EVP_sha256 (), fp, &fp_len));
  endpoint_init_kk (&ours, "ours", contexts.a, TRUE, "sha-256", fp, fp_len);
  X509_free (their_cert);
  handshake (&theirs, &ours);
  g_assert_cmpint (kk_dtls_get_state (ours.dtls), ==, KK_DTLS_STATE_FAILED);
  g_assert_error (ours.error, KK_DTLS_ERROR, KK_DTLS_ERROR_NO_SRTP);
  endpoint_clear (&ours);
  endpoint_clear (&theirs);
}

/* Every hash RFC 8122 peers use for a=fingerprint. */
static void
test_fingerprint_hashes (void)
{
  static const struct
  {
    const char *sdp_name;
    const char *openssl_name;
  } hashes[] = {
    { "sha-1", "SHA1" }, { "sha-224", "SHA224" }, { "sha-256", "SHA256" },
    { "sha-384", "SHA384" }, { "sha-512", "SHA512" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (hashes); i++) {
    Endpoint ours = { 0 }, theirs = { 0 };
    X509 *their_cert = NULL;
    guint8 fp[EVP_MAX_MD_SIZE];
    unsigned int fp_len = 0;

    endpoint_init_ssl (&theirs, "openssl", FALSE, "SRTP_AES128_CM_SHA1_80",
        &their_cert);
    g_assert_true (X509_digest (their_cert,
            EVP_get_digestbyname (hashes[i].openssl_name), fp, &fp_len));
    endpoint_init_kk (&ours, "ours", contexts.a, TRUE, hashes[i].sdp_name, fp,
        fp_len);
    X509_free (their_cert);
    handshake (&theirs, &ours);
    g_assert_no_error (ours.error);
    g_assert_cmpint (kk_dtls_get_state (ours.dtls), ==,
        KK_DTLS_STATE_CONNECTED);
    endpoint_clear (&ours);
    endpoint_clear (&theirs);
  }
}

/* ---- GStreamer's DTLS-SRTP elements -------------------------------------- */

typedef struct
{
  GstElement *pipeline;
  GstElement *in;               /* appsrc: datagrams we send */
  GstElement *out;              /* appsink: datagrams GStreamer sends */
  GstElement *rtp_in;           /* appsrc: RTP for GStreamer to protect */
  GstElement *rtp_out;          /* appsink: RTP GStreamer unprotected */
  GstElement *dec, *dtlsdec, *dtlsenc;
  KkDtls *dtls;
} GstPeer;

static void
gst_peer_send (const guint8 *data, gsize len, gpointer user_data)
{
  GstPeer *p = user_data;

  g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (p->in),
          gst_buffer_new_memdup (data, len)), ==, GST_FLOW_OK);
}

static GstElement *
find_child (GstElement *bin, const char *factory_name)
{
  g_autoptr (GstIterator) it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  GstElement *found = NULL;

  while (found == NULL && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);

    if (g_strcmp0 (GST_OBJECT_NAME (gst_element_get_factory (e)),
            factory_name) == 0)
      found = gst_object_ref (e);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  g_assert_nonnull (found);
  return found;
}

static gsize
pem_fingerprint (const char *pem, guint8 *out)
{
  BIO *bio = BIO_new_mem_buf (pem, -1);
  X509 *cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL);
  unsigned int len = 0;

  BIO_free (bio);
  g_assert_nonnull (cert);
  g_assert_true (X509_digest (cert, EVP_sha256 (), out, &len));
  X509_free (cert);
  return len;
}

/* The key properties hold a GstBuffer (dtlsdec declares its property as
 * GstCaps, but stores a buffer in it: both are GstMiniObjects). */
static GBytes *
key_property (GstElement *e, const char *name)
{
  GValue value = G_VALUE_INIT;
  GBytes *bytes = NULL;
  GstMiniObject *object;

  g_value_init (&value, g_object_class_find_property (G_OBJECT_GET_CLASS (e),
          name)->value_type);
  g_object_get_property (G_OBJECT (e), name, &value);
  object = g_value_get_boxed (&value);
  if (object != NULL) {
    GstBuffer *buffer = GST_BUFFER (object);
    GstMapInfo map;

    g_assert_true (GST_IS_BUFFER (object));
    g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
    bytes = g_bytes_new (map.data, map.size);
    gst_buffer_unmap (buffer, &map);
  }
  g_value_unset (&value);
  return bytes;
}

static GBytes *
pull_bytes (GstElement *appsink, GstClockTime timeout)
{
  g_autoptr (GstSample) sample =
      gst_app_sink_try_pull_sample (GST_APP_SINK (appsink), timeout);
  GstMapInfo map;
  GBytes *bytes;

  if (sample == NULL)
    return NULL;
  g_assert_true (gst_buffer_map (gst_sample_get_buffer (sample), &map,
          GST_MAP_READ));
  bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  return bytes;
}

/* RFC 7983: DTLS records start with 20..63, RTP/RTCP with 128..191. */
static gboolean
is_dtls (GBytes *datagram)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (datagram, &len);

  return len > 0 && data[0] >= 20 && data[0] <= 63;
}

/* A VP8-ish RTP packet whose payload tells packets apart. */
static gsize
make_rtp (guint8 *buf, guint16 seq)
{
  const gsize payload = 160;

  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = (guint8) (seq >> 8);
  buf[3] = (guint8) seq;
  buf[4] = 0;
  buf[5] = 0;
  buf[6] = (guint8) (seq >> 4);
  buf[7] = (guint8) (seq << 4);
  memcpy (buf + 8, "\x5e\xed\xbe\xef", 4);
  for (gsize i = 0; i < payload; i++)
    buf[12 + i] = (guint8) (seq * 7 + i);
  return 12 + payload;
}

#define GST_CONNECTED 4         /* GST_DTLS_CONNECTION_STATE_CONNECTED */

static void
gst_peer_handshake (GstPeer *p)
{
  gint64 give_up = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  guint gst_state = 0;

  kk_dtls_start (p->dtls);
  while (g_get_monotonic_time () < give_up) {
    g_autoptr (GBytes) datagram = NULL;
    g_autoptr (GError) error = NULL;
    gint64 timeout;

    g_object_get (p->dtlsdec, "connection-state", &gst_state, NULL);
    if (kk_dtls_get_state (p->dtls) != KK_DTLS_STATE_HANDSHAKING
        && gst_state == GST_CONNECTED)
      break;

    datagram = pull_bytes (p->out, 20 * GST_MSECOND);
    if (datagram != NULL) {
      kk_dtls_receive (p->dtls, g_bytes_get_data (datagram, NULL),
          g_bytes_get_size (datagram), &error);
      g_assert_no_error (error);
    }
    timeout = kk_dtls_get_timeout (p->dtls);
    if (timeout != 0 && timeout <= g_get_monotonic_time ()) {
      kk_dtls_handle_timeout (p->dtls, &error);
      g_assert_no_error (error);
    }
  }
  g_assert_cmpint (kk_dtls_get_state (p->dtls), ==, KK_DTLS_STATE_CONNECTED);
  g_assert_cmpuint (gst_state, ==, GST_CONNECTED);
}

/* GStreamer's view of the keys: its decoder key is what we encrypt with,
 * its encoder key what we decrypt with, each master key then master salt. */
static void
gst_peer_check_keys (GstPeer *p, const Keys *k)
{
  g_autoptr (GBytes) dec_key = key_property (p->dtlsdec, "decoder-key");
  g_autoptr (GBytes) enc_key = key_property (p->dtlsenc, "encoder-key");
  const guint8 *key;
  gsize key_len;

  g_assert_nonnull (dec_key);
  g_assert_nonnull (enc_key);
  key = g_bytes_get_data (dec_key, &key_len);
  g_assert_cmpuint (key_len, ==, KEY_LEN + SALT_LEN_CM);
  g_assert_cmpmem (key, KEY_LEN, k->local_key, KEY_LEN);
  g_assert_cmpmem (key + KEY_LEN, SALT_LEN_CM, k->local_salt, SALT_LEN_CM);
  key = g_bytes_get_data (enc_key, &key_len);
  g_assert_cmpuint (key_len, ==, KEY_LEN + SALT_LEN_CM);
  g_assert_cmpmem (key, KEY_LEN, k->remote_key, KEY_LEN);
  g_assert_cmpmem (key + KEY_LEN, SALT_LEN_CM, k->remote_salt, SALT_LEN_CM);
}

/* SRTP both ways, protected by one implementation (kk-srtp, libsrtp inside
 * GStreamer) and unprotected by the other, with the keys each side got
 * from the handshake. */
static void
gst_peer_check_media (GstPeer *p, const Keys *k)
{
  g_autoptr (KkSrtp) tx = kk_srtp_new (k->profile, k->local_key,
      k->local_salt);
  g_autoptr (KkSrtp) rx = kk_srtp_new (k->profile, k->remote_key,
      k->remote_salt);
  guint8 plain[256], buf[256 + KK_SRTP_MAX_TRAILER];

  g_assert_nonnull (tx);
  g_assert_nonnull (rx);

  for (guint16 seq = 1000; seq < 1003; seq++) {
    gsize len = make_rtp (plain, seq);
    gssize protected_len;
    g_autoptr (GBytes) got = NULL;

    memcpy (buf, plain, len);
    protected_len = kk_srtp_protect_rtp (tx, buf, len, sizeof buf);
    g_assert_cmpint (protected_len, >, (gssize) len);
    gst_peer_send (buf, (gsize) protected_len, p);
    got = pull_bytes (p->rtp_out, 5 * GST_SECOND);
    g_assert_nonnull (got);
    g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
        plain, len);
  }

  for (guint16 seq = 2000; seq < 2003; seq++) {
    gsize len = make_rtp (plain, seq);
    gint64 give_up = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
    g_autoptr (GBytes) got = NULL;
    gssize plain_len;

    g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (p->rtp_in),
            gst_buffer_new_memdup (plain, len)), ==, GST_FLOW_OK);
    /* Skip whatever DTLS it still sends (a retransmitted flight). */
    while (g_get_monotonic_time () < give_up) {
      g_clear_pointer (&got, g_bytes_unref);
      got = pull_bytes (p->out, 100 * GST_MSECOND);
      if (got != NULL && !is_dtls (got))
        break;
    }
    g_assert_nonnull (got);
    g_assert_cmpuint (g_bytes_get_size (got), <=, sizeof buf);
    memcpy (buf, g_bytes_get_data (got, NULL), g_bytes_get_size (got));
    plain_len = kk_srtp_unprotect_rtp (rx, buf, g_bytes_get_size (got));
    g_assert_cmpint (plain_len, ==, (gssize) len);
    g_assert_cmpmem (buf, len, plain, len);
  }
}

static void
check_against_gstreamer (gboolean ours_is_server)
{
  static guint serial;
  g_autofree char *id = g_strdup_printf ("kk-test-%u", serial++);
  g_autofree char *desc = g_strdup_printf (
      "appsrc name=in is-live=true format=bytes caps=application/x-dtls "
      "  ! dtlssrtpdec name=dec connection-id=%s "
      "dec.rtp_src ! appsink name=rtp_out sync=false async=false "
      "dec.rtcp_src ! fakesink async=false "
      "appsrc name=rtp_in is-live=true format=time caps=application/x-rtp,"
      "media=video,clock-rate=90000,encoding-name=VP8,payload=96 "
      "  ! enc.rtp_sink_0 "
      "dtlssrtpenc name=enc connection-id=%s is-client=%s "
      "  ! appsink name=out sync=false async=false", id, id,
      ours_is_server ? "true" : "false");
  g_autoptr (GError) error = NULL;
  g_autofree char *pem = NULL, *peer_pem = NULL;
  g_autoptr (GstElement) enc = NULL;
  GstPeer p = { 0 };
  guint8 fp[EVP_MAX_MD_SIZE], our_fp[EVP_MAX_MD_SIZE];
  gsize fp_len;
  Keys k;

  g_test_message ("GStreamer as DTLS %s", ours_is_server ? "client" : "server");
  p.pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  p.in = gst_bin_get_by_name (GST_BIN (p.pipeline), "in");
  p.out = gst_bin_get_by_name (GST_BIN (p.pipeline), "out");
  p.rtp_in = gst_bin_get_by_name (GST_BIN (p.pipeline), "rtp_in");
  p.rtp_out = gst_bin_get_by_name (GST_BIN (p.pipeline), "rtp_out");
  p.dec = gst_bin_get_by_name (GST_BIN (p.pipeline), "dec");
  enc = gst_bin_get_by_name (GST_BIN (p.pipeline), "enc");
  p.dtlsdec = find_child (p.dec, "dtlsdec");
  p.dtlsenc = find_child (enc, "dtlsenc");

  /* Its certificate (generated by the element) is what its SDP would
   * fingerprint. */
  g_object_get (p.dec, "pem", &pem, NULL);
  fp_len = pem_fingerprint (pem, fp);
  p.dtls = kk_dtls_new (contexts.a, ours_is_server, "sha-256", fp, fp_len,
      gst_peer_send, &p);

  g_assert_cmpint (gst_element_set_state (p.pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  gst_peer_handshake (&p);

  /* GStreamer 1.22 only knows AES-CM. */
  get_keys (p.dtls, &k);
  g_assert_cmpint (k.profile, ==, KK_SRTP_AES128_CM_SHA1_80);
  gst_peer_check_keys (&p, &k);
  gst_peer_check_media (&p, &k);

  /* The certificate it received is the one our SDP fingerprint names. */
  g_object_get (p.dec, "peer-pem", &peer_pem, NULL);
  g_assert_nonnull (peer_pem);
  g_assert_cmpuint (pem_fingerprint (peer_pem, fp), ==, 32);
  parse_sdp_fingerprint (kk_dtls_context_get_fingerprint (contexts.a),
      our_fp);
  g_assert_cmpmem (fp, 32, our_fp, 32);

  gst_element_set_state (p.pipeline, GST_STATE_NULL);
  kk_dtls_free (p.dtls);
  gst_object_unref (p.dtlsdec);
  gst_object_unref (p.dtlsenc);
  gst_object_unref (p.dec);
  gst_object_unref (p.in);
  gst_object_unref (p.out);
  gst_object_unref (p.rtp_in);
  gst_object_unref (p.rtp_out);
  gst_object_unref (p.pipeline);
}

static void
test_gstreamer (void)
{
  check_against_gstreamer (TRUE);
  check_against_gstreamer (FALSE);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);

  contexts.a = kk_dtls_context_new (&error);
  g_assert_no_error (error);
  contexts.b = kk_dtls_context_new (&error);
  g_assert_no_error (error);

  g_test_add_func ("/dtls/fingerprint-format", test_fingerprint_format);
  g_test_add_func ("/dtls/parse-fingerprint", test_parse_fingerprint);
  g_test_add_func ("/dtls/handshake", test_handshake);
  g_test_add_func ("/dtls/wrong-fingerprint", test_wrong_fingerprint);
  g_test_add_func ("/dtls/bad-fingerprint-hash", test_bad_fingerprint_hash);
  g_test_add_func ("/dtls/fingerprint-hashes", test_fingerprint_hashes);
  g_test_add_func ("/dtls/lost-first-flight", test_lost_first_flight);
  g_test_add_func ("/dtls/lost-final-flight", test_lost_final_flight);
  g_test_add_func ("/dtls/initial-timeout", test_initial_timeout);
  g_test_add_func ("/dtls/reordered", test_reordered);
  g_test_add_func ("/dtls/garbage", test_garbage);
  g_test_add_func ("/dtls/openssl-profiles", test_openssl_profiles);
  g_test_add_func ("/dtls/no-common-profile", test_no_common_profile);
  g_test_add_func ("/dtls/threads", test_threads);
  g_test_add_func ("/dtls/memory", test_memory);
  g_test_add_func ("/dtls/gstreamer", test_gstreamer);

  ret = g_test_run ();
  kk_dtls_context_free (contexts.a);
  kk_dtls_context_free (contexts.b);
  return ret;
}
