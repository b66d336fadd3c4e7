/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-audience: the audience over time; see kk-audience.h.
 *
 * A sweep over the spans' edges: each clipped span is an arrival and a
 * departure of its key, sorted by time. A key counts while it has more
 * arrivals than departures behind it, so overlapping spans of one key
 * (two connections of one screen, or one person's two devices) count it
 * once. All edges at one moment are applied before the counts are
 * compared, so a reconnect that leaves and arrives in the same
 * microsecond makes no point of its own.
 */
#include "kk-audience.h"

typedef struct {
  gint64 at_us;
  guint key;
  gint8 delta;                  /* +1 arrives, -1 leaves */
  gboolean person;              /* of @people, else of @screens */
} Edge;

static int
compare_edges (gconstpointer a, gconstpointer b)
{
  const Edge *x = a, *y = b;

  return x->at_us < y->at_us ? -1 : x->at_us > y->at_us;
}

/* The clipped edges of @spans, appended to @edges; the largest key + 1
 * into @n_keys. */
static void
add_edges (GArray *edges, const KkAudienceSpan *spans, guint n_spans,
    gboolean person, gint64 from_us, gint64 to_us, guint *n_keys)
{
  for (guint i = 0; i < n_spans; i++) {
    gint64 start = MAX (spans[i].start_us, from_us);
    gint64 end = MIN (spans[i].end_us, to_us);
    Edge arrive = { start, spans[i].key, +1, person };
    Edge leave = { end, spans[i].key, -1, person };

    if (end <= start)
      continue;
    *n_keys = MAX (*n_keys, spans[i].key + 1);
    g_array_append_val (edges, arrive);
    /* Still watching at the end: the series stops there anyway. */
    if (end < to_us)
      g_array_append_val (edges, leave);
  }
}

/* Applies one edge to the per-key tallies and the distinct counts. */
static void
apply (const Edge *edge, guint *tally, guint *count)
{
  if (edge->delta > 0) {
    if (tally[edge->key]++ == 0)
      (*count)++;
  } else if (tally[edge->key] > 0 && --tally[edge->key] == 0) {
    (*count)--;
  }
}

GArray *
kk_audience_series (const KkAudienceSpan *screens, guint n_screens,
    const KkAudienceSpan *people, guint n_people, gint64 from_us,
    gint64 to_us)
{
  GArray *series = g_array_new (FALSE, FALSE, sizeof (KkAudiencePoint));
  g_autoptr (GArray) edges = g_array_new (FALSE, FALSE, sizeof (Edge));
  guint n_screen_keys = 0, n_person_keys = 0;
  g_autofree guint *screen_tally = NULL;
  g_autofree guint *person_tally = NULL;
  KkAudiencePoint point = { from_us, 0, 0 };
  guint i = 0;

  add_edges (edges, screens, n_screens, FALSE, from_us, to_us,
      &n_screen_keys);
  add_edges (edges, people, n_people, TRUE, from_us, to_us, &n_person_keys);
  /* Stable order does not matter: a moment's edges are all applied
   * before its counts are read. */
  g_array_sort (edges, compare_edges);
  screen_tally = g_new0 (guint, MAX (n_screen_keys, 1));
  person_tally = g_new0 (guint, MAX (n_person_keys, 1));

  while (i < edges->len || series->len == 0) {
    gint64 at = series->len == 0 ? from_us
        : g_array_index (edges, Edge, i).at_us;
    KkAudiencePoint next;

    while (i < edges->len && g_array_index (edges, Edge, i).at_us == at) {
      const Edge *edge = &g_array_index (edges, Edge, i);

      if (edge->person)
        apply (edge, person_tally, &point.people);
      else
        apply (edge, screen_tally, &point.screens);
      i++;
    }
    next = point;
    next.at_us = at;
    if (series->len == 0
        || next.screens != g_array_index (series, KkAudiencePoint,
            series->len - 1).screens
        || next.people != g_array_index (series, KkAudiencePoint,
            series->len - 1).people)
      g_array_append_val (series, next);
  }
  return series;
}
