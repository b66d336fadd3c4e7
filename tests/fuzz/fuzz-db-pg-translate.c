/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk_db_pg_translate, the PostgreSQL backend's mapping of
 * the common SQL dialect (placeholders, type names). Its input is SQL the
 * modules write, not outside input, but it is a parser of arbitrary text
 * that runs on every statement, so it gets the same treatment. The input
 * must be refused with an error or mapped without one; what is mapped
 * keeps every quote character, maps again to itself (no placeholder left
 * outside literals and comments, nothing mapped twice), and numbers no
 * more placeholders than the dialect allows.
 */
#include "kk-db-pg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static gsize
count_char (const char *text, char c)
{
  gsize n = 0;

  for (const char *p = text; *p != '\0'; p++)
    n += *p == c;
  return n;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *sql = g_strndup ((const char *) data, size);
  g_autofree char *mapped = NULL;
  g_autofree char *again = NULL;
  g_autoptr (GError) error = NULL;
  int n_params = -1, n_again = -1;

  mapped = kk_db_pg_translate (sql, &n_params, &error);
  if ((mapped == NULL) == (error == NULL))
    abort ();
  if (mapped == NULL)
    return 0;
  if (n_params < 0 || n_params > 32766)
    abort ();
  if (count_char (mapped, '\'') != count_char (sql, '\'')
      || count_char (mapped, '"') != count_char (sql, '"'))
    abort ();
  again = kk_db_pg_translate (mapped, &n_again, &error);
  if (again == NULL || n_again != 0 || strcmp (again, mapped) != 0)
    abort ();
  return 0;
}
