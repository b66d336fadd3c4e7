/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-srtp: the SRTP and SRTCP transforms (RFC 3711, RFC 7714) on OpenSSL's EVP.
 *
 * Why our own: Debian's libsrtp2 is built without OpenSSL and takes ~5 µs to
 * protect a 1100-byte packet on this class of machine; EVP with the CPU's AES
 * instructions does AES-CM + HMAC-SHA1-80 in ~1.2 µs and AES-128-GCM in ~0.4 µs.
 * The forwarding core protects every packet once per viewer, so this is the
 * hottest code in the relay. libsrtp2 is kept in the tests as a cross-check.
 *
 * A KkSrtp is one direction of one DTLS-SRTP association: the session keys
 * derived from one master key and salt, plus the rollover and replay state of
 * each SSRC seen in that direction. It is not thread-safe: one thread uses it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Values are the DTLS-SRTP protection profile ids (RFC 5764, RFC 7714). */
typedef enum {
  KK_SRTP_AES128_CM_SHA1_80 = 0x0001,
  KK_SRTP_AEAD_AES_128_GCM = 0x0007,
} KkSrtpProfile;

/* The most bytes protect adds to a packet: the 16-byte GCM tag, or the
 * 10-byte auth tag plus the 4-byte SRTCP index. Callers size buffers with it. */
#define KK_SRTP_MAX_TRAILER 20
#define KK_SRTP_MAX_KEY_LEN 16
#define KK_SRTP_MAX_SALT_LEN 14

typedef struct _KkSrtp KkSrtp;

/* Master key length (16 for both) and master salt length (14 for AES-CM,
 * 12 for GCM) of a profile; 0 for an unknown profile. */
gsize kk_srtp_profile_key_length (KkSrtpProfile profile);
gsize kk_srtp_profile_salt_length (KkSrtpProfile profile);
const char *kk_srtp_profile_name (KkSrtpProfile profile);

/* Returns: (transfer full) (nullable): NULL for an unknown profile. */
KkSrtp *kk_srtp_new (KkSrtpProfile profile, const guint8 *master_key,
    const guint8 *master_salt);
void kk_srtp_free (KkSrtp *srtp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkSrtp, kk_srtp_free)

/* Protects the RTP packet of @len bytes in @buf in place. @capacity is the
 * size of @buf and must be at least @len + KK_SRTP_MAX_TRAILER. A packet
 * whose sequence number is older than the highest sent for its SSRC (a
 * retransmission for a NACK) is protected with the index it had then.
 * Returns the protected length, or -1 for a packet that is not RTP. */
gssize kk_srtp_protect_rtp (KkSrtp *srtp, guint8 *buf, gsize len, gsize capacity);

/* Asks the CPU to bring in what kk_srtp_protect_rtp () reads first, for a
 * caller about to protect one packet under many contexts in turn (the
 * forwarding core, once per viewer): it can fetch the next context while
 * the current one works. A hint only. */
void kk_srtp_prefetch (const KkSrtp *srtp);

/* Verifies and decrypts in place. Returns the plaintext length, or -1 when the
 * packet is malformed, fails authentication or is a replay. Never reads
 * outside @buf[0..len). After a failed authentication @buf holds garbage
 * (GCM decrypts while it verifies). */
gssize kk_srtp_unprotect_rtp (KkSrtp *srtp, guint8 *buf, gsize len);

/* The same for RTCP: each protected compound packet gets the next SRTCP index
 * and the E flag (always encrypted). */
gssize kk_srtp_protect_rtcp (KkSrtp *srtp, guint8 *buf, gsize len, gsize capacity);
gssize kk_srtp_unprotect_rtcp (KkSrtp *srtp, guint8 *buf, gsize len);

G_END_DECLS
