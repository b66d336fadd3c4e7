/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-srtp internals for the known-answer tests. RFC 3711 B.2 and RFC 7714
 * §16-17 give session keys rather than master keys, and RFC 3711 B.3 checks
 * the key derivation on its own, so the tests need these two entry points.
 * The relay itself only uses kk_srtp_new().
 */
#pragma once

#include "kringkast/kk-srtp.h"

G_BEGIN_DECLS

/* The SRTP key derivation function (RFC 3711 §4.3.1, key derivation rate 0,
 * AES-CM PRF): writes @out_len bytes of session key material for @label
 * (0..5) into @out. A 12-byte GCM master salt is zero-padded on the right
 * to 14 bytes, as RFC 7714 §11 and libsrtp do. */
gboolean kk_srtp_kdf (const guint8 *master_key, const guint8 *master_salt,
    gsize master_salt_len, guint8 label, guint8 *out, gsize out_len);

/* A KkSrtp using the given session key (16 bytes), session salt (14 bytes
 * for AES-CM, 12 for GCM) and, for AES-CM, the 20-byte session auth key,
 * for both SRTP and SRTCP, with no key derivation. */
KkSrtp *kk_srtp_new_with_session_keys (KkSrtpProfile profile,
    const guint8 *key, const guint8 *salt, const guint8 *auth_key);

G_END_DECLS
