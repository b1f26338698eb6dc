/*
 * First-play launch settings of an installed game: the player's name and
 * language stamped into the files the game's emulated Steam reads.
 */
#ifndef LANSPREAD_LAUNCH_SETTINGS_H
#define LANSPREAD_LAUNCH_SETTINGS_H

#include <stddef.h>

/* Longest username or language, in bytes. */
#define LAUNCH_VALUE_MAX	64
/* Largest SmartSteamEmu.ini we rewrite. */
#define LAUNCH_INI_MAX		(1024 * 1024)

/* Paths beneath local/. */
#define LAUNCH_PROFILE_DIR	"profiles/local"
#define LAUNCH_ACCOUNT_FILE	"profiles/local/account_name.txt"
#define LAUNCH_LANGUAGE_FILE	"profiles/local/language.txt"
#define LAUNCH_INI_DIR		"engine/bin/win64/steam_settings"
#define LAUNCH_INI_FILE		LAUNCH_INI_DIR "/SmartSteamEmu.ini"

struct play_outcome {
	int	account_name_written;
	int	language_written;
	int	persona_name_written;
};

/*
 * Beneath local_fd (the game's local/ folder), never through a symbolic
 * link, and each file replaced whole (temporary file + rename):
 * profiles/local/account_name.txt = username and language.txt = language
 * (exact bytes, no newline; missing folders are created), and the value
 * of every "PersonaName = ..." line of SmartSteamEmu.ini replaced by
 * username, every other byte kept (CRLF, spacing). A missing ini, or one
 * without a PersonaName line, is left alone: persona_name_written = 0.
 * username and language must be 1..64 bytes without control bytes.
 * Returns 0, or -1 with err filled (*out says what was written so far).
 */
int	launch_settings_apply(int local_fd, const char *username,
	    const char *language, struct play_outcome *out, char *err,
	    size_t errsz);

#endif /* LANSPREAD_LAUNCH_SETTINGS_H */
