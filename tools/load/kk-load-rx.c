/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-rx: the load tool's viewer threads.
 *
 * A fixed number of threads (--threads) share the viewers, viewer i going
 * to thread i mod N. Each thread runs a GMainContext of its own with a
 * SoupSession of its own (libsoup sessions belong to one context), so a
 * viewer's HTTP requests, its libnice agent and its DTLS handshake all run
 * on its thread and the joins of a large run are spread over the cores
 * rather than queued behind one main loop. Once DTLS is done the agent
 * goes and the viewer's socket (a dup of the one libnice chose, connected
 * to the server) joins the thread's epoll set, which is one fd in the
 * GMainContext, however many viewers there are.
 *
 * The receive path is built for its cost per packet, which decides how
 * many viewers one machine can simulate. A thousand sockets that each get
 * a packet every few milliseconds would otherwise cost a wakeup, an
 * epoll_wait and a recvmmsg per packet. So while packets keep coming the
 * epoll fd is not watched: the thread reads every ready socket, then
 * sleeps for the batch interval (--batch-ms) and reads again, and goes
 * back to waiting on the epoll fd only once a read finds nothing. Each
 * recvmmsg then brings several packets, and each wakeup serves hundreds
 * of sockets. Packets wait in the socket buffers meanwhile, so what a
 * viewer measures must not depend on when we read: until its first
 * keyframe, each socket has SO_TIMESTAMPNS on, and first packet and
 * first keyframe times are the kernel's arrival times. (The kernel turns
 * its arrival stamps on for the first such socket of the machine from a
 * workqueue, some time later, and off again with the last: each thread
 * keeps one idle socket with the option on for the whole run, so that a
 * viewer's socket never waits for that.) The same thread sends each
 * viewer's receiver reports, NACKs and consent checks. Nothing takes a
 * lock per packet, and the totals for the progress line are relaxed
 * atomics.
 */
#include "kk-load-private.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define DATAGRAM_MAX 1500
#define EVENTS 256
#define TICK_US (20 * 1000)
#define CONTROL_LEN CMSG_SPACE (sizeof (struct timespec))

typedef struct {
  GSource source;
  KkLoadRx *rx;
  gpointer tag;
} RxSource;

struct _KkLoadRx {
  KkLoadRun *run;
  guint index;
  GThread *thread;
  int stamp_keeper;           /* see above */
  GMainContext *context;
  GMainLoop *loop;
  SoupSession *http;          /* made and used on the thread */
  int epfd;
  RxSource *rx_source;
  gboolean batching;          /* the epoll fd is not watched until... */
  gint64 next_read_us;        /* ...this time */
  gint64 next_tick_us;
  GPtrArray *viewers;         /* every viewer started here */
  GPtrArray *connected;       /* those in the epoll set */
  guint pending_leave;        /* DELETEs in flight */
  gboolean leaving;
  KkLoadRxTotals totals;      /* atomics */

  guint8 (*bufs)[DATAGRAM_MAX];
  guint8 (*control)[CONTROL_LEN];
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
};

void
kk_load_rx_count (KkLoadRx *rx, gsize bytes, guint64 gaps, guint64 recovered)
{
  /* Only the owning thread writes: a relaxed load and store each, so the
   * main thread's reads are never torn, without a locked instruction per
   * packet. */
  KkLoadRxTotals *t = &rx->totals;

  __atomic_store_n (&t->packets,
      __atomic_load_n (&t->packets, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
  __atomic_store_n (&t->bytes,
      __atomic_load_n (&t->bytes, __ATOMIC_RELAXED) + bytes, __ATOMIC_RELAXED);
  if (gaps)
    __atomic_store_n (&t->gaps,
        __atomic_load_n (&t->gaps, __ATOMIC_RELAXED) + gaps, __ATOMIC_RELAXED);
  if (recovered)
    __atomic_store_n (&t->recovered,
        __atomic_load_n (&t->recovered, __ATOMIC_RELAXED) + recovered,
        __ATOMIC_RELAXED);
}

void
kk_load_rx_totals (KkLoadRx *rx, KkLoadRxTotals *out)
{
  out->packets = __atomic_load_n (&rx->totals.packets, __ATOMIC_RELAXED);
  out->bytes = __atomic_load_n (&rx->totals.bytes, __ATOMIC_RELAXED);
  out->gaps = __atomic_load_n (&rx->totals.gaps, __ATOMIC_RELAXED);
  out->recovered = __atomic_load_n (&rx->totals.recovered, __ATOMIC_RELAXED);
}

GMainContext *
kk_load_rx_get_context (KkLoadRx *rx)
{
  return rx->context;
}

SoupSession *
kk_load_rx_get_http (KkLoadRx *rx)
{
  return rx->http;
}

/* ---- receiving ---- */

/* The kernel's arrival time of @msg on the monotonic clock, or @fallback
 * when it carries none. @real_offset: real minus monotonic time, in us. */
static gint64
arrival (const struct msghdr *msg, gint64 real_offset, gint64 fallback)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR (msg); c != NULL;
      c = CMSG_NXTHDR ((struct msghdr *) msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS
        && c->cmsg_len >= CMSG_LEN (sizeof (struct timespec))) {
      struct timespec ts;

      memcpy (&ts, CMSG_DATA (c), sizeof (ts));
      return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000
          - real_offset;
    }
  }
  return fallback;
}

static void
drain (KkLoadRx *rx, KkLoadViewer *viewer, gint64 now, gint64 real_offset)
{
  for (;;) {
    gboolean stamped = viewer->timestamps;
    int n;

    for (guint i = 0; i < BATCH; i++) {
      struct msghdr *h = &rx->msgs[i].msg_hdr;

      rx->iovs[i].iov_base = rx->bufs[i];
      rx->iovs[i].iov_len = DATAGRAM_MAX;
      h->msg_iov = &rx->iovs[i];
      h->msg_iovlen = 1;
      h->msg_name = NULL;
      h->msg_namelen = 0;
      h->msg_control = stamped ? rx->control[i] : NULL;
      h->msg_controllen = stamped ? CONTROL_LEN : 0;
      h->msg_flags = 0;
    }
    n = recvmmsg (viewer->fd, rx->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      return;
    for (int i = 0; i < n; i++) {
      gint64 t = stamped ? arrival (&rx->msgs[i].msg_hdr, real_offset, now)
          : now;

      kk_load_viewer_handle_datagram (viewer, rx->bufs[i],
          rx->msgs[i].msg_len, t);
    }
    /* The first keyframe is the last time that counts: from here on,
     * "now" is good enough and the kernel may stop stamping. */
    if (viewer->timestamps && viewer->first_keyframe_us != 0) {
      int off = 0;

      setsockopt (viewer->fd, SOL_SOCKET, SO_TIMESTAMPNS, &off, sizeof (off));
      viewer->timestamps = FALSE;
    }
    if (n < BATCH)
      return;
  }
}

/* Reads every ready socket; returns how many there were. */
static guint
read_ready (KkLoadRx *rx)
{
  struct epoll_event events[EVENTS];
  gint64 now = g_get_monotonic_time ();
  gint64 real_offset = g_get_real_time () - now;
  guint total = 0;
  int n;

  do {
    n = epoll_wait (rx->epfd, events, EVENTS, 0);
    for (int i = 0; i < n; i++)
      drain (rx, events[i].data.ptr, now, real_offset);
    total += MAX (n, 0);
  } while (n == EVENTS);
  return total;
}

/* Handshake timers of those still connecting, reports and consent checks
 * of those connected. */
static void
tick (KkLoadRx *rx, gint64 now)
{
  for (guint i = 0; i < rx->viewers->len; i++)
    kk_load_viewer_tick (rx->viewers->pdata[i], now);
  for (guint i = 0; i < rx->connected->len; i++)
    kk_load_viewer_media_tick (rx->connected->pdata[i], now);
}

/* The thread's one source for media and timers. Watching, it wakes for
 * the first packet on any socket, or for the tick. Batching, it wakes only
 * at the end of the batch interval, and the tick waits for that wakeup
 * (--batch-ms is at most 100 ms, nothing the tick does is that urgent), so
 * that while packets flow one wakeup per interval does all of it. */
static gboolean
rx_source_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  RxSource *self = (RxSource *) source;
  KkLoadRx *rx = self->rx;
  gint64 now = g_get_monotonic_time ();

  if (rx->batching ? now >= rx->next_read_us
      : (g_source_query_unix_fd (source, self->tag) & G_IO_IN) != 0) {
    gboolean traffic = read_ready (rx) > 0;

    now = g_get_monotonic_time ();
    rx->batching = traffic && rx->run->batch_us > 0;
    rx->next_read_us = now + rx->run->batch_us;
    g_source_modify_unix_fd (source, self->tag, rx->batching ? 0 : G_IO_IN);
  }
  if (now >= rx->next_tick_us) {
    tick (rx, now);
    rx->next_tick_us = now + TICK_US;
  }
  g_source_set_ready_time (source,
      rx->batching ? rx->next_read_us : rx->next_tick_us);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs rx_source_funcs = {
  .dispatch = rx_source_dispatch,
};

void
kk_load_rx_add (KkLoadRx *rx, KkLoadViewer *viewer)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = viewer };
  int on = 1;

  if (viewer->first_keyframe_us == 0
      && setsockopt (viewer->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on,
          sizeof (on)) == 0)
    viewer->timestamps = TRUE;
  if (epoll_ctl (rx->epfd, EPOLL_CTL_ADD, viewer->fd, &ev) < 0) {
    g_warning ("viewer %u: epoll_ctl: %s", viewer->index, g_strerror (errno));
    return;
  }
  g_ptr_array_add (rx->connected, viewer);
}

/* ---- calls from the main thread ---- */

static gboolean
start_viewer (gpointer data)
{
  KkLoadViewer *viewer = data;

  g_ptr_array_add (viewer->rx->viewers, viewer);
  kk_load_viewer_start (viewer);
  return G_SOURCE_REMOVE;
}

void
kk_load_rx_start (KkLoadRx *rx, KkLoadViewer *viewer)
{
  g_return_if_fail (viewer->rx == rx);
  g_main_context_invoke (rx->context, start_viewer, viewer);
}

typedef struct {
  KkLoadViewer *viewer;
  KkLoadJanusEvent *event;
} JanusCall;

static gboolean
janus_event (gpointer data)
{
  JanusCall *call = data;

  kk_load_viewer_janus_event (call->viewer, call->event);
  return G_SOURCE_REMOVE;
}

static void
janus_call_free (gpointer data)
{
  JanusCall *call = data;

  kk_load_janus_event_clear (call->event);
  g_free (call->event);
  g_free (call);
}

void
kk_load_rx_janus_event (KkLoadRx *rx, KkLoadViewer *viewer,
    KkLoadJanusEvent *event)
{
  JanusCall *call = g_new (JanusCall, 1);

  call->viewer = viewer;
  call->event = event;
  /* Freed even if the thread stops before it runs. */
  g_main_context_invoke_full (rx->context, G_PRIORITY_DEFAULT, janus_event,
      call, janus_call_free);
}

static void
left_all (KkLoadRx *rx)
{
  /* The main thread checks the count on its tick. */
  g_atomic_int_add (&rx->run->threads_leaving, -1);
}

void
kk_load_rx_left_one (KkLoadRx *rx)
{
  if (--rx->pending_leave == 0 && rx->leaving)
    left_all (rx);
}

static gboolean
leave (gpointer data)
{
  KkLoadRx *rx = data;

  for (guint i = 0; i < rx->viewers->len; i++) {
    if (kk_load_viewer_leave (rx->viewers->pdata[i]))
      rx->pending_leave++;
  }
  rx->leaving = TRUE;
  if (rx->pending_leave == 0)
    left_all (rx);
  return G_SOURCE_REMOVE;
}

void
kk_load_rx_leave (KkLoadRx *rx)
{
  g_main_context_invoke (rx->context, leave, rx);
}

static gboolean
stop (gpointer data)
{
  KkLoadRx *rx = data;

  for (guint i = 0; i < rx->viewers->len; i++) {
    KkLoadViewer *viewer = rx->viewers->pdata[i];

    if (viewer->fd >= 0)
      epoll_ctl (rx->epfd, EPOLL_CTL_DEL, viewer->fd, NULL);
    kk_load_viewer_close (viewer);
  }
  g_main_loop_quit (rx->loop);
  return G_SOURCE_REMOVE;
}

/* ---- the thread ---- */

static gpointer
rx_thread (gpointer data)
{
  KkLoadRx *rx = data;

  g_main_context_push_thread_default (rx->context);
  /* No proxy: the targets are on this machine, and the system's proxy
   * resolver would be asked once per connection. */
  rx->http = soup_session_new_with_options ("max-conns",
      rx->run->http_conns, "max-conns-per-host", rx->run->http_conns,
      "timeout", 60, "proxy-resolver", NULL, NULL);
  g_main_loop_run (rx->loop);
  g_clear_object (&rx->http);
  /* Agents dropped on the way are unreffed from idle callbacks. */
  while (g_main_context_iteration (rx->context, FALSE))
    ;
  g_main_context_pop_thread_default (rx->context);
  return NULL;
}

KkLoadRx *
kk_load_rx_new (KkLoadRun *run, guint index)
{
  KkLoadRx *rx = g_new0 (KkLoadRx, 1);
  g_autofree char *name = g_strdup_printf ("kk-load-rx%u", index);
  int on = 1;

  rx->run = run;
  rx->index = index;
  rx->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (rx->epfd < 0)
    g_error ("viewer thread: epoll: %s", g_strerror (errno));
  rx->stamp_keeper = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (rx->stamp_keeper >= 0)
    setsockopt (rx->stamp_keeper, SOL_SOCKET, SO_TIMESTAMPNS, &on,
        sizeof (on));
  rx->bufs = g_malloc (BATCH * DATAGRAM_MAX);
  rx->control = g_malloc0 (BATCH * CONTROL_LEN);
  rx->viewers = g_ptr_array_new ();
  rx->connected = g_ptr_array_new ();
  rx->context = g_main_context_new ();
  rx->loop = g_main_loop_new (rx->context, FALSE);

  rx->rx_source = (RxSource *) g_source_new (&rx_source_funcs,
      sizeof (RxSource));
  rx->rx_source->rx = rx;
  rx->rx_source->tag = g_source_add_unix_fd ((GSource *) rx->rx_source,
      rx->epfd, G_IO_IN);
  g_source_set_name ((GSource *) rx->rx_source, "kk-load media");
  rx->next_tick_us = g_get_monotonic_time () + TICK_US;
  g_source_set_ready_time ((GSource *) rx->rx_source, rx->next_tick_us);
  g_source_attach ((GSource *) rx->rx_source, rx->context);

  rx->thread = g_thread_new (name, rx_thread, rx);
  return rx;
}

void
kk_load_rx_free (KkLoadRx *rx)
{
  if (rx == NULL)
    return;
  g_main_context_invoke (rx->context, stop, rx);
  g_thread_join (rx->thread);
  g_source_destroy ((GSource *) rx->rx_source);
  g_source_unref ((GSource *) rx->rx_source);
  g_main_loop_unref (rx->loop);
  g_main_context_unref (rx->context);
  close (rx->epfd);
  if (rx->stamp_keeper >= 0)
    close (rx->stamp_keeper);
  g_ptr_array_unref (rx->viewers);
  g_ptr_array_unref (rx->connected);
  g_free (rx->bufs);
  g_free (rx->control);
  g_free (rx);
}
