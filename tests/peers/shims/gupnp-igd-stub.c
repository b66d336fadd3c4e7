/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in for libgupnp-igd-1.0.so.4, for Debian 12's whip-client only.
 *
 * Debian's simple-whip-client links libsoup 2; GStreamer's libnice links
 * gupnp-igd, which links libsoup 3; libsoup aborts a process that has
 * both. libnice uses gupnp-igd for one thing, asking a home router to
 * forward a port (UPnP IGD), which means nothing on loopback. Loaded
 * before the real one (LD_LIBRARY_PATH), this library provides the four
 * symbols libnice imports and maps no port, so the unmodified Debian
 * client can run against the relay in the tests.
 */
#include <glib-object.h>

typedef struct {
  GObject parent;
} StubIgd;

typedef struct {
  GObjectClass parent_class;
} StubIgdClass;

GType gupnp_simple_igd_get_type (void);
gpointer gupnp_simple_igd_thread_new (void);
void gupnp_simple_igd_add_port (gpointer self, const gchar *protocol,
    guint16 external_port, const gchar *local_ip, guint16 local_port,
    guint32 lease_duration, const gchar *description);
void gupnp_simple_igd_remove_port_local (gpointer self, const gchar *protocol,
    const gchar *local_ip, guint16 local_port);

G_DEFINE_TYPE (StubIgd, stub_igd, G_TYPE_OBJECT)

static void
stub_igd_class_init (StubIgdClass *klass)
{
  /* libnice connects to these; they are never emitted. */
  g_signal_new ("mapped-external-port", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 7,
      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT,
      G_TYPE_STRING, G_TYPE_UINT, G_TYPE_STRING);
  g_signal_new ("error-mapping-port", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 6,
      G_TYPE_ERROR, G_TYPE_STRING, G_TYPE_UINT, G_TYPE_STRING, G_TYPE_UINT,
      G_TYPE_STRING);
}

static void
stub_igd_init (StubIgd *self)
{
}

GType
gupnp_simple_igd_get_type (void)
{
  return stub_igd_get_type ();
}

gpointer
gupnp_simple_igd_thread_new (void)
{
  return g_object_new (stub_igd_get_type (), NULL);
}

void
gupnp_simple_igd_add_port (gpointer self, const gchar *protocol,
    guint16 external_port, const gchar *local_ip, guint16 local_port,
    guint32 lease_duration, const gchar *description)
{
}

void
gupnp_simple_igd_remove_port_local (gpointer self, const gchar *protocol,
    const gchar *local_ip, guint16 local_port)
{
}
