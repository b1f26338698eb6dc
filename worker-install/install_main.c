/* lanspread-install: the install worker process. */
#include <string.h>

#include "common/log.h"
#include "common/proc.h"
#include "worker-install/install.h"

int
main(int argc, char *argv[])
{
	struct ev_loop	*loop;
	struct install	*inst;

	log_init("install", 1, argc > 1 && strcmp(argv[1], "-v") == 0);
	proc_worker_init(PROC_INSTALL);
	loop = ev_default_loop(EVFLAG_AUTO);
	if ((inst = install_new(loop, PROC_WORKER_FD)) == NULL)
		fatal("install_new");
	ev_run(loop, 0);
	install_free(inst);
	ev_loop_destroy(loop);
	return 0;
}
