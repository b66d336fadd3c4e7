/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-db: the thin database handle every module's queries go through:
 * prepare, bind, step, read columns, run in a transaction. It exists so
 * that no module above relay/store sees a database library, and so that a
 * second backend (PostgreSQL through libpq, for several relays sharing one
 * database) is one new file beside kk-db-sqlite.c, not a rewrite of every
 * module.
 *
 * The SQL dialect both backends accept, and the only one modules write:
 * - placeholders are `?` (numbered by position from 1) or `?N` (number
 *   N, which may stand more than once), numbered without gaps (PostgreSQL
 *   must find a type for each number up to the highest); a backend that
 *   wants `$N` maps them in one place, its prepare;
 * - `INSERT ... ON CONFLICT (...) DO NOTHING` / `DO UPDATE SET ...` rather
 *   than `INSERT OR IGNORE` / `OR REPLACE`;
 * - standard functions only (`COALESCE`, `MAX`, `COUNT`, `LOWER`...): no
 *   `IFNULL`, `strftime`, `julianday`, `rowid`, `last_insert_rowid()`;
 * - integers are 64-bit (times are microseconds since the Unix epoch),
 *   booleans are integers 0/1, text is UTF-8;
 * - transactions are begun only by kk_db_transaction(), which knows the
 *   backend's way to take the write lock up front.
 * - column types in DDL are SQLite's names with the meaning they have
 *   there, which the PostgreSQL backend maps (kk_db_pg_translate(), the
 *   one place): INTEGER is 64-bit (BIGINT), `INTEGER PRIMARY KEY` a
 *   rowid assigned on insert unless given (an identity column), REAL is
 *   DOUBLE PRECISION, BLOB is BYTEA; TEXT is TEXT. They are mapped only in
 *   CREATE TABLE and ALTER TABLE statements (not after a `.`), so other
 *   statements use no type names (no CAST (x AS REAL)); a dollar-quoted
 *   string ($$...$$) is not known to the mapping, so it may hold no `?`
 *   and no type name;
 * - what PostgreSQL types more strictly is written so that both accept it:
 *   a condition is a comparison (`CASE WHEN ?1 = 1`), never a bare
 *   integer; a parameter that may be NULL also stands where its type is
 *   known (`room_id = COALESCE (?1, room_id)`, not `?1 IS NULL OR ...`);
 *   a comparison read as a column is 1 or 0 on both;
 * - a statement that fails inside a transaction fails alone (the
 *   transaction goes on, as in SQLite; the PostgreSQL backend runs each
 *   under a savepoint).
 *
 * A KkDb and its statements belong to the store's worker thread: they are
 * handed to job functions (KkStoreJobFunc) and used only during the
 * call. Errors are in the KK_STORE_ERROR domain: a unique or primary key
 * taken is %KK_STORE_ERROR_EXISTS, a foreign key that points nowhere is
 * %KK_STORE_ERROR_NOT_FOUND, anything else %KK_STORE_ERROR_FAILED.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KK_STORE_ERROR (kk_store_error_quark ())
GQuark kk_store_error_quark (void);

typedef enum {
  KK_STORE_ERROR_FAILED,      /* database or file system error */
  KK_STORE_ERROR_EXISTS,      /* a unique key is taken */
  KK_STORE_ERROR_NOT_FOUND,   /* no such row */
  KK_STORE_ERROR_CLOSED,      /* kk_store_close() was called */
  KK_STORE_ERROR_CONFLICT,    /* not in this state: a session that went
                               * live, or planned times that overlap */
} KkStoreError;

typedef struct _KkDb KkDb;
typedef struct _KkDbStmt KkDbStmt;

/* What kk_db_step() found. */
typedef enum {
  KK_DB_ERROR = -1,           /* @error is set */
  KK_DB_DONE = 0,             /* no (more) rows */
  KK_DB_ROW = 1,              /* a row: read it with kk_db_column_*() */
} KkDbStep;

/**
 * kk_db_prepare:
 * @sql: one statement in the common dialect (see above)
 *
 * Returns: (transfer full): the statement, or NULL with @error.
 */
KkDbStmt *kk_db_prepare (KkDb *db, const char *sql, GError **error);
void kk_db_stmt_free (KkDbStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkDbStmt, kk_db_stmt_free)

/* Bind by position, from 1. Text is copied; NULL text binds SQL NULL. */
void kk_db_bind_text (KkDbStmt *stmt, int index, const char *text);
void kk_db_bind_int64 (KkDbStmt *stmt, int index, gint64 value);
void kk_db_bind_double (KkDbStmt *stmt, int index, double value);
void kk_db_bind_null (KkDbStmt *stmt, int index);

/* Runs @stmt to its next row. */
KkDbStep kk_db_step (KkDbStmt *stmt, GError **error);
/* Runs @stmt, which must return no rows, to its end. */
gboolean kk_db_step_done (KkDbStmt *stmt, GError **error);
/* Steps @stmt to the row it must return (a count, an aggregate); no row
 * is an error. Read the row with kk_db_column_*(). */
gboolean kk_db_step_row (KkDbStmt *stmt, GError **error);
/* Makes @stmt ready to run again, its bindings cleared. */
void kk_db_reset (KkDbStmt *stmt);

/* Columns of the current row, from 0. Text: (transfer none), valid until
 * the next step, reset or free; NULL for SQL NULL. Numbers: 0 for NULL. */
const char *kk_db_column_text (KkDbStmt *stmt, int column);
/* Returns: (transfer full) (nullable): a copy of the text column. */
char *kk_db_column_dup (KkDbStmt *stmt, int column);
gint64 kk_db_column_int64 (KkDbStmt *stmt, int column);
double kk_db_column_double (KkDbStmt *stmt, int column);
gboolean kk_db_column_is_null (KkDbStmt *stmt, int column);

/* Runs one or more statements that take no parameters and return no
 * rows (schema, maintenance). */
gboolean kk_db_exec (KkDb *db, const char *sql, GError **error);

/* Rows inserted, changed or deleted by the last statement that ran to its
 * end on @db. */
gint64 kk_db_changes (KkDb *db);

/**
 * kk_db_has_column:
 * @found: (out): set to whether table @table has a column @column
 *
 * For migrations that bring a table made by an older build up to date:
 * each backend keeps its catalogue its own way, so this is asked of the
 * backend rather than written in SQL.
 *
 * Returns: FALSE with @error if the catalogue could not be read.
 */
gboolean kk_db_has_column (KkDb *db, const char *table, const char *column,
    gboolean *found, GError **error);

/**
 * KkDbTransactionFunc:
 *
 * Does the work of one transaction. Returns: TRUE to commit, FALSE (with
 * @error set) to roll back.
 */
typedef gboolean (*KkDbTransactionFunc) (KkDb *db, gpointer user_data,
    GError **error);

/**
 * kk_db_transaction:
 *
 * Begins a transaction that holds the write lock from its start (so two
 * writers never deadlock upgrading a read), runs @func, and commits when
 * it returns TRUE or rolls back when it returns FALSE. The one place in
 * the daemon that begins, commits and rolls back.
 *
 * Returns: TRUE if @func succeeded and the commit did; FALSE with @error.
 */
gboolean kk_db_transaction (KkDb *db, KkDbTransactionFunc func,
    gpointer user_data, GError **error);

/* For erasure on request (kk-roster): what is deleted must not stay
 * readable in the files. kk_db_secure_delete() makes the content of rows
 * deleted from then on on @db overwritten rather than left in free pages;
 * kk_db_checkpoint() moves every committed change out of the backend's
 * write-ahead log and empties it, so that the log no longer holds the
 * rows as they were. On PostgreSQL, which can do neither from a client,
 * the rows deleted by the next transaction are vacuumed away after it
 * commits: see kk-db-pg.c for what that does and does not guarantee. */
gboolean kk_db_secure_delete (KkDb *db, GError **error);
gboolean kk_db_checkpoint (KkDb *db, GError **error);

G_END_DECLS
