/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-attendance: interval arithmetic, the completion rules, and CSV; see
 * kk-attendance.h.
 *
 * The order of the steps in kk_attendance_evaluate() matters and is the
 * definition of "attended": first the union of all connections (two
 * devices at once count once), then the clip to the live time (waiting
 * before the start is not attendance, but whoever waited counts from the
 * start), then the rejoin count (stretches the person actually saw), then
 * the grace (short drop-outs forgiven). Forgiving before clipping would
 * let a gap straddle the start; counting rejoins after the grace would
 * hide them from an appeal.
 */
#include "kk-attendance.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (kk-attendance-error-quark, kk_attendance_error)

/* ---- intervals ---- */

static int
compare_intervals (gconstpointer a, gconstpointer b)
{
  const KkInterval *x = a, *y = b;

  if (x->start_us != y->start_us)
    return x->start_us < y->start_us ? -1 : 1;
  if (x->end_us != y->end_us)
    return x->end_us < y->end_us ? -1 : 1;
  return 0;
}

void
kk_intervals_union (GArray *intervals)
{
  guint out = 0;

  g_array_sort (intervals, compare_intervals);
  for (guint i = 0; i < intervals->len; i++) {
    KkInterval cur = g_array_index (intervals, KkInterval, i);

    if (cur.end_us <= cur.start_us)
      continue;
    if (out > 0) {
      KkInterval *last = &g_array_index (intervals, KkInterval, out - 1);

      if (cur.start_us <= last->end_us) {
        last->end_us = MAX (last->end_us, cur.end_us);
        continue;
      }
    }
    g_array_index (intervals, KkInterval, out++) = cur;
  }
  g_array_set_size (intervals, out);
}

void
kk_intervals_clip (GArray *intervals, gint64 from_us, gint64 to_us)
{
  guint out = 0;

  for (guint i = 0; i < intervals->len; i++) {
    KkInterval cur = g_array_index (intervals, KkInterval, i);

    cur.start_us = MAX (cur.start_us, from_us);
    cur.end_us = MIN (cur.end_us, to_us);
    if (cur.end_us > cur.start_us)
      g_array_index (intervals, KkInterval, out++) = cur;
  }
  g_array_set_size (intervals, out);
}

void
kk_intervals_forgive_gaps (GArray *intervals, gint64 grace_us)
{
  guint out = 0;

  for (guint i = 0; i < intervals->len; i++) {
    KkInterval cur = g_array_index (intervals, KkInterval, i);

    if (out > 0) {
      KkInterval *last = &g_array_index (intervals, KkInterval, out - 1);

      if (cur.start_us - last->end_us < grace_us) {
        last->end_us = MAX (last->end_us, cur.end_us);
        continue;
      }
    }
    g_array_index (intervals, KkInterval, out++) = cur;
  }
  g_array_set_size (intervals, out);
}

gint64
kk_intervals_total (const GArray *intervals)
{
  gint64 total = 0;

  for (guint i = 0; i < intervals->len; i++) {
    const KkInterval *cur = &g_array_index (intervals, KkInterval, i);

    total += cur->end_us - cur->start_us;
  }
  return total;
}

static gboolean
intervals_contain (const GArray *intervals, gint64 time_us)
{
  for (guint i = 0; i < intervals->len; i++) {
    const KkInterval *cur = &g_array_index (intervals, KkInterval, i);

    if (time_us >= cur->start_us && time_us < cur->end_us)
      return TRUE;
  }
  return FALSE;
}

/* ---- completion ---- */

void
kk_attendance_policy_init (KkAttendancePolicy *policy)
{
  memset (policy, 0, sizeof (*policy));
  policy->completion_ratio = KK_ATTENDANCE_DEFAULT_RATIO;
  policy->grace_us = KK_ATTENDANCE_DEFAULT_GRACE_S * G_USEC_PER_SEC;
  policy->max_lateness_us = -1;
  policy->prompt_window_us = KK_ATTENDANCE_DEFAULT_PROMPT_WINDOW_S
      * G_USEC_PER_SEC;
  policy->prompt_interval_us = KK_ATTENDANCE_DEFAULT_PROMPT_INTERVAL_S
      * G_USEC_PER_SEC;
}

gint64
kk_attendance_prompt_offset (const KkAttendancePolicy *policy, guint k,
    guint32 random)
{
  gint64 interval = MAX (policy->prompt_interval_us, 10);
  gint64 span = interval - 2 * (interval / 10);

  return (gint64) k * interval + interval / 10
      + (gint64) (((guint64) random * (guint64) span) >> 32);
}

const char *
kk_attendance_verdict_to_string (KkAttendanceVerdict verdict)
{
  switch (verdict) {
    case KK_ATTENDANCE_COMPLETED:
      return "completed";
    case KK_ATTENDANCE_EMPTY_SESSION:
      return "empty-session";
    case KK_ATTENDANCE_ABSENT:
      return "absent";
    case KK_ATTENDANCE_TOO_SHORT:
      return "too-short";
    case KK_ATTENDANCE_LATE:
      return "late";
    case KK_ATTENDANCE_NO_CODE:
      return "no-code";
    case KK_ATTENDANCE_MISSED_PROMPT:
      return "missed-prompt";
  }
  return "?";
}

void
kk_attendance_evaluate (const KkAttendancePolicy *policy,
    gint64 live_start_us, gint64 live_end_us, gint64 scheduled_start_us,
    const KkInterval *connections, guint n_connections,
    gboolean code_given, const KkPromptAnswer *prompts, guint n_prompts,
    KkAttendanceResult *result)
{
  g_autoptr (GArray) seen = g_array_sized_new (FALSE, FALSE,
      sizeof (KkInterval), n_connections);
  gboolean any = FALSE;

  memset (result, 0, sizeof (*result));
  result->lateness_us = -1;
  if (live_end_us < live_start_us)
    live_end_us = live_start_us;
  result->live_us = live_end_us - live_start_us;

  for (guint i = 0; i < n_connections; i++) {
    const KkInterval *c = &connections[i];

    if (c->end_us <= c->start_us)
      continue;
    /* Touching the session's edges counts: a viewer who left at the very
     * start still shows when she came. */
    if (c->end_us < live_start_us || c->start_us > live_end_us)
      continue;
    if (!any || c->start_us < result->first_join_us)
      result->first_join_us = c->start_us;
    if (!any || c->end_us > result->last_leave_us)
      result->last_leave_us = c->end_us;
    any = TRUE;
    g_array_append_val (seen, *c);
  }

  kk_intervals_union (seen);
  kk_intervals_clip (seen, live_start_us, live_end_us);
  if (seen->len > 0) {
    /* Whoever was there before the later of the two starts is on time:
     * the planned start is when people were told to come. */
    gint64 on_time_us = MAX (live_start_us, scheduled_start_us);

    result->rejoins = seen->len - 1;
    result->lateness_us = MAX (0,
        g_array_index (seen, KkInterval, 0).start_us - on_time_us);
  }
  kk_intervals_forgive_gaps (seen, policy->grace_us);
  result->attended_us = kk_intervals_total (seen);
  if (result->live_us > 0)
    result->attended_ratio = (double) result->attended_us
        / (double) result->live_us;

  for (guint i = 0; i < n_prompts; i++) {
    const KkPromptAnswer *p = &prompts[i];

    if (!intervals_contain (seen, p->issued_us))
      continue;
    result->prompts_seen++;
    if (p->answered_us < p->issued_us
        || p->answered_us - p->issued_us > policy->prompt_window_us)
      result->prompts_missed++;
  }

  /* Compared in microseconds, not as a ratio, so that 48 of 60 minutes
   * meets 0.8 exactly, whatever the rounding of the division. */
  if (result->live_us == 0)
    result->verdict = KK_ATTENDANCE_EMPTY_SESSION;
  else if (result->attended_us == 0)
    result->verdict = KK_ATTENDANCE_ABSENT;
  else if ((double) result->attended_us + 0.5
      < policy->completion_ratio * (double) result->live_us)
    result->verdict = KK_ATTENDANCE_TOO_SHORT;
  else if (policy->max_lateness_us >= 0
      && result->lateness_us > policy->max_lateness_us)
    result->verdict = KK_ATTENDANCE_LATE;
  else if (policy->require_code && !code_given)
    result->verdict = KK_ATTENDANCE_NO_CODE;
  else if (result->prompts_missed > 0)
    result->verdict = KK_ATTENDANCE_MISSED_PROMPT;
  else
    result->verdict = KK_ATTENDANCE_COMPLETED;
  result->completed = result->verdict == KK_ATTENDANCE_COMPLETED;
}

/* ---- CSV writing ---- */

struct _KkCsvWriter {
  KkCsvDialect dialect;
  GString *text;
  gboolean row_open;
};

gboolean
kk_csv_dialect_from_string (const char *name, KkCsvDialect *dialect)
{
  if (name == NULL || g_str_equal (name, "excel"))
    *dialect = KK_CSV_EXCEL;
  else if (g_str_equal (name, "rfc4180"))
    *dialect = KK_CSV_RFC4180;
  else
    return FALSE;
  return TRUE;
}

KkCsvWriter *
kk_csv_writer_new (KkCsvDialect dialect)
{
  KkCsvWriter *writer = g_new0 (KkCsvWriter, 1);

  writer->dialect = dialect;
  writer->text = g_string_new (NULL);
  /* Without the BOM, Excel reads the file in the ANSI code page and
   * æøå come out as mojibake. */
  if (dialect == KK_CSV_EXCEL)
    g_string_append (writer->text, "\xef\xbb\xbf");
  return writer;
}

void
kk_csv_writer_add (KkCsvWriter *writer, const char *value)
{
  char separator = writer->dialect == KK_CSV_EXCEL ? ';' : ',';
  gboolean neutralise = FALSE;
  gboolean quote;

  if (writer->row_open)
    g_string_append_c (writer->text, separator);
  writer->row_open = TRUE;
  if (value == NULL || *value == '\0')
    return;

  /* OWASP's advice for CSV injection: a leading ' makes Excel and
   * LibreOffice show the cell as text. Only in the Excel dialect: the
   * RFC 4180 one is for programs, which want the value as it is. */
  if (writer->dialect == KK_CSV_EXCEL && strchr ("=+-@\t\r", value[0]) != NULL)
    neutralise = TRUE;
  quote = neutralise || strchr (value, separator) != NULL
      || strpbrk (value, "\"\r\n") != NULL;

  if (quote)
    g_string_append_c (writer->text, '"');
  if (neutralise)
    g_string_append_c (writer->text, '\'');
  for (const char *p = value; *p != '\0'; p++) {
    if (*p == '"')
      g_string_append_c (writer->text, '"');
    g_string_append_c (writer->text, *p);
  }
  if (quote)
    g_string_append_c (writer->text, '"');
}

void
kk_csv_writer_add_int (KkCsvWriter *writer, gint64 value)
{
  char buf[32];

  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, value);
  /* A number is data, not a formula, even when negative. */
  if (writer->row_open)
    g_string_append_c (writer->text,
        writer->dialect == KK_CSV_EXCEL ? ';' : ',');
  writer->row_open = TRUE;
  g_string_append (writer->text, buf);
}

void
kk_csv_writer_end_row (KkCsvWriter *writer)
{
  g_string_append (writer->text, "\r\n");
  writer->row_open = FALSE;
}

void
kk_csv_writer_free (KkCsvWriter *writer)
{
  if (writer == NULL)
    return;
  g_string_free (writer->text, TRUE);
  g_free (writer);
}

GBytes *
kk_csv_writer_finish (KkCsvWriter *writer)
{
  GBytes *bytes = g_string_free_to_bytes (writer->text);

  g_free (writer);
  return bytes;
}

/* ---- CSV reading ---- */

static gboolean
csv_fail (GError **error, guint line, const char *what)
{
  g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_INVALID,
      "CSV line %u: %s", line, what);
  return FALSE;
}

/* The separator the header line uses more of, outside quotes. */
static char
detect_separator (const char *p, const char *end)
{
  guint semicolons = 0, commas = 0;
  gboolean quoted = FALSE;

  for (; p < end && (quoted || (*p != '\n' && *p != '\r')); p++) {
    if (*p == '"')
      quoted = !quoted;
    else if (!quoted && *p == ';')
      semicolons++;
    else if (!quoted && *p == ',')
      commas++;
  }
  return semicolons >= commas && semicolons > 0 ? ';' : commas > 0 ? ',' : ';';
}

static gboolean
row_is_blank (GPtrArray *fields)
{
  return fields->len == 1 && *(const char *) fields->pdata[0] == '\0';
}

GPtrArray *
kk_csv_parse (const char *data, gsize length, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_strfreev);
  g_autoptr (GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) field = g_string_new (NULL);
  const char *p = data, *end = data + length;
  gboolean quoted = FALSE, was_quoted = FALSE;
  guint line = 1;
  char separator;

  if (memchr (data, '\0', length) != NULL
      || !g_utf8_validate_len (data, length, NULL)) {
    csv_fail (error, 0, "not UTF-8 text");
    return NULL;
  }
  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    p += 3;
  separator = detect_separator (p, end);

  while (TRUE) {
    gboolean at_end = p >= end;
    char c = at_end ? '\0' : *p;

    if (quoted) {
      if (at_end) {
        csv_fail (error, line, "a quoted field is not closed");
        return NULL;
      }
      if (c == '"' && p + 1 < end && p[1] == '"') {
        g_string_append_c (field, '"');
        p += 2;
        continue;
      }
      if (c == '"') {
        quoted = FALSE;
        p++;
        continue;
      }
      if (c == '\n')
        line++;
      g_string_append_c (field, c);
      p++;
      continue;
    }

    if (!at_end && c == '"' && field->len == 0 && !was_quoted) {
      quoted = was_quoted = TRUE;
      p++;
      continue;
    }
    if (!at_end && c == '"') {
      csv_fail (error, line, "a quote inside an unquoted field");
      return NULL;
    }
    if (!at_end && c != separator && c != '\n' && c != '\r') {
      if (was_quoted) {
        csv_fail (error, line, "text after a closing quote");
        return NULL;
      }
      g_string_append_c (field, c);
      p++;
      continue;
    }

    /* A field ends here. */
    if (fields->len >= KK_CSV_MAX_FIELDS) {
      csv_fail (error, line, "too many fields");
      return NULL;
    }
    g_ptr_array_add (fields, g_strndup (field->str, field->len));
    g_string_truncate (field, 0);
    was_quoted = FALSE;
    if (!at_end && c == separator) {
      p++;
      continue;
    }

    /* And with it a row. */
    if (!row_is_blank (fields)) {
      if (rows->len >= KK_CSV_MAX_ROWS) {
        csv_fail (error, line, "too many rows");
        return NULL;
      }
      g_ptr_array_add (fields, NULL);
      g_ptr_array_add (rows, g_ptr_array_free (g_steal_pointer (&fields),
              FALSE));
      fields = g_ptr_array_new_with_free_func (g_free);
    } else {
      g_ptr_array_set_size (fields, 0);
    }
    if (at_end)
      break;
    if (c == '\r' && p + 1 < end && p[1] == '\n')
      p++;
    p++;
    line++;
  }
  return g_steal_pointer (&rows);
}
