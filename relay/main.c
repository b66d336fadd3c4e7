/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kringkast: the lecture relay daemon. Options, signals, the main loop;
 * everything else is in kk-relay.c and the modules it wires together.
 */
#include "kk-build-config.h"
#include "kk-config.h"
#include "kk-http.h"
#include "kk-relay.h"

#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>
#include <unistd.h>

/* SIGINT/SIGTERM must end the process within 5 s even if teardown hangs
 * on something outside our control (a stuck RTSP camera, say). */
#define STOP_DEADLINE_S 4

static gboolean
on_stop_signal (gpointer user_data)
{
  GMainLoop *loop = user_data;

  g_message ("stopping");
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gpointer
stop_watchdog (gpointer data)
{
  g_usleep (STOP_DEADLINE_S * G_USEC_PER_SEC);
  g_printerr ("kringkast: teardown took too long, exiting\n");
  _exit (0);
  return NULL;
}

static void
print_urls (KkRelay *relay)
{
  guint16 port = kk_http_server_get_port (relay->server);
  KkRoom *demo = kk_room_registry_lookup (relay->registry, "demo");

  g_print ("\nKringkast %s is running.\n", KK_VERSION);
  g_print ("  Coordinator:  http://localhost:%u/admin\n", port);
  if (demo != NULL)
    g_print ("  Watch demo:   http://localhost:%u/watch/demo\n", port);
  g_print ("  Health:       http://localhost:%u/healthz\n", port);
  g_print ("  Metrics:      http://localhost:%u/metrics\n", port);
  g_print ("  Media port:   %u (UDP and ICE-TCP)\n",
      kk_fanout_get_port (relay->fanout));
  g_print ("Stop with Ctrl-C.\n\n");
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KkConfig) config = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  KkRelay *relay;

  config = kk_config_load (&argc, &argv, &error);
  if (config == NULL) {
    g_printerr ("kringkast: %s\n", error->message);
    return 2;
  }
  /* kk_config_load parsed GStreamer's options; init is idempotent. */
  gst_init (NULL, NULL);

  loop = g_main_loop_new (NULL, FALSE);
  relay = kk_relay_new (config, &error);
  if (relay == NULL) {
    g_printerr ("kringkast: %s\n", error->message);
    return 1;
  }
  g_unix_signal_add (SIGINT, on_stop_signal, loop);
  g_unix_signal_add (SIGTERM, on_stop_signal, loop);
  print_urls (relay);

  g_main_loop_run (loop);

  g_thread_unref (g_thread_new ("kk-stop-watchdog", stop_watchdog, NULL));
  kk_relay_free (relay);
  return 0;
}
