/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-time: see kk-time.h.
 *
 * The zone is looked up once and kept for the life of the process: the
 * attendance CSV formats a time per cell, and a zone lookup reads and
 * parses a tzfile.
 */

#include "kk-time.h"

char *
kk_time_format_utc (gint64 time_us)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (
      time_us / G_USEC_PER_SEC);

  return time != NULL ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ")
      : NULL;
}

char *
kk_time_format_local (gint64 time_us)
{
  static GTimeZone *oslo;
  g_autoptr (GDateTime) utc = NULL;
  g_autoptr (GDateTime) local = NULL;
  g_autofree char *offset = NULL;
  g_autofree char *text = NULL;

  if (g_once_init_enter (&oslo)) {
    GTimeZone *zone = g_time_zone_new_identifier ("Europe/Oslo");

    if (zone == NULL) {
      g_warning ("no time zone Europe/Oslo in the system's database; "
          "CSV times are in UTC");
      zone = g_time_zone_new_utc ();
    }
    g_once_init_leave (&oslo, zone);
  }
  utc = g_date_time_new_from_unix_utc (time_us / G_USEC_PER_SEC);
  if (utc == NULL)
    return g_strdup ("");
  local = g_date_time_to_timezone (utc, oslo);
  text = g_date_time_format (local, "%Y-%m-%d %H:%M:%S");
  offset = g_date_time_format (local, "%:z");
  return g_strconcat (text, offset, NULL);
}
