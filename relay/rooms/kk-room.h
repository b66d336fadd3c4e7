/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kk-room: rooms (one lecture series each: title, recording policy, host
 * token, ingest source, and the live state the media side reports) and the
 * registry that owns them and the viewer parties that joined them.
 *
 * Everything here lives on the main thread. The registry is loaded from
 * the store at startup (config [room] sections merged in) and writes every
 * change through the store before reporting success, so what a client was
 * told exists survives a restart.
 *
 * What a room id, a title, a name, etc. may be is defined once, in
 * kk-room-rules.h (base layer), which this header includes.
 */
#pragma once

#include <gio/gio.h>

#include "kk-config.h"
#include "kk-room-rules.h"
#include "kk-store.h"

G_BEGIN_DECLS

/* All of kk-room-rules.h for the fields of @room (host_token is not
 * checked). */
gboolean kk_room_config_validate (const KkRoomConfig *room, GError **error);

#define KK_TYPE_ROOM (kk_room_get_type ())
G_DECLARE_FINAL_TYPE (KkRoom, kk_room, KK, ROOM, GObject)

/* Settings. The coordinator changes title, record and completion ratio
 * (kk_room_registry_edit_room_async ()); the rest is fixed for the room's
 * life. Strings: (transfer none), owned by the room, valid until the next
 * edit: copy them to keep them across a return to the main loop. */
const char *kk_room_get_id (KkRoom *room);
const char *kk_room_get_title (KkRoom *room);
gboolean kk_room_get_record (KkRoom *room);
double kk_room_get_completion_ratio (KkRoom *room);
const char *kk_room_get_host_token (KkRoom *room);
const char *kk_room_get_source (KkRoom *room);
const char *kk_room_get_source_uri (KkRoom *room);    /* nullable */

/* Live state, set by the media side on the main thread. Each change
 * notifies the matching property ("live", "session-id", "viewer-count").
 * @session_id (nullable) is the store's session of the broadcast; it is
 * cleared when @live is FALSE. */
void kk_room_set_live (KkRoom *room, gboolean live, const char *session_id);
void kk_room_set_viewer_count (KkRoom *room, guint count);
gboolean kk_room_get_live (KkRoom *room);
const char *kk_room_get_session_id (KkRoom *room);    /* nullable */
guint kk_room_get_viewer_count (KkRoom *room);

/* The audience: of the parties with a connection receiving media, how
 * many distinct workplaces their people gave (compared without case;
 * people who gave none are not a workplace), and how many people they
 * are (colleagues at a shared screen and those who checked in at it
 * count). Kept by the registry (kk_room_registry_viewer_connected ()); a
 * party whose people have not been read yet counts as one person and no
 * workplace. */
guint kk_room_get_workplace_count (KkRoom *room);
guint kk_room_get_people_count (KkRoom *room);

/* Who may join. The coordinator changes it at run time (kk-roster keeps
 * it in the store and sets it at startup); new rooms are open. */
typedef enum {
  KK_ROOM_ACCESS_OPEN,        /* anyone may join (self-registration) */
  KK_ROOM_ACCESS_INVITATION,  /* join is refused: only pre-registered tokens */
} KkRoomAccess;

/* "open", "invitation". */
const char *kk_room_access_to_string (KkRoomAccess access);
gboolean kk_room_access_from_string (const char *text, KkRoomAccess *access);
void kk_room_set_access (KkRoom *room, KkRoomAccess access);
KkRoomAccess kk_room_get_access (KkRoom *room);

typedef enum {
  KK_TOKEN_OK,
  KK_TOKEN_UNKNOWN,           /* no such token: HTTP 401 */
  KK_TOKEN_WRONG_ROOM,        /* a token of another room: HTTP 403 */
} KkTokenResult;

/* What a successful join made. */
typedef struct {
  char *party_id;
  char *participant_id;       /* the token holder */
  char *token;                /* the viewer token; only ever shown once */
  GPtrArray *colleague_ids;   /* element-type utf8, in the order given */
} KkJoinResult;

void kk_join_result_free (KkJoinResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkJoinResult, kk_join_result_free)

/* A change to a room's settings (PATCH /api/rooms/{room}); what is not
 * set stays as it is. */
typedef struct {
  char *title;                /* nullable: unchanged */
  gboolean set_record;
  gboolean record;
  gboolean set_completion_ratio;
  double completion_ratio;
  /* Access is kk-roster's to store (kk_roster_set_access_async ()); the
   * registry's edit leaves it alone. */
  gboolean set_access;
  KkRoomAccess access;
} KkRoomEdit;

void kk_room_edit_free (KkRoomEdit *edit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KkRoomEdit, kk_room_edit_free)

#define KK_TYPE_ROOM_REGISTRY (kk_room_registry_get_type ())
G_DECLARE_FINAL_TYPE (KkRoomRegistry, kk_room_registry, KK, ROOM_REGISTRY,
    GObject)

/**
 * kk_room_registry_new:
 * @store: the open store (a reference is taken)
 * @config: the rooms of @config->rooms are created in the store if
 *   missing (with a new host token unless the section gives one), or
 *   updated from the file if present
 *
 * Loads every room and party from @store, synchronously (startup only).
 * Rooms that exist at this point are not announced with "room-added":
 * start their sources from kk_room_registry_list().
 *
 * Returns: (transfer full): the registry, or NULL with @error.
 */
KkRoomRegistry *kk_room_registry_new (KkStore *store, const KkConfig *config,
    GError **error);

/* Returns: (transfer none) (nullable): the room @id. */
KkRoom *kk_room_registry_lookup (KkRoomRegistry *registry, const char *id);

/* Returns: (transfer full) (element-type KkRoom): all rooms, by id. */
GPtrArray *kk_room_registry_list (KkRoomRegistry *registry);

/**
 * kk_room_registry_create_room_async:
 * @room: the new room's settings (copied). With no host_token, one is made.
 *
 * Validates @room, stores it, then adds it and emits "room-added". Fails
 * with %KK_ROOM_ERROR_INVALID, %KK_ROOM_ERROR_EXISTS (also while another
 * creation of the same id is in flight) or %KK_ROOM_ERROR_FAILED.
 */
void kk_room_registry_create_room_async (KkRoomRegistry *registry,
    const KkRoomConfig *room, GAsyncReadyCallback callback,
    gpointer user_data);
/* Returns: (transfer full): the new room, or NULL with @error. */
KkRoom *kk_room_registry_create_room_finish (KkRoomRegistry *registry,
    GAsyncResult *result, GError **error);

/**
 * kk_room_registry_edit_room_async:
 * @edit: the title, record and completion ratio to change (copied; its
 *   access is ignored)
 *
 * Validates @edit, stores the changed fields of the room's row, then
 * changes the room. Only the fields given are written, so two edits of
 * different fields at once both hold. A session already live keeps the
 * rules frozen into it; "record" applies from the next broadcast. Fails
 * with %KK_ROOM_ERROR_NOT_FOUND, %KK_ROOM_ERROR_INVALID,
 * %KK_ROOM_ERROR_CONFIGURED (the room is a [room] section of the config
 * file, which would undo the change at the next start) or
 * %KK_ROOM_ERROR_FAILED. An edit that changes none of the three succeeds
 * at once, without writing.
 */
void kk_room_registry_edit_room_async (KkRoomRegistry *registry,
    const char *room_id, const KkRoomEdit *edit, GAsyncReadyCallback callback,
    gpointer user_data);
/* Returns: (transfer full): the room, or NULL with @error. */
KkRoom *kk_room_registry_edit_room_finish (KkRoomRegistry *registry,
    GAsyncResult *result, GError **error);

/**
 * kk_room_registry_join_async:
 * @workplace: (nullable): may be empty
 * @colleagues: (nullable) (array zero-terminated=1): names of the people
 *   watching at the same screen, at most %KK_ROOM_COLLEAGUES_MAX
 *
 * Creates a party (a viewer token) in @room_id with one participant for
 * the holder and one per colleague, stored before success is reported.
 * Fails with %KK_ROOM_ERROR_NOT_FOUND, %KK_ROOM_ERROR_FORBIDDEN (the room
 * is by invitation only), %KK_ROOM_ERROR_INVALID or %KK_ROOM_ERROR_FAILED.
 */
void kk_room_registry_join_async (KkRoomRegistry *registry,
    const char *room_id, const char *name, const char *workplace,
    const char *const *colleagues, GAsyncReadyCallback callback,
    gpointer user_data);
/* Returns: (transfer full): what was made, or NULL with @error. */
KkJoinResult *kk_room_registry_join_finish (KkRoomRegistry *registry,
    GAsyncResult *result, GError **error);

/**
 * kk_room_registry_check_viewer_token:
 * @room_id: (nullable): the room the token is used for; NULL for any room
 * @party_id: (out) (optional) (transfer full): the party, on %KK_TOKEN_OK
 *
 * Looks the token up by its SHA-256, so the time taken does not depend on
 * how much of a stored token a guess matches.
 */
KkTokenResult kk_room_registry_check_viewer_token (KkRoomRegistry *registry,
    const char *room_id, const char *token, char **party_id);

/**
 * kk_room_registry_check_admin_token:
 *
 * TRUE if @token is the coordinator's (KRINGKAST_ADMIN_TOKEN, or the one
 * kept in the data directory), compared in constant time (CRYPTO_memcmp of
 * SHA-256 digests). The registry loads it once, at creation.
 */
gboolean kk_room_registry_check_admin_token (KkRoomRegistry *registry,
    const char *token);

/**
 * kk_room_registry_check_host_token:
 * @room_id: (nullable): the room the token is used for; NULL for any room
 *
 * Compares against every room's host token in constant time per room
 * (CRYPTO_memcmp of SHA-256 digests), without stopping at a match.
 */
KkTokenResult kk_room_registry_check_host_token (KkRoomRegistry *registry,
    const char *room_id, const char *token);

/* For modules that store parties themselves (kk-roster: invitations,
 * re-issued tokens, erasure): make a stored party's token valid, or
 * forget a party so that its token is refused (401) from now on.
 * Connections it already has are not affected. Remove returns FALSE if
 * there was no such party. */
void kk_room_registry_add_party (KkRoomRegistry *registry,
    const char *token_hash, const char *party_id, const char *room_id);
gboolean kk_room_registry_remove_party (KkRoomRegistry *registry,
    const char *party_id);

/**
 * kk_room_registry_viewer_connected:
 * @registry: the registry that holds @room
 * @room: (transfer none): the room whose lecture the viewer receives
 * @party_id: (nullable): the viewer's party; NULL is not counted
 *
 * Keeps the audience of @room (kk_room_get_workplace_count ()): a
 * connection of @party_id started receiving (the lecture's
 * viewer-connected signal). On the party's first connection its people
 * and their workplaces are read from the store.
 */
void kk_room_registry_viewer_connected (KkRoomRegistry *registry,
    KkRoom *room, const char *party_id);
/**
 * kk_room_registry_viewer_left:
 * @registry: the registry that holds @room
 * @room: (transfer none): the room whose lecture the viewer left
 * @party_id: (nullable): the viewer's party; NULL is not counted
 *
 * The lecture's viewer-left signal, following exactly one
 * kk_room_registry_viewer_connected () for the same connection: the party
 * leaves the audience with its last connection.
 */
void kk_room_registry_viewer_left (KkRoomRegistry *registry, KkRoom *room,
    const char *party_id);

/* Reads again the people of @party_id if it is watching @room_id: for
 * modules that add people to a party (a colleague checking in). */
void kk_room_registry_refresh_party (KkRoomRegistry *registry,
    const char *room_id, const char *party_id);

G_END_DECLS
