/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-ratelimit: a token bucket per client (GCRA), in bounded memory.
 *
 * Each client may act @burst times at once, then once per @interval_us.
 * A client is a string key, usually from kk_rate_limit_client_key(). At
 * most @max_clients keys are kept: a client whose bucket has refilled is
 * the same as one never seen, so those go first; when every kept client
 * still owes time, the one closest to a full bucket is forgotten (it
 * gets its burst back early, which costs little), never refused for
 * lack of room. Single-threaded: the main context's handlers use it.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _KkRateLimit KkRateLimit;

/* Returns: (transfer full): a limiter with every bucket full. */
KkRateLimit *kk_rate_limit_new (guint burst, gint64 interval_us,
    guint max_clients);
void kk_rate_limit_free (KkRateLimit *limit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkRateLimit, kk_rate_limit_free)

/* Returns: 0 if @key may act at @now_us (monotonic), else how many
 * microseconds it must wait. Takes nothing from the bucket. */
gint64 kk_rate_limit_check (KkRateLimit *limit, const char *key,
    gint64 now_us);
/* Takes one from @key's bucket, whether or not it had one left (for
 * counting failures after the fact). */
void kk_rate_limit_charge (KkRateLimit *limit, const char *key,
    gint64 now_us);
/* kk_rate_limit_check(), and if it allows, kk_rate_limit_charge().
 * Returns: 0 if allowed, else the microseconds to wait. */
gint64 kk_rate_limit_take (KkRateLimit *limit, const char *key,
    gint64 now_us);
/* How many clients are kept (at most @max_clients). */
guint kk_rate_limit_size (KkRateLimit *limit);

/* What a limit counts a client by: its address as text, or the /64 of an
 * IPv6 address (one client controls a whole /64). @address is nullable.
 * Returns: (transfer full): the key. */
char *kk_rate_limit_client_key (const char *address);

G_END_DECLS
