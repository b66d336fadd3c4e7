/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-db-pg: kk-db over libpq. Everything PostgreSQL-specific in the
 * daemon is in this file: mapping the dialect of kk-db.h to PostgreSQL's
 * (kk_db_pg_translate), running statements with text parameters, how
 * SQLSTATEs map to KK_STORE_ERROR codes, and the advisory lock that makes
 * a transaction hold the write lock from its start.
 *
 * One PGconn, owned by the store's worker thread like the SQLite handle.
 * A statement is mapped once, at prepare; each run sends it with its
 * bound values (PQexecParams), and the whole result is fetched at once:
 * the store's queries return small sets, and a result in hand makes
 * step, reset and the column readers as simple as SQLite's.
 */
#include "kk-db-pg.h"

#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "kk-db-private.h"

/* SQLite's default highest parameter number: a larger one is a mistake in
 * the SQL, on either backend. */
#define KK_DB_PG_MAX_PARAMS 32766

/* The advisory lock every transaction takes at its start, the same number
 * on every relay that shares the database ("kk" "stor" in ASCII). */
#define KK_DB_PG_WRITE_LOCK G_GINT64_CONSTANT (0x6b6b73746f72)

/* Type OIDs of the parameters we send (pg_type.h); 0 lets the server
 * infer the type from where the parameter stands, which is what text
 * needs, since the dialect's text binds also fill columns of other
 * types. */
#define KK_DB_PG_BOOLOID 16
#define KK_DB_PG_INT8OID 20
#define KK_DB_PG_FLOAT8OID 701

typedef struct {
  KkDb parent;
  PGconn *conn;
  gint64 changes;
  /* Between begin and commit or rollback: a lost connection must then
   * fail the transaction's statements, not open a new one and run them
   * outside it. */
  gboolean in_transaction;
  /* The server sent a FATAL error between statements: it is closing the
   * connection (a restart, an administrator ending it). */
  gboolean closing;
  /* kk_db_secure_delete() was called: VACUUM after the next commit. */
  gboolean vacuum_after_commit;
  /* VACUUM is running: the server's warnings (a table skipped) are the
   * operator's to see. */
  gboolean vacuuming;
} KkDbPg;

typedef struct {
  KkDbStmt parent;
  char *sql;                  /* mapped */
  int n_params;
  char **values;              /* n_params, NULL for SQL NULL */
  Oid *types;                 /* n_params */
  PGresult *result;           /* NULL until run */
  int row;                    /* the current row; -1 before the first */
} KkDbPgStmt;

#define PG(db) ((KkDbPg *) (db))
#define PGSTMT(stmt) ((KkDbPgStmt *) (stmt))

/* Translating the dialect. */

/* Bytes of UTF-8 sequences are letters, as in both servers' identifiers:
 * "åINTEGER" is one word, not a letter and a type name. */
static gboolean
is_word_start (char c)
{
  return g_ascii_isalpha (c) || c == '_' || (guchar) c >= 0x80;
}

static gboolean
is_word_char (char c)
{
  return is_word_start (c) || g_ascii_isdigit (c) || c == '$';
}

/* The length of the word at @p, or 0 if none starts there. */
static gsize
word_length (const char *p)
{
  gsize n = 0;

  if (!is_word_start (p[0]))
    return 0;
  while (is_word_char (p[n]))
    n++;
  return n;
}

static gboolean
word_is (const char *p, gsize length, const char *word)
{
  return length == strlen (word) && g_ascii_strncasecmp (p, word, length) == 0;
}

/* Whether `PRIMARY KEY` (whitespace apart) follows @p; sets @end past it. */
static gboolean
primary_key_follows (const char *p, const char **end)
{
  gsize n;

  while (g_ascii_isspace (*p))
    p++;
  n = word_length (p);
  if (!word_is (p, n, "PRIMARY"))
    return FALSE;
  p += n;
  while (g_ascii_isspace (*p))
    p++;
  n = word_length (p);
  if (!word_is (p, n, "KEY"))
    return FALSE;
  *end = p + n;
  return TRUE;
}

/* Copies the literal, quoted identifier or comment at @p (which starts
 * with @open) up to and including @close; a doubled @close inside a
 * literal or identifier stands for itself. */
static const char *
copy_quoted (GString *out, const char *p, const char *open,
    const char *close, gboolean doubling, GError **error)
{
  const char *end = p + strlen (open);

  for (;;) {
    end = strstr (end, close);
    if (end == NULL) {
      g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
          "SQL: %s opened but not closed", open);
      return NULL;
    }
    end += strlen (close);
    if (doubling && strncmp (end, close, strlen (close)) == 0) {
      end += strlen (close);
      continue;
    }
    break;
  }
  g_string_append_len (out, p, end - p);
  return end;
}

/* Copies the comment at @p (which starts with slash-star) up to its end.
 * PostgreSQL nests block comments, so each opening inside needs its own
 * close. */
static const char *
copy_comment (GString *out, const char *p, GError **error)
{
  const char *end = p + 2;
  int depth = 1;

  while (depth > 0) {
    if (*end == '\0') {
      g_set_error_literal (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
          "SQL: /* opened but not closed");
      return NULL;
    }
    if (end[0] == '/' && end[1] == '*') {
      depth++;
      end += 2;
    } else if (end[0] == '*' && end[1] == '/') {
      depth--;
      end += 2;
    } else {
      end++;
    }
  }
  g_string_append_len (out, p, end - p);
  return end;
}

/* Copies the E-string at @p (E or e, then a quote): in it a backslash
 * escapes the character after it, a quote among them, and a doubled
 * quote stands for itself. */
static const char *
copy_escape_string (GString *out, const char *p, GError **error)
{
  const char *end = p + 2;

  for (;;) {
    if (*end == '\0') {
      g_set_error_literal (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
          "SQL: E' opened but not closed");
      return NULL;
    }
    if (end[0] == '\\' && end[1] != '\0') {
      end += 2;
    } else if (end[0] == '\'' && end[1] == '\'') {
      end += 2;
    } else if (end[0] == '\'') {
      end++;
      break;
    } else {
      end++;
    }
  }
  g_string_append_len (out, p, end - p);
  return end;
}

char *
kk_db_pg_translate (const char *sql, int *n_params, GError **error)
{
  g_autoptr (GString) out = g_string_sized_new (strlen (sql) + 16);
  const char *p = sql;
  int highest = 0;
  /* Where the statement is: its words so far, whether it began with
   * CREATE or ALTER, and whether it is CREATE or ALTER TABLE, where
   * SQLite's type names are mapped (only there: elsewhere `integer` may be
   * a column's name). */
  int words = 0;
  gboolean create_or_alter = FALSE;
  gboolean table_ddl = FALSE;

  g_return_val_if_fail (sql != NULL, NULL);

  while (*p != '\0') {
    gsize n;

    if ((*p == 'E' || *p == 'e') && p[1] == '\'') {
      p = copy_escape_string (out, p, error);
    } else if (*p == '\'') {
      p = copy_quoted (out, p, "'", "'", TRUE, error);
    } else if (*p == '"') {
      p = copy_quoted (out, p, "\"", "\"", TRUE, error);
    } else if (p[0] == '-' && p[1] == '-') {
      n = strcspn (p, "\n");
      g_string_append_len (out, p, n);
      p += n;
    } else if (p[0] == '/' && p[1] == '*') {
      p = copy_comment (out, p, error);
    } else if (*p == ';') {
      words = 0;
      create_or_alter = table_ddl = FALSE;
      g_string_append_c (out, *p++);
    } else if (*p == '?') {
      int number;

      /* SQLite's numbering: `?N` is N, a bare `?` one more than the
       * highest number so far. */
      p++;
      if (g_ascii_isdigit (*p)) {
        guint64 value = 0;

        while (g_ascii_isdigit (*p) && value <= KK_DB_PG_MAX_PARAMS)
          value = value * 10 + (guint64) (*p++ - '0');
        if (value < 1 || value > KK_DB_PG_MAX_PARAMS
            || g_ascii_isdigit (*p)) {
          g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
              "SQL: placeholder number out of range 1..%d",
              KK_DB_PG_MAX_PARAMS);
          return NULL;
        }
        number = (int) value;
      } else {
        if (highest >= KK_DB_PG_MAX_PARAMS) {
          g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
              "SQL: more than %d placeholders", KK_DB_PG_MAX_PARAMS);
          return NULL;
        }
        number = highest + 1;
      }
      highest = MAX (highest, number);
      /* `id?` must not become `id$1`, one identifier, nor `?E'x'` or
       * `?.E'x'` a number (`1E`, `1.E`) and a plain literal: a word on
       * either side, or a dot after, is kept apart. */
      if (out->len > 0 && is_word_char (out->str[out->len - 1]))
        g_string_append_c (out, ' ');
      g_string_append_printf (out, "$%d", number);
      if (is_word_char (*p) || *p == '.')
        g_string_append_c (out, ' ');
    } else if ((n = word_length (p)) > 0) {
      const char *end = p + n;
      gboolean type_here = table_ddl && (out->len == 0
          || out->str[out->len - 1] != '.');

      if (words == 0)
        create_or_alter = word_is (p, n, "CREATE") || word_is (p, n, "ALTER");
      else if (words <= 2 && create_or_alter && word_is (p, n, "TABLE"))
        table_ddl = TRUE;
      words++;

      /* SQLite's INTEGER holds 64 bits, and `INTEGER PRIMARY KEY` is the
       * rowid, assigned on insert when not given: the same is BIGINT and
       * an identity column that also accepts a given value. */
      if (!type_here)
        g_string_append_len (out, p, n);
      else if (word_is (p, n, "INTEGER") && primary_key_follows (end, &end))
        g_string_append (out,
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
      else if (word_is (p, n, "INTEGER"))
        g_string_append (out, "BIGINT");
      else if (word_is (p, n, "REAL"))
        g_string_append (out, "DOUBLE PRECISION");
      else if (word_is (p, n, "BLOB"))
        g_string_append (out, "BYTEA");
      else
        g_string_append_len (out, p, n);
      p = end;
    } else if (g_ascii_isdigit (*p)) {
      /* A number, whole: the letters of 1e5 are not a word. */
      n = 0;
      while (is_word_char (p[n]) || p[n] == '.')
        n++;
      g_string_append_len (out, p, n);
      p += n;
    } else {
      g_string_append_c (out, *p++);
    }
    if (p == NULL)
      return NULL;
  }
  if (n_params != NULL)
    *n_params = highest;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Running statements. */

/* 23505 unique_violation, 23503 foreign_key_violation; the rest of the
 * codes mean nothing more specific to the modules than "failed". */
static gboolean
set_error (PGconn *conn, const PGresult *result, GError **error)
{
  const char *sqlstate = NULL;
  g_autofree char *message = NULL;
  int code = KK_STORE_ERROR_FAILED;

  if (result != NULL) {
    sqlstate = PQresultErrorField (result, PG_DIAG_SQLSTATE);
    message = g_strdup (PQresultErrorMessage (result));
  }
  if (message == NULL || message[0] == '\0') {
    g_free (message);
    message = g_strdup (PQerrorMessage (conn));
  }
  g_strstrip (message);
  if (g_strcmp0 (sqlstate, "23505") == 0)
    code = KK_STORE_ERROR_EXISTS;
  else if (g_strcmp0 (sqlstate, "23503") == 0)
    code = KK_STORE_ERROR_NOT_FOUND;
  g_set_error (error, KK_STORE_ERROR, code, "PostgreSQL: %s",
      message[0] != '\0' ? message : "no answer from the server");
  return FALSE;
}

static gboolean
result_ok (const PGresult *result)
{
  ExecStatusType status = PQresultStatus (result);

  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/* Reads, without waiting, what the server sent while @conn was idle. A
 * server that closes the connection sends its goodbye, a FATAL error
 * (which goes to log_notice, and sets closing), and then ends the stream,
 * which makes the status CONNECTION_BAD; the end may not have arrived
 * yet when the goodbye has. The bound keeps a server that keeps talking
 * from holding the caller here. */
static void
read_while_idle (PGconn *conn)
{
  for (int i = 0; i < 4 && PQstatus (conn) == CONNECTION_OK; i++) {
    struct pollfd readable = { PQsocket (conn), POLLIN, 0 };

    if (poll (&readable, 1, 0) <= 0 || !PQconsumeInput (conn))
      break;
    /* PQconsumeInput only reads; PQisBusy parses what was read, which
     * hands the goodbye to log_notice. */
    PQisBusy (conn);
  }
}

/* Runs @sql (with parameters when @n_params >= 0, else as one or more
 * plain statements). Inside a transaction the statement runs under a
 * savepoint: in PostgreSQL an error aborts the whole transaction, in
 * SQLite (and so in the dialect) only the statement, and modules do go on
 * after an expected error (a unique key taken). Between transactions a
 * connection the server dropped (a restart) is opened again first.
 *
 * Returns: (transfer full): the result, or NULL with @error. */
static PGresult *
run (KkDbPg *db, const char *sql, int n_params, const Oid *types,
    const char *const *values, GError **error)
{
  PGconn *conn = db->conn;
  gboolean savepoint = db->in_transaction;
  PGresult *result;

  /* Outside a transaction, a connection the server closed since the last
   * statement (a restart, an administrator) is opened again before
   * anything is sent, so the first statement after a restart does not
   * fail. A connection lost without a word (a TCP peer gone) shows only
   * when a statement fails; pg_begin retries then. */
  if (!db->in_transaction) {
    read_while_idle (conn);
    if (PQstatus (conn) == CONNECTION_BAD || db->closing) {
      db->closing = FALSE;
      PQreset (conn);
    }
  }
  if (savepoint) {
    result = PQexec (conn, "SAVEPOINT kk_statement");
    if (!result_ok (result)) {
      set_error (conn, result, error);
      PQclear (result);
      return NULL;
    }
    PQclear (result);
  }

  if (n_params >= 0)
    result = PQexecParams (conn, sql, n_params, types, values, NULL, NULL, 0);
  else
    result = PQexec (conn, sql);

  if (!result_ok (result)) {
    set_error (conn, result, error);
    PQclear (result);
    if (savepoint)
      PQclear (PQexec (conn, "ROLLBACK TO SAVEPOINT kk_statement"));
    return NULL;
  }
  if (savepoint) {
    PGresult *release = PQexec (conn, "RELEASE SAVEPOINT kk_statement");

    if (!result_ok (release)) {
      set_error (conn, release, error);
      PQclear (release);
      PQclear (result);
      return NULL;
    }
    PQclear (release);
  }

  /* Like sqlite3_changes(): only statements that write count. */
  {
    const char *status = PQcmdStatus (result);

    if (g_str_has_prefix (status, "INSERT ")
        || g_str_has_prefix (status, "UPDATE ")
        || g_str_has_prefix (status, "DELETE ")
        || g_str_has_prefix (status, "MERGE "))
      db->changes = g_ascii_strtoll (PQcmdTuples (result), NULL, 10);
  }
  return result;
}

static KkDbStmt *
pg_prepare (KkDb *db, const char *sql, GError **error)
{
  KkDbPgStmt *stmt;
  int n_params = 0;
  char *mapped = kk_db_pg_translate (sql, &n_params, error);

  if (mapped == NULL)
    return NULL;
  stmt = g_new0 (KkDbPgStmt, 1);
  stmt->parent.db = db;
  stmt->sql = mapped;
  stmt->n_params = n_params;
  stmt->values = g_new0 (char *, MAX (n_params, 1));
  stmt->types = g_new0 (Oid, MAX (n_params, 1));
  stmt->row = -1;
  return &stmt->parent;
}

static void
clear_bindings (KkDbPgStmt *stmt)
{
  for (int i = 0; i < stmt->n_params; i++) {
    g_clear_pointer (&stmt->values[i], g_free);
    stmt->types[i] = 0;
  }
}

static void
pg_stmt_free (KkDbStmt *stmt)
{
  KkDbPgStmt *s = PGSTMT (stmt);

  g_clear_pointer (&s->result, PQclear);
  clear_bindings (s);
  g_free (s->values);
  g_free (s->types);
  g_free (s->sql);
  g_free (s);
}

/* Takes @value; an index the statement does not have is ignored, as
 * SQLite does (with SQLITE_RANGE, which nobody reads). */
static void
bind (KkDbStmt *stmt, int index, char *value, Oid type)
{
  KkDbPgStmt *s = PGSTMT (stmt);

  if (index < 1 || index > s->n_params) {
    g_free (value);
    return;
  }
  g_free (s->values[index - 1]);
  s->values[index - 1] = value;
  s->types[index - 1] = type;
}

static void
pg_bind_text (KkDbStmt *stmt, int index, const char *text)
{
  bind (stmt, index, g_strdup (text), 0);
}

static void
pg_bind_int64 (KkDbStmt *stmt, int index, gint64 value)
{
  bind (stmt, index, g_strdup_printf ("%" G_GINT64_FORMAT, value),
      KK_DB_PG_INT8OID);
}

static void
pg_bind_double (KkDbStmt *stmt, int index, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  bind (stmt, index, g_strdup (g_ascii_dtostr (buffer, sizeof buffer,
              value)), KK_DB_PG_FLOAT8OID);
}

static void
pg_bind_null (KkDbStmt *stmt, int index)
{
  bind (stmt, index, NULL, 0);
}

static KkDbStep
pg_step (KkDbStmt *stmt, GError **error)
{
  KkDbPgStmt *s = PGSTMT (stmt);

  if (s->result == NULL) {
    s->result = run (PG (stmt->db), s->sql, s->n_params, s->types,
        (const char *const *) s->values, error);
    if (s->result == NULL)
      return KK_DB_ERROR;
    s->row = -1;
  }
  if (PQresultStatus (s->result) != PGRES_TUPLES_OK
      || s->row + 1 >= PQntuples (s->result)) {
    s->row = PQntuples (s->result);
    return KK_DB_DONE;
  }
  s->row++;
  return KK_DB_ROW;
}

static void
pg_reset (KkDbStmt *stmt)
{
  KkDbPgStmt *s = PGSTMT (stmt);

  g_clear_pointer (&s->result, PQclear);
  s->row = -1;
  clear_bindings (s);
}

/* The value at the current row, NULL for SQL NULL or no such column. */
static const char *
value_at (KkDbStmt *stmt, int column, Oid *type)
{
  KkDbPgStmt *s = PGSTMT (stmt);

  if (s->result == NULL || s->row < 0 || s->row >= PQntuples (s->result)
      || column < 0 || column >= PQnfields (s->result)
      || PQgetisnull (s->result, s->row, column))
    return NULL;
  *type = PQftype (s->result, column);
  return PQgetvalue (s->result, s->row, column);
}

/* A comparison in a select list is a boolean in PostgreSQL and 1 or 0 in
 * SQLite; the dialect's booleans are 0/1, so they read as such here. */
static const char *
pg_column_text (KkDbStmt *stmt, int column)
{
  Oid type = 0;
  const char *value = value_at (stmt, column, &type);

  if (value != NULL && type == KK_DB_PG_BOOLOID)
    return value[0] == 't' ? "1" : "0";
  return value;
}

/* Numbers arrive as text; an aggregate over integers may be NUMERIC and
 * an average a fraction, which reads as SQLite would read it: truncated,
 * and clamped to the 64-bit range (casting a double outside it is
 * undefined), NaN as 0. An integer beyond the range is clamped by
 * g_ascii_strtoll itself. */
static gint64
pg_column_int64 (KkDbStmt *stmt, int column)
{
  const char *value = pg_column_text (stmt, column);
  char *end = NULL;
  gint64 number;
  double real;

  if (value == NULL)
    return 0;
  number = g_ascii_strtoll (value, &end, 10);
  if (*end == '\0')
    return number;
  real = g_ascii_strtod (value, NULL);
  if (isnan (real))
    return 0;
  /* 2^63 is exact as a double; G_MAXINT64 is not. */
  if (real >= 9223372036854775808.0)
    return G_MAXINT64;
  if (real <= (double) G_MININT64)
    return G_MININT64;
  return (gint64) real;
}

static double
pg_column_double (KkDbStmt *stmt, int column)
{
  const char *value = pg_column_text (stmt, column);

  return value != NULL ? g_ascii_strtod (value, NULL) : 0.0;
}

static gboolean
pg_column_is_null (KkDbStmt *stmt, int column)
{
  Oid type;

  return value_at (stmt, column, &type) == NULL;
}

static gboolean
pg_exec (KkDb *db, const char *sql, GError **error)
{
  g_autofree char *mapped = kk_db_pg_translate (sql, NULL, error);
  PGresult *result;

  if (mapped == NULL)
    return FALSE;
  result = run (PG (db), mapped, -1, NULL, NULL, error);
  if (result == NULL)
    return FALSE;
  PQclear (result);
  return TRUE;
}

static gint64
pg_changes (KkDb *db)
{
  return PG (db)->changes;
}

/* The tables are in the connection's current schema (the first of its
 * search_path), where the migrations made them. */
static gboolean
pg_has_column (KkDb *db, const char *table, const char *column,
    gboolean *found, GError **error)
{
  const char *values[] = { table, column };
  PGresult *result = run (PG (db), "SELECT 1 FROM information_schema.columns"
      " WHERE table_schema = current_schema () AND table_name = $1"
      " AND column_name = $2", 2, NULL, values, error);

  if (result == NULL)
    return FALSE;
  *found = PQntuples (result) > 0;
  PQclear (result);
  return TRUE;
}

/* SQLite's BEGIN IMMEDIATE takes the database's one write lock before
 * the first statement, so transactions that read and then write run one
 * after another and never see a row change under them. PostgreSQL locks
 * rows only as they are written: two relays running the same
 * read-then-write transaction (close the open interval, then insert) at
 * READ COMMITTED would both act on what they read, and at SERIALIZABLE one
 * would fail and need a retry loop in every module. One advisory lock,
 * the same number on every relay, taken at once and released by the
 * server at commit or rollback (also when the connection dies), gives
 * SQLite's order exactly: one transaction at a time across all relays.
 * The store's transactions are short, so this costs no throughput that
 * matters. */
static gboolean
pg_begin (KkDb *db, GError **error)
{
  g_autofree char *begin = g_strdup_printf ("BEGIN; "
      "SELECT pg_advisory_xact_lock (%" G_GINT64_FORMAT ")",
      KK_DB_PG_WRITE_LOCK);
  g_autoptr (GError) lost = NULL;
  PGresult *result = run (PG (db), begin, -1, NULL, NULL, &lost);

  /* A connection found lost at the begin ran nothing of the transaction:
   * run() connects again, and the begin is tried once more. */
  if (result == NULL && PQstatus (PG (db)->conn) == CONNECTION_BAD) {
    g_debug ("store: PostgreSQL connection lost (%s); connecting again",
        lost->message);
    g_clear_error (&lost);
    result = run (PG (db), begin, -1, NULL, NULL, &lost);
  }
  if (result == NULL) {
    g_propagate_error (error, g_steal_pointer (&lost));
    /* The erasure that asked for VACUUM did not run; the next
     * transaction is not it. */
    PG (db)->vacuum_after_commit = FALSE;
    /* BEGIN may have run and the lock failed (the connection lost). */
    if (PQtransactionStatus (PG (db)->conn) != PQTRANS_IDLE)
      PQclear (PQexec (PG (db)->conn, "ROLLBACK"));
    return FALSE;
  }
  PQclear (result);
  PG (db)->in_transaction = TRUE;
  return TRUE;
}

/* The tables the transaction deleted or updated rows in, as a list for
 * VACUUM: the server counts them (pg_stat_xact_user_tables, cascades
 * included) as long as track_counts is on, its default. Without those
 * counts the list is "", for every table; NULL when the transaction
 * changed no row.
 *
 * Returns: (transfer full) (nullable): the list. */
static char *
tables_changed (KkDbPg *db)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tables = NULL;
  PGresult *result = run (db, "SELECT CASE WHEN "
      "current_setting ('track_counts')::boolean THEN "
      "(SELECT string_agg (format ('%I.%I', schemaname, relname), ', ') "
      "FROM pg_stat_xact_user_tables WHERE n_tup_upd + n_tup_del > 0) "
      "ELSE '' END", 0, NULL, NULL, &error);

  if (result == NULL) {
    g_warning ("store: which tables an erasure changed: %s; all are "
        "vacuumed", error->message);
    return g_strdup ("");
  }
  if (!PQgetisnull (result, 0, 0))
    tables = g_strdup (PQgetvalue (result, 0, 0));
  PQclear (result);
  return g_steal_pointer (&tables);
}

/* VACUUM cannot run inside a transaction, so the one an erasure asked
 * for (pg_secure_delete) runs here, just after its commit, on the tables
 * the erasure changed. */
static void
vacuum_after_erasure (KkDbPg *db, const char *tables)
{
  g_autofree char *vacuum = g_strconcat ("VACUUM ", tables, NULL);
  PGresult *result;

  db->vacuuming = TRUE;
  result = PQexec (db->conn, vacuum);
  db->vacuuming = FALSE;
  if (!result_ok (result))
    g_warning ("store: VACUUM after an erasure failed: %s; the erased rows "
        "stay in the tables' free space until the next autovacuum",
        PQresultErrorMessage (result));
  PQclear (result);
}

static gboolean
pg_commit (KkDb *db, GError **error)
{
  g_autofree char *vacuum_tables = NULL;
  PGresult *result;
  gboolean ok;

  if (PG (db)->vacuum_after_commit)
    vacuum_tables = tables_changed (PG (db));
  PG (db)->vacuum_after_commit = FALSE;
  result = PQexec (PG (db)->conn, "COMMIT");
  PG (db)->in_transaction = FALSE;

  /* A transaction that had an error ends in "ROLLBACK" on COMMIT, with no
   * error: that must not read as committed. */
  ok = result_ok (result) && g_str_equal (PQcmdStatus (result), "COMMIT");
  if (!ok && result_ok (result))
    g_set_error_literal (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "PostgreSQL: the transaction failed and was rolled back");
  else if (!ok)
    set_error (PG (db)->conn, result, error);
  PQclear (result);
  if (ok && vacuum_tables != NULL)
    vacuum_after_erasure (PG (db), vacuum_tables);
  return ok;
}

static void
pg_rollback (KkDb *db)
{
  PG (db)->vacuum_after_commit = FALSE;
  PG (db)->in_transaction = FALSE;
  if (PQtransactionStatus (PG (db)->conn) != PQTRANS_IDLE)
    PQclear (PQexec (PG (db)->conn, "ROLLBACK"));
}

/* PostgreSQL never overwrites a deleted row in place: DELETE leaves a
 * dead row version in the table (and its index entries) until VACUUM
 * removes it, which it does after the erasure commits (pg_commit). What
 * that can guarantee: no query, index scan or later snapshot finds the
 * erased rows, and their space is reused by later writes. What it cannot:
 * that the bytes are gone from the disk at once. VACUUM does not zero the
 * space it frees, the write-ahead log keeps the old pages until the
 * server recycles its segments, and replicas, WAL archives and base
 * backups keep their copies. Erasure at rest on PostgreSQL is therefore
 * the operator's part as well: encrypted storage and backups that
 * expire. The VACUUM is of the tables the erasure changed, and reads
 * only their pages changed since the last one, which keeps it short. */
static gboolean
pg_secure_delete (KkDb *db, GError **error)
{
  PG (db)->vacuum_after_commit = TRUE;
  return TRUE;
}

/* Nothing to do: the server writes its log out and recycles it on its own
 * schedule, a client cannot empty it (CHECKPOINT needs the superuser or
 * pg_checkpoint role, and does not remove the log either), and the
 * erasure's VACUUM has already run at its commit. */
static gboolean
pg_checkpoint (KkDb *db, GError **error)
{
  return TRUE;
}

static void
pg_close (KkDb *db)
{
  PQfinish (PG (db)->conn);
  g_free (db);
}

static const KkDbBackend pg_backend = {
  .name = "postgresql",
  .prepare = pg_prepare,
  .stmt_free = pg_stmt_free,
  .bind_text = pg_bind_text,
  .bind_int64 = pg_bind_int64,
  .bind_double = pg_bind_double,
  .bind_null = pg_bind_null,
  .step = pg_step,
  .reset = pg_reset,
  .column_text = pg_column_text,
  .column_int64 = pg_column_int64,
  .column_double = pg_column_double,
  .column_is_null = pg_column_is_null,
  .exec = pg_exec,
  .changes = pg_changes,
  .has_column = pg_has_column,
  .begin = pg_begin,
  .commit = pg_commit,
  .rollback = pg_rollback,
  .secure_delete = pg_secure_delete,
  .checkpoint = pg_checkpoint,
  .close = pg_close,
};

/* The server's notices ("relation already exists, skipping") are for a
 * person at psql; libpq would print them on stderr. */
static void
log_notice (void *user_data, const PGresult *notice)
{
  KkDbPg *db = user_data;
  const char *severity = PQresultErrorField (notice,
      PG_DIAG_SEVERITY_NONLOCALIZED);

  if (g_strcmp0 (severity, "FATAL") == 0)
    db->closing = TRUE;
  /* VACUUM skips, with a warning, a table the relay's user does not own
   * (the tables made by another user): its erased rows then stay until
   * the next autovacuum, which the operator must hear of. */
  if (db->vacuuming && g_strcmp0 (severity, "WARNING") == 0)
    g_warning ("store: PostgreSQL: %s", PQresultErrorMessage (notice));
  else
    g_debug ("store: PostgreSQL: %s", PQresultErrorMessage (notice));
}

KkDb *
kk_db_pg_open (const char *url, GError **error)
{
  /* No database call may block the store's worker for good. A server
   * that does not answer fails start-up (connect_timeout); a link that
   * dies silently is noticed by TCP keepalives within about 25 s and
   * unacknowledged data within 30 s (tcp_user_timeout). Every keyword in
   * @url, given later, wins. */
  const char *keywords[] = { "connect_timeout", "application_name",
    "client_encoding", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "dbname", "options", NULL };
  const char *values[G_N_ELEMENTS (keywords)] = { "10", "kringkast", "UTF8",
    "10", "5", "3", "30000", url, NULL, NULL };
  g_autofree char *options = NULL;
  char *parse_error = NULL;
  PGconn *conn;
  KkDbPg *db;

  g_return_val_if_fail (url != NULL, NULL);

  /* libpq's message for a URL it cannot parse quotes the URL, or the
   * part it choked on, and that may be the password: parse it first, and
   * say only that it is malformed. */
  {
    PQconninfoOption *parsed = PQconninfoParse (url, &parse_error);

    if (parsed == NULL) {
      PQfreemem (parse_error);
      g_set_error_literal (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
          "malformed database URL (the expected form is "
          "postgresql://user:password@host:port/database?keyword=value)");
      return NULL;
    }
    /* On the server, a wait for a lock ends after 10 s, a statement
     * after 30 s, and a transaction left idle (a relay stopped in the
     * middle of one) after 60 s, so that it cannot hold every relay's
     * write lock; extra_float_digits=3 makes doubles arrive exact, as
     * SQLite gives them. The server applies -c settings in order, so
     * the URL's own options, appended, win setting by setting. */
    for (const PQconninfoOption *option = parsed; option->keyword != NULL;
        option++) {
      if (g_str_equal (option->keyword, "options"))
        options = g_strdup_printf ("-c lock_timeout=10s "
            "-c idle_in_transaction_session_timeout=60s "
            "-c statement_timeout=30s -c extra_float_digits=3 %s",
            option->val != NULL ? option->val : "");
    }
    PQconninfoFree (parsed);
    values[G_N_ELEMENTS (keywords) - 2] = options;
  }

  conn = PQconnectdbParams (keywords, values, 1);
  if (conn == NULL || PQstatus (conn) != CONNECTION_OK) {
    g_autofree char *message = g_strdup (conn != NULL ? PQerrorMessage (conn)
        : "out of memory");

    /* Named by its parts, not by @url, which may hold a password. */
    g_strstrip (message);
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "cannot connect to PostgreSQL database %s on %s: %s",
        conn != NULL && PQdb (conn) != NULL ? PQdb (conn) : "?",
        conn != NULL && PQhost (conn) != NULL ? PQhost (conn) : "?",
        message);
    PQfinish (conn);
    return NULL;
  }
  db = g_new0 (KkDbPg, 1);
  db->parent.backend = &pg_backend;
  db->conn = conn;
  PQsetNoticeReceiver (conn, log_notice, db);
  return &db->parent;
}
