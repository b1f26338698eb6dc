/*
 * Words of the install link that both ends decode: which operation an
 * INST_DONE / INST_FAILED answers, and how the worker extracts archives.
 * They still travel as strings; the tables convert at the edges.
 */
#ifndef LANSPREAD_INSTALL_LINK_H
#define LANSPREAD_INSTALL_LINK_H

enum inst_op {
	INST_OP_INSTALL,
	INST_OP_UNINSTALL,
	INST_OP_PLAY,
	INST_OP_MAX
};

/* "install", "uninstall", "play": the op field on the wire. */
extern const char *const inst_op_names[INST_OP_MAX];

/* The op named s; -1 when there is none. */
int	inst_op_parse(const char *s, enum inst_op *);

enum unrar_mode {
	UNRAR_NONE,		/* the seed's fixture installer (the shim) */
	UNRAR_BUILTIN,		/* libarchive */
	UNRAR_EXTERNAL		/* an unrar program, by path */
};

/* "" is none, "builtin" is libarchive, anything else a program's path. */
enum unrar_mode	 unrar_mode_parse(const char *s);
/* The string unrar_mode_parse() reads back; path is for UNRAR_EXTERNAL. */
const char	*unrar_mode_str(enum unrar_mode, const char *path);

#endif
