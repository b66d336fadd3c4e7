/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-metrics: the /metrics page in Prometheus text format (0.0.4).
 *
 * Modules do not push values into a registry on the packet path: each one
 * registers a collector that, at scrape time, appends its current figures
 * (summing per-thread counters itself). So the hot path only bumps plain
 * counters in memory it owns.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KkMetrics KkMetrics;

typedef enum {
  KK_METRIC_COUNTER,
  KK_METRIC_GAUGE,
} KkMetricType;

/* Called on the main thread at every scrape. */
typedef void (*KkMetricsCollectFunc) (KkMetrics *metrics, gpointer user_data);

KkMetrics *kk_metrics_new (void);
void kk_metrics_free (KkMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkMetrics, kk_metrics_free)

void kk_metrics_add_collector (KkMetrics *metrics, KkMetricsCollectFunc func,
    gpointer user_data);
void kk_metrics_remove_collector (KkMetrics *metrics, KkMetricsCollectFunc func,
    gpointer user_data);

/* For collectors: appends one sample. HELP and TYPE lines are written once
 * per metric name per scrape, however many samples (label sets) follow.
 * @labels is NULL or a preformatted label list without braces, e.g.
 * `reason="no-viewer-codec"`; label values must already be escaped. */
void kk_metrics_sample (KkMetrics *metrics, const char *name, KkMetricType type,
    const char *help, const char *labels, double value);

/* Escapes @value for use inside a label's double quotes (backslash, double
 * quote, newline). Returns: (transfer full): the escaped text. */
char *kk_metrics_escape_label_value (const char *value);

/* Runs every collector, in registration order. Each metric name gets one
 * HELP and one TYPE line, followed by all its samples, and names appear in
 * the order they were first sampled. Returns: (transfer full): the page. */
char *kk_metrics_render (KkMetrics *metrics);

G_END_DECLS
