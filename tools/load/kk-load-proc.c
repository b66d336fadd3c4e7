/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-proc: what the server under test costs, read from /proc.
 *
 * CPU time is utime + stime from /proc/PID/stat (all threads, in clock
 * ticks), memory is VmRSS from /proc/PID/status, and the thread count is
 * stat's num_threads. The command name in stat is in parentheses and may
 * itself hold spaces and parentheses, so fields are counted from the last
 * ')'.
 */
#include "kk-load.h"

#include <string.h>

static gboolean
parse_u64 (const char *text, guint64 *out)
{
  char *end;

  if (text == NULL || !g_ascii_isdigit (*text))
    return FALSE;
  *out = g_ascii_strtoull (text, &end, 10);
  return end != text && (*end == '\0' || *end == ' ' || *end == '\n');
}

gboolean
kk_load_proc_parse_stat (const char *text, guint64 *cpu_ticks,
    guint *threads, GError **error)
{
  const char *close = strrchr (text, ')');
  g_auto (GStrv) fields = NULL;
  guint64 utime, stime, nthreads;

  /* After ")": field 3 (state) is fields[0], so field N is fields[N-3]:
   * utime 14, stime 15, num_threads 20. */
  if (close == NULL || close[1] != ' ')
    goto malformed;
  fields = g_strsplit (close + 2, " ", 20);
  if (g_strv_length (fields) < 19
      || !parse_u64 (fields[11], &utime) || !parse_u64 (fields[12], &stime)
      || !parse_u64 (fields[17], &nthreads))
    goto malformed;
  *cpu_ticks = utime + stime;
  *threads = nthreads;
  return TRUE;

malformed:
  g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_PROC,
      "malformed /proc/PID/stat");
  return FALSE;
}

gboolean
kk_load_proc_parse_status (const char *text, guint64 *rss_kib,
    GError **error)
{
  const char *line = text;

  while (line != NULL && *line != '\0') {
    if (g_str_has_prefix (line, "VmRSS:")) {
      const char *p = line + strlen ("VmRSS:");

      while (*p == ' ' || *p == '\t')
        p++;
      if (parse_u64 (p, rss_kib))
        return TRUE;
      break;
    }
    line = strchr (line, '\n');
    if (line != NULL)
      line++;
  }
  g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_PROC,
      "no VmRSS in /proc/PID/status");
  return FALSE;
}

gboolean
kk_load_proc_sample (pid_t pid, KkLoadProcSample *out, GError **error)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status",
      (int) pid);
  g_autofree char *stat = NULL;
  g_autofree char *status = NULL;

  if (!g_file_get_contents (stat_path, &stat, NULL, error)
      || !g_file_get_contents (status_path, &status, NULL, error))
    return FALSE;
  return kk_load_proc_parse_stat (stat, &out->cpu_ticks, &out->threads, error)
      && kk_load_proc_parse_status (status, &out->rss_kib, error);
}
