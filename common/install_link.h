/*
 * Words of the install link: which operation an INST_DONE / INST_FAILED
 * answers, and how the worker extracts archives. They travel as numbers
 * (common/msgtypes.h); the names are for logs and the configuration.
 */
#ifndef LANSPREAD_INSTALL_LINK_H
#define LANSPREAD_INSTALL_LINK_H

enum inst_op {
	INST_OP_INSTALL,
	INST_OP_UNINSTALL,
	INST_OP_PLAY,
	INST_OP_GROUP,		/* games_group for a streamed install */
	INST_OP_MAX
};

/* "install", "uninstall", "play", "group", for logs. */
extern const char *const inst_op_names[INST_OP_MAX];

enum unrar_mode {
	UNRAR_NONE,		/* the seed's fixture installer (the shim) */
	UNRAR_BUILTIN,		/* libarchive */
	UNRAR_EXTERNAL,		/* an unrar program, by path */
	UNRAR_MODE_MAX
};

/* "" is none, "builtin" is libarchive, anything else a program's path. */
enum unrar_mode	 unrar_mode_parse(const char *s);

#endif
