/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for kk-icetcp, the RFC 4571 framing reader: a stream of frames must
 * come out the same however TCP slices it, and bad lengths must be refused
 * before anything of the frame is buffered.
 */

#include "kringkast/kk-icetcp.h"

#include <string.h>

typedef struct {
  GPtrArray *frames;            /* GBytes */
} Collected;

static void
collect_frame (const guint8 *frame, gsize len, gpointer user_data)
{
  Collected *c = user_data;

  g_ptr_array_add (c->frames, g_bytes_new (frame, len));
}

static void
collected_init (Collected *c)
{
  c->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
collected_clear (Collected *c)
{
  g_clear_pointer (&c->frames, g_ptr_array_unref);
}

/* Three frames of different sizes, including the largest allowed, with
 * contents that tell them apart. */
static GByteArray *
make_stream (GPtrArray *expected)
{
  static const gsize sizes[] = { 1, 100, KK_ICETCP_MAX_FRAME, 20 };
  GByteArray *stream = g_byte_array_new ();

  for (guint f = 0; f < G_N_ELEMENTS (sizes); f++) {
    guint8 header[2];
    g_autofree guint8 *body = g_malloc (sizes[f]);

    for (gsize i = 0; i < sizes[f]; i++)
      body[i] = (guint8) (f * 37 + i * 13);
    kk_icetcp_write_header (header, sizes[f]);
    g_byte_array_append (stream, header, 2);
    g_byte_array_append (stream, body, sizes[f]);
    g_ptr_array_add (expected, g_bytes_new (body, sizes[f]));
  }
  return stream;
}

static void
assert_frames (GPtrArray *got, GPtrArray *expected)
{
  g_assert_cmpuint (got->len, ==, expected->len);
  for (guint i = 0; i < got->len; i++) {
    gsize a_len, b_len;
    const guint8 *a = g_bytes_get_data (got->pdata[i], &a_len);
    const guint8 *b = g_bytes_get_data (expected->pdata[i], &b_len);

    g_assert_cmpmem (a, a_len, b, b_len);
  }
}

static void
test_write_header (void)
{
  guint8 h[2];

  kk_icetcp_write_header (h, 0x0123);
  g_assert_cmpuint (h[0], ==, 0x01);
  g_assert_cmpuint (h[1], ==, 0x23);
  kk_icetcp_write_header (h, KK_ICETCP_MAX_FRAME);
  g_assert_cmpuint (h[0], ==, KK_ICETCP_MAX_FRAME >> 8);
  g_assert_cmpuint (h[1], ==, KK_ICETCP_MAX_FRAME & 0xff);
}

static void
test_one_read (void)
{
  g_autoptr (GPtrArray) expected =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GByteArray) stream = make_stream (expected);
  KkIceTcpReader reader;
  Collected c;
  GError *error = NULL;

  collected_init (&c);
  kk_icetcp_reader_init (&reader);
  g_assert_true (kk_icetcp_reader_feed (&reader, stream->data, stream->len,
          collect_frame, &c, &error));
  g_assert_no_error (error);
  assert_frames (c.frames, expected);
  g_assert_cmpuint (reader.fill, ==, 0);
  collected_clear (&c);
}

/* Every split point of the stream into two reads. */
static void
test_split_every_byte (void)
{
  g_autoptr (GPtrArray) expected =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GByteArray) stream = make_stream (expected);

  for (gsize cut = 0; cut <= stream->len; cut++) {
    KkIceTcpReader reader;
    Collected c;
    GError *error = NULL;

    collected_init (&c);
    kk_icetcp_reader_init (&reader);
    g_assert_true (kk_icetcp_reader_feed (&reader, stream->data, cut,
            collect_frame, &c, &error));
    g_assert_true (kk_icetcp_reader_feed (&reader, stream->data + cut,
            stream->len - cut, collect_frame, &c, &error));
    g_assert_no_error (error);
    assert_frames (c.frames, expected);
    collected_clear (&c);
  }
}

/* One byte per read, and reads of every size from 2 to 7 bytes. */
static void
test_small_reads (void)
{
  g_autoptr (GPtrArray) expected =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GByteArray) stream = make_stream (expected);

  for (gsize step = 1; step <= 7; step++) {
    KkIceTcpReader reader;
    Collected c;
    GError *error = NULL;

    collected_init (&c);
    kk_icetcp_reader_init (&reader);
    for (gsize off = 0; off < stream->len; off += step) {
      gsize n = MIN (step, stream->len - off);

      g_assert_true (kk_icetcp_reader_feed (&reader, stream->data + off, n,
              collect_frame, &c, &error));
    }
    g_assert_no_error (error);
    assert_frames (c.frames, expected);
    collected_clear (&c);
  }
}

static void
expect_rejected (const guint8 *data, gsize len, guint n_frames_before)
{
  KkIceTcpReader reader;
  Collected c;
  GError *error = NULL;

  collected_init (&c);
  kk_icetcp_reader_init (&reader);
  g_assert_false (kk_icetcp_reader_feed (&reader, data, len, collect_frame,
          &c, &error));
  g_assert_error (error, KK_ICETCP_ERROR, KK_ICETCP_ERROR_BAD_LENGTH);
  g_assert_cmpuint (c.frames->len, ==, n_frames_before);
  g_clear_error (&error);

  /* The same bytes one at a time: rejected as soon as the length is
   * complete, never buffered. */
  kk_icetcp_reader_init (&reader);
  for (gsize i = 0; i < len; i++) {
    if (!kk_icetcp_reader_feed (&reader, data + i, 1, collect_frame, &c,
            &error))
      break;
    g_assert_cmpuint (reader.fill, <=, sizeof (reader.buf));
  }
  g_assert_error (error, KK_ICETCP_ERROR, KK_ICETCP_ERROR_BAD_LENGTH);
  g_clear_error (&error);
  collected_clear (&c);
}

static void
test_bad_lengths (void)
{
  static const guint8 zero[] = { 0x00, 0x00, 0xaa };
  static const guint8 oversize[] = { (KK_ICETCP_MAX_FRAME + 1) >> 8,
    (KK_ICETCP_MAX_FRAME + 1) & 0xff, 0xaa, 0xbb };
  static const guint8 huge[] = { 0xff, 0xff, 0x00 };
  /* A good 3-byte frame, then a zero length. */
  static const guint8 good_then_zero[] = { 0x00, 0x03, 1, 2, 3, 0x00, 0x00 };

  expect_rejected (zero, sizeof (zero), 0);
  expect_rejected (oversize, sizeof (oversize), 0);
  expect_rejected (huge, sizeof (huge), 0);
  expect_rejected (good_then_zero, sizeof (good_then_zero), 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/icetcp/write-header", test_write_header);
  g_test_add_func ("/icetcp/one-read", test_one_read);
  g_test_add_func ("/icetcp/split-every-byte", test_split_every_byte);
  g_test_add_func ("/icetcp/small-reads", test_small_reads);
  g_test_add_func ("/icetcp/bad-lengths", test_bad_lengths);

  return g_test_run ();
}
