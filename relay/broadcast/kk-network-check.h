/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-network-check: the lecture the network check page receives. A
 * workplace's IT, or the screen that will show a course, tries each path
 * to the relay (UDP, ICE-TCP, TURN over UDP, TURN over TLS, and HTTPS
 * segments) with a short stream of its own, without joining a course
 * and without any attendance: this is not a room, has no session and
 * writes nothing to the store.
 *
 * Its feed is the light test pattern (pipelines/testsrc-small.pipeline),
 * encoded once for every checker, started with the first and stopped
 * with the last, so an idle relay spends nothing on it. The HTTPS path
 * (plain HTTP segments, segments/kk-check-segments.h) taps the same feed
 * and holds the pattern running while it is measured. At most
 * KK_NETWORK_CHECK_MAX_VIEWERS checkers receive at once, and each one's
 * stream ends by itself after KK_NETWORK_CHECK_SECONDS: it is a
 * measurement, not a way to watch. (The HTTP routes add a rate limit per
 * address, web/kk-network-check-api.c.) Main context only.
 */
#pragma once

#include <glib-object.h>
#include <kringkast/kk-sdp.h>
#include "kk-config.h"
#include "kk-fanout.h"

G_BEGIN_DECLS

#define KK_NETWORK_CHECK_ERROR (kk_network_check_error_quark ())
GQuark kk_network_check_error_quark (void);

typedef enum {
  KK_NETWORK_CHECK_ERROR_BUSY,       /* every slot taken: HTTP 429 */
  KK_NETWORK_CHECK_ERROR_SOURCE,     /* the test pattern would not start */
} KkNetworkCheckError;

/* Checkers receiving at once. A check runs its paths one after another,
 * so this is several workplaces checking in the same minute. */
#define KK_NETWORK_CHECK_MAX_VIEWERS 8
/* Checkers receiving at once from one client address (or IPv6 /64): a
 * check runs one stream at a time and ends each before the next (the
 * second slot covers an end still on its way), so one address cannot
 * hold the slots the other workplaces need. */
#define KK_NETWORK_CHECK_MAX_PER_ADDRESS 2
/* How long one path's stream lasts: connecting takes a few seconds on the
 * slowest path (TURN over TLS), measuring a few more. */
#define KK_NETWORK_CHECK_SECONDS 20

#define KK_TYPE_NETWORK_CHECK (kk_network_check_get_type ())
G_DECLARE_FINAL_TYPE (KkNetworkCheck, kk_network_check, KK, NETWORK_CHECK,
    GObject)

/**
 * kk_network_check_new:
 * @fanout: (transfer none): must outlive the check's viewers
 * @config: (transfer none): for pipelines_dir; must outlive the check
 *
 * Returns: (transfer full): the check, with no viewer and no source.
 */
KkNetworkCheck *kk_network_check_new (KkFanout *fanout,
    const KkConfig *config);

/**
 * kk_network_check_add_viewer:
 * @client_key: (nullable): the checker's address as
 *   kk_rate_limit_client_key() gives it; NULL for a program on this
 *   machine (tests, benchmarks), which the per-address limit spares
 * @resource_id: (out) (transfer full): the viewer's id, unguessable: it
 *   is all that lets a checker end its own stream
 *
 * Starts the test pattern if it is not running, and answers @offer.
 *
 * Returns: (transfer full): the SDP answer, or NULL with @error
 * (%KK_NETWORK_CHECK_ERROR_BUSY when every slot is taken, or
 * KK_NETWORK_CHECK_MAX_PER_ADDRESS are @client_key's).
 */
char *kk_network_check_add_viewer (KkNetworkCheck *check,
    const KkViewerOffer *offer, gboolean local_peer, const char *client_key,
    char **resource_id, GError **error);

/* Ends a checker's stream. FALSE when there is no such viewer. */
gboolean kk_network_check_remove_viewer (KkNetworkCheck *check,
    const char *resource_id);

/* What a workplace's firewall must let through to reach the relay
 * directly: the media port (UDP and TCP) on these addresses, as the
 * relay's candidates name them. (transfer none) */
guint16 kk_network_check_get_media_port (KkNetworkCheck *check);
const char *const *kk_network_check_get_addresses (KkNetworkCheck *check);

/* The test pattern's feed, for a tap: the HTTPS path's segments are cut
 * from it (segments/kk-check-segments.h). (transfer none) */
KkFeed *kk_network_check_get_feed (KkNetworkCheck *check);

/* Keeps the test pattern running with no WebRTC checker, while the HTTPS
 * path's segments are made; starts it if needed. Each successful hold is
 * ended by one release; the last of the holds and viewers to go stops
 * the pattern. */
gboolean kk_network_check_hold_source (KkNetworkCheck *check,
    GError **error);
void kk_network_check_release_source (KkNetworkCheck *check);

/* Ends every stream and stops the test pattern, before the fan-out
 * stops (the viewers' leave events follow from it). */
void kk_network_check_stop (KkNetworkCheck *check);

G_END_DECLS
