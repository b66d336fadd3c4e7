/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-schema: every table the daemon keeps, made by one numbered list of
 * migrations. kk-store runs it when it opens the database; nothing else
 * creates or alters a table.
 */
#pragma once

#include "kk-db.h"

G_BEGIN_DECLS

/* The schema version this build writes; kept in table schema_version. */
#define KK_STORE_SCHEMA_VERSION 5

/**
 * kk_schema_migrate:
 *
 * Brings @db from the version recorded in it (none: an empty database)
 * to %KK_STORE_SCHEMA_VERSION, one migration per transaction, logging
 * each version reached. A database newer than this build is refused.
 *
 * Returns: TRUE when @db is at %KK_STORE_SCHEMA_VERSION; FALSE with
 * @error, the failed migration rolled back.
 */
gboolean kk_schema_migrate (KkDb *db, GError **error);

G_END_DECLS
