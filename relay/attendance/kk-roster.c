/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-roster: pre-registration, invitations and room access; see
 * kk-roster.h.
 *
 * An invited person is exactly what a join without colleagues makes (a
 * party of one in the store's parties and participants tables, with the
 * token's hash), plus a row in att_people with what a join does not ask
 * for: e-mail, HPR number, when they were invited and when their current
 * token was made. So everything that follows a token (WHEP, attendance,
 * overrides) treats both alike, and the report adds invited people who
 * never came.
 *
 * A whole import is one store job and one transaction: either everyone
 * in the list is registered or no one is. Tokens are made here on the
 * main thread and only their hashes go to the store's thread; they are
 * handed to the coordinator once, in the reply, and wiped after.
 *
 * Check-in codes are short, so guessing is what they must withstand: a
 * code is only good for one room and KK_CHECKIN_CODE_TTL_S, failed
 * attempts are limited per client address (a GCRA token bucket: a burst,
 * then a steady trickle), and uses per code per minute are limited too.
 * With 24^6 codes, a few hundred live at once and 10 guesses a minute, a
 * guesser needs decades per hit. Codes and buckets are in memory only:
 * losing them in a restart costs a screen one more request.
 */
#include "kk-roster.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "kk-json.h"
#include "kk-ratelimit.h"

/* Clients whose wrong codes are remembered at once (kk-ratelimit). */
#define FAILURE_CLIENTS_MAX 4096

/* ---- validation ---- */

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  GError *local;

  va_start (args, format);
  local = g_error_new_valist (KK_ATTENDANCE_ERROR,
      KK_ATTENDANCE_ERROR_INVALID, format, args);
  va_end (args);
  g_propagate_error (error, local);
  return FALSE;
}

gboolean
kk_roster_validate_hpr (const char *hpr, GError **error)
{
  gsize len = hpr != NULL ? strlen (hpr) : 0;

  if (len == 0 || len > KK_ROSTER_HPR_MAX_DIGITS)
    goto bad;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (hpr[i]))
      goto bad;
  return TRUE;

bad:
  return invalid (error, "an HPR number is 1 to %d digits",
      KK_ROSTER_HPR_MAX_DIGITS);
}

gboolean
kk_roster_validate_email (const char *email, GError **error)
{
  const char *at, *dot;
  gsize len = email != NULL ? strlen (email) : 0;

  if (len == 0 || len > KK_ROSTER_EMAIL_MAX)
    goto bad;
  for (gsize i = 0; i < len; i++) {
    guchar c = email[i];

    /* Non-ASCII is allowed (internationalised addresses); space and
     * control characters never are. */
    if (c <= 0x20 || c == 0x7f || c == ',' || c == ';' || c == '<'
        || c == '>' || c == '"')
      goto bad;
  }
  at = strchr (email, '@');
  if (at == NULL || at == email || strchr (at + 1, '@') != NULL)
    goto bad;
  dot = strrchr (at + 1, '.');
  if (dot == NULL || dot == at + 1 || dot[1] == '\0')
    goto bad;
  return g_utf8_validate (email, len, NULL) ? TRUE : invalid (error,
      "an e-mail address must be UTF-8");

bad:
  return invalid (error, "not an e-mail address (name@example.no, at most "
      "%d characters)", KK_ROSTER_EMAIL_MAX);
}

gboolean
kk_roster_check_no_national_id (const char *what, const char *text,
    GError **error)
{
  guint digits = 0;

  if (text == NULL)
    return TRUE;
  for (const char *p = text; *p != '\0'; p++) {
    if (g_ascii_isdigit (*p)) {
      if (++digits >= 11)
        return invalid (error, "%s looks like a national identity number "
            "(11 digits); those are never stored: leave it out", what);
    } else if (!(digits > 0 && (*p == ' ' || *p == '.' || *p == '-'))) {
      digits = 0;
    }
  }
  return TRUE;
}

void
kk_roster_entry_free (KkRosterEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->workplace);
  g_free (entry->email);
  g_free (entry->hpr);
  g_free (entry);
}

/* Trims every field, turns empty optional ones into NULL, and checks the
 * entry; the error names the entry by @what and its line. */
static gboolean
entry_check (KkRosterEntry *entry, const char *what, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (entry->name == NULL)
    entry->name = g_strdup ("");
  if (entry->workplace == NULL)
    entry->workplace = g_strdup ("");
  g_strstrip (entry->name);
  g_strstrip (entry->workplace);
  if (entry->email != NULL && *g_strstrip (entry->email) == '\0')
    g_clear_pointer (&entry->email, g_free);
  if (entry->hpr != NULL && *g_strstrip (entry->hpr) == '\0')
    g_clear_pointer (&entry->hpr, g_free);

  if (!kk_room_validate_text ("name", entry->name, 1, KK_ROOM_NAME_MAX,
          &local)
      || !kk_room_validate_text ("workplace", entry->workplace, 0,
          KK_ROOM_WORKPLACE_MAX, &local)
      || !kk_roster_check_no_national_id ("name", entry->name, &local)
      || !kk_roster_check_no_national_id ("workplace", entry->workplace,
          &local)
      || (entry->email != NULL
          && (!kk_roster_check_no_national_id ("e-mail", entry->email,
                  &local)
              || !kk_roster_validate_email (entry->email, &local)))
      || (entry->hpr != NULL && !kk_roster_validate_hpr (entry->hpr,
              &local)))
    return invalid (error, "%s %u: %s", what, entry->line, local->message);
  return TRUE;
}

/* ---- JSON ---- */

static gboolean
json_text (JsonObject *object, const char *name, gboolean number_ok,
    char **out, guint index, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);
  GType type;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING) {
    *out = g_strdup (json_node_get_string (node));
    return TRUE;
  }
  /* A spreadsheet turned into JSON has numbers where the HPR was. */
  if (number_ok && type == G_TYPE_INT64 && json_node_get_int (node) >= 0) {
    *out = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    return TRUE;
  }
  return invalid (error, "participant %u: \"%s\" must be a string", index,
      name);
}

GPtrArray *
kk_roster_parse_json (const char *data, gsize length, GError **error)
{
  static const char *const allowed[] = {
    "name", "workplace", "email", "hpr", NULL
  };
  g_autoptr (JsonNode) root = kk_json_parse (data, length, error);
  g_autoptr (GPtrArray) entries = NULL;
  JsonArray *list = NULL;

  if (root == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_ARRAY (root)) {
    list = json_node_get_array (root);
  } else if (JSON_NODE_HOLDS_OBJECT (root)) {
    JsonObject *object = json_node_get_object (root);
    JsonNode *node = json_object_get_member (object, "participants");

    if (json_object_get_size (object) == 1 && node != NULL
        && JSON_NODE_HOLDS_ARRAY (node))
      list = json_node_get_array (node);
  }
  if (list == NULL) {
    invalid (error, "the body must be a list of participants, or "
        "{\"participants\": [...]}");
    return NULL;
  }
  if (json_array_get_length (list) == 0
      || json_array_get_length (list) > KK_ROSTER_MAX_PEOPLE) {
    invalid (error, "1 to %d participants at a time", KK_ROSTER_MAX_PEOPLE);
    return NULL;
  }

  entries = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_roster_entry_free);
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonNode *node = json_array_get_element (list, i);
    KkRosterEntry *entry;
    JsonObject *object;
    g_autofree char *unknown = NULL;

    if (!JSON_NODE_HOLDS_OBJECT (node)) {
      invalid (error, "participant %u: must be an object", i + 1);
      return NULL;
    }
    object = json_node_get_object (node);
    unknown = kk_json_find_unknown_member (object, allowed);
    if (unknown != NULL) {
      invalid (error, "participant %u: unknown member \"%s\" (name, "
          "workplace, email and hpr are known)", i + 1, unknown);
      return NULL;
    }
    entry = g_new0 (KkRosterEntry, 1);
    entry->line = i + 1;
    g_ptr_array_add (entries, entry);
    if (!json_text (object, "name", FALSE, &entry->name, i + 1, error)
        || !json_text (object, "workplace", FALSE, &entry->workplace, i + 1,
            error)
        || !json_text (object, "email", FALSE, &entry->email, i + 1, error)
        || !json_text (object, "hpr", TRUE, &entry->hpr, i + 1, error)
        || !entry_check (entry, "participant", error))
      return NULL;
  }
  return g_steal_pointer (&entries);
}

/* ---- CSV ---- */

typedef enum {
  COL_IGNORED,
  COL_NAME,
  COL_WORKPLACE,
  COL_EMAIL,
  COL_HPR,
} KkRosterColumn;

/* Header spellings, compared lowercased without spaces, '-', '_' or '.':
 * what a Norwegian or English sheet calls them. */
static const struct {
  const char *spelling;
  KkRosterColumn column;
} column_names[] = {
  { "name", COL_NAME }, { "navn", COL_NAME }, { "fulltnavn", COL_NAME },
  { "fullname", COL_NAME }, { "deltaker", COL_NAME },
  { "participant", COL_NAME },
  { "workplace", COL_WORKPLACE }, { "arbeidssted", COL_WORKPLACE },
  { "arbeidsplass", COL_WORKPLACE }, { "tjenestested", COL_WORKPLACE },
  { "email", COL_EMAIL }, { "epost", COL_EMAIL }, { "mail", COL_EMAIL },
  { "emailaddress", COL_EMAIL }, { "epostadresse", COL_EMAIL },
  { "hpr", COL_HPR }, { "hprnummer", COL_HPR }, { "hprnr", COL_HPR },
  { "hprnumber", COL_HPR }, { "hprno", COL_HPR },
};

static gboolean
column_from_header (const char *header, KkRosterColumn *column)
{
  g_autofree char *lower = g_utf8_strdown (header, -1);
  g_autoptr (GString) key = g_string_new (NULL);

  for (const char *p = lower; *p != '\0'; p++)
    if (strchr (" -_.", *p) == NULL)
      g_string_append_c (key, *p);
  for (guint i = 0; i < G_N_ELEMENTS (column_names); i++) {
    if (g_str_equal (key->str, column_names[i].spelling)) {
      *column = column_names[i].column;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
blank (const char *text)
{
  for (; *text != '\0'; text++)
    if (!g_ascii_isspace (*text))
      return FALSE;
  return TRUE;
}

GPtrArray *
kk_roster_parse_csv (const char *data, gsize length, GError **error)
{
  g_autoptr (GPtrArray) rows = kk_csv_parse (data, length, error);
  g_autoptr (GPtrArray) entries = NULL;
  g_autofree KkRosterColumn *columns = NULL;
  gboolean seen[COL_HPR + 1] = { FALSE, };
  char **header;
  guint n_columns;

  if (rows == NULL)
    return NULL;
  if (rows->len < 2) {
    invalid (error, "the CSV needs a header line (name;workplace;email;hpr) "
        "and at least one person");
    return NULL;
  }
  header = rows->pdata[0];
  n_columns = g_strv_length (header);
  columns = g_new0 (KkRosterColumn, n_columns);
  for (guint i = 0; i < n_columns; i++) {
    g_autofree char *name = g_strstrip (g_strdup (header[i]));

    if (*name == '\0') {
      /* Excel leaves empty columns after the last named one: harmless
       * while they stay empty, which the rows are checked for. */
      columns[i] = COL_IGNORED;
      continue;
    }
    if (!column_from_header (name, &columns[i])) {
      g_autofree char *shown = g_utf8_substring (name, 0,
          MIN (40, g_utf8_strlen (name, -1)));

      invalid (error, "row 1: unknown column \"%s\": the columns are name, "
          "workplace, email and hpr (or navn, arbeidssted, e-post, "
          "hpr-nummer), and nothing else is stored", shown);
      return NULL;
    }
    if (seen[columns[i]]) {
      invalid (error, "row 1: column \"%s\" appears twice", name);
      return NULL;
    }
    seen[columns[i]] = TRUE;
  }
  if (!seen[COL_NAME]) {
    invalid (error, "row 1: there is no name column (name or navn)");
    return NULL;
  }

  entries = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_roster_entry_free);
  for (guint r = 1; r < rows->len; r++) {
    char **row = rows->pdata[r];
    KkRosterEntry *entry = g_new0 (KkRosterEntry, 1);

    entry->line = r + 1;
    g_ptr_array_add (entries, entry);
    for (guint i = 0; row[i] != NULL; i++) {
      KkRosterColumn column = i < n_columns ? columns[i] : COL_IGNORED;
      char **field = NULL;

      switch (column) {
        case COL_IGNORED:
          if (!blank (row[i])) {
            invalid (error, "row %u: a value in a column without a name",
                r + 1);
            return NULL;
          }
          break;
        case COL_NAME:
          field = &entry->name;
          break;
        case COL_WORKPLACE:
          field = &entry->workplace;
          break;
        case COL_EMAIL:
          field = &entry->email;
          break;
        case COL_HPR:
          field = &entry->hpr;
          break;
      }
      if (field != NULL)
        *field = g_strdup (row[i]);
    }
    if (!entry_check (entry, "row", error))
      return NULL;
  }
  return g_steal_pointer (&entries);
}

/* ---- results ---- */

void
kk_invitation_free (KkInvitation *invitation)
{
  if (invitation == NULL)
    return;
  g_free (invitation->room_id);
  g_free (invitation->participant_id);
  g_free (invitation->name);
  g_free (invitation->workplace);
  g_free (invitation->email);
  g_free (invitation->hpr);
  if (invitation->token != NULL)
    OPENSSL_cleanse (invitation->token, strlen (invitation->token));
  g_free (invitation->token);
  g_free (invitation->skipped);
  g_free (invitation);
}

void
kk_roster_person_free (KkRosterPerson *person)
{
  if (person == NULL)
    return;
  g_free (person->participant_id);
  g_free (person->party_id);
  g_free (person->name);
  g_free (person->workplace);
  g_free (person->email);
  g_free (person->hpr);
  g_free (person);
}

/* ---- SQL helpers (store thread) ---- */

/* Steps @stmt once and resets it (for statements used in a loop). */
static gboolean
step_reset (KkDbStmt *stmt, GError **error)
{
  gboolean ok = kk_db_step_done (stmt, error);

  kk_db_reset (stmt);
  return ok;
}

/* The first column of the first row of @sql with ?1 = @key, or NULL. */
static gboolean
lookup_text (KkDb *db, const char *sql, const char *key, char **out,
    GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, sql, error);

  *out = NULL;
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, key);
  switch (kk_db_step (stmt, error)) {
    case KK_DB_ROW:
      *out = kk_db_column_dup (stmt, 0);
      return TRUE;
    case KK_DB_DONE:
      return TRUE;
    case KK_DB_ERROR:
    default:
      return FALSE;
  }
}

static gboolean
room_exists (KkDb *db, const char *room_id, GError **error)
{
  g_autofree char *found = NULL;

  if (!lookup_text (db, "SELECT id FROM rooms WHERE id = ?1", room_id,
          &found, error))
    return FALSE;
  if (found == NULL) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
        "no room %s", room_id);
    return FALSE;
  }
  return TRUE;
}

/* ---- the object ---- */

typedef struct {
  char *code;
  char *party_id;
  char *room_id;
  gint64 expires_mono_us;
  gint64 expires_wall_us;
  gint64 window_start_us;       /* monotonic: this minute's uses */
  guint window_uses;
} CheckinCode;

typedef struct {
  char *participant_id;
  char *party_id;
  char *room_id;
} Receipt;

struct _KkRoster {
  GObject parent;

  KkStore *store;
  KkRoomRegistry *registry;
  KkAttendanceLog *log;
  GHashTable *codes;            /* code → CheckinCode (owned) */
  GHashTable *party_codes;      /* party id → code (borrowed from codes) */
  KkRateLimit *failures;        /* wrong codes per client */
  GHashTable *receipts;         /* receipt hash → Receipt (owned) */
  GArray *erasers;              /* Eraser: modules above */
};

/* A module's share of erasures, as handed to kk_roster_add_eraser(). */
typedef struct {
  KkRosterEraser eraser;
  gpointer user_data;
  GDestroyNotify user_data_free;
} Eraser;

static void
eraser_clear (gpointer data)
{
  Eraser *eraser = data;

  if (eraser->user_data_free != NULL)
    eraser->user_data_free (eraser->user_data);
}

static void
checkin_code_free (CheckinCode *code)
{
  g_free (code->code);
  g_free (code->party_id);
  g_free (code->room_id);
  g_free (code);
}

static void
receipt_free (Receipt *receipt)
{
  g_free (receipt->participant_id);
  g_free (receipt->party_id);
  g_free (receipt->room_id);
  g_free (receipt);
}

G_DEFINE_FINAL_TYPE (KkRoster, kk_roster, G_TYPE_OBJECT)

static void
kk_roster_finalize (GObject *object)
{
  KkRoster *roster = KK_ROSTER (object);

  g_clear_object (&roster->store);
  g_clear_object (&roster->registry);
  g_clear_object (&roster->log);
  g_hash_table_unref (roster->party_codes);
  g_hash_table_unref (roster->codes);
  kk_rate_limit_free (roster->failures);
  g_hash_table_unref (roster->receipts);
  g_array_unref (roster->erasers);
  G_OBJECT_CLASS (kk_roster_parent_class)->finalize (object);
}

static void
kk_roster_class_init (KkRosterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kk_roster_finalize;
}

static void
kk_roster_init (KkRoster *roster)
{
  roster->codes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) checkin_code_free);
  roster->party_codes = g_hash_table_new (g_str_hash, g_str_equal);
  roster->failures = kk_rate_limit_new (KK_CHECKIN_FAILURE_BURST,
      KK_CHECKIN_FAILURE_REFILL_S * G_USEC_PER_SEC, FAILURE_CLIENTS_MAX);
  roster->receipts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) receipt_free);
  roster->erasers = g_array_new (FALSE, FALSE, sizeof (Eraser));
  g_array_set_clear_func (roster->erasers, eraser_clear);
}

/* ---- startup ---- */

typedef struct {
  gboolean done;
  gpointer result;
  GError *error;
} SyncWait;

static void
sync_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SyncWait *wait = user_data;

  wait->result = kk_store_run_finish (KK_STORE (source), result,
      &wait->error);
  wait->done = TRUE;
}

/* Runs @func on the store's thread and waits for it, dispatching only a
 * private context meanwhile: startup only, before anything is served. */
static gpointer
run_sync (KkStore *store, KkStoreJobFunc func, GDestroyNotify result_free,
    GError **error)
{
  GMainContext *context = g_main_context_new ();
  SyncWait wait = { FALSE, };

  g_main_context_push_thread_default (context);
  kk_store_run_async (store, func, NULL, NULL, result_free, sync_done,
      &wait);
  while (!wait.done)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  return wait.result;
}

/* Every row of @sql as @n_columns strings in a row, appended to @out. */
static gboolean
load_rows (KkDb *db, const char *sql, guint n_columns, GPtrArray *out,
    GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, sql, error);
  KkDbStep step;

  if (stmt == NULL)
    return FALSE;
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW)
    for (guint i = 0; i < n_columns; i++)
      g_ptr_array_add (out, kk_db_column_dup (stmt, i));
  return step == KK_DB_DONE;
}

/* Access modes (room, access), then receipts (hash, participant, party,
 * room), with a NULL between. */
static gpointer
load_job (KkDb *db, gpointer job_data, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);

  if (!load_rows (db, "SELECT room_id, access FROM att_access", 2, rows,
          error))
    return NULL;
  g_ptr_array_add (rows, NULL);
  if (!load_rows (db, "SELECT receipt_hash, participant_id, party_id,"
          " room_id FROM att_checkins", 4, rows, error))
    return NULL;
  return g_steal_pointer (&rows);
}

static void
add_receipt (KkRoster *roster, const char *hash, const char *participant_id,
    const char *party_id, const char *room_id)
{
  Receipt *receipt = g_new0 (Receipt, 1);

  receipt->participant_id = g_strdup (participant_id);
  receipt->party_id = g_strdup (party_id);
  receipt->room_id = g_strdup (room_id);
  g_hash_table_replace (roster->receipts, g_strdup (hash), receipt);
}

KkRoster *
kk_roster_new (KkStore *store, KkRoomRegistry *registry, KkAttendanceLog *log,
    GError **error)
{
  g_autoptr (KkRoster) roster = g_object_new (KK_TYPE_ROSTER, NULL);
  g_autoptr (GPtrArray) rows = NULL;
  guint i;

  roster->store = g_object_ref (store);
  roster->registry = g_object_ref (registry);
  roster->log = g_object_ref (log);

  rows = run_sync (store, load_job, (GDestroyNotify) g_ptr_array_unref,
      error);
  if (rows == NULL)
    return NULL;
  for (i = 0; i + 1 < rows->len && rows->pdata[i] != NULL; i += 2) {
    KkRoom *room = kk_room_registry_lookup (registry, rows->pdata[i]);
    KkRoomAccess access;

    if (room != NULL && kk_room_access_from_string (rows->pdata[i + 1],
            &access))
      kk_room_set_access (room, access);
  }
  for (i++; i + 3 < rows->len; i += 4)
    add_receipt (roster, rows->pdata[i], rows->pdata[i + 1],
        rows->pdata[i + 2], rows->pdata[i + 3]);
  return g_steal_pointer (&roster);
}

/* ---- invitations ---- */

typedef struct {
  KkRosterEntry entry;          /* fields owned */
  char *participant_id;
  char *party_id;
  char *token_hash;
  /* Set by the job: */
  char *existing_id;            /* the person already registered */
  const char *skipped;          /* static text */
} InviteItem;

typedef struct {
  char *room_id;
  GPtrArray *items;             /* InviteItem */
  gint64 now_us;                /* steady */
  gint64 wall_us;
} InviteJob;

static void
invite_item_free (InviteItem *item)
{
  g_free (item->entry.name);
  g_free (item->entry.workplace);
  g_free (item->entry.email);
  g_free (item->entry.hpr);
  g_free (item->participant_id);
  g_free (item->party_id);
  g_free (item->token_hash);
  g_free (item->existing_id);
  g_free (item);
}

static void
invite_job_free (InviteJob *job)
{
  g_free (job->room_id);
  g_ptr_array_unref (job->items);
  g_free (job);
}

/* Inserts a party of one for @item, and its att_people row. */
static gboolean
insert_invited (const InviteJob *job, const InviteItem *item,
    KkDbStmt *party, KkDbStmt *person, KkDbStmt *people, GError **error)
{
  kk_db_bind_text (party, 1, item->party_id);
  kk_db_bind_text (party, 2, job->room_id);
  kk_db_bind_text (party, 3, item->token_hash);
  kk_db_bind_text (party, 4, item->entry.name);
  kk_db_bind_text (party, 5, item->entry.workplace);
  kk_db_bind_int64 (party, 6, job->wall_us);
  if (!step_reset (party, error))
    return FALSE;
  kk_db_bind_text (person, 1, item->participant_id);
  kk_db_bind_text (person, 2, item->party_id);
  kk_db_bind_text (person, 3, job->room_id);
  kk_db_bind_text (person, 4, item->entry.name);
  kk_db_bind_text (person, 5, item->entry.workplace);
  kk_db_bind_int64 (person, 6, job->wall_us);
  if (!step_reset (person, error))
    return FALSE;
  kk_db_bind_text (people, 1, item->participant_id);
  kk_db_bind_text (people, 2, job->room_id);
  kk_db_bind_text (people, 3, item->party_id);
  kk_db_bind_text (people, 4, item->entry.email);
  kk_db_bind_text (people, 5, item->entry.hpr);
  kk_db_bind_int64 (people, 6, job->now_us);
  return step_reset (people, error);
}

/* An HPR number or e-mail address already in the room: that person. */
static gboolean
find_existing (KkDbStmt *by_hpr, KkDbStmt *by_email, const InviteJob *job,
    InviteItem *item, GError **error)
{
  KkDbStmt *stmts[] = { by_hpr, by_email };
  const char *keys[] = { item->entry.hpr, item->entry.email };

  for (guint i = 0; i < G_N_ELEMENTS (stmts); i++) {
    KkDbStep step;

    if (keys[i] == NULL)
      continue;
    kk_db_bind_text (stmts[i], 1, job->room_id);
    kk_db_bind_text (stmts[i], 2, keys[i]);
    step = kk_db_step (stmts[i], error);
    if (step == KK_DB_ROW) {
      item->existing_id = kk_db_column_dup (stmts[i], 0);
      item->skipped = i == 0 ? "already registered with this HPR number"
          : "already registered with this e-mail address";
    }
    kk_db_reset (stmts[i]);
    if (step == KK_DB_ERROR)
      return FALSE;
    if (item->existing_id != NULL)
      break;
  }
  return TRUE;
}

/* The whole list, in one transaction: everyone or no one. */
static gboolean
invite_all (KkDb *db, gpointer user_data, GError **error)
{
  InviteJob *job = user_data;
  g_autoptr (KkDbStmt) party = NULL;
  g_autoptr (KkDbStmt) person = NULL;
  g_autoptr (KkDbStmt) people = NULL;
  g_autoptr (KkDbStmt) by_hpr = NULL;
  g_autoptr (KkDbStmt) by_email = NULL;

  if (!(party = kk_db_prepare (db, "INSERT INTO parties (id, room_id,"
              " token_hash, name, workplace, created_at)"
              " VALUES (?,?,?,?,?,?)", error))
      || !(person = kk_db_prepare (db, "INSERT INTO participants (id,"
              " party_id, room_id, ord, name, workplace, created_at)"
              " VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)", error))
      || !(people = kk_db_prepare (db, "INSERT INTO att_people"
              " (participant_id, room_id, party_id, email, hpr, invited_at,"
              " token_issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)", error))
      || !(by_hpr = kk_db_prepare (db, "SELECT participant_id FROM att_people"
              " WHERE room_id = ?1 AND hpr = ?2", error))
      || !(by_email = kk_db_prepare (db, "SELECT participant_id"
              " FROM att_people WHERE room_id = ?1"
              " AND lower (email) = lower (?2)", error)))
    return FALSE;

  /* The lookups see the rows inserted earlier in this transaction, so
   * the same person twice in one list is registered once too. */
  for (guint i = 0; i < job->items->len; i++) {
    InviteItem *item = job->items->pdata[i];

    if (!find_existing (by_hpr, by_email, job, item, error))
      return FALSE;
    if (item->existing_id == NULL
        && !insert_invited (job, item, party, person, people, error))
      return FALSE;
  }
  return TRUE;
}

static gpointer
invite_job (KkDb *db, gpointer job_data, GError **error)
{
  InviteJob *job = job_data;

  if (!room_exists (db, job->room_id, error)
      || !kk_db_transaction (db, invite_all, job, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

typedef struct {
  InviteJob *job;               /* the items stay here for the reply */
  char **tokens;                /* one per item, main thread only */
} InviteCall;

static void
invite_call_free (InviteCall *call)
{
  for (guint i = 0; call->tokens != NULL && call->tokens[i] != NULL; i++)
    OPENSSL_cleanse (call->tokens[i], strlen (call->tokens[i]));
  g_strfreev (call->tokens);
  invite_job_free (call->job);
  g_free (call);
}

static void
invite_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoster *roster = g_task_get_source_object (task);
  InviteCall *call = g_task_get_task_data (task);
  g_autoptr (GPtrArray) invitations = NULL;
  GError *error = NULL;
  guint added = 0;

  if (kk_store_run_finish (KK_STORE (source), result, &error) == NULL) {
    g_task_return_error (task, error);
    return;
  }
  invitations = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_invitation_free);
  for (guint i = 0; i < call->job->items->len; i++) {
    InviteItem *item = call->job->items->pdata[i];
    KkInvitation *invitation = g_new0 (KkInvitation, 1);

    invitation->line = item->entry.line;
    invitation->room_id = g_strdup (call->job->room_id);
    invitation->name = g_strdup (item->entry.name);
    invitation->workplace = g_strdup (item->entry.workplace);
    invitation->email = g_strdup (item->entry.email);
    invitation->hpr = g_strdup (item->entry.hpr);
    if (item->existing_id != NULL) {
      invitation->participant_id = g_strdup (item->existing_id);
      invitation->skipped = g_strdup (item->skipped);
    } else {
      invitation->participant_id = g_strdup (item->participant_id);
      invitation->token = g_strdup (call->tokens[i]);
      kk_room_registry_add_party (roster->registry, item->token_hash,
          item->party_id, call->job->room_id);
      added++;
    }
    g_ptr_array_add (invitations, invitation);
  }
  g_info ("room %s: %u people pre-registered, %u already were",
      call->job->room_id, added, invitations->len - added);
  g_task_return_pointer (task, g_steal_pointer (&invitations),
      (GDestroyNotify) g_ptr_array_unref);
}

void
kk_roster_invite_async (KkRoster *roster, const char *room_id,
    GPtrArray *entries, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (roster, NULL, callback, user_data);
  InviteCall *call = g_new0 (InviteCall, 1);
  InviteJob *job = g_new0 (InviteJob, 1);

  /* The store job gets a copy of everything but the tokens. */
  job->room_id = g_strdup (room_id);
  job->items = g_ptr_array_new_with_free_func (
      (GDestroyNotify) invite_item_free);
  job->now_us = kk_attendance_log_now (roster->log);
  job->wall_us = g_get_real_time ();
  call->tokens = g_new0 (char *, entries->len + 1);
  for (guint i = 0; i < entries->len; i++) {
    const KkRosterEntry *entry = entries->pdata[i];
    InviteItem *item = g_new0 (InviteItem, 1);

    item->entry.line = entry->line;
    item->entry.name = g_strdup (entry->name);
    item->entry.workplace = g_strdup (entry->workplace);
    item->entry.email = g_strdup (entry->email);
    item->entry.hpr = g_strdup (entry->hpr);
    item->participant_id = g_uuid_string_random ();
    item->party_id = g_uuid_string_random ();
    call->tokens[i] = kk_store_new_token ();
    item->token_hash = kk_store_hash_token (call->tokens[i]);
    g_ptr_array_add (job->items, item);
  }
  call->job = job;
  g_task_set_task_data (task, call, (GDestroyNotify) invite_call_free);
  /* The job only reads the items and sets their results; the call keeps
   * them alive until the reply, so nothing is freed on the store side. */
  kk_store_run_async (roster->store, invite_job, job, NULL, NULL,
      invite_stored, task);
}

GPtrArray *
kk_roster_invite_finish (KkRoster *roster, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, roster), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- re-issuing a token ---- */

typedef struct {
  char *participant_id;
  char *token_hash;
  gint64 now_us;
  /* Set by the job: */
  KkInvitation *found;          /* without token */
  char *party_id;
  char *room_id;
} ReissueJob;

static void
reissue_job_free (ReissueJob *job)
{
  g_free (job->participant_id);
  g_free (job->token_hash);
  kk_invitation_free (job->found);
  g_free (job->party_id);
  g_free (job->room_id);
  g_free (job);
}

/* The new token's hash on the party, and when it was made. */
static gboolean
store_new_token (KkDb *db, gpointer user_data, GError **error)
{
  ReissueJob *job = user_data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "UPDATE parties"
      " SET token_hash = ?2 WHERE id = ?1", error);

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->party_id);
  kk_db_bind_text (stmt, 2, job->token_hash);
  if (!kk_db_step_done (stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);
  stmt = kk_db_prepare (db, "UPDATE att_people SET token_issued_at = ?2"
      " WHERE participant_id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->participant_id);
  kk_db_bind_int64 (stmt, 2, job->now_us);
  return kk_db_step_done (stmt, error);
}

static gpointer
reissue_job (KkDb *db, gpointer job_data, GError **error)
{
  ReissueJob *job = job_data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT a.party_id,"
      " a.room_id, p.name, p.workplace, a.email, a.hpr FROM att_people a"
      " JOIN participants p ON p.id = a.participant_id"
      " WHERE a.participant_id = ?1", error);
  KkDbStep step;

  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, job->participant_id);
  step = kk_db_step (stmt, error);
  if (step == KK_DB_ROW) {
    job->party_id = kk_db_column_dup (stmt, 0);
    job->room_id = kk_db_column_dup (stmt, 1);
    job->found = g_new0 (KkInvitation, 1);
    job->found->participant_id = g_strdup (job->participant_id);
    job->found->name = kk_db_column_dup (stmt, 2);
    job->found->workplace = kk_db_column_dup (stmt, 3);
    job->found->email = kk_db_column_dup (stmt, 4);
    job->found->hpr = kk_db_column_dup (stmt, 5);
  }
  g_clear_pointer (&stmt, kk_db_stmt_free);
  if (step == KK_DB_ERROR)
    return NULL;
  if (job->found == NULL) {
    g_autofree char *exists = NULL;

    if (!lookup_text (db, "SELECT id FROM participants WHERE id = ?1",
            job->participant_id, &exists, error))
      return NULL;
    if (exists != NULL)
      g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_CONFLICT,
          "participant %s joined on their own, with a token only they have; "
          "only pre-registered people get new invitations",
          job->participant_id);
    else
      g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
          "no participant %s", job->participant_id);
    return NULL;
  }

  if (!kk_db_transaction (db, store_new_token, job, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

typedef struct {
  ReissueJob *job;
  char *token;
} ReissueCall;

static void
reissue_call_free (ReissueCall *call)
{
  OPENSSL_cleanse (call->token, strlen (call->token));
  g_free (call->token);
  reissue_job_free (call->job);
  g_free (call);
}

static void
reissue_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoster *roster = g_task_get_source_object (task);
  ReissueCall *call = g_task_get_task_data (task);
  KkInvitation *invitation;
  GError *error = NULL;

  if (kk_store_run_finish (KK_STORE (source), result, &error) == NULL) {
    g_task_return_error (task, error);
    return;
  }
  kk_room_registry_remove_party (roster->registry, call->job->party_id);
  kk_room_registry_add_party (roster->registry, call->job->token_hash,
      call->job->party_id, call->job->room_id);
  g_info ("room %s: participant %s has a new invitation token",
      call->job->room_id, call->job->participant_id);
  invitation = g_steal_pointer (&call->job->found);
  invitation->room_id = g_strdup (call->job->room_id);
  invitation->token = g_strdup (call->token);
  g_task_return_pointer (task, invitation,
      (GDestroyNotify) kk_invitation_free);
}

void
kk_roster_reissue_async (KkRoster *roster, const char *participant_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (roster, NULL, callback, user_data);
  ReissueCall *call = g_new0 (ReissueCall, 1);

  call->job = g_new0 (ReissueJob, 1);
  call->job->participant_id = g_strdup (participant_id);
  call->token = kk_store_new_token ();
  call->job->token_hash = kk_store_hash_token (call->token);
  call->job->now_us = kk_attendance_log_now (roster->log);
  g_task_set_task_data (task, call, (GDestroyNotify) reissue_call_free);
  kk_store_run_async (roster->store, reissue_job, call->job, NULL, NULL,
      reissue_stored, task);
}

KkInvitation *
kk_roster_reissue_finish (KkRoster *roster, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, roster), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- listing ---- */

static int
compare_people (gconstpointer a, gconstpointer b)
{
  const KkRosterPerson *x = *(KkRosterPerson * const *) a;
  const KkRosterPerson *y = *(KkRosterPerson * const *) b;
  int c = g_utf8_collate (x->name, y->name);

  return c != 0 ? c : strcmp (x->participant_id, y->participant_id);
}

static gpointer
list_job (KkDb *db, gpointer job_data, GError **error)
{
  const char *room_id = job_data;
  g_autoptr (GPtrArray) people = g_ptr_array_new_with_free_func (
      (GDestroyNotify) kk_roster_person_free);
  g_autoptr (KkDbStmt) stmt = NULL;
  KkDbStep step;

  if (!room_exists (db, room_id, error))
    return NULL;
  /* The flags are CASE expressions: a bare comparison is a boolean in
   * PostgreSQL, not the common dialect's integer 0/1. */
  stmt = kk_db_prepare (db, "SELECT p.id, p.party_id, p.name, p.workplace,"
      " p.ord, p.created_at, a.email, a.hpr, coalesce (a.token_issued_at, 0),"
      " CASE WHEN a.participant_id IS NOT NULL THEN 1 ELSE 0 END,"
      " CASE WHEN EXISTS (SELECT 1 FROM att_connections c"
      "   WHERE c.party_id = p.party_id) THEN 1 ELSE 0 END,"
      " CASE WHEN k.participant_id IS NOT NULL THEN 1 ELSE 0 END"
      " FROM participants p"
      " LEFT JOIN att_people a ON a.participant_id = p.id"
      " LEFT JOIN att_checkins k ON k.participant_id = p.id"
      " WHERE p.room_id = ?1", error);
  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, room_id);
  while ((step = kk_db_step (stmt, error)) == KK_DB_ROW) {
    KkRosterPerson *person = g_new0 (KkRosterPerson, 1);

    person->participant_id = kk_db_column_dup (stmt, 0);
    person->party_id = kk_db_column_dup (stmt, 1);
    person->name = kk_db_column_dup (stmt, 2);
    person->workplace = kk_db_column_dup (stmt, 3);
    person->created_us = kk_db_column_int64 (stmt, 5);
    person->email = kk_db_column_dup (stmt, 6);
    person->hpr = kk_db_column_dup (stmt, 7);
    if (kk_db_column_int64 (stmt, 9) != 0) {
      person->kind = "invited";
      person->token_issued_us = kk_db_column_int64 (stmt, 8);
    } else if (kk_db_column_int64 (stmt, 11) != 0) {
      person->kind = "checked-in";
    } else {
      person->kind = kk_db_column_int64 (stmt, 4) == 0 ? "joined"
          : "colleague";
    }
    person->connected_ever = kk_db_column_int64 (stmt, 10) != 0;
    g_ptr_array_add (people, person);
  }
  if (step != KK_DB_DONE)
    return NULL;
  g_ptr_array_sort (people, compare_people);
  return g_steal_pointer (&people);
}

static void
forward_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  gpointer value = kk_store_run_finish (KK_STORE (source), result, &error);

  if (value == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) g_ptr_array_unref);
}

void
kk_roster_list_async (KkRoster *roster, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (roster, NULL, callback, user_data);

  kk_store_run_async (roster->store, list_job, g_strdup (room_id), g_free,
      (GDestroyNotify) g_ptr_array_unref, forward_result, task);
}

GPtrArray *
kk_roster_list_finish (KkRoster *roster, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, roster), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- access ---- */

typedef struct {
  char *room_id;
  KkRoomAccess access;
} AccessJob;

static void
access_job_free (AccessJob *job)
{
  g_free (job->room_id);
  g_free (job);
}

static gpointer
access_job (KkDb *db, gpointer job_data, GError **error)
{
  AccessJob *job = job_data;
  g_autoptr (KkDbStmt) stmt = NULL;

  if (!room_exists (db, job->room_id, error))
    return NULL;
  stmt = kk_db_prepare (db, "INSERT INTO att_access (room_id, access)"
      " VALUES (?1, ?2)"
      " ON CONFLICT (room_id) DO UPDATE SET access = excluded.access", error);
  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, job->room_id);
  kk_db_bind_text (stmt, 2, kk_room_access_to_string (job->access));
  if (!kk_db_step_done (stmt, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

static void
access_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoster *roster = g_task_get_source_object (task);
  AccessJob *job = g_task_get_task_data (task);
  GError *error = NULL;
  KkRoom *room;

  if (kk_store_run_finish (KK_STORE (source), result, &error) == NULL) {
    g_task_return_error (task, error);
    return;
  }
  room = kk_room_registry_lookup (roster->registry, job->room_id);
  if (room != NULL)
    kk_room_set_access (room, job->access);
  g_task_return_boolean (task, TRUE);
}

void
kk_roster_set_access_async (KkRoster *roster, const char *room_id,
    KkRoomAccess access, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (roster, NULL, callback, user_data);
  AccessJob *job = g_new0 (AccessJob, 1);

  job->room_id = g_strdup (room_id);
  job->access = access;
  g_task_set_task_data (task, job, (GDestroyNotify) access_job_free);
  kk_store_run_async (roster->store, access_job, job, NULL, NULL,
      access_stored, task);
}

gboolean
kk_roster_set_access_finish (KkRoster *roster, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, roster), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- check-in ---- */

void
kk_checkin_free (KkCheckin *checkin)
{
  if (checkin == NULL)
    return;
  g_free (checkin->participant_id);
  g_free (checkin->party_id);
  g_free (checkin->room_id);
  if (checkin->receipt != NULL)
    OPENSSL_cleanse (checkin->receipt, strlen (checkin->receipt));
  g_free (checkin->receipt);
  g_free (checkin);
}

char *
kk_roster_random_code (guint length)
{
  const gsize n = sizeof KK_CHECKIN_ALPHABET - 1;
  char *code = g_malloc (length + 1);
  guint filled = 0;

  while (filled < length) {
    guint8 bytes[16];

    if (RAND_bytes (bytes, sizeof bytes) != 1)
      g_error ("OpenSSL RAND_bytes failed: no secure random source");
    /* Only bytes below the largest multiple of n, so that every
     * character is equally likely. */
    for (guint i = 0; i < sizeof bytes && filled < length; i++)
      if (bytes[i] < 256 - 256 % n)
        code[filled++] = KK_CHECKIN_ALPHABET[bytes[i] % n];
  }
  code[filled] = '\0';
  return code;
}

static void
drop_code (KkRoster *roster, CheckinCode *code)
{
  g_hash_table_remove (roster->party_codes, code->party_id);
  g_hash_table_remove (roster->codes, code->code);
}

static void
drop_expired_codes (KkRoster *roster, gint64 now)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, roster->codes);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    CheckinCode *code = value;

    if (code->expires_mono_us <= now) {
      g_hash_table_remove (roster->party_codes, code->party_id);
      g_hash_table_iter_remove (&iter);
    }
  }
}

char *
kk_roster_get_checkin_code (KkRoster *roster, const char *room_id,
    const char *party_id, gint64 *expires_us)
{
  gint64 now = g_get_monotonic_time ();
  const char *current;
  CheckinCode *code = NULL;

  g_return_val_if_fail (KK_IS_ROSTER (roster), NULL);

  current = g_hash_table_lookup (roster->party_codes, party_id);
  if (current != NULL)
    code = g_hash_table_lookup (roster->codes, current);
  if (code != NULL && (code->expires_mono_us <= now
          || g_strcmp0 (code->room_id, room_id) != 0)) {
    drop_code (roster, code);
    code = NULL;
  }
  if (code == NULL) {
    drop_expired_codes (roster, now);
    code = g_new0 (CheckinCode, 1);
    do {
      g_free (code->code);
      code->code = kk_roster_random_code (KK_CHECKIN_CODE_LENGTH);
    } while (g_hash_table_contains (roster->codes, code->code));
    code->party_id = g_strdup (party_id);
    code->room_id = g_strdup (room_id);
    code->expires_mono_us = now + KK_CHECKIN_CODE_TTL_S * G_USEC_PER_SEC;
    code->expires_wall_us = g_get_real_time ()
        + KK_CHECKIN_CODE_TTL_S * G_USEC_PER_SEC;
    g_hash_table_insert (roster->codes, code->code, code);
    g_hash_table_insert (roster->party_codes, code->party_id, code->code);
  }
  if (expires_us != NULL)
    *expires_us = code->expires_wall_us;
  return g_strdup (code->code);
}

char *
kk_roster_normalise_code (const char *text)
{
  GString *code = g_string_new (NULL);

  for (const char *p = text; p != NULL && *p != '\0' && code->len <= 16;
      p++)
    if (*p != ' ' && *p != '-')
      g_string_append_c (code, g_ascii_toupper (*p));
  return g_string_free (code, FALSE);
}

typedef struct {
  char *participant_id;
  char *party_id;
  char *room_id;
  char *name;
  char *workplace;
  char *receipt_hash;
  gint64 now_us;                /* steady */
  gint64 wall_us;
} CheckinJob;

static void
checkin_job_free (CheckinJob *job)
{
  g_free (job->participant_id);
  g_free (job->party_id);
  g_free (job->room_id);
  g_free (job->name);
  g_free (job->workplace);
  g_free (job->receipt_hash);
  g_free (job);
}

/* The person joins the screen's party after its last member, unless the
 * party is gone or full; read and write in one transaction, so two
 * check-ins at one screen never take the same place. */
static gboolean
add_checked_in (KkDb *db, gpointer user_data, GError **error)
{
  CheckinJob *job = user_data;
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, "SELECT count(*),"
      " coalesce (max (ord), -1) FROM participants WHERE party_id = ?1",
      error);
  gint64 count, last;

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->party_id);
  if (!kk_db_step_row (stmt, error))
    return FALSE;
  count = kk_db_column_int64 (stmt, 0);
  last = kk_db_column_int64 (stmt, 1);
  g_clear_pointer (&stmt, kk_db_stmt_free);
  if (count == 0) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_FORBIDDEN,
        "the screen's code is no longer valid");
    return FALSE;
  }
  if (count >= KK_CHECKIN_MAX_PER_PARTY) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_CONFLICT,
        "at most %d people can be registered at one screen",
        KK_CHECKIN_MAX_PER_PARTY);
    return FALSE;
  }

  stmt = kk_db_prepare (db, "INSERT INTO participants (id, party_id,"
      " room_id, ord, name, workplace, created_at) VALUES (?,?,?,?,?,?,?)",
      error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->participant_id);
  kk_db_bind_text (stmt, 2, job->party_id);
  kk_db_bind_text (stmt, 3, job->room_id);
  kk_db_bind_int64 (stmt, 4, last + 1);
  kk_db_bind_text (stmt, 5, job->name);
  kk_db_bind_text (stmt, 6, job->workplace);
  kk_db_bind_int64 (stmt, 7, job->wall_us);
  if (!kk_db_step_done (stmt, error))
    return FALSE;
  g_clear_pointer (&stmt, kk_db_stmt_free);

  stmt = kk_db_prepare (db, "INSERT INTO att_checkins (participant_id,"
      " room_id, party_id, checked_in_at, receipt_hash) VALUES (?,?,?,?,?)",
      error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, job->participant_id);
  kk_db_bind_text (stmt, 2, job->room_id);
  kk_db_bind_text (stmt, 3, job->party_id);
  kk_db_bind_int64 (stmt, 4, job->now_us);
  kk_db_bind_text (stmt, 5, job->receipt_hash);
  return kk_db_step_done (stmt, error);
}

static gpointer
checkin_job (KkDb *db, gpointer job_data, GError **error)
{
  if (!kk_db_transaction (db, add_checked_in, job_data, error))
    return NULL;
  return GINT_TO_POINTER (1);
}

static void
checked_in (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoster *roster = g_task_get_source_object (task);
  KkCheckin *checkin = g_task_get_task_data (task);
  GError *error = NULL;
  g_autofree char *hash = NULL;

  /* The task data is the caller's result, or nothing: it was set without
   * a destroy notify so that it can change hands here. */
  if (kk_store_run_finish (KK_STORE (source), result, &error) == NULL) {
    kk_checkin_free (checkin);
    g_task_return_error (task, error);
    return;
  }
  hash = kk_store_hash_token (checkin->receipt);
  add_receipt (roster, hash, checkin->participant_id, checkin->party_id,
      checkin->room_id);
  g_info ("room %s: participant %s checked in at the screen of party %s",
      checkin->room_id, checkin->participant_id, checkin->party_id);
  g_task_return_pointer (task, checkin, (GDestroyNotify) kk_checkin_free);
}

void
kk_roster_checkin_async (KkRoster *roster, const char *room_id,
    const char *code_text, const char *name, const char *workplace,
    const char *client, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (roster, NULL, callback, user_data);
  g_autofree char *key = kk_rate_limit_client_key (client);
  g_autofree char *text = kk_roster_normalise_code (code_text);
  g_autoptr (GError) local = NULL;
  gint64 now = g_get_monotonic_time ();
  KkCheckin *checkin;
  CheckinCode *code;
  CheckinJob *job;

  if (!kk_room_validate_text ("name", name, 1, KK_ROOM_NAME_MAX, &local)
      || !kk_room_validate_text ("workplace", workplace, 0,
          KK_ROOM_WORKPLACE_MAX, &local)
      || !kk_roster_check_no_national_id ("name", name, &local)
      || !kk_roster_check_no_national_id ("workplace", workplace, &local)) {
    g_task_return_new_error (task, KK_ATTENDANCE_ERROR,
        KK_ATTENDANCE_ERROR_INVALID, "%s", local->message);
    return;
  }
  if (kk_rate_limit_check (roster->failures, key, now) > 0) {
    g_task_return_new_error (task, KK_ATTENDANCE_ERROR,
        KK_ATTENDANCE_ERROR_LIMITED, "too many wrong codes from here; "
        "wait a minute and try again");
    return;
  }
  code = g_hash_table_lookup (roster->codes, text);
  if (code == NULL || code->expires_mono_us <= now
      || g_strcmp0 (code->room_id, room_id) != 0) {
    kk_rate_limit_charge (roster->failures, key, now);
    g_task_return_new_error (task, KK_ATTENDANCE_ERROR,
        KK_ATTENDANCE_ERROR_FORBIDDEN, "no such code here: type the code "
        "the screen shows now");
    return;
  }
  if (now - code->window_start_us >= 60 * G_USEC_PER_SEC) {
    code->window_start_us = now;
    code->window_uses = 0;
  }
  if (code->window_uses >= KK_CHECKIN_PER_CODE_PER_MINUTE) {
    g_task_return_new_error (task, KK_ATTENDANCE_ERROR,
        KK_ATTENDANCE_ERROR_LIMITED, "too many check-ins at this screen in "
        "a minute; try again shortly");
    return;
  }
  code->window_uses++;

  checkin = g_new0 (KkCheckin, 1);
  checkin->participant_id = g_uuid_string_random ();
  checkin->party_id = g_strdup (code->party_id);
  checkin->room_id = g_strdup (code->room_id);
  checkin->receipt = kk_store_new_token ();
  checkin->checked_in_us = g_get_real_time ();
  g_task_set_task_data (task, checkin, NULL);

  job = g_new0 (CheckinJob, 1);
  job->participant_id = g_strdup (checkin->participant_id);
  job->party_id = g_strdup (checkin->party_id);
  job->room_id = g_strdup (checkin->room_id);
  job->name = g_strdup (name);
  job->workplace = g_strdup (workplace);
  job->receipt_hash = kk_store_hash_token (checkin->receipt);
  job->now_us = kk_attendance_log_now (roster->log);
  job->wall_us = checkin->checked_in_us;
  kk_store_run_async (roster->store, checkin_job, job,
      (GDestroyNotify) checkin_job_free, NULL, checked_in,
      g_steal_pointer (&task));
}

KkCheckin *
kk_roster_checkin_finish (KkRoster *roster, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, roster), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

KkTokenResult
kk_roster_check_receipt (KkRoster *roster, const char *room_id,
    const char *token, char **participant_id, char **party_id)
{
  g_autofree char *hash = NULL;
  Receipt *receipt;

  g_return_val_if_fail (KK_IS_ROSTER (roster), KK_TOKEN_UNKNOWN);

  if (participant_id != NULL)
    *participant_id = NULL;
  if (party_id != NULL)
    *party_id = NULL;
  if (token == NULL)
    return KK_TOKEN_UNKNOWN;
  hash = kk_store_hash_token (token);
  receipt = g_hash_table_lookup (roster->receipts, hash);
  if (receipt == NULL)
    return KK_TOKEN_UNKNOWN;
  if (room_id != NULL && g_strcmp0 (receipt->room_id, room_id) != 0)
    return KK_TOKEN_WRONG_ROOM;
  if (participant_id != NULL)
    *participant_id = g_strdup (receipt->participant_id);
  if (party_id != NULL)
    *party_id = g_strdup (receipt->party_id);
  return KK_TOKEN_OK;
}

/* ---- erasure ---- */

void
kk_erasure_free (KkErasure *erasure)
{
  if (erasure == NULL)
    return;
  g_free (erasure->room_id);
  g_free (erasure);
}

typedef struct {
  char *participant_id;
  gint64 now_us;                /* steady */
  gint64 wall_us;
  /* The roster's erasers as when queued (borrowed: the task holds the
   * roster, which owns their user data). */
  Eraser *erasers;
  guint n_erasers;
  /* Set by the job: */
  char *party_id;
  KkErasure *erasure;
  gpointer *erased;             /* what each eraser removed, or NULL */
} EraseJob;

/* Frees what each eraser said it removed: told, or rolled back. */
static void
erase_job_clear_erased (EraseJob *job)
{
  for (guint i = 0; i < job->n_erasers; i++) {
    if (job->erased[i] != NULL && job->erasers[i].eraser.erased_free != NULL)
      job->erasers[i].eraser.erased_free (job->erased[i]);
    job->erased[i] = NULL;
  }
}

static void
erase_job_free (EraseJob *job)
{
  erase_job_clear_erased (job);
  g_free (job->participant_id);
  g_free (job->party_id);
  g_free (job->erasers);
  g_free (job->erased);
  kk_erasure_free (job->erasure);
  g_free (job);
}

/* Runs @sql with ?1 = @key and adds the rows it changed to @changes. */
static gboolean
delete_rows (KkDb *db, const char *sql, const char *key, guint *changes,
    GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, key);
  if (!kk_db_step_done (stmt, error))
    return FALSE;
  if (changes != NULL)
    *changes += kk_db_changes (db);
  return TRUE;
}

static gboolean
count_rows (KkDb *db, const char *sql, const char *key, gint64 *count,
    GError **error)
{
  g_autoptr (KkDbStmt) stmt = kk_db_prepare (db, sql, error);

  *count = 0;
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, key);
  if (!kk_db_step_row (stmt, error))
    return FALSE;
  *count = kk_db_column_int64 (stmt, 0);
  return TRUE;
}

/* The person, and their screen's evidence when it was theirs alone, in
 * one transaction; kept as a raw event that says what was erased (but not
 * whom). */
static gboolean
erase_person (KkDb *db, gpointer user_data, GError **error)
{
  EraseJob *job = user_data;
  const char *pid = job->participant_id;
  const char *party = job->party_id;
  KkErasure *e = job->erasure;
  gboolean alone = e->party_erased;
  g_autoptr (KkDbStmt) stmt = NULL;

  if (!delete_rows (db, "DELETE FROM att_overrides WHERE participant_id = ?1",
          pid, NULL, error)
      || !delete_rows (db, "DELETE FROM att_code_answers"
          " WHERE participant_id = ?1", pid, NULL, error)
      || !delete_rows (db, "DELETE FROM att_prompt_answers"
          " WHERE participant_id = ?1", pid, NULL, error)
      || !delete_rows (db, "DELETE FROM att_events WHERE"
          " (kind = 'override' AND subject = ?1) OR (kind IN ('code-answer',"
          " 'prompt-answer') AND detail = ?1)", pid, &e->events, error)
      || !delete_rows (db, "DELETE FROM att_people WHERE participant_id = ?1",
          pid, NULL, error)
      || !delete_rows (db, "DELETE FROM att_checkins"
          " WHERE participant_id = ?1", pid, NULL, error)
      || !delete_rows (db, "DELETE FROM participants WHERE id = ?1", pid,
          NULL, error))
    return FALSE;

  if (alone) {
    /* Everything of a screen that was theirs alone. */
    if (!delete_rows (db, "DELETE FROM att_events WHERE party_id = ?1", party,
            &e->events, error)
        || !delete_rows (db, "DELETE FROM att_connections WHERE party_id = ?1",
            party, &e->connections, error)
        || !delete_rows (db, "DELETE FROM att_code_answers"
            " WHERE party_id = ?1", party, NULL, error)
        || !delete_rows (db, "DELETE FROM att_prompt_answers"
            " WHERE party_id = ?1", party, NULL, error)
        || !delete_rows (db, "DELETE FROM parties WHERE id = ?1", party, NULL,
            error))
      return FALSE;
  } else {
    /* The store keeps the token holder's name on the party too. */
    if (!delete_rows (db, "UPDATE parties SET name = '', workplace = ''"
            " WHERE id = ?1", party, NULL, error))
      return FALSE;
  }
  for (guint i = 0; i < job->n_erasers; i++)
    if (!job->erasers[i].eraser.erase (db, pid, party, alone,
            &job->erased[i], error))
      return FALSE;

  stmt = kk_db_prepare (db, "INSERT INTO att_events (room_id, kind, subject,"
      " at, wall_at, detail) VALUES (?1, 'erasure', '', ?2, ?3, ?4)", error);
  if (stmt == NULL)
    return FALSE;
  kk_db_bind_text (stmt, 1, e->room_id);
  kk_db_bind_int64 (stmt, 2, job->now_us);
  kk_db_bind_int64 (stmt, 3, job->wall_us);
  kk_db_bind_text (stmt, 4, alone ? "a participant and their connections "
      "erased on request" : "a participant erased on request");
  return kk_db_step_done (stmt, error);
}

static gpointer
erase_job (KkDb *db, gpointer job_data, GError **error)
{
  EraseJob *job = job_data;
  g_autoptr (KkDbStmt) stmt = NULL;
  g_autoptr (GError) checkpoint_error = NULL;
  gint64 people = 0, open = 0;
  KkDbStep step;

  stmt = kk_db_prepare (db, "SELECT party_id, room_id FROM participants"
      " WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  kk_db_bind_text (stmt, 1, job->participant_id);
  step = kk_db_step (stmt, error);
  if (step == KK_DB_ROW) {
    job->party_id = kk_db_column_dup (stmt, 0);
    job->erasure = g_new0 (KkErasure, 1);
    job->erasure->room_id = kk_db_column_dup (stmt, 1);
  }
  g_clear_pointer (&stmt, kk_db_stmt_free);
  if (step == KK_DB_ERROR)
    return NULL;
  if (job->erasure == NULL) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_NOT_FOUND,
        "no participant %s", job->participant_id);
    return NULL;
  }
  if (!count_rows (db, "SELECT count(*) FROM participants"
          " WHERE party_id = ?1", job->party_id, &people, error))
    return NULL;
  job->erasure->party_erased = people <= 1;
  if (job->erasure->party_erased
      && !count_rows (db, "SELECT count(*) FROM att_connections"
          " WHERE party_id = ?1 AND left_at IS NULL", job->party_id, &open,
          error))
    return NULL;
  if (open > 0) {
    g_set_error (error, KK_ATTENDANCE_ERROR, KK_ATTENDANCE_ERROR_CONFLICT,
        "participant %s is watching now; erase them after they leave",
        job->participant_id);
    return NULL;
  }

  /* Overwrite what is deleted, rather than leave it in free pages. */
  if (!kk_db_secure_delete (db, error)
      || !kk_db_transaction (db, erase_person, job, error))
    return NULL;
  /* And out of the write-ahead log, which still holds the pages as they
   * were. A failure here leaves them until the next automatic
   * checkpoint. */
  if (!kk_db_checkpoint (db, &checkpoint_error))
    g_warning ("roster: checkpoint after an erasure: %s",
        checkpoint_error->message);
  return g_steal_pointer (&job->erasure);
}

static void
erased (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  KkRoster *roster = g_task_get_source_object (task);
  EraseJob *job = g_task_get_task_data (task);
  GError *error = NULL;
  KkErasure *erasure;
  GHashTableIter iter;
  gpointer value;

  erasure = kk_store_run_finish (KK_STORE (source), result, &error);
  if (erasure == NULL) {
    g_task_return_error (task, error);
    return;
  }
  /* Committed: the modules above tell those who follow them live. */
  for (guint i = 0; i < job->n_erasers; i++)
    if (job->erasers[i].eraser.erased_func != NULL)
      job->erasers[i].eraser.erased_func (job->erased[i],
          job->erasers[i].user_data);
  g_hash_table_iter_init (&iter, roster->receipts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (((Receipt *) value)->participant_id,
            job->participant_id))
      g_hash_table_iter_remove (&iter);
  if (erasure->party_erased) {
    const char *code = g_hash_table_lookup (roster->party_codes,
        job->party_id);

    if (code != NULL)
      drop_code (roster, g_hash_table_lookup (roster->codes, code));
    kk_room_registry_remove_party (roster->registry, job->party_id);
  }
  g_info ("room %s: participant %s erased on request (%u connections, "
      "%u raw events%s)", erasure->room_id, job->participant_id,
      erasure->connections, erasure->events,
      erasure->party_erased ? ", their token" : "");
  g_task_return_pointer (task, erasure, (GDestroyNotify) kk_erasure_free);
}

void
kk_roster_erase_async (KkRoster *roster, const char *participant_id,
    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (roster, NULL, callback, user_data);
  EraseJob *job = g_new0 (EraseJob, 1);

  job->participant_id = g_strdup (participant_id);
  job->n_erasers = roster->erasers->len;
  job->erasers = g_memdup2 (roster->erasers->data,
      sizeof (Eraser) * roster->erasers->len);
  job->erased = g_new0 (gpointer, roster->erasers->len);
  job->now_us = kk_attendance_log_now (roster->log);
  job->wall_us = g_get_real_time ();
  g_task_set_task_data (task, job, (GDestroyNotify) erase_job_free);
  /* After every event received until now: a connection that just ended
   * is closed in the store by then. */
  kk_attendance_log_flush (roster->log);
  kk_store_run_async (roster->store, erase_job, job, NULL,
      (GDestroyNotify) kk_erasure_free, erased, task);
}

void
kk_roster_add_eraser (KkRoster *roster, const KkRosterEraser *eraser,
    gpointer user_data, GDestroyNotify user_data_free)
{
  Eraser entry = { *eraser, user_data, user_data_free };

  g_return_if_fail (KK_IS_ROSTER (roster));
  g_return_if_fail (eraser->erase != NULL);

  g_array_append_val (roster->erasers, entry);
}

KkErasure *
kk_roster_erase_finish (KkRoster *roster, GAsyncResult *result,
    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, roster), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
