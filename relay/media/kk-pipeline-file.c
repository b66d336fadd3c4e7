/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-pipeline-file: reading and parsing pipelines/NAME.pipeline; see
 * kk-pipeline-file.h.
 */
#include "kk-pipeline-file.h"

G_DEFINE_QUARK (kk-pipeline-file-error-quark, kk_pipeline_file_error)

/* Returns: (transfer full): the text of @path as one gst-launch line. */
static char *
read_description (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GString) description = g_string_new (NULL);
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  /* '#' comments and line breaks are for people; gst_parse wants one line. */
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    const char *line = g_strstrip (lines[i]);

    if (*line == '\0' || *line == '#')
      continue;
    g_string_append (description, line);
    g_string_append_c (description, ' ');
  }
  return g_string_free (g_steal_pointer (&description), FALSE);
}

char *
kk_pipeline_file_path (const char *dir, const char *name)
{
  g_autofree char *file = g_strconcat (name, ".pipeline", NULL);

  return g_build_filename (dir, file, NULL);
}

GstElement *
kk_pipeline_file_load (const char *dir, const char *name, const char *uri,
    const char *what, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *description = NULL;
  g_autoptr (GstParseContext) parse_context = gst_parse_context_new ();
  g_autoptr (GError) parse_error = NULL;
  GstElement *pipeline;

  g_return_val_if_fail (dir != NULL && name != NULL, NULL);

  path = kk_pipeline_file_path (dir, name);
  description = read_description (path, error);
  if (description == NULL)
    return NULL;
  if (uri != NULL) {
    g_auto (GStrv) parts = g_strsplit (description, "{uri}", -1);

    g_free (description);
    description = g_strjoinv (uri, parts);
  }

  pipeline = gst_parse_launch_full (description, parse_context,
      GST_PARSE_FLAG_FATAL_ERRORS, &parse_error);
  if (pipeline == NULL) {
    g_auto (GStrv) missing = gst_parse_context_get_missing_elements (
        parse_context);
    g_autofree char *list = missing ? g_strjoinv (", ", missing) : NULL;

    g_set_error (error, KK_PIPELINE_FILE_ERROR, KK_PIPELINE_FILE_ERROR_PARSE,
        "%s: %s%s%s", what != NULL ? what : path, parse_error->message,
        list ? "; missing elements: " : "", list ? list : "");
    return NULL;
  }
  return gst_object_ref_sink (pipeline);
}
