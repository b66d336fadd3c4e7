/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-http-guard: the header block scanner that decides where a
 * request's headers end (kk-http-guard). It must agree with libsoup on the
 * end (CRLF CRLF, or LF LF), never end early inside a block, and give the
 * same answer however the bytes are split into reads.
 */
#include <glib.h>
#include <string.h>

#include "kk-http-guard.h"

static gsize
scan_whole (const char *text, gsize len, gboolean *complete)
{
  KkHttpHeadScan scan;

  kk_http_head_scan_init (&scan);
  kk_http_head_scan_feed (&scan, (const guint8 *) text, len);
  *complete = scan.complete;
  return scan.size;
}

static void
test_ends (void)
{
  struct {
    const char *text;
    gssize block;               /* -1: not complete */
  } cases[] = {
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", 27 },
    { "GET / HTTP/1.1\nHost: a\n\nBODY", 24 },
    { "GET / HTTP/1.1\r\nHost: a\r\n\r", -1 },
    { "GET / HTTP/1.1\r\nHost: a\r\n", -1 },
    { "GET / HTTP/1.1\r\nX: \r\r\n\r\n", 24 },
    { "GET / HTTP/1.1\r\nX: a\r\n \r\n", -1 },
    { "", -1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    gboolean complete;
    gsize size = scan_whole (cases[i].text, strlen (cases[i].text), &complete);

    g_test_message ("%u: %s", i, cases[i].text);
    if (cases[i].block < 0) {
      g_assert_false (complete);
      g_assert_cmpuint (size, ==, strlen (cases[i].text));
    } else {
      g_assert_true (complete);
      g_assert_cmpuint (size, ==, (gsize) cases[i].block);
    }
  }
}

/* Fed one byte, or any chunk, at a time, the result is the same; a
 * complete scan takes nothing more. */
static void
test_split (void)
{
  const char *text = "POST /api/rooms/x/join HTTP/1.1\r\nHost: relay\r\n"
      "Content-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n";
  gsize len = strlen (text);
  gboolean whole_complete;
  gsize whole = scan_whole (text, len, &whole_complete);

  g_assert_true (whole_complete);
  for (gsize step = 1; step <= len; step++) {
    KkHttpHeadScan scan;
    gsize taken = 0;

    kk_http_head_scan_init (&scan);
    for (gsize at = 0; at < len; at += step)
      taken += kk_http_head_scan_feed (&scan, (const guint8 *) text + at,
          MIN (step, len - at));
    g_assert_true (scan.complete);
    g_assert_cmpuint (scan.size, ==, whole);
    g_assert_cmpuint (taken, ==, whole);
  }
}

/* A 100 KB header never completes and is counted whole: the guard sees it
 * pass KK_HTTP_MAX_HEADER. */
static void
test_large (void)
{
  GString *text = g_string_new ("GET / HTTP/1.1\r\nX-Big: ");
  gboolean complete;

  for (int i = 0; i < 100000; i++)
    g_string_append_c (text, 'a');
  g_assert_cmpuint (scan_whole (text->str, text->len, &complete), ==,
      text->len);
  g_assert_false (complete);
  g_assert_cmpuint (text->len, >, KK_HTTP_MAX_HEADER);
  g_string_free (text, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-guard/scan/ends", test_ends);
  g_test_add_func ("/http-guard/scan/split", test_split);
  g_test_add_func ("/http-guard/scan/large", test_large);
  return g_test_run ();
}
