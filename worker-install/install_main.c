/* lanspread-install: the install worker process. */

#include <stddef.h>

#include "common/log.h"
#include "common/proc.h"
#include "worker-install/install.h"

int
main(int argc, char *argv[])
{
	int		 bad;
	struct ev_loop	*loop;
	struct install	*inst;

	bad = proc_worker_args(argc, argv);
	log_init("install", !proc_opts.log_syslog, proc_opts.verbose);
	if (bad == -1)
		fatalx("usage: lanspread-install [-osv]");
	proc_worker_init(PROC_INSTALL);
	loop = ev_default_loop(EVFLAG_AUTO);
	if ((inst = install_new(loop, PROC_WORKER_FD)) == NULL)
		fatal("install_new");
	ev_run(loop, 0);
	install_free(inst);
	ev_loop_destroy(loop);
	return 0;
}
