/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-roster: who may attend a room, beyond those who join on their own.
 *
 * - Pre-registration: the coordinator imports a list of people (JSON, or
 *   CSV as Excel or a script writes it: name, workplace, optional e-mail,
 *   optional HPR number). Each becomes a party of one with a personal
 *   viewer token, handed out once as the invitation link
 *   /watch/{room}#token=TOKEN. Tokens are stored only as their hash, so a
 *   lost link cannot be shown again: re-issuing makes a new token and
 *   the old one stops working.
 * - Access: a room is open (anyone may join) or by invitation (join is
 *   refused; only pre-registered tokens work).
 * - Check-in: colleagues at one screen register from their own phones
 *   with a short code the screen shows (its party's), without a second
 *   video stream. Each becomes a participant of that party, counted from
 *   the moment they checked in, and gets a receipt: a token that answers
 *   presence checks as them and opens nothing else (no WHEP).
 *
 * People are keyed by an opaque id (a random UUID). The HPR number (the
 * Norwegian register of health personnel) is optional; a national
 * identity number is never accepted, in any field.
 *
 * Main thread. The data is in the store (parties and participants, as a
 * join makes them, plus att_people and att_access, tables of the
 * store's migration list), written by jobs on the store's thread; the
 * registry learns of new, changed and removed tokens once they are on disk.
 */
#pragma once

#include <gio/gio.h>

#include "kk-attendance-log.h"
#include "kk-room.h"
#include "kk-store.h"

G_BEGIN_DECLS

#define KK_ROSTER_MAX_PEOPLE KK_CSV_MAX_ROWS
#define KK_ROSTER_EMAIL_MAX 254
/* HPR numbers are sequence numbers of up to nine digits. */
#define KK_ROSTER_HPR_MAX_DIGITS 9

/* One person of an import, validated and trimmed. */
typedef struct {
  guint line;                 /* CSV line, or 1-based index in a JSON list */
  char *name;
  char *workplace;            /* "" when not given */
  char *email;                /* nullable */
  char *hpr;                  /* nullable; digits only */
} KkRosterEntry;

void kk_roster_entry_free (KkRosterEntry *entry);

/* 1 to %KK_ROSTER_HPR_MAX_DIGITS ASCII digits. */
gboolean kk_roster_validate_hpr (const char *hpr, GError **error);
/* local@domain, at most %KK_ROSTER_EMAIL_MAX bytes, no space or control
 * characters, a dot in the domain. Not a deliverability check. */
gboolean kk_roster_validate_email (const char *email, GError **error);
/* Refuses @text if it holds eleven digits in a row (spaces and dots
 * between them ignored): the shape of a Norwegian national identity
 * number (fødselsnummer or D-number), which must never be stored. @what
 * names the field in the message. */
gboolean kk_roster_check_no_national_id (const char *what, const char *text,
    GError **error);

/**
 * kk_roster_parse_json:
 *
 * A JSON import: `[{"name": string, "workplace": string, "email": string,
 * "hpr": string or integer}, ...]` (only name required), or the same list
 * as `{"participants": [...]}`. Unknown members are refused.
 *
 * Returns: (transfer full) (element-type KkRosterEntry): at least one
 * entry, or NULL with %KK_ATTENDANCE_ERROR_INVALID naming the entry.
 */
GPtrArray *kk_roster_parse_json (const char *data, gsize length,
    GError **error);

/**
 * kk_roster_parse_csv:
 *
 * A CSV import, read by kk_csv_parse() (Norwegian Excel: BOM and ';', or
 * RFC 4180: ','). The first line names the columns, in any order and
 * case: name/navn, workplace/arbeidssted, email/e-post, hpr/hpr-nummer
 * (see kk-roster.c for every spelling). A name column is required; any
 * other column is refused, so that a sheet with identity numbers is
 * turned away rather than half-read.
 *
 * Returns: (transfer full) (element-type KkRosterEntry): at least one
 * entry, or NULL with %KK_ATTENDANCE_ERROR_INVALID naming the line.
 */
GPtrArray *kk_roster_parse_csv (const char *data, gsize length,
    GError **error);

/* What an import, or a re-issue, did for one person. */
typedef struct {
  guint line;                 /* of the import; 0 for a re-issue */
  char *room_id;
  char *participant_id;
  char *name;
  char *workplace;
  char *email;                /* nullable */
  char *hpr;                  /* nullable */
  char *token;                /* the new token; NULL when skipped */
  char *skipped;              /* nullable: why no one new was made */
} KkInvitation;

void kk_invitation_free (KkInvitation *invitation);

/* A person in a room, as the coordinator lists them. */
typedef struct {
  char *participant_id;
  char *party_id;
  char *name;
  char *workplace;
  char *email;                /* nullable */
  char *hpr;                  /* nullable */
  const char *kind;           /* "invited", "joined", "colleague" or
                               * "checked-in" */
  gint64 created_us;          /* wall clock */
  gint64 token_issued_us;     /* invited: the current token's; else 0 */
  gboolean connected_ever;    /* any connection of their party, ever */
} KkRosterPerson;

void kk_roster_person_free (KkRosterPerson *person);

#define KK_TYPE_ROSTER (kk_roster_get_type ())
G_DECLARE_FINAL_TYPE (KkRoster, kk_roster, KK, ROSTER, GObject)

/**
 * kk_roster_new:
 * @log: its clock stamps invitations
 *
 * Loads every room's access mode from the store, synchronously (startup
 * only), and sets it on @registry's rooms.
 *
 * Returns: (transfer full): the roster, or NULL with @error.
 */
KkRoster *kk_roster_new (KkStore *store, KkRoomRegistry *registry,
    KkAttendanceLog *log, GError **error);

/**
 * kk_roster_invite_async:
 * @entries: (element-type KkRosterEntry): from a parser; copied
 *
 * Pre-registers @entries in @room_id, all in one transaction. A person
 * whose HPR number or e-mail address is already pre-registered in the
 * room (or earlier in @entries) is skipped, not doubled. Fails with
 * %KK_ATTENDANCE_ERROR_NOT_FOUND for an unknown room.
 */
void kk_roster_invite_async (KkRoster *roster, const char *room_id,
    GPtrArray *entries, GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full) (element-type KkInvitation): one per entry, in
 * order; NULL with @error. */
GPtrArray *kk_roster_invite_finish (KkRoster *roster, GAsyncResult *result,
    GError **error);

/**
 * kk_roster_reissue_async:
 *
 * A new token for a pre-registered person; the old one is refused from
 * now on (connections made with it go on). %KK_ATTENDANCE_ERROR_NOT_FOUND
 * for an unknown person, %KK_ATTENDANCE_ERROR_CONFLICT for one who was
 * not pre-registered (their token is their own).
 */
void kk_roster_reissue_async (KkRoster *roster, const char *participant_id,
    GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full): the invitation, or NULL with @error. */
KkInvitation *kk_roster_reissue_finish (KkRoster *roster,
    GAsyncResult *result, GError **error);

/* Everyone in @room_id, pre-registered or not, by name. Finish returns
 * (transfer full) (element-type KkRosterPerson). */
void kk_roster_list_async (KkRoster *roster, const char *room_id,
    GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *kk_roster_list_finish (KkRoster *roster, GAsyncResult *result,
    GError **error);

/* ---- check-in ---- */

/* Codes are made of these: no 0/O/Q, 1/I/L, 2/Z, 5/S or 8/B to mix up;
 * 24 characters, so six of them make 191 million codes. */
#define KK_CHECKIN_ALPHABET "ACDEFGHJKMNPRTUVWXY34679"
#define KK_CHECKIN_CODE_LENGTH 6
/* A code works this long after it was made; a screen asking later gets a
 * new one. Codes live in memory: after a restart, screens ask again. */
#define KK_CHECKIN_CODE_TTL_S (G_GINT64_CONSTANT (4) * 3600)
/* People at one screen, the token holder included. */
#define KK_CHECKIN_MAX_PER_PARTY 50
/* Check-ins with one code per minute (a room full of people may check in
 * at once; a script may not fill the screen with names). */
#define KK_CHECKIN_PER_CODE_PER_MINUTE 30
/* Failed attempts (unknown or expired codes) per client address: a burst
 * of this many, then one more per KK_CHECKIN_FAILURE_REFILL_S. IPv6
 * addresses count per /64, which one client controls whole. */
#define KK_CHECKIN_FAILURE_BURST 10
#define KK_CHECKIN_FAILURE_REFILL_S 6

/* A random code of @length characters of %KK_CHECKIN_ALPHABET, from
 * OpenSSL's CSPRNG, each character equally likely. Returns: (transfer
 * full). */
char *kk_roster_random_code (guint length);
/* A code as typed, made comparable: upper case, without spaces and '-',
 * at most 17 characters kept. Returns: (transfer full). */
char *kk_roster_normalise_code (const char *text);

/**
 * kk_roster_get_checkin_code:
 * @expires_us: (out) (optional): when it stops working, wall clock
 *
 * The check-in code of @party_id's screen: the current one, or a new one
 * when it has none or it expired.
 *
 * Returns: (transfer full): the code, %KK_CHECKIN_CODE_LENGTH characters
 * of %KK_CHECKIN_ALPHABET.
 */
char *kk_roster_get_checkin_code (KkRoster *roster, const char *room_id,
    const char *party_id, gint64 *expires_us);

typedef struct {
  char *participant_id;
  char *party_id;
  char *room_id;
  char *receipt;              /* shown once, stored hashed */
  gint64 checked_in_us;       /* wall clock */
} KkCheckin;

void kk_checkin_free (KkCheckin *checkin);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkCheckin, kk_checkin_free)

/**
 * kk_roster_checkin_async:
 * @code: as typed: case, spaces and '-' do not matter
 * @name, @workplace: validated here (%KK_ATTENDANCE_ERROR_INVALID)
 * @client: the caller's address, for the rate limit
 *
 * Adds a person to the party whose screen shows @code. Fails with
 * %KK_ATTENDANCE_ERROR_FORBIDDEN for a code that is unknown, expired or
 * of another room (a failed attempt), %KK_ATTENDANCE_ERROR_LIMITED when
 * @client failed too often or the code was used too often lately, and
 * %KK_ATTENDANCE_ERROR_CONFLICT when the screen is full.
 */
void kk_roster_checkin_async (KkRoster *roster, const char *room_id,
    const char *code, const char *name, const char *workplace,
    const char *client, GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full): the check-in, or NULL with @error. */
KkCheckin *kk_roster_checkin_finish (KkRoster *roster, GAsyncResult *result,
    GError **error);

/**
 * kk_roster_check_receipt:
 * @room_id: (nullable): the room it is used for; NULL for any
 * @participant_id, @party_id: (out) (optional) (transfer full): on
 *   %KK_TOKEN_OK
 *
 * Whether @token is a check-in receipt, found by its hash like viewer
 * tokens.
 */
KkTokenResult kk_roster_check_receipt (KkRoster *roster, const char *room_id,
    const char *token, char **participant_id, char **party_id);

/* ---- erasure ---- */

/* What erasing one person removed. */
typedef struct {
  char *room_id;
  gboolean party_erased;      /* they watched alone: their token is gone */
  guint connections;          /* connection rows removed */
  guint events;               /* raw events removed */
} KkErasure;

/**
 * kk_roster_erase_async:
 *
 * Erases @participant_id on request: their participant row, pre-
 * registration, check-in and receipt, overrides, presence-check answers
 * and the raw events that name them; and if they watched alone (their
 * party had no one else), the party, its token, its connections and
 * their events too. What stays is anonymous: the sessions, and other
 * people's evidence (a group's connections stay theirs). Deleted content
 * is overwritten in the database file (secure_delete) and the WAL is
 * checkpointed, so the name does not linger on disk; one raw event
 * without any id records that an erasure took place.
 *
 * %KK_ATTENDANCE_ERROR_NOT_FOUND for an unknown person,
 * %KK_ATTENDANCE_ERROR_CONFLICT while a party of theirs alone is
 * connected (try again after they leave).
 */
void kk_roster_erase_async (KkRoster *roster, const char *participant_id,
    GAsyncReadyCallback callback, gpointer user_data);
/* Returns: (transfer full): what was removed, or NULL with @error. */
KkErasure *kk_roster_erase_finish (KkRoster *roster, GAsyncResult *result,
    GError **error);
void kk_erasure_free (KkErasure *erasure);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkErasure, kk_erasure_free)

/**
 * KkRosterEraser:
 * @erase: erases what a module above the roster keeps of @participant_id
 *   (and of @party_id when @party_erased: the person's screen was theirs
 *   alone and goes too). Runs on the store's thread inside the erasure's
 *   transaction, so it touches nothing but @db: returning FALSE with
 *   @error rolls the whole erasure back. It may set @erased (transfer
 *   full) to what it removed, for @erased_func.
 * @erased_func: (nullable): runs on the main context once the erasure is
 *   committed, with what @erase set (NULL if nothing) and the user data
 *   given to kk_roster_add_eraser(): how a module tells those following
 *   it live (a page open across the erasure) that something is gone
 * @erased_free: (nullable): frees what @erase set, after @erased_func or
 *   when the erasure failed
 *
 * A module above the roster's share of every erasure, handed over in
 * kk-relay.c: the roster knows no module above it by name.
 */
typedef struct {
  gboolean (*erase) (KkDb *db, const char *participant_id,
      const char *party_id, gboolean party_erased, gpointer *erased,
      GError **error);
  void (*erased_func) (gpointer erased, gpointer user_data);
  GDestroyNotify erased_free;
} KkRosterEraser;

/* Adds @eraser (copied) to every erasure from now on (at startup, in
 * kk-relay.c); @user_data is freed with @user_data_free when the roster
 * is. */
void kk_roster_add_eraser (KkRoster *roster, const KkRosterEraser *eraser,
    gpointer user_data, GDestroyNotify user_data_free);

/* ---- access ---- */

/* Stores @room_id's access mode, then sets it on the room. */
void kk_roster_set_access_async (KkRoster *roster, const char *room_id,
    KkRoomAccess access, GAsyncReadyCallback callback, gpointer user_data);
gboolean kk_roster_set_access_finish (KkRoster *roster, GAsyncResult *result,
    GError **error);

G_END_DECLS
