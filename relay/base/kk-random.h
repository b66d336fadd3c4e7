/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-random: unguessable ids for what outsiders name in URLs (a network
 * check's checker, an HTTPS viewer's connection), from OpenSSL's
 * generator, so that one module's ids cannot be predicted from another's
 * and none is made from GLib's non-cryptographic g_random_*.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns: (transfer full): @n_bytes random bytes as 2 * @n_bytes
 * lowercase hex digits. Aborts when the system has no randomness. */
char *kk_random_hex (gsize n_bytes);

G_END_DECLS
