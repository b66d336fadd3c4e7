/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-layer-rules: which layer a viewer's link carries, decided from what
 * the relay already hears, every KK_LAYER_RULES_WINDOW_US: the loss the
 * viewer reports (receiver reports) and asks to have repaired (NACKs),
 * its jitter, the round-trip time above the lowest seen (queueing), and
 * for ICE-TCP viewers the packets the worker had to drop because the
 * connection's send backlog was full.
 *
 * Down quickly: two bad windows out of three (about a second) move the
 * viewer one step down (full, light, sound only), and, once the switch
 * has had time to take effect and the link to settle (the windows just
 * after it do not count), another step if it is still bad.
 * Up cautiously: only after a clean period, and only after a probe: for
 * KK_LAYER_RULES_PROBE_US the worker sends the viewer extra copies of
 * what it gets, growing to a part of the bytes the step up would add
 * (kk_layer_rules_probe_rate ()); if the link takes them without a loss
 * or a growing queue, the viewer moves up (the trial proves the rest),
 * otherwise it stays, and the clean period needed before the next probe
 * doubles (up to a limit, so that a link that recovers has the full
 * picture back within about 15 s). A move up that still goes wrong within
 * KK_LAYER_RULES_TRIAL_US falls back at the first bad window, and backs
 * off the same way. A probe never changes the picture, so a weak link
 * sees at most its moves down and the one up that holds: no flapping.
 *
 * Pure: no clock, no I/O; fed samples, it returns the layer. The worker
 * that owns the viewer keeps one per viewer and carries out the decision
 * (kk-splice) and the probe.
 */
#pragma once

#include "kk-track.h"

G_BEGIN_DECLS

#define KK_LAYER_RULES_WINDOW_US (G_USEC_PER_SEC / 2)
#define KK_LAYER_RULES_PROBE_US (3 * G_USEC_PER_SEC)
#define KK_LAYER_RULES_TRIAL_US (5 * G_USEC_PER_SEC)
/* A clean period this long before the first probe up; doubled after each
 * failed probe or trial, up to the maximum; halved after one that held.
 * The maximum is what a viewer whose probe failed just as its link
 * recovered waits for the next: that one (3 s), the full layer's next
 * keyframe (the host's, or one asked for after 3 s) and the windows'
 * half seconds must fit in the 15 s within which a recovered link has
 * its full picture back, so two probes fit in that time. */
#define KK_LAYER_RULES_UP_WAIT_US (4 * G_USEC_PER_SEC)
#define KK_LAYER_RULES_UP_WAIT_MAX_US (8 * G_USEC_PER_SEC)
/* After a move down, the windows of this long after the viewer really
 * got the new layer (and after a failed probe, of this long after it)
 * are not held against the layer: they still carry the old layer's (or
 * the probe's) trouble. The link's queue, full of the old layer's
 * packets, must drain; the viewer's next receiver report (about a second
 * apart) still counts what was lost before; and its NACKs name the old
 * layer's packets for a while (aiortc repeats every missing number with
 * each new NACK). */
#define KK_LAYER_RULES_SETTLE_US (3 * G_USEC_PER_SEC)

/* What the link did in one window. */
typedef struct {
  gint64 now_us;
  guint packets_sent;       /* media packets sent to the viewer (not probes) */
  guint nacked;             /* packets it asked to have retransmitted */
  guint tcp_dropped;        /* ICE-TCP: dropped, its send backlog was full */
  gboolean report;          /* a receiver report came in this window */
  guint8 fraction_lost;     /* of the newest report, in 1/256 */
  guint32 jitter_ms;        /* of the newest report */
  gint32 rtt_ms;            /* newest, -1 unknown */
  /* ICE-TCP probes: the probe bytes sent, and those held back because
   * the connection still had bytes of its own waiting to go out. */
  guint probe_bytes_sent;
  guint probe_bytes_held;
} KkLinkSample;

typedef enum {
  KK_LAYER_RULES_STEADY,
  KK_LAYER_RULES_PROBING,   /* extra bytes to see if the link takes a step up */
  KK_LAYER_RULES_TRIAL,     /* just moved up: falls back at the first trouble */
} KkLayerRulesState;

typedef enum {
  KK_LINK_BAD,
  KK_LINK_UNSURE,
  KK_LINK_CLEAN,
} KkLinkVerdict;

typedef struct {
  KkLayer layer;            /* what the viewer should receive */
  KkLayer ceiling;          /* the best it may receive (its choice) */
  KkLayerRulesState state;
  gint64 state_since_us;
  gint64 last_down_us;      /* the last move down, or failed probe */
  gint64 settle_until_us;   /* windows before this are not held against it */
  gboolean awaiting_switch; /* moved down; the viewer is not there yet */
  gint64 clean_since_us;    /* 0: the last window was not clean */
  guint8 history;           /* the last windows, newest in bit 0: 1 = bad */
  gint32 min_rtt_ms;        /* -1 until known */
  gint64 up_wait_us;
  guint failed_ups;
  KkLinkVerdict verdict;    /* of the last window, for the logs */
} KkLayerRules;

/* A viewer that starts on @layer and may get at best @ceiling. */
void kk_layer_rules_init (KkLayerRules *rules, KkLayer layer, KkLayer ceiling,
    gint64 now_us);
/* The viewer chose another quality: its best layer is now @ceiling, and
 * it starts there. */
void kk_layer_rules_set_ceiling (KkLayerRules *rules, KkLayer ceiling,
    gint64 now_us);

/* The viewer starts on @layer, below its ceiling (its screen had that
 * layer last time): it moves up only as a probe proves the link. */
void kk_layer_rules_start_at (KkLayerRules *rules, KkLayer layer,
    gint64 now_us);

/* The viewer now receives @layer (the worker's splice switched on its
 * keyframe, or went to sound only). After a move down the settling time
 * counts from here, since the switch waits for the new layer's keyframe;
 * after a move up the trial does. */
void kk_layer_rules_switched (KkLayerRules *rules, KkLayer layer,
    gint64 now_us);

/* How one window looks; exposed for the tests. */
KkLinkVerdict kk_layer_rules_judge (KkLayerRules *rules,
    const KkLinkSample *sample);

/* Feeds one window. Returns: the layer the viewer should receive now. */
KkLayer kk_layer_rules_sample (KkLayerRules *rules, const KkLinkSample *sample);

/* While TRUE, the worker sends the viewer probe bytes at
 * kk_layer_rules_probe_rate (). */
static inline gboolean
kk_layer_rules_probing (const KkLayerRules *rules)
{
  return rules->state == KK_LAYER_RULES_PROBING;
}

static inline KkLayer
kk_layer_rules_probe_target (const KkLayerRules *rules)
{
  return rules->layer - 1;
}

/* The rate, in bytes per second, to probe at @now_us, given the
 * @step_bytes_per_s the step up to kk_layer_rules_probe_target () would
 * add, growing over the probe. Over UDP, a part of that step only, so
 * that a link that cannot take the step is never filled by the probe
 * before a receiver report can show it; the trial that follows a clean
 * probe (a real move up, falling back at the first bad window) proves
 * the rest. Over ICE-TCP (@backs_up), the whole step: the relay sees the
 * link back up at its own send backlog at once, and the worker sends
 * probe bytes only while that backlog is empty (a window in which it had
 * to hold back more than it could send fails the probe), and stops the
 * probe at the first packet dropped there. 0 when not probing. */
gint64 kk_layer_rules_probe_rate (const KkLayerRules *rules,
    gint64 step_bytes_per_s, gboolean backs_up, gint64 now_us);

/* TRUE from a move down (or a failed probe) until the link has settled:
 * what it shows meanwhile is held against what came before. */
static inline gboolean
kk_layer_rules_settling (const KkLayerRules *rules, gint64 now_us)
{
  return rules->awaiting_switch || now_us < rules->settle_until_us;
}

const char *kk_layer_rules_state_to_string (KkLayerRulesState state);

G_END_DECLS
