/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-layer-rules: the switching rules. See kk-layer-rules.h for what they
 * decide and why; the thresholds are here.
 *
 * A window is bad when the link visibly fails to carry what is sent: more
 * than 3 % of the packets lost for good (the viewer's report: we
 * retransmit on the same SSRC, so what it counts lost is what even a
 * retransmission did not bring), more than a quarter of them NACKed (lost
 * on the way, before repair), more than 2 % dropped at an ICE-TCP
 * backlog, or a queue of 400 ms above the lowest round trip seen. It is
 * clean when there is little of that: at most 1 % lost for good and 10 %
 * NACKed, no drops, less than 150 ms of queue, less than 40 ms of jitter.
 *
 * Jitter keeps a window from being clean but never makes it bad on its
 * own: a receiver measures it where it handles each packet, so a busy one
 * (aiortc on a loaded machine, shown on a real shaped link) reports 150 ms
 * on a path that delivers everything at once, with nothing lost and no
 * queue in the round trip; a path that really queues shows it in the
 * round trip, one that is too narrow in loss and NACKs. On sound only, the
 * jitter is not looked at at all: the video stream stopped, and its
 * receiver reports carry the jitter of its last packets for ever (138 ms,
 * frozen, on the shaped link), which would keep the viewer from ever
 * being clean enough to get its picture back. Nor on the light layer:
 * its frames leave the room's encoder 2-30 ms after the host's frame
 * whose timestamp they carry, more on a busy machine, and the receiver
 * counts that as jitter (40-106 ms on the shaped link once it was open
 * again, with round trips of 6-24 ms and nothing lost), which kept the
 * viewer from the clean period that lets it probe up for 20 s.
 * NACKs alone are judged leniently because a
 * busy receiver (a browser on a loaded machine, even over loopback)
 * misses a few packets of every keyframe burst and has them repaired in
 * one round trip; a link that is too narrow loses far more. Browsers NACK
 * every gap at once, so a loss shows within one round trip of it, well
 * inside a window. Layers are ordered full (0), light, sound only: down
 * is +1.
 */
#include "kk-layer-rules.h"

#define BAD_LOSS_PERMILLE 30
#define BAD_NACK_PERMILLE 250
#define BAD_DROP_PERMILLE 20
#define BAD_QUEUE_MS 400
#define CLEAN_LOSS_PERMILLE 10
#define CLEAN_NACK_PERMILLE 100
#define CLEAN_QUEUE_MS 150
#define CLEAN_JITTER_MS 40
/* While probing, a window fails with more NACKs than this: a probe must
 * not hurt, and on a link whose queue it fills the first NACKs come a
 * queue's length before the report of the loss. (The viewer on an open
 * link beside the shaped one NACKed nothing in its windows.) */
#define PROBE_NACK_PERMILLE 50
/* ... or a queue of more than this in the round trip: the probe is
 * filling the link's queue (on the open link the round trip stayed
 * within 60 ms of the lowest, even to a busy receiver). */
#define PROBE_QUEUE_MS 100

/* A probe from the light layer towards the full one adds at most half
 * the step. On a link shaped to 500 kbit/s the whole step (~1 Mbit/s
 * more), even grown over 2.5 s, filled the link's 300 ms queue faster
 * than a receiver report (about one a second) could show it: a packet of
 * the light layer lost for good in that overflow froze aiortc's picture
 * for about 3 s. Half the step still more than doubles what such a link
 * carries, so the probe fails there, but it fills the queue half as fast,
 * and the round trip shows it first. */
#define PROBE_SHARE_TO_FULL_PERCENT 50
/* A probe from sound only towards the light layer adds less than a
 * third of it (~75 kbit/s at most for the light layer's 250): on a link
 * of 100 kbit/s, the light layer's whole rate as probe bytes queued the
 * sound behind them by up to half a second. With sound (~50 kbit/s) this
 * part still overfills such a link, so the probe fails there, but only
 * late in its ramp and slowly, so the sound's delay stays small. */
#define PROBE_SHARE_TO_LIGHT_PERCENT 30
/* The probe starts at a tenth of its rate and grows to all of it over
 * this time, the last half second of the probe at its full rate: a link
 * whose queue it fills shows it in the round trip before it overflows. */
#define PROBE_RAMP_US (KK_LAYER_RULES_PROBE_US - KK_LAYER_RULES_WINDOW_US)

/* Over ICE-TCP a part of the step proved nothing: on a link shaped to
 * 500 kbit/s half the step only filled TCP's buffers, no packet was
 * dropped at the backlog within the probe's 3 s, and each trial after it
 * moved the viewer up and at once down again, every 20 s. */
#define PROBE_SHARE_BACKS_UP_PERCENT 100

gint64
kk_layer_rules_probe_rate (const KkLayerRules *rules, gint64 step_bytes_per_s,
    gboolean backs_up, gint64 now_us)
{
  gint64 ramp = CLAMP (now_us - rules->state_since_us, 0, PROBE_RAMP_US);
  gint64 share = backs_up ? PROBE_SHARE_BACKS_UP_PERCENT
      : kk_layer_rules_probe_target (rules) == KK_LAYER_FULL
      ? PROBE_SHARE_TO_FULL_PERCENT : PROBE_SHARE_TO_LIGHT_PERCENT;

  if (rules->state != KK_LAYER_RULES_PROBING || step_bytes_per_s <= 0)
    return 0;
  return step_bytes_per_s * share / 100
      * (PROBE_RAMP_US + 9 * ramp) / (10 * PROBE_RAMP_US);
}

const char *
kk_layer_rules_state_to_string (KkLayerRulesState state)
{
  switch (state) {
    case KK_LAYER_RULES_STEADY:
      return "steady";
    case KK_LAYER_RULES_PROBING:
      return "probing";
    case KK_LAYER_RULES_TRIAL:
      return "trial";
  }
  return "unknown";
}

void
kk_layer_rules_init (KkLayerRules *rules, KkLayer layer, KkLayer ceiling,
    gint64 now_us)
{
  rules->layer = MAX (layer, ceiling);
  rules->ceiling = ceiling;
  rules->state = KK_LAYER_RULES_STEADY;
  rules->state_since_us = now_us;
  rules->last_down_us = now_us - KK_LAYER_RULES_SETTLE_US;
  /* The first move down needs no settling. */
  rules->settle_until_us = now_us;
  rules->awaiting_switch = FALSE;
  rules->clean_since_us = 0;
  rules->history = 0;
  rules->min_rtt_ms = -1;
  rules->up_wait_us = KK_LAYER_RULES_UP_WAIT_US;
  rules->failed_ups = 0;
}

/* The nurse's own choice is taken as it is: the viewer starts at the new
 * ceiling, up or down, and the rules move it down again at once (no
 * settling) if its link cannot carry that. */
void
kk_layer_rules_set_ceiling (KkLayerRules *rules, KkLayer ceiling,
    gint64 now_us)
{
  rules->ceiling = ceiling;
  rules->layer = ceiling;
  rules->last_down_us = now_us - KK_LAYER_RULES_SETTLE_US;
  rules->settle_until_us = now_us;
  rules->awaiting_switch = FALSE;
  rules->history = 0;
  rules->clean_since_us = 0;
  rules->state = KK_LAYER_RULES_STEADY;
  rules->state_since_us = now_us;
}

void
kk_layer_rules_start_at (KkLayerRules *rules, KkLayer layer, gint64 now_us)
{
  rules->layer = MAX (layer, rules->ceiling);
  rules->clean_since_us = 0;
  rules->state = KK_LAYER_RULES_STEADY;
  rules->state_since_us = now_us;
}

KkLinkVerdict
kk_layer_rules_judge (KkLayerRules *rules, const KkLinkSample *sample)
{
  guint loss = 0, nacked = 0, drops = 0;
  gint32 queue_ms = 0;
  guint32 jitter_ms = 0;

  if (sample->packets_sent > 0)
    nacked = sample->nacked * 1000 / sample->packets_sent;
  if (sample->report)
    loss = sample->fraction_lost * 1000u / 256;
  if (sample->tcp_dropped > 0)
    drops = sample->tcp_dropped * 1000
        / (sample->packets_sent + sample->tcp_dropped);
  if (sample->rtt_ms >= 0) {
    if (rules->min_rtt_ms < 0 || sample->rtt_ms < rules->min_rtt_ms)
      rules->min_rtt_ms = sample->rtt_ms;
    queue_ms = sample->rtt_ms - rules->min_rtt_ms;
  }
  if (sample->report && rules->layer == KK_LAYER_FULL)
    jitter_ms = sample->jitter_ms;
  if (loss > BAD_LOSS_PERMILLE || nacked > BAD_NACK_PERMILLE
      || drops > BAD_DROP_PERMILLE || queue_ms > BAD_QUEUE_MS)
    return KK_LINK_BAD;
  if (loss <= CLEAN_LOSS_PERMILLE && nacked <= CLEAN_NACK_PERMILLE
      && drops == 0 && queue_ms < CLEAN_QUEUE_MS
      && jitter_ms < CLEAN_JITTER_MS)
    return KK_LINK_CLEAN;
  return KK_LINK_UNSURE;
}

static void
back_off (KkLayerRules *rules)
{
  rules->failed_ups++;
  rules->up_wait_us = MIN (rules->up_wait_us * 2, KK_LAYER_RULES_UP_WAIT_MAX_US);
}

static void
set_state (KkLayerRules *rules, KkLayerRulesState state, gint64 now_us)
{
  rules->state = state;
  rules->state_since_us = now_us;
}

/* The windows from now until the link has settled are not held against
 * the layer: what they show is the doing of what came before. */
static void
settle (KkLayerRules *rules, gint64 now_us)
{
  rules->history = 0;
  rules->settle_until_us = now_us + KK_LAYER_RULES_SETTLE_US;
}

static void
step_down (KkLayerRules *rules, gint64 now_us)
{
  rules->layer++;
  rules->last_down_us = now_us;
  rules->clean_since_us = 0;
  settle (rules, now_us);
  rules->awaiting_switch = TRUE;
  set_state (rules, KK_LAYER_RULES_STEADY, now_us);
}

/* A move down takes effect only on the new layer's keyframe (the light
 * one, a light encoder's latency and a round trip of the request away),
 * and until then the viewer gets the old layer or nothing: the settling
 * starts again where the new layer starts. A move up is tried from where
 * the viewer really has the layer it moved to (a full keyframe can be
 * seconds away). */
void
kk_layer_rules_switched (KkLayerRules *rules, KkLayer layer, gint64 now_us)
{
  if (layer != rules->layer)
    return;
  if (rules->state == KK_LAYER_RULES_TRIAL) {
    rules->history = 0;
    rules->state_since_us = now_us;
  } else if (rules->awaiting_switch) {
    rules->awaiting_switch = FALSE;
    settle (rules, now_us);
  }
}

KkLayer
kk_layer_rules_sample (KkLayerRules *rules, const KkLinkSample *sample)
{
  gint64 now = sample->now_us;
  KkLinkVerdict verdict;
  guint recent_bad;

  /* A window in which nothing was sent or heard says nothing. */
  if (sample->packets_sent == 0 && sample->tcp_dropped == 0 && !sample->report)
    return rules->layer;
  verdict = kk_layer_rules_judge (rules, sample);
  rules->verdict = verdict;
  if (now >= rules->settle_until_us)
    rules->history = (rules->history << 1) | (verdict == KK_LINK_BAD);
  if (verdict != KK_LINK_CLEAN)
    rules->clean_since_us = 0;
  else if (rules->clean_since_us == 0)
    rules->clean_since_us = now;
  recent_bad = __builtin_popcount (rules->history & 0x7);

  switch (rules->state) {
    case KK_LAYER_RULES_PROBING:
      /* The probe itself must not hurt: the first sign ends it. What it
       * did to the link is no evidence against the layer the viewer has:
       * on a real link its extra bytes are still queued, and the report
       * naming their loss still to come, when it ends (on a link shaped to
       * 500 kbit/s the window after a failed probe was bad too, and the
       * two moved a viewer that was fine on light down to sound only).
       * So its windows are forgotten, and the link settles as it does
       * after a switch: the probe's bytes drain from its queue, and the
       * NACKs and reports of what they crowded out come in. (Without
       * that, on the same link, the five windows after a failed probe
       * were bad and moved the viewer to sound only.)
       * Over ICE-TCP the worker sends probe bytes only while the
       * connection's send backlog is empty, so that they never wait in
       * TCP's buffers ahead of the media (sent regardless, up to a second
       * of them waited there at 500 kbit/s before any packet was dropped
       * at the backlog, and the picture fell to 3-6 frames a second during
       * each probe). A link that cannot take the step keeps its backlog
       * from emptying: a window in which the probe had to hold back more
       * bytes than it could send fails the probe, as a loss does over
       * UDP. */
      if (verdict != KK_LINK_CLEAN
          || sample->probe_bytes_held > sample->probe_bytes_sent
          || (sample->packets_sent > 0
              && sample->nacked * 1000 / sample->packets_sent
              > PROBE_NACK_PERMILLE)
          || (sample->rtt_ms >= 0
              && sample->rtt_ms - rules->min_rtt_ms > PROBE_QUEUE_MS)) {
        back_off (rules);
        rules->last_down_us = now;
        settle (rules, now);
        set_state (rules, KK_LAYER_RULES_STEADY, now);
      } else if (now - rules->state_since_us >= KK_LAYER_RULES_PROBE_US) {
        rules->layer--;
        rules->history = 0;
        set_state (rules, KK_LAYER_RULES_TRIAL, now);
      }
      break;
    case KK_LAYER_RULES_TRIAL:
      if (verdict == KK_LINK_BAD) {
        back_off (rules);
        step_down (rules, now);
      } else if (now - rules->state_since_us >= KK_LAYER_RULES_TRIAL_US) {
        rules->up_wait_us = MAX (rules->up_wait_us / 2, KK_LAYER_RULES_UP_WAIT_US);
        set_state (rules, KK_LAYER_RULES_STEADY, now);
      }
      break;
    case KK_LAYER_RULES_STEADY:
      if (recent_bad >= 2 && rules->layer < KK_LAYER_AUDIO_ONLY) {
        step_down (rules, now);
      } else if (rules->layer > rules->ceiling && rules->clean_since_us != 0
          && now - rules->clean_since_us >= rules->up_wait_us
          && now - rules->last_down_us >= rules->up_wait_us
          && now - rules->state_since_us >= rules->up_wait_us) {
        set_state (rules, KK_LAYER_RULES_PROBING, now);
      }
      break;
  }
  return rules->layer;
}
