/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-layer-rules: the switching rules, fed window by window
 * with what a viewer's link reports.
 *
 * Most sequences come from a model of the link the tests shape
 * with tc tbf: a rate limit with a short queue, which passes what fits
 * and drops the rest. Per half-second window the viewer is sent its
 * layer (full 1500 kbit/s, light 400, sound 40, in 1200-byte packets,
 * audio in 100-byte ones) plus any probe; what exceeds the link's rate is
 * lost, the viewer NACKs each lost video packet, sends a receiver report
 * every second with the loss fraction of that second (retransmissions
 * into a link that full are lost alike, so repair changes little), and
 * its round trip
 * grows by the queue (up to 300 ms) while the link is full. The rest are
 * short hand-written sequences: a single burst, a trial that goes wrong,
 * an ICE-TCP viewer whose backlog overflows, a choice of quality.
 */
#include "kk-layer-rules.h"

#include <string.h>

#define WINDOW KK_LAYER_RULES_WINDOW_US
#define S G_USEC_PER_SEC

static const guint layer_kbps[] = { 1500, 400, 40 };

typedef struct {
  KkLayerRules rules;
  gint64 now;
  guint capacity_kbps;          /* G_MAXUINT: unshaped */
  guint base_rtt_ms;
  guint window_index;
  guint lost_this_second;
  guint sent_this_second;
  guint switches;
  guint probes;                 /* probes started */
  KkLayer last_layer;
  gint64 last_switch_us;
} Link;

static void
link_init (Link *link, KkLayer ceiling)
{
  memset (link, 0, sizeof (*link));
  link->now = 1000 * S;
  link->capacity_kbps = G_MAXUINT;
  link->base_rtt_ms = 30;
  kk_layer_rules_init (&link->rules, ceiling, ceiling, link->now);
  link->last_layer = link->rules.layer;
}

/* One window through the model link. */
static KkLayer
link_window (Link *link)
{
  KkLayer layer = link->rules.layer;
  gboolean probing = kk_layer_rules_probing (&link->rules);
  guint kbps = layer_kbps[layer] + (layer != KK_LAYER_AUDIO_ONLY ? layer_kbps[2] : 0);
  guint offered = kbps;
  guint video_packets = layer == KK_LAYER_AUDIO_ONLY ? 0
      : layer_kbps[layer] * 1000 / 8 / 2 / 1200;
  guint packets = video_packets + 25;
  KkLinkSample sample = { 0 };
  double loss = 0;
  KkLayer result;

  /* The probe's bytes, at the rate the rules ask for at this window's
   * start, on top of the media. */
  if (probing) {
    KkLayer target = kk_layer_rules_probe_target (&link->rules);
    guint step_kbps = layer_kbps[target]
        - (layer != KK_LAYER_AUDIO_ONLY ? layer_kbps[layer] : 0);

    offered = kbps + kk_layer_rules_probe_rate (&link->rules,
        step_kbps * 1000 / 8, FALSE, link->now) * 8 / 1000;
  }
  if (offered > link->capacity_kbps)
    loss = 1.0 - (double) link->capacity_kbps / offered;
  link->now += WINDOW;
  sample.now_us = link->now;
  sample.packets_sent = packets;
  /* Probe bytes are lost alike, but only media is NACKed. */
  sample.nacked = (guint) (video_packets * loss + 0.5);
  link->sent_this_second += packets;
  link->lost_this_second += (guint) (packets * loss + 0.5);
  sample.rtt_ms = link->base_rtt_ms + (loss > 0 ? 300 : 0);
  if (link->window_index++ % 2 == 1) {
    sample.report = TRUE;
    sample.fraction_lost = MIN (255, link->lost_this_second * 256 / link->sent_this_second);
    sample.jitter_ms = loss > 0 ? 60 : 5;
    link->lost_this_second = link->sent_this_second = 0;
  } else {
    sample.rtt_ms = -1;       /* round trips come with the reports */
  }
  result = kk_layer_rules_sample (&link->rules, &sample);
  if (!probing && kk_layer_rules_probing (&link->rules))
    link->probes++;
  if (result != link->last_layer) {
    link->switches++;
    link->last_layer = result;
    link->last_switch_us = link->now;
  }
  return result;
}

static void
run_for (Link *link, gint64 duration_us)
{
  for (gint64 t = 0; t < duration_us; t += WINDOW)
    link_window (link);
}

/* Returns how long it took to reach @layer, or -1 if it did not within
 * @limit_us; runs on to @limit_us either way. */
static gint64
time_to_layer (Link *link, KkLayer layer, gint64 limit_us)
{
  gint64 start = link->now, reached = -1;

  while (link->now - start < limit_us) {
    if (link_window (link) == layer && reached < 0)
      reached = link->now - start;
  }
  return reached;
}

/* The scenario: 20 s clean, 60 s at 500 kbit/s, 60 s clean. */
static void
test_shaped_500k (void)
{
  Link link;
  gint64 t_down, t_up;
  guint switches_before;

  link_init (&link, KK_LAYER_FULL);
  run_for (&link, 20 * S);
  g_assert_cmpuint (link.switches, ==, 0);
  g_assert_cmpuint (link.probes, ==, 0);

  link.capacity_kbps = 500;
  switches_before = link.switches;
  t_down = time_to_layer (&link, KK_LAYER_LIGHT, 60 * S);
  g_test_message ("down to light after %.1f s", t_down / 1e6);
  g_assert_cmpint (t_down, >=, 0);
  g_assert_cmpint (t_down, <=, 2 * S);
  /* Settled on light: probes are tried and fail, the picture never moves
   * again while shaped. */
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_LIGHT);
  g_assert_cmpuint (link.switches - switches_before, ==, 1);
  g_assert_cmpuint (link.probes, >=, 2);
  g_assert_cmpuint (link.rules.up_wait_us, ==, KK_LAYER_RULES_UP_WAIT_MAX_US);

  link.capacity_kbps = G_MAXUINT;
  t_up = time_to_layer (&link, KK_LAYER_FULL, 60 * S);
  g_test_message ("back on full after %.1f s", t_up / 1e6);
  g_assert_cmpint (t_up, >=, 0);
  g_assert_cmpint (t_up, <=, 15 * S);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_FULL);
  g_assert_cmpuint (link.switches - switches_before, ==, 2);
}

/* 100 kbit/s: down to light, then to sound only once the first switch
 * had time to work, and there it stays. */
static void
test_shaped_100k (void)
{
  Link link;
  gint64 t_audio;

  link_init (&link, KK_LAYER_FULL);
  run_for (&link, 5 * S);
  link.capacity_kbps = 100;
  t_audio = time_to_layer (&link, KK_LAYER_AUDIO_ONLY, 60 * S);
  g_test_message ("sound only after %.1f s", t_audio / 1e6);
  g_assert_cmpint (t_audio, >=, 0);
  g_assert_cmpint (t_audio, <=, 6 * S);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_AUDIO_ONLY);
  g_assert_cmpuint (link.switches, ==, 2);
}

/* A probe sends a part of the step up only, growing over its time, and
 * nothing once it has ended: a probe that fills a narrow link must not
 * cost the weak viewer its picture (a freeze, on aiortc) or its sound. */
static void
test_probe_rate (void)
{
  KkLayerRules rules;
  gint64 start = 100 * S;
  gint64 step = 1000000 / 8;          /* 1 Mbit/s in bytes per second */

  kk_layer_rules_init (&rules, KK_LAYER_LIGHT, KK_LAYER_FULL, start);
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, step, FALSE, start), ==, 0);
  rules.state = KK_LAYER_RULES_PROBING;
  rules.state_since_us = start;
  /* Towards full: a tenth of half the step at first, half at the end. */
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, step, FALSE, start), ==,
      step / 2 / 10);
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, step, FALSE,
          start + KK_LAYER_RULES_PROBE_US), ==, step / 2);
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, step, FALSE,
          start + KK_LAYER_RULES_PROBE_US / 2), <, step / 2);
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, 0, FALSE,
          start + KK_LAYER_RULES_PROBE_US), ==, 0);
  /* From sound only towards light: less than a third of the step. */
  rules.layer = KK_LAYER_AUDIO_ONLY;
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, step, FALSE,
          start + KK_LAYER_RULES_PROBE_US), <, step / 3);
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, step, FALSE,
          start + KK_LAYER_RULES_PROBE_US), >, 0);
  /* Over ICE-TCP, the whole step. */
  g_assert_cmpint (kk_layer_rules_probe_rate (&rules, step, TRUE,
          start + KK_LAYER_RULES_PROBE_US), ==, step);
}

/* One bad window (a burst of loss) moves nobody; two of three do. */
static void
test_burst_is_not_enough (void)
{
  KkLayerRules rules;
  gint64 now = 100 * S;
  KkLinkSample clean = { .packets_sent = 100, .rtt_ms = 30 };
  KkLinkSample burst = { .packets_sent = 100, .nacked = 30, .report = TRUE,
    .fraction_lost = 20, .rtt_ms = 30 };

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  for (guint round = 0; round < 20; round++) {
    for (guint i = 0; i < 3; i++) {
      KkLinkSample *s = i == 0 ? &burst : &clean;

      s->now_us = now += WINDOW;
      g_assert_cmpint (kk_layer_rules_sample (&rules, s), ==, KK_LAYER_FULL);
    }
  }
  burst.now_us = now += WINDOW;
  kk_layer_rules_sample (&rules, &burst);
  clean.now_us = now += WINDOW;
  kk_layer_rules_sample (&rules, &clean);
  burst.now_us = now += WINDOW;
  g_assert_cmpint (kk_layer_rules_sample (&rules, &burst), ==, KK_LAYER_LIGHT);
}

/* A probe that the link took, then a move up that did not hold: back
 * down at the first bad window, and the next probe only after a longer
 * clean period. */
static void
test_trial_falls_back (void)
{
  KkLayerRules rules;
  gint64 now = 100 * S, probe_at = 0, second_probe_at = 0;
  KkLinkSample clean = { .packets_sent = 50, .rtt_ms = 30 };
  KkLinkSample bad = { .packets_sent = 100, .nacked = 30, .rtt_ms = 400 };

  kk_layer_rules_init (&rules, KK_LAYER_LIGHT, KK_LAYER_FULL, now);
  while (!kk_layer_rules_probing (&rules)) {
    clean.now_us = now += WINDOW;
    kk_layer_rules_sample (&rules, &clean);
  }
  probe_at = now;
  /* Clean from the first window on. */
  g_assert_cmpint (probe_at - 100 * S, ==, WINDOW + KK_LAYER_RULES_UP_WAIT_US);
  while (rules.layer == KK_LAYER_LIGHT) {
    clean.now_us = now += WINDOW;
    kk_layer_rules_sample (&rules, &clean);
  }
  g_assert_cmpint (now - probe_at, ==, KK_LAYER_RULES_PROBE_US);
  g_assert_cmpint (rules.state, ==, KK_LAYER_RULES_TRIAL);
  clean.now_us = now += WINDOW;
  g_assert_cmpint (kk_layer_rules_sample (&rules, &clean), ==, KK_LAYER_FULL);
  bad.now_us = now += WINDOW;
  g_assert_cmpint (kk_layer_rules_sample (&rules, &bad), ==, KK_LAYER_LIGHT);
  g_assert_cmpuint (rules.failed_ups, ==, 1);
  while (!kk_layer_rules_probing (&rules)) {
    clean.now_us = now += WINDOW;
    kk_layer_rules_sample (&rules, &clean);
  }
  second_probe_at = now;
  g_assert_cmpint (second_probe_at - probe_at, >=,
      KK_LAYER_RULES_PROBE_US + 2 * KK_LAYER_RULES_UP_WAIT_US);
}

/* An ICE-TCP viewer: TCP hides loss (nothing is NACKed, reports say 0),
 * but the worker's drops at its full backlog tell. */
static void
test_tcp_backlog (void)
{
  KkLayerRules rules;
  gint64 now = 100 * S;
  KkLinkSample s = { .packets_sent = 80, .tcp_dropped = 20, .report = TRUE,
    .rtt_ms = 30 };

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_BAD);
  s.now_us = now += WINDOW;
  kk_layer_rules_sample (&rules, &s);
  s.now_us = now += WINDOW;
  g_assert_cmpint (kk_layer_rules_sample (&rules, &s), ==, KK_LAYER_LIGHT);
}

/* Probes over ICE-TCP are sent only into an empty send backlog. A link
 * whose backlog stays full holds back more of the probe than it lets
 * through: the probe fails, though nothing was lost or dropped (TCP
 * loses nothing, and the backlog check keeps the probe from ever
 * overfilling it), and the viewer stays. One that lets the probe through
 * moves up after it. */
static gboolean
probe_over_tcp (guint held_per_window)
{
  KkLayerRules rules;
  gint64 now = 100 * S;
  KkLinkSample s = { .packets_sent = 30, .report = TRUE, .rtt_ms = 20 };
  guint windows = 0;

  kk_layer_rules_init (&rules, KK_LAYER_LIGHT, KK_LAYER_FULL, now);
  while (!kk_layer_rules_probing (&rules) && windows++ < 100) {
    s.now_us = now += WINDOW;
    kk_layer_rules_sample (&rules, &s);
  }
  g_assert_true (kk_layer_rules_probing (&rules));
  s.probe_bytes_sent = 20000;
  s.probe_bytes_held = held_per_window;
  while (kk_layer_rules_probing (&rules)) {
    s.now_us = now += WINDOW;
    kk_layer_rules_sample (&rules, &s);
  }
  return rules.layer == KK_LAYER_FULL;
}

static void
test_tcp_probe_held_back (void)
{
  g_assert_false (probe_over_tcp (30000));
  g_assert_true (probe_over_tcp (2400));
  g_assert_true (probe_over_tcp (0));
}

/* The verdicts at their edges, and a queue measured from the lowest
 * round trip seen. */
static void
test_judge (void)
{
  KkLayerRules rules;
  KkLinkSample s = { .packets_sent = 1000, .rtt_ms = 100 };

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, 0);
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_CLEAN);
  /* A few NACKs a window (a busy receiver, repaired at once) are fine;
   * a quarter of the packets is a link too narrow. */
  s.nacked = 100;
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_CLEAN);
  s.nacked = 101;
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_UNSURE);
  s.nacked = 251;
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_BAD);
  /* Lost for good, as the report says: stricter. */
  s.nacked = 0;
  s.report = TRUE;
  s.fraction_lost = 3;          /* 1.2 % */
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_UNSURE);
  s.fraction_lost = 8;          /* 3.1 % */
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_BAD);
  s.fraction_lost = 0;
  s.report = FALSE;
  s.nacked = 0;
  s.rtt_ms = 260;
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_UNSURE);
  s.rtt_ms = 501;
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_BAD);
  s.rtt_ms = -1;
  s.report = TRUE;
  s.fraction_lost = 26;         /* 10 % */
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_BAD);
  s.fraction_lost = 0;
  /* Jitter alone: not clean, but not bad either (see the recorded busy
   * receiver below). */
  s.jitter_ms = 120;
  g_assert_cmpint (kk_layer_rules_judge (&rules, &s), ==, KK_LINK_UNSURE);
}

/* "Save data": never above light, even on a perfect link. Back to
 * automatic, and sound only, and automatic again: the viewer is where
 * the nurse asked at once, whatever it had before. */
static void
test_ceiling (void)
{
  Link link;

  link_init (&link, KK_LAYER_LIGHT);
  run_for (&link, 60 * S);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_LIGHT);
  g_assert_cmpuint (link.probes, ==, 0);
  kk_layer_rules_set_ceiling (&link.rules, KK_LAYER_FULL, link.now);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_FULL);
  kk_layer_rules_set_ceiling (&link.rules, KK_LAYER_AUDIO_ONLY, link.now);
  run_for (&link, 10 * S);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_AUDIO_ONLY);
  g_assert_cmpuint (link.probes, ==, 0);
  kk_layer_rules_set_ceiling (&link.rules, KK_LAYER_LIGHT, link.now);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_LIGHT);
  kk_layer_rules_set_ceiling (&link.rules, KK_LAYER_FULL, link.now);
  /* On a weak link, the rules take it down at once all the same. */
  link.capacity_kbps = 500;
  g_assert_cmpint (time_to_layer (&link, KK_LAYER_LIGHT, 10 * S), <=, 2 * S);
}

/* A screen that had the light layer last time starts there and moves up
 * only through a probe; with "save data" it stays there. */
static void
test_start_at (void)
{
  Link link;
  gint64 t_up;

  link_init (&link, KK_LAYER_FULL);
  kk_layer_rules_start_at (&link.rules, KK_LAYER_LIGHT, link.now);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_LIGHT);
  t_up = time_to_layer (&link, KK_LAYER_FULL, 30 * S);
  g_assert_cmpint (t_up, >=, KK_LAYER_RULES_UP_WAIT_US + KK_LAYER_RULES_PROBE_US);
  g_assert_cmpuint (link.probes, ==, 1);

  link_init (&link, KK_LAYER_LIGHT);
  kk_layer_rules_start_at (&link.rules, KK_LAYER_FULL, link.now);
  g_assert_cmpuint (link.rules.layer, ==, KK_LAYER_LIGHT);
}

/* Recorded report sequences: windows as the worker logged them on the
 * real links of tests/integration/test_shaped_udp.py (tc tbf in network
 * namespaces, aiortc viewers on a busy 2-core machine). The log names
 * the bad windows only; the windows between them, which it did not show,
 * are given as what the link carried then without trouble. */
typedef struct {
  guint packets;
  guint nacked;
  gboolean report;
  guint8 fraction_lost;
  guint32 jitter_ms;
  gint32 rtt_ms;
} RecordedWindow;

static KkLayer
feed (KkLayerRules *rules, gint64 *now, const RecordedWindow *w)
{
  KkLinkSample sample = {
    .packets_sent = w->packets, .nacked = w->nacked, .report = w->report,
    .fraction_lost = w->fraction_lost, .jitter_ms = w->jitter_ms,
    .rtt_ms = w->report ? w->rtt_ms : -1,
  };

  *now += WINDOW;
  sample.now_us = *now;
  return kk_layer_rules_sample (rules, &sample);
}

/* A viewer settled on light at 500 kbit/s probes up; the probe's extra
 * bytes fill the tbf queue (287 ms) and are lost in part (14/256), which
 * ends the probe; the next report names more of that loss (37/256). That
 * was the probe's doing, not the light layer's: the viewer stays on
 * light. (The rules moved it to sound only, and the picture stopped for
 * 15 s.) */
static void
test_recorded_failed_probe (void)
{
  static const RecordedWindow quiet = { 50, 0, FALSE, 0, 0, -1 };
  static const RecordedWindow quiet_report = { 50, 0, TRUE, 0, 12, 20 };
  static const RecordedWindow first_rtt = { 50, 0, TRUE, 0, 12, 1 };
  static const RecordedWindow probe_lost = { 50, 15, TRUE, 14, 12, 287 };
  static const RecordedWindow after_probe = { 48, 13, TRUE, 37, 35, 287 };
  KkLayerRules rules;
  gint64 now = 1000 * S;
  guint windows = 0;

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  kk_layer_rules_start_at (&rules, KK_LAYER_LIGHT, now);
  feed (&rules, &now, &first_rtt);
  while (!kk_layer_rules_probing (&rules) && windows++ < 100)
    feed (&rules, &now, windows % 2 ? &quiet_report : &quiet);
  g_assert_true (kk_layer_rules_probing (&rules));
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (feed (&rules, &now, i % 2 ? &quiet_report : &quiet), ==, KK_LAYER_LIGHT);
  g_assert_cmpuint (feed (&rules, &now, &probe_lost), ==, KK_LAYER_LIGHT);
  g_assert_false (kk_layer_rules_probing (&rules));
  g_assert_cmpuint (feed (&rules, &now, &after_probe), ==, KK_LAYER_LIGHT);
  for (guint i = 0; i < 20; i++)
    g_assert_cmpuint (feed (&rules, &now, i % 2 ? &quiet_report : &quiet), ==, KK_LAYER_LIGHT);
}

/* Round trips (ms) of a viewer's reports on an open link, as recorded. */
static const gint32 recorded_rtts[] = {
  14, 28, 1, 23, 1, 7, 13, 1, 12, 6, 2, 6, 10, 9, 13, 3, 11, 2, 19, 19,
  25, 23, 1, 46, 1,
};

/* A viewer on sound only whose link opened again: its reports carry no
 * loss, round trips of a few milliseconds, and the jitter of the video
 * stream as it stopped, frozen at 138 ms. It gets its picture back within
 * about 15 s. (The rules judged every such window bad, for ever.) */
static void
test_recorded_stale_jitter (void)
{
  KkLayerRules rules;
  gint64 now = 1000 * S, start;

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  kk_layer_rules_start_at (&rules, KK_LAYER_AUDIO_ONLY, now);
  start = now;
  for (guint i = 0; rules.layer == KK_LAYER_AUDIO_ONLY && i < 200; i++) {
    RecordedWindow w = { 26, 0, i % 2, 0, 138,
      recorded_rtts[(i / 2) % G_N_ELEMENTS (recorded_rtts)] };

    feed (&rules, &now, &w);
  }
  g_test_message ("picture back after %.1f s", (now - start) / 1e6);
  g_assert_cmpuint (rules.layer, ==, KK_LAYER_LIGHT);
  g_assert_cmpint (now - start, <=, 15 * S);
}

/* The viewer on a good link beside the weak one, its receiver starved of
 * CPU: nothing lost, nothing NACKed, round trips of a few milliseconds,
 * but a jitter of 144 to 157 ms as it handles the packets late. It keeps
 * the full layer. (The rules moved it down to sound only.) */
static void
test_recorded_busy_receiver (void)
{
  static const guint32 jitters[] = { 144, 149, 157, 146, 150 };
  KkLayerRules rules;
  gint64 now = 1000 * S;

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  for (guint i = 0; i < 2 * G_N_ELEMENTS (recorded_rtts); i++) {
    RecordedWindow w = { 32 + i % 13, 0, TRUE, 0,
      jitters[i % G_N_ELEMENTS (jitters)],
      recorded_rtts[i % G_N_ELEMENTS (recorded_rtts)] };

    g_assert_cmpuint (feed (&rules, &now, &w), ==, KK_LAYER_FULL);
  }
}

/* Windows of one viewer on a link shaped to 500 kbit/s (tc tbf, 300 ms
 * queue; tests/integration/it-shaped_udp, every window as the worker
 * logged it at LOG level), from just before the link narrowed until the
 * viewer had been on the light layer for two seconds. Its NACKs then
 * still counted those of the full layer's packets lost in the queue
 * (513 in one window of 145 packets), and its reports the loss from
 * before the switch (199/256). */
static const RecordedWindow recorded_move_down[] = {
  { 90, 0, TRUE, 0, 2, 9 },             /* full, the link still open */
  { 112, 0, TRUE, 0, 6, 14 },
  { 90, 0, FALSE, 0, 6, -1 },
  { 166, 84, TRUE, 0, 21, -1 },         /* narrowed */
  { 406, 317, TRUE, 52, 17, 277 },      /* the rules: down to light */
  { 145, 513, TRUE, 199, 20, 284 },
  /* here the viewer got the light keyframe */
  { 61, 105, TRUE, 11, 13, 274 },
  { 45, 0, FALSE, 11, 13, -1 },
  { 36, 0, TRUE, 0, 8, 28 },
  { 46, 0, TRUE, 0, 9, 8 },
};
#define RECORDED_SWITCH_AFTER 6

/* Clean windows of the same viewer on the light layer, on that link. */
static const RecordedWindow recorded_light[] = {
  { 45, 0, FALSE, 0, 13, -1 },
  { 36, 0, TRUE, 0, 8, 28 },
  { 46, 0, TRUE, 0, 9, 8 },
};

/* The move down: one step, on the second bad window, and the windows
 * after it, which show the full layer's trouble, do not take the viewer
 * further: they fall in the settling time from the switch. */
static void
test_recorded_move_down (void)
{
  KkLayerRules rules;
  gint64 now = 1000 * S;

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  for (guint i = 0; i < G_N_ELEMENTS (recorded_move_down); i++) {
    KkLayer layer = feed (&rules, &now, &recorded_move_down[i]);

    g_assert_cmpuint (layer, ==, i < 4 ? KK_LAYER_FULL : KK_LAYER_LIGHT);
    g_assert_false (kk_layer_rules_probing (&rules));
    if (i + 1 == RECORDED_SWITCH_AFTER) {
      g_assert_true (kk_layer_rules_settling (&rules, now));
      kk_layer_rules_switched (&rules, KK_LAYER_LIGHT, now + WINDOW / 3);
    }
  }
  g_assert_true (kk_layer_rules_settling (&rules, now));
  for (guint i = 0; i < 6; i++)
    feed (&rules, &now, &recorded_light[i % G_N_ELEMENTS (recorded_light)]);
  g_assert_false (kk_layer_rules_settling (&rules, now));
  g_assert_cmpuint (rules.layer, ==, KK_LAYER_LIGHT);
}

/* The five windows after a failed probe from light, on the same link
 * (another run, whose log kept only the bad windows: the window that
 * ended the probe, not bad, is one of the same kind from a third run):
 * the probe's bytes filled the queue and crowded out light packets, and
 * the NACKs, the reports of that loss and the queue in the round trip
 * came in for two and a half seconds after it. The viewer stays on
 * light. (The rules moved it to sound only half a second after the last
 * of them, and its picture stopped for 15 s.) */
static void
test_recorded_failed_probe_aftermath (void)
{
  static const RecordedWindow probe_ends = { 66, 14, FALSE, 0, 21, -1 };
  static const RecordedWindow aftermath[] = {
    { 142, 91, TRUE, 144, 23, 2 },
    { 131, 71, TRUE, 54, 20, 308 },
    { 125, 97, TRUE, 9, 23, 302 },
    { 56, 26, TRUE, 0, 36, 189 },
    { 74, 19, FALSE, 0, 36, -1 },
  };
  KkLayerRules rules;
  gint64 now = 1000 * S;
  guint windows = 0;

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  kk_layer_rules_start_at (&rules, KK_LAYER_LIGHT, now);
  while (!kk_layer_rules_probing (&rules) && windows < 100)
    feed (&rules, &now, &recorded_light[windows++ % G_N_ELEMENTS (recorded_light)]);
  g_assert_true (kk_layer_rules_probing (&rules));
  g_assert_cmpuint (feed (&rules, &now, &probe_ends), ==, KK_LAYER_LIGHT);
  g_assert_false (kk_layer_rules_probing (&rules));
  for (guint i = 0; i < G_N_ELEMENTS (aftermath); i++)
    g_assert_cmpuint (feed (&rules, &now, &aftermath[i]), ==, KK_LAYER_LIGHT);
  for (guint i = 0; i < 6; i++)
    g_assert_cmpuint (feed (&rules, &now,
            &recorded_light[i % G_N_ELEMENTS (recorded_light)]), ==,
        KK_LAYER_LIGHT);
}

/* Settling hides only what came before: a light layer the link cannot
 * carry (350 kbit/s and 64 kbit/s of sound on the same 500 kbit/s link,
 * long after the switch) still takes the viewer down to sound only. */
static void
test_recorded_light_too_heavy (void)
{
  static const RecordedWindow windows[] = {
    { 54, 0, FALSE, 0, 28, -1 },
    { 81, 15, TRUE, 0, 13, 6 },
    { 52, 21, FALSE, 0, 13, -1 },
    { 41, 0, TRUE, 0, 65, 233 },
    { 38, 0, TRUE, 4, 9, 9 },
    { 37, 0, FALSE, 4, 9, -1 },
    { 69, 0, TRUE, 0, 72, 2 },
    { 83, 30, TRUE, 0, 23, 15 },
    { 129, 62, TRUE, 31, 55, -1 },
  };
  KkLayerRules rules;
  gint64 now = 1000 * S;

  kk_layer_rules_init (&rules, KK_LAYER_FULL, KK_LAYER_FULL, now);
  kk_layer_rules_start_at (&rules, KK_LAYER_LIGHT, now);
  /* No probe: the clean period before one is longer than this. */
  for (guint i = 0; i < 4; i++)
    feed (&rules, &now, &recorded_light[i % G_N_ELEMENTS (recorded_light)]);
  for (guint i = 0; i < G_N_ELEMENTS (windows); i++)
    g_assert_cmpuint (feed (&rules, &now, &windows[i]), ==,
        i + 1 < G_N_ELEMENTS (windows) ? KK_LAYER_LIGHT : KK_LAYER_AUDIO_ONLY);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/layer-rules/shaped-500k", test_shaped_500k);
  g_test_add_func ("/layer-rules/shaped-100k", test_shaped_100k);
  g_test_add_func ("/layer-rules/burst-is-not-enough", test_burst_is_not_enough);
  g_test_add_func ("/layer-rules/probe-rate", test_probe_rate);
  g_test_add_func ("/layer-rules/trial-falls-back", test_trial_falls_back);
  g_test_add_func ("/layer-rules/tcp-backlog", test_tcp_backlog);
  g_test_add_func ("/layer-rules/tcp-probe-held-back", test_tcp_probe_held_back);
  g_test_add_func ("/layer-rules/judge", test_judge);
  g_test_add_func ("/layer-rules/ceiling", test_ceiling);
  g_test_add_func ("/layer-rules/start-at", test_start_at);
  g_test_add_func ("/layer-rules/recorded/failed-probe", test_recorded_failed_probe);
  g_test_add_func ("/layer-rules/recorded/stale-jitter", test_recorded_stale_jitter);
  g_test_add_func ("/layer-rules/recorded/busy-receiver", test_recorded_busy_receiver);
  g_test_add_func ("/layer-rules/recorded/move-down", test_recorded_move_down);
  g_test_add_func ("/layer-rules/recorded/failed-probe-aftermath",
      test_recorded_failed_probe_aftermath);
  g_test_add_func ("/layer-rules/recorded/light-too-heavy",
      test_recorded_light_too_heavy);
  return g_test_run ();
}
