/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-db-private: what a database backend implements, for kk-db.c to
 * dispatch to. Only relay/store includes this: a backend is a file here
 * (kk-db-sqlite.c today) that fills a KkDbBackend and makes its KkDb and
 * KkDbStmt structs start with the ones below.
 */
#pragma once

#include "kk-db.h"

G_BEGIN_DECLS

typedef struct {
  const char *name;

  KkDbStmt *(*prepare) (KkDb *db, const char *sql, GError **error);
  void (*stmt_free) (KkDbStmt *stmt);
  void (*bind_text) (KkDbStmt *stmt, int index, const char *text);
  void (*bind_int64) (KkDbStmt *stmt, int index, gint64 value);
  void (*bind_double) (KkDbStmt *stmt, int index, double value);
  void (*bind_null) (KkDbStmt *stmt, int index);
  KkDbStep (*step) (KkDbStmt *stmt, GError **error);
  void (*reset) (KkDbStmt *stmt);
  const char *(*column_text) (KkDbStmt *stmt, int column);
  gint64 (*column_int64) (KkDbStmt *stmt, int column);
  double (*column_double) (KkDbStmt *stmt, int column);
  gboolean (*column_is_null) (KkDbStmt *stmt, int column);
  gboolean (*exec) (KkDb *db, const char *sql, GError **error);
  gint64 (*changes) (KkDb *db);
  gboolean (*has_column) (KkDb *db, const char *table, const char *column,
      gboolean *found, GError **error);
  /* Begins a transaction holding the write lock from its start. */
  gboolean (*begin) (KkDb *db, GError **error);
  gboolean (*commit) (KkDb *db, GError **error);
  void (*rollback) (KkDb *db);
  gboolean (*secure_delete) (KkDb *db, GError **error);
  gboolean (*checkpoint) (KkDb *db, GError **error);
  void (*close) (KkDb *db);
} KkDbBackend;

struct _KkDb {
  const KkDbBackend *backend;
};

struct _KkDbStmt {
  KkDb *db;
};

/* Closes @db and frees it; NULL is ignored. */
void kk_db_close (KkDb *db);

G_END_DECLS
