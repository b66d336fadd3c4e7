/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for attendance input: the pre-registration CSV reader
 * (kk_csv_parse), the import parsers (kk_roster_parse_json and
 * kk_roster_parse_csv) and the JSON bodies of the attendance routes
 * (kk_attendance_api_parse_settings, kk_attendance_api_parse_override),
 * all given the same bytes. What the reader accepts must be within its
 * bounds and valid UTF-8, and must go through both CSV writers; what the
 * importers accept must hold only valid names and HPR numbers.
 */
#include "kk-attendance-api.h"
#include "kk-roster.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_entries (GPtrArray *entries, GError *error)
{
  if ((entries == NULL) == (error == NULL))
    abort ();
  for (guint i = 0; entries != NULL && i < entries->len; i++) {
    const KkRosterEntry *entry = entries->pdata[i];

    if (!kk_room_validate_text ("name", entry->name, 1, KK_ROOM_NAME_MAX,
            NULL)
        || (entry->hpr != NULL && !kk_roster_validate_hpr (entry->hpr, NULL))
        || !kk_roster_check_no_national_id ("name", entry->name, NULL))
      abort ();
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree KkAttendanceSettings *settings = NULL;
  g_autofree char *reason = NULL, *by = NULL;
  gboolean completed;

  rows = kk_csv_parse ((const char *) data, size, &error);
  if ((rows == NULL) == (error == NULL))
    abort ();
  if (rows != NULL) {
    KkCsvWriter *excel = kk_csv_writer_new (KK_CSV_EXCEL);
    KkCsvWriter *rfc = kk_csv_writer_new (KK_CSV_RFC4180);

    if (rows->len > KK_CSV_MAX_ROWS)
      abort ();
    for (guint i = 0; i < rows->len; i++) {
      char **row = rows->pdata[i];

      if (g_strv_length (row) > KK_CSV_MAX_FIELDS)
        abort ();
      for (guint j = 0; row[j] != NULL; j++) {
        if (!g_utf8_validate (row[j], -1, NULL))
          abort ();
        kk_csv_writer_add (excel, row[j]);
        kk_csv_writer_add (rfc, row[j]);
      }
      kk_csv_writer_end_row (excel);
      kk_csv_writer_end_row (rfc);
    }
    g_bytes_unref (kk_csv_writer_finish (excel));
    g_bytes_unref (kk_csv_writer_finish (rfc));
  }
  g_clear_error (&error);

  {
    g_autoptr (GPtrArray) json = kk_roster_parse_json ((const char *) data,
        size, &error);

    check_entries (json, error);
    g_clear_error (&error);
  }
  {
    g_autoptr (GPtrArray) csv = kk_roster_parse_csv ((const char *) data,
        size, &error);

    check_entries (csv, error);
    g_clear_error (&error);
  }

  settings = kk_attendance_api_parse_settings ((const char *) data, size,
      &error);
  if ((settings == NULL) == (error == NULL))
    abort ();
  if (settings != NULL && (settings->policy.completion_ratio > 1
          || settings->policy.grace_us < 0))
    abort ();
  g_clear_error (&error);

  if (kk_attendance_api_parse_override ((const char *) data, size, &completed,
          &reason, &by, &error) == (error != NULL))
    abort ();
  return 0;
}
