/* SPDX-License-Identifier: Apache-2.0 */
/* kk-pages: the web pages (GResource), served by the daemon itself. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Adds GET /watch/{room}, /host/{room}, /admin, /checkin/{room},
 * /static/{file} and /qr.svg (see kk-pages.c). */
void kk_pages_register (SoupServer *server);

G_END_DECLS
