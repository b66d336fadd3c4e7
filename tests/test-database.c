/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-database: see test-database.h. A schema, rather than a database,
 * per test: CREATE SCHEMA is instant where CREATE DATABASE copies a
 * template, and the store finds its tables through the connection's
 * search_path, which the URL sets.
 */
#include "test-database.h"

#include <string.h>

#include "kk-db-pg.h"
#include "kk-db-private.h"

char *
kk_test_database_new (void)
{
  const char *server = g_getenv ("KK_TEST_DATABASE");
  g_autoptr (GError) error = NULL;
  g_autofree char *schema = NULL;
  g_autofree char *create = NULL;
  KkDb *db;

  if (server == NULL)
    return NULL;

  schema = g_strdup_printf ("kk_test_%08x%08x", g_random_int (),
      g_random_int ());
  db = kk_db_pg_open (server, &error);
  g_assert_no_error (error);
  create = g_strdup_printf ("CREATE SCHEMA %s", schema);
  kk_db_exec (db, create, &error);
  g_assert_no_error (error);
  kk_db_close (db);
  /* libpq decodes %XX in URL parameters: "-c search_path=SCHEMA". */
  return g_strdup_printf ("%s%soptions=-csearch_path%%3D%s", server,
      strchr (server, '?') != NULL ? "&" : "?", schema);
}
