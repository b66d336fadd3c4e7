/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-recordings: the module inside a whole in-process relay
 * (kk_relay_new, HTTP on 127.0.0.1:0, media port 0). A lecture's session
 * signals are emitted as the lecture would, and real VP8 and Opus made
 * here by GStreamer are pushed into its feed as the ingest would, so the
 * recording goes the same way as in the daemon: tap, prime, recorder,
 * row, route. Checked: the file is served whole and by Range (bytes
 * compared), 416, auth (401/403), 404 for foreign and malformed ids, 409
 * while written, deletion (410 after), the host's pause and its
 * interval, retention, a recording cut off by a crash repaired at the
 * next start, one finished by the shutdown itself, and one that cannot
 * be written failing with its reason. Plus the pure helpers: Range
 * parsing, the download's file name, the request body.
 */
#include "kk-recordings-api.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <kringkast/kk-rtp.h>
#include <math.h>
#include <string.h>

#include "kk-db-pg.h"
#include "kk-db-private.h"
#include "kk-db-sqlite.h"
#include "kk-http.h"
#include "kk-relay.h"
#include "test-database.h"

#define ADMIN_TOKEN "test-admin-token-recordings"
#define ROOM "med101"
#define TITLE "Legemiddelhåndtering"
#define FPS 15

/* ---- pure helpers ---- */

static void
test_range (void)
{
  guint64 s = 0, e = 0;

  g_assert_cmpint (kk_recordings_api_parse_range (NULL, 100, &s, &e), ==,
      KK_RANGE_NONE);
  g_assert_cmpint (kk_recordings_api_parse_range ("bytes=0-9", 100, &s, &e), ==,
      KK_RANGE_PARTIAL);
  g_assert_cmpuint (s, ==, 0);
  g_assert_cmpuint (e, ==, 9);
  g_assert_cmpint (kk_recordings_api_parse_range ("bytes=90-", 100, &s, &e), ==,
      KK_RANGE_PARTIAL);
  g_assert_cmpuint (s, ==, 90);
  g_assert_cmpuint (e, ==, 99);
  /* The end is clipped to the file. */
  g_assert_cmpint (kk_recordings_api_parse_range ("bytes=50-1000", 100, &s, &e),
      ==, KK_RANGE_PARTIAL);
  g_assert_cmpuint (e, ==, 99);
  /* Suffixes: the last N bytes, all of them when N is larger. */
  g_assert_cmpint (kk_recordings_api_parse_range ("bytes=-10", 100, &s, &e), ==,
      KK_RANGE_PARTIAL);
  g_assert_cmpuint (s, ==, 90);
  g_assert_cmpuint (e, ==, 99);
  g_assert_cmpint (kk_recordings_api_parse_range ("bytes=-500", 100, &s,
          &e), ==, KK_RANGE_PARTIAL);
  g_assert_cmpuint (s, ==, 0);
  g_assert_cmpint (kk_recordings_api_parse_range (" Bytes = 5-5 ", 100, &s, &e),
      ==, KK_RANGE_PARTIAL);
  g_assert_cmpuint (s, ==, 5);
  g_assert_cmpuint (e, ==, 5);

  g_assert_cmpint (kk_recordings_api_parse_range ("bytes=100-", 100, &s,
          &e), ==, KK_RANGE_UNSATISFIABLE);
  g_assert_cmpint (kk_recordings_api_parse_range ("bytes=-0", 100, &s, &e), ==,
      KK_RANGE_UNSATISFIABLE);

  /* Ignored: several ranges, bad syntax, other units, overflow. */
  const char *ignored[] = {
    "bytes=0-1,5-6", "bytes=9-3", "bytes=-", "bytes=a-b", "bytes 0-9",
    "items=0-9", "bytes=0-9x", "bytes=99999999999999999999-", "bytes==0-1",
    "", "bytes=", "bytes=--5",
  };
  for (guint i = 0; i < G_N_ELEMENTS (ignored); i++)
    g_assert_cmpint (kk_recordings_api_parse_range (ignored[i], 100, &s,
            &e), ==, KK_RANGE_NONE);
}

static void
test_content_disposition (void)
{
  /* 2025-03-04 23:30 UTC is already 5 March in Oslo. */
  g_autoptr (GDateTime) late = g_date_time_new_utc (2025, 3, 4, 23, 30, 0);
  gint64 t = g_date_time_to_unix (late) * G_USEC_PER_SEC;
  g_autofree char *a = kk_recordings_api_content_disposition (TITLE, t, "webm");
  g_autofree char *b = kk_recordings_api_content_disposition (
      "../etc/passwd \"x\"\\", t, "mp4");
  g_autofree char *c = kk_recordings_api_content_disposition ("ææ", t,
      "webm");

  g_test_message ("%s", a);
  g_assert_cmpstr (a, ==, "attachment; "
      "filename=\"Legemiddelhandtering-2025-03-05.webm\"; "
      "filename*=UTF-8''Legemiddelh%C3%A5ndtering%202025-03-05.webm");
  /* No path, no quote, no hidden file, in either name. */
  g_test_message ("%s", b);
  g_assert_cmpstr (b, ==, "attachment; "
      "filename=\"etc-passwd-x-2025-03-05.mp4\"; "
      "filename*=UTF-8''-.-etc-passwd%20%22x%22-%202025-03-05.mp4");
  g_assert_cmpstr (c, ==, "attachment; filename=\"aeae-2025-03-05.webm\"; "
      "filename*=UTF-8''%C3%A6%C3%A6%202025-03-05.webm");
}

static void
test_request_body (void)
{
  const char *bad[] = {
    "", "[]", "{}", "{\"paused\": 1}", "{\"retention_days\": -1}",
    "{\"retention_days\": 3651}", "{\"retention_days\": 1.5}",
    "{\"retention_days\": \"7\"}", "{\"paused\": true, \"x\": 1}",
    "{\"paused\": null}",
  };
  KkRecordingRequest req;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;

    g_assert_false (kk_recordings_api_parse_request (bad[i], strlen (bad[i]),
            &req, &error));
    /* Malformed JSON (kk-json) or a member out of range: both are 400. */
    g_assert_nonnull (error);
    g_assert_true (error->domain == KK_JSON_ERROR
        || g_error_matches (error, KK_HTTP_ERROR, KK_HTTP_ERROR_BAD_REQUEST));
  }
  g_assert_true (kk_recordings_api_parse_request ("{\"paused\": true}", 16,
          &req, NULL));
  g_assert_true (req.set_paused && req.paused && !req.set_retention);
  g_assert_true (kk_recordings_api_parse_request (
          "{\"retention_days\": 30, \"paused\": false}", 39, &req, NULL));
  g_assert_true (req.set_paused && !req.paused);
  g_assert_true (req.set_retention);
  g_assert_cmpuint (req.retention_days, ==, 30);
}

/* ---- media: what a publisher sends ---- */

typedef struct {
  KkTrackKind kind;
  KkCodec codec;
  guint32 timestamp;
  GBytes *rtp;
} Rtp;

static void
rtp_free (gpointer data)
{
  Rtp *rtp = data;

  g_bytes_unref (rtp->rtp);
  g_free (rtp);
}

static void
pull_all (GstElement *sink, GPtrArray *out, KkTrackKind kind, KkCodec codec)
{
  GstSample *sample;

  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;
    KkRtpHeader hdr;
    Rtp *rtp = g_new0 (Rtp, 1);

    g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
    g_assert_true (kk_rtp_parse (map.data, map.size, &hdr));
    rtp->kind = kind;
    rtp->codec = codec;
    rtp->timestamp = hdr.timestamp;
    rtp->rtp = g_bytes_new (map.data, map.size);
    g_ptr_array_add (out, rtp);
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
}

static double
rtp_seconds (const Rtp *rtp, guint32 first)
{
  return (guint32) (rtp->timestamp - first)
      / (rtp->kind == KK_TRACK_VIDEO ? 90000.0 : 48000.0);
}

/* @seconds of VP8 and Opus RTP, interleaved by media time. */
static GPtrArray *
make_media (guint seconds)
{
  g_autofree char *description = g_strdup_printf (
      "videotestsrc num-buffers=%u pattern=ball "
      "! video/x-raw,width=160,height=120,framerate=%u/1 "
      "! vp8enc deadline=1 keyframe-max-dist=%u ! rtpvp8pay mtu=1200 "
      "! appsink name=v sync=false "
      "audiotestsrc num-buffers=%u samplesperbuffer=960 "
      "! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=20 "
      "! rtpopuspay ! appsink name=a sync=false",
      seconds * FPS, FPS, FPS, seconds * 50);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (description, &error);
  g_autoptr (GstElement) v = NULL;
  g_autoptr (GstElement) a = NULL;
  g_autoptr (GPtrArray) video = g_ptr_array_new ();
  g_autoptr (GPtrArray) audio = g_ptr_array_new ();
  GPtrArray *all = g_ptr_array_new_with_free_func (rtp_free);
  guint i = 0, j = 0;

  g_assert_no_error (error);
  v = gst_bin_get_by_name (GST_BIN (pipeline), "v");
  a = gst_bin_get_by_name (GST_BIN (pipeline), "a");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  pull_all (v, video, KK_TRACK_VIDEO, KK_CODEC_VP8);
  pull_all (a, audio, KK_TRACK_AUDIO, KK_CODEC_OPUS);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_cmpuint (video->len, >=, seconds * FPS);

  while (i < video->len || j < audio->len) {
    Rtp *pv = i < video->len ? video->pdata[i] : NULL;
    Rtp *pa = j < audio->len ? audio->pdata[j] : NULL;

    if (pa == NULL || (pv != NULL
            && rtp_seconds (pv, ((Rtp *) video->pdata[0])->timestamp)
            <= rtp_seconds (pa, ((Rtp *) audio->pdata[0])->timestamp))) {
      g_ptr_array_add (all, pv);
      i++;
    } else {
      g_ptr_array_add (all, pa);
      j++;
    }
  }
  return all;
}

/* ---- the fixture: a whole relay in this process ---- */

typedef struct {
  char *dir;
  KkConfig *config;
  KkRelay *relay;
  SoupSession *session;
  guint16 port;
  GPtrArray *media;             /* Rtp */
  char *session_id;
} Fixture;

static void
start_relay (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  /* Media port 0 takes a free UDP port, then the same number for TCP,
   * which an ephemeral client socket (ours, say) may hold: try again. */
  for (guint i = 0; i < 5 && f->relay == NULL; i++) {
    g_clear_error (&error);
    f->relay = kk_relay_new (f->config, &error);
    if (!g_error_matches (error, KK_FANOUT_ERROR, KK_FANOUT_ERROR_BIND))
      break;
  }
  g_assert_no_error (error);
  f->port = kk_http_server_get_port (f->relay->server);
}

static void
stop_relay (Fixture *f)
{
  g_clear_pointer (&f->relay, kk_relay_free);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  KkRoomConfig *room = g_new0 (KkRoomConfig, 1);

  f->dir = g_dir_make_tmp ("kk-test-recordings-XXXXXX", &error);
  g_assert_no_error (error);
  f->config = kk_config_load_from_data ("", 0, NULL, &error);
  g_assert_no_error (error);
  f->config->http_address = g_strdup ("127.0.0.1");
  f->config->http_port = 0;
  f->config->media_port = 0;
  f->config->workers = 1;
  f->config->public_ips = g_new0 (char *, 2);
  f->config->public_ips[0] = g_strdup ("127.0.0.1");
  f->config->admin_token = g_strdup (ADMIN_TOKEN);
  g_free (f->config->data_dir);
  f->config->data_dir = g_strdup (f->dir);
  f->config->database = kk_test_database_new ();
  g_free (f->config->pipelines_dir);
  f->config->pipelines_dir = g_test_build_filename (G_TEST_DIST, "..",
      "pipelines", NULL);
  room->id = g_strdup (ROOM);
  room->title = g_strdup (TITLE);
  room->record = TRUE;
  room->completion_ratio = 0.8;
  room->source = g_strdup (KK_ROOM_SOURCE_WHIP);
  g_ptr_array_add (f->config->rooms, room);

  f->session = soup_session_new ();
  soup_session_set_proxy_resolver (f->session, NULL);
  f->media = make_media (3);
  start_relay (f);
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->session);
  stop_relay (f);
  g_ptr_array_unref (f->media);
  kk_config_free (f->config);
  remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->session_id);
}

static KkLecture *
lecture (Fixture *f)
{
  KkLecture *lecture = kk_relay_get_lecture (f->relay, ROOM);

  g_assert_nonnull (lecture);
  return lecture;
}

static const char *
host_token (Fixture *f)
{
  return kk_room_get_host_token (kk_room_registry_lookup (f->relay->registry,
          ROOM));
}

static void
session_started_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  char **id = user_data;
  g_autoptr (GError) error = NULL;

  *id = kk_store_session_start_finish (KK_STORE (source), result, &error);
  g_assert_no_error (error);
}

/* The lecture goes live, as it announces it: stored, then signalled. */
static void
open_session (Fixture *f)
{
  gint64 now = g_get_real_time ();

  g_clear_pointer (&f->session_id, g_free);
  kk_store_session_start (f->relay->store, ROOM, now, session_started_cb,
      &f->session_id);
  while (f->session_id == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_signal_emit_by_name (lecture (f), "session-opened", f->session_id, now);
}

static void
close_session (Fixture *f)
{
  g_signal_emit_by_name (lecture (f), "session-closed", f->session_id,
      g_get_real_time ());
}

/* Pushes media [@from, @to) seconds into the lecture's feed, as the
 * ingest would. */
static void
push_media (Fixture *f, double from, double to)
{
  KkFeed *feed = kk_lecture_get_feed (lecture (f));
  guint32 first[KK_TRACK_N];
  gboolean seen[KK_TRACK_N] = { FALSE, FALSE };
  /* In the past: the packets are pushed at once, and the recorder counts
   * its settling wait in the time packets were seen, a capture time or
   * the arrival where that is earlier. */
  gint64 base = g_get_real_time () - 30 * G_USEC_PER_SEC;

  for (guint i = 0; i < f->media->len; i++) {
    Rtp *rtp = f->media->pdata[i];
    double t;

    if (!seen[rtp->kind]) {
      seen[rtp->kind] = TRUE;
      first[rtp->kind] = rtp->timestamp;
    }
    t = rtp_seconds (rtp, first[rtp->kind]);
    if (t < from || t >= to)
      continue;
    kk_feed_push (feed, rtp->kind, rtp->codec,
        g_bytes_get_data (rtp->rtp, NULL), g_bytes_get_size (rtp->rtp),
        base + (gint64) (t * G_USEC_PER_SEC));
    /* Let the recorder build its pipeline when the keyframe asks. */
    g_main_context_iteration (NULL, FALSE);
  }
}

/* ---- HTTP ---- */

typedef struct {
  guint status;
  GBytes *body;
  SoupMessageHeaders *headers;
  JsonNode *json;
} Reply;

static void
reply_free (Reply *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->headers, soup_message_headers_unref);
  g_clear_pointer (&r->json, json_node_unref);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

typedef struct {
  SoupMessage *msg;
  Reply *reply;
  gboolean done;
} Pending;

static void
sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *pending = user_data;
  g_autoptr (GError) error = NULL;

  pending->reply->body = soup_session_send_and_read_finish (
      SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
  pending->reply->status = soup_message_get_status (pending->msg);
  pending->reply->headers = soup_message_headers_ref (
      soup_message_get_response_headers (pending->msg));
  if (g_strcmp0 (soup_message_headers_get_content_type (
              pending->reply->headers, NULL), "application/json") == 0) {
    g_autoptr (JsonParser) parser = json_parser_new ();

    g_assert_true (json_parser_load_from_data (parser,
            g_bytes_get_data (pending->reply->body, NULL),
            g_bytes_get_size (pending->reply->body), NULL));
    pending->reply->json = json_node_ref (json_parser_get_root (parser));
  }
  pending->done = TRUE;
}

/* @header: (nullable): "Name: value" to add. */
static Reply *
request (Fixture *f, const char *method, const char *path, const char *token,
    const char *header, const char *json)
{
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", f->port,
      path);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  Pending pending = { msg, g_new0 (Reply, 1), FALSE };

  if (token != NULL) {
    g_autofree char *value = g_strdup_printf ("Bearer %s", token);

    soup_message_headers_replace (headers, "Authorization", value);
  }
  if (header != NULL) {
    g_auto (GStrv) parts = g_strsplit (header, ": ", 2);

    soup_message_headers_replace (headers, parts[0], parts[1]);
  }
  if (json != NULL) {
    g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));

    soup_message_set_request_body_from_bytes (msg, "application/json", body);
  }
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL,
      sent_cb, &pending);
  while (!pending.done)
    g_main_context_iteration (NULL, TRUE);
  return pending.reply;
}

static guint
status_of (Fixture *f, const char *method, const char *path,
    const char *token)
{
  g_autoptr (Reply) r = request (f, method, path, token, NULL, NULL);

  return r->status;
}

/* The session's "recording" from GET /api/sessions (a new reference). */
static JsonObject *
listed (Fixture *f)
{
  g_autoptr (Reply) r = request (f, "GET", "/api/sessions?room=" ROOM,
      ADMIN_TOKEN, NULL, NULL);
  JsonArray *sessions;

  g_assert_cmpuint (r->status, ==, 200);
  sessions = json_node_get_array (r->json);
  for (guint i = 0; i < json_array_get_length (sessions); i++) {
    JsonObject *session = json_array_get_object_element (sessions, i);

    if (g_str_equal (json_object_get_string_member (session, "id"),
            f->session_id)) {
      JsonNode *recording = json_object_get_member (session, "recording");

      g_assert_true (JSON_NODE_HOLDS_OBJECT (recording));
      return json_object_ref (json_node_get_object (recording));
    }
  }
  g_assert_not_reached ();
}

static const char *
listed_state (Fixture *f)
{
  static char state[32];
  g_autoptr (JsonObject) recording = listed (f);

  g_strlcpy (state, json_object_get_string_member (recording, "state"),
      sizeof state);
  return state;
}

static void
wait_state (Fixture *f, const char *state)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (g_strcmp0 (listed_state (f), state) != 0) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (10000);
  }
}

static char *
recording_path (Fixture *f, const char *extension)
{
  g_autofree char *file = g_strconcat (f->session_id, ".", extension, NULL);

  return g_build_filename (f->dir, "recordings", file, NULL);
}

static char *
recording_url (Fixture *f)
{
  return g_strdup_printf ("/api/sessions/%s/recording", f->session_id);
}

/* One whole recording of the fixture's media. */
static void
record (Fixture *f)
{
  open_session (f);
  push_media (f, 0, 100);
  close_session (f);
  wait_state (f, "finished");
}

/* Runs SQL on the database of a stopped relay, whichever it is. */
static void
tamper (Fixture *f, const char *sql)
{
  g_autofree char *path = g_build_filename (f->dir, "kringkast.db", NULL);
  g_autoptr (GError) error = NULL;
  KkDb *db;

  g_assert_null (f->relay);
  db = f->config->database != NULL
      ? kk_db_pg_open (f->config->database, &error)
      : kk_db_sqlite_open (path, &error);
  g_assert_no_error (error);
  kk_db_exec (db, sql, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kk_db_changes (db), ==, 1);
  kk_db_close (db);
}

/* ---- tests ---- */

static void
test_serve_and_delete (Fixture *f, gconstpointer data)
{
  g_autofree char *url = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *bogus = g_strdup_printf ("/api/sessions/%s/recording",
      "00000000-0000-4000-8000-000000000000");
  g_autoptr (JsonObject) recording = NULL;
  g_autoptr (Reply) whole = NULL;
  g_autoptr (Reply) part = NULL;
  g_autoptr (Reply) beyond = NULL;
  gsize length;

  open_session (f);
  url = recording_url (f);
  push_media (f, 0, 1.5);
  /* Never served while written. */
  g_assert_cmpstr (listed_state (f), ==, "recording");
  g_assert_cmpuint (status_of (f, "GET", url, ADMIN_TOKEN), ==, 409);
  g_assert_cmpuint (status_of (f, "DELETE", url, ADMIN_TOKEN), ==, 409);
  push_media (f, 1.5, 100);
  close_session (f);
  wait_state (f, "finished");

  recording = listed (f);
  g_assert_cmpstr (json_object_get_string_member (recording, "url"), ==, url);
  g_assert_cmpstr (json_object_get_string_member (recording, "content_type"),
      ==, "video/webm");
  g_assert_cmpstr (json_object_get_string_member (recording, "video_codec"),
      ==, "VP8");
  g_assert_cmpstr (json_object_get_string_member (recording, "audio_codec"),
      ==, "opus");
  g_assert_cmpfloat (fabs (json_object_get_double_member (recording,
              "duration_seconds") - 3.0), <, 0.2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
              recording, "paused")), ==, 0);

  path = recording_path (f, "webm");
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpint (json_object_get_int_member (recording, "size_bytes"), ==,
      length);
  g_assert_cmpuint (length, >, 1000);

  whole = request (f, "GET", url, ADMIN_TOKEN, NULL, NULL);
  g_assert_cmpuint (whole->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (whole->headers,
          NULL), ==, "video/webm");
  g_assert_nonnull (strstr (soup_message_headers_get_one (whole->headers,
              "Content-Disposition"), "filename=\"Legemiddelhandtering-"));
  g_assert_cmpstr (soup_message_headers_get_one (whole->headers,
          "Accept-Ranges"), ==, "bytes");
  g_assert_cmpmem (g_bytes_get_data (whole->body, NULL),
      g_bytes_get_size (whole->body), contents, length);

  part = request (f, "GET", url, ADMIN_TOKEN, "Range: bytes=100-1099", NULL);
  g_assert_cmpuint (part->status, ==, 206);
  g_assert_cmpmem (g_bytes_get_data (part->body, NULL),
      g_bytes_get_size (part->body), contents + 100, 1000);
  {
    g_autofree char *want = g_strdup_printf ("bytes 100-1099/%" G_GSIZE_FORMAT,
        length);

    g_assert_cmpstr (soup_message_headers_get_one (part->headers,
            "Content-Range"), ==, want);
  }
  beyond = request (f, "GET", url, ADMIN_TOKEN, "Range: bytes=99999999-",
      NULL);
  g_assert_cmpuint (beyond->status, ==, 416);

  /* Who may fetch it, and what is never looked up. */
  g_assert_cmpuint (status_of (f, "GET", url, NULL), ==, 401);
  g_assert_cmpuint (status_of (f, "GET", url, "nobody"), ==, 401);
  g_assert_cmpuint (status_of (f, "GET", url, host_token (f)), ==, 403);
  g_assert_cmpuint (status_of (f, "DELETE", url, host_token (f)), ==, 403);
  g_assert_cmpuint (status_of (f, "GET", bogus, ADMIN_TOKEN), ==, 404);
  g_assert_cmpuint (status_of (f, "GET", "/api/sessions/x/recording",
          ADMIN_TOKEN), ==, 404);
  g_assert_cmpuint (status_of (f, "GET",
          "/api/sessions/..%252F..%252Fetc%252Fpasswd/recording",
          ADMIN_TOKEN), ==, 404);

  g_assert_cmpuint (status_of (f, "DELETE", url, ADMIN_TOKEN), ==, 204);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (status_of (f, "GET", url, ADMIN_TOKEN), ==, 410);
  g_clear_pointer (&recording, json_object_unref);
  recording = listed (f);
  g_assert_cmpstr (json_object_get_string_member (recording, "state"), ==,
      "deleted");
  g_assert_true (json_object_get_null_member (recording, "url"));
}

static void
test_pause (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) recording = NULL;
  g_autoptr (Reply) r = NULL;
  JsonArray *paused;
  const char *path = "/api/rooms/" ROOM "/recording";

  /* Nothing to pause before the broadcast. */
  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", path, host_token (f), NULL, "{\"paused\": true}");
  g_assert_cmpuint (r->status, ==, 409);

  open_session (f);
  push_media (f, 0, 1);
  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", path, host_token (f), NULL, "{\"paused\": true}");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (
              r->json), "paused"));
  g_assert_cmpstr (listed_state (f), ==, "paused");
  push_media (f, 1, 2);
  g_clear_pointer (&r, reply_free);
  r = request (f, "GET", path, host_token (f), NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (
              r->json), "paused"));
  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", path, ADMIN_TOKEN, NULL, "{\"paused\": false}");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_false (json_object_get_boolean_member (json_node_get_object (
              r->json), "paused"));
  push_media (f, 2, 100);
  close_session (f);
  wait_state (f, "finished");

  recording = listed (f);
  paused = json_object_get_array_member (recording, "paused");
  g_assert_cmpuint (json_array_get_length (paused), ==, 1);
  g_assert_false (json_object_get_null_member (
          json_array_get_object_element (paused, 0), "to"));
  /* One of three seconds was paused; the media resumes on the keyframe
   * at 2 s. */
  g_assert_cmpfloat (fabs (json_object_get_double_member (recording,
              "duration_seconds") - 2.0), <, 0.2);

  /* The host pauses; only the coordinator keeps or deletes. */
  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", path, host_token (f), NULL,
      "{\"retention_days\": 3}");
  g_assert_cmpuint (r->status, ==, 403);
  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", path, NULL, NULL, "{\"paused\": true}");
  g_assert_cmpuint (r->status, ==, 401);
  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", path, ADMIN_TOKEN, NULL, "{\"paused\": 3}");
  g_assert_cmpuint (r->status, ==, 400);
  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", "/api/rooms/nope/recording", ADMIN_TOKEN, NULL,
      "{\"paused\": true}");
  g_assert_cmpuint (r->status, ==, 404);
}

static void
test_retention (Fixture *f, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autofree char *sql = NULL;
  g_autoptr (Reply) r = NULL;
  const char *route = "/api/rooms/" ROOM "/recording";

  record (f);
  path = recording_path (f, "webm");
  stop_relay (f);
  sql = g_strdup_printf ("UPDATE recordings SET ended_at = ended_at - %"
      G_GINT64_FORMAT " WHERE session_id = '%s'",
      (gint64) 10 * 24 * 3600 * G_USEC_PER_SEC, f->session_id);
  tamper (f, sql);
  start_relay (f);

  r = request (f, "POST", route, ADMIN_TOKEN, NULL,
      "{\"retention_days\": 30}");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (r->json),
          "retention_days"), ==, 30);
  g_assert_cmpstr (listed_state (f), ==, "finished");
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

  g_clear_pointer (&r, reply_free);
  r = request (f, "POST", route, ADMIN_TOKEN, NULL, "{\"retention_days\": 7}");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (listed_state (f), ==, "deleted");
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* Kept across a restart. */
  stop_relay (f);
  start_relay (f);
  g_clear_pointer (&r, reply_free);
  r = request (f, "GET", route, ADMIN_TOKEN, NULL, NULL);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (r->json),
          "retention_days"), ==, 7);
  g_assert_cmpstr (listed_state (f), ==, "deleted");
}

/* What a SIGKILL leaves: the row still "recording", the file as it was on
 * disk mid-way. The next start remuxes it into one that plays. */
static void
test_crash_repair (Fixture *f, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *sql = NULL;
  g_autoptr (JsonObject) recording = NULL;
  gsize length;

  open_session (f);
  push_media (f, 0, 100);
  path = recording_path (f, "webm");
  /* Let the streaming threads write what they were given. */
  for (guint i = 0; i < 50; i++) {
    g_main_context_iteration (NULL, FALSE);
    g_usleep (10000);
  }
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_test_message ("cut off at %" G_GSIZE_FORMAT " bytes", length);
  close_session (f);
  wait_state (f, "finished");
  stop_relay (f);

  g_assert_true (g_file_set_contents (path, contents, length, NULL));
  sql = g_strdup_printf ("UPDATE recordings SET state = 'recording',"
      " ended_at = NULL, duration_us = 0, size = 0 WHERE session_id = '%s'",
      f->session_id);
  tamper (f, sql);
  start_relay (f);
  /* Until repaired, it is not served. */
  if (g_str_equal (listed_state (f), "recording")) {
    g_autofree char *url = recording_url (f);

    g_assert_cmpuint (status_of (f, "GET", url, ADMIN_TOKEN), ==, 409);
  }
  wait_state (f, "finished");
  recording = listed (f);
  g_test_message ("repaired: %.3f s",
      json_object_get_double_member (recording, "duration_seconds"));
  g_assert_cmpfloat (json_object_get_double_member (recording,
          "duration_seconds"), >, 2.0);
  g_assert_false (json_object_get_null_member (recording, "ended_at"));
}

/* kk_relay_free itself finishes a recording still running. */
static void
test_shutdown_finishes (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) recording = NULL;

  open_session (f);
  push_media (f, 0, 100);
  g_assert_cmpstr (listed_state (f), ==, "recording");
  stop_relay (f);
  start_relay (f);
  recording = listed (f);
  g_assert_cmpstr (json_object_get_string_member (recording, "state"), ==,
      "finished");
  g_assert_cmpfloat (fabs (json_object_get_double_member (recording,
              "duration_seconds") - 3.0), <, 0.2);
}

/* The directory vanished: the recording fails with its reason, counted. */
static void
test_unwritable (Fixture *f, gconstpointer data)
{
  g_autofree char *directory = g_build_filename (f->dir, "recordings", NULL);
  g_autofree char *page = NULL;
  g_autoptr (JsonObject) recording = NULL;

  g_assert_cmpint (g_rmdir (directory), ==, 0);
  g_test_expect_message ("kringkast", G_LOG_LEVEL_WARNING,
      "room " ROOM ": the recording of session * failed *cannot create*");
  open_session (f);
  push_media (f, 0, 1);
  close_session (f);
  wait_state (f, "failed");
  g_test_assert_expected_messages ();
  recording = listed (f);
  g_test_message ("error: %s",
      json_object_get_string_member (recording, "error"));
  g_assert_nonnull (strstr (json_object_get_string_member (recording,
              "error"), "cannot create"));
  g_assert_true (json_object_get_null_member (recording, "url"));
  page = kk_metrics_render (f->relay->metrics);
  g_assert_nonnull (strstr (page, "kringkast_recordings_failed_total 1\n"));
  g_assert_nonnull (strstr (page, "kringkast_recordings_active 0\n"));
  g_assert_cmpint (g_mkdir (directory, 0750), ==, 0);
}

int
main (int argc, char **argv)
{
  int ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/recordings/range", test_range);
  g_test_add_func ("/recordings/content-disposition",
      test_content_disposition);
  g_test_add_func ("/recordings/request-body", test_request_body);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/recordings/serve-and-delete", test_serve_and_delete);
  ADD ("/recordings/pause", test_pause);
  ADD ("/recordings/retention", test_retention);
  ADD ("/recordings/crash-repair", test_crash_repair);
  ADD ("/recordings/shutdown-finishes", test_shutdown_finishes);
  ADD ("/recordings/unwritable", test_unwritable);
#undef ADD
  ret = g_test_run ();
  /* GStreamer's pooled threads would otherwise still be winding down while
   * LeakSanitizer stops the world at exit, which it cannot always do. */
  gst_deinit ();
  return ret;
}
