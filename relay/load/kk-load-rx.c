/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load-rx: the load tool's receive threads.
 *
 * Once a viewer's DTLS handshake is done, its socket (a dup of the one
 * libnice chose, connected to the server's address) joins the epoll set
 * of one of a fixed number of threads. Each wakeup drains the socket with
 * recvmmsg in batches, so a thousand viewers cost a few system calls per
 * packet burst rather than a main-loop dispatch per packet, and the same
 * thread sends each viewer's receiver reports, NACKs and consent checks
 * on a 50 ms tick. Nothing here takes a lock per packet: a viewer belongs
 * to exactly one thread, and the totals for the progress line are relaxed
 * atomics.
 */
#include "kk-load-private.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BATCH 32
#define DATAGRAM_MAX 1500
#define TICK_US (50 * 1000)

struct _KkLoadRx {
  guint index;
  GThread *thread;
  int epfd;
  int wakefd;
  GMutex lock;
  GPtrArray *incoming;        /* under lock */
  gboolean stopping;          /* under lock */
  GPtrArray *viewers;         /* the thread's own */
  KkLoadRxTotals totals;      /* atomics */
};

void
kk_load_rx_count (KkLoadRx *rx, gsize bytes, guint64 gaps, guint64 recovered)
{
  __atomic_fetch_add (&rx->totals.packets, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add (&rx->totals.bytes, bytes, __ATOMIC_RELAXED);
  if (gaps)
    __atomic_fetch_add (&rx->totals.gaps, gaps, __ATOMIC_RELAXED);
  if (recovered)
    __atomic_fetch_add (&rx->totals.recovered, recovered, __ATOMIC_RELAXED);
}

void
kk_load_rx_totals (KkLoadRx *rx, KkLoadRxTotals *out)
{
  out->packets = __atomic_load_n (&rx->totals.packets, __ATOMIC_RELAXED);
  out->bytes = __atomic_load_n (&rx->totals.bytes, __ATOMIC_RELAXED);
  out->gaps = __atomic_load_n (&rx->totals.gaps, __ATOMIC_RELAXED);
  out->recovered = __atomic_load_n (&rx->totals.recovered, __ATOMIC_RELAXED);
}

static void
take_incoming (KkLoadRx *rx)
{
  g_autoptr (GPtrArray) incoming = NULL;

  g_mutex_lock (&rx->lock);
  incoming = rx->incoming;
  rx->incoming = g_ptr_array_new ();
  g_mutex_unlock (&rx->lock);

  for (guint i = 0; i < incoming->len; i++) {
    KkLoadViewer *viewer = incoming->pdata[i];
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = viewer };

    if (epoll_ctl (rx->epfd, EPOLL_CTL_ADD, viewer->fd, &ev) < 0) {
      g_warning ("viewer %u: epoll_ctl: %s", viewer->index,
          g_strerror (errno));
      continue;
    }
    g_ptr_array_add (rx->viewers, viewer);
  }
}

static void
drain (KkLoadRx *rx, KkLoadViewer *viewer, guint8 (*bufs)[DATAGRAM_MAX],
    struct mmsghdr *msgs, struct iovec *iovs)
{
  for (;;) {
    int n;
    gint64 now;

    for (guint i = 0; i < BATCH; i++) {
      iovs[i].iov_base = bufs[i];
      iovs[i].iov_len = DATAGRAM_MAX;
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = NULL;
      msgs[i].msg_hdr.msg_namelen = 0;
      msgs[i].msg_hdr.msg_control = NULL;
      msgs[i].msg_hdr.msg_controllen = 0;
      msgs[i].msg_hdr.msg_flags = 0;
    }
    n = recvmmsg (viewer->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      return;
    now = g_get_monotonic_time ();
    for (int i = 0; i < n; i++)
      kk_load_viewer_handle_datagram (viewer, rx, bufs[i], msgs[i].msg_len,
          now);
    if (n < BATCH)
      return;
  }
}

static gpointer
rx_thread (gpointer data)
{
  KkLoadRx *rx = data;
  g_autofree guint8 (*bufs)[DATAGRAM_MAX] = g_new (guint8[DATAGRAM_MAX],
      BATCH);
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct epoll_event events[64];
  gint64 next_tick = g_get_monotonic_time () + TICK_US;

  for (;;) {
    gint64 now = g_get_monotonic_time ();
    int timeout_ms = next_tick > now ? (int) ((next_tick - now) / 1000) : 0;
    int n = epoll_wait (rx->epfd, events, G_N_ELEMENTS (events), timeout_ms);

    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        guint64 value;
        gboolean stopping;

        if (read (rx->wakefd, &value, sizeof (value)) < 0 && errno != EAGAIN)
          g_warning ("receive thread %u: eventfd: %s", rx->index,
              g_strerror (errno));
        g_mutex_lock (&rx->lock);
        stopping = rx->stopping;
        g_mutex_unlock (&rx->lock);
        if (stopping)
          return NULL;
        take_incoming (rx);
        continue;
      }
      drain (rx, events[i].data.ptr, bufs, msgs, iovs);
    }
    now = g_get_monotonic_time ();
    if (now >= next_tick) {
      for (guint i = 0; i < rx->viewers->len; i++)
        kk_load_viewer_media_tick (rx->viewers->pdata[i], now);
      next_tick = now + TICK_US;
    }
  }
}

KkLoadRx *
kk_load_rx_new (guint index)
{
  KkLoadRx *rx = g_new0 (KkLoadRx, 1);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  g_autofree char *name = g_strdup_printf ("kk-load-rx%u", index);

  rx->index = index;
  rx->epfd = epoll_create1 (EPOLL_CLOEXEC);
  rx->wakefd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (rx->epfd < 0 || rx->wakefd < 0)
    g_error ("receive thread: %s", g_strerror (errno));
  epoll_ctl (rx->epfd, EPOLL_CTL_ADD, rx->wakefd, &ev);
  g_mutex_init (&rx->lock);
  rx->incoming = g_ptr_array_new ();
  rx->viewers = g_ptr_array_new ();
  rx->thread = g_thread_new (name, rx_thread, rx);
  return rx;
}

static void
wake (KkLoadRx *rx)
{
  guint64 one = 1;

  if (write (rx->wakefd, &one, sizeof (one)) < 0)
    g_warning ("receive thread %u: eventfd: %s", rx->index, g_strerror (errno));
}

void
kk_load_rx_add (KkLoadRx *rx, KkLoadViewer *viewer)
{
  g_mutex_lock (&rx->lock);
  g_ptr_array_add (rx->incoming, viewer);
  g_mutex_unlock (&rx->lock);
  wake (rx);
}

void
kk_load_rx_free (KkLoadRx *rx)
{
  if (rx == NULL)
    return;
  g_mutex_lock (&rx->lock);
  rx->stopping = TRUE;
  g_mutex_unlock (&rx->lock);
  wake (rx);
  g_thread_join (rx->thread);
  close (rx->epfd);
  close (rx->wakefd);
  g_mutex_clear (&rx->lock);
  g_ptr_array_unref (rx->incoming);
  g_ptr_array_unref (rx->viewers);
  g_free (rx);
}
