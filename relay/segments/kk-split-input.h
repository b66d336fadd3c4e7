/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-split-input: what both container cutters (kk-webm-split for WebM,
 * kk-mp4-split for fragmented MP4) keep of a muxer's live output while
 * they cut it: the bytes not handed out yet (they arrive in any pieces,
 * and parsing resumes where it stopped), the initialization segment
 * being gathered, the bound on any one element, and whether the stream
 * was found invalid. A stream found invalid is refused from then on: a
 * cutter never guesses where a broken stream goes on.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gsize max_element;        /* no element (box, Cluster...) larger */
  GByteArray *pending;      /* bytes not handed out yet */
  GByteArray *init;         /* the initialization segment being gathered */
  gboolean failed;          /* found invalid: refused from now on */
} KkSplitInput;

void kk_split_input_init (KkSplitInput *input, gsize max_element);
void kk_split_input_clear (KkSplitInput *input);

/* Marks the stream invalid and sets @error (@domain, @code, @message).
 * Returns: FALSE, for the caller to return. */
gboolean kk_split_input_fail (KkSplitInput *input, GError **error,
    GQuark domain, gint code, const char *message);

/* Returns: TRUE if the stream was not found invalid; else FALSE with
 * @error (@domain, @invalid_code). */
gboolean kk_split_input_check (KkSplitInput *input, GQuark domain,
    gint invalid_code, GError **error);

/* Appends @data to the pending bytes, if the stream was not found
 * invalid (as kk_split_input_check ()). */
gboolean kk_split_input_take (KkSplitInput *input, const guint8 *data,
    gsize len, GQuark domain, gint invalid_code, GError **error);

/* Returns: (transfer full): the initialization segment gathered so far;
 * gathering starts empty again. */
GBytes *kk_split_input_steal_init (KkSplitInput *input);

G_END_DECLS
