/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-db-sqlite: the embedded backend of kk-db, one SQLite file in the
 * data directory. The default, and the right one for a single relay.
 */
#pragma once

#include "kk-db.h"

G_BEGIN_DECLS

/**
 * kk_db_sqlite_open:
 * @path: the database file; created if missing
 *
 * Opens @path for the calling thread alone, in WAL journal mode with
 * synchronous=FULL (a committed write survives a power cut) and foreign
 * keys enforced.
 *
 * Returns: (transfer full): the connection (close with kk_db_close()),
 * or NULL with @error.
 */
KkDb *kk_db_sqlite_open (const char *path, GError **error);

G_END_DECLS
