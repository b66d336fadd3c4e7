/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-stun: the ICE-lite side of connectivity checks (RFC 8445 §2.5, RFC 5389),
 * built on libnice's STUN library.
 *
 * The relay is an ICE-lite agent: it never sends checks, it answers them.
 * A check's USERNAME is "LOCAL_UFRAG:REMOTE_UFRAG"; the media port first
 * peeks at LOCAL_UFRAG to find the viewer, then has the request verified
 * with that viewer's password and answered with its XOR-MAPPED-ADDRESS.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define KK_STUN_ERROR (kk_stun_error_quark ())
GQuark kk_stun_error_quark (void);

typedef enum {
  KK_STUN_ERROR_MALFORMED,
  KK_STUN_ERROR_NOT_BINDING_REQUEST,
  KK_STUN_ERROR_UNAUTHORIZED,   /* bad USERNAME or MESSAGE-INTEGRITY */
  KK_STUN_ERROR_NO_SPACE,
} KkStunError;

#define KK_STUN_MAX_UFRAG 256

/* TRUE when the first byte and magic cookie say this is a STUN message
 * (RFC 7983 demultiplexing: first byte 0..3). */
gboolean kk_stun_is_stun (const guint8 *data, gsize len);

/* Copies the LOCAL_UFRAG part of a binding request's USERNAME (before the
 * ':') into @ufrag (NUL-terminated, at most KK_STUN_MAX_UFRAG bytes with the
 * NUL). No integrity check yet: only for finding whose password to check
 * with. FALSE when there is no well-formed USERNAME. */
gboolean kk_stun_peek_local_ufrag (const guint8 *data, gsize len,
    char *ufrag, gsize ufrag_size);

typedef struct {
  gboolean use_candidate;   /* USE-CANDIDATE: the controlling agent nominates */
  guint32 priority;
  gboolean controlling;     /* ICE-CONTROLLING was present */
} KkStunCheck;

/* Verifies a binding request against our credentials (USERNAME must be
 * "local_ufrag:remote_ufrag", MESSAGE-INTEGRITY keyed with @local_pwd,
 * FINGERPRINT if present), and writes the success response with
 * XOR-MAPPED-ADDRESS = @from, MESSAGE-INTEGRITY and FINGERPRINT into
 * @response. @from must be a whole sockaddr_in or sockaddr_in6 (as
 * recvmsg reports it); an IPv4-mapped IPv6 @from (a dual-stack socket's
 * view of an IPv4 peer) is reflected as plain IPv4. @check (nullable)
 * receives the request's ICE attributes. Stricter than RFC 5389 §15.4:
 * attributes after MESSAGE-INTEGRITY other than FINGERPRINT are refused,
 * not ignored, and an empty @local_pwd never authenticates. Returns the
 * response length, or 0 with @error set. Thread-safe: keeps no state
 * between calls. */
gsize kk_stun_answer_check (const guint8 *request, gsize len,
    const char *local_ufrag, const char *remote_ufrag /* nullable: any */,
    const char *local_pwd,
    const struct sockaddr *from, socklen_t from_len,
    guint8 *response, gsize response_size, KkStunCheck *check,
    GError **error);

G_END_DECLS
