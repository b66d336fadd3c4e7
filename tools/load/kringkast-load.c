/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kringkast-load: joins N viewers to a WHEP URL (or to a Janus streaming
 * mountpoint) at a given ramp, holds them, and reports what they got and
 * what the server spent.
 *
 * The run: viewers start at --ramp per second, each on one of the
 * viewer threads (kk-load-rx.c), which do all of a viewer's work; this
 * thread only paces the joins, keeps Janus's session and long poll, and
 * measures. When every viewer has connected or failed, the hold begins
 * (the server's CPU is measured over it, from /proc/PID when --pid is
 * given, and the tool's own with getrusage); after --duration seconds
 * every viewer leaves (WHEP DELETE, or the Janus session is destroyed),
 * the viewer threads stop, and the report is printed: a summary for
 * people on stdout, and JSON to --json (stdout with "-", the summary then
 * going to stderr). A progress line on stderr shows the run as it goes.
 */
#include "kk-load-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define TICK_MS 20
#define TEARDOWN_TIMEOUT_S 10
/* /proc counts CPU time in 10 ms ticks: over 6 s the server's idle rate
 * is known to ~2 ms/s, which at 100 viewers is 0.02 ms/s per viewer (over
 * 2 s it was 0.05, as much as the differences being measured). */
#define IDLE_SAMPLE_S 6

typedef struct {
  KkLoadRun run;
  pid_t server_pid;
  char *json_path;
  gboolean quiet;
  gboolean tty;
  gint64 hold_start_us;
  gint64 hold_end_us;
  gboolean holding;
  gboolean tearing_down;
  KkLoadProcSample before, idle_end, hold_start, hold_end;
  gboolean have_server;
  double self_cpu_t0_s, self_cpu_start_s, self_cpu_end_s;
  guint64 last_bytes;
  gint64 last_progress_us;
  guint tick_id, progress_id, teardown_check_id, teardown_timeout_id;
} KkLoadTool;

static double
self_cpu_s (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
      + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void
sample_server (KkLoadTool *tool, KkLoadProcSample *out)
{
  g_autoptr (GError) error = NULL;

  if (tool->server_pid <= 0)
    return;
  if (!kk_load_proc_sample (tool->server_pid, out, &error)) {
    g_printerr ("kringkast-load: server PID %d: %s\n", (int) tool->server_pid,
        error->message);
    tool->server_pid = 0;
    tool->have_server = FALSE;
  }
}

static void
progress (KkLoadTool *tool, gboolean final)
{
  KkLoadRun *run = &tool->run;
  KkLoadRxTotals sum = { 0 };
  gint64 now = g_get_monotonic_time ();
  double dt = (now - tool->last_progress_us) / 1e6;
  g_autofree char *line = NULL;

  for (guint i = 0; i < run->n_rx; i++) {
    KkLoadRxTotals t;

    kk_load_rx_totals (run->rx[i], &t);
    sum.packets += t.packets;
    sum.bytes += t.bytes;
    sum.gaps += t.gaps;
    sum.recovered += t.recovered;
  }
  line = kk_load_progress_line ((now - run->t0_us) / 1e6, run->started,
      run->viewers, g_atomic_int_get (&run->connected),
      g_atomic_int_get (&run->failed), sum.packets,
      sum.gaps > sum.recovered ? sum.gaps - sum.recovered : 0,
      dt > 0 ? (sum.bytes - tool->last_bytes) * 8 / dt / 1e6 : 0);
  tool->last_bytes = sum.bytes;
  tool->last_progress_us = now;
  if (tool->quiet)
    return;
  if (tool->tty)
    g_printerr ("\r%s\033[K%s", line, final ? "\n" : "");
  else
    g_printerr ("%s\n", line);
}

static gboolean
on_progress (gpointer data)
{
  progress (data, FALSE);
  return G_SOURCE_CONTINUE;
}

static gboolean
teardown_timeout (gpointer data)
{
  KkLoadTool *tool = data;

  tool->teardown_timeout_id = 0;
  g_main_loop_quit (tool->run.loop);
  return G_SOURCE_REMOVE;
}

static void
janus_destroyed (GObject *source, GAsyncResult *result, gpointer data)
{
  KkLoadRun *run = data;
  GBytes *body = soup_session_send_and_read_finish (SOUP_SESSION (source),
      result, NULL);

  /* Whatever Janus says, the run is over. */
  g_clear_pointer (&body, g_bytes_unref);
  run->pending_http--;
}

/* The viewer threads' DELETEs and Janus's destroy are all done. */
static gboolean
teardown_done (KkLoadRun *run)
{
  return g_atomic_int_get (&run->threads_leaving) == 0
      && run->pending_http == 0;
}

static gboolean
on_teardown_check (gpointer data)
{
  KkLoadTool *tool = data;

  if (!teardown_done (&tool->run))
    return G_SOURCE_CONTINUE;
  tool->teardown_check_id = 0;
  g_main_loop_quit (tool->run.loop);
  return G_SOURCE_REMOVE;
}

static void
teardown (KkLoadTool *tool)
{
  KkLoadRun *run = &tool->run;

  tool->tearing_down = TRUE;
  g_atomic_int_set (&run->threads_leaving, run->n_rx);
  for (guint i = 0; i < run->n_rx; i++)
    kk_load_rx_leave (run->rx[i]);
  if (run->janus && run->janus_session != 0) {
    g_autofree char *url = g_strdup_printf ("%s/%" G_GUINT64_FORMAT,
        run->url, run->janus_session);
    g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
    g_autoptr (GBytes) bytes = g_bytes_new_static (
        "{\"janus\":\"destroy\",\"transaction\":\"bye\"}", 40);

    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    run->pending_http++;
    soup_session_send_and_read_async (run->http, msg, G_PRIORITY_DEFAULT,
        NULL, janus_destroyed, run);
  }
  tool->teardown_check_id = g_timeout_add (TICK_MS, on_teardown_check, tool);
  tool->teardown_timeout_id = g_timeout_add_seconds (TEARDOWN_TIMEOUT_S,
      teardown_timeout, tool);
}

static gboolean
on_tick (gpointer data)
{
  KkLoadTool *tool = data;
  KkLoadRun *run = &tool->run;
  gint64 now = g_get_monotonic_time ();
  guint due;

  if (tool->tearing_down) {
    tool->tick_id = 0;
    return G_SOURCE_REMOVE;
  }
  /* Start whoever is due by now: the ramp is a rate, not a tick count. */
  due = MIN (run->viewers,
      (guint) ((now - run->t0_us) / 1e6 * run->ramp) + 1);
  while (run->started < due) {
    KkLoadViewer *viewer = &run->all[run->started++];

    kk_load_rx_start (viewer->rx, viewer);
  }

  if (!tool->holding
      && (guint) g_atomic_int_get (&run->settled) == run->viewers) {
    tool->holding = TRUE;
    tool->hold_start_us = now;
    sample_server (tool, &tool->hold_start);
    tool->self_cpu_start_s = self_cpu_s ();
  }
  if (tool->holding && now - tool->hold_start_us >= run->hold_s * 1e6) {
    tool->hold_end_us = now;
    sample_server (tool, &tool->hold_end);
    tool->self_cpu_end_s = self_cpu_s ();
    teardown (tool);
    tool->tick_id = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* ---- Janus: the session and its long poll ---- */

static void janus_poll (KkLoadRun *run);

static void
janus_polled (GObject *source, GAsyncResult *result, gpointer data)
{
  KkLoadRun *run = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (
      SOUP_SESSION (source), result, &error);
  g_autoptr (GArray) events = NULL;
  gsize len;
  const char *text;

  if (body == NULL) {
    if (run->janus_session != 0 && run->pending_http == 0)
      g_printerr ("kringkast-load: Janus long poll: %s\n", error->message);
    return;
  }
  text = g_bytes_get_data (body, &len);
  events = kk_load_janus_parse_events (text, len, NULL);
  for (guint i = 0; events != NULL && i < events->len; i++) {
    KkLoadJanusEvent *event = &g_array_index (events, KkLoadJanusEvent, i);
    KkLoadViewer *viewer;

    g_mutex_lock (&run->janus_lock);
    viewer = g_hash_table_lookup (run->janus_handles, &event->sender);
    g_mutex_unlock (&run->janus_lock);
    if (viewer != NULL) {
      /* The viewer's thread takes the event over; the array keeps an
       * emptied one. */
      KkLoadJanusEvent *copy = g_new (KkLoadJanusEvent, 1);

      *copy = *event;
      memset (event, 0, sizeof (*event));
      kk_load_rx_janus_event (viewer->rx, viewer, copy);
    }
  }
  if (run->pending_http == 0)
    janus_poll (run);
}

static void
janus_poll (KkLoadRun *run)
{
  g_autofree char *url = g_strdup_printf ("%s/%" G_GUINT64_FORMAT
      "?maxev=32", run->url, run->janus_session);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);

  soup_session_send_and_read_async (run->http, msg, G_PRIORITY_DEFAULT, NULL,
      janus_polled, run);
}

static gboolean
janus_create_session (KkLoadRun *run, GError **error)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", run->url);
  g_autoptr (GBytes) request = g_bytes_new_static (
      "{\"janus\":\"create\",\"transaction\":\"load\"}", 39);
  g_autoptr (GBytes) reply = NULL;
  gsize len;
  const char *text;

  if (msg == NULL) {
    g_set_error (error, KK_LOAD_ERROR, KK_LOAD_ERROR_OPTIONS,
        "bad Janus URL %s", run->url);
    return FALSE;
  }
  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  reply = soup_session_send_and_read (run->http, msg, NULL, error);
  if (reply == NULL)
    return FALSE;
  text = g_bytes_get_data (reply, &len);
  return kk_load_janus_parse_id (text, len, &run->janus_session, error);
}

/* ---- main ---- */

static void
raise_fd_limit (void)
{
  struct rlimit limit;

  /* Each viewer holds a socket, and libnice briefly a second one. */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
  }
}

static gboolean
write_json (const char *path, JsonNode *root, GError **error)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  if (g_strcmp0 (path, "-") == 0) {
    g_autofree char *text = json_generator_to_data (generator, NULL);

    printf ("%s\n", text);
    return TRUE;
  }
  return json_generator_to_file (generator, path, error);
}

int
main (int argc, char **argv)
{
  KkLoadTool tool = { 0 };
  KkLoadRun *run = &tool.run;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autofree char *url = NULL;
  g_autofree char *janus_url = NULL;
  gint viewers = 10, verify_every = 10, threads = 2, pid = 0;
  gint http_conns = 8, dtls_timeout_ms = KK_LOAD_DTLS_TIMEOUT_MS;
  double batch_ms = 20;
  gint64 mountpoint = 1;
  double ramp = 10, hold = 10, timeout = 20;
  g_autofree char *token = NULL, *local_ip = NULL, *json_path = NULL;
  gboolean quiet = FALSE;
  KkLoadReport report = { 0 };
  g_autoptr (JsonNode) json = NULL;
  g_autofree char *summary = NULL;
  GOptionEntry entries[] = {
    { "url", 'u', 0, G_OPTION_ARG_STRING, &url,
      "WHEP URL, e.g. http://127.0.0.1:8080/whep/demo", "URL" },
    { "viewers", 'n', 0, G_OPTION_ARG_INT, &viewers,
      "Number of viewers (default 10)", "N" },
    { "ramp", 'r', 0, G_OPTION_ARG_DOUBLE, &ramp,
      "Joins per second (default 10)", "R" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &hold,
      "Seconds to hold all viewers once joined (default 10)", "S" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout,
      "Seconds a viewer may take to connect (default 20)", "S" },
    { "token", 't', 0, G_OPTION_ARG_STRING, &token,
      "Participant token for every viewer (the relay lets one token hold "
      "10 at once; default: join one per viewer)",
      "TOKEN" },
    { "verify-every", 0, 0, G_OPTION_ARG_INT, &verify_every,
      "Decrypt and check 1 packet in N per stream after the first keyframe "
      "(1 = every packet; default 10)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Viewer threads: signalling, ICE, DTLS and media (default 2)", "N" },
    { "batch-ms", 0, 0, G_OPTION_ARG_DOUBLE, &batch_ms,
      "While media flows, read the sockets every MS milliseconds rather "
      "than at each packet (default 20, at most 100; 0: at each packet)",
      "MS" },
    { "http-conns", 0, 0, G_OPTION_ARG_INT, &http_conns,
      "HTTP connections to the server per viewer thread (default 8)", "N" },
    { "dtls-timeout-ms", 0, 0, G_OPTION_ARG_INT, &dtls_timeout_ms,
      "First DTLS retransmission timeout, doubling with each retransmission "
      "(default " G_STRINGIFY (KK_LOAD_DTLS_TIMEOUT_MS) "; OpenSSL's own "
      "is 1000)", "MS" },
    { "local-ip", 0, 0, G_OPTION_ARG_STRING, &local_ip,
      "Address the viewers' ICE agents use (default 127.0.0.1)", "ADDR" },
    { "pid", 'p', 0, G_OPTION_ARG_INT, &pid,
      "The server's PID, to report its CPU, memory and threads", "PID" },
    { "json", 'j', 0, G_OPTION_ARG_FILENAME, &json_path,
      "Write the report as JSON to FILE ('-': stdout)", "FILE" },
    { "janus", 0, 0, G_OPTION_ARG_STRING, &janus_url,
      "Watch a Janus streaming mountpoint instead: Janus's HTTP API URL, "
      "e.g. http://127.0.0.1:8088/janus", "URL" },
    { "janus-mountpoint", 0, 0, G_OPTION_ARG_INT64, &mountpoint,
      "Janus mountpoint id (default 1)", "ID" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      "No progress line", NULL },
    { NULL }
  };

  context = g_option_context_new ("- load a WHEP server (or Janus) with viewers");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("kringkast-load: %s\n", error->message);
    return 2;
  }
  if ((url == NULL) == (janus_url == NULL)) {
    g_printerr ("kringkast-load: give --url (WHEP) or --janus\n");
    return 2;
  }
  if (viewers < 1 || ramp <= 0 || hold < 0 || timeout <= 0
      || verify_every < 1 || threads < 1 || threads > 64 || mountpoint < 1
      || http_conns < 1 || batch_ms < 0 || batch_ms > 100
      || dtls_timeout_ms < 1 || dtls_timeout_ms > 60000) {
    g_printerr ("kringkast-load: --viewers, --ramp, --timeout, "
        "--verify-every, --threads, --http-conns and --janus-mountpoint "
        "must be positive, --batch-ms 0 to 100, --dtls-timeout-ms 1 to "
        "60000\n");
    return 2;
  }

  raise_fd_limit ();
  run->url = g_strdup (url != NULL ? url : janus_url);
  run->janus = janus_url != NULL;
  run->janus_mountpoint = mountpoint;
  run->token = g_steal_pointer (&token);
  run->local_ip = local_ip != NULL ? g_steal_pointer (&local_ip)
      : g_strdup ("127.0.0.1");
  run->viewers = viewers;
  run->ramp = ramp;
  run->hold_s = hold;
  run->timeout_s = timeout;
  run->verify_every = verify_every;
  run->n_rx = threads;
  run->batch_us = (gint64) (batch_ms * 1000);
  run->http_conns = http_conns;
  run->dtls_timeout_ms = dtls_timeout_ms;
  g_mutex_init (&run->janus_lock);
  run->janus_handles = g_hash_table_new (g_int64_hash, g_int64_equal);
  tool.server_pid = pid;
  tool.quiet = quiet;
  tool.tty = isatty (STDERR_FILENO);
  tool.json_path = g_steal_pointer (&json_path);

  run->dtls = kk_dtls_context_new (&error);
  if (run->dtls == NULL) {
    g_printerr ("kringkast-load: %s\n", error->message);
    return 1;
  }
  run->fingerprint = g_strdup (kk_dtls_context_get_fingerprint (run->dtls));
  /* Janus's session and long poll only; the viewers have their threads'. */
  run->http = soup_session_new_with_options ("timeout", 60,
      "proxy-resolver", NULL, NULL);
  run->loop = g_main_loop_new (NULL, FALSE);
  run->rx = g_new0 (KkLoadRx *, run->n_rx);
  for (guint i = 0; i < run->n_rx; i++)
    run->rx[i] = kk_load_rx_new (run, i);
  run->all = g_new0 (KkLoadViewer, run->viewers);
  for (guint i = 0; i < run->viewers; i++) {
    run->all[i].run = run;
    run->all[i].rx = run->rx[i % run->n_rx];
    run->all[i].index = i;
    run->all[i].fd = -1;
  }

  if (tool.server_pid > 0) {
    tool.have_server = TRUE;
    sample_server (&tool, &tool.before);
    /* The server's own idle cost (receiving the source), to tell what
     * the viewers add. */
    g_usleep (IDLE_SAMPLE_S * G_USEC_PER_SEC);
    sample_server (&tool, &tool.idle_end);
  }
  if (run->janus && !janus_create_session (run, &error)) {
    g_printerr ("kringkast-load: Janus: %s\n", error->message);
    return 1;
  }
  if (run->janus)
    janus_poll (run);

  run->t0_us = tool.last_progress_us = g_get_monotonic_time ();
  tool.self_cpu_t0_s = self_cpu_s ();
  tool.tick_id = g_timeout_add (TICK_MS, on_tick, &tool);
  tool.progress_id = g_timeout_add_seconds (1, on_progress, &tool);
  g_main_loop_run (run->loop);
  g_clear_handle_id (&tool.tick_id, g_source_remove);
  g_clear_handle_id (&tool.progress_id, g_source_remove);
  g_clear_handle_id (&tool.teardown_check_id, g_source_remove);
  g_clear_handle_id (&tool.teardown_timeout_id, g_source_remove);
  progress (&tool, TRUE);

  for (guint i = 0; i < run->n_rx; i++)
    kk_load_rx_free (run->rx[i]);

  report.target = g_strdup (run->url);
  report.mode = g_strdup (run->janus ? "janus" : "whep");
  report.viewers = run->viewers;
  report.ramp = run->ramp;
  report.hold_s = (tool.hold_end_us - tool.hold_start_us) / 1e6;
  report.verify_every = run->verify_every;
  {
    g_autofree KkLoadViewerResult *results = g_new0 (KkLoadViewerResult,
        run->viewers);

    for (guint i = 0; i < run->viewers; i++)
      results[i] = run->all[i].result;
    kk_load_report_aggregate (&report, results, run->viewers);
  }
  if (tool.have_server)
    kk_load_report_set_server (&report, &tool.before, &tool.idle_end,
        IDLE_SAMPLE_S, &tool.hold_start, &tool.hold_end, report.hold_s,
        sysconf (_SC_CLK_TCK));
  if (tool.holding)
    report.self_join_cpu_ms_per_viewer = 1000 * (tool.self_cpu_start_s
        - tool.self_cpu_t0_s) / run->viewers;
  if (report.hold_s > 0) {
    report.self_cpu_ms_per_s = 1000 * (tool.self_cpu_end_s
        - tool.self_cpu_start_s) / report.hold_s;
    report.self_cpu_ms_per_s_per_viewer = report.connected
        ? report.self_cpu_ms_per_s / report.connected : 0;
  }
  summary = kk_load_report_to_text (&report);
  json = kk_load_report_to_json (&report);
  if (g_strcmp0 (tool.json_path, "-") == 0)
    g_printerr ("%s", summary);
  else
    printf ("%s", summary);
  if (tool.json_path != NULL && !write_json (tool.json_path, json, &error)) {
    g_printerr ("kringkast-load: %s: %s\n", tool.json_path, error->message);
    return 1;
  }
  fflush (stdout);

  for (guint i = 0; i < run->viewers; i++)
    kk_load_viewer_clear (&run->all[i]);
  kk_load_report_clear (&report);
  /* Whatever this context still has to deliver: Janus's last replies. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_free (run->all);
  g_free (run->rx);
  g_hash_table_unref (run->janus_handles);
  g_mutex_clear (&run->janus_lock);
  g_object_unref (run->http);
  g_main_loop_unref (run->loop);
  kk_dtls_context_free (run->dtls);
  g_free (run->fingerprint);
  g_free (run->url);
  g_free (run->token);
  g_free (run->local_ip);
  g_free (tool.json_path);
  return report.connected == run->viewers ? 0 : 1;
}
