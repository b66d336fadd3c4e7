/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-fanout: the forwarding core's control side. It creates the media port
 * and the workers, turns a viewer's offer into an answer and a viewer
 * placed on the least loaded worker, keeps the directory the port thread
 * demultiplexes with, and delivers viewer events on the main context.
 *
 * A viewer's end always runs through finish_viewer () on the main thread,
 * whoever noticed it (a DELETE here, consent expiry in a worker): it takes
 * the viewer out of the directory so the port thread stops routing to it,
 * then calls its left callback exactly once.
 */
#include "kk-fanout-private.h"

#include <gio/gio.h>
#include <kringkast/kk-rtp.h>
#include <openssl/rand.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (kk_fanout_debug);
#define GST_CAT_DEFAULT kk_fanout_debug

G_DEFINE_QUARK (kk-fanout-error-quark, kk_fanout_error)

/* Our first DTLS retransmission timeout, doubling after. As the DTLS
 * server (browsers make us that) we retransmit a flight only when the
 * viewer's next one does not come, which the viewer's own timer covers as
 * well; as the client, a lost ClientHello costs this long. Far above a
 * viewer's round trip plus the time it takes to compute its flight, so
 * that nothing is sent twice when nothing was lost, and well below
 * OpenSSL's 1 s. */
#define DTLS_INITIAL_TIMEOUT_MS 400

/* ---- addresses as hash keys ---- */

typedef struct {
  struct sockaddr_storage addr;
  socklen_t len;
} KkAddrKey;

/* FNV-1a over the sockaddr bytes; the kernel fills unused bytes with 0. */
static guint
addr_key_hash (gconstpointer p)
{
  const KkAddrKey *key = p;
  const guint8 *bytes = (const guint8 *) &key->addr;
  guint hash = 2166136261u;

  for (socklen_t i = 0; i < key->len; i++)
    hash = (hash ^ bytes[i]) * 16777619u;
  return hash;
}

static gboolean
addr_key_equal (gconstpointer a, gconstpointer b)
{
  const KkAddrKey *x = a, *y = b;

  return x->len == y->len && memcmp (&x->addr, &y->addr, x->len) == 0;
}

/* ---- small helpers ---- */

static void
random_token (char *out, gsize len)
{
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  guint8 bytes[64];

  g_assert (len <= sizeof (bytes));
  if (RAND_bytes (bytes, len) != 1)
    g_error ("no randomness from OpenSSL");
  for (gsize i = 0; i < len; i++)
    out[i] = alphabet[bytes[i] & 63];
  out[len] = '\0';
}

static void
random_hex (char *out, gsize bytes_len)
{
  guint8 bytes[32];

  g_assert (bytes_len <= sizeof (bytes));
  if (RAND_bytes (bytes, bytes_len) != 1)
    g_error ("no randomness from OpenSSL");
  for (gsize i = 0; i < bytes_len; i++)
    g_snprintf (out + 2 * i, 3, "%02x", bytes[i]);
}

gint64
kk_mono_to_wall_us (gint64 mono_us)
{
  return g_get_real_time () - (g_get_monotonic_time () - mono_us);
}

const char *
kk_viewer_left_to_string (KkViewerLeft reason)
{
  switch (reason) {
    case KK_VIEWER_LEFT_CLOSED:
      return "closed";
    case KK_VIEWER_LEFT_CONSENT:
      return "consent-expired";
    case KK_VIEWER_LEFT_NEVER_CONNECTED:
      return "never-connected";
    case KK_VIEWER_LEFT_DTLS_FAILED:
      return "dtls-failed";
    case KK_VIEWER_LEFT_DTLS_CLOSED:
      return "dtls-closed";
  }
  return "unknown";
}

/* ---- the core ---- */

static guint
default_workers (void)
{
  guint n = g_get_num_processors ();

  return CLAMP (n, 1, 64);
}

KkFanout *
kk_fanout_new (const KkFanoutConfig *config, GError **error)
{
  KkFanout *fanout;

  if (kk_fanout_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_fanout_debug, "kk-fanout", 0,
        "Kringkast forwarding core");

  fanout = g_new0 (KkFanout, 1);
  fanout->config = *config;
  fanout->config.public_ips = NULL;
  fanout->config.turn_relay_addresses = NULL;
  fanout->turn_relays = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; config->turn_relay_addresses != NULL
      && config->turn_relay_addresses[i] != NULL; i++) {
    GInetAddress *relay = g_inet_address_new_from_string (
        config->turn_relay_addresses[i]);

    if (relay != NULL)
      g_ptr_array_add (fanout->turn_relays, relay);
  }
  fanout->main_context = g_main_context_ref_thread_default ();
  fanout->udp_fd = -1;
  fanout->tcp_fd = -1;
  fanout->port_epoll = -1;
  fanout->port_wake_fd = -1;
  g_mutex_init (&fanout->dir_lock);
  fanout->by_ufrag = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) kk_viewer_unref);
  fanout->by_addr = g_hash_table_new_full (addr_key_hash, addr_key_equal,
      g_free, (GDestroyNotify) kk_viewer_unref);
  fanout->viewers = g_hash_table_new_full (NULL, NULL,
      (GDestroyNotify) kk_viewer_unref, NULL);
  fanout->tcp_conns = g_hash_table_new_full (NULL, NULL,
      (GDestroyNotify) kk_tcp_conn_unref, NULL);

  fanout->dtls = kk_dtls_context_new (error);
  if (fanout->dtls == NULL)
    goto error;

  if (config->public_ips != NULL && config->public_ips[0] != NULL)
    fanout->addresses = g_strdupv (config->public_ips);

  if (!kk_media_port_open (fanout, error))
    goto error;

  fanout->n_workers = config->workers > 0 ? config->workers : default_workers ();
  fanout->workers = g_new0 (KkWorker *, fanout->n_workers);
  for (guint i = 0; i < fanout->n_workers; i++) {
    fanout->workers[i] = kk_worker_new (fanout, i);
    kk_worker_start (fanout->workers[i]);
  }
  kk_media_port_start (fanout);

  {
    g_autofree char *list = g_strjoinv (" ", fanout->addresses);

    GST_INFO ("media port %u (UDP and ICE-TCP), %u workers, candidates on %s",
        fanout->port, fanout->n_workers, list);
  }
  return fanout;

error:
  kk_fanout_free (fanout);
  return NULL;
}

void
kk_fanout_free (KkFanout *fanout)
{
  GHashTableIter iter;
  gpointer key;
  g_autoptr (GPtrArray) remaining = NULL;

  if (fanout == NULL)
    return;

  kk_media_port_stop (fanout);
  for (guint i = 0; i < fanout->n_workers; i++)
    kk_worker_stop (fanout->workers[i]);

  /* The threads are gone: deliver what they dispatched, then end every
   * viewer still here so that its left callback runs before we go. */
  while (g_main_context_iteration (fanout->main_context, FALSE))
    ;
  remaining = g_ptr_array_new_with_free_func ((GDestroyNotify) kk_viewer_unref);
  g_hash_table_iter_init (&iter, fanout->viewers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (remaining, kk_viewer_ref (key));
  for (guint i = 0; i < remaining->len; i++)
    kk_viewer_dispatch_left (remaining->pdata[i], KK_VIEWER_LEFT_CLOSED);
  while (g_main_context_iteration (fanout->main_context, FALSE))
    ;

  for (guint i = 0; i < fanout->n_workers; i++)
    kk_worker_free (fanout->workers[i]);
  g_free (fanout->workers);

  g_hash_table_unref (fanout->tcp_conns);
  g_clear_pointer (&fanout->turn_relays, g_ptr_array_unref);
  g_hash_table_unref (fanout->viewers);
  g_hash_table_unref (fanout->by_addr);
  g_hash_table_unref (fanout->by_ufrag);
  g_mutex_clear (&fanout->dir_lock);
  g_clear_pointer (&fanout->dtls, kk_dtls_context_free);
  g_strfreev (fanout->addresses);
  g_main_context_unref (fanout->main_context);
  g_free (fanout);
}

guint16
kk_fanout_get_port (KkFanout *fanout)
{
  return fanout->port;
}

const char *const *
kk_fanout_get_addresses (KkFanout *fanout)
{
  return (const char *const *) fanout->addresses;
}

/* ---- the directory ---- */

void
kk_fanout_directory_bind_addr (KkFanout *fanout,
    const struct sockaddr_storage *addr, socklen_t len, KkViewer *viewer)
{
  KkAddrKey *key = g_new0 (KkAddrKey, 1);

  memcpy (&key->addr, addr, len);
  key->len = len;
  g_mutex_lock (&fanout->dir_lock);
  /* A viewer that is closing must not come back through a late check. */
  if (g_hash_table_contains (fanout->by_ufrag, viewer->ufrag))
    g_hash_table_replace (fanout->by_addr, key, kk_viewer_ref (viewer));
  else
    g_free (key);
  g_mutex_unlock (&fanout->dir_lock);
}

KkViewer *
kk_fanout_directory_by_ufrag (KkFanout *fanout, const char *ufrag)
{
  KkViewer *viewer;

  g_mutex_lock (&fanout->dir_lock);
  viewer = g_hash_table_lookup (fanout->by_ufrag, ufrag);
  if (viewer != NULL)
    kk_viewer_ref (viewer);
  g_mutex_unlock (&fanout->dir_lock);
  return viewer;
}

KkViewer *
kk_fanout_directory_by_addr (KkFanout *fanout,
    const struct sockaddr_storage *addr, socklen_t len)
{
  KkAddrKey key;
  KkViewer *viewer;

  memcpy (&key.addr, addr, len);
  key.len = len;
  g_mutex_lock (&fanout->dir_lock);
  viewer = g_hash_table_lookup (fanout->by_addr, &key);
  if (viewer != NULL)
    kk_viewer_ref (viewer);
  g_mutex_unlock (&fanout->dir_lock);
  return viewer;
}

static gboolean
is_viewer (gpointer key, gpointer value, gpointer user_data)
{
  return value == user_data;
}

static void
directory_remove (KkFanout *fanout, KkViewer *viewer)
{
  g_mutex_lock (&fanout->dir_lock);
  g_hash_table_remove (fanout->by_ufrag, viewer->ufrag);
  g_hash_table_foreach_remove (fanout->by_addr, is_viewer, viewer);
  g_mutex_unlock (&fanout->dir_lock);
}

/* ---- feeds ---- */

static void
cancel_light_linger (KkFeed *feed)
{
  GSource *source;

  if (feed->light_linger_source == 0)
    return;
  source = g_main_context_find_source_by_id (feed->main_context,
      feed->light_linger_source);
  if (source != NULL)
    g_source_destroy (source);
  feed->light_linger_source = 0;
}

KkFeed *
kk_feed_new (KkFanout *fanout, const char *name,
    const KkFeedCallbacks *callbacks, gpointer user_data)
{
  KkFeed *feed = g_new0 (KkFeed, 1);
  guint32 audio_ssrc = g_random_int ();
  guint32 video_ssrc;

  do
    video_ssrc = g_random_int ();
  while (video_ssrc == audio_ssrc);

  feed->fanout = fanout;
  feed->name = g_strdup (name);
  feed->cname = g_strdup_printf ("kringkast-%s", name);
  feed->tracks[KK_TRACK_AUDIO] = kk_track_new (KK_TRACK_AUDIO, audio_ssrc, 48000);
  feed->tracks[KK_TRACK_VIDEO] = kk_track_new (KK_TRACK_VIDEO, video_ssrc, 90000);
  /* One SSRC for the viewer's video, whichever layer it comes from. */
  feed->light = kk_track_new_light (video_ssrc);
  feed->light_users_on_worker = g_new0 (gint, fanout->n_workers);
  feed->main_context = g_main_context_ref (fanout->main_context);
  feed->light_linger_ms = fanout->config.light_linger_ms;
  feed->light_pushed_mono_us = G_MININT64 / 2;
  feed->last_light_keyframe_request_mono_us = G_MININT64 / 2;
  if (callbacks != NULL)
    feed->callbacks = *callbacks;
  feed->user_data = user_data;
  feed->last_keyframe_request_mono_us = G_MININT64 / 2;
  feed->last_upswitch_keyframe_request_mono_us = G_MININT64 / 2;
  g_mutex_init (&feed->tap_lock);
  feed->taps = g_array_new (FALSE, FALSE, sizeof (FeedTap));
  return feed;
}

void
kk_feed_free (KkFeed *feed)
{
  if (feed == NULL)
    return;
  for (guint i = 0; i < KK_TRACK_N; i++)
    kk_track_free (feed->tracks[i]);
  kk_track_free (feed->light);
  g_free (feed->light_users_on_worker);
  cancel_light_linger (feed);
  g_main_context_unref (feed->main_context);
  g_array_unref (feed->taps);
  g_mutex_clear (&feed->tap_lock);
  g_free (feed->cname);
  g_free (feed->name);
  g_free (feed);
}

static guint32
feed_ssrc (KkFeed *feed, KkTrackKind kind)
{
  return kk_track_get_ssrc (feed->tracks[kind]);
}

static gboolean
invoke_video_codec_changed (gpointer data)
{
  KkFeed *feed = data;

  if (feed->callbacks.video_codec_changed != NULL)
    feed->callbacks.video_codec_changed (feed, feed->user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
invoke_keyframe_request (gpointer data)
{
  KkFeed *feed = data;

  if (feed->callbacks.request_keyframe != NULL)
    feed->callbacks.request_keyframe (feed, feed->user_data);
  return G_SOURCE_REMOVE;
}

/* Any thread. TRUE for the one call per @interval_us that may ask, with
 * *@last_mono_us (atomic) the time of the last. */
static gboolean
fold_request (gint64 *last_mono_us, gint64 interval_us)
{
  gint64 now = g_get_monotonic_time ();
  gint64 last = __atomic_load_n (last_mono_us, __ATOMIC_ACQUIRE);

  if (now - last < interval_us)
    return FALSE;
  return __atomic_compare_exchange_n (last_mono_us, &last, now, FALSE,
      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Any thread. Folds the requests of all viewers into at most one per
 * interval: a room of 500 nurses on a lossy network must not make the
 * host's encoder send nothing but keyframes. */
gboolean
kk_feed_request_keyframe (KkFeed *feed)
{
  if (!fold_request (&feed->last_keyframe_request_mono_us,
          KK_FANOUT_KEYFRAME_INTERVAL_MS * 1000))
    return FALSE;
  __atomic_fetch_add (&feed->fanout->keyframe_requests, 1, __ATOMIC_RELAXED);
  GST_DEBUG ("feed %s: asking the publisher for a keyframe", feed->name);
  /* The feed outlives every viewer and ingest of its lecture, and the
   * lecture frees it on the main context, after pending sources ran. */
  g_main_context_invoke (feed->main_context, invoke_keyframe_request, feed);
  return TRUE;
}

/* Any thread. A viewer moving up to the full layer waited long for its
 * next keyframe; the keyframe asked for goes to every viewer, so at most
 * one such request per KK_FEED_UPSWITCH_KEYFRAME_INTERVAL_S. */
void
kk_feed_request_upswitch_keyframe (KkFeed *feed)
{
  if (!fold_request (&feed->last_upswitch_keyframe_request_mono_us,
          KK_FEED_UPSWITCH_KEYFRAME_INTERVAL_S * G_USEC_PER_SEC))
    return;
  __atomic_fetch_add (&feed->fanout->upswitch_keyframe_requests, 1,
      __ATOMIC_RELAXED);
  kk_feed_request_keyframe (feed);
}

static gboolean
invoke_light_keyframe_request (gpointer data)
{
  KkFeed *feed = data;

  if (feed->callbacks.request_light_keyframe != NULL)
    feed->callbacks.request_light_keyframe (feed, feed->user_data);
  return G_SOURCE_REMOVE;
}

/* The light layer is the relay's own encoder: asking it costs no one else
 * anything, but a keyframe per viewer and tick would still be a waste. */
void
kk_feed_request_light_keyframe (KkFeed *feed)
{
  if (!fold_request (&feed->last_light_keyframe_request_mono_us,
          KK_FANOUT_KEYFRAME_INTERVAL_MS * 1000))
    return;
  GST_DEBUG ("feed %s: asking the light layer for a keyframe", feed->name);
  g_main_context_invoke (feed->main_context, invoke_light_keyframe_request,
      feed);
}

KkCodec
kk_feed_get_video_codec (KkFeed *feed)
{
  return __atomic_load_n (&feed->video_codec, __ATOMIC_RELAXED);
}

gboolean
kk_feed_light_flowing (KkFeed *feed, gint64 now_mono_us)
{
  return now_mono_us - __atomic_load_n (&feed->light_pushed_mono_us,
      __ATOMIC_RELAXED) <= KK_FEED_LIGHT_FLOWING_US;
}

static void
set_light_wanted (KkFeed *feed, gboolean wanted)
{
  if (feed->light_wanted == wanted)
    return;
  feed->light_wanted = wanted;
  GST_INFO ("feed %s: light layer %s", feed->name,
      wanted ? "wanted" : "no longer wanted");
  if (feed->callbacks.light_wanted != NULL)
    feed->callbacks.light_wanted (feed, wanted, feed->user_data);
}

static gboolean
light_linger_done (gpointer data)
{
  KkFeed *feed = data;

  feed->light_linger_source = 0;
  if (g_atomic_int_get (&feed->light_users) == 0)
    set_light_wanted (feed, FALSE);
  return G_SOURCE_REMOVE;
}

/* Main context: the number of viewers needing the light layer went from 0
 * or to 0 (and may have changed again since). */
static gboolean
light_users_changed (gpointer data)
{
  KkFeed *feed = data;

  if (g_atomic_int_get (&feed->light_users) > 0) {
    cancel_light_linger (feed);
    set_light_wanted (feed, TRUE);
  } else if (feed->light_wanted && feed->light_linger_source == 0) {
    guint linger_ms = feed->light_linger_ms;
    GSource *source = linger_ms > 0 ? g_timeout_source_new (linger_ms)
        : g_timeout_source_new_seconds (KK_FEED_LIGHT_LINGER_S);

    g_source_set_callback (source, light_linger_done, feed, NULL);
    feed->light_linger_source = g_source_attach (source, feed->main_context);
    g_source_unref (source);
  }
  return G_SOURCE_REMOVE;
}

void
kk_feed_add_light_user (KkFeed *feed, guint worker_index, gint delta)
{
  gint before;

  g_atomic_int_add (&feed->light_users_on_worker[worker_index], delta);
  before = g_atomic_int_add (&feed->light_users, delta);

  if ((before == 0 && delta > 0) || before + delta == 0)
    g_main_context_invoke (feed->main_context, light_users_changed, feed);
}

/* Hands @packet to the workers that have viewers, and a light-layer
 * packet only to those with a viewer needing it: the others would only
 * walk their viewers to find none that takes it. A viewer that starts
 * needing it misses nothing it could use, since it waits for the light
 * layer's next keyframe anyway. */
static void
post_packet (KkFeed *feed, KkPacket *packet)
{
  KkFanout *fanout = feed->fanout;
  gboolean light = packet->layer == KK_LAYER_LIGHT;

  for (guint i = 0; i < fanout->n_workers; i++) {
    KkWorker *worker = fanout->workers[i];
    KkWorkItem item = { 0 };

    if (g_atomic_int_get (light ? &feed->light_users_on_worker[i]
            : &worker->n_viewers) <= 0)
      continue;
    item.type = KK_ITEM_PACKET;
    item.feed = feed;
    item.packet = kk_packet_ref (packet);
    kk_worker_post (worker, &item);
    if (light)
      __atomic_fetch_add (&worker->light_packets_posted, 1, __ATOMIC_RELAXED);
  }
}

void
kk_feed_push_light (KkFeed *feed, KkCodec codec, const guint8 *rtp,
    gsize len, gint64 capture_wall_us)
{
  KkFanout *fanout = feed->fanout;
  KkPacket *packet = NULL;
  gboolean need_keyframe;
  KkTrackPushResult result;

  result = kk_track_push (feed->light, rtp, len, codec, capture_wall_us,
      &packet, &need_keyframe);
  if (result != KK_TRACK_PUSH_OK) {
    __atomic_fetch_add (&fanout->ingest_rejected, 1, __ATOMIC_RELAXED);
    GST_LOG ("feed %s: light packet rejected (%d)", feed->name, result);
    return;
  }
  __atomic_store_n (&feed->light_pushed_mono_us, g_get_monotonic_time (),
      __ATOMIC_RELAXED);
  __atomic_fetch_add (&feed->bytes_pushed[KK_LAYER_LIGHT], packet->len,
      __ATOMIC_RELAXED);
  if (need_keyframe)
    kk_feed_request_light_keyframe (feed);
  post_packet (feed, packet);
  kk_packet_unref (packet);
}

void
kk_feed_push (KkFeed *feed, KkTrackKind kind, KkCodec codec,
    const guint8 *rtp, gsize len, gint64 capture_wall_us)
{
  KkFanout *fanout = feed->fanout;
  KkPacket *packet = NULL;
  gboolean need_keyframe;
  KkTrackPushResult result;

  result = kk_track_push (feed->tracks[kind], rtp, len, codec,
      capture_wall_us, &packet, &need_keyframe);
  if (result != KK_TRACK_PUSH_OK) {
    __atomic_fetch_add (&fanout->ingest_rejected, 1, __ATOMIC_RELAXED);
    GST_LOG ("feed %s: packet rejected (%d)", feed->name, result);
    return;
  }
  __atomic_fetch_add (&fanout->ingest_packets, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add (&feed->bytes_pushed[kind == KK_TRACK_AUDIO
          ? KK_LAYER_AUDIO_ONLY : KK_LAYER_FULL], packet->len, __ATOMIC_RELAXED);
  /* Only this thread writes it while a publisher sends (the reset comes
   * after its ingest stopped): a load, and a store on a change. */
  if (kind == KK_TRACK_VIDEO
      && __atomic_load_n (&feed->video_codec, __ATOMIC_RELAXED) != (gint) codec) {
    __atomic_store_n (&feed->video_codec, codec, __ATOMIC_RELAXED);
    g_main_context_invoke (feed->main_context, invoke_video_codec_changed,
        feed);
  }
  if (need_keyframe)
    kk_feed_request_keyframe (feed);

  /* Uncontended except while a tap is being added or removed. */
  g_mutex_lock (&feed->tap_lock);
  for (guint i = 0; i < feed->taps->len; i++) {
    const FeedTap *tap = &g_array_index (feed->taps, FeedTap, i);
    tap->func (packet, tap->user_data);
  }
  g_mutex_unlock (&feed->tap_lock);

  post_packet (feed, packet);
  kk_packet_unref (packet);
}

guint
kk_feed_add_tap (KkFeed *feed, KkFeedTapFunc func, gpointer user_data)
{
  FeedTap tap = { .func = func, .user_data = user_data };

  g_return_val_if_fail (func != NULL, 0);
  g_mutex_lock (&feed->tap_lock);
  tap.id = ++feed->next_tap_id;
  g_array_append_val (feed->taps, tap);
  g_mutex_unlock (&feed->tap_lock);
  return tap.id;
}

void
kk_feed_remove_tap (KkFeed *feed, guint tap_id)
{
  g_mutex_lock (&feed->tap_lock);
  for (guint i = 0; i < feed->taps->len; i++) {
    if (g_array_index (feed->taps, FeedTap, i).id == tap_id) {
      g_array_remove_index (feed->taps, i);
      break;
    }
  }
  g_mutex_unlock (&feed->tap_lock);
}

GPtrArray *
kk_feed_get_gop (KkFeed *feed, gint64 *keyframe_age_us)
{
  return kk_track_get_gop (feed->tracks[KK_TRACK_VIDEO], keyframe_age_us);
}

GPtrArray *
kk_feed_get_recent (KkFeed *feed, KkTrackKind kind, gint64 since_wall_us)
{
  return kk_track_get_recent (feed->tracks[kind], since_wall_us);
}

void
kk_feed_reset_source (KkFeed *feed)
{
  for (guint i = 0; i < KK_TRACK_N; i++)
    kk_track_reset_source (feed->tracks[i]);
  __atomic_store_n (&feed->video_codec, KK_CODEC_NONE, __ATOMIC_RELAXED);
}

/* ---- viewers ---- */

KkViewer *
kk_viewer_ref (KkViewer *viewer)
{
  g_atomic_int_inc (&viewer->refcount);
  return viewer;
}

void
kk_viewer_unref (KkViewer *viewer)
{
  if (!g_atomic_int_dec_and_test (&viewer->refcount))
    return;
  /* The last ref: no thread can touch the worker-side state any more. */
  kk_transport_clear (&viewer->transport);
  kk_transport_clear (&viewer->port_transport);
  g_clear_pointer (&viewer->dtls, kk_dtls_free);
  g_clear_pointer (&viewer->srtp_out, kk_srtp_free);
  g_clear_pointer (&viewer->srtp_in, kk_srtp_free);
  g_free (viewer->remote_ufrag);
  g_free (viewer->remote_fp_hash);
  g_free (viewer);
}

const char *
kk_quality_to_string (KkQuality quality)
{
  switch (quality) {
    case KK_QUALITY_AUTO:
      return "auto";
    case KK_QUALITY_BEST:
      return "best";
    case KK_QUALITY_SAVE_DATA:
      return "save-data";
    case KK_QUALITY_SOUND_ONLY:
      return "sound-only";
  }
  return "unknown";
}

gboolean
kk_quality_from_string (const char *name, KkQuality *quality)
{
  for (KkQuality q = KK_QUALITY_AUTO; q <= KK_QUALITY_SOUND_ONLY; q++) {
    if (g_strcmp0 (name, kk_quality_to_string (q)) == 0) {
      *quality = q;
      return TRUE;
    }
  }
  return FALSE;
}

void
kk_viewer_set_quality (KkViewer *viewer, KkQuality quality, KkLayer start)
{
  KkWorkItem item = { 0 };

  if (viewer->closing || viewer->finished)
    return;
  __atomic_store_n (&viewer->stat_quality, quality, __ATOMIC_RELAXED);
  item.type = KK_ITEM_QUALITY;
  item.viewer = kk_viewer_ref (viewer);
  item.value = quality;
  item.len = start;
  kk_worker_post (viewer->worker, &item);
}

gint64
kk_viewer_get_created_us (KkViewer *viewer)
{
  return viewer->created_mono_us;
}

static KkWorker *
least_loaded_worker (KkFanout *fanout)
{
  KkWorker *best = fanout->workers[0];

  for (guint i = 1; i < fanout->n_workers; i++)
    if (g_atomic_int_get (&fanout->workers[i]->n_viewers)
        < g_atomic_int_get (&best->n_viewers))
      best = fanout->workers[i];
  return best;
}

/* The DTLS send function: the worker's thread, during kk_dtls_* calls. */
static void
viewer_dtls_send (const guint8 *data, gsize len, gpointer user_data)
{
  KkViewer *viewer = user_data;

  if (viewer->have_transport)
    kk_transport_send (viewer->fanout, &viewer->transport, data, len);
}

KkViewer *
kk_viewer_new (KkFeed *feed, const KkViewerOffer *offer,
    gboolean local_peer, const KkViewerCallbacks *callbacks,
    gpointer user_data, char **answer_sdp, GError **error)
{
  KkFanout *fanout = feed->fanout;
  g_autoptr (KkViewer) viewer = NULL;
  g_autofree KkSdpAddress *addresses = NULL;
  KkAnswerParams params = { 0 };
  guint n_addresses;
  gint audio_index = -1, video_index = -1;
  char *answer;
  KkWorkItem item = { 0 };

  if (offer->fingerprint_len == 0 || offer->ice_ufrag == NULL
      || offer->ice_pwd == NULL) {
    g_set_error (error, KK_FANOUT_ERROR, KK_FANOUT_ERROR_OFFER,
        "the offer has no ICE credentials or no DTLS fingerprint");
    return NULL;
  }

  viewer = g_new0 (KkViewer, 1);
  viewer->refcount = 1;
  viewer->fanout = fanout;
  viewer->feed = feed;
  random_hex (viewer->id, 8);
  random_token (viewer->ufrag, KK_ICE_UFRAG_LEN);
  random_token (viewer->pwd, KK_ICE_PWD_LEN);
  viewer->remote_ufrag = g_strdup (offer->ice_ufrag);
  viewer->remote_fp_hash = g_strdup (offer->fingerprint_hash);
  memcpy (viewer->remote_fp, offer->fingerprint, offer->fingerprint_len);
  viewer->remote_fp_len = offer->fingerprint_len;
  /* RFC 5763: the answerer to actpass picks; we take passive, so the
   * viewer's DTLS client speaks first once its ICE check went through. */
  viewer->dtls_server = offer->setup != KK_DTLS_SETUP_PASSIVE;
  for (guint i = 0; i < G_N_ELEMENTS (viewer->pt); i++)
    viewer->pt[i] = -1;
  if (callbacks != NULL)
    viewer->callbacks = *callbacks;
  viewer->user_data = user_data;
  viewer->created_mono_us = g_get_monotonic_time ();
  viewer->last_seen_mono_us = viewer->created_mono_us;
  viewer->stat_rtt_ms = -1;

  addresses = g_new0 (KkSdpAddress, g_strv_length (fanout->addresses) + 2);
  n_addresses = 0;
  if (local_peer) {
    addresses[n_addresses++].ip = "127.0.0.1";
    if (fanout->udp_is_v6)
      addresses[n_addresses++].ip = "::1";
  }
  for (guint i = 0; fanout->addresses[i] != NULL; i++) {
    if (local_peer && (strcmp (fanout->addresses[i], "127.0.0.1") == 0
            || strcmp (fanout->addresses[i], "::1") == 0))
      continue;
    addresses[n_addresses++].ip = fanout->addresses[i];
  }
  for (guint i = 0; i < n_addresses; i++)
    addresses[i].port = fanout->port;
  params.ice_ufrag = viewer->ufrag;
  params.ice_pwd = viewer->pwd;
  params.fingerprint = kk_dtls_context_get_fingerprint (fanout->dtls);
  params.setup = viewer->dtls_server ? KK_DTLS_SETUP_PASSIVE : KK_DTLS_SETUP_ACTIVE;
  params.addresses = addresses;
  params.n_addresses = n_addresses;
  params.audio_ssrc = feed_ssrc (feed, KK_TRACK_AUDIO);
  params.video_ssrc = feed_ssrc (feed, KK_TRACK_VIDEO);
  params.cname = feed->cname;
  params.stream_id = feed->name;
  params.offer_vp8 = TRUE;
  params.offer_h264 = TRUE;

  answer = kk_sdp_build_viewer_answer (offer, &params, &audio_index,
      &video_index, error);
  if (answer == NULL)
    return NULL;

  if (audio_index >= 0) {
    const KkOfferMedia *m = &offer->media[audio_index];

    viewer->pt[KK_CODEC_OPUS] = m->pt_opus;
    viewer->sends[KK_TRACK_AUDIO] = m->can_receive;
  }
  if (video_index >= 0) {
    const KkOfferMedia *m = &offer->media[video_index];

    viewer->pt[KK_CODEC_VP8] = m->pt_vp8;
    viewer->pt[KK_CODEC_H264] = m->pt_h264;
    viewer->sends[KK_TRACK_VIDEO] = m->can_receive;
  }
  viewer->stat_layer = viewer->sends[KK_TRACK_VIDEO] ? KK_LAYER_FULL
      : KK_LAYER_AUDIO_ONLY;

  viewer->dtls = kk_dtls_new (fanout->dtls, viewer->dtls_server,
      viewer->remote_fp_hash, viewer->remote_fp, viewer->remote_fp_len,
      viewer_dtls_send, viewer);
  kk_dtls_set_initial_timeout (viewer->dtls, DTLS_INITIAL_TIMEOUT_MS);
  viewer->worker = least_loaded_worker (fanout);
  g_atomic_int_inc (&viewer->worker->n_viewers);

  /* Publish: from here on other threads can see the viewer. */
  g_hash_table_add (fanout->viewers, kk_viewer_ref (viewer));
  g_mutex_lock (&fanout->dir_lock);
  g_hash_table_insert (fanout->by_ufrag, viewer->ufrag, kk_viewer_ref (viewer));
  g_mutex_unlock (&fanout->dir_lock);

  item.type = KK_ITEM_ADD_VIEWER;
  item.viewer = kk_viewer_ref (viewer);
  kk_worker_post (viewer->worker, &item);

  GST_INFO ("viewer %s of %s: answered (audio m-line %d, video m-line %d, "
      "DTLS %s, worker %u)", viewer->id, feed->name, audio_index, video_index,
      viewer->dtls_server ? "server" : "client", viewer->worker->index);

  *answer_sdp = answer;
  return g_steal_pointer (&viewer);
}

void
kk_viewer_close (KkViewer *viewer)
{
  KkWorkItem item = { 0 };

  if (viewer->closing || viewer->finished)
    return;
  viewer->closing = TRUE;
  directory_remove (viewer->fanout, viewer);
  item.type = KK_ITEM_REMOVE_VIEWER;
  item.viewer = kk_viewer_ref (viewer);
  kk_worker_post (viewer->worker, &item);
}

void
kk_viewer_set_relay_protocol (KkViewer *viewer, KkRelayProtocol protocol)
{
  viewer->relay_protocol = protocol;
}

static const char *const relay_protocol_names[] = {
  [KK_RELAY_PROTOCOL_UNKNOWN] = NULL,
  [KK_RELAY_PROTOCOL_UDP] = "udp",
  [KK_RELAY_PROTOCOL_TCP] = "tcp",
  [KK_RELAY_PROTOCOL_TLS] = "tls",
};

const char *
kk_relay_protocol_to_string (KkRelayProtocol protocol)
{
  if ((guint) protocol >= G_N_ELEMENTS (relay_protocol_names))
    return NULL;
  return relay_protocol_names[protocol];
}

KkRelayProtocol
kk_relay_protocol_from_string (const char *name)
{
  for (guint i = KK_RELAY_PROTOCOL_UDP; i <= KK_RELAY_PROTOCOL_TLS; i++)
    if (g_strcmp0 (name, relay_protocol_names[i]) == 0)
      return i;
  return KK_RELAY_PROTOCOL_UNKNOWN;
}

void
kk_viewer_get_stats (KkViewer *viewer, KkViewerStats *stats)
{
  memset (stats, 0, sizeof (*stats));
  stats->connected = g_atomic_int_get (&viewer->stat_connected);
  stats->tcp = g_atomic_int_get (&viewer->stat_tcp);
  stats->turn = g_atomic_int_get (&viewer->stat_turn);
  stats->relay_protocol = viewer->relay_protocol;
  stats->packets_sent = __atomic_load_n (&viewer->stat_packets, __ATOMIC_RELAXED);
  stats->bytes_sent = __atomic_load_n (&viewer->stat_bytes, __ATOMIC_RELAXED);
  stats->nacks_received = __atomic_load_n (&viewer->stat_nacks, __ATOMIC_RELAXED);
  stats->retransmissions = __atomic_load_n (&viewer->stat_retransmissions, __ATOMIC_RELAXED);
  stats->plis_received = __atomic_load_n (&viewer->stat_plis, __ATOMIC_RELAXED);
  stats->fraction_lost = __atomic_load_n (&viewer->stat_fraction_lost, __ATOMIC_RELAXED);
  stats->cumulative_lost = __atomic_load_n (&viewer->stat_cumulative_lost, __ATOMIC_RELAXED);
  stats->jitter_ms = __atomic_load_n (&viewer->stat_jitter_ms, __ATOMIC_RELAXED);
  stats->rtt_ms = __atomic_load_n (&viewer->stat_rtt_ms, __ATOMIC_RELAXED);
  stats->srtp_profile = stats->connected ? kk_srtp_profile_name (viewer->profile) : NULL;
  stats->last_seen_wall_us = kk_mono_to_wall_us (__atomic_load_n (
          &viewer->last_seen_mono_us, __ATOMIC_RELAXED));
  stats->layer = __atomic_load_n (&viewer->stat_layer, __ATOMIC_RELAXED);
  stats->layer_switches = __atomic_load_n (&viewer->stat_layer_switches,
      __ATOMIC_RELAXED);
  stats->quality = __atomic_load_n (&viewer->stat_quality, __ATOMIC_RELAXED);
}

/* ---- events to the main context ---- */

typedef struct {
  KkViewer *viewer;
  gboolean left;
  KkViewerLeft reason;
  gint64 wall_us;
} KkViewerEvent;

static void
viewer_event_free (gpointer data)
{
  KkViewerEvent *event = data;

  kk_viewer_unref (event->viewer);
  g_free (event);
}

static void
finish_viewer (KkViewer *viewer, KkViewerLeft reason, gint64 last_seen_wall_us)
{
  KkFanout *fanout = viewer->fanout;

  if (viewer->finished)
    return;
  viewer->finished = TRUE;
  directory_remove (fanout, viewer);
  GST_INFO ("viewer %s of %s: left (%s)", viewer->id, viewer->feed->name,
      kk_viewer_left_to_string (reason));
  if (viewer->callbacks.left != NULL)
    viewer->callbacks.left (viewer, reason, last_seen_wall_us,
        viewer->user_data);
  g_hash_table_remove (fanout->viewers, viewer);
}

static gboolean
run_viewer_event (gpointer data)
{
  KkViewerEvent *event = data;
  KkViewer *viewer = event->viewer;

  if (event->left)
    finish_viewer (viewer, event->reason, event->wall_us);
  else if (!viewer->finished && viewer->callbacks.connected != NULL)
    viewer->callbacks.connected (viewer, event->wall_us, viewer->user_data);
  return G_SOURCE_REMOVE;
}

static void
dispatch (KkViewer *viewer, gboolean left, KkViewerLeft reason, gint64 wall_us)
{
  KkViewerEvent *event = g_new0 (KkViewerEvent, 1);

  event->viewer = kk_viewer_ref (viewer);
  event->left = left;
  event->reason = reason;
  event->wall_us = wall_us;
  g_main_context_invoke_full (viewer->fanout->main_context, G_PRIORITY_DEFAULT,
      run_viewer_event, event, viewer_event_free);
}

void
kk_viewer_dispatch_connected (KkViewer *viewer, gint64 wall_us)
{
  dispatch (viewer, FALSE, 0, wall_us);
}

/* From the worker once it has dropped the viewer from its shard (or from
 * the main thread at shutdown). */
void
kk_viewer_dispatch_left (KkViewer *viewer, KkViewerLeft reason)
{
  gint64 seen = __atomic_load_n (&viewer->last_seen_mono_us, __ATOMIC_RELAXED);

  dispatch (viewer, TRUE, reason, kk_mono_to_wall_us (seen));
}

/* ---- metrics ---- */

void
kk_fanout_collect_metrics (KkMetrics *metrics, gpointer user_data)
{
  KkFanout *fanout = user_data;
  KkCounters sum = { 0 };
  guint connected = 0, tcp = 0, turn = 0;
  GHashTableIter iter;
  gpointer key;
  char labels[64];
  guint per_layer[KK_LAYER_N] = { 0 };

  for (guint i = 0; i < fanout->n_workers; i++)
    kk_worker_collect (fanout->workers[i], &sum);
#define PORT(f) sum.f += KK_READ (&fanout->port_counters, f)
  PORT (stun_answered);
  PORT (stun_unknown_ufrag);
  PORT (stun_rejected);
  PORT (stun_ignored);
  PORT (from_unknown_address);
  PORT (not_ours);
  PORT (tcp_accepted);
  PORT (tcp_bad_framing);
  PORT (tcp_refused);
#undef PORT

  g_hash_table_iter_init (&iter, fanout->viewers);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    KkViewer *viewer = key;

    if (g_atomic_int_get (&viewer->stat_connected)) {
      connected++;
      if (g_atomic_int_get (&viewer->stat_turn))
        turn++;
      else if (g_atomic_int_get (&viewer->stat_tcp))
        tcp++;
      per_layer[CLAMP (g_atomic_int_get (&viewer->stat_layer), 0,
              KK_LAYER_N - 1)]++;
    }
  }

  kk_metrics_sample (metrics, "kringkast_viewers", KK_METRIC_GAUGE,
      "Viewers whose media is flowing", "transport=\"udp\"",
      connected - tcp - turn);
  kk_metrics_sample (metrics, "kringkast_viewers", KK_METRIC_GAUGE,
      "Viewers whose media is flowing", "transport=\"tcp\"", tcp);
  for (guint layer = 0; layer < KK_LAYER_N; layer++) {
    g_snprintf (labels, sizeof (labels), "layer=\"%s\"",
        kk_layer_to_string (layer));
    kk_metrics_sample (metrics, "kringkast_viewers_by_layer", KK_METRIC_GAUGE,
        "Viewers whose media is flowing, by the layer they receive", labels,
        per_layer[layer]);
  }
  kk_metrics_sample (metrics, "kringkast_layer_switches_total",
      KK_METRIC_COUNTER, "Viewers moved from one layer to another", NULL,
      sum.layer_switches);
  kk_metrics_sample (metrics, "kringkast_probe_packets_total",
      KK_METRIC_COUNTER, "Copies sent to probe a viewer's link before moving "
      "it up a layer", NULL, sum.probe_packets);
  kk_metrics_sample (metrics, "kringkast_viewers", KK_METRIC_GAUGE,
      "Viewers whose media is flowing", "transport=\"turn\"", turn);
  kk_metrics_sample (metrics, "kringkast_viewers_pending", KK_METRIC_GAUGE,
      "Viewers answered but not yet connected",
      NULL, g_hash_table_size (fanout->viewers) - connected);
  kk_metrics_sample (metrics, "kringkast_packets_forwarded_total",
      KK_METRIC_COUNTER, "RTP packets sent to viewers", NULL,
      sum.packets_forwarded);
  kk_metrics_sample (metrics, "kringkast_bytes_forwarded_total",
      KK_METRIC_COUNTER, "SRTP bytes sent to viewers", NULL,
      sum.bytes_forwarded);
#define DROP(reason, field) \
  kk_metrics_sample (metrics, "kringkast_packets_dropped_total", \
      KK_METRIC_COUNTER, "Packets dropped, by reason", \
      "reason=\"" reason "\"", sum.field)
  DROP ("viewer-lacks-codec", drop_no_codec);
  DROP ("send-failed", drop_send_failed);
  DROP ("tcp-backlog", drop_tcp_backlog);
  DROP ("protect-failed", drop_protect_failed);
  DROP ("srtcp-rejected", srtcp_rejected);
  DROP ("rtp-from-viewer", rtp_from_viewer);
  DROP ("unknown-source", from_unknown_address);
  DROP ("not-webrtc", not_ours);
  DROP ("stun-unknown-ufrag", stun_unknown_ufrag);
  DROP ("stun-rejected", stun_rejected);
  DROP ("ice-tcp-bad-framing", tcp_bad_framing);
#undef DROP
  kk_metrics_sample (metrics, "kringkast_nack_requests_total", KK_METRIC_COUNTER,
      "Lost packets viewers asked for", NULL, sum.nacks_received);
  kk_metrics_sample (metrics, "kringkast_nacks_served_total", KK_METRIC_COUNTER,
      "Retransmissions sent from the packet history", NULL, sum.nacks_served);
  kk_metrics_sample (metrics, "kringkast_nacks_missed_total", KK_METRIC_COUNTER,
      "NACKed packets no longer in the history", NULL, sum.nacks_missed);
  kk_metrics_sample (metrics, "kringkast_plis_received_total", KK_METRIC_COUNTER,
      "Picture loss indications and FIRs from viewers", NULL, sum.plis_received);
  kk_metrics_sample (metrics, "kringkast_fast_start_packets_total",
      KK_METRIC_COUNTER, "GOP packets sent to new viewers", NULL,
      sum.gop_packets_sent);
  kk_metrics_sample (metrics, "kringkast_dtls_failures_total", KK_METRIC_COUNTER,
      "DTLS handshakes that failed", NULL, sum.dtls_failed);
  kk_metrics_sample (metrics, "kringkast_stun_checks_answered_total",
      KK_METRIC_COUNTER, "ICE connectivity checks answered", NULL,
      sum.stun_answered);
  kk_metrics_sample (metrics, "kringkast_stun_keepalives_total",
      KK_METRIC_COUNTER, "STUN indications and responses received (not answered)",
      NULL, sum.stun_ignored);
  kk_metrics_sample (metrics, "kringkast_ice_tcp_connections_total",
      KK_METRIC_COUNTER, "ICE-TCP connections accepted", NULL, sum.tcp_accepted);
  kk_metrics_sample (metrics, "kringkast_ice_tcp_refused_total",
      KK_METRIC_COUNTER, "ICE-TCP connections refused (limit)", NULL,
      sum.tcp_refused);
  kk_metrics_sample (metrics, "kringkast_ingest_packets_total",
      KK_METRIC_COUNTER, "Packets received from publishers", NULL,
      __atomic_load_n (&fanout->ingest_packets, __ATOMIC_RELAXED));
  kk_metrics_sample (metrics, "kringkast_packets_dropped_total",
      KK_METRIC_COUNTER, "Packets dropped, by reason",
      "reason=\"ingest-rejected\"",
      __atomic_load_n (&fanout->ingest_rejected, __ATOMIC_RELAXED));
  kk_metrics_sample (metrics, "kringkast_keyframe_requests_total",
      KK_METRIC_COUNTER, "Keyframe requests sent to publishers", NULL,
      __atomic_load_n (&fanout->keyframe_requests, __ATOMIC_RELAXED));
  kk_metrics_sample (metrics, "kringkast_upswitch_keyframe_requests_total",
      KK_METRIC_COUNTER, "Keyframe requests for viewers moving up to the "
      "full layer (at most one per feed and 10 s)", NULL,
      __atomic_load_n (&fanout->upswitch_keyframe_requests, __ATOMIC_RELAXED));
  for (guint i = 0; i < fanout->n_workers; i++) {
    g_snprintf (labels, sizeof (labels), "worker=\"%u\"", i);
    kk_metrics_sample (metrics, "kringkast_worker_viewers", KK_METRIC_GAUGE,
        "Viewers placed on each worker thread", labels,
        g_atomic_int_get (&fanout->workers[i]->n_viewers));
    kk_metrics_sample (metrics, "kringkast_light_packets_posted_total",
        KK_METRIC_COUNTER, "Light-layer packets handed to each worker thread "
        "(only to those with a viewer needing it)", labels,
        __atomic_load_n (&fanout->workers[i]->light_packets_posted,
            __ATOMIC_RELAXED));
  }
}
