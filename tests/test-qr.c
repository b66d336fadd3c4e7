/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-qr: the QR SVG is a real QR code. The drawing is read back into a
 * module matrix and checked against what the standard fixes regardless of
 * content: the size for the version, the three finder patterns, their
 * separators, the timing patterns and the dark module (ISO/IEC 18004,
 * 6.3). Length limits are refused with errors.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "kk-qr.h"

#define QUIET 4

typedef struct {
  int size;                   /* modules across, quiet zone included */
  guint8 *dark;
} Matrix;

static void
matrix_clear (Matrix *m)
{
  g_free (m->dark);
}

/* Reads back "M x y h n v1h-n z" runs from the path the module draws. */
static void
parse_svg (const char *svg, Matrix *m)
{
  const char *p;
  int w, h;

  g_assert_cmpint (sscanf (strstr (svg, "viewBox=\""), "viewBox=\"0 0 %d %d\"",
          &w, &h), ==, 2);
  g_assert_cmpint (w, ==, h);
  m->size = w;
  m->dark = g_new0 (guint8, (gsize) w * w);
  p = strstr (svg, " d=\"");
  g_assert_nonnull (p);
  p += 4;
  while (*p == 'M') {
    int x, y, run, back, used = 0;

    g_assert_cmpint (sscanf (p, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &back,
            &used), ==, 4);
    g_assert_cmpint (run, ==, back);
    g_assert_cmpint (run, >, 0);
    g_assert_cmpint (x + run, <=, w - QUIET);
    g_assert_cmpint (y, <, w - QUIET);
    for (int i = 0; i < run; i++)
      m->dark[y * w + x + i] = 1;
    p += used;
  }
  g_assert_cmpint (*p, ==, '"');
}

static gboolean
at (const Matrix *m, int x, int y)
{
  return m->dark[(y + QUIET) * m->size + x + QUIET];
}

/* A finder: 7x7 dark ring, light ring, 3x3 dark core; plus the light
 * separator around it inside the symbol. */
static void
check_finder (const Matrix *m, int x0, int y0)
{
  int n = m->size - 2 * QUIET;

  for (int y = -1; y <= 7; y++) {
    for (int x = -1; x <= 7; x++) {
      int ring = MAX (ABS (x - 3), ABS (y - 3));
      gboolean want = ring != 2 && ring != 4;

      if (x0 + x < 0 || y0 + y < 0 || x0 + x >= n || y0 + y >= n)
        continue;
      g_assert_cmpint (at (m, x0 + x, y0 + y), ==, want);
    }
  }
}

static void
check_symbol (const char *text, int version)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *svg = kk_qr_svg (text, strlen (text), &error);
  Matrix m = { 0 };
  int n = 17 + 4 * version;

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  parse_svg (svg, &m);
  g_assert_cmpint (m.size, ==, n + 2 * QUIET);

  /* The quiet zone is light. */
  for (int i = 0; i < m.size; i++) {
    g_assert_false (m.dark[i]);
    g_assert_false (m.dark[(m.size - 1) * m.size + i]);
    g_assert_false (m.dark[i * m.size]);
  }
  check_finder (&m, 0, 0);
  check_finder (&m, n - 7, 0);
  check_finder (&m, 0, n - 7);
  /* Timing patterns alternate, dark on even positions. */
  for (int i = 8; i < n - 8; i++) {
    g_assert_cmpint (at (&m, i, 6), ==, i % 2 == 0);
    g_assert_cmpint (at (&m, 6, i), ==, i % 2 == 0);
  }
  /* The dark module beside the bottom-left finder. */
  g_assert_true (at (&m, 8, n - 8));
  matrix_clear (&m);
}

static void
test_qr_symbols (void)
{
  /* 8-bit mode, level M: version 1 holds 14 bytes, version 3 holds 42. */
  check_symbol ("HELLO", 1);
  check_symbol ("http://127.0.0.1:8080/watch/kurs1", 3);
}

static void
test_qr_limits (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *longest = g_strnfill (KK_QR_MAX_TEXT, 'a');
  g_autofree char *svg = NULL;

  g_assert_null (kk_qr_svg ("", 0, &error));
  g_assert_error (error, KK_QR_ERROR, KK_QR_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (kk_qr_svg (longest, KK_QR_MAX_TEXT + 1, &error));
  g_assert_error (error, KK_QR_ERROR, KK_QR_ERROR_INVALID);
  g_clear_error (&error);

  svg = kk_qr_svg (longest, KK_QR_MAX_TEXT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (svg);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/qr/symbols", test_qr_symbols);
  g_test_add_func ("/qr/limits", test_qr_limits);
  return g_test_run ();
}
