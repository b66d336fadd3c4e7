/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-report: turns the viewers' outcomes and the /proc samples into
 * the run's figures, as JSON (for scripts such as tests/bench) and as a
 * short text for people, plus the progress line shown while it runs.
 *
 * Percentiles are nearest-rank over the viewers that reached the event;
 * loss is by sequence numbers over all streams of all connected viewers.
 * CPU and memory per viewer divide by the viewers connected at the end.
 */
#include "kk-load.h"

#include <math.h>
#include <stdlib.h>

void
kk_load_viewer_result_clear (KkLoadViewerResult *result)
{
  g_clear_pointer (&result->error, g_free);
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

double
kk_load_percentile (double *values, guint n, double p)
{
  guint rank;

  if (n == 0)
    return 0;
  qsort (values, n, sizeof (double), compare_doubles);
  rank = (guint) ceil (p / 100.0 * n);
  rank = CLAMP (rank, 1, n);
  return values[rank - 1];
}

static void
distribution (KkLoadDistribution *out, GArray *values)
{
  double *v = (double *) values->data;

  out->n = values->len;
  out->median = kk_load_percentile (v, values->len, 50);
  out->p95 = kk_load_percentile (v, values->len, 95);
  out->max = values->len ? v[values->len - 1] : 0;
}

void
kk_load_report_aggregate (KkLoadReport *report,
    const KkLoadViewerResult *results, guint n)
{
  g_autoptr (GArray) connect = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) packet = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) keyframe = g_array_new (FALSE, FALSE, sizeof (double));

  if (report->errors == NULL)
    report->errors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        NULL);
  report->worst_viewer_loss_percent = 0;
  for (guint i = 0; i < n; i++) {
    const KkLoadViewerResult *r = &results[i];

    if (r->dtls_retransmits > 0)
      report->dtls_retransmitted++;
    if (!r->connected) {
      const char *why = r->error != NULL ? r->error : "not connected";
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (report->errors,
              why));

      report->failed++;
      g_hash_table_replace (report->errors, g_strdup (why),
          GUINT_TO_POINTER (count + 1));
      continue;
    }
    report->connected++;
    g_array_append_val (connect, r->connect_ms);
    if (r->first_packet_ms >= 0)
      g_array_append_val (packet, r->first_packet_ms);
    if (r->first_keyframe_ms >= 0)
      g_array_append_val (keyframe, r->first_keyframe_ms);
    else
      report->no_keyframe++;
    report->packets += r->packets;
    report->bytes += r->bytes;
    report->expected += r->expected;
    report->lost += r->lost;
    report->gaps += r->gaps;
    report->nacked += r->nacked;
    report->nacks_sent += r->nacks_sent;
    report->recovered_nacked += r->recovered_nacked;
    report->verified += r->verified;
    report->verify_failed += r->verify_failed;
    if (r->expected > 0)
      report->worst_viewer_loss_percent = MAX (report->worst_viewer_loss_percent,
          100.0 * r->lost / r->expected);
  }
  report->loss_percent = report->expected
      ? 100.0 * report->lost / report->expected : 0;
  distribution (&report->connect_ms, connect);
  distribution (&report->first_packet_ms, packet);
  distribution (&report->first_keyframe_ms, keyframe);
}

void
kk_load_report_set_server (KkLoadReport *report,
    const KkLoadProcSample *before, const KkLoadProcSample *idle_end,
    double idle_s, const KkLoadProcSample *hold_start,
    const KkLoadProcSample *hold_end, double hold_s, long ticks_per_s)
{
  guint64 ticks = hold_end->cpu_ticks >= hold_start->cpu_ticks
      ? hold_end->cpu_ticks - hold_start->cpu_ticks : 0;
  guint64 idle_ticks = idle_end->cpu_ticks >= before->cpu_ticks
      ? idle_end->cpu_ticks - before->cpu_ticks : 0;

  report->has_server = TRUE;
  report->server_cpu_ms_per_s = hold_s > 0 && ticks_per_s > 0
      ? 1000.0 * ticks / ticks_per_s / hold_s : 0;
  report->server_cpu_ms_per_s_per_viewer = report->connected
      ? report->server_cpu_ms_per_s / report->connected : 0;
  report->server_idle_cpu_ms_per_s = idle_s > 0 && ticks_per_s > 0
      ? 1000.0 * idle_ticks / ticks_per_s / idle_s : 0;
  report->server_marginal_cpu_ms_per_s_per_viewer = report->connected
      ? (report->server_cpu_ms_per_s - report->server_idle_cpu_ms_per_s)
      / report->connected : 0;
  report->server_rss_before_kib = before->rss_kib;
  report->server_rss_kib = hold_end->rss_kib;
  report->server_kib_per_viewer = report->connected
      ? ((double) hold_end->rss_kib - before->rss_kib) / report->connected : 0;
  report->server_threads_before = before->threads;
  report->server_threads = hold_end->threads;
}

void
kk_load_report_clear (KkLoadReport *report)
{
  g_clear_pointer (&report->target, g_free);
  g_clear_pointer (&report->mode, g_free);
  g_clear_pointer (&report->errors, g_hash_table_unref);
}

static void
add_distribution (JsonBuilder *b, const char *name,
    const KkLoadDistribution *d)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "n");
  json_builder_add_int_value (b, d->n);
  json_builder_set_member_name (b, "median");
  json_builder_add_double_value (b, d->median);
  json_builder_set_member_name (b, "p95");
  json_builder_add_double_value (b, d->p95);
  json_builder_set_member_name (b, "max");
  json_builder_add_double_value (b, d->max);
  json_builder_end_object (b);
}

#define ADD_INT(b, name, v) \
  G_STMT_START { json_builder_set_member_name (b, name); \
    json_builder_add_int_value (b, (gint64) (v)); } G_STMT_END
#define ADD_DOUBLE(b, name, v) \
  G_STMT_START { json_builder_set_member_name (b, name); \
    json_builder_add_double_value (b, (v)); } G_STMT_END

JsonNode *
kk_load_report_to_json (const KkLoadReport *r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "target");
  json_builder_add_string_value (b, r->target);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, r->mode);
  ADD_INT (b, "viewers", r->viewers);
  ADD_DOUBLE (b, "ramp_per_s", r->ramp);
  ADD_DOUBLE (b, "hold_s", r->hold_s);
  ADD_INT (b, "verify_every", r->verify_every);
  ADD_INT (b, "connected", r->connected);
  ADD_INT (b, "failed", r->failed);
  json_builder_set_member_name (b, "errors");
  json_builder_begin_object (b);
  if (r->errors != NULL) {
    g_hash_table_iter_init (&iter, r->errors);
    while (g_hash_table_iter_next (&iter, &key, &value))
      ADD_INT (b, key, GPOINTER_TO_UINT (value));
  }
  json_builder_end_object (b);
  add_distribution (b, "connect_ms", &r->connect_ms);
  add_distribution (b, "first_packet_ms", &r->first_packet_ms);
  add_distribution (b, "first_keyframe_ms", &r->first_keyframe_ms);
  ADD_INT (b, "no_keyframe", r->no_keyframe);
  ADD_INT (b, "packets", r->packets);
  ADD_INT (b, "bytes", r->bytes);
  ADD_INT (b, "expected", r->expected);
  ADD_INT (b, "lost", r->lost);
  ADD_DOUBLE (b, "loss_percent", r->loss_percent);
  ADD_DOUBLE (b, "worst_viewer_loss_percent", r->worst_viewer_loss_percent);
  ADD_INT (b, "gaps", r->gaps);
  ADD_INT (b, "nacked", r->nacked);
  ADD_INT (b, "nacks_sent", r->nacks_sent);
  ADD_INT (b, "recovered_nacked", r->recovered_nacked);
  ADD_INT (b, "verified", r->verified);
  ADD_INT (b, "verify_failed", r->verify_failed);
  ADD_INT (b, "dtls_retransmitted", r->dtls_retransmitted);
  json_builder_set_member_name (b, "server");
  if (r->has_server) {
    json_builder_begin_object (b);
    ADD_DOUBLE (b, "cpu_ms_per_s", r->server_cpu_ms_per_s);
    ADD_DOUBLE (b, "cpu_ms_per_s_per_viewer",
        r->server_cpu_ms_per_s_per_viewer);
    ADD_DOUBLE (b, "idle_cpu_ms_per_s", r->server_idle_cpu_ms_per_s);
    ADD_DOUBLE (b, "marginal_cpu_ms_per_s_per_viewer",
        r->server_marginal_cpu_ms_per_s_per_viewer);
    ADD_INT (b, "rss_before_kib", r->server_rss_before_kib);
    ADD_INT (b, "rss_kib", r->server_rss_kib);
    ADD_DOUBLE (b, "kib_per_viewer", r->server_kib_per_viewer);
    ADD_INT (b, "threads_before", r->server_threads_before);
    ADD_INT (b, "threads", r->server_threads);
    json_builder_end_object (b);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "load_tool");
  json_builder_begin_object (b);
  ADD_DOUBLE (b, "cpu_ms_per_s", r->self_cpu_ms_per_s);
  ADD_DOUBLE (b, "cpu_ms_per_s_per_viewer", r->self_cpu_ms_per_s_per_viewer);
  ADD_DOUBLE (b, "join_cpu_ms_per_viewer", r->self_join_cpu_ms_per_viewer);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
kk_load_report_to_text (const KkLoadReport *r)
{
  GString *s = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key, value;

  g_string_append_printf (s, "kringkast-load: %s %s, %u viewers at %.1f/s, "
      "held %.1f s\n", r->mode, r->target, r->viewers, r->ramp, r->hold_s);
  g_string_append_printf (s, "  connected %u, failed %u\n", r->connected,
      r->failed);
  if (r->errors != NULL) {
    g_hash_table_iter_init (&iter, r->errors);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_string_append_printf (s, "    %u x %s\n", GPOINTER_TO_UINT (value),
          (const char *) key);
  }
  g_string_append_printf (s, "  connect         median %6.0f ms  p95 %6.0f ms"
      "  max %6.0f ms  (%u retransmitted DTLS)\n", r->connect_ms.median,
      r->connect_ms.p95, r->connect_ms.max, r->dtls_retransmitted);
  g_string_append_printf (s, "  first packet    median %6.0f ms  p95 %6.0f ms"
      "  max %6.0f ms\n", r->first_packet_ms.median, r->first_packet_ms.p95,
      r->first_packet_ms.max);
  g_string_append_printf (s, "  first keyframe  median %6.0f ms  p95 %6.0f ms"
      "  max %6.0f ms  (%u without one)\n", r->first_keyframe_ms.median,
      r->first_keyframe_ms.p95, r->first_keyframe_ms.max, r->no_keyframe);
  g_string_append_printf (s, "  received %" G_GUINT64_FORMAT " packets, %.1f MB;"
      " lost %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " (%.3f %%, worst "
      "viewer %.3f %%)\n", r->packets, r->bytes / 1e6, r->lost, r->expected,
      r->loss_percent, r->worst_viewer_loss_percent);
  g_string_append_printf (s, "  gaps %" G_GUINT64_FORMAT ", NACKed %"
      G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT " NACKs, recovered %"
      G_GUINT64_FORMAT "\n", r->gaps, r->nacked, r->nacks_sent,
      r->recovered_nacked);
  g_string_append_printf (s, "  verified %" G_GUINT64_FORMAT " packets (%s), "
      "%" G_GUINT64_FORMAT " failed\n", r->verified,
      r->verify_every <= 1 ? "every packet" : "a sample", r->verify_failed);
  if (r->has_server)
    g_string_append_printf (s, "  server: %.1f ms CPU/s (%.1f idle; %.3f per "
        "viewer over idle), RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
        " KiB (%.1f KiB per viewer), threads %u -> %u\n",
        r->server_cpu_ms_per_s, r->server_idle_cpu_ms_per_s,
        r->server_marginal_cpu_ms_per_s_per_viewer, r->server_rss_before_kib,
        r->server_rss_kib, r->server_kib_per_viewer, r->server_threads_before,
        r->server_threads);
  g_string_append_printf (s, "  load tool: %.1f ms CPU/s (%.3f per viewer); "
      "joining cost %.2f ms CPU per viewer\n", r->self_cpu_ms_per_s,
      r->self_cpu_ms_per_s_per_viewer, r->self_join_cpu_ms_per_viewer);
  return g_string_free (s, FALSE);
}

char *
kk_load_progress_line (double elapsed_s, guint started, guint total,
    guint connected, guint failed, guint64 packets, guint64 lost,
    double mbit_per_s)
{
  double loss = packets + lost ? 100.0 * lost / (packets + lost) : 0;

  return g_strdup_printf ("[%5.1f s] joined %u/%u  connected %u  failed %u  "
      "%" G_GUINT64_FORMAT " pkts  %.1f Mbit/s  loss %.2f %%", elapsed_s,
      started, total, connected, failed, packets, mbit_per_s, loss);
}
