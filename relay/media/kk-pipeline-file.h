/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-pipeline-file: the one loader of pipelines/NAME.pipeline, the files in
 * which an operator describes a lecture source (the test pattern, an RTSP
 * camera) or how a recording is muxed, and changes them without
 * rebuilding. The lecture's pipeline sources and the recorder both load
 * their pipelines here.
 *
 * A file is a gst-launch description spread over lines for people, with
 * '#' comment lines. It is parsed with GST_PARSE_FLAG_FATAL_ERRORS, so a
 * link that cannot be made or a property that cannot be set fails the
 * load instead of leaving a half-built pipeline, and a failure names the
 * elements this machine's GStreamer lacks.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define KK_PIPELINE_FILE_ERROR (kk_pipeline_file_error_quark ())
GQuark kk_pipeline_file_error_quark (void);

typedef enum {
  KK_PIPELINE_FILE_ERROR_PARSE,   /* the description does not parse */
} KkPipelineFileError;

/* Returns: (transfer full): the path of the file of pipeline @name in
 * @dir, "@dir/@name.pipeline", for messages that name the file. */
char *kk_pipeline_file_path (const char *dir, const char *name);

/**
 * kk_pipeline_file_load:
 * @dir: the pipelines directory (KkConfig's pipelines_dir: the installed
 *   one, or the source tree's for an uninstalled daemon and the tests)
 * @name: the pipeline: the file is @dir/@name.pipeline
 * @uri: (nullable): replaces every "{uri}" in the description
 * @what: (nullable): how a parse error's message names the pipeline
 *   ("source ROOM"); NULL names it by the file's path
 * @error: a #G_FILE_ERROR if the file cannot be read, or
 *   %KK_PIPELINE_FILE_ERROR_PARSE: "WHAT: MESSAGE[; missing elements:
 *   A, B]"
 *
 * Reads, substitutes and parses one pipeline file. The pipeline is not
 * started.
 *
 * Returns: (transfer full): the pipeline (not floating), or NULL with
 *   @error.
 */
GstElement *kk_pipeline_file_load (const char *dir, const char *name,
    const char *uri, const char *what, GError **error);

G_END_DECLS
