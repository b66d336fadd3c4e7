/* SPDX-License-Identifier: Apache-2.0 */
/* kk-pages: the web pages (GResource), served by the daemon itself. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Adds GET /watch/{room} and GET /static/{file}. */
void kk_pages_register (SoupServer *server);

G_END_DECLS
