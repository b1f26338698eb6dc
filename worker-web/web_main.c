/* lanspread-web: the web page's worker process, started by the supervisor. */
#include <stdlib.h>

#include "common/log.h"
#include "common/proc.h"
#include "worker-web/web.h"

int
main(int argc, char *argv[])
{
	struct ev_loop	*loop;
	struct web	*web;
	int		 bad;

	bad = proc_worker_args(argc, argv);
	log_init("web", !proc_opts.log_syslog, proc_opts.verbose);
	if (bad == -1)
		fatalx("usage: lanspread-web [-osv] [-u uid:gid]");
	proc_worker_init(PROC_WEB);
	loop = ev_default_loop(EVFLAG_AUTO);
	if ((web = web_new(loop, PROC_WORKER_FD)) == NULL)
		fatal("web_new");
	ev_run(loop, 0);
	web_free(web);
	ev_loop_destroy(loop);
	return 0;
}
