/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-time: moments as text. The JSON API writes every moment in UTC
 * (kk_time_format_utc()). The attendance CSV and the names of downloaded
 * recordings, which people read, show a moment as it was on the wall
 * clock in Oslo, whatever the zone of the machine the relay runs on; both
 * use one formatter, so a session's date reads the same in either.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "2025-03-04 13:05:00+01:00": @time_us (microseconds since the Unix
 * epoch) in Europe/Oslo (UTC if the time zone database lacks it), to the
 * second; "" if it is out of GDateTime's range. Returns: (transfer full). */
char *kk_time_format_local (gint64 time_us);

/* "2025-03-04T12:05:00Z": @time_us in UTC, to the second. Returns:
 * (transfer full) (nullable): NULL if out of GDateTime's range. */
char *kk_time_format_utc (gint64 time_us);

G_END_DECLS
