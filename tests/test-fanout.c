/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for a feed's light layer in kk-fanout (a real fan-out on an
 * ephemeral port of 127.0.0.1, with two workers): the lecture is told on
 * the main context when the light layer becomes wanted (the first viewer
 * needs it) and unwanted (a linger after the last one stopped, cancelled
 * if one comes back meanwhile); light packets keep the video SSRC and the
 * timestamps they were made with, count as flowing while they come, and
 * keyframe requests to the light layer are folded; light packets go only
 * to the workers that have a viewer needing them. And the media port
 * attaches a source address to a viewer's datagrams only where the
 * kernel's own route choice would send them from another address.
 */
#include "kk-fanout-private.h"

#include <kringkast/kk-rtp.h>
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#define LINGER_MS 300

typedef struct {
  KkFanout *fanout;
  KkFeed *feed;
  GArray *wanted;               /* gboolean, as told */
  gint64 unwanted_mono_us;
  guint light_keyframes;
  guint codec_changes;
  guint keyframes;
} Fixture;

static void
on_light_wanted (KkFeed *feed, gboolean wanted, gpointer user_data)
{
  Fixture *f = user_data;

  g_array_append_val (f->wanted, wanted);
  if (!wanted)
    f->unwanted_mono_us = g_get_monotonic_time ();
}

static void
on_light_keyframe (KkFeed *feed, gpointer user_data)
{
  Fixture *f = user_data;

  f->light_keyframes++;
}

static void
on_keyframe (KkFeed *feed, gpointer user_data)
{
  Fixture *f = user_data;

  f->keyframes++;
}

static void
on_video_codec_changed (KkFeed *feed, gpointer user_data)
{
  Fixture *f = user_data;

  f->codec_changes++;
}

static void
setup (Fixture *f, gconstpointer data)
{
  static const char *ips[] = { "127.0.0.1", NULL };
  KkFanoutConfig config = {
    .port = 0, .public_ips = (char **) ips, .workers = 2,
    .consent_timeout_s = 30, .connect_timeout_s = 30,
    .light_linger_ms = LINGER_MS,
  };
  KkFeedCallbacks callbacks = {
    .light_wanted = on_light_wanted,
    .request_light_keyframe = on_light_keyframe,
    .video_codec_changed = on_video_codec_changed,
    .request_keyframe = on_keyframe,
  };
  g_autoptr (GError) error = NULL;

  f->fanout = kk_fanout_new (&config, &error);
  g_assert_no_error (error);
  f->feed = kk_feed_new (f->fanout, "test", &callbacks, f);
  f->wanted = g_array_new (FALSE, FALSE, sizeof (gboolean));
}

static void
teardown (Fixture *f, gconstpointer data)
{
  kk_feed_free (f->feed);
  g_clear_pointer (&f->fanout, kk_fanout_free);
  g_array_unref (f->wanted);
}

/* Runs the main context until @n calls were told, or fails after 10 s. */
static void
wait_told (Fixture *f, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (f->wanted->len < n) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (1000);
  }
}

/* Runs the main context for @ms. */
static void
spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < until) {
    g_main_context_iteration (NULL, FALSE);
    g_usleep (1000);
  }
}

static gboolean
told (Fixture *f, guint i)
{
  return g_array_index (f->wanted, gboolean, i);
}

static void
test_wanted_and_linger (Fixture *f, gconstpointer data)
{
  gint64 last_left;

  /* Two viewers need it: one call. */
  kk_feed_add_light_user (f->feed, 0, 1);
  kk_feed_add_light_user (f->feed, 0, 1);
  wait_told (f, 1);
  g_assert_true (told (f, 0));
  spin (50);
  g_assert_cmpuint (f->wanted->len, ==, 1);

  /* Both stop, one comes back within the linger: still wanted. */
  kk_feed_add_light_user (f->feed, 0, -1);
  kk_feed_add_light_user (f->feed, 0, -1);
  spin (LINGER_MS / 3);
  kk_feed_add_light_user (f->feed, 0, 1);
  spin (LINGER_MS * 2);
  g_assert_cmpuint (f->wanted->len, ==, 1);

  /* The last one leaves: unwanted, no sooner than the linger after. */
  kk_feed_add_light_user (f->feed, 0, -1);
  last_left = g_get_monotonic_time ();
  wait_told (f, 2);
  g_assert_false (told (f, 1));
  g_assert_cmpint (f->unwanted_mono_us - last_left, >=, LINGER_MS * 1000);

  /* And wanted again. */
  kk_feed_add_light_user (f->feed, 0, 1);
  wait_told (f, 3);
  g_assert_true (told (f, 2));
  kk_feed_add_light_user (f->feed, 0, -1);
}

/* A light packet: the video SSRC, its own sequence numbers, the
 * timestamp it was made with; flowing while packets come. */
static void
test_light_packets (Fixture *f, gconstpointer data)
{
  guint8 rtp[32] = { 0x80, 96, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04,
    0xde, 0xad, 0xbe, 0xef, 0x10, 0x50, 0x01, 0x02 };
  g_autoptr (KkPacket) packet = NULL;
  KkRtpHeader hdr;

  g_assert_false (kk_feed_light_flowing (f->feed, g_get_monotonic_time ()));
  kk_feed_push_light (f->feed, KK_CODEC_VP8, rtp, 16, g_get_real_time ());
  g_assert_true (kk_feed_light_flowing (f->feed, g_get_monotonic_time ()));
  g_assert_false (kk_feed_light_flowing (f->feed,
          g_get_monotonic_time () + 2 * KK_FEED_LIGHT_FLOWING_US));
  packet = kk_track_get_newest (f->feed->light);
  g_assert_nonnull (packet);
  g_assert_cmpuint (packet->layer, ==, KK_LAYER_LIGHT);
  g_assert_true (packet->keyframe_start);
  g_assert_true (kk_rtp_parse (packet->data, packet->len, &hdr));
  g_assert_cmphex (hdr.ssrc, ==, kk_track_get_ssrc (f->feed->tracks[KK_TRACK_VIDEO]));
  g_assert_cmphex (hdr.timestamp, ==, 0x01020304);
  /* Not RTP: refused and counted, nothing flows from it. */
  kk_feed_push_light (f->feed, KK_CODEC_VP8, rtp, 5, g_get_real_time ());
  g_assert_cmpuint (f->fanout->ingest_rejected, ==, 1);
}

static guint64
light_posted (Fixture *f, guint worker)
{
  return __atomic_load_n (&f->fanout->workers[worker]->light_packets_posted,
      __ATOMIC_RELAXED);
}

/* A viewer of the feed from a real browser's offer, placed on the least
 * loaded worker; it never connects, which is all placing needs. */
static KkViewer *
add_viewer (Fixture *f)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "sdp",
      "chrome-recvonly.sdp", NULL);
  g_autofree char *text = NULL;
  g_autofree char *answer = NULL;
  g_autoptr (KkViewerOffer) offer = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  KkViewer *viewer;

  g_assert_true (g_file_get_contents (path, &text, &len, &error));
  offer = kk_sdp_parse_viewer_offer (text, len, &error);
  g_assert_no_error (error);
  viewer = kk_viewer_new (f->feed, offer, TRUE, NULL, NULL, &answer, &error);
  g_assert_no_error (error);
  return viewer;
}

/* Light packets go to the workers with a viewer needing the light layer
 * and to no other, even one with viewers of the same feed: those would
 * walk their viewers for nothing. */
static void
test_light_posted_per_worker (Fixture *f, gconstpointer data)
{
  guint8 rtp[16] = { 0x80, 96, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04,
    0xde, 0xad, 0xbe, 0xef, 0x10, 0x50, 0x01, 0x02 };
  g_autoptr (KkViewer) first = add_viewer (f);
  g_autoptr (KkViewer) second = add_viewer (f);

  g_assert_true (first->worker != second->worker);
  g_assert_cmpint (g_atomic_int_get (&f->fanout->workers[0]->n_viewers), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&f->fanout->workers[1]->n_viewers), ==, 1);

  /* Running, but no viewer needs it: no worker gets its packets. */
  kk_feed_push_light (f->feed, KK_CODEC_VP8, rtp, 16, g_get_real_time ());
  g_assert_cmpuint (light_posted (f, 0), ==, 0);
  g_assert_cmpuint (light_posted (f, 1), ==, 0);

  /* The second viewer's worker has one that needs it. */
  kk_feed_add_light_user (f->feed, second->worker->index, 1);
  for (guint i = 0; i < 3; i++) {
    rtp[3]++;
    kk_feed_push_light (f->feed, KK_CODEC_VP8, rtp, 16, g_get_real_time ());
  }
  g_assert_cmpuint (light_posted (f, first->worker->index), ==, 0);
  g_assert_cmpuint (light_posted (f, second->worker->index), ==, 3);

  /* It moved up: nothing more goes there either. */
  kk_feed_add_light_user (f->feed, second->worker->index, -1);
  rtp[3]++;
  kk_feed_push_light (f->feed, KK_CODEC_VP8, rtp, 16, g_get_real_time ());
  g_assert_cmpuint (light_posted (f, first->worker->index), ==, 0);
  g_assert_cmpuint (light_posted (f, second->worker->index), ==, 3);
  /* The feed goes in the teardown: its viewers must be gone first. */
  kk_viewer_close (first);
  kk_viewer_close (second);
  while (g_hash_table_size (f->fanout->viewers) > 0) {
    g_main_context_iteration (NULL, FALSE);
    g_usleep (1000);
  }
}

/* Requests within an interval fold into one. */
static void
test_light_keyframe_folded (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 10; i++)
    kk_feed_request_light_keyframe (f->feed);
  spin (50);
  g_assert_cmpuint (f->light_keyframes, ==, 1);
}

/* The fan-out goes before the lectures that own the feeds: a viewer
 * leaving as it goes still tells the feed, which lingers and then says
 * the light layer is no longer wanted, from what it kept of the fan-out
 * (its context, its linger), never from the fan-out itself. */
static void
test_fanout_gone_first (Fixture *f, gconstpointer data)
{
  kk_feed_add_light_user (f->feed, 0, 1);
  wait_told (f, 1);
  g_assert_true (told (f, 0));
  g_clear_pointer (&f->fanout, kk_fanout_free);
  kk_feed_add_light_user (f->feed, 0, -1);
  wait_told (f, 2);
  g_assert_false (told (f, 1));
}

/* The feed's video codec is that of the publisher sending now: unknown
 * again once it left, and main is told each time it changes (a host in
 * H.264 after one in VP8 gets its light layer in H.264). */
static void
test_video_codec (Fixture *f, gconstpointer data)
{
  guint8 rtp[16] = { 0x80, 96, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04,
    0xde, 0xad, 0xbe, 0xef, 0x10, 0x50, 0x01, 0x02 };

  g_assert_cmpint (kk_feed_get_video_codec (f->feed), ==, KK_CODEC_NONE);
  kk_feed_push (f->feed, KK_TRACK_VIDEO, KK_CODEC_VP8, rtp, 16,
      g_get_real_time ());
  rtp[3] = 2;
  kk_feed_push (f->feed, KK_TRACK_VIDEO, KK_CODEC_VP8, rtp, 16,
      g_get_real_time ());
  g_assert_cmpint (kk_feed_get_video_codec (f->feed), ==, KK_CODEC_VP8);
  spin (20);
  g_assert_cmpuint (f->codec_changes, ==, 1);

  kk_feed_reset_source (f->feed);
  g_assert_cmpint (kk_feed_get_video_codec (f->feed), ==, KK_CODEC_NONE);
  rtp[1] = 102;
  rtp[3] = 9;
  rtp[12] = 0x65;       /* an H.264 IDR slice */
  kk_feed_push (f->feed, KK_TRACK_VIDEO, KK_CODEC_H264, rtp, 16,
      g_get_real_time ());
  g_assert_cmpint (kk_feed_get_video_codec (f->feed), ==, KK_CODEC_H264);
  spin (20);
  g_assert_cmpuint (f->codec_changes, ==, 2);
}

/* Viewers moving up ask the host for a keyframe at most once per 10 s and
 * feed, well past the fold of other requests (half a second), and each
 * request sent is counted. */
static void
test_upswitch_keyframe_folded (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 10; i++)
    kk_feed_request_upswitch_keyframe (f->feed);
  spin (KK_FANOUT_KEYFRAME_INTERVAL_MS + 100);
  kk_feed_request_upswitch_keyframe (f->feed);
  spin (20);
  g_assert_cmpuint (f->keyframes, ==, 1);
  g_assert_cmpuint (f->fanout->upswitch_keyframe_requests, ==, 1);
  g_assert_cmpuint (f->fanout->keyframe_requests, ==, 1);
  /* Other requests are folded as before, and say so. */
  g_assert_true (kk_feed_request_keyframe (f->feed));
  g_assert_false (kk_feed_request_keyframe (f->feed));
  spin (20);
  g_assert_cmpuint (f->keyframes, ==, 2);
}

/* @text as the media socket wants a destination (v4-mapped in an IPv6
 * socket) and as the port thread keeps the address a viewer sent to. */
static socklen_t
ipv4_address (const char *text, gboolean is_v6, struct sockaddr_storage *addr,
    struct in6_addr *mapped)
{
  struct in_addr a;

  g_assert_cmpint (inet_pton (AF_INET, text, &a), ==, 1);
  memset (addr, 0, sizeof (*addr));
  memset (mapped, 0, sizeof (*mapped));
  mapped->s6_addr[10] = mapped->s6_addr[11] = 0xff;
  memcpy (&mapped->s6_addr[12], &a, 4);
  if (is_v6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) addr;

    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons (9);
    sin6->sin6_addr = *mapped;
    return sizeof (*sin6);
  } else {
    struct sockaddr_in *sin = (struct sockaddr_in *) addr;

    sin->sin_family = AF_INET;
    sin->sin_port = htons (9);
    sin->sin_addr = a;
    return sizeof (*sin);
  }
}

/* Loopback's routes make the point without a namespace: towards
 * 127.0.0.1 the kernel sends from 127.0.0.1, so a viewer there that sent
 * to 127.0.0.1 needs no source attached; towards 127.0.0.5 it sends from
 * 127.0.0.1 too (the route's preferred source), so a viewer that sent to
 * 127.0.0.5 needs it. Both socket families the media port may have. */
static void
test_source_needed (void)
{
  for (int v6 = 0; v6 <= 1; v6++) {
    struct sockaddr_storage addr;
    struct in6_addr sent_to, unused;
    socklen_t len;
    int probe = socket (v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);

    if (probe < 0) {
      g_test_message ("no %s sockets here", v6 ? "IPv6" : "IPv4");
      continue;
    }
    close (probe);
    len = ipv4_address ("127.0.0.1", v6, &addr, &sent_to);
    g_assert_false (kk_transport_source_needed (v6, &addr, len, &sent_to));
    len = ipv4_address ("127.0.0.5", v6, &addr, &sent_to);
    g_assert_true (kk_transport_source_needed (v6, &addr, len, &sent_to));
    /* A viewer at 127.0.0.1 that sent to 127.0.0.5. */
    len = ipv4_address ("127.0.0.1", v6, &addr, &unused);
    g_assert_true (kk_transport_source_needed (v6, &addr, len, &sent_to));
    /* Not known: nothing to attach. */
    memset (&sent_to, 0, sizeof (sent_to));
    g_assert_false (kk_transport_source_needed (v6, &addr, len, &sent_to));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  g_test_add ("/fanout/light/wanted-and-linger", Fixture, NULL, setup,
      test_wanted_and_linger, teardown);
  g_test_add ("/fanout/light/packets", Fixture, NULL, setup,
      test_light_packets, teardown);
  g_test_add ("/fanout/light/posted-per-worker", Fixture, NULL, setup,
      test_light_posted_per_worker, teardown);
  g_test_add ("/fanout/light/keyframe-folded", Fixture, NULL, setup,
      test_light_keyframe_folded, teardown);
  g_test_add ("/fanout/upswitch-keyframe-folded", Fixture, NULL, setup,
      test_upswitch_keyframe_folded, teardown);
  g_test_add ("/fanout/video-codec", Fixture, NULL, setup,
      test_video_codec, teardown);
  g_test_add ("/fanout/light/fanout-gone-first", Fixture, NULL, setup,
      test_fanout_gone_first, teardown);
  g_test_add_func ("/fanout/port/source-needed", test_source_needed);
  return g_test_run ();
}
