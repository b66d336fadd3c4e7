/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-audience: how many screens and people watched a session, moment by
 * moment, as a step series made from the attendance log's intervals.
 *
 * The session report's chart and the host's live chart draw this series;
 * it is made here, next to the interval rules of kk-attendance, so that
 * the pages only draw what the relay computed. A screen counts while any
 * of its connections receives; a person counts while a connection of
 * their screen receives and they are at it (from their check-in, for a
 * colleague who checked in later). Someone with two connections at once
 * counts once.
 *
 * Pure like kk-attendance: no I/O, no clocks, everything is an argument.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One stretch of time [start_us, end_us) in which @key (a screen, or a
 * person: any small number the caller gives each one) was watching. An
 * empty or reversed stretch counts for nothing. */
typedef struct {
  guint key;
  gint64 start_us;
  gint64 end_us;
} KkAudienceSpan;

/* From @at_us on (until the next point, or the end of the series), this
 * many screens and people were watching. */
typedef struct {
  gint64 at_us;
  guint screens;
  guint people;
} KkAudiencePoint;

/**
 * kk_audience_series:
 * @screens: (array length=n_screens): keyed by screen
 * @people: (array length=n_people): keyed by person
 * @from_us, @to_us: the session's live time; spans are clipped to it
 *
 * The step series of distinct screens and people watching: a point at
 * @from_us with the counts then, and one at each later moment before
 * @to_us where either count changes (and only there). A session with no
 * live time (@to_us not after @from_us) has the one point at @from_us,
 * counting nobody.
 *
 * Returns: (transfer full) (element-type KkAudiencePoint): the series,
 * oldest first; never empty.
 */
GArray *kk_audience_series (const KkAudienceSpan *screens, guint n_screens,
    const KkAudienceSpan *people, guint n_people, gint64 from_us,
    gint64 to_us);

G_END_DECLS
