/* The install link's names tables (see install_link.h). */
#include <string.h>

#include "common/install_link.h"

const char *const inst_op_names[INST_OP_MAX] = {
	[INST_OP_INSTALL] = "install",
	[INST_OP_UNINSTALL] = "uninstall",
	[INST_OP_PLAY] = "play",
};

int
inst_op_parse(const char *s, enum inst_op *op)
{
	int	 i;

	for (i = 0; i < INST_OP_MAX; i++)
		if (strcmp(s, inst_op_names[i]) == 0) {
			*op = i;
			return 0;
		}
	return -1;
}

enum unrar_mode
unrar_mode_parse(const char *s)
{
	if (s[0] == '\0')
		return UNRAR_NONE;
	if (strcmp(s, "builtin") == 0)
		return UNRAR_BUILTIN;
	return UNRAR_EXTERNAL;
}

const char *
unrar_mode_str(enum unrar_mode mode, const char *path)
{
	switch (mode) {
	case UNRAR_NONE:
		return "";
	case UNRAR_BUILTIN:
		return "builtin";
	case UNRAR_EXTERNAL:
		break;
	}
	return path;
}
