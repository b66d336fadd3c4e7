/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for kk-attendance: interval union, clipping and gap grace,
 * every completion rule with its edge cases (lateness of scheduled
 * sessions among them), the CSV writer in both dialects and the CSV
 * reader.
 */
#include "kk-attendance.h"
#include "kk-attendance-api.h"
#include "kk-time.h"

#include <string.h>

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)
#define MIN_(x) (S (x) * 60)

static GArray *
make (const gint64 *pairs, guint n)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (KkInterval));

  for (guint i = 0; i < n; i++) {
    KkInterval iv = { pairs[2 * i], pairs[2 * i + 1] };

    g_array_append_val (a, iv);
  }
  return a;
}

static void
assert_intervals (GArray *a, const gint64 *pairs, guint n)
{
  g_assert_cmpuint (a->len, ==, n);
  for (guint i = 0; i < n; i++) {
    g_assert_cmpint (g_array_index (a, KkInterval, i).start_us, ==,
        pairs[2 * i]);
    g_assert_cmpint (g_array_index (a, KkInterval, i).end_us, ==,
        pairs[2 * i + 1]);
  }
}

static void
test_union (void)
{
  /* Unsorted, overlapping, touching, contained, empty and inverted. */
  const gint64 in[] = { 50, 60, 10, 20, 15, 30, 30, 35, 12, 14, 40, 40,
    80, 70, 55, 58 };
  const gint64 want[] = { 10, 35, 50, 60 };
  g_autoptr (GArray) a = make (in, G_N_ELEMENTS (in) / 2);

  kk_intervals_union (a);
  assert_intervals (a, want, 2);
  g_assert_cmpint (kk_intervals_total (a), ==, 35);

  g_array_set_size (a, 0);
  kk_intervals_union (a);
  g_assert_cmpuint (a->len, ==, 0);
  g_assert_cmpint (kk_intervals_total (a), ==, 0);
}

static void
test_clip (void)
{
  const gint64 in[] = { 0, 10, 20, 30, 40, 50, 60, 70 };
  const gint64 want[] = { 25, 30, 40, 45 };
  g_autoptr (GArray) a = make (in, 4);

  kk_intervals_clip (a, 25, 45);
  assert_intervals (a, want, 2);
  /* Clipping to nothing leaves nothing. */
  kk_intervals_clip (a, 31, 31);
  g_assert_cmpuint (a->len, ==, 0);
}

static void
test_grace (void)
{
  /* Gaps of 59 s, exactly 60 s and 61 s with a 60 s grace: only the
   * first is shorter than the grace. */
  const gint64 in[] = { S (0), S (100), S (159), S (200), S (260), S (300),
    S (361), S (400) };
  const gint64 want[] = { S (0), S (200), S (260), S (300), S (361), S (400) };
  g_autoptr (GArray) a = make (in, 4);

  kk_intervals_forgive_gaps (a, S (60));
  assert_intervals (a, want, 3);
  /* A grace of 0 forgives nothing. */
  kk_intervals_forgive_gaps (a, 0);
  g_assert_cmpuint (a->len, ==, 3);
}

static void
evaluate (const KkAttendancePolicy *policy, gint64 start, gint64 end,
    const gint64 *pairs, guint n, KkAttendanceResult *r)
{
  g_autoptr (GArray) a = make (pairs, n);

  /* Ad hoc: lateness counts from the broadcast's start. */
  kk_attendance_evaluate (policy, start, end, start, (KkInterval *) a->data,
      a->len, FALSE, NULL, 0, r);
}

static void
evaluate_scheduled (const KkAttendancePolicy *policy, gint64 start,
    gint64 end, gint64 scheduled, const gint64 *pairs, guint n,
    KkAttendanceResult *r)
{
  g_autoptr (GArray) a = make (pairs, n);

  kk_attendance_evaluate (policy, start, end, scheduled,
      (KkInterval *) a->data, a->len, FALSE, NULL, 0, r);
}

static void
test_completion_ratio (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* 60 min session; 48 min exactly is 0.8. */
  const gint64 exact[] = { MIN_ (0), MIN_ (48) };
  const gint64 short_[] = { MIN_ (0), MIN_ (48) - 1 };

  kk_attendance_policy_init (&policy);
  g_assert_cmpfloat (policy.completion_ratio, ==, 0.8);
  g_assert_cmpint (policy.grace_us, ==, S (60));

  evaluate (&policy, 0, MIN_ (60), exact, 1, &r);
  g_assert_cmpint (r.live_us, ==, MIN_ (60));
  g_assert_cmpint (r.attended_us, ==, MIN_ (48));
  g_assert_true (r.completed);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_COMPLETED);
  g_assert_cmpfloat_with_epsilon (r.attended_ratio, 0.8, 1e-9);

  evaluate (&policy, 0, MIN_ (60), short_, 1, &r);
  g_assert_false (r.completed);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_TOO_SHORT);

  /* Ratio 1.0 needs every moment; ratio 0 still needs some presence. */
  policy.completion_ratio = 1.0;
  evaluate (&policy, 0, MIN_ (60), exact, 1, &r);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_TOO_SHORT);
  policy.completion_ratio = 0.0;
  evaluate (&policy, 0, MIN_ (60), NULL, 0, &r);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_ABSENT);
  g_assert_cmpint (r.lateness_us, ==, -1);
  g_assert_cmpint (r.first_join_us, ==, 0);
}

static void
test_two_devices_and_rejoins (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* Phone 0-30 min, laptop 20-50 min (overlap counted once), a rejoin on
   * the laptop at 50:30 after a 30 s drop (forgiven), and a last visit
   * 55-58 min after a 5 min gap (not forgiven). */
  const gint64 c[] = { MIN_ (0), MIN_ (30), MIN_ (20), MIN_ (50),
    MIN_ (50) + S (30), MIN_ (53), MIN_ (55), MIN_ (58) };

  kk_attendance_policy_init (&policy);
  evaluate (&policy, 0, MIN_ (60), c, 4, &r);
  g_assert_cmpint (r.attended_us, ==, MIN_ (53) + MIN_ (3));
  g_assert_cmpuint (r.rejoins, ==, 2);
  g_assert_cmpint (r.first_join_us, ==, 0);
  g_assert_cmpint (r.last_leave_us, ==, MIN_ (58));
  g_assert_true (r.completed);
}

static void
test_viewer_before_start (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* Connected 10 min before the start, through to the end and beyond. */
  const gint64 c[] = { MIN_ (-10), MIN_ (70) };
  /* And someone who came and went before the start. */
  const gint64 early[] = { MIN_ (-10), MIN_ (-5) };

  kk_attendance_policy_init (&policy);
  policy.max_lateness_us = 0;
  evaluate (&policy, 0, MIN_ (60), c, 1, &r);
  g_assert_cmpint (r.attended_us, ==, MIN_ (60));
  g_assert_cmpfloat (r.attended_ratio, ==, 1.0);
  g_assert_cmpint (r.lateness_us, ==, 0);
  g_assert_cmpint (r.first_join_us, ==, MIN_ (-10));
  g_assert_cmpuint (r.rejoins, ==, 0);
  g_assert_true (r.completed);

  evaluate (&policy, 0, MIN_ (60), early, 1, &r);
  g_assert_cmpint (r.attended_us, ==, 0);
  g_assert_cmpint (r.first_join_us, ==, 0);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_ABSENT);
}

static void
test_lateness (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  const gint64 c[] = { MIN_ (10), MIN_ (60) };

  kk_attendance_policy_init (&policy);
  policy.completion_ratio = 0.5;
  evaluate (&policy, 0, MIN_ (60), c, 1, &r);
  g_assert_true (r.completed);
  g_assert_cmpint (r.lateness_us, ==, MIN_ (10));

  policy.max_lateness_us = MIN_ (10);
  evaluate (&policy, 0, MIN_ (60), c, 1, &r);
  g_assert_true (r.completed);
  policy.max_lateness_us = MIN_ (10) - 1;
  evaluate (&policy, 0, MIN_ (60), c, 1, &r);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_LATE);
  g_assert_false (r.completed);
}

/* A session planned for 0-60 min. Lateness counts from the later of the
 * planned and the real start; the ratio from the real (live) time. */
static void
test_scheduled_host_late (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* The host starts 10 min late and goes on to 70 min. */
  const gint64 waited[] = { MIN_ (-2), MIN_ (70) };
  const gint64 at_broadcast[] = { MIN_ (10), MIN_ (70) };
  const gint64 at_limit[] = { MIN_ (15), MIN_ (70) };
  const gint64 past_limit[] = { MIN_ (15) + 1, MIN_ (70) };

  kk_attendance_policy_init (&policy);
  policy.max_lateness_us = MIN_ (5);

  /* Waiting since before the planned start, or coming when the broadcast
   * began: not late, though 10 min after the planned start. */
  evaluate_scheduled (&policy, MIN_ (10), MIN_ (70), 0, waited, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, 0);
  g_assert_cmpint (r.live_us, ==, MIN_ (60));
  g_assert_cmpint (r.attended_us, ==, MIN_ (60));
  g_assert_true (r.completed);
  evaluate_scheduled (&policy, MIN_ (10), MIN_ (70), 0, at_broadcast, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, 0);
  g_assert_true (r.completed);

  /* The limit runs from the broadcast's start: exactly at it is on time,
   * a microsecond past it is late. */
  evaluate_scheduled (&policy, MIN_ (10), MIN_ (70), 0, at_limit, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, MIN_ (5));
  g_assert_true (r.completed);
  evaluate_scheduled (&policy, MIN_ (10), MIN_ (70), 0, past_limit, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, MIN_ (5) + 1);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_LATE);
}

static void
test_scheduled_host_early (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* The host starts 10 min early and ends on time: 70 min live. */
  const gint64 on_time[] = { MIN_ (0), MIN_ (60) };
  const gint64 at_broadcast[] = { MIN_ (-10), MIN_ (60) };
  const gint64 between[] = { MIN_ (-5), MIN_ (60) };
  const gint64 at_limit[] = { MIN_ (5), MIN_ (60) };
  const gint64 past_limit[] = { MIN_ (5) + 1, MIN_ (60) };

  kk_attendance_policy_init (&policy);
  policy.max_lateness_us = MIN_ (5);
  policy.completion_ratio = 0.5;

  /* Coming at the planned start is on time, not 10 min late as an ad hoc
   * session would count it. */
  evaluate_scheduled (&policy, MIN_ (-10), MIN_ (60), 0, on_time, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, 0);
  g_assert_true (r.completed);
  evaluate (&policy, MIN_ (-10), MIN_ (60), on_time, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, MIN_ (10));
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_LATE);

  /* Before the planned start (from the broadcast's, or in between) is
   * never negative lateness. */
  evaluate_scheduled (&policy, MIN_ (-10), MIN_ (60), 0, at_broadcast, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, 0);
  evaluate_scheduled (&policy, MIN_ (-10), MIN_ (60), 0, between, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, 0);
  g_assert_true (r.completed);

  evaluate_scheduled (&policy, MIN_ (-10), MIN_ (60), 0, at_limit, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, MIN_ (5));
  g_assert_true (r.completed);
  evaluate_scheduled (&policy, MIN_ (-10), MIN_ (60), 0, past_limit, 1, &r);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_LATE);

  /* The ratio stays relative to the live time: the whole planned hour is
   * 60 of 70 min, short of 0.9. */
  policy.completion_ratio = 0.9;
  evaluate_scheduled (&policy, MIN_ (-10), MIN_ (60), 0, on_time, 1, &r);
  g_assert_cmpint (r.live_us, ==, MIN_ (70));
  g_assert_cmpint (r.attended_us, ==, MIN_ (60));
  g_assert_cmpfloat_with_epsilon (r.attended_ratio, 6.0 / 7.0, 1e-9);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_TOO_SHORT);
}

static void
test_scheduled_edges (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* A broadcast that ended before its planned start (a host trying the
   * camera): whoever watched it was not late. */
  const gint64 rehearsal[] = { MIN_ (-8), MIN_ (-2) };
  const gint64 c[] = { MIN_ (20), MIN_ (60) };

  kk_attendance_policy_init (&policy);
  policy.max_lateness_us = 0;
  policy.completion_ratio = 0.5;
  evaluate_scheduled (&policy, MIN_ (-10), MIN_ (-2), 0, rehearsal, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, 0);
  g_assert_cmpint (r.attended_us, ==, MIN_ (6));
  g_assert_true (r.completed);

  /* Absent stays -1, whatever the plan. */
  evaluate_scheduled (&policy, 0, MIN_ (60), MIN_ (10), NULL, 0, &r);
  g_assert_cmpint (r.lateness_us, ==, -1);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_ABSENT);

  /* A planned start long after the broadcast's end makes nobody late
   * and changes no time. */
  evaluate_scheduled (&policy, 0, MIN_ (60), MIN_ (600), c, 1, &r);
  g_assert_cmpint (r.lateness_us, ==, 0);
  g_assert_cmpint (r.attended_us, ==, MIN_ (40));
  g_assert_true (r.completed);
  /* An empty session stays empty. */
  evaluate_scheduled (&policy, MIN_ (5), MIN_ (5), 0, c, 1, &r);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_EMPTY_SESSION);
}

static void
test_code_and_prompts (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* Present 0-20 and 40-60 min. */
  KkInterval c[] = { { MIN_ (0), MIN_ (20) }, { MIN_ (40), MIN_ (60) } };
  KkPromptAnswer prompts[] = {
    { MIN_ (10), MIN_ (11) },           /* answered in time */
    { MIN_ (30), 0 },                   /* issued while away: not counted */
    { MIN_ (50), MIN_ (50) + S (180) }, /* answered at the window's edge */
  };

  kk_attendance_policy_init (&policy);
  policy.completion_ratio = 0.5;
  policy.require_code = TRUE;
  kk_attendance_evaluate (&policy, 0, MIN_ (60), 0, c, 2, FALSE, prompts, 3, &r);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_NO_CODE);
  kk_attendance_evaluate (&policy, 0, MIN_ (60), 0, c, 2, TRUE, prompts, 3, &r);
  g_assert_cmpuint (r.prompts_seen, ==, 2);
  g_assert_cmpuint (r.prompts_missed, ==, 0);
  g_assert_true (r.completed);

  /* Late by a second. */
  prompts[2].answered_us++;
  kk_attendance_evaluate (&policy, 0, MIN_ (60), 0, c, 2, TRUE, prompts, 3, &r);
  g_assert_cmpuint (r.prompts_missed, ==, 1);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_MISSED_PROMPT);
  /* Never answered. */
  prompts[2].answered_us = 0;
  kk_attendance_evaluate (&policy, 0, MIN_ (60), 0, c, 2, TRUE, prompts, 3, &r);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_MISSED_PROMPT);
  g_assert_cmpstr (kk_attendance_verdict_to_string (r.verdict), ==,
      "missed-prompt");
}

static void
test_prompt_schedule (void)
{
  KkAttendancePolicy policy;
  gint64 previous = -1;

  kk_attendance_policy_init (&policy);
  g_assert_cmpint (policy.prompt_interval_us, ==, MIN_ (15));
  /* Prompt k lies in the k-th interval, away from its first and last
   * tenth: never two within two tenths of an interval. */
  for (guint k = 0; k < 4; k++) {
    gint64 low = kk_attendance_prompt_offset (&policy, k, 0);
    gint64 high = kk_attendance_prompt_offset (&policy, k, G_MAXUINT32);
    gint64 mid = kk_attendance_prompt_offset (&policy, k, 1u << 31);

    g_assert_cmpint (low, ==, k * MIN_ (15) + S (90));
    g_assert_cmpint (high, <, (k + 1) * MIN_ (15) - S (90));
    g_assert_cmpint (high, >, (k + 1) * MIN_ (15) - S (91));
    g_assert_cmpint (mid, ==, k * MIN_ (15) + S (450));
    if (previous >= 0)
      g_assert_cmpint (low - previous, >=, S (180) - 1);
    previous = high;
  }
  /* Random bits spread over the span. */
  {
    gint64 seen_low = G_MAXINT64, seen_high = 0;

    for (guint i = 0; i < 1000; i++) {
      gint64 t = kk_attendance_prompt_offset (&policy, 0, g_random_int ());

      seen_low = MIN (seen_low, t);
      seen_high = MAX (seen_high, t);
    }
    g_assert_cmpint (seen_low, <, S (120));
    g_assert_cmpint (seen_high, >, S (780));
  }
}

static void
test_settings_body (void)
{
  const char *full = "{\"completion_ratio\": 0.75, \"grace_seconds\": 30,"
      " \"max_lateness_seconds\": 600, \"require_code\": true,"
      " \"prompts\": 3, \"prompt_window_seconds\": 120,"
      " \"prompt_interval_seconds\": 1200, \"retention_days\": 90}";
  g_autofree KkAttendanceSettings *s = NULL;
  g_autoptr (GError) error = NULL;
  const char *bad[] = {
    "{\"prompts\": 21}", "{\"prompts\": -1}", "{\"require_code\": 1}",
    "{\"prompt_window_seconds\": 9}", "{\"prompt_interval_seconds\": 5}",
    "{\"prompt_interval_seconds\": 86401}", "{\"prompt\": 1}",
  };

  s = kk_attendance_api_parse_settings (full, strlen (full), &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (s->policy.completion_ratio, ==, 0.75);
  g_assert_cmpint (s->policy.grace_us, ==, S (30));
  g_assert_cmpint (s->policy.max_lateness_us, ==, S (600));
  g_assert_true (s->policy.require_code);
  g_assert_cmpuint (s->policy.prompts, ==, 3);
  g_assert_cmpint (s->policy.prompt_window_us, ==, S (120));
  g_assert_cmpint (s->policy.prompt_interval_us, ==, S (1200));
  g_assert_cmpuint (s->retention_days, ==, 90);
  g_clear_pointer (&s, g_free);

  s = kk_attendance_api_parse_settings ("{}", 2, &error);
  g_assert_no_error (error);
  g_assert_false (s->policy.require_code);
  g_assert_cmpuint (s->policy.prompts, ==, 0);
  g_assert_cmpint (s->policy.prompt_interval_us, ==,
      S (KK_ATTENDANCE_DEFAULT_PROMPT_INTERVAL_S));
  g_clear_pointer (&s, g_free);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    s = kk_attendance_api_parse_settings (bad[i], strlen (bad[i]), &error);
    g_assert_null (s);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
}

static void
test_zero_length_session (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  const gint64 c[] = { MIN_ (-1), MIN_ (1) };

  kk_attendance_policy_init (&policy);
  policy.completion_ratio = 0.0;
  evaluate (&policy, S (5), S (5), c, 1, &r);
  g_assert_cmpint (r.live_us, ==, 0);
  g_assert_cmpint (r.attended_us, ==, 0);
  g_assert_cmpfloat (r.attended_ratio, ==, 0.0);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_EMPTY_SESSION);
  g_assert_false (r.completed);
}

static void
test_clock_steps (void)
{
  KkAttendancePolicy policy;
  KkAttendanceResult r;
  /* A leave stored before its join (the clock went back between a crash
   * and the restart): nothing, not negative time, and the person's other
   * interval is unaffected. */
  const gint64 c[] = { MIN_ (30), MIN_ (20), MIN_ (0), MIN_ (50) };

  kk_attendance_policy_init (&policy);
  evaluate (&policy, 0, MIN_ (60), c, 2, &r);
  g_assert_cmpint (r.attended_us, ==, MIN_ (50));
  g_assert_cmpint (r.last_leave_us, ==, MIN_ (50));
  g_assert_true (r.completed);

  /* A session whose end is before its start is empty. */
  evaluate (&policy, MIN_ (60), 0, c, 2, &r);
  g_assert_cmpint (r.live_us, ==, 0);
  g_assert_cmpint (r.attended_us, ==, 0);
  g_assert_cmpint (r.verdict, ==, KK_ATTENDANCE_EMPTY_SESSION);
}

static char *
finish_text (KkCsvWriter *w)
{
  g_autoptr (GBytes) bytes = kk_csv_writer_finish (w);

  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
test_csv_excel (void)
{
  KkCsvWriter *w = kk_csv_writer_new (KK_CSV_EXCEL);
  g_autofree char *text = NULL;

  kk_csv_writer_add (w, "name");
  kk_csv_writer_add (w, "workplace");
  kk_csv_writer_add (w, "minutes");
  kk_csv_writer_end_row (w);
  kk_csv_writer_add (w, "Åse Bjørnæs");
  kk_csv_writer_add (w, "Avd; \"Sør\"");
  kk_csv_writer_add_int (w, 47);
  kk_csv_writer_end_row (w);
  kk_csv_writer_add (w, "=HYPERLINK(\"x\")");
  kk_csv_writer_add (w, "+47 123");
  kk_csv_writer_add (w, NULL);
  kk_csv_writer_end_row (w);
  kk_csv_writer_add (w, "-1");
  kk_csv_writer_add (w, "@SUM(A1)");
  kk_csv_writer_add (w, "a\nb");
  kk_csv_writer_end_row (w);
  text = finish_text (w);
  g_assert_cmpstr (text, ==,
      "\xef\xbb\xbf" "name;workplace;minutes\r\n"
      "Åse Bjørnæs;\"Avd; \"\"Sør\"\"\";47\r\n"
      "\"'=HYPERLINK(\"\"x\"\")\";\"'+47 123\";\r\n"
      "\"'-1\";\"'@SUM(A1)\";\"a\nb\"\r\n");
}

static void
test_csv_rfc4180 (void)
{
  KkCsvWriter *w = kk_csv_writer_new (KK_CSV_RFC4180);
  g_autofree char *text = NULL;
  KkCsvDialect dialect;

  kk_csv_writer_add (w, "=1+1");
  kk_csv_writer_add (w, "a,b");
  kk_csv_writer_add (w, "x;y");
  kk_csv_writer_add_int (w, -3);
  kk_csv_writer_end_row (w);
  text = finish_text (w);
  g_assert_cmpstr (text, ==, "=1+1,\"a,b\",x;y,-3\r\n");

  g_assert_true (kk_csv_dialect_from_string (NULL, &dialect));
  g_assert_cmpint (dialect, ==, KK_CSV_EXCEL);
  g_assert_true (kk_csv_dialect_from_string ("rfc4180", &dialect));
  g_assert_cmpint (dialect, ==, KK_CSV_RFC4180);
  g_assert_false (kk_csv_dialect_from_string ("tsv", &dialect));
}

static void
test_csv_parse (void)
{
  const char excel[] = "\xef\xbb\xbf" "name;workplace;hpr\r\n"
      "Åse;\"Avd; \"\"Sør\"\"\";123\r\n\r\n"
      "\"multi\nline\";;\n";
  const char plain[] = "name,workplace\nKari,\"Gjøvik, legevakt\"";
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) error = NULL;
  char **row;

  rows = kk_csv_parse (excel, sizeof excel - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 3);
  row = rows->pdata[1];
  g_assert_cmpuint (g_strv_length (row), ==, 3);
  g_assert_cmpstr (row[0], ==, "Åse");
  g_assert_cmpstr (row[1], ==, "Avd; \"Sør\"");
  g_assert_cmpstr (row[2], ==, "123");
  row = rows->pdata[2];
  g_assert_cmpstr (row[0], ==, "multi\nline");
  g_assert_cmpstr (row[2], ==, "");
  g_clear_pointer (&rows, g_ptr_array_unref);

  rows = kk_csv_parse (plain, sizeof plain - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (((char **) rows->pdata[1])[1], ==, "Gjøvik, legevakt");
  g_clear_pointer (&rows, g_ptr_array_unref);

  /* Broken input is refused, not guessed at. */
  g_assert_null (kk_csv_parse ("a;\"b", 4, &error));
  g_assert_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (kk_csv_parse ("a;b\"c\"", 7, &error));
  g_clear_error (&error);
  g_assert_null (kk_csv_parse ("\"a\"b;c", 6, &error));
  g_clear_error (&error);
  g_assert_null (kk_csv_parse ("a\0b", 3, &error));
  g_clear_error (&error);
  g_assert_null (kk_csv_parse ("\xff;a", 3, &error));
  g_clear_error (&error);
}

static void
test_local_time (void)
{
  /* 2025-01-15 12:00:00Z is 13:00 in Oslo (winter, +01:00); 2025-07-01
   * 12:00:00Z is 14:00 (summer, +02:00). */
  g_autofree char *winter = kk_time_format_local (
      S (1736942400));
  g_autofree char *summer = kk_time_format_local (
      S (1751371200));

  g_assert_cmpstr (winter, ==, "2025-01-15 13:00:00+01:00");
  g_assert_cmpstr (summer, ==, "2025-07-01 14:00:00+02:00");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attendance/intervals/union", test_union);
  g_test_add_func ("/attendance/intervals/clip", test_clip);
  g_test_add_func ("/attendance/intervals/grace", test_grace);
  g_test_add_func ("/attendance/completion/ratio", test_completion_ratio);
  g_test_add_func ("/attendance/completion/two-devices-and-rejoins",
      test_two_devices_and_rejoins);
  g_test_add_func ("/attendance/completion/viewer-before-start",
      test_viewer_before_start);
  g_test_add_func ("/attendance/completion/lateness", test_lateness);
  g_test_add_func ("/attendance/completion/scheduled/host-late",
      test_scheduled_host_late);
  g_test_add_func ("/attendance/completion/scheduled/host-early",
      test_scheduled_host_early);
  g_test_add_func ("/attendance/completion/scheduled/edges",
      test_scheduled_edges);
  g_test_add_func ("/attendance/completion/code-and-prompts",
      test_code_and_prompts);
  g_test_add_func ("/attendance/prompts/schedule", test_prompt_schedule);
  g_test_add_func ("/attendance/settings-body", test_settings_body);
  g_test_add_func ("/attendance/completion/zero-length-session",
      test_zero_length_session);
  g_test_add_func ("/attendance/completion/clock-steps", test_clock_steps);
  g_test_add_func ("/attendance/csv/excel", test_csv_excel);
  g_test_add_func ("/attendance/csv/rfc4180", test_csv_rfc4180);
  g_test_add_func ("/attendance/csv/parse", test_csv_parse);
  g_test_add_func ("/attendance/local-time", test_local_time);
  return g_test_run ();
}
