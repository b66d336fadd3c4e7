/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-metrics: renders the Prometheus text exposition format (0.0.4) by
 * asking every registered collector for its figures at scrape time.
 *
 * The format wants all samples of one metric name together, under a single
 * HELP and TYPE line. Collectors need not care: during a render each sample
 * is filed under its name's family, families keep the order in which their
 * names first appeared (which, since collectors run in registration order,
 * is registration order), and the page is written family by family at the
 * end. All of this happens on the main thread, once per scrape; nothing
 * here is on the packet path.
 */

#include "kk-metrics.h"

#include <math.h>
#include <string.h>

typedef struct {
  KkMetricsCollectFunc func;
  gpointer user_data;
} KkMetricsCollector;

typedef struct {
  char *name;
  KkMetricType type;
  char *help;
  GString *samples;
} KkMetricsFamily;

struct _KkMetrics {
  GArray *collectors;           /* element-type KkMetricsCollector */
  /* Only during kk_metrics_render(): */
  GPtrArray *families;          /* element-type KkMetricsFamily, first-seen order */
  GHashTable *family_by_name;   /* name → KkMetricsFamily (owned by @families) */
};

static void
family_free (KkMetricsFamily *family)
{
  g_free (family->name);
  g_free (family->help);
  g_string_free (family->samples, TRUE);
  g_free (family);
}

KkMetrics *
kk_metrics_new (void)
{
  KkMetrics *metrics = g_new0 (KkMetrics, 1);

  metrics->collectors = g_array_new (FALSE, FALSE, sizeof (KkMetricsCollector));
  return metrics;
}

void
kk_metrics_free (KkMetrics *metrics)
{
  if (metrics == NULL)
    return;
  g_array_unref (metrics->collectors);
  g_free (metrics);
}

void
kk_metrics_add_collector (KkMetrics *metrics, KkMetricsCollectFunc func,
    gpointer user_data)
{
  KkMetricsCollector collector = { func, user_data };

  g_return_if_fail (metrics != NULL);
  g_return_if_fail (func != NULL);

  g_array_append_val (metrics->collectors, collector);
}

void
kk_metrics_remove_collector (KkMetrics *metrics, KkMetricsCollectFunc func,
    gpointer user_data)
{
  g_return_if_fail (metrics != NULL);

  for (guint i = 0; i < metrics->collectors->len; i++) {
    KkMetricsCollector *c = &g_array_index (metrics->collectors,
        KkMetricsCollector, i);

    if (c->func == func && c->user_data == user_data) {
      g_array_remove_index (metrics->collectors, i);
      return;
    }
  }
}

static gboolean
metric_name_is_valid (const char *name)
{
  if (name == NULL || !(g_ascii_isalpha (name[0]) || name[0] == '_'
          || name[0] == ':'))
    return FALSE;
  for (const char *p = name + 1; *p != '\0'; p++) {
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == ':'))
      return FALSE;
  }
  return TRUE;
}

/* HELP text escapes only backslash and newline (exposition format 0.0.4);
 * label values additionally escape the double quote. */
static void
append_escaped (GString *out, const char *text, gboolean quote)
{
  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '\\')
      g_string_append (out, "\\\\");
    else if (*p == '\n')
      g_string_append (out, "\\n");
    else if (quote && *p == '"')
      g_string_append (out, "\\\"");
    else
      g_string_append_c (out, *p);
  }
}

char *
kk_metrics_escape_label_value (const char *value)
{
  GString *out;

  g_return_val_if_fail (value != NULL, NULL);

  out = g_string_new (NULL);
  append_escaped (out, value, TRUE);
  return g_string_free (out, FALSE);
}

static void
append_value (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    g_string_append (out, "NaN");
  else if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, value));
}

void
kk_metrics_sample (KkMetrics *metrics, const char *name, KkMetricType type,
    const char *help, const char *labels, double value)
{
  KkMetricsFamily *family;

  g_return_if_fail (metrics != NULL);
  g_return_if_fail (metrics->families != NULL);  /* only inside a collector */
  g_return_if_fail (metric_name_is_valid (name));
  g_return_if_fail (help != NULL);

  family = g_hash_table_lookup (metrics->family_by_name, name);
  if (family == NULL) {
    family = g_new0 (KkMetricsFamily, 1);
    family->name = g_strdup (name);
    family->type = type;
    family->help = g_strdup (help);
    family->samples = g_string_new (NULL);
    g_ptr_array_add (metrics->families, family);
    g_hash_table_insert (metrics->family_by_name, family->name, family);
  } else if (family->type != type) {
    g_critical ("metric %s sampled as both counter and gauge", name);
    return;
  }

  g_string_append (family->samples, name);
  if (labels != NULL && labels[0] != '\0')
    g_string_append_printf (family->samples, "{%s}", labels);
  g_string_append_c (family->samples, ' ');
  append_value (family->samples, value);
  g_string_append_c (family->samples, '\n');
}

char *
kk_metrics_render (KkMetrics *metrics)
{
  g_autoptr (GArray) collectors = NULL;
  GString *page;

  g_return_val_if_fail (metrics != NULL, NULL);
  g_return_val_if_fail (metrics->families == NULL, NULL);  /* not reentrant */

  metrics->families = g_ptr_array_new_with_free_func ((GDestroyNotify) family_free);
  metrics->family_by_name = g_hash_table_new (g_str_hash, g_str_equal);

  /* A collector may remove itself (or another) while running; iterate over
   * a snapshot so that cannot shift the array under us. */
  collectors = g_array_copy (metrics->collectors);
  for (guint i = 0; i < collectors->len; i++) {
    KkMetricsCollector *c = &g_array_index (collectors, KkMetricsCollector, i);

    c->func (metrics, c->user_data);
  }

  page = g_string_new (NULL);
  for (guint i = 0; i < metrics->families->len; i++) {
    KkMetricsFamily *family = g_ptr_array_index (metrics->families, i);

    g_string_append_printf (page, "# HELP %s ", family->name);
    append_escaped (page, family->help, FALSE);
    g_string_append_printf (page, "\n# TYPE %s %s\n", family->name,
        family->type == KK_METRIC_COUNTER ? "counter" : "gauge");
    g_string_append_len (page, family->samples->str, family->samples->len);
  }

  g_clear_pointer (&metrics->family_by_name, g_hash_table_unref);
  g_clear_pointer (&metrics->families, g_ptr_array_unref);
  return g_string_free (page, FALSE);
}
