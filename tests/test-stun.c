/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-stun against peers that are not our code: the RFC 5769
 * §2.1 sample request byte for byte, and Binding requests made by libnice's
 * own client side (stun_usage_ice_conncheck_create, as a full controlling
 * agent). Responses are checked by libnice's client validation (transaction
 * match, MESSAGE-INTEGRITY, FINGERPRINT), by our own HMAC-SHA1 (GHmac) and
 * CRC-32, and against the XOR-MAPPED-ADDRESS bytes RFC 5769 §2.2 and §2.3
 * give for the same transaction.
 */

#include "kringkast/kk-stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

/* RFC 5769 §2.1: username "evtj:h6vY", password below, SOFTWARE
 * "STUN test client", PRIORITY, ICE-CONTROLLED, USERNAME padded with
 * spaces, MESSAGE-INTEGRITY, FINGERPRINT. */
static const guint8 rfc5769_request[] = {
  0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42,
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
  0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
  0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
  0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
  0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
  0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
  0x59, 0x20, 0x20, 0x20,
  0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,
  0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
  0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};
static const char rfc5769_password[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* XOR-MAPPED-ADDRESS attributes of RFC 5769 §2.2 (192.0.2.1:32853) and
 * §2.3 (2001:db8:1234:5678:11:2233:4455:6677 port 32853), whose
 * transaction ID is the request's. */
static const guint8 rfc5769_xor_v4[] = {
  0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
};
static const guint8 rfc5769_xor_v6[] = {
  0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
  0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
  0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
};

#define OUR_UFRAG "ours"
#define THEIR_UFRAG "theirs"
static const char our_password[] = "Zx3kd9Qb7LmN2pR5tV8wY1aC";

static struct sockaddr_in
addr_v4 (const char *ip, guint16 port)
{
  struct sockaddr_in sin = { 0 };

  sin.sin_family = AF_INET;
  sin.sin_port = htons (port);
  g_assert_cmpint (inet_pton (AF_INET, ip, &sin.sin_addr), ==, 1);
  return sin;
}

static struct sockaddr_in6
addr_v6 (const char *ip, guint16 port)
{
  struct sockaddr_in6 sin6 = { 0 };

  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons (port);
  g_assert_cmpint (inet_pton (AF_INET6, ip, &sin6.sin6_addr), ==, 1);
  return sin6;
}

/* A full ICE agent's client side, as libnice builds it. */
static void
client_init (StunAgent *client, gboolean fingerprint)
{
  stun_agent_init (client, STUN_ALL_KNOWN_ATTRIBUTES,
      STUN_COMPATIBILITY_RFC5389, STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS |
      (fingerprint ? STUN_AGENT_USAGE_USE_FINGERPRINT : 0));
}

static gsize
client_request (StunAgent *client, const char *username,
    const char *password, guint8 *buf, gsize size)
{
  StunMessage msg;
  gsize n;

  n = stun_usage_ice_conncheck_create (client, &msg, buf, size,
      (const uint8_t *) username, strlen (username),
      (const uint8_t *) password, strlen (password),
      TRUE, TRUE, 0x6e7f1eff, G_GUINT64_CONSTANT (0x0123456789abcdef), NULL,
      STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  g_assert_cmpuint (n, >, 20);
  return n;
}

/* Makes @client expect a response to the RFC 5769 transaction, signed with
 * @password: libnice only accepts responses to requests it sent. */
static void
client_expect_rfc5769 (StunAgent *client, const char *password)
{
  StunMessage msg;
  guint8 buf[128];

  g_assert_true (stun_agent_init_request (client, &msg, buf, sizeof (buf),
          STUN_BINDING));
  memcpy (buf + 8, rfc5769_request + 8, 12);
  g_assert_cmpuint (stun_agent_finish_message (client, &msg,
          (const uint8_t *) password, strlen (password)), >, 0);
}

/* Finds attribute @type in a STUN message; returns its offset or 0. */
static gsize
find_attr (const guint8 *msg, gsize len, guint16 type)
{
  for (gsize off = 20; off + 4 <= len;) {
    guint16 t = msg[off] << 8 | msg[off + 1];
    gsize alen = msg[off + 2] << 8 | msg[off + 3];

    if (t == type)
      return off;
    off += 4 + ((alen + 3) & ~(gsize) 3);
  }
  return 0;
}

static guint32
crc32_ieee (const guint8 *data, gsize len)
{
  guint32 crc = 0xffffffff;

  for (gsize i = 0; i < len; i++) {
    crc ^= data[i];
    for (int b = 0; b < 8; b++)
      crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc;
}

/* Verifies MESSAGE-INTEGRITY and FINGERPRINT of @msg by RFC 5389 §15.4-5
 * with our own HMAC and CRC, and that they are the last two attributes. */
static void
assert_signed (const guint8 *msg, gsize len, const char *password)
{
  gsize mi = find_attr (msg, len, 0x0008);
  gsize fp = find_attr (msg, len, 0x8028);
  g_autoptr (GHmac) hmac = NULL;
  g_autofree guint8 *copy = g_memdup2 (msg, mi);
  guint8 digest[20];
  gsize digest_len = sizeof (digest);
  guint32 crc;

  g_assert_cmpuint (mi, >, 0);
  g_assert_cmpuint (fp, ==, mi + 24);
  g_assert_cmpuint (fp + 8, ==, len);

  /* The HMAC covers the message up to MESSAGE-INTEGRITY, with the length
   * field counting up to and including it. */
  copy[2] = (mi + 24 - 20) >> 8;
  copy[3] = (mi + 24 - 20) & 0xff;
  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) password,
      strlen (password));
  g_hmac_update (hmac, copy, mi);
  g_hmac_get_digest (hmac, digest, &digest_len);
  g_assert_cmpmem (digest, 20, msg + mi + 4, 20);

  crc = crc32_ieee (msg, fp) ^ 0x5354554e;
  g_assert_cmphex (crc, ==, ((guint32) msg[fp + 4] << 24) |
      ((guint32) msg[fp + 5] << 16) | ((guint32) msg[fp + 6] << 8) |
      msg[fp + 7]);
}

static void
test_rfc5769_request (void)
{
  struct sockaddr_in from = addr_v4 ("192.0.2.1", 32853);
  guint8 resp[256];
  KkStunCheck check = { 0 };
  GError *error = NULL;
  StunAgent client;
  StunMessage msg;
  gsize n, xor;

  g_assert_true (kk_stun_is_stun (rfc5769_request, sizeof (rfc5769_request)));

  n = kk_stun_answer_check (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6vY", rfc5769_password,
      (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp), &check,
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, >, 0);
  g_assert_cmphex (check.priority, ==, 0x6e0001ff);
  g_assert_false (check.use_candidate);
  g_assert_false (check.controlling);   /* it sent ICE-CONTROLLED */

  /* A success response to the same transaction, with RFC 5769 §2.2's
   * XOR-MAPPED-ADDRESS bytes. */
  g_assert_cmphex (resp[0] << 8 | resp[1], ==, 0x0101);
  g_assert_cmpuint ((gsize) (resp[2] << 8 | resp[3]), ==, n - 20);
  g_assert_cmpmem (resp + 4, 16, rfc5769_request + 4, 16);
  xor = find_attr (resp, n, 0x0020);
  g_assert_cmpuint (xor, >, 0);
  g_assert_cmpmem (resp + xor, sizeof (rfc5769_xor_v4), rfc5769_xor_v4,
      sizeof (rfc5769_xor_v4));
  assert_signed (resp, n, rfc5769_password);

  /* And libnice's client accepts it. */
  client_init (&client, TRUE);
  client_expect_rfc5769 (&client, rfc5769_password);
  g_assert_cmpint (stun_agent_validate (&client, &msg, resp, n, NULL, NULL),
      ==, STUN_VALIDATION_SUCCESS);

  /* Any remote ufrag when none is given. */
  n = kk_stun_answer_check (rfc5769_request, sizeof (rfc5769_request),
      "evtj", NULL, rfc5769_password,
      (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp), NULL,
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, >, 0);
}

static void
test_rfc5769_ipv6 (void)
{
  struct sockaddr_in6 from =
      addr_v6 ("2001:db8:1234:5678:11:2233:4455:6677", 32853);
  struct sockaddr_in6 mapped = addr_v6 ("::ffff:192.0.2.1", 32853);
  guint8 resp[256];
  GError *error = NULL;
  gsize n, xor;

  n = kk_stun_answer_check (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6vY", rfc5769_password,
      (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp), NULL,
      &error);
  g_assert_no_error (error);
  xor = find_attr (resp, n, 0x0020);
  g_assert_cmpuint (xor, >, 0);
  g_assert_cmpmem (resp + xor, sizeof (rfc5769_xor_v6), rfc5769_xor_v6,
      sizeof (rfc5769_xor_v6));
  assert_signed (resp, n, rfc5769_password);

  /* A dual-stack socket's view of an IPv4 peer is reflected as IPv4. */
  n = kk_stun_answer_check (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6vY", rfc5769_password,
      (struct sockaddr *) &mapped, sizeof (mapped), resp, sizeof (resp), NULL,
      &error);
  g_assert_no_error (error);
  xor = find_attr (resp, n, 0x0020);
  g_assert_cmpuint (xor, >, 0);
  g_assert_cmpmem (resp + xor, sizeof (rfc5769_xor_v4), rfc5769_xor_v4,
      sizeof (rfc5769_xor_v4));
}

static void
expect_unauthorized (const guint8 *req, gsize len, const char *local,
    const char *remote, const char *pwd)
{
  struct sockaddr_in from = addr_v4 ("127.0.0.1", 5000);
  guint8 resp[256];
  GError *error = NULL;

  g_assert_cmpuint (kk_stun_answer_check (req, len, local, remote, pwd,
          (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp), NULL,
          &error), ==, 0);
  g_assert_error (error, KK_STUN_ERROR, KK_STUN_ERROR_UNAUTHORIZED);
  g_clear_error (&error);
}

static void
test_rfc5769_rejects (void)
{
  expect_unauthorized (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6vY", "VOkJxbRl1RmTxUk/WvJxBT");
  expect_unauthorized (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6vY", "");
  expect_unauthorized (rfc5769_request, sizeof (rfc5769_request),
      "evtJ", "h6vY", rfc5769_password);
  expect_unauthorized (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6v", rfc5769_password);
  expect_unauthorized (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6vYY", rfc5769_password);
  /* A prefix of the real local ufrag is not the local ufrag. */
  expect_unauthorized (rfc5769_request, sizeof (rfc5769_request),
      "evt", NULL, rfc5769_password);
  expect_unauthorized (rfc5769_request, sizeof (rfc5769_request),
      "evtj:h6vY", NULL, rfc5769_password);
}

/* Any single changed byte, and any truncation, must be refused. */
static void
assert_tamper_proof (const guint8 *req, gsize len, const char *local,
    const char *remote, const char *pwd)
{
  struct sockaddr_in from = addr_v4 ("127.0.0.1", 5000);
  g_autofree guint8 *copy = g_memdup2 (req, len);
  guint8 resp[256];

  for (gsize i = 0; i < len; i++) {
    for (guint bit = 0; bit < 8; bit++) {
      GError *error = NULL;
      gsize n;

      copy[i] ^= 1u << bit;
      n = kk_stun_answer_check (copy, len, local, remote, pwd,
          (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp),
          NULL, &error);
      if (n != 0)
        g_test_message ("flipping bit %u of byte %zu was accepted", bit, i);
      g_assert_cmpuint (n, ==, 0);
      g_assert_nonnull (error);
      g_clear_error (&error);
      copy[i] ^= 1u << bit;
    }
  }

  for (gsize cut = 0; cut < len; cut++) {
    g_autofree guint8 *prefix = g_memdup2 (req, MAX (cut, 1));
    GError *error = NULL;

    g_assert_cmpuint (kk_stun_answer_check (prefix, cut, local, remote, pwd,
            (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp),
            NULL, &error), ==, 0);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
}

static void
test_rfc5769_tampered (void)
{
  assert_tamper_proof (rfc5769_request, sizeof (rfc5769_request), "evtj",
      "h6vY", rfc5769_password);
}

static void
check_libnice_round_trip (const struct sockaddr *from, socklen_t from_len)
{
  StunAgent client;
  StunMessage msg;
  guint8 req[256], resp[256];
  struct sockaddr_storage mapped;
  socklen_t mapped_len = sizeof (mapped);
  KkStunCheck check = { 0 };
  GError *error = NULL;
  gsize req_len, n;

  client_init (&client, TRUE);
  req_len = client_request (&client, OUR_UFRAG ":" THEIR_UFRAG, our_password,
      req, sizeof (req));

  n = kk_stun_answer_check (req, req_len, OUR_UFRAG, THEIR_UFRAG,
      our_password, from, from_len, resp, sizeof (resp), &check, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, >, 0);
  g_assert_true (check.use_candidate);
  g_assert_true (check.controlling);
  g_assert_cmphex (check.priority, ==, 0x6e7f1eff);
  assert_signed (resp, n, our_password);

  g_assert_cmpint (stun_agent_validate (&client, &msg, resp, n, NULL, NULL),
      ==, STUN_VALIDATION_SUCCESS);
  g_assert_cmpint (stun_usage_ice_conncheck_process (&msg, &mapped,
          &mapped_len, STUN_USAGE_ICE_COMPATIBILITY_RFC5245), ==,
      STUN_USAGE_ICE_RETURN_SUCCESS);
  g_assert_cmpint (mapped.ss_family, ==, from->sa_family);
  if (from->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *) from;
    const struct sockaddr_in *b = (const struct sockaddr_in *) &mapped;

    g_assert_cmpuint (a->sin_port, ==, b->sin_port);
    g_assert_cmpmem (&a->sin_addr, 4, &b->sin_addr, 4);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) from;
    const struct sockaddr_in6 *b = (const struct sockaddr_in6 *) &mapped;

    g_assert_cmpuint (a->sin6_port, ==, b->sin6_port);
    g_assert_cmpmem (&a->sin6_addr, 16, &b->sin6_addr, 16);
  }

  /* A replay of the same request is answered again (a lost response is
   * retransmitted for), but libnice's client has closed the transaction. */
  n = kk_stun_answer_check (req, req_len, OUR_UFRAG, THEIR_UFRAG,
      our_password, from, from_len, resp, sizeof (resp), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stun_agent_validate (&client, &msg, resp, n, NULL, NULL),
      ==, STUN_VALIDATION_UNMATCHED_RESPONSE);
}

static void
test_libnice_ipv4 (void)
{
  struct sockaddr_in from = addr_v4 ("203.0.113.77", 54321);

  check_libnice_round_trip ((struct sockaddr *) &from, sizeof (from));
}

static void
test_libnice_ipv6 (void)
{
  struct sockaddr_in6 from = addr_v6 ("2001:db8::dead:beef", 443);
  struct sockaddr_storage big;

  check_libnice_round_trip ((struct sockaddr *) &from, sizeof (from));

  /* What recvmsg reports: the address in a sockaddr_storage. */
  memset (&big, 0xee, sizeof (big));
  memcpy (&big, &from, sizeof (from));
  check_libnice_round_trip ((struct sockaddr *) &big, sizeof (big));
}

static void
test_libnice_rejects (void)
{
  StunAgent client;
  guint8 req[256];
  gsize len;

  client_init (&client, TRUE);
  len = client_request (&client, OUR_UFRAG ":" THEIR_UFRAG, "wrong-password",
      req, sizeof (req));
  expect_unauthorized (req, len, OUR_UFRAG, THEIR_UFRAG, our_password);

  len = client_request (&client, OUR_UFRAG ":" THEIR_UFRAG, our_password,
      req, sizeof (req));
  expect_unauthorized (req, len, "other", THEIR_UFRAG, our_password);
  expect_unauthorized (req, len, OUR_UFRAG, "someone-else", our_password);
  expect_unauthorized (req, len, "our", NULL, our_password);

  /* USERNAME without the colon. */
  len = client_request (&client, OUR_UFRAG, our_password, req, sizeof (req));
  expect_unauthorized (req, len, OUR_UFRAG, NULL, our_password);

  len = client_request (&client, OUR_UFRAG ":" THEIR_UFRAG, our_password,
      req, sizeof (req));
  assert_tamper_proof (req, len, OUR_UFRAG, THEIR_UFRAG, our_password);
}

static void
test_no_fingerprint (void)
{
  struct sockaddr_in from = addr_v4 ("127.0.0.1", 40000);
  StunAgent client;
  StunMessage msg;
  guint8 req[256], resp[256];
  GError *error = NULL;
  gsize len, n;

  client_init (&client, FALSE);
  len = client_request (&client, OUR_UFRAG ":" THEIR_UFRAG, our_password,
      req, sizeof (req));
  g_assert_cmpuint (find_attr (req, len, 0x8028), ==, 0);

  n = kk_stun_answer_check (req, len, OUR_UFRAG, THEIR_UFRAG, our_password,
      (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp), NULL,
      &error);
  g_assert_no_error (error);
  /* Our response carries FINGERPRINT all the same. */
  assert_signed (resp, n, our_password);
  g_assert_cmpint (stun_agent_validate (&client, &msg, resp, n, NULL, NULL),
      ==, STUN_VALIDATION_SUCCESS);
}

static void
test_response_space (void)
{
  struct sockaddr_in from = addr_v4 ("127.0.0.1", 40000);
  guint8 resp[256];
  GError *error = NULL;
  gsize n;

  n = kk_stun_answer_check (rfc5769_request, sizeof (rfc5769_request),
      "evtj", "h6vY", rfc5769_password, (struct sockaddr *) &from,
      sizeof (from), resp, sizeof (resp), NULL, &error);
  g_assert_no_error (error);
  /* Header, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT. */
  g_assert_cmpuint (n, ==, 20 + 12 + 24 + 8);

  g_assert_cmpuint (kk_stun_answer_check (rfc5769_request,
          sizeof (rfc5769_request), "evtj", "h6vY", rfc5769_password,
          (struct sockaddr *) &from, sizeof (from), resp, n, NULL, &error),
      ==, n);
  g_assert_no_error (error);

  for (gsize size = 0; size < n; size++) {
    g_autofree guint8 *small = g_malloc (MAX (size, 1));

    g_assert_cmpuint (kk_stun_answer_check (rfc5769_request,
            sizeof (rfc5769_request), "evtj", "h6vY", rfc5769_password,
            (struct sockaddr *) &from, sizeof (from), small, size, NULL,
            &error), ==, 0);
    g_assert_error (error, KK_STUN_ERROR, KK_STUN_ERROR_NO_SPACE);
    g_clear_error (&error);
  }
}

static void
test_not_binding_request (void)
{
  struct sockaddr_in from = addr_v4 ("127.0.0.1", 40000);
  guint8 msg[sizeof (rfc5769_request)];
  /* A Binding indication (consent keepalive), bare. */
  static const guint8 indication[] = {
    0x00, 0x11, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
  };
  /* RTP and a DTLS ClientHello record header are not STUN. */
  static const guint8 rtp[] = {
    0x80, 0x60, 0x00, 0x01, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
  };
  static const guint8 dtls[] = {
    0x16, 0xfe, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  guint8 resp[256];
  GError *error = NULL;

  g_assert_true (kk_stun_is_stun (indication, sizeof (indication)));
  g_assert_cmpuint (kk_stun_answer_check (indication, sizeof (indication),
          "evtj", NULL, "x", (struct sockaddr *) &from, sizeof (from), resp,
          sizeof (resp), NULL, &error), ==, 0);
  g_assert_error (error, KK_STUN_ERROR, KK_STUN_ERROR_NOT_BINDING_REQUEST);
  g_clear_error (&error);

  /* The sample request turned into a Binding success response. */
  memcpy (msg, rfc5769_request, sizeof (msg));
  msg[0] = 0x01;
  g_assert_cmpuint (kk_stun_answer_check (msg, sizeof (msg), "evtj", NULL,
          rfc5769_password, (struct sockaddr *) &from, sizeof (from), resp,
          sizeof (resp), NULL, &error), ==, 0);
  g_assert_error (error, KK_STUN_ERROR, KK_STUN_ERROR_NOT_BINDING_REQUEST);
  g_clear_error (&error);

  g_assert_false (kk_stun_is_stun (rtp, sizeof (rtp)));
  g_assert_false (kk_stun_is_stun (dtls, sizeof (dtls)));
  g_assert_false (kk_stun_is_stun (rfc5769_request, 19));
  g_assert_cmpuint (kk_stun_answer_check (rtp, sizeof (rtp), "evtj", NULL,
          "x", (struct sockaddr *) &from, sizeof (from), resp, sizeof (resp),
          NULL, &error), ==, 0);
  g_assert_error (error, KK_STUN_ERROR, KK_STUN_ERROR_MALFORMED);
  g_clear_error (&error);
}

static void
test_peek (void)
{
  StunAgent client;
  guint8 req[256];
  char ufrag[KK_STUN_MAX_UFRAG];
  char small[5];
  gsize len;

  g_assert_true (kk_stun_peek_local_ufrag (rfc5769_request,
          sizeof (rfc5769_request), ufrag, sizeof (ufrag)));
  g_assert_cmpstr (ufrag, ==, "evtj");
  /* Exactly room for "evtj" and its NUL, and one less. */
  g_assert_true (kk_stun_peek_local_ufrag (rfc5769_request,
          sizeof (rfc5769_request), small, 5));
  g_assert_cmpstr (small, ==, "evtj");
  g_assert_false (kk_stun_peek_local_ufrag (rfc5769_request,
          sizeof (rfc5769_request), small, 4));

  client_init (&client, TRUE);
  len = client_request (&client, OUR_UFRAG ":" THEIR_UFRAG, our_password,
      req, sizeof (req));
  g_assert_true (kk_stun_peek_local_ufrag (req, len, ufrag, sizeof (ufrag)));
  g_assert_cmpstr (ufrag, ==, OUR_UFRAG);

  len = client_request (&client, ":" THEIR_UFRAG, our_password, req,
      sizeof (req));
  g_assert_false (kk_stun_peek_local_ufrag (req, len, ufrag, sizeof (ufrag)));
  len = client_request (&client, OUR_UFRAG, our_password, req, sizeof (req));
  g_assert_false (kk_stun_peek_local_ufrag (req, len, ufrag, sizeof (ufrag)));

  for (gsize cut = 0; cut < sizeof (rfc5769_request); cut++) {
    g_autofree guint8 *prefix = g_memdup2 (rfc5769_request, MAX (cut, 1));

    g_assert_false (kk_stun_peek_local_ufrag (prefix, cut, ufrag,
            sizeof (ufrag)));
  }
}

/* The media port answers from several threads at once. */
typedef struct {
  const guint8 *req;
  gsize req_len;
  gint failures;
} ThreadData;

static gpointer
answer_many (gpointer user_data)
{
  ThreadData *td = user_data;
  struct sockaddr_in from = addr_v4 ("127.0.0.1", 40000);
  guint8 resp[256];

  for (guint i = 0; i < 2000; i++) {
    gsize n = kk_stun_answer_check (td->req, td->req_len, OUR_UFRAG,
        THEIR_UFRAG, our_password, (struct sockaddr *) &from, sizeof (from),
        resp, sizeof (resp), NULL, NULL);

    if (n == 0 || memcmp (resp + 8, td->req + 8, 12) != 0)
      g_atomic_int_inc (&td->failures);
  }
  return NULL;
}

static void
test_threads (void)
{
  StunAgent client;
  guint8 req[256];
  ThreadData td = { req, 0, 0 };
  GThread *threads[4];

  client_init (&client, TRUE);
  td.req_len = client_request (&client, OUR_UFRAG ":" THEIR_UFRAG,
      our_password, req, sizeof (req));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("stun", answer_many, &td);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (td.failures, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stun/rfc5769/request", test_rfc5769_request);
  g_test_add_func ("/stun/rfc5769/ipv6", test_rfc5769_ipv6);
  g_test_add_func ("/stun/rfc5769/rejects", test_rfc5769_rejects);
  g_test_add_func ("/stun/rfc5769/tampered", test_rfc5769_tampered);
  g_test_add_func ("/stun/libnice/ipv4", test_libnice_ipv4);
  g_test_add_func ("/stun/libnice/ipv6", test_libnice_ipv6);
  g_test_add_func ("/stun/libnice/rejects", test_libnice_rejects);
  g_test_add_func ("/stun/no-fingerprint", test_no_fingerprint);
  g_test_add_func ("/stun/response-space", test_response_space);
  g_test_add_func ("/stun/not-binding-request", test_not_binding_request);
  g_test_add_func ("/stun/peek", test_peek);
  g_test_add_func ("/stun/threads", test_threads);

  return g_test_run ();
}
