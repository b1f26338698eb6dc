/*
 * A game folder's layout and the sizes of the names we pass around, in one
 * place for every process.
 *
 *   GAMES/<id>/version.ini            what a complete download commits last
 *   GAMES/<id>/<archives...>          what peers serve
 *   GAMES/<id>/local/                 the installed game (never served)
 *   GAMES/<id>/.local.installing/     an install being extracted or streamed
 *   GAMES/<id>/.lanspread.staging/    a download being fetched
 */
#ifndef LANSPREAD_LAYOUT_H
#define LANSPREAD_LAYOUT_H

#define VERSION_FILE		"version.ini"
#define LOCAL_DIR		"local"
#define INSTALLING_DIR		".local.installing"
#define STAGING_DIR		".lanspread.staging"
#define METADATA_PREFIX		".lanspread"	/* ours: never served */

/* Buffer sizes, terminating NUL included. */
#define GAME_ID_SIZE		65	/* 1..64 of [A-Za-z0-9._-] */
#define PEER_ID_LEN		32	/* hex digits */
#define PEER_ID_SIZE		(PEER_ID_LEN + 1)
#define PEER_NAME_SIZE		64
#define VERSION_SIZE		64
#define ERROR_SIZE		512	/* an error text that crosses a link */
#define PLAY_FIELD_SIZE		128	/* a player's name or language */

/* 1 if id is PEER_ID_LEN lowercase hex digits; else 0. */
int	peer_id_is_valid(const char *id);

/*
 * Calls fn for each folder of the games folder named like a game id, with
 * that folder open (never through a symbolic link), until fn returns
 * non-zero. Returns 0, what fn returned, or -1 with errno set when the
 * folder cannot be read.
 */
typedef int	(*games_each_cb)(int game_fd, const char *game_id, void *arg);
int	games_each(int games_fd, games_each_cb, void *arg);

#endif
