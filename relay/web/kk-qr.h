/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-qr: QR codes as SVG (libqrencode), for links that people at a
 * meeting-room screen open on their own phones. Drawn on the server so
 * the pages carry no QR encoder of their own.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_QR_ERROR (kk_qr_error_quark ())
GQuark kk_qr_error_quark (void);

typedef enum {
  KK_QR_ERROR_INVALID,        /* empty, too long, or not encodable: 400 */
} KkQrError;

/* Longest text encoded: a link with a token fits easily, and the code
 * stays readable from across a room. */
#define KK_QR_MAX_TEXT 512

/**
 * kk_qr_svg:
 * @text: the bytes to encode (8-bit mode), 1..%KK_QR_MAX_TEXT of them
 *
 * Encodes @text with error correction level M in the smallest version
 * that holds it, and draws it as an SVG whose user unit is one module,
 * with the 4-module quiet zone the standard asks for, black on white.
 *
 * Returns: (transfer full): the SVG document, or NULL with @error.
 */
char *kk_qr_svg (const char *text, gsize length, GError **error);

G_END_DECLS
