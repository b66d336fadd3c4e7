/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-db: see kk-db.h. Dispatches each call to the backend the connection
 * was opened with, and keeps the rules that are the same for every
 * backend (how a transaction ends) in one place.
 */
#include "kk-db-private.h"

KkDbStmt *
kk_db_prepare (KkDb *db, const char *sql, GError **error)
{
  g_return_val_if_fail (db != NULL && sql != NULL, NULL);

  return db->backend->prepare (db, sql, error);
}

void
kk_db_stmt_free (KkDbStmt *stmt)
{
  if (stmt != NULL)
    stmt->db->backend->stmt_free (stmt);
}

void
kk_db_bind_text (KkDbStmt *stmt, int index, const char *text)
{
  stmt->db->backend->bind_text (stmt, index, text);
}

void
kk_db_bind_int64 (KkDbStmt *stmt, int index, gint64 value)
{
  stmt->db->backend->bind_int64 (stmt, index, value);
}

void
kk_db_bind_double (KkDbStmt *stmt, int index, double value)
{
  stmt->db->backend->bind_double (stmt, index, value);
}

void
kk_db_bind_null (KkDbStmt *stmt, int index)
{
  stmt->db->backend->bind_null (stmt, index);
}

KkDbStep
kk_db_step (KkDbStmt *stmt, GError **error)
{
  return stmt->db->backend->step (stmt, error);
}

gboolean
kk_db_step_done (KkDbStmt *stmt, GError **error)
{
  switch (kk_db_step (stmt, error)) {
    case KK_DB_DONE:
      return TRUE;
    case KK_DB_ROW:
      g_set_error_literal (error, KK_STORE_ERROR,
          KK_STORE_ERROR_FAILED, "a statement meant to return no "
          "rows returned one");
      return FALSE;
    case KK_DB_ERROR:
    default:
      return FALSE;
  }
}

gboolean
kk_db_step_row (KkDbStmt *stmt, GError **error)
{
  switch (kk_db_step (stmt, error)) {
    case KK_DB_ROW:
      return TRUE;
    case KK_DB_DONE:
      g_set_error_literal (error, KK_STORE_ERROR, KK_STORE_ERROR_FAILED,
          "a query meant to return a row returned none");
      return FALSE;
    case KK_DB_ERROR:
    default:
      return FALSE;
  }
}

void
kk_db_reset (KkDbStmt *stmt)
{
  stmt->db->backend->reset (stmt);
}

const char *
kk_db_column_text (KkDbStmt *stmt, int column)
{
  return stmt->db->backend->column_text (stmt, column);
}

char *
kk_db_column_dup (KkDbStmt *stmt, int column)
{
  return g_strdup (kk_db_column_text (stmt, column));
}

gint64
kk_db_column_int64 (KkDbStmt *stmt, int column)
{
  return stmt->db->backend->column_int64 (stmt, column);
}

double
kk_db_column_double (KkDbStmt *stmt, int column)
{
  return stmt->db->backend->column_double (stmt, column);
}

gboolean
kk_db_column_is_null (KkDbStmt *stmt, int column)
{
  return stmt->db->backend->column_is_null (stmt, column);
}

gboolean
kk_db_exec (KkDb *db, const char *sql, GError **error)
{
  return db->backend->exec (db, sql, error);
}

gint64
kk_db_changes (KkDb *db)
{
  return db->backend->changes (db);
}

gboolean
kk_db_has_column (KkDb *db, const char *table, const char *column,
    gboolean *found, GError **error)
{
  g_return_val_if_fail (table != NULL && column != NULL && found != NULL,
      FALSE);

  return db->backend->has_column (db, table, column, found, error);
}

gboolean
kk_db_transaction (KkDb *db, KkDbTransactionFunc func, gpointer user_data,
    GError **error)
{
  if (!db->backend->begin (db, error))
    return FALSE;
  if (!func (db, user_data, error)) {
    db->backend->rollback (db);
    return FALSE;
  }
  if (!db->backend->commit (db, error)) {
    /* A failed COMMIT (disk full, say) leaves the transaction open. */
    db->backend->rollback (db);
    return FALSE;
  }
  return TRUE;
}

gboolean
kk_db_secure_delete (KkDb *db, GError **error)
{
  return db->backend->secure_delete (db, error);
}

gboolean
kk_db_checkpoint (KkDb *db, GError **error)
{
  return db->backend->checkpoint (db, error);
}

void
kk_db_close (KkDb *db)
{
  if (db != NULL)
    db->backend->close (db);
}
