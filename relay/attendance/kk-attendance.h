/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-attendance: the pure rules of attendance. Given when a session was
 * live and when a person's connections were receiving it, it says how long
 * they attended and whether that completes the session under the policy
 * frozen into it. It also writes and reads the CSV the coordinator opens
 * in Excel (or feeds to a script) and the pre-registration lists she
 * uploads.
 *
 * No I/O, no clocks, no globals: everything a verdict depends on is an
 * argument, so the unit tests and the fuzzer exercise exactly what the
 * daemon runs. Times are microseconds on one time line (the relay's; see
 * kk-attendance-log.c for how it stays steady across wall-clock steps).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* [start_us, end_us). An interval with end_us <= start_us is empty; one
 * whose end lies before its start (a clock stepped back between two
 * stored events) counts as empty, never as negative time. */
typedef struct {
  gint64 start_us;
  gint64 end_us;
} KkInterval;

/* Sorts @intervals (element-type KkInterval) and merges those that overlap
 * or touch, dropping empty ones: the union, each moment counted once. */
void kk_intervals_union (GArray *intervals);
/* Cuts a union down to what lies within [@from_us, @to_us]. */
void kk_intervals_clip (GArray *intervals, gint64 from_us, gint64 to_us);
/* Joins neighbours of a union separated by a gap shorter than @grace_us:
 * the gap is forgiven (counted as attended). */
void kk_intervals_forgive_gaps (GArray *intervals, gint64 grace_us);
/* The summed length of a union. */
gint64 kk_intervals_total (const GArray *intervals);

#define KK_ATTENDANCE_DEFAULT_RATIO 0.8
#define KK_ATTENDANCE_DEFAULT_GRACE_S 60
#define KK_ATTENDANCE_DEFAULT_PROMPT_WINDOW_S 180
#define KK_ATTENDANCE_DEFAULT_PROMPT_INTERVAL_S 900
#define KK_ATTENDANCE_MAX_PROMPTS 20

/* A room's rules, frozen into each session when it goes live. */
typedef struct {
  double completion_ratio;    /* of live time, [0, 1] */
  gint64 grace_us;            /* shorter gaps are forgiven */
  gint64 max_lateness_us;     /* < 0: no limit */
  gboolean require_code;      /* the attendance code the host reveals */
  guint prompts;              /* "still here?" prompts per session, at most */
  gint64 prompt_window_us;    /* time to answer one */
  gint64 prompt_interval_us;  /* one prompt in each interval this long */
} KkAttendancePolicy;

void kk_attendance_policy_init (KkAttendancePolicy *policy);

/**
 * kk_attendance_prompt_offset:
 * @k: which prompt, from 0 (below @policy->prompts)
 * @random: uniformly random bits
 *
 * When prompt @k is due, after the session's start: at a random moment of
 * the @k-th interval of @policy->prompt_interval_us, away from its first
 * and last tenth, so that two prompts are never close together and
 * nobody can tell from the clock when the next one comes.
 */
gint64 kk_attendance_prompt_offset (const KkAttendancePolicy *policy,
    guint k, guint32 random);

/* One "still here?" prompt, as one person saw it. */
typedef struct {
  gint64 issued_us;
  gint64 answered_us;         /* 0: not answered by this person */
} KkPromptAnswer;

/* Why a person did not complete; KK_ATTENDANCE_COMPLETED if they did. The
 * first rule that fails, in this order. */
typedef enum {
  KK_ATTENDANCE_COMPLETED,
  KK_ATTENDANCE_EMPTY_SESSION,    /* the session had no live time */
  KK_ATTENDANCE_ABSENT,           /* no media reached them while live */
  KK_ATTENDANCE_TOO_SHORT,        /* below the completion ratio */
  KK_ATTENDANCE_LATE,             /* first attended moment too late */
  KK_ATTENDANCE_NO_CODE,          /* the attendance code was not given */
  KK_ATTENDANCE_MISSED_PROMPT,    /* a prompt seen while attending went unanswered */
} KkAttendanceVerdict;

/* "completed", "empty-session", "absent", "too-short", "late", "no-code",
 * "missed-prompt". */
const char *kk_attendance_verdict_to_string (KkAttendanceVerdict verdict);

typedef struct {
  gint64 live_us;             /* the session's live time */
  gint64 attended_us;         /* clipped union with gaps forgiven */
  double attended_ratio;      /* attended over live; 0 for an empty session */
  gint64 first_join_us;       /* earliest start of a connection that
                               * overlaps the session; 0: none */
  gint64 last_leave_us;       /* latest end of those */
  guint rejoins;              /* receiving stretches within the session, less one */
  gint64 lateness_us;         /* first attended moment after the moment
                               * lateness counts from (see
                               * kk_attendance_evaluate), at least 0;
                               * -1 absent */
  guint prompts_seen;         /* prompts issued while attending */
  guint prompts_missed;       /* of those, not answered in the window */
  KkAttendanceVerdict verdict;
  gboolean completed;
} KkAttendanceResult;

/**
 * kk_attendance_evaluate:
 * @live_start_us, @live_end_us: the session (an end before the start
 *   makes it empty)
 * @scheduled_start_us: when the session was planned to start; 0 (or any
 *   time not after @live_start_us) for an ad hoc session
 * @connections: (array length=n_connections): every interval in which a
 *   connection of this person received media (all visits, all devices;
 *   an open one ends "now")
 * @code_given: the person gave the session's attendance code
 * @prompts: (array length=n_prompts): the session's prompts with this
 *   person's answers
 *
 * Applies the rules: the connections' union is clipped to the live time,
 * gaps shorter than the grace are forgiven, and the person completes when
 * the attended share reaches the ratio (and is not zero), they were not
 * later than allowed, gave the code if required, and answered every
 * prompt issued while they were attending within its window.
 *
 * Lateness counts from the later of @scheduled_start_us and
 * @live_start_us: a host who starts late does not make those who waited
 * late, and one who starts early does not make those who come on time
 * late either. The ratio stays relative to the live (broadcast) time.
 */
void kk_attendance_evaluate (const KkAttendancePolicy *policy,
    gint64 live_start_us, gint64 live_end_us, gint64 scheduled_start_us,
    const KkInterval *connections, guint n_connections,
    gboolean code_given, const KkPromptAnswer *prompts, guint n_prompts,
    KkAttendanceResult *result);

/* ---- CSV ---- */

typedef enum {
  /* For Excel with Norwegian settings: UTF-8 with a BOM, ';' between
   * fields, CRLF, and a cell that starts with = + - @ (or a tab or CR)
   * prefixed with ' so it is never taken for a formula. */
  KK_CSV_EXCEL,
  /* RFC 4180: ',' between fields, CRLF, no BOM, values as they are. */
  KK_CSV_RFC4180,
} KkCsvDialect;

/* "excel" (also the default for NULL) or "rfc4180". */
gboolean kk_csv_dialect_from_string (const char *name, KkCsvDialect *dialect);

typedef struct _KkCsvWriter KkCsvWriter;

/* Returns: (transfer full) */
KkCsvWriter *kk_csv_writer_new (KkCsvDialect dialect);
/* Adds one cell to the current row; @value (nullable) is UTF-8. */
void kk_csv_writer_add (KkCsvWriter *writer, const char *value);
void kk_csv_writer_add_int (KkCsvWriter *writer, gint64 value);
void kk_csv_writer_end_row (KkCsvWriter *writer);
/* Frees @writer. Returns: (transfer full): the whole text. */
GBytes *kk_csv_writer_finish (KkCsvWriter *writer);
void kk_csv_writer_free (KkCsvWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkCsvWriter, kk_csv_writer_free)

#define KK_CSV_MAX_ROWS 5000
#define KK_CSV_MAX_FIELDS 64

#define KK_ATTENDANCE_ERROR (kk_attendance_error_quark ())
GQuark kk_attendance_error_quark (void);

typedef enum {
  KK_ATTENDANCE_ERROR_INVALID,    /* malformed input: HTTP 400 */
  KK_ATTENDANCE_ERROR_NOT_FOUND,  /* no such session, room or person: 404 */
  KK_ATTENDANCE_ERROR_FORBIDDEN,  /* not allowed for this token: 403 */
  KK_ATTENDANCE_ERROR_FAILED,     /* the store failed: 500 */
  KK_ATTENDANCE_ERROR_CONFLICT,   /* not in the current state: 409 */
  KK_ATTENDANCE_ERROR_LIMITED,    /* too many attempts: 429 */
  KK_ATTENDANCE_ERROR_GONE,       /* too late (an expired prompt): 410 */
} KkAttendanceError;

/**
 * kk_csv_parse:
 *
 * Reads CSV from untrusted bytes as Excel or a script writes it: an
 * optional UTF-8 BOM, ';' or ',' between fields (whichever the first line
 * has more of, outside quotes), quoted fields with "" for a quote, CRLF or
 * LF. At most %KK_CSV_MAX_ROWS rows of %KK_CSV_MAX_FIELDS fields; the text
 * must be valid UTF-8 without NUL. Blank lines are skipped.
 *
 * Returns: (transfer full) (element-type GStrv): the rows, or NULL with
 * %KK_ATTENDANCE_ERROR_INVALID.
 */
GPtrArray *kk_csv_parse (const char *data, gsize length, GError **error);

G_END_DECLS
