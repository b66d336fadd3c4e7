/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-lecture: one room's broadcast; see kk-lecture.h.
 *
 * State machine (logged on every transition):
 *
 *   IDLE --publish/pipeline--> STARTING --first media--> LIVE (session opens)
 *   LIVE --source lost--> GRACE --grace expires--> IDLE (session closes)
 *   GRACE --source back, first media--> LIVE (same session)
 *   any --WHIP DELETE or shutdown--> IDLE (session closes)
 *
 * "Source lost" is ICE failing, the pipeline failing, or (fastest) the
 * media stopping. A new WHIP POST while the old publisher is still sending
 * gets 409; once it has gone quiet the new one takes over, which is what a
 * host's browser does after a network drop.
 */
#include "kk-lecture.h"

#include "kk-ingest.h"
#include "kk-light-layer.h"
#include "kk-pipeline-file.h"
#include <gst/gst.h>
#include <openssl/rand.h>

GST_DEBUG_CATEGORY_STATIC (kk_lecture_debug);
#define GST_CAT_DEFAULT kk_lecture_debug

G_DEFINE_QUARK (kk-lecture-error-quark, kk_lecture_error)

/* A publisher silent for this long may be replaced by a new POST. */
#define PUBLISHER_STALE_US (1 * G_USEC_PER_SEC)
/* A publisher still connecting (no media yet) holds the room this long. */
#define PUBLISHER_CONNECTING_US (5 * G_USEC_PER_SEC)
/* A failed pipeline source is started again after this. */
#define PIPELINE_RETRY_S 2
/* While the light layer is wanted but cannot be made yet (no video to
 * know its codec by), it is tried again this often. */
#define LIGHT_RETRY_S 1
/* A light layer that failed (its pipeline file, the encoder) is tried
 * again after this, and then this much later each time, while it is
 * wanted: a passing fault heals soon, a broken file costs little. */
#define LIGHT_FAILED_FIRST_RETRY_S 5
#define LIGHT_FAILED_RETRY_S 30

typedef struct {
  KkLecture *lecture;           /* not a ref: the lecture outlives its viewers */
  KkViewer *viewer;
  char *resource_id;
  char *party_id;
  gboolean connected;
} KkLectureViewer;

struct _KkLecture {
  GObject parent;

  KkRoom *room;
  KkFanout *fanout;
  KkStore *store;
  const KkConfig *config;
  KkFeed *feed;

  KkLectureState state;
  KkIngest *ingest;
  char *publisher_id;           /* WHIP resource of the current publisher */
  char *publisher_ufrag;        /* its offer's ICE ufrag */
  gint64 publisher_since_mono_us;
  gboolean pipeline_source;
  guint grace_timer;
  guint retry_timer;

  char *session_id;             /* known once the store has it */
  gboolean session_open;
  gint64 session_start_wall_us;
  gboolean session_end_pending; /* ended before the store gave the id */
  gint64 session_end_wall_us;

  GHashTable *viewers;          /* resource id -> KkLectureViewer */
  guint connected_viewers;

  /* The light layer (kk-light-layer), made while the feed wants it. */
  gboolean light_wanted;
  KkLightLayer *light;
  KkCodec light_codec;
  guint light_tap;
  gboolean light_primed;        /* the tap's (streaming thread) */
  gboolean light_failed;        /* until its retry, or it is unwanted */
  guint light_failures;         /* in a row, while wanted */
  guint light_retry_timer;
};

G_DEFINE_FINAL_TYPE (KkLecture, kk_lecture, G_TYPE_OBJECT)

enum {
  SIGNAL_SESSION_OPENED,
  SIGNAL_SESSION_CLOSED,
  SIGNAL_VIEWER_CONNECTED,
  SIGNAL_VIEWER_LEFT,
  SIGNAL_VIEWER_RELAY_PROTOCOL,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static const char *
state_name (KkLectureState state)
{
  switch (state) {
    case KK_LECTURE_IDLE:
      return "idle";
    case KK_LECTURE_STARTING:
      return "starting";
    case KK_LECTURE_LIVE:
      return "live";
    case KK_LECTURE_GRACE:
      return "grace";
  }
  return "?";
}

static const char *
room_id (KkLecture *lecture)
{
  return kk_room_get_id (lecture->room);
}

static void
set_state (KkLecture *lecture, KkLectureState state)
{
  if (lecture->state == state)
    return;
  GST_INFO ("room %s: %s -> %s", room_id (lecture),
      state_name (lecture->state), state_name (state));
  lecture->state = state;
}

static char *
random_id (void)
{
  guint8 bytes[12];

  if (RAND_bytes (bytes, sizeof (bytes)) != 1)
    g_error ("no randomness from OpenSSL");
  return g_base64_encode (bytes, sizeof (bytes));
}

/* URL-safe: ids appear in Location paths. */
static char *
random_resource_id (void)
{
  char *id = random_id ();

  for (char *p = id; *p; p++) {
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  }
  return id;
}

static void
clear_timer (guint *id)
{
  if (*id != 0) {
    g_source_remove (*id);
    *id = 0;
  }
}

/* ---- sessions ---- */

static void
on_session_ended (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!kk_store_session_end_finish (KK_STORE (source), result, &error))
    g_warning ("cannot close session: %s", error->message);
}

static void
store_session_end (KkLecture *lecture, gint64 ended_wall_us)
{
  kk_store_session_end (lecture->store, lecture->session_id, ended_wall_us,
      on_session_ended, NULL);
}

static void
on_session_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (KkLecture) lecture = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;

  id = kk_store_session_start_finish (KK_STORE (source), result, &error);
  if (id == NULL) {
    g_warning ("room %s: cannot record the session: %s", room_id (lecture),
        error->message);
    return;
  }
  g_free (lecture->session_id);
  lecture->session_id = g_steal_pointer (&id);
  GST_INFO ("room %s: session %s", room_id (lecture), lecture->session_id);
  g_signal_emit (lecture, signals[SIGNAL_SESSION_OPENED], 0,
      lecture->session_id, lecture->session_start_wall_us);
  if (lecture->session_end_pending) {
    lecture->session_end_pending = FALSE;
    store_session_end (lecture, lecture->session_end_wall_us);
    g_signal_emit (lecture, signals[SIGNAL_SESSION_CLOSED], 0,
        lecture->session_id, lecture->session_end_wall_us);
    g_clear_pointer (&lecture->session_id, g_free);
    return;
  }
  if (lecture->session_open)
    kk_room_set_live (lecture->room, TRUE, lecture->session_id);
}

static void
open_session (KkLecture *lecture)
{
  if (lecture->session_open)
    return;
  lecture->session_open = TRUE;
  lecture->session_start_wall_us = g_get_real_time ();
  kk_room_set_live (lecture->room, TRUE, NULL);
  kk_store_session_start (lecture->store, room_id (lecture),
      lecture->session_start_wall_us, on_session_started,
      g_object_ref (lecture));
}

static void
close_session (KkLecture *lecture)
{
  gint64 now = g_get_real_time ();

  if (!lecture->session_open)
    return;
  lecture->session_open = FALSE;
  GST_INFO ("room %s: session %s ends", room_id (lecture),
      lecture->session_id ? lecture->session_id : "(pending)");
  if (lecture->session_id != NULL) {
    store_session_end (lecture, now);
    g_signal_emit (lecture, signals[SIGNAL_SESSION_CLOSED], 0,
        lecture->session_id, now);
    g_clear_pointer (&lecture->session_id, g_free);
  } else {
    lecture->session_end_pending = TRUE;
    lecture->session_end_wall_us = now;
  }
  kk_room_set_live (lecture->room, FALSE, NULL);
}

/* ---- sources ---- */

/* Detaches the current source. From inside one of its callbacks the free
 * must wait until that callback has returned. */
static void
retire_ingest (KkLecture *lecture, gboolean from_callback)
{
  KkIngest *ingest = g_steal_pointer (&lecture->ingest);

  g_clear_pointer (&lecture->publisher_id, g_free);
  g_clear_pointer (&lecture->publisher_ufrag, g_free);
  if (ingest == NULL)
    return;
  kk_feed_reset_source (lecture->feed);
  if (from_callback)
    kk_ingest_free_later (ingest);
  else
    kk_ingest_free (ingest);
}

static gboolean
on_grace_expired (gpointer user_data)
{
  KkLecture *lecture = user_data;

  lecture->grace_timer = 0;
  GST_INFO ("room %s: the source did not come back", room_id (lecture));
  close_session (lecture);
  set_state (lecture, KK_LECTURE_IDLE);
  return G_SOURCE_REMOVE;
}

static gboolean on_retry_pipeline (gpointer user_data);
static void update_light (KkLecture *lecture);

static void
on_media_started (KkIngest *ingest, gpointer user_data)
{
  KkLecture *lecture = user_data;

  if (ingest != lecture->ingest)
    return;
  clear_timer (&lecture->grace_timer);
  open_session (lecture);
  set_state (lecture, KK_LECTURE_LIVE);
  update_light (lecture);
}

static void
on_source_stopped (KkIngest *ingest, const char *reason, gpointer user_data)
{
  KkLecture *lecture = user_data;
  gboolean had_session = lecture->session_open;

  if (ingest != lecture->ingest)
    return;
  GST_INFO ("room %s: source lost (%s)", room_id (lecture), reason);
  retire_ingest (lecture, TRUE);

  if (lecture->pipeline_source && lecture->retry_timer == 0)
    lecture->retry_timer = g_timeout_add_seconds (PIPELINE_RETRY_S,
        on_retry_pipeline, lecture);

  if (had_session) {
    set_state (lecture, KK_LECTURE_GRACE);
    clear_timer (&lecture->grace_timer);
    lecture->grace_timer = g_timeout_add_seconds (
        MAX (lecture->config->reconnect_grace_s, 1), on_grace_expired, lecture);
  } else {
    set_state (lecture, KK_LECTURE_IDLE);
  }
}

static void
on_keyframe_wanted (KkFeed *feed, gpointer user_data)
{
  KkLecture *lecture = user_data;

  if (lecture->ingest != NULL)
    kk_ingest_request_keyframe (lecture->ingest);
}

/* ---- the light layer ---- */

/* The full layer's packets, on the ingest's streaming thread. The first
 * call primes the layer with the cached GOP, so that it starts from its
 * keyframe at once instead of asking the host for another, which every
 * viewer would get: priming hands the whole GOP over without the
 * decoder-backlog test, which would otherwise drop most of it and ask
 * for that keyframe after all (the packet itself is in that GOP: the
 * layer skips it the second time). */
static void
light_tap (KkPacket *packet, gpointer user_data)
{
  KkLecture *lecture = user_data;

  if (packet->kind != KK_TRACK_VIDEO)
    return;
  if (!lecture->light_primed) {
    gint64 age_us;
    g_autoptr (GPtrArray) gop = kk_feed_get_gop (lecture->feed, &age_us);

    kk_light_layer_prime (lecture->light, gop);
    lecture->light_primed = TRUE;
  }
  kk_light_layer_push (lecture->light, packet);
}

/* The light layer's streaming thread. */
static void
on_light_packet (const guint8 *rtp, gsize len, gint64 capture_wall_us,
    gpointer user_data)
{
  KkLecture *lecture = user_data;

  kk_feed_push_light (lecture->feed, lecture->light_codec, rtp, len,
      capture_wall_us);
}

/* From within kk_light_layer_push (): folded with the viewers' requests. */
static void
on_light_needs_keyframe (gpointer user_data)
{
  KkLecture *lecture = user_data;

  kk_feed_request_keyframe (lecture->feed);
}

static void
stop_light (KkLecture *lecture)
{
  clear_timer (&lecture->light_retry_timer);
  if (lecture->light == NULL)
    return;
  /* After this the tap is not running and will not run again. */
  kk_feed_remove_tap (lecture->feed, lecture->light_tap);
  lecture->light_tap = 0;
  g_clear_pointer (&lecture->light, kk_light_layer_free);
  GST_INFO ("room %s: light layer stopped", room_id (lecture));
}

static void on_light_error (const GError *error, gpointer user_data);
static gboolean on_light_retry (gpointer user_data);
static void light_failed (KkLecture *lecture);

static const KkLightLayerCallbacks light_callbacks = {
  .packet = on_light_packet,
  .error = on_light_error,
  .need_keyframe = on_light_needs_keyframe,
};

/* Makes the light layer if it is wanted, in the codec of the video the
 * room has now (again, should the host come back with another). */
static void
update_light (KkLecture *lecture)
{
  g_autoptr (GError) error = NULL;
  KkCodec codec = kk_feed_get_video_codec (lecture->feed);

  if (!lecture->light_wanted) {
    stop_light (lecture);
    return;
  }
  /* Stopped already; its retry timer runs. */
  if (lecture->light_failed)
    return;
  if (lecture->light != NULL && lecture->light_codec == codec)
    return;
  stop_light (lecture);
  if (codec == KK_CODEC_NONE) {
    lecture->light_retry_timer = g_timeout_add_seconds (LIGHT_RETRY_S,
        on_light_retry, lecture);
    return;
  }
  lecture->light_codec = codec;
  lecture->light = kk_light_layer_new (lecture->config->pipelines_dir, codec,
      &light_callbacks, lecture, &error);
  if (lecture->light == NULL) {
    GST_WARNING ("room %s: no light layer: %s", room_id (lecture),
        error->message);
    light_failed (lecture);
    return;
  }
  {
    g_autofree char *name = g_strdup_printf ("room %s", room_id (lecture));

    kk_light_layer_set_name (lecture->light, name);
  }
  lecture->light_primed = FALSE;
  lecture->light_tap = kk_feed_add_tap (lecture->feed, light_tap, lecture);
  GST_INFO ("room %s: light layer started", room_id (lecture));
}

/* The host's video came in another codec (or at all): the light layer is
 * made again in it, should it be wanted. media_started cannot tell, as it
 * fires on the first packet of either kind. */
static void
on_video_codec_changed (KkFeed *feed, gpointer user_data)
{
  update_light (user_data);
}

static gboolean
on_light_retry (gpointer user_data)
{
  KkLecture *lecture = user_data;

  lecture->light_retry_timer = 0;
  update_light (lecture);
  return G_SOURCE_REMOVE;
}

static gboolean
on_light_failed_retry (gpointer user_data)
{
  KkLecture *lecture = user_data;

  lecture->light_retry_timer = 0;
  lecture->light_failed = FALSE;
  update_light (lecture);
  return G_SOURCE_REMOVE;
}

/* The light layer is stopped (or was never made): it is tried again
 * later, with back-off. */
static void
light_failed (KkLecture *lecture)
{
  guint delay_s = lecture->light_failures == 0
      ? LIGHT_FAILED_FIRST_RETRY_S : LIGHT_FAILED_RETRY_S;

  lecture->light_failed = TRUE;
  lecture->light_failures++;
  clear_timer (&lecture->light_retry_timer);
  lecture->light_retry_timer = g_timeout_add_seconds (delay_s,
      on_light_failed_retry, lecture);
  GST_INFO ("room %s: light layer tried again in %u s", room_id (lecture),
      delay_s);
}

/* The viewers it served fall back to the full picture or sound only. */
static void
on_light_error (const GError *error, gpointer user_data)
{
  KkLecture *lecture = user_data;

  GST_WARNING ("room %s: light layer failed: %s", room_id (lecture),
      error->message);
  stop_light (lecture);
  light_failed (lecture);
}

static void
on_light_wanted (KkFeed *feed, gboolean wanted, gpointer user_data)
{
  KkLecture *lecture = user_data;

  lecture->light_wanted = wanted;
  if (!wanted) {
    lecture->light_failed = FALSE;
    lecture->light_failures = 0;
  }
  update_light (lecture);
}

static void
on_light_keyframe_wanted (KkFeed *feed, gpointer user_data)
{
  KkLecture *lecture = user_data;

  if (lecture->light != NULL)
    kk_light_layer_request_keyframe (lecture->light);
}

static const KkIngestCallbacks ingest_callbacks = {
  .media_started = on_media_started,
  .stopped = on_source_stopped,
};

gboolean
kk_lecture_start_pipeline (KkLecture *lecture, GError **error)
{
  g_autofree char *what = g_strconcat ("source ", room_id (lecture), NULL);
  g_autoptr (GError) load_error = NULL;
  GstElement *pipeline;
  KkIngest *ingest;

  lecture->pipeline_source = TRUE;
  pipeline = kk_pipeline_file_load (lecture->config->pipelines_dir,
      kk_room_get_source (lecture->room),
      kk_room_get_source_uri (lecture->room), what, &load_error);
  if (pipeline == NULL) {
    g_set_error_literal (error, KK_INGEST_ERROR, KK_INGEST_ERROR_PIPELINE,
        load_error->message);
    return FALSE;
  }
  ingest = kk_ingest_new_pipeline (room_id (lecture), pipeline, lecture->feed,
      &ingest_callbacks, lecture, error);
  if (ingest == NULL)
    return FALSE;
  lecture->ingest = ingest;
  if (lecture->state == KK_LECTURE_IDLE)
    set_state (lecture, KK_LECTURE_STARTING);
  return TRUE;
}

static gboolean
on_retry_pipeline (gpointer user_data)
{
  KkLecture *lecture = user_data;
  g_autoptr (GError) error = NULL;

  lecture->retry_timer = 0;
  if (lecture->ingest != NULL)
    return G_SOURCE_REMOVE;
  if (!kk_lecture_start_pipeline (lecture, &error)) {
    g_warning ("room %s: %s", room_id (lecture), error->message);
    lecture->retry_timer = g_timeout_add_seconds (PIPELINE_RETRY_S,
        on_retry_pipeline, lecture);
  }
  return G_SOURCE_REMOVE;
}

/* ---- WHIP ---- */

typedef struct {
  KkLecture *lecture;
  char *resource_id;
  KkLecturePublishFunc func;
  gpointer user_data;
} KkPublishCall;

static void
on_ingest_answered (KkIngest *ingest, const char *answer_sdp,
    const GError *error, gpointer user_data)
{
  KkPublishCall *call = user_data;
  KkLecture *lecture = call->lecture;

  if (error != NULL && ingest == lecture->ingest) {
    retire_ingest (lecture, TRUE);
    if (lecture->state == KK_LECTURE_STARTING)
      set_state (lecture, KK_LECTURE_IDLE);
  }
  call->func (lecture, call->resource_id, answer_sdp, error, call->user_data);
  g_object_unref (call->lecture);
  g_free (call->resource_id);
  g_free (call);
}

/* The ICE ufrag of an offer: session level, or its first m-line's. */
static char *
offer_ufrag (const GstSDPMessage *offer)
{
  const char *ufrag = gst_sdp_message_get_attribute_val (offer, "ice-ufrag");

  if (ufrag == NULL && gst_sdp_message_medias_len (offer) > 0)
    ufrag = gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (offer,
            0), "ice-ufrag");
  return g_strdup (ufrag);
}

/* Is the current publisher still holding the room? */
static gboolean
publisher_active (KkLecture *lecture)
{
  gint64 now = g_get_monotonic_time ();
  gint64 last;

  if (lecture->ingest == NULL)
    return FALSE;
  last = kk_ingest_get_last_packet_time (lecture->ingest);
  if (last != 0)
    return now - last < PUBLISHER_STALE_US;
  return now - lecture->publisher_since_mono_us < PUBLISHER_CONNECTING_US;
}

gboolean
kk_lecture_publish (KkLecture *lecture, GstSDPMessage *offer,
    KkLecturePublishFunc answered, gpointer user_data, GError **error)
{
  KkWebrtcIngestConfig ingest_config = { 0 };
  KkPublishCall *call;

  if (g_strcmp0 (kk_room_get_source (lecture->room), "whip") != 0) {
    g_set_error (error, KK_LECTURE_ERROR, KK_LECTURE_ERROR_NOT_WHIP,
        "room %s takes its lecture from a %s source, not WHIP",
        room_id (lecture), kk_room_get_source (lecture->room));
    return FALSE;
  }
  if (publisher_active (lecture)) {
    g_set_error (error, KK_LECTURE_ERROR, KK_LECTURE_ERROR_BUSY,
        "room %s already has a publisher", room_id (lecture));
    return FALSE;
  }
  if (lecture->ingest != NULL)
    GST_INFO ("room %s: a new publisher replaces a silent one",
        room_id (lecture));
  retire_ingest (lecture, FALSE);

  call = g_new0 (KkPublishCall, 1);
  call->lecture = g_object_ref (lecture);
  call->resource_id = random_resource_id ();
  call->func = answered;
  call->user_data = user_data;

  ingest_config.latency_ms = lecture->config->ingest_latency_ms;
  ingest_config.local_addresses = kk_fanout_get_addresses (lecture->fanout);
  lecture->publisher_id = g_strdup (call->resource_id);
  lecture->publisher_ufrag = offer_ufrag (offer);
  lecture->publisher_since_mono_us = g_get_monotonic_time ();
  lecture->ingest = kk_ingest_new_webrtc (room_id (lecture), offer,
      &ingest_config, lecture->feed, &ingest_callbacks, lecture,
      on_ingest_answered, call);
  if (lecture->state == KK_LECTURE_IDLE)
    set_state (lecture, KK_LECTURE_STARTING);
  return TRUE;
}

static gboolean
check_publisher (KkLecture *lecture, const char *resource_id, GError **error)
{
  if (lecture->publisher_id == NULL
      || g_strcmp0 (lecture->publisher_id, resource_id) != 0) {
    g_set_error (error, KK_LECTURE_ERROR, KK_LECTURE_ERROR_NOT_FOUND,
        "no publisher %s in room %s", resource_id, room_id (lecture));
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_lecture_publisher_trickle (KkLecture *lecture, const char *resource_id,
    const KkTrickleFragment *fragment, GError **error)
{
  if (!check_publisher (lecture, resource_id, error))
    return FALSE;
  /* New credentials mean an ICE restart (RFC 9725 §4.3.2). webrtcbin has
   * no way to answer one with a fragment; a client that gets this error
   * publishes again with POST, which takes over the room and continues
   * the session. */
  if (fragment->ice_ufrag != NULL && lecture->publisher_ufrag != NULL
      && g_strcmp0 (fragment->ice_ufrag, lecture->publisher_ufrag) != 0) {
    g_set_error (error, KK_LECTURE_ERROR, KK_LECTURE_ERROR_ICE_RESTART,
        "ICE restart is not supported; publish again with POST");
    return FALSE;
  }
  for (guint i = 0; i < fragment->candidates->len; i++) {
    const KkTrickleCandidate *c = fragment->candidates->pdata[i];

    kk_ingest_add_candidate (lecture->ingest, c->mline_index, c->candidate);
  }
  return TRUE;
}

gboolean
kk_lecture_unpublish (KkLecture *lecture, const char *resource_id,
    GError **error)
{
  if (!check_publisher (lecture, resource_id, error))
    return FALSE;
  GST_INFO ("room %s: the host ended the broadcast", room_id (lecture));
  retire_ingest (lecture, FALSE);
  clear_timer (&lecture->grace_timer);
  close_session (lecture);
  set_state (lecture, KK_LECTURE_IDLE);
  return TRUE;
}

/* ---- WHEP ---- */

static void
lecture_viewer_free (gpointer data)
{
  KkLectureViewer *entry = data;

  kk_viewer_unref (entry->viewer);
  g_free (entry->resource_id);
  g_free (entry->party_id);
  g_free (entry);
}

static void
update_viewer_count (KkLecture *lecture)
{
  kk_room_set_viewer_count (lecture->room, lecture->connected_viewers);
}

/* Attendance keeps connections that received (one that never did has no
 * row for the protocol to go with), and the protocol only of those the
 * relay sees come through a TURN server, as the statistics do: told when
 * the page reports it, or when the viewer starts receiving if the page
 * reported it before. */
static void
announce_relay_protocol (KkLectureViewer *entry)
{
  KkViewerStats stats;

  kk_viewer_get_stats (entry->viewer, &stats);
  if (entry->connected && stats.turn
      && stats.relay_protocol != KK_RELAY_PROTOCOL_UNKNOWN)
    g_signal_emit (entry->lecture, signals[SIGNAL_VIEWER_RELAY_PROTOCOL], 0,
        entry->resource_id, entry->party_id,
        kk_relay_protocol_to_string (stats.relay_protocol));
}

static void
on_viewer_connected (KkViewer *viewer, gint64 wall_us, gpointer user_data)
{
  KkLectureViewer *entry = user_data;
  KkLecture *lecture = entry->lecture;

  if (entry->connected)
    return;
  entry->connected = TRUE;
  lecture->connected_viewers++;
  update_viewer_count (lecture);
  GST_INFO ("room %s: viewer %s (party %s) receiving", room_id (lecture),
      entry->resource_id, entry->party_id);
  g_signal_emit (lecture, signals[SIGNAL_VIEWER_CONNECTED], 0,
      entry->resource_id, entry->party_id, wall_us);
  announce_relay_protocol (entry);
}

static void
on_viewer_left (KkViewer *viewer, KkViewerLeft reason, gint64 last_seen_wall_us,
    gpointer user_data)
{
  KkLectureViewer *entry = user_data;
  KkLecture *lecture = entry->lecture;

  GST_INFO ("room %s: viewer %s (party %s) left: %s", room_id (lecture),
      entry->resource_id, entry->party_id, kk_viewer_left_to_string (reason));
  if (entry->connected) {
    lecture->connected_viewers--;
    update_viewer_count (lecture);
    g_signal_emit (lecture, signals[SIGNAL_VIEWER_LEFT], 0,
        entry->resource_id, entry->party_id,
        kk_viewer_left_to_string (reason), last_seen_wall_us);
  }
  /* Frees entry. */
  g_hash_table_remove (lecture->viewers, entry->resource_id);
}

void
kk_lecture_announce_viewer_connected (KkLecture *lecture,
    const char *resource_id, const char *party_id, gint64 wall_us)
{
  lecture->connected_viewers++;
  update_viewer_count (lecture);
  g_signal_emit (lecture, signals[SIGNAL_VIEWER_CONNECTED], 0, resource_id,
      party_id, wall_us);
}

void
kk_lecture_announce_viewer_left (KkLecture *lecture, const char *resource_id,
    const char *party_id, const char *reason, gint64 last_seen_wall_us)
{
  g_return_if_fail (lecture->connected_viewers > 0);
  lecture->connected_viewers--;
  update_viewer_count (lecture);
  g_signal_emit (lecture, signals[SIGNAL_VIEWER_LEFT], 0, resource_id,
      party_id, reason, last_seen_wall_us);
}

static const KkViewerCallbacks viewer_callbacks = {
  .connected = on_viewer_connected,
  .left = on_viewer_left,
};

char *
kk_lecture_add_viewer (KkLecture *lecture, const KkViewerOffer *offer,
    gboolean local_peer, const char *party_id, char **resource_id,
    GError **error)
{
  KkLectureViewer *entry = g_new0 (KkLectureViewer, 1);
  char *answer = NULL;

  entry->lecture = lecture;
  entry->resource_id = random_resource_id ();
  entry->party_id = g_strdup (party_id);
  entry->viewer = kk_viewer_new (lecture->feed, offer, local_peer,
      &viewer_callbacks, entry, &answer, error);
  if (entry->viewer == NULL) {
    g_free (entry->resource_id);
    g_free (entry->party_id);
    g_free (entry);
    return NULL;
  }
  g_hash_table_insert (lecture->viewers, entry->resource_id, entry);
  *resource_id = g_strdup (entry->resource_id);
  return answer;
}

gboolean
kk_lecture_remove_viewer (KkLecture *lecture, const char *resource_id,
    GError **error)
{
  KkLectureViewer *entry = g_hash_table_lookup (lecture->viewers, resource_id);

  if (entry == NULL) {
    g_set_error (error, KK_LECTURE_ERROR, KK_LECTURE_ERROR_NOT_FOUND,
        "no viewer %s in room %s", resource_id, room_id (lecture));
    return FALSE;
  }
  kk_viewer_close (entry->viewer);
  return TRUE;
}

gint64
kk_lecture_party_wait_us (KkLecture *lecture, const char *party_id)
{
  gint64 now = g_get_monotonic_time ();
  gint64 connect_us = (gint64) lecture->config->whep_connect_timeout_s
      * G_USEC_PER_SEC;
  gint64 wait = (gint64) lecture->config->consent_timeout_s * G_USEC_PER_SEC;
  guint count = 0;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, lecture->viewers);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    KkLectureViewer *entry = value;

    if (g_strcmp0 (entry->party_id, party_id) != 0)
      continue;
    count++;
    /* One not yet receiving expires by the connect timeout; otherwise a
     * screen that went away leaves once its consent runs out. */
    if (!entry->connected)
      wait = MIN (wait, kk_viewer_get_created_us (entry->viewer) + connect_us
          - now);
  }
  if (count < KK_LECTURE_MAX_VIEWERS_PER_PARTY)
    return 0;
  return MAX (wait, G_USEC_PER_SEC);
}

KkViewer *
kk_lecture_get_viewer (KkLecture *lecture, const char *resource_id)
{
  KkLectureViewer *entry = g_hash_table_lookup (lecture->viewers, resource_id);

  return entry ? entry->viewer : NULL;
}

gboolean
kk_lecture_set_viewer_relay_protocol (KkLecture *lecture,
    const char *resource_id, KkRelayProtocol protocol)
{
  KkLectureViewer *entry = g_hash_table_lookup (lecture->viewers, resource_id);

  if (entry == NULL)
    return FALSE;
  kk_viewer_set_relay_protocol (entry->viewer, protocol);
  announce_relay_protocol (entry);
  return TRUE;
}

void
kk_lecture_foreach_connected_viewer (KkLecture *lecture,
    KkLectureViewerFunc func, gpointer user_data)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, lecture->viewers);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    KkLectureViewer *entry = value;

    if (entry->connected)
      func (entry->resource_id, entry->party_id, entry->viewer, user_data);
  }
}

const char *
kk_lecture_get_viewer_party (KkLecture *lecture, const char *resource_id)
{
  KkLectureViewer *entry = g_hash_table_lookup (lecture->viewers, resource_id);

  return entry ? entry->party_id : NULL;
}

/* ---- lifecycle ---- */

KkRoom *
kk_lecture_get_room (KkLecture *lecture)
{
  return lecture->room;
}

KkFeed *
kk_lecture_get_feed (KkLecture *lecture)
{
  return lecture->feed;
}

const char *
kk_lecture_get_session_id (KkLecture *lecture)
{
  return lecture->session_open ? lecture->session_id : NULL;
}

gboolean
kk_lecture_has_live_source (KkLecture *lecture)
{
  return lecture->ingest != NULL && lecture->state == KK_LECTURE_LIVE;
}

void
kk_lecture_stop (KkLecture *lecture)
{
  g_autoptr (GPtrArray) viewers = NULL;
  GHashTableIter iter;
  gpointer value;

  clear_timer (&lecture->grace_timer);
  clear_timer (&lecture->retry_timer);
  lecture->pipeline_source = FALSE;
  retire_ingest (lecture, FALSE);
  close_session (lecture);
  set_state (lecture, KK_LECTURE_IDLE);
  /* The session's handlers may have run the main context (a recording
   * finishing), and closing may let viewers leave the table: work on a
   * snapshot. */
  viewers = g_ptr_array_new_with_free_func ((GDestroyNotify) kk_viewer_unref);
  g_hash_table_iter_init (&iter, lecture->viewers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (viewers, kk_viewer_ref (((KkLectureViewer *) value)->viewer));
  for (guint i = 0; i < viewers->len; i++)
    kk_viewer_close (viewers->pdata[i]);
}

KkLecture *
kk_lecture_new (KkRoom *room, KkFanout *fanout, KkStore *store,
    const KkConfig *config)
{
  KkLecture *lecture = g_object_new (KK_TYPE_LECTURE, NULL);
  KkFeedCallbacks feed_callbacks = {
    .request_keyframe = on_keyframe_wanted,
    .light_wanted = on_light_wanted,
    .request_light_keyframe = on_light_keyframe_wanted,
    .video_codec_changed = on_video_codec_changed,
  };

  lecture->room = g_object_ref (room);
  lecture->fanout = fanout;
  lecture->store = g_object_ref (store);
  lecture->config = config;
  lecture->feed = kk_feed_new (fanout, kk_room_get_id (room), &feed_callbacks,
      lecture);
  return lecture;
}

static void
kk_lecture_finalize (GObject *object)
{
  KkLecture *lecture = KK_LECTURE (object);

  clear_timer (&lecture->grace_timer);
  clear_timer (&lecture->retry_timer);
  stop_light (lecture);
  retire_ingest (lecture, FALSE);
  g_hash_table_unref (lecture->viewers);
  kk_feed_free (lecture->feed);
  g_free (lecture->session_id);
  g_clear_object (&lecture->store);
  g_clear_object (&lecture->room);

  G_OBJECT_CLASS (kk_lecture_parent_class)->finalize (object);
}

static void
kk_lecture_class_init (KkLectureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = kk_lecture_finalize;

  /**
   * KkLecture::session-opened:
   * @session_id: the session, as stored: the room's scheduled session
   *   the broadcast took over, or a new, ad hoc one
   * @started_wall_us: when the broadcast went live (g_get_real_time)
   *
   * A broadcast went live. A host reconnecting within the grace period
   * does not open a new one.
   */
  signals[SIGNAL_SESSION_OPENED] = g_signal_new ("session-opened",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT64);
  /**
   * KkLecture::session-closed:
   * @session_id: the session
   * @ended_wall_us: when the broadcast ended
   */
  signals[SIGNAL_SESSION_CLOSED] = g_signal_new ("session-closed",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT64);
  /**
   * KkLecture::viewer-connected:
   * @resource_id: the WHEP resource (one connection)
   * @party_id: who holds the token (a person, or a group at one screen)
   * @wall_us: when media started to flow to it
   *
   * Emitted whether or not the lecture is live: a viewer may connect
   * before the broadcast starts.
   */
  signals[SIGNAL_VIEWER_CONNECTED] = g_signal_new ("viewer-connected",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT64);
  /**
   * KkLecture::viewer-left:
   * @resource_id: the WHEP resource
   * @party_id: its party
   * @reason: "closed" (DELETE or shutdown), "consent-expired", ...
   * @last_seen_wall_us: the last moment it was known to receive
   *
   * Follows viewer-connected exactly once.
   */
  signals[SIGNAL_VIEWER_LEFT] = g_signal_new ("viewer-left",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
      G_TYPE_INT64);
  /**
   * KkLecture::viewer-relay-protocol:
   * @resource_id: the WHEP resource
   * @party_id: its party
   * @relay_protocol: "udp", "tcp" or "tls": how its browser reaches the
   *   TURN server it receives through, as its page reported
   *
   * Emitted between viewer-connected and viewer-left, each time the page
   * reports.
   */
  signals[SIGNAL_VIEWER_RELAY_PROTOCOL] = g_signal_new ("viewer-relay-protocol",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  GST_DEBUG_CATEGORY_INIT (kk_lecture_debug, "kk-lecture", 0,
      "Kringkast lectures");
}

static void
kk_lecture_init (KkLecture *lecture)
{
  lecture->viewers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      lecture_viewer_free);
}
