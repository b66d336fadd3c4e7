/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for kk-audience: the step series of screens and people
 * watching, with overlapping connections of one screen, a person with
 * two devices, a colleague who checked in later, spans outside the live
 * time, a reconnect within one moment, and an empty session.
 */
#include "kk-audience.h"

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)

typedef struct {
  gint64 at_s;
  guint screens;
  guint people;
} Expected;

static void
assert_series (GArray *series, const Expected *expected, guint n)
{
  for (guint i = 0; i < MIN (series->len, n); i++) {
    const KkAudiencePoint *p = &g_array_index (series, KkAudiencePoint, i);

    g_test_message ("point %u: %" G_GINT64_FORMAT " s, %u screens, %u people",
        i, p->at_us / G_USEC_PER_SEC, p->screens, p->people);
    g_assert_cmpint (p->at_us, ==, S (expected[i].at_s));
    g_assert_cmpuint (p->screens, ==, expected[i].screens);
    g_assert_cmpuint (p->people, ==, expected[i].people);
  }
  g_assert_cmpuint (series->len, ==, n);
}

/* Screen 0 (one person) from 10 to 50 s; screen 1 (two people, one of
 * them checked in at 30 s) from 20 to 40 s, and again from 60 s to the
 * end; the live time is 0..100 s. */
static void
test_steps (void)
{
  const KkAudienceSpan screens[] = {
    { 0, S (10), S (50) },
    { 1, S (20), S (40) },
    { 1, S (60), S (200) },
  };
  const KkAudienceSpan people[] = {
    { 0, S (10), S (50) },
    { 1, S (20), S (40) },
    { 2, S (30), S (40) },
    { 1, S (60), S (200) },
    { 2, S (60), S (200) },
  };
  const Expected expected[] = {
    { 0, 0, 0 }, { 10, 1, 1 }, { 20, 2, 2 }, { 30, 2, 3 }, { 40, 1, 1 },
    { 50, 0, 0 }, { 60, 1, 2 },
  };
  g_autoptr (GArray) series = kk_audience_series (screens,
      G_N_ELEMENTS (screens), people, G_N_ELEMENTS (people), 0, S (100));

  assert_series (series, expected, G_N_ELEMENTS (expected));
}

/* Two connections of one screen that overlap (a second device, a
 * reconnect before the old one timed out) count it once, and so its
 * person; a reconnect that ends and starts at one moment makes no step. */
static void
test_overlap_counts_once (void)
{
  const KkAudienceSpan screens[] = {
    { 0, S (5), S (30) },
    { 0, S (20), S (40) },
    { 0, S (40), S (60) },
  };
  const KkAudienceSpan people[] = {
    { 0, S (5), S (30) },
    { 0, S (20), S (40) },
    { 0, S (40), S (60) },
  };
  const Expected expected[] = { { 0, 0, 0 }, { 5, 1, 1 }, { 60, 0, 0 } };
  g_autoptr (GArray) series = kk_audience_series (screens,
      G_N_ELEMENTS (screens), people, G_N_ELEMENTS (people), 0, S (90));

  assert_series (series, expected, G_N_ELEMENTS (expected));
}

/* Watching before the broadcast started (waiting for it) counts from the
 * start; after its end, not at all; and a reversed span is nothing. */
static void
test_clipped (void)
{
  const KkAudienceSpan screens[] = {
    { 0, S (-50), S (30) },
    { 1, S (80), S (300) },
    { 2, S (150), S (300) },
    { 3, S (40), S (20) },
  };
  const Expected expected[] = { { 0, 1, 0 }, { 30, 0, 0 }, { 80, 1, 0 } };
  g_autoptr (GArray) series = kk_audience_series (screens,
      G_N_ELEMENTS (screens), NULL, 0, 0, S (100));

  assert_series (series, expected, G_N_ELEMENTS (expected));
}

static void
test_empty_session (void)
{
  const KkAudienceSpan screens[] = { { 0, S (0), S (10) } };
  const Expected expected[] = { { 5, 0, 0 } };
  g_autoptr (GArray) series = kk_audience_series (screens, 1, screens, 1,
      S (5), S (5));
  g_autoptr (GArray) nobody = kk_audience_series (NULL, 0, NULL, 0, S (5),
      S (100));

  assert_series (series, expected, 1);
  assert_series (nobody, expected, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/audience/steps", test_steps);
  g_test_add_func ("/audience/overlap-counts-once", test_overlap_counts_once);
  g_test_add_func ("/audience/clipped", test_clipped);
  g_test_add_func ("/audience/empty-session", test_empty_session);
  return g_test_run ();
}
