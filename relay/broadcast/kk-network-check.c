/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-network-check: a feed of the test pattern for the network check
 * page, with viewers that count for nothing; see kk-network-check.h. The
 * source follows the viewers: the first one starts the pipeline, the
 * last one to leave stops it. Each viewer has a timer that closes it
 * after KK_NETWORK_CHECK_SECONDS; its leave event (from the fan-out)
 * then frees its slot, the same way as a DELETE or a lost connection.
 */
#include "kk-network-check.h"

#include <gst/gst.h>

#include "kk-ingest.h"
#include "kk-pipeline-file.h"
#include "kk-random.h"

GST_DEBUG_CATEGORY_STATIC (kk_network_check_debug);
#define GST_CAT_DEFAULT kk_network_check_debug

G_DEFINE_QUARK (kk-network-check-error-quark, kk_network_check_error)

#define KK_NETWORK_CHECK_PIPELINE "testsrc-small"

struct _KkNetworkCheck {
  GObject parent;

  KkFanout *fanout;
  const KkConfig *config;
  KkFeed *feed;
  KkIngest *ingest;             /* nullable: only while someone checks */
  GHashTable *viewers;          /* resource id -> CheckViewer (owned) */
  guint holds;                  /* kk_network_check_hold_source () calls */
};

G_DEFINE_FINAL_TYPE (KkNetworkCheck, kk_network_check, G_TYPE_OBJECT)

typedef struct {
  KkNetworkCheck *check;
  KkViewer *viewer;
  char *resource_id;
  char *client_key;             /* nullable: a program on this machine */
  guint timer;
} CheckViewer;

static void
check_viewer_free (CheckViewer *entry)
{
  if (entry->timer != 0)
    g_source_remove (entry->timer);
  kk_viewer_unref (entry->viewer);
  g_free (entry->resource_id);
  g_free (entry->client_key);
  g_free (entry);
}

/* How many streams @client_key holds. */
static guint
count_client_viewers (KkNetworkCheck *check, const char *client_key)
{
  GHashTableIter iter;
  gpointer value;
  guint count = 0;

  g_hash_table_iter_init (&iter, check->viewers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((CheckViewer *) value)->client_key, client_key) == 0)
      count++;
  return count;
}

/* Stops the test pattern; from inside one of the ingest's callbacks the
 * free waits until that callback has returned. */
static void
stop_source (KkNetworkCheck *check, gboolean from_callback)
{
  KkIngest *ingest = g_steal_pointer (&check->ingest);

  if (ingest == NULL)
    return;
  GST_INFO ("network check: test pattern stopped");
  kk_feed_reset_source (check->feed);
  if (from_callback)
    kk_ingest_free_later (ingest);
  else
    kk_ingest_free (ingest);
}

static void
on_source_stopped (KkIngest *ingest, const char *reason, gpointer user_data)
{
  KkNetworkCheck *check = user_data;

  /* The checkers' streams stall; they see it and say so. The next one
   * to come starts the pattern again. */
  GST_WARNING ("network check: test pattern stopped: %s", reason);
  stop_source (check, TRUE);
}

static void
on_media_started (KkIngest *ingest, gpointer user_data)
{
  GST_INFO ("network check: test pattern flowing");
}

static const KkIngestCallbacks ingest_callbacks = {
  .media_started = on_media_started,
  .stopped = on_source_stopped,
};

static gboolean
start_source (KkNetworkCheck *check, GError **error)
{
  g_autoptr (GError) load_error = NULL;
  GstElement *pipeline;

  if (check->ingest != NULL)
    return TRUE;
  pipeline = kk_pipeline_file_load (check->config->pipelines_dir,
      KK_NETWORK_CHECK_PIPELINE, NULL, "network check", &load_error);
  if (pipeline == NULL) {
    g_set_error (error, KK_NETWORK_CHECK_ERROR, KK_NETWORK_CHECK_ERROR_SOURCE,
        "the test pattern would not start: %s", load_error->message);
    return FALSE;
  }
  check->ingest = kk_ingest_new_pipeline ("network-check", pipeline,
      check->feed, &ingest_callbacks, check, error);
  return check->ingest != NULL;
}

static void
on_keyframe_wanted (KkFeed *feed, gpointer user_data)
{
  KkNetworkCheck *check = user_data;

  if (check->ingest != NULL)
    kk_ingest_request_keyframe (check->ingest);
}

static void
on_viewer_connected (KkViewer *viewer, gint64 wall_us, gpointer user_data)
{
  CheckViewer *entry = user_data;

  GST_INFO ("network check: viewer %s receiving", entry->resource_id);
}

static void
on_viewer_left (KkViewer *viewer, KkViewerLeft reason,
    gint64 last_seen_wall_us, gpointer user_data)
{
  CheckViewer *entry = user_data;
  KkNetworkCheck *check = entry->check;

  GST_INFO ("network check: viewer %s left (%s)", entry->resource_id,
      kk_viewer_left_to_string (reason));
  /* Frees entry. */
  g_hash_table_remove (check->viewers, entry->resource_id);
  if (g_hash_table_size (check->viewers) == 0 && check->holds == 0)
    stop_source (check, FALSE);
}

static const KkViewerCallbacks viewer_callbacks = {
  .connected = on_viewer_connected,
  .left = on_viewer_left,
};

static gboolean
on_time_up (gpointer user_data)
{
  CheckViewer *entry = user_data;

  entry->timer = 0;
  kk_viewer_close (entry->viewer);
  return G_SOURCE_REMOVE;
}

char *
kk_network_check_add_viewer (KkNetworkCheck *check,
    const KkViewerOffer *offer, gboolean local_peer, const char *client_key,
    char **resource_id, GError **error)
{
  CheckViewer *entry;
  char *answer = NULL;

  g_return_val_if_fail (KK_IS_NETWORK_CHECK (check), NULL);

  if (g_hash_table_size (check->viewers) >= KK_NETWORK_CHECK_MAX_VIEWERS) {
    g_set_error (error, KK_NETWORK_CHECK_ERROR, KK_NETWORK_CHECK_ERROR_BUSY,
        "%d network checks are running; try again in a minute",
        KK_NETWORK_CHECK_MAX_VIEWERS);
    return NULL;
  }
  /* The table holds at most KK_NETWORK_CHECK_MAX_VIEWERS: a walk is
   * cheaper than keeping a second table in step. */
  if (client_key != NULL && count_client_viewers (check, client_key)
      >= KK_NETWORK_CHECK_MAX_PER_ADDRESS) {
    g_set_error (error, KK_NETWORK_CHECK_ERROR, KK_NETWORK_CHECK_ERROR_BUSY,
        "%d network checks from this address are running; let them end "
        "first", KK_NETWORK_CHECK_MAX_PER_ADDRESS);
    return NULL;
  }
  if (!start_source (check, error))
    return NULL;
  entry = g_new0 (CheckViewer, 1);
  entry->check = check;
  /* The id is the checker's only key: unguessable. */
  entry->resource_id = kk_random_hex (16);
  entry->client_key = g_strdup (client_key);
  entry->viewer = kk_viewer_new (check->feed, offer, local_peer,
      &viewer_callbacks, entry, &answer, error);
  if (entry->viewer == NULL) {
    g_free (entry->resource_id);
    g_free (entry->client_key);
    g_free (entry);
    if (g_hash_table_size (check->viewers) == 0 && check->holds == 0)
      stop_source (check, FALSE);
    return NULL;
  }
  /* The check measures the path, so its viewers always get the whole
   * pattern: left to the weak-link rules, a checker on a narrow link
   * would be moved to the light layer, which this feed never has, or to
   * sound only within seconds, and would report a clean, slow path
   * instead of what the link carries (it-check_shaped). Queued on the
   * viewer's worker before its first packet. */
  kk_viewer_set_quality (entry->viewer, KK_QUALITY_BEST, KK_LAYER_FULL);
  entry->timer = g_timeout_add_seconds (KK_NETWORK_CHECK_SECONDS, on_time_up,
      entry);
  g_hash_table_insert (check->viewers, entry->resource_id, entry);
  *resource_id = g_strdup (entry->resource_id);
  return answer;
}

gboolean
kk_network_check_remove_viewer (KkNetworkCheck *check, const char *resource_id)
{
  CheckViewer *entry;

  g_return_val_if_fail (KK_IS_NETWORK_CHECK (check), FALSE);

  entry = g_hash_table_lookup (check->viewers, resource_id);
  if (entry == NULL)
    return FALSE;
  kk_viewer_close (entry->viewer);
  return TRUE;
}

gboolean
kk_network_check_hold_source (KkNetworkCheck *check, GError **error)
{
  g_return_val_if_fail (KK_IS_NETWORK_CHECK (check), FALSE);

  if (!start_source (check, error))
    return FALSE;
  check->holds++;
  return TRUE;
}

void
kk_network_check_release_source (KkNetworkCheck *check)
{
  g_return_if_fail (KK_IS_NETWORK_CHECK (check));
  g_return_if_fail (check->holds > 0);

  check->holds--;
  if (check->holds == 0 && g_hash_table_size (check->viewers) == 0)
    stop_source (check, FALSE);
}

KkFeed *
kk_network_check_get_feed (KkNetworkCheck *check)
{
  g_return_val_if_fail (KK_IS_NETWORK_CHECK (check), NULL);

  return check->feed;
}

guint16
kk_network_check_get_media_port (KkNetworkCheck *check)
{
  g_return_val_if_fail (KK_IS_NETWORK_CHECK (check), 0);

  return kk_fanout_get_port (check->fanout);
}

const char *const *
kk_network_check_get_addresses (KkNetworkCheck *check)
{
  g_return_val_if_fail (KK_IS_NETWORK_CHECK (check), NULL);

  return kk_fanout_get_addresses (check->fanout);
}

void
kk_network_check_stop (KkNetworkCheck *check)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (KK_IS_NETWORK_CHECK (check));

  g_hash_table_iter_init (&iter, check->viewers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    kk_viewer_close (((CheckViewer *) value)->viewer);
  stop_source (check, FALSE);
}

KkNetworkCheck *
kk_network_check_new (KkFanout *fanout, const KkConfig *config)
{
  KkNetworkCheck *check = g_object_new (KK_TYPE_NETWORK_CHECK, NULL);
  KkFeedCallbacks feed_callbacks = { .request_keyframe = on_keyframe_wanted };

  if (kk_network_check_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_network_check_debug, "kk-network-check", 0,
        "Kringkast network check");
  check->fanout = fanout;
  check->config = config;
  check->feed = kk_feed_new (fanout, "network-check", &feed_callbacks, check);
  return check;
}

static void
kk_network_check_finalize (GObject *object)
{
  KkNetworkCheck *check = KK_NETWORK_CHECK (object);

  stop_source (check, FALSE);
  g_hash_table_unref (check->viewers);
  kk_feed_free (check->feed);
  G_OBJECT_CLASS (kk_network_check_parent_class)->finalize (object);
}

static void
kk_network_check_class_init (KkNetworkCheckClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_network_check_finalize;
}

static void
kk_network_check_init (KkNetworkCheck *check)
{
  check->viewers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) check_viewer_free);
}
