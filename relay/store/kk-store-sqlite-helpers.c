/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TRANSITIONAL (issue 11, removed with the old job runner): the SQL
 * helper set of job functions that still take `sqlite3 *`. kk-db.h
 * replaces it; it lives apart from kk-store.c so that kk-store.c no
 * longer sees SQLite, and goes away as one file once no module calls it.
 */
#include "kk-store.h"

#include <sqlite3.h>

gboolean
kk_store_set_error (sqlite3 *db, const char *what, GError **error)
{
  int code = sqlite3_extended_errcode (db);
  int domain_code = KK_STORE_ERROR_FAILED;

  if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE)
    domain_code = KK_STORE_ERROR_EXISTS;
  else if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
    domain_code = KK_STORE_ERROR_NOT_FOUND;

  g_set_error (error, KK_STORE_ERROR, domain_code, "%s: %s", what,
      sqlite3_errmsg (db));
  return FALSE;
}

sqlite3_stmt *
kk_store_sql_prepare (sqlite3 *db, const char *what, const char *sql,
    GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    kk_store_set_error (db, what, error);
    return NULL;
  }
  return stmt;
}

gboolean
kk_store_sql_exec (sqlite3 *db, const char *what, const char *sql,
    GError **error)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return kk_store_set_error (db, what, error);
  return TRUE;
}

gboolean
kk_store_sql_step_done (sqlite3 *db, const char *what, sqlite3_stmt *stmt,
    GError **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return kk_store_set_error (db, what, error);
  return TRUE;
}

void
kk_store_sql_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, index);
}
