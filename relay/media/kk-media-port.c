/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-media-port: the one media port, UDP and passive ICE-TCP on the same
 * number, and the thread that receives on it.
 *
 * Everything that arrives is demultiplexed by its first byte (RFC 7983):
 * STUN (0-3) is answered right here, as an ICE-lite agent, after finding
 * the viewer by the ufrag in its USERNAME; DTLS (20-63) and SRTP/SRTCP
 * (128-191) are routed by source address (UDP) or connection (TCP) to the
 * worker that owns the viewer. A datagram from an address no viewer proved
 * with a check is dropped and counted: ICE is what authorises a source.
 *
 * The sockets are dual-stack where the host has IPv6, so one socket serves
 * both families; IPv4 peers then appear as v4-mapped IPv6 addresses, which
 * the STUN answer turns back into IPv4 for XOR-MAPPED-ADDRESS.
 */
#include "kk-fanout-private.h"

#include <kringkast/kk-stun.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (kk_port_debug);
#define GST_CAT_DEFAULT kk_port_debug

#define RECV_BATCH 32
/* RFC 5389 §6: method Binding (0x001), class request. */
#define STUN_BINDING_REQUEST 0x0001
#define SOCKET_BUFFER (8 * 1024 * 1024)
/* ICE-TCP: a connection that has not passed a check soon is closed, and
 * their number is capped, so idle or hostile connections cost little. */
#define TCP_MAX_CONNECTIONS 4096
#define TCP_UNBOUND_TIMEOUT_US (10 * G_USEC_PER_SEC)

/* epoll tags for the fixed descriptors; TCP connections use their pointer. */
static int tag_udp, tag_listen, tag_wake;

/* ---- transports ---- */

gboolean
kk_transport_equal (const KkTransport *a, const KkTransport *b)
{
  if (a->tcp != NULL || b->tcp != NULL)
    return a->tcp == b->tcp;
  return a->addr_len == b->addr_len
      && memcmp (&a->addr, &b->addr, a->addr_len) == 0;
}

void
kk_transport_clear (KkTransport *transport)
{
  g_clear_pointer (&transport->tcp, kk_tcp_conn_unref);
  transport->addr_len = 0;
}

void
kk_transport_copy (KkTransport *dest, const KkTransport *src)
{
  kk_transport_clear (dest);
  *dest = *src;
  if (dest->tcp != NULL)
    kk_tcp_conn_ref (dest->tcp);
}

gboolean
kk_transport_send (KkFanout *fanout, const KkTransport *transport,
    const guint8 *data, gsize len)
{
  struct iovec iov = { (void *) data, len };
  struct msghdr msg = { 0 };
  KkSourceControl control;

  if (transport->tcp != NULL)
    return kk_tcp_conn_send (transport->tcp, data, len);
  msg.msg_name = (void *) &transport->addr;
  msg.msg_namelen = transport->addr_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  kk_transport_set_source (fanout, transport, &msg, &control);
  return sendmsg (fanout->udp_fd, &msg, MSG_DONTWAIT) >= 0;
}

/* ---- ICE-TCP connections ---- */

KkTcpConn *
kk_tcp_conn_ref (KkTcpConn *conn)
{
  g_atomic_int_inc (&conn->refcount);
  return conn;
}

void
kk_tcp_conn_unref (KkTcpConn *conn)
{
  if (!g_atomic_int_dec_and_test (&conn->refcount))
    return;
  g_assert (conn->viewer == NULL);
  close (conn->fd);
  g_mutex_clear (&conn->write_lock);
  g_free (conn->pending);
  g_free (conn);
}

/* Under write_lock: FALSE if part of the pending tail is still unsent. */
static gboolean
flush_pending (KkTcpConn *conn)
{
  ssize_t n;

  if (conn->pending_len == 0)
    return TRUE;
  n = send (conn->fd, conn->pending, conn->pending_len,
      MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n <= 0)
    return FALSE;
  memmove (conn->pending, conn->pending + n, conn->pending_len - n);
  conn->pending_len -= n;
  return conn->pending_len == 0;
}

gboolean
kk_tcp_conn_send (KkTcpConn *conn, const guint8 *data, gsize len)
{
  guint8 header[2];
  struct iovec iov[2];
  struct msghdr msg = { 0 };
  ssize_t n;
  gsize total = len + 2;
  gboolean ok = TRUE;

  if (len > KK_ICETCP_MAX_FRAME)
    return FALSE;
  kk_icetcp_write_header (header, len);
  iov[0].iov_base = header;
  iov[0].iov_len = 2;
  iov[1].iov_base = (void *) data;
  iov[1].iov_len = len;
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;

  g_mutex_lock (&conn->write_lock);
  /* The kernel's socket buffer is the only queue: if even the tail of the
   * previous frame does not fit, this packet is dropped, as it would be
   * on a congested UDP path. */
  if (!flush_pending (conn)) {
    ok = FALSE;
    goto out;
  }
  n = sendmsg (conn->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) {
    ok = FALSE;
    goto out;
  }
  if ((gsize) n < total) {
    /* Part of the frame went out: the rest must follow or the framing of
     * the whole connection breaks. */
    gsize sent = n, rest = total - sent;

    conn->pending = g_realloc (conn->pending, rest);
    if (sent < 2) {
      memcpy (conn->pending, header + sent, 2 - sent);
      memcpy (conn->pending + (2 - sent), data, len);
    } else {
      memcpy (conn->pending, data + (sent - 2), rest);
    }
    conn->pending_len = rest;
  }
out:
  g_mutex_unlock (&conn->write_lock);
  return ok;
}

/* ---- sockets ---- */

static void
grow_buffer (int fd, int force_opt, int opt)
{
  int size = SOCKET_BUFFER;

  /* The FORCE variants pass the sysctl limits when we run privileged. */
  if (setsockopt (fd, SOL_SOCKET, force_opt, &size, sizeof (size)) < 0)
    setsockopt (fd, SOL_SOCKET, opt, &size, sizeof (size));
}

static int
bind_socket (int type, guint16 port, gboolean *is_v6, GError **error)
{
  struct sockaddr_in6 sin6 = { 0 };
  struct sockaddr_in sin = { 0 };
  int one = 1, zero = 0;
  int fd;

  fd = socket (AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof (zero));
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof (one));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    sin6.sin6_port = htons (port);
    if (bind (fd, (struct sockaddr *) &sin6, sizeof (sin6)) == 0) {
      /* Each datagram's destination (IPv4 ones as v4-mapped): the
       * address the viewer sent to, which answers must come from. */
      if (type == SOCK_DGRAM)
        setsockopt (fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof (one));
      *is_v6 = TRUE;
      return fd;
    }
    close (fd);
  }

  /* No IPv6 on this host (or in this container): IPv4 only. */
  fd = socket (AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    g_set_error (error, KK_FANOUT_ERROR, KK_FANOUT_ERROR_BIND,
        "media port: socket: %s", g_strerror (errno));
    return -1;
  }
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof (one));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_ANY);
  sin.sin_port = htons (port);
  if (bind (fd, (struct sockaddr *) &sin, sizeof (sin)) < 0) {
    g_set_error (error, KK_FANOUT_ERROR, KK_FANOUT_ERROR_BIND,
        "media port %u/%s: %s", port, type == SOCK_DGRAM ? "udp" : "tcp",
        g_strerror (errno));
    close (fd);
    return -1;
  }
  if (type == SOCK_DGRAM)
    setsockopt (fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof (one));
  *is_v6 = FALSE;
  return fd;
}

static guint16
bound_port (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof (ss);

  if (getsockname (fd, (struct sockaddr *) &ss, &len) < 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs (((struct sockaddr_in6 *) &ss)->sin6_port);
  return ntohs (((struct sockaddr_in *) &ss)->sin_port);
}

/* The host's addresses for candidates: every non-loopback address of an
 * interface that is up (IPv6 link-local excluded: browsers cannot use it
 * without a scope), or loopback when there is nothing else. */
static char **
detect_addresses (void)
{
  struct ifaddrs *ifaddrs = NULL;
  GPtrArray *list = g_ptr_array_new ();

  if (getifaddrs (&ifaddrs) == 0) {
    for (struct ifaddrs *ifa = ifaddrs; ifa != NULL; ifa = ifa->ifa_next) {
      char text[INET6_ADDRSTRLEN];

      if (ifa->ifa_addr == NULL || !(ifa->ifa_flags & IFF_UP)
          || (ifa->ifa_flags & IFF_LOOPBACK))
        continue;
      if (ifa->ifa_addr->sa_family == AF_INET) {
        inet_ntop (AF_INET, &((struct sockaddr_in *) ifa->ifa_addr)->sin_addr,
            text, sizeof (text));
      } else if (ifa->ifa_addr->sa_family == AF_INET6) {
        struct in6_addr *a = &((struct sockaddr_in6 *) ifa->ifa_addr)->sin6_addr;

        if (IN6_IS_ADDR_LINKLOCAL (a))
          continue;
        inet_ntop (AF_INET6, a, text, sizeof (text));
      } else {
        continue;
      }
      g_ptr_array_add (list, g_strdup (text));
    }
    freeifaddrs (ifaddrs);
  }
  if (list->len == 0)
    g_ptr_array_add (list, g_strdup ("127.0.0.1"));
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (list, FALSE);
}

gboolean
kk_media_port_open (KkFanout *fanout, GError **error)
{
  gboolean tcp_v6;
  struct epoll_event ev = { 0 };

  if (kk_port_debug == NULL)
    GST_DEBUG_CATEGORY_INIT (kk_port_debug, "kk-port", 0,
        "Kringkast media port");

  fanout->udp_fd = bind_socket (SOCK_DGRAM, fanout->config.port,
      &fanout->udp_is_v6, error);
  if (fanout->udp_fd < 0)
    return FALSE;
  fanout->port = bound_port (fanout->udp_fd);
  grow_buffer (fanout->udp_fd, SO_SNDBUFFORCE, SO_SNDBUF);
  grow_buffer (fanout->udp_fd, SO_RCVBUFFORCE, SO_RCVBUF);

  fanout->tcp_fd = bind_socket (SOCK_STREAM, fanout->port, &tcp_v6, error);
  if (fanout->tcp_fd < 0)
    return FALSE;
  if (listen (fanout->tcp_fd, 512) < 0) {
    g_set_error (error, KK_FANOUT_ERROR, KK_FANOUT_ERROR_BIND,
        "media port %u/tcp: listen: %s", fanout->port, g_strerror (errno));
    return FALSE;
  }

  if (fanout->addresses == NULL)
    fanout->addresses = detect_addresses ();

  fanout->port_epoll = epoll_create1 (EPOLL_CLOEXEC);
  fanout->port_wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fanout->port_epoll < 0 || fanout->port_wake_fd < 0) {
    g_set_error (error, KK_FANOUT_ERROR, KK_FANOUT_ERROR_BIND,
        "media port: %s", g_strerror (errno));
    return FALSE;
  }
  ev.events = EPOLLIN;
  ev.data.ptr = &tag_udp;
  epoll_ctl (fanout->port_epoll, EPOLL_CTL_ADD, fanout->udp_fd, &ev);
  ev.data.ptr = &tag_listen;
  epoll_ctl (fanout->port_epoll, EPOLL_CTL_ADD, fanout->tcp_fd, &ev);
  ev.data.ptr = &tag_wake;
  epoll_ctl (fanout->port_epoll, EPOLL_CTL_ADD, fanout->port_wake_fd, &ev);
  return TRUE;
}

/* ---- receiving ---- */

/* The address as STUN must report it: v4-mapped IPv6 becomes IPv4. */
static socklen_t
unmap_address (const struct sockaddr_storage *in, socklen_t len,
    struct sockaddr_storage *out)
{
  const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) in;

  if (in->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED (&sin6->sin6_addr)) {
    struct sockaddr_in *sin = (struct sockaddr_in *) out;

    memset (out, 0, sizeof (*out));
    sin->sin_family = AF_INET;
    sin->sin_port = sin6->sin6_port;
    memcpy (&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
    return sizeof (*sin);
  }
  memcpy (out, in, len);
  return len;
}

/* Whether @addr (unmapped) is one of the TURN servers' relay addresses.
 * The source address is what tells: RFC 8445 section 7.1.1 has every
 * check carry the priority of a peer-reflexive candidate, so Chrome's
 * checks from a relayed candidate show the same type preference in
 * PRIORITY as those from a host candidate. Called when a viewer's
 * transport changes, never per packet. */
static gboolean
from_turn_relay (KkFanout *fanout, const struct sockaddr_storage *addr)
{
  g_autoptr (GInetAddress) source = NULL;

  if (fanout->turn_relays->len == 0)
    return FALSE;
  if (addr->ss_family == AF_INET)
    source = g_inet_address_new_from_bytes ((const guint8 *)
        &((const struct sockaddr_in *) addr)->sin_addr, G_SOCKET_FAMILY_IPV4);
  else if (addr->ss_family == AF_INET6)
    source = g_inet_address_new_from_bytes ((const guint8 *)
        &((const struct sockaddr_in6 *) addr)->sin6_addr, G_SOCKET_FAMILY_IPV6);
  else
    return FALSE;
  for (guint i = 0; i < fanout->turn_relays->len; i++) {
    if (g_inet_address_equal (source, fanout->turn_relays->pdata[i]))
      return TRUE;
  }
  return FALSE;
}

gboolean
kk_transport_source_needed (gboolean is_v6,
    const struct sockaddr_storage *addr, socklen_t addr_len,
    const struct in6_addr *local)
{
  struct sockaddr_storage chosen;
  socklen_t chosen_len = sizeof (chosen);
  struct in6_addr picked = { 0 };
  int fd;
  gboolean differs = TRUE;

  if (IN6_IS_ADDR_UNSPECIFIED (local))
    return FALSE;
  /* connect () on a fresh UDP socket makes the kernel choose the route and
   * the source address it would use for a datagram to @addr from our
   * wildcard-bound port; getsockname () tells which. Nothing is sent. */
  fd = socket (is_v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return TRUE;
  /* As the media socket: v4-mapped destinations too, whatever the host's
   * net.ipv6.bindv6only says. */
  if (is_v6) {
    int zero = 0;

    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof (zero));
  }
  if (connect (fd, (const struct sockaddr *) addr, addr_len) == 0
      && getsockname (fd, (struct sockaddr *) &chosen, &chosen_len) == 0) {
    if (chosen.ss_family == AF_INET6) {
      picked = ((struct sockaddr_in6 *) &chosen)->sin6_addr;
    } else if (chosen.ss_family == AF_INET) {
      /* As read_destination () keeps IPv4: v4-mapped. */
      picked.s6_addr[10] = picked.s6_addr[11] = 0xff;
      memcpy (&picked.s6_addr[12],
          &((struct sockaddr_in *) &chosen)->sin_addr, 4);
    }
    differs = !IN6_ARE_ADDR_EQUAL (&picked, local);
  }
  close (fd);
  return differs;
}

/* How often a viewer's choice of source address is made again: the
 * relay's addresses and routes may change during a lecture (a second
 * uplink, a renumbered address), and media sent from an address the
 * viewer's ICE does not know is dropped by it, while the answers to its
 * checks (always from the address it sent to) keep it alive. */
#define SOURCE_DECISION_INTERVAL_US (30 * G_USEC_PER_SEC)

/* Keeps @transport->local (the address the viewer sent to) only if the
 * kernel would otherwise send from another one: the control message costs
 * the kernel 5-9 % more per datagram (tests/bench/RESULTS.md), so a relay
 * with one address never pays it. UDP only. */
static void
decide_source (KkFanout *fanout, KkViewer *viewer, KkTransport *transport)
{
  if (!kk_transport_source_needed (fanout->udp_is_v6, &transport->addr,
          transport->addr_len, &transport->local))
    memset (&transport->local, 0, sizeof (transport->local));
  viewer->port_source_decided_us = g_get_monotonic_time ();
  GST_DEBUG ("viewer %s: media sent %s", viewer->id,
      IN6_IS_ADDR_UNSPECIFIED (&transport->local)
      ? "from the kernel's choice of source address"
      : "from the address the viewer sent to, which the kernel would not choose");
}

static void
post_transport (KkViewer *viewer, const KkTransport *transport,
    KkWorkItemType type)
{
  KkWorkItem item = { 0 };

  item.type = type;
  item.viewer = kk_viewer_ref (viewer);
  kk_transport_copy (&item.transport, transport);
  kk_worker_post (viewer->worker, &item);
}

/* The destination address of a datagram received with @msg, from its
 * IPV6_PKTINFO or IP_PKTINFO (as v4-mapped); all zeros when it has none
 * or it is link-local (which would need its interface too: the kernel's
 * own choice is right there). */
static void
read_destination (struct msghdr *msg, struct in6_addr *local)
{
  memset (local, 0, sizeof (*local));
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (msg); cmsg != NULL;
       cmsg = CMSG_NXTHDR (msg, cmsg)) {
    if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo info;

      memcpy (&info, CMSG_DATA (cmsg), sizeof (info));
      if (!IN6_IS_ADDR_LINKLOCAL (&info.ipi6_addr))
        *local = info.ipi6_addr;
    } else if (cmsg->cmsg_level == IPPROTO_IP
        && cmsg->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;

      memcpy (&info, CMSG_DATA (cmsg), sizeof (info));
      local->s6_addr[10] = local->s6_addr[11] = 0xff;
      memcpy (&local->s6_addr[12], &info.ipi_addr, 4);
    }
  }
}

static void
handle_stun (KkFanout *fanout, const guint8 *data, gsize len,
    const struct sockaddr_storage *from, socklen_t from_len,
    const struct in6_addr *local, KkTcpConn *conn)
{
  char ufrag[KK_STUN_MAX_UFRAG];
  guint8 response[512];
  struct sockaddr_storage mapped;
  socklen_t mapped_len;
  KkStunCheck check = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (KkViewer) viewer = NULL;
  KkTransport transport = { 0 };
  gsize response_len;

  if (!kk_stun_is_stun (data, len)) {
    KK_COUNT (&fanout->port_counters, not_ours, 1);
    return;
  }
  /* Only binding requests are answered. Indications are a full agent's
   * keepalives and need no answer; responses are for requests we never
   * send. Neither is an error. */
  if (((data[0] << 8) | data[1]) != STUN_BINDING_REQUEST) {
    KK_COUNT (&fanout->port_counters, stun_ignored, 1);
    return;
  }
  if (!kk_stun_peek_local_ufrag (data, len, ufrag, sizeof (ufrag))) {
    KK_COUNT (&fanout->port_counters, stun_rejected, 1);
    return;
  }
  viewer = kk_fanout_directory_by_ufrag (fanout, ufrag);
  if (viewer == NULL) {
    KK_COUNT (&fanout->port_counters, stun_unknown_ufrag, 1);
    return;
  }

  mapped_len = unmap_address (from, from_len, &mapped);
  response_len = kk_stun_answer_check (data, len, viewer->ufrag,
      viewer->remote_ufrag, viewer->pwd, (struct sockaddr *) &mapped,
      mapped_len, response, sizeof (response), &check, &error);
  if (response_len == 0) {
    KK_COUNT (&fanout->port_counters, stun_rejected, 1);
    GST_DEBUG ("viewer %s: check rejected: %s", viewer->id, error->message);
    return;
  }
  KK_COUNT (&fanout->port_counters, stun_answered, 1);
  __atomic_store_n (&viewer->last_seen_mono_us, g_get_monotonic_time (),
      __ATOMIC_RELAXED);

  if (conn != NULL) {
    kk_tcp_conn_send (conn, response, response_len);
    transport.tcp = conn;   /* borrowed: copies take their own ref */
    if (conn->viewer == NULL)
      conn->viewer = kk_viewer_ref (viewer);
  } else {
    memcpy (&transport.addr, from, from_len);
    transport.addr_len = from_len;
    if (local != NULL)
      transport.local = *local;
    /* From the address the check was sent to: the viewer pairs the
     * answer with its check by it (RFC 8445 section 7.2.5.2.1). */
    kk_transport_send (fanout, &transport, response, response_len);
    {
      g_autoptr (KkViewer) bound = kk_fanout_directory_by_addr (fanout, from,
          from_len);

      if (bound != viewer)
        kk_fanout_directory_bind_addr (fanout, from, from_len, viewer);
    }
  }

  /* The first pair that works carries DTLS at once (not every agent
   * nominates aggressively); a nominated pair then takes over. */
  if (!viewer->port_has_transport
      || (check.use_candidate
          && (!viewer->port_nominated
              || !kk_transport_equal (&viewer->port_transport, &transport)))) {
    gboolean turn = conn == NULL && from_turn_relay (fanout, &mapped);

    GST_DEBUG ("viewer %s: %s transport over %s", viewer->id,
        check.use_candidate ? "nominated" : "first",
        conn ? "tcp" : turn ? "udp from a TURN relay" : "udp");
    __atomic_store_n (&viewer->stat_turn, turn, __ATOMIC_RELAXED);
    if (conn == NULL)
      decide_source (fanout, viewer, &transport);
    kk_transport_copy (&viewer->port_transport, &transport);
    viewer->port_has_transport = TRUE;
    viewer->port_nominated |= check.use_candidate;
    post_transport (viewer, &transport, KK_ITEM_TRANSPORT);
  } else if (conn == NULL
      && kk_transport_equal (&viewer->port_transport, &transport)
      && g_get_monotonic_time () - viewer->port_source_decided_us
      >= SOURCE_DECISION_INTERVAL_US) {
    /* A consent check on the transport in use: the source decided again,
     * the worker told only when it flips. */
    gboolean attached = !IN6_IS_ADDR_UNSPECIFIED (
        &viewer->port_transport.local);

    decide_source (fanout, viewer, &transport);
    if (attached != !IN6_IS_ADDR_UNSPECIFIED (&transport.local)) {
      GST_INFO ("viewer %s: the route back changed; media now sent %s",
          viewer->id, attached ? "from the kernel's choice of address"
          : "from the address the viewer sent to");
      kk_transport_copy (&viewer->port_transport, &transport);
      post_transport (viewer, &transport, KK_ITEM_TRANSPORT);
    }
  }
}

static void
handle_datagram (KkFanout *fanout, const guint8 *data, gsize len,
    const struct sockaddr_storage *from, socklen_t from_len,
    const struct in6_addr *local, KkTcpConn *conn)
{
  guint8 first;
  KkViewer *viewer;
  KkWorkItem item = { 0 };

  if (len < 1)
    return;
  first = data[0];
  if (first <= 3) {
    handle_stun (fanout, data, len, from, from_len, local, conn);
    return;
  }
  if (!((first >= 20 && first <= 63) || (first >= 128 && first <= 191))) {
    KK_COUNT (&fanout->port_counters, not_ours, 1);
    return;
  }

  if (conn != NULL)
    viewer = conn->viewer ? kk_viewer_ref (conn->viewer) : NULL;
  else
    viewer = kk_fanout_directory_by_addr (fanout, from, from_len);
  if (viewer == NULL) {
    KK_COUNT (&fanout->port_counters, from_unknown_address, 1);
    return;
  }
  item.type = KK_ITEM_DATAGRAM;
  item.viewer = viewer;
  item.data = g_memdup2 (data, len);
  item.len = len;
  /* DTLS is a handshake someone waits for; RTCP (reports every second,
   * NACKs, PLIs) can wait for the worker's next wakeup, a few ms away
   * while media flows, rather than cost a wakeup of its own per report. */
  if (first >= 128)
    kk_worker_post_deferred (viewer->worker, &item);
  else
    kk_worker_post (viewer->worker, &item);
}

static void
drain_udp (KkFanout *fanout)
{
  static __thread guint8 bufs[RECV_BATCH][KK_DATAGRAM_MAX];
  struct mmsghdr msgs[RECV_BATCH];
  struct iovec iovs[RECV_BATCH];
  struct sockaddr_storage addrs[RECV_BATCH];
  KkSourceControl controls[RECV_BATCH];
  struct in6_addr local;

  /* Bounded rounds so a flood on UDP cannot starve the TCP connections. */
  for (int round = 0; round < 16; round++) {
    int n;

    for (int i = 0; i < RECV_BATCH; i++) {
      iovs[i].iov_base = bufs[i];
      iovs[i].iov_len = sizeof (bufs[i]);
      memset (&msgs[i].msg_hdr, 0, sizeof (msgs[i].msg_hdr));
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof (addrs[i]);
      msgs[i].msg_hdr.msg_control = controls[i].buf;
      msgs[i].msg_hdr.msg_controllen = sizeof (controls[i].buf);
    }
    n = recvmmsg (fanout->udp_fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      return;
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        KK_COUNT (&fanout->port_counters, not_ours, 1);
        continue;
      }
      read_destination (&msgs[i].msg_hdr, &local);
      handle_datagram (fanout, bufs[i], msgs[i].msg_len, &addrs[i],
          msgs[i].msg_hdr.msg_namelen, &local, NULL);
    }
    if (n < RECV_BATCH)
      return;
  }
}

static void
close_conn (KkFanout *fanout, KkTcpConn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  epoll_ctl (fanout->port_epoll, EPOLL_CTL_DEL, conn->fd, NULL);
  /* Writers on other threads now fail at once; the descriptor itself is
   * closed with the last reference, so its number cannot be reused under
   * them. */
  shutdown (conn->fd, SHUT_RDWR);
  if (conn->viewer != NULL) {
    KkTransport transport = { .tcp = conn };

    post_transport (conn->viewer, &transport, KK_ITEM_TCP_CLOSED);
    g_clear_pointer (&conn->viewer, kk_viewer_unref);
  }
  g_hash_table_remove (fanout->tcp_conns, conn);
}

typedef struct {
  KkFanout *fanout;
  KkTcpConn *conn;
} FrameContext;

static void
on_tcp_frame (const guint8 *frame, gsize len, gpointer user_data)
{
  FrameContext *ctx = user_data;

  handle_datagram (ctx->fanout, frame, len, &ctx->conn->peer,
      ctx->conn->peer_len, NULL, ctx->conn);
}

static void
read_conn (KkFanout *fanout, KkTcpConn *conn)
{
  guint8 buf[4096];
  FrameContext ctx = { fanout, conn };

  for (int round = 0; round < 16; round++) {
    g_autoptr (GError) error = NULL;
    ssize_t n = recv (conn->fd, buf, sizeof (buf), MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      close_conn (fanout, conn);
      return;
    }
    if (n < 0)
      return;
    if (!kk_icetcp_reader_feed (&conn->reader, buf, n, on_tcp_frame, &ctx,
            &error)) {
      KK_COUNT (&fanout->port_counters, tcp_bad_framing, 1);
      GST_DEBUG ("ICE-TCP connection closed: %s", error->message);
      close_conn (fanout, conn);
      return;
    }
    if (conn->closed)
      return;
  }
}

static void
accept_conns (KkFanout *fanout)
{
  for (;;) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof (peer);
    struct epoll_event ev = { 0 };
    KkTcpConn *conn;
    int one = 1;
    int notsent_lowat = 64 * 1024;
    int fd;

    fd = accept4 (fanout->tcp_fd, (struct sockaddr *) &peer, &peer_len,
        SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    if (g_hash_table_size (fanout->tcp_conns) >= TCP_MAX_CONNECTIONS) {
      KK_COUNT (&fanout->port_counters, tcp_refused, 1);
      close (fd);
      continue;
    }
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
    /* At most this much not yet sent in the kernel's buffer: beyond it a
     * send fails and the packet is dropped and counted, which is how the
     * switching rules see an ICE-TCP viewer's link fall behind. Without
     * it the buffer, grown while the link was fast, held seconds of the
     * full layer once the link narrowed to 500 kbit/s (tc tbf): the
     * viewer moved to light 8.4 s after, where it should within ~3 s. */
    setsockopt (fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &notsent_lowat,
        sizeof (notsent_lowat));
    conn = g_new0 (KkTcpConn, 1);
    conn->refcount = 1;
    conn->fd = fd;
    conn->fanout = fanout;
    conn->peer = peer;
    conn->peer_len = peer_len;
    conn->accepted_mono_us = g_get_monotonic_time ();
    g_mutex_init (&conn->write_lock);
    kk_icetcp_reader_init (&conn->reader);
    g_hash_table_add (fanout->tcp_conns, conn);
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = conn;
    epoll_ctl (fanout->port_epoll, EPOLL_CTL_ADD, fd, &ev);
    KK_COUNT (&fanout->port_counters, tcp_accepted, 1);
  }
}

/* Closes connections that never passed a check, and those whose viewer has
 * gone. */
static void
sweep_conns (KkFanout *fanout)
{
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer key;
  g_autoptr (GPtrArray) doomed = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, fanout->tcp_conns);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    KkTcpConn *conn = key;

    if (conn->viewer == NULL
        && now - conn->accepted_mono_us > TCP_UNBOUND_TIMEOUT_US)
      g_ptr_array_add (doomed, conn);
    else if (conn->viewer != NULL) {
      g_autoptr (KkViewer) listed =
          kk_fanout_directory_by_ufrag (fanout, conn->viewer->ufrag);

      if (listed != conn->viewer)
        g_ptr_array_add (doomed, conn);
    }
  }
  for (guint i = 0; i < doomed->len; i++)
    close_conn (fanout, doomed->pdata[i]);
}

static gpointer
port_thread (gpointer data)
{
  KkFanout *fanout = data;
  struct epoll_event events[64];
  gint64 next_sweep = g_get_monotonic_time () + G_USEC_PER_SEC;

  while (!g_atomic_int_get (&fanout->port_stopping)) {
    int n = epoll_wait (fanout->port_epoll, events, G_N_ELEMENTS (events), 500);

    for (int i = 0; i < n; i++) {
      void *tag = events[i].data.ptr;

      if (tag == &tag_udp) {
        drain_udp (fanout);
      } else if (tag == &tag_listen) {
        accept_conns (fanout);
      } else if (tag == &tag_wake) {
        guint64 value;

        if (read (fanout->port_wake_fd, &value, sizeof (value)) < 0)
          continue;
      } else {
        KkTcpConn *conn = tag;

        /* A connection closed earlier in this batch is still listed. */
        if (g_hash_table_contains (fanout->tcp_conns, conn))
          read_conn (fanout, conn);
      }
    }
    if (g_get_monotonic_time () >= next_sweep) {
      sweep_conns (fanout);
      next_sweep = g_get_monotonic_time () + G_USEC_PER_SEC;
    }
  }
  return NULL;
}

void
kk_media_port_start (KkFanout *fanout)
{
  fanout->port_thread = g_thread_new ("kk-port", port_thread, fanout);
}

void
kk_media_port_stop (KkFanout *fanout)
{
  guint64 one = 1;
  GHashTableIter iter;
  gpointer key;
  g_autoptr (GPtrArray) conns = g_ptr_array_new ();

  if (fanout->port_thread != NULL) {
    g_atomic_int_set (&fanout->port_stopping, 1);
    if (write (fanout->port_wake_fd, &one, sizeof (one)) < 0)
      GST_WARNING ("cannot wake the port thread: %s", g_strerror (errno));
    g_thread_join (fanout->port_thread);
    fanout->port_thread = NULL;
  }

  g_hash_table_iter_init (&iter, fanout->tcp_conns);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (conns, key);
  for (guint i = 0; i < conns->len; i++) {
    KkTcpConn *conn = conns->pdata[i];

    /* No worker runs any more: drop the viewer refs directly. */
    g_clear_pointer (&conn->viewer, kk_viewer_unref);
    close_conn (fanout, conn);
  }

  if (fanout->udp_fd >= 0)
    close (fanout->udp_fd);
  if (fanout->tcp_fd >= 0)
    close (fanout->tcp_fd);
  if (fanout->port_epoll >= 0)
    close (fanout->port_epoll);
  if (fanout->port_wake_fd >= 0)
    close (fanout->port_wake_fd);
  fanout->udp_fd = fanout->tcp_fd = fanout->port_epoll = fanout->port_wake_fd = -1;
}
