/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-stun: the ICE-lite side of connectivity checks, on libnice's STUN
 * library.
 *
 * The relay answers Binding requests and never sends any, so it needs
 * libnice's message validation (length walk, FINGERPRINT, MESSAGE-INTEGRITY
 * with short-term credentials) and response building, but none of its
 * transaction state. A StunAgent remembers the requests it sent; a responder
 * sends none, so a fresh agent on the stack per call (about 11 KB, mostly
 * that unused table; initialising it costs far less than the two HMACs) is
 * all the state there is, and calls from several media threads share
 * nothing.
 *
 * Before a check can be verified we must know whose password to use, and
 * that is named by the LOCAL_UFRAG half of USERNAME; kk_stun_peek_local_ufrag
 * reads it with a small bounded attribute walk of our own, and answering
 * then has libnice verify the whole USERNAME and the HMAC against that
 * viewer's credentials.
 *
 * We never answer a failed check with an error response: an ICE-lite
 * agent's peer retransmits and then gives up on its own, and staying silent
 * towards unauthenticated senders keeps the media port from being a
 * reflector.
 */

#include "kringkast/kk-stun.h"

#include <netinet/in.h>
#include <string.h>

#include <stun/stunagent.h>
#include <stun/stunmessage.h>
#include <stun/usages/ice.h>

G_DEFINE_QUARK (kk-stun-error-quark, kk_stun_error)

#define STUN_HEADER_LEN 20
#define STUN_COOKIE 0x2112a442u
#define STUN_BINDING_REQUEST 0x0001

static inline guint16
rd16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline guint32
rd32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
      ((guint32) p[2] << 8) | p[3];
}

gboolean
kk_stun_is_stun (const guint8 *data, gsize len)
{
  return len >= STUN_HEADER_LEN && data[0] < 4 && rd32 (data + 4) == STUN_COOKIE;
}

/* A bounded walk over a message's attributes (RFC 5389 §15). The message
 * length must match @len exactly: a datagram or ICE-TCP frame holds one
 * message and nothing else. */
typedef struct {
  const guint8 *data;
  gsize len;
  gsize off;
} AttrIter;

static gboolean
attr_iter_init (AttrIter *it, const guint8 *data, gsize len)
{
  it->data = data;
  it->len = len;
  it->off = STUN_HEADER_LEN;
  return kk_stun_is_stun (data, len) &&
      rd16 (data + 2) == len - STUN_HEADER_LEN && (len & 3) == 0;
}

/* FALSE at the end and on an attribute running past it; *@ok tells which. */
static gboolean
attr_iter_next (AttrIter *it, guint16 *type, const guint8 **value,
    gsize *value_len, gboolean *ok)
{
  gsize alen;

  *ok = TRUE;
  if (it->off == it->len)
    return FALSE;
  if (it->len - it->off < 4) {
    *ok = FALSE;
    return FALSE;
  }
  *type = rd16 (it->data + it->off);
  alen = rd16 (it->data + it->off + 2);
  if (((alen + 3) & ~(gsize) 3) > it->len - it->off - 4) {
    *ok = FALSE;
    return FALSE;
  }
  *value = it->data + it->off + 4;
  *value_len = alen;
  it->off += 4 + ((alen + 3) & ~(gsize) 3);
  return TRUE;
}

gboolean
kk_stun_peek_local_ufrag (const guint8 *data, gsize len,
    char *ufrag, gsize ufrag_size)
{
  AttrIter it;
  guint16 type;
  const guint8 *value;
  gsize value_len;
  gboolean ok;

  if (!attr_iter_init (&it, data, len) || rd16 (data) != STUN_BINDING_REQUEST)
    return FALSE;

  while (attr_iter_next (&it, &type, &value, &value_len, &ok)) {
    const guint8 *colon;
    gsize n;

    /* Nothing after MESSAGE-INTEGRITY is authenticated, so a USERNAME
     * there could never pass the check. */
    if (type == STUN_ATTRIBUTE_MESSAGE_INTEGRITY ||
        type == STUN_ATTRIBUTE_FINGERPRINT)
      return FALSE;
    if (type != STUN_ATTRIBUTE_USERNAME)
      continue;

    colon = memchr (value, ':', value_len);
    if (colon == NULL)
      return FALSE;
    n = colon - value;
    /* The ufrag becomes a C string and a lookup key: it must be non-empty,
     * fit, and hold no NUL that would cut it short. */
    if (n == 0 || n >= MIN (ufrag_size, (gsize) KK_STUN_MAX_UFRAG) ||
        memchr (value, '\0', n) != NULL)
      return FALSE;
    memcpy (ufrag, value, n);
    ufrag[n] = '\0';
    return TRUE;
  }
  return FALSE;
}

typedef struct {
  const char *local_ufrag;
  gsize local_ufrag_len;
  const char *remote_ufrag;
  const char *local_pwd;
} Credentials;

static bool
check_credentials (StunAgent *agent, StunMessage *message,
    uint8_t *username, uint16_t username_len,
    uint8_t **password, size_t *password_len, void *user_data)
{
  const Credentials *creds = user_data;
  gsize l = creds->local_ufrag_len;

  if (username == NULL || username_len <= l ||
      memcmp (username, creds->local_ufrag, l) != 0 || username[l] != ':')
    return false;

  if (creds->remote_ufrag != NULL) {
    gsize r = strlen (creds->remote_ufrag);

    if (username_len - l - 1 != r ||
        memcmp (username + l + 1, creds->remote_ufrag, r) != 0)
      return false;
  }

  /* libnice skips the HMAC check altogether for an empty key, so an empty
   * password must fail here rather than let anything through. */
  if (creds->local_pwd[0] == '\0')
    return false;

  /* libnice only reads through the key; the cast is its API's. */
  *password = (uint8_t *) creds->local_pwd;
  *password_len = strlen (creds->local_pwd);
  return true;
}

/* Copies @from into @out, turning an IPv4-mapped IPv6 address (what a
 * dual-stack socket reports for an IPv4 peer) into plain IPv4: the peer
 * sent to an IPv4 candidate and must see its IPv4 address reflected, or
 * it would learn a bogus peer-reflexive candidate. */
static socklen_t
normalise_address (const struct sockaddr *from, socklen_t from_len,
    struct sockaddr_storage *out)
{
  memset (out, 0, sizeof (*out));

  if (from->sa_family == AF_INET && from_len >= sizeof (struct sockaddr_in)) {
    memcpy (out, from, sizeof (struct sockaddr_in));
    return sizeof (struct sockaddr_in);
  }

  if (from->sa_family == AF_INET6 && from_len >= sizeof (struct sockaddr_in6)) {
    struct sockaddr_in6 in6;

    memcpy (&in6, from, sizeof (in6));
    if (IN6_IS_ADDR_V4MAPPED (&in6.sin6_addr)) {
      struct sockaddr_in in4 = { 0 };

      in4.sin_family = AF_INET;
      in4.sin_port = in6.sin6_port;
      memcpy (&in4.sin_addr, &in6.sin6_addr.s6_addr[12], 4);
      memcpy (out, &in4, sizeof (in4));
      return sizeof (in4);
    }
    memcpy (out, &in6, sizeof (in6));
    return sizeof (in6);
  }

  return 0;
}

gsize
kk_stun_answer_check (const guint8 *request, gsize len,
    const char *local_ufrag, const char *remote_ufrag,
    const char *local_pwd,
    const struct sockaddr *from, socklen_t from_len,
    guint8 *response, gsize response_size, KkStunCheck *check,
    GError **error)
{
  StunAgent agent;
  StunMessage req, resp;
  StunValidationStatus status;
  StunAgentUsageFlags flags = STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS;
  struct sockaddr_storage mapped;
  socklen_t mapped_len;
  Credentials creds;
  AttrIter it;
  guint16 type;
  const guint8 *value;
  gsize value_len, out_len;
  gboolean ok, seen_integrity = FALSE, has_fingerprint = FALSE;

  g_return_val_if_fail (request != NULL, 0);
  g_return_val_if_fail (local_ufrag != NULL && local_pwd != NULL, 0);
  g_return_val_if_fail (from != NULL && response != NULL, 0);

  /* Not remote input: the socket layer hands us an address it read. */
  mapped_len = normalise_address (from, from_len, &mapped);
  g_return_val_if_fail (mapped_len > 0, 0);

  if (!attr_iter_init (&it, request, len)) {
    g_set_error_literal (error, KK_STUN_ERROR, KK_STUN_ERROR_MALFORMED,
        "not a well-formed STUN message");
    return 0;
  }
  if (rd16 (request) != STUN_BINDING_REQUEST) {
    g_set_error (error, KK_STUN_ERROR, KK_STUN_ERROR_NOT_BINDING_REQUEST,
        "STUN message type 0x%04x is not a Binding request", rd16 (request));
    return 0;
  }
  /* RFC 5389 §15.4 says to ignore attributes after MESSAGE-INTEGRITY other
   * than FINGERPRINT; we refuse them instead. No ICE agent sends any, and
   * this way every byte of an accepted request is covered by the HMAC or
   * the CRC. */
  while (attr_iter_next (&it, &type, &value, &value_len, &ok)) {
    if (has_fingerprint ||
        (seen_integrity && type != STUN_ATTRIBUTE_FINGERPRINT)) {
      ok = FALSE;
      break;
    }
    /* libnice takes the first 20 bytes of a MESSAGE-INTEGRITY of any
     * length, and its length field is outside the HMAC: a longer one could
     * swallow a FINGERPRINT unnoticed. */
    if (type == STUN_ATTRIBUTE_MESSAGE_INTEGRITY) {
      seen_integrity = TRUE;
      ok = value_len == 20;
    } else if (type == STUN_ATTRIBUTE_FINGERPRINT) {
      has_fingerprint = TRUE;
      ok = value_len == 4;
    }
    if (!ok)
      break;
  }
  if (!ok) {
    g_set_error_literal (error, KK_STUN_ERROR, KK_STUN_ERROR_MALFORMED,
        "STUN attributes malformed, misplaced or running past the end");
    return 0;
  }

  /* With USE_FINGERPRINT libnice insists on a FINGERPRINT, so ask for it
   * only when the request has one (every browser sends it, RFC 8445
   * §7.2.2). */
  if (has_fingerprint)
    flags |= STUN_AGENT_USAGE_USE_FINGERPRINT;
  stun_agent_init (&agent, STUN_ALL_KNOWN_ATTRIBUTES,
      STUN_COMPATIBILITY_RFC5389, flags);

  creds.local_ufrag = local_ufrag;
  creds.local_ufrag_len = strlen (local_ufrag);
  creds.remote_ufrag = remote_ufrag;
  creds.local_pwd = local_pwd;
  status = stun_agent_validate (&agent, &req, request, len,
      check_credentials, &creds);

  switch (status) {
    case STUN_VALIDATION_SUCCESS:
      break;
    case STUN_VALIDATION_UNAUTHORIZED:
    case STUN_VALIDATION_UNAUTHORIZED_BAD_REQUEST:
      g_set_error_literal (error, KK_STUN_ERROR, KK_STUN_ERROR_UNAUTHORIZED,
          "wrong USERNAME or MESSAGE-INTEGRITY, or none");
      return 0;
    case STUN_VALIDATION_UNKNOWN_REQUEST_ATTRIBUTE:
      g_set_error_literal (error, KK_STUN_ERROR, KK_STUN_ERROR_MALFORMED,
          "unknown comprehension-required STUN attribute");
      return 0;
    default:
      g_set_error (error, KK_STUN_ERROR, KK_STUN_ERROR_MALFORMED,
          "invalid STUN request (libnice validation status %d)", status);
      return 0;
  }

  if (check != NULL) {
    guint64 tie_breaker;

    check->use_candidate = stun_usage_ice_conncheck_use_candidate (&req);
    check->priority = stun_usage_ice_conncheck_priority (&req);
    check->controlling = stun_message_find64 (&req,
        STUN_ATTRIBUTE_ICE_CONTROLLING, &tie_breaker) ==
        STUN_MESSAGE_RETURN_SUCCESS;
  }

  /* Our response always carries FINGERPRINT, which libnice adds only when
   * the agent is set up for it. The request stays valid: it only refers
   * to the agent for its (unchanged) compatibility and alignment. */
  if (!(flags & STUN_AGENT_USAGE_USE_FINGERPRINT))
    stun_agent_init (&agent, STUN_ALL_KNOWN_ATTRIBUTES,
        STUN_COMPATIBILITY_RFC5389,
        flags | STUN_AGENT_USAGE_USE_FINGERPRINT);

  /* init_response carries over the key that verified the request, so
   * finish_message signs the response with the same password. */
  if (!stun_agent_init_response (&agent, &resp, response, response_size, &req))
    goto no_space;
  switch (stun_message_append_xor_addr (&resp,
          STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, &mapped, mapped_len)) {
    case STUN_MESSAGE_RETURN_SUCCESS:
      break;
    case STUN_MESSAGE_RETURN_NOT_ENOUGH_SPACE:
      goto no_space;
    default:
      g_set_error_literal (error, KK_STUN_ERROR, KK_STUN_ERROR_MALFORMED,
          "cannot encode the source address");
      return 0;
  }
  out_len = stun_agent_finish_message (&agent, &resp, NULL, 0);
  if (out_len == 0)
    goto no_space;
  return out_len;

no_space:
  g_set_error (error, KK_STUN_ERROR, KK_STUN_ERROR_NO_SPACE,
      "%" G_GSIZE_FORMAT " bytes are too few for the STUN response",
      response_size);
  return 0;
}
