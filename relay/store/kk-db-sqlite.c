/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-db-sqlite: kk-db over SQLite 3. Everything SQLite-specific in the
 * daemon is in this file: the open flags and pragmas, how errors map to
 * KK_STORE_ERROR codes, and BEGIN IMMEDIATE for transactions.
 */
#include "kk-db-sqlite.h"

#include <sqlite3.h>

#include "kk-db-private.h"

typedef struct {
  KkDb parent;
  sqlite3 *handle;
} KkDbSqlite;

typedef struct {
  KkDbStmt parent;
  sqlite3_stmt *handle;
} KkDbSqliteStmt;

#define DB(db) (((KkDbSqlite *) (db))->handle)
#define STMT(stmt) (((KkDbSqliteStmt *) (stmt))->handle)

static gboolean
set_error (sqlite3 *handle, GError **error)
{
  int code = sqlite3_extended_errcode (handle);
  int domain_code = KK_STORE_ERROR_FAILED;

  if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE)
    domain_code = KK_STORE_ERROR_EXISTS;
  else if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
    domain_code = KK_STORE_ERROR_NOT_FOUND;
  g_set_error_literal (error, KK_STORE_ERROR, domain_code,
      sqlite3_errmsg (handle));
  return FALSE;
}

static KkDbStmt *
sqlite_prepare (KkDb *db, const char *sql, GError **error)
{
  sqlite3_stmt *handle = NULL;
  KkDbSqliteStmt *stmt;

  if (sqlite3_prepare_v2 (DB (db), sql, -1, &handle, NULL) != SQLITE_OK) {
    set_error (DB (db), error);
    return NULL;
  }
  stmt = g_new0 (KkDbSqliteStmt, 1);
  stmt->parent.db = db;
  stmt->handle = handle;
  return &stmt->parent;
}

static void
sqlite_stmt_free (KkDbStmt *stmt)
{
  sqlite3_finalize (STMT (stmt));
  g_free (stmt);
}

static void
sqlite_bind_text (KkDbStmt *stmt, int index, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (STMT (stmt), index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (STMT (stmt), index);
}

static void
sqlite_bind_int64 (KkDbStmt *stmt, int index, gint64 value)
{
  sqlite3_bind_int64 (STMT (stmt), index, value);
}

static void
sqlite_bind_double (KkDbStmt *stmt, int index, double value)
{
  sqlite3_bind_double (STMT (stmt), index, value);
}

static void
sqlite_bind_null (KkDbStmt *stmt, int index)
{
  sqlite3_bind_null (STMT (stmt), index);
}

static KkDbStep
sqlite_step (KkDbStmt *stmt, GError **error)
{
  switch (sqlite3_step (STMT (stmt))) {
    case SQLITE_ROW:
      return KK_DB_ROW;
    case SQLITE_DONE:
      return KK_DB_DONE;
    default:
      set_error (DB (stmt->db), error);
      return KK_DB_ERROR;
  }
}

static void
sqlite_reset (KkDbStmt *stmt)
{
  sqlite3_reset (STMT (stmt));
  sqlite3_clear_bindings (STMT (stmt));
}

static const char *
sqlite_column_text (KkDbStmt *stmt, int column)
{
  return (const char *) sqlite3_column_text (STMT (stmt), column);
}

static gint64
sqlite_column_int64 (KkDbStmt *stmt, int column)
{
  return sqlite3_column_int64 (STMT (stmt), column);
}

static double
sqlite_column_double (KkDbStmt *stmt, int column)
{
  return sqlite3_column_double (STMT (stmt), column);
}

static gboolean
sqlite_column_is_null (KkDbStmt *stmt, int column)
{
  return sqlite3_column_type (STMT (stmt), column) == SQLITE_NULL;
}

static gboolean
sqlite_exec (KkDb *db, const char *sql, GError **error)
{
  if (sqlite3_exec (DB (db), sql, NULL, NULL, NULL) != SQLITE_OK)
    return set_error (DB (db), error);
  return TRUE;
}

static gint64
sqlite_changes (KkDb *db)
{
  return sqlite3_changes64 (DB (db));
}

/* pragma_table_info is SQLite's catalogue of a table's columns; the
 * table name is a bound argument, so no name is pasted into SQL. */
static gboolean
sqlite_has_column (KkDb *db, const char *table, const char *column,
    gboolean *found, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (DB (db), "SELECT 1 FROM pragma_table_info (?1) "
          "WHERE name = ?2", -1, &stmt, NULL) != SQLITE_OK)
    return set_error (DB (db), error);
  sqlite3_bind_text (stmt, 1, table, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, column, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    set_error (DB (db), error);
    sqlite3_finalize (stmt);
    return FALSE;
  }
  sqlite3_finalize (stmt);
  *found = rc == SQLITE_ROW;
  return TRUE;
}

/* IMMEDIATE takes the write lock now: a deferred transaction that reads
 * first and writes later can fail with SQLITE_BUSY at its first write. */
static gboolean
sqlite_begin (KkDb *db, GError **error)
{
  return sqlite_exec (db, "BEGIN IMMEDIATE", error);
}

static gboolean
sqlite_commit (KkDb *db, GError **error)
{
  return sqlite_exec (db, "COMMIT", error);
}

static void
sqlite_rollback (KkDb *db)
{
  if (!sqlite3_get_autocommit (DB (db)))
    sqlite3_exec (DB (db), "ROLLBACK", NULL, NULL, NULL);
}

/* The setting lasts as long as the connection. */
static gboolean
sqlite_secure_delete (KkDb *db, GError **error)
{
  return sqlite_exec (db, "PRAGMA secure_delete = ON", error);
}

/* TRUNCATE also empties the WAL file, rather than only rewinding it. */
static gboolean
sqlite_checkpoint (KkDb *db, GError **error)
{
  return sqlite_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)", error);
}

static void
sqlite_close (KkDb *db)
{
  sqlite3_close (DB (db));
  g_free (db);
}

static const KkDbBackend sqlite_backend = {
  .name = "sqlite",
  .prepare = sqlite_prepare,
  .stmt_free = sqlite_stmt_free,
  .bind_text = sqlite_bind_text,
  .bind_int64 = sqlite_bind_int64,
  .bind_double = sqlite_bind_double,
  .bind_null = sqlite_bind_null,
  .step = sqlite_step,
  .reset = sqlite_reset,
  .column_text = sqlite_column_text,
  .column_int64 = sqlite_column_int64,
  .column_double = sqlite_column_double,
  .column_is_null = sqlite_column_is_null,
  .exec = sqlite_exec,
  .changes = sqlite_changes,
  .has_column = sqlite_has_column,
  .begin = sqlite_begin,
  .commit = sqlite_commit,
  .rollback = sqlite_rollback,
  .secure_delete = sqlite_secure_delete,
  .checkpoint = sqlite_checkpoint,
  .close = sqlite_close,
};

KkDb *
kk_db_sqlite_open (const char *path, GError **error)
{
  KkDbSqlite *db;
  sqlite3 *handle = NULL;
  sqlite3_stmt *stmt;
  gboolean wal = FALSE;

  if (sqlite3_open_v2 (path, &handle, SQLITE_OPEN_READWRITE
          | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED, "%s: %s", path,
        handle != NULL ? sqlite3_errmsg (handle) : "out of memory");
    sqlite3_close (handle);
    return NULL;
  }
  sqlite3_extended_result_codes (handle, 1);
  /* Only an outside reader (sqlite3 CLI, a backup) can hold a lock on it. */
  sqlite3_busy_timeout (handle, 5000);

  if (sqlite3_prepare_v2 (handle, "PRAGMA journal_mode = WAL", -1, &stmt,
          NULL) == SQLITE_OK) {
    if (sqlite3_step (stmt) == SQLITE_ROW)
      wal = g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0),
          "wal") == 0;
    sqlite3_finalize (stmt);
  }
  if (!wal) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
        "%s: cannot switch to WAL journal mode", path);
    sqlite3_close (handle);
    return NULL;
  }
  if (sqlite3_exec (handle, "PRAGMA synchronous = FULL; "
          "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
    g_set_error (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED, "%s: %s", path,
        sqlite3_errmsg (handle));
    sqlite3_close (handle);
    return NULL;
  }

  db = g_new0 (KkDbSqlite, 1);
  db->parent.backend = &sqlite_backend;
  db->handle = handle;
  return &db->parent;
}
