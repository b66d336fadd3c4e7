/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-database: which database the store's unit tests run against. By
 * default the embedded SQLite file in each test's data directory; under
 * tests/pg-run (the unit-pg suite), which sets KK_TEST_DATABASE, a
 * PostgreSQL server, where each test gets an empty schema of its own so
 * that tests start from nothing, as they do with a fresh SQLite file.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns: (transfer full) (nullable): the database argument for
 * kk_store_open(): NULL for SQLite, or the URL of a new, empty
 * PostgreSQL schema. Aborts the test when that cannot be made. */
char *kk_test_database_new (void);

G_END_DECLS
