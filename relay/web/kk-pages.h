/* SPDX-License-Identifier: Apache-2.0 */
/* kk-pages: the web pages (GResource), served by the daemon itself. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Adds GET /watch/{room}, /host/{room}, /admin, /checkin/{room},
 * /static/{file} and /qr.svg (see kk-pages.c): the route module shape of
 * kk-http.h, with nothing to be handed (pages are public; what they show
 * comes from the API). Returns FALSE with @error if registration fails. */
gboolean kk_pages_register (SoupServer *server, GError **error);

G_END_DECLS
