/* The install link's names tables (see install_link.h). */
#include <string.h>

#include "common/install_link.h"

const char *const inst_op_names[INST_OP_MAX] = {
	[INST_OP_INSTALL] = "install",
	[INST_OP_UNINSTALL] = "uninstall",
	[INST_OP_PLAY] = "play",
	[INST_OP_GROUP] = "group",
};

enum unrar_mode
unrar_mode_parse(const char *s)
{
	if (s[0] == '\0')
		return UNRAR_NONE;
	if (strcmp(s, "builtin") == 0)
		return UNRAR_BUILTIN;
	return UNRAR_EXTERNAL;
}
