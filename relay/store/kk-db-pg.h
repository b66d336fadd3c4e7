/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-db-pg: the shared backend of kk-db, a PostgreSQL server reached
 * through libpq, for several relays that keep their rooms, participants,
 * attendance and sessions in one database. It accepts the same SQL
 * dialect as the embedded SQLite backend (kk-db.h) and maps what differs
 * (placeholders, a few type names in DDL) in one place,
 * kk_db_pg_translate().
 */
#pragma once

#include "kk-db.h"

G_BEGIN_DECLS

/**
 * kk_db_pg_open:
 * @url: a libpq connection URL, `postgresql://[user@][host][:port]/dbname
 *   [?param=value...]`
 *
 * Connects to @url for the calling thread alone.
 *
 * Returns: (transfer full): the connection (close with kk_db_close()),
 * or NULL with @error saying why the server could not be reached.
 */
KkDb *kk_db_pg_open (const char *url, GError **error);

/**
 * kk_db_pg_translate:
 * @sql: one or more statements in the dialect of kk-db.h
 * @n_params: (out) (optional): the highest placeholder number used
 *
 * Maps @sql to PostgreSQL: placeholders `?` and `?N` become `$N`, and the
 * type names INTEGER, `INTEGER PRIMARY KEY`, REAL and BLOB become BIGINT,
 * an identity column, DOUBLE PRECISION and BYTEA; nothing inside string
 * literals, quoted identifiers or comments is changed.
 *
 * Returns: (transfer full): the mapped SQL, or NULL with @error when a
 * placeholder number is out of range or a literal, identifier or comment
 * is not closed.
 */
char *kk_db_pg_translate (const char *sql, int *n_params, GError **error);

G_END_DECLS
