/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-ratelimit: the per-client token bucket (kk-ratelimit). Time is
 * passed in, so the tests say exactly when a client may act again; and the
 * memory bound holds however many clients come.
 */
#include <glib.h>

#include "kk-ratelimit.h"

#define S G_GINT64_CONSTANT (1000000)

/* A burst, then one per interval; the wait is what is left of it. */
static void
test_burst_then_refill (void)
{
  g_autoptr (KkRateLimit) limit = kk_rate_limit_new (3, 2 * S, 16);
  gint64 t = 1000 * S;

  for (int i = 0; i < 3; i++)
    g_assert_cmpint (kk_rate_limit_take (limit, "a", t), ==, 0);
  g_assert_cmpint (kk_rate_limit_take (limit, "a", t), ==, 2 * S);
  g_assert_cmpint (kk_rate_limit_take (limit, "a", t + S / 2), ==, 3 * S / 2);
  /* Refused attempts cost nothing. */
  g_assert_cmpint (kk_rate_limit_take (limit, "a", t + 2 * S), ==, 0);
  g_assert_cmpint (kk_rate_limit_take (limit, "a", t + 2 * S), ==, 2 * S);
  /* Another client has its own bucket. */
  g_assert_cmpint (kk_rate_limit_take (limit, "b", t), ==, 0);
  /* Long after, the whole burst is back. */
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (kk_rate_limit_take (limit, "a", t + 60 * S), ==, 0);
  g_assert_cmpint (kk_rate_limit_take (limit, "a", t + 60 * S), >, 0);
}

/* The join limit's shape: 100 joins at once and a steady course pace pass;
 * a flood gets exactly the burst, then one a second. */
static void
test_course_and_flood (void)
{
  g_autoptr (KkRateLimit) limit = kk_rate_limit_new (200, S, 16);
  gint64 t = 5000 * S;
  int passed = 0;

  for (int i = 0; i < 100; i++)
    g_assert_cmpint (kk_rate_limit_take (limit, "nat", t), ==, 0);
  /* Another 100 over the next five minutes, latecomers and reloads. */
  for (int i = 0; i < 100; i++)
    g_assert_cmpint (kk_rate_limit_take (limit, "nat", t + i * 3 * S), ==, 0);

  t += 3600 * S;
  for (int i = 0; i < 3000; i++)
    passed += kk_rate_limit_take (limit, "nat", t + i * (S / 1000)) == 0;
  /* 3000 in 3 s: the burst and the two or three refilled meanwhile. */
  g_assert_cmpint (passed, >=, 200);
  g_assert_cmpint (passed, <=, 203);
}

/* Charging past the limit (failures counted after the fact) makes the
 * wait grow; check alone never charges. */
static void
test_check_and_charge (void)
{
  g_autoptr (KkRateLimit) limit = kk_rate_limit_new (2, S, 16);

  g_assert_cmpint (kk_rate_limit_check (limit, "x", 0), ==, 0);
  g_assert_cmpuint (kk_rate_limit_size (limit), ==, 0);
  for (int i = 0; i < 4; i++)
    kk_rate_limit_charge (limit, "x", 0);
  g_assert_cmpint (kk_rate_limit_check (limit, "x", 0), ==, 3 * S);
}

/* However many clients, at most max_clients are kept; full buckets go
 * first, and a client that is still limited stays limited. */
static void
test_memory_bound (void)
{
  g_autoptr (KkRateLimit) limit = kk_rate_limit_new (1, 60 * S, 64);
  gint64 t = 10 * S;

  for (int i = 0; i < 64; i++) {
    g_autofree char *key = g_strdup_printf ("old%d", i);

    kk_rate_limit_take (limit, key, t);
  }
  /* The old ones have refilled by now: a crowd of new clients replaces
   * them without refusing any. */
  t += 120 * S;
  g_assert_cmpint (kk_rate_limit_take (limit, "limited", t), ==, 0);
  for (int i = 0; i < 10000; i++) {
    g_autofree char *key = g_strdup_printf ("10.0.%d.%d", i / 256, i % 256);

    g_assert_cmpint (kk_rate_limit_take (limit, key, t + i), ==, 0);
    g_assert_cmpuint (kk_rate_limit_size (limit), <=, 64);
  }
  /* Evicted clients start over with a full bucket, the only cost. */
  g_assert_cmpuint (kk_rate_limit_size (limit), ==, 64);
}

static void
test_client_key (void)
{
  struct {
    const char *address;
    const char *key;
  } cases[] = {
    { "192.0.2.7", "192.0.2.7" },
    { "::ffff:192.0.2.7", "192.0.2.7" },
    { "2001:db8:1:2:aaaa::1", "2001:0db8:0001:0002::/64" },
    { "2001:db8:1:2:bbbb::9", "2001:0db8:0001:0002::/64" },
    { "::1", "::1" },
    { "not an address", "not an address" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *key = kk_rate_limit_client_key (cases[i].address);

    g_assert_cmpstr (key, ==, cases[i].key);
  }
  g_free (kk_rate_limit_client_key (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratelimit/burst-then-refill", test_burst_then_refill);
  g_test_add_func ("/ratelimit/course-and-flood", test_course_and_flood);
  g_test_add_func ("/ratelimit/check-and-charge", test_check_and_charge);
  g_test_add_func ("/ratelimit/memory-bound", test_memory_bound);
  g_test_add_func ("/ratelimit/client-key", test_client_key);
  return g_test_run ();
}
