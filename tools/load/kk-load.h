/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-load: the parts of kringkast-load, the load tool, that are worth
 * testing on their own: RTP sequence tracking (loss, NACK, recovery),
 * the viewer's SDP (offer or answer builder, parser of the server's SDP),
 * Janus's HTTP API replies, /proc sampling of the server, and the run's
 * report (percentiles, JSON, the human summary, the progress line).
 *
 * The tool itself (kk-load-viewer.c, kk-load-rx.c, kringkast-load.c) is
 * glue around these: libnice for ICE, kk-dtls for DTLS, kk-srtp for SRTP.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define KK_LOAD_ERROR (kk_load_error_quark ())
GQuark kk_load_error_quark (void);

typedef enum {
  KK_LOAD_ERROR_SDP,        /* the server's SDP is unusable */
  KK_LOAD_ERROR_JANUS,      /* a Janus reply says error, or is malformed */
  KK_LOAD_ERROR_PROC,       /* /proc text we cannot parse */
  KK_LOAD_ERROR_OPTIONS,    /* a bad command line */
} KkLoadError;

/* ---- sequence tracking (kk-load-seq.c) ---- */

/* How far back a late packet (a retransmission) still counts: a little
 * more than the relay's NACK history of 1024 packets. */
#define KK_LOAD_SEQ_WINDOW 2048

typedef enum {
  KK_LOAD_SEQ_NEW,          /* in order, or after a gap */
  KK_LOAD_SEQ_RECOVERED,    /* a packet that had been missing */
  KK_LOAD_SEQ_DUPLICATE,
  KK_LOAD_SEQ_TOO_OLD,      /* older than the window: not counted */
} KkLoadSeqResult;

/* One RTP stream's sequence numbers, extended to 64 bits. Lost packets
 * are those never received: expected (highest - first + 1) minus unique
 * packets received. A packet missing when a later one arrived is a gap;
 * if it arrives after all it is recovered, and recovered_nacked when we
 * had asked for it with a NACK. */
typedef struct {
  gboolean started;
  guint64 first;
  guint64 highest;
  guint64 received;         /* unique */
  guint64 duplicates;
  guint64 too_old;
  guint64 gaps;
  guint64 recovered;
  guint64 recovered_nacked;
  guint64 nacked;           /* sequence numbers we asked for */
  guint32 received_bits[KK_LOAD_SEQ_WINDOW / 32];
  guint32 nacked_bits[KK_LOAD_SEQ_WINDOW / 32];
} KkLoadSeq;

/* Records @seq16. When it opens a gap and @lost is not NULL, the missing
 * sequence numbers (the newest @max_lost of them, within the window) are
 * written to @lost, counted in *n_lost, and marked as NACKed: the caller
 * is expected to send them in a NACK. */
KkLoadSeqResult kk_load_seq_push (KkLoadSeq *seq, guint16 seq16,
    guint16 *lost, guint *n_lost, guint max_lost);
guint64 kk_load_seq_expected (const KkLoadSeq *seq);
guint64 kk_load_seq_lost (const KkLoadSeq *seq);

/* ---- SDP (kk-load-sdp.c) ---- */

typedef enum {
  KK_LOAD_CODEC_NONE,
  KK_LOAD_CODEC_OPUS,
  KK_LOAD_CODEC_VP8,
  KK_LOAD_CODEC_H264,
} KkLoadCodec;

#define KK_LOAD_MAX_MEDIA 4
#define KK_LOAD_MAX_CODECS 4

typedef struct {
  gboolean video;
  char mid[32];
  guint n_codecs;
  struct {
    guint8 pt;
    KkLoadCodec codec;
  } codecs[KK_LOAD_MAX_CODECS];
} KkLoadMedia;

/* What the viewer needs from the server's SDP (offer or answer). */
typedef struct {
  char *ice_ufrag;
  char *ice_pwd;
  char *fingerprint_hash;   /* "sha-256" */
  guint8 fingerprint[64];
  gsize fingerprint_len;
  char *setup;              /* "passive", "active", "actpass" */
  gboolean ice_lite;
  GPtrArray *candidates;    /* "a=candidate:..." lines, UDP only */
  guint n_media;
  KkLoadMedia media[KK_LOAD_MAX_MEDIA];
} KkLoadRemoteSdp;

void kk_load_remote_sdp_free (KkLoadRemoteSdp *sdp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkLoadRemoteSdp, kk_load_remote_sdp_free)

/* Parses the server's SDP. Only m-lines with a codec we know (Opus, VP8,
 * H.264) are kept, with those codecs only. Fails without ICE credentials,
 * a usable fingerprint, or any known codec.
 * Returns: (transfer full) (nullable) */
KkLoadRemoteSdp *kk_load_sdp_parse (const char *text, gsize len,
    GError **error);

/* The codec that payload type @pt carries in @sdp, or NONE. */
KkLoadCodec kk_load_sdp_codec_for_pt (const KkLoadRemoteSdp *sdp, guint8 pt,
    gboolean *video);

/* A browser-like recvonly WHEP offer: BUNDLE of an Opus m-line (mid 0) and
 * a VP8 + H.264 m-line (mid 1), rtcp-mux, NACK and PLI feedback, with our
 * ICE credentials, fingerprint ("sha-256 AB:..."), a=setup:actpass and the
 * given candidate lines ("a=candidate:..." each, as libnice writes them).
 * Returns: (transfer full) */
char *kk_load_sdp_build_offer (const char *ufrag, const char *pwd,
    const char *fingerprint, const char *const *candidates);

/* A recvonly answer to the server's offer @offer (Janus): the same
 * m-lines and mids, each with its first codec we know, a=setup:active.
 * Returns: (transfer full) */
char *kk_load_sdp_build_answer (const KkLoadRemoteSdp *offer,
    const char *ufrag, const char *pwd, const char *fingerprint,
    const char *const *candidates);

/* ---- Janus's HTTP API (kk-load-janus.c) ---- */

/* The "data.id" of a create or attach reply ("janus":"success").
 * FALSE with @error for an error reply or anything malformed. */
gboolean kk_load_janus_parse_id (const char *body, gsize len, guint64 *id,
    GError **error);

typedef struct {
  guint64 sender;           /* handle id the event is for; 0 if none */
  char *janus;              /* "event", "webrtcup", "hangup", "ack", ... */
  char *jsep_type;          /* "offer" when the event carries one */
  char *jsep_sdp;
  char *error;              /* plugin or API error text, if any */
} KkLoadJanusEvent;

void kk_load_janus_event_clear (KkLoadJanusEvent *event);

/* A long poll's reply: one event object or an array of them (maxev).
 * Returns: (transfer full) (element-type KkLoadJanusEvent): an array
 * that frees its events; NULL with @error if the body is not JSON. */
GArray *kk_load_janus_parse_events (const char *body, gsize len,
    GError **error);

/* ---- the server process (kk-load-proc.c) ---- */

typedef struct {
  guint64 cpu_ticks;        /* utime + stime, in clock ticks */
  guint64 rss_kib;
  guint threads;
} KkLoadProcSample;

/* utime+stime and the thread count from /proc/PID/stat's text. */
gboolean kk_load_proc_parse_stat (const char *text, guint64 *cpu_ticks,
    guint *threads, GError **error);
/* VmRSS from /proc/PID/status's text, in KiB. */
gboolean kk_load_proc_parse_status (const char *text, guint64 *rss_kib,
    GError **error);
gboolean kk_load_proc_sample (pid_t pid, KkLoadProcSample *out,
    GError **error);

/* ---- the report (kk-load-report.c) ---- */

/* One viewer's outcome. Times are from the POST of its offer (or, for
 * Janus, the "watch" request); -1 when it never happened. */
typedef struct {
  gboolean connected;       /* DTLS finished */
  char *error;              /* why it failed, or NULL */
  double connect_ms;
  double first_packet_ms;
  double first_keyframe_ms;
  guint64 packets;          /* RTP packets received, all streams */
  guint64 bytes;            /* their UDP payload bytes */
  guint64 expected;         /* by sequence numbers */
  guint64 lost;
  guint64 gaps;
  guint64 nacked;
  guint64 nacks_sent;       /* RTCP NACK packets */
  guint64 recovered_nacked;
  guint64 verified;         /* packets decrypted and authenticated */
  guint64 verify_failed;
  guint64 keyframes;        /* keyframe starts seen in verified packets */
  guint dtls_retransmits;   /* our DTLS flights sent again (timer ran out) */
} KkLoadViewerResult;

void kk_load_viewer_result_clear (KkLoadViewerResult *result);

typedef struct {
  double median;
  double p95;
  double max;
  guint n;
} KkLoadDistribution;

/* Nearest-rank percentile (0 < @p <= 100) of @values, which are sorted in
 * place. 0 for an empty array. */
double kk_load_percentile (double *values, guint n, double p);

typedef struct {
  /* the run */
  char *target;             /* the URL */
  char *mode;               /* "whep" or "janus" */
  guint viewers;
  double ramp;              /* joins per second */
  double hold_s;            /* how long all viewers were held */
  guint verify_every;       /* 1: every packet decrypted; N: 1 in N */
  /* aggregated from the viewers */
  guint connected;
  guint failed;
  GHashTable *errors;       /* message -> count (GUINT_TO_POINTER) */
  KkLoadDistribution connect_ms;
  KkLoadDistribution first_packet_ms;
  KkLoadDistribution first_keyframe_ms;
  guint no_keyframe;        /* connected viewers that saw no keyframe */
  guint64 packets;
  guint64 bytes;
  guint64 expected;
  guint64 lost;
  double loss_percent;
  double worst_viewer_loss_percent;
  guint64 gaps;
  guint64 nacked;
  guint64 nacks_sent;
  guint64 recovered_nacked;
  guint64 verified;
  guint64 verify_failed;
  guint dtls_retransmitted; /* viewers whose DTLS needed a retransmission */
  /* the server, when --pid was given (has_server) */
  gboolean has_server;
  double server_cpu_ms_per_s;           /* during the hold */
  double server_cpu_ms_per_s_per_viewer;
  double server_idle_cpu_ms_per_s;      /* before the first join */
  /* (hold - idle) / viewers: what each viewer adds, without the cost of
   * receiving the source, which would dominate at small counts */
  double server_marginal_cpu_ms_per_s_per_viewer;
  guint64 server_rss_before_kib;
  guint64 server_rss_kib;
  double server_kib_per_viewer;
  guint server_threads_before;
  guint server_threads;
  /* the load tool itself, during the hold */
  double self_cpu_ms_per_s;
  double self_cpu_ms_per_s_per_viewer;
  /* and before it: CPU ms per viewer to join (HTTP, ICE, DTLS) */
  double self_join_cpu_ms_per_viewer;
} KkLoadReport;

/* Fills the viewer figures of @report from @results. */
void kk_load_report_aggregate (KkLoadReport *report,
    const KkLoadViewerResult *results, guint n);
/* Fills the server figures from samples taken @idle_s apart before the
 * first join (@before, @idle_end), at the start of the hold and at its
 * end. */
void kk_load_report_set_server (KkLoadReport *report,
    const KkLoadProcSample *before, const KkLoadProcSample *idle_end,
    double idle_s, const KkLoadProcSample *hold_start,
    const KkLoadProcSample *hold_end, double hold_s, long ticks_per_s);
void kk_load_report_clear (KkLoadReport *report);

/* Returns: (transfer full) */
JsonNode *kk_load_report_to_json (const KkLoadReport *report);
/* A few lines for people. Returns: (transfer full) */
char *kk_load_report_to_text (const KkLoadReport *report);

/* The one-line progress shown while the tool runs. Returns: (transfer full) */
char *kk_load_progress_line (double elapsed_s, guint started, guint total,
    guint connected, guint failed, guint64 packets, guint64 lost,
    double mbit_per_s);

G_END_DECLS
