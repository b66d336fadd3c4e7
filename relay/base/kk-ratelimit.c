/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-ratelimit: GCRA token buckets per client; see kk-ratelimit.h.
 *
 * GCRA keeps one number per client, its "theoretical arrival time": each
 * action moves it one interval on (from now, if it lies in the past). A
 * client whose time lies more than (burst - 1) intervals ahead has no
 * action left and waits for the difference. A time in the past means a
 * full bucket, so such entries carry nothing and may be dropped at will.
 */
#include "kk-ratelimit.h"

#include <string.h>

static const guint8 v4_mapped_prefix[12] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

struct _KkRateLimit {
  guint burst;
  gint64 interval_us;
  guint max_clients;
  GHashTable *clients;          /* key → gint64* theoretical arrival time */
};

KkRateLimit *
kk_rate_limit_new (guint burst, gint64 interval_us, guint max_clients)
{
  KkRateLimit *limit;

  g_return_val_if_fail (burst > 0 && interval_us > 0 && max_clients > 0,
      NULL);

  limit = g_new0 (KkRateLimit, 1);
  limit->burst = burst;
  limit->interval_us = interval_us;
  limit->max_clients = max_clients;
  limit->clients = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  return limit;
}

void
kk_rate_limit_free (KkRateLimit *limit)
{
  if (limit == NULL)
    return;
  g_hash_table_unref (limit->clients);
  g_free (limit);
}

gint64
kk_rate_limit_check (KkRateLimit *limit, const char *key, gint64 now_us)
{
  gint64 *tat = g_hash_table_lookup (limit->clients, key);
  gint64 allowance = (gint64) (limit->burst - 1) * limit->interval_us;

  if (tat == NULL || *tat - now_us <= allowance)
    return 0;
  return *tat - now_us - allowance;
}

/* Makes room for one more client: first forget every full bucket; if all
 * still owe time, forget the one that owes least. */
static void
make_room (KkRateLimit *limit, gint64 now_us)
{
  GHashTableIter iter;
  gpointer key, value;
  const char *least_key = NULL;
  gint64 least = G_MAXINT64;

  g_hash_table_iter_init (&iter, limit->clients);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    gint64 tat = *(gint64 *) value;

    if (tat <= now_us) {
      g_hash_table_iter_remove (&iter);
    } else if (tat < least) {
      least = tat;
      least_key = key;
    }
  }
  if (g_hash_table_size (limit->clients) >= limit->max_clients
      && least_key != NULL)
    g_hash_table_remove (limit->clients, least_key);
}

void
kk_rate_limit_charge (KkRateLimit *limit, const char *key, gint64 now_us)
{
  gint64 *tat = g_hash_table_lookup (limit->clients, key);

  if (tat == NULL) {
    if (g_hash_table_size (limit->clients) >= limit->max_clients)
      make_room (limit, now_us);
    tat = g_new (gint64, 1);
    *tat = now_us;
    g_hash_table_insert (limit->clients, g_strdup (key), tat);
  }
  *tat = MAX (*tat, now_us) + limit->interval_us;
}

gint64
kk_rate_limit_take (KkRateLimit *limit, const char *key, gint64 now_us)
{
  gint64 wait = kk_rate_limit_check (limit, key, now_us);

  if (wait == 0)
    kk_rate_limit_charge (limit, key, now_us);
  return wait;
}

guint
kk_rate_limit_size (KkRateLimit *limit)
{
  return g_hash_table_size (limit->clients);
}

char *
kk_rate_limit_client_key (const char *address)
{
  g_autoptr (GInetAddress) inet = address != NULL
      ? g_inet_address_new_from_string (address) : NULL;
  const guint8 *bytes;

  if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV6
      || g_inet_address_get_is_loopback (inet))
    return g_strdup (address != NULL ? address : "");
  bytes = g_inet_address_to_bytes (inet);
  /* An IPv4 client of our dual-stack socket arrives as ::ffff:a.b.c.d;
   * its /64 would lump every IPv4 client together. */
  if (memcmp (bytes, v4_mapped_prefix, sizeof (v4_mapped_prefix)) == 0)
    return g_strdup_printf ("%u.%u.%u.%u", bytes[12], bytes[13], bytes[14],
        bytes[15]);
  return g_strdup_printf ("%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64",
      bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6],
      bytes[7]);
}
