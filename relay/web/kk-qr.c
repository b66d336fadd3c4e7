/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-qr: QR codes drawn as SVG.
 *
 * libqrencode gives the module matrix; each row's runs of dark modules
 * become one rectangle in a single path, so even a version-10 code is a
 * few kilobytes and scales to a TV screen without blurring
 * (shape-rendering crispEdges keeps module edges sharp).
 */
#include "kk-qr.h"

#include <errno.h>
#include <qrencode.h>

#define QUIET_ZONE 4

G_DEFINE_QUARK (kk-qr-error-quark, kk_qr_error)

char *
kk_qr_svg (const char *text, gsize length, GError **error)
{
  QRcode *code;
  GString *svg;
  int size;

  if (length == 0 || length > KK_QR_MAX_TEXT) {
    g_set_error (error, KK_QR_ERROR, KK_QR_ERROR_INVALID,
        "the text must be 1 to %d bytes", KK_QR_MAX_TEXT);
    return NULL;
  }
  code = QRcode_encodeData ((int) length, (const unsigned char *) text, 0,
      QR_ECLEVEL_M);
  if (code == NULL) {
    g_set_error (error, KK_QR_ERROR, KK_QR_ERROR_INVALID,
        "cannot encode the text: %s", g_strerror (errno));
    return NULL;
  }

  size = code->width + 2 * QUIET_ZONE;
  svg = g_string_sized_new (4096);
  g_string_append_printf (svg,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
      "shape-rendering=\"crispEdges\">"
      "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
      "<path fill=\"#000\" d=\"", size, size, size, size);
  for (int y = 0; y < code->width; y++) {
    const unsigned char *row = code->data + (gsize) y * code->width;

    for (int x = 0; x < code->width;) {
      int run = 0;

      /* Bit 0 of each byte is the module's colour; the other bits say
       * what kind of module it is, which the drawing does not need. */
      while (x + run < code->width && (row[x + run] & 1))
        run++;
      if (run > 0) {
        g_string_append_printf (svg, "M%d %dh%dv1h-%dz", x + QUIET_ZONE,
            y + QUIET_ZONE, run, run);
        x += run;
      } else {
        x++;
      }
    }
  }
  g_string_append (svg, "\"/></svg>\n");
  QRcode_free (code);
  return g_string_free (svg, FALSE);
}
