/* lanspread-net: the network worker process, started by the supervisor. */
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "worker-net/net.h"

int
main(int argc, char *argv[])
{
	int		 bad;
	struct ev_loop	*loop;
	struct net	*net;

	bad = proc_worker_args(argc, argv);
	log_init("net", !proc_opts.log_syslog, proc_opts.verbose);
	if (bad == -1)
		fatalx("usage: lanspread-net [-osv] [-u uid:gid]");
	/* It raises the open files limit too: room for many peer links. */
	proc_worker_init(PROC_NET);
	loop = ev_default_loop(EVFLAG_AUTO);
	if ((net = net_new(loop, PROC_WORKER_FD)) == NULL)
		fatal("net_new");
	ev_run(loop, 0);
	net_free(net);
	ev_loop_destroy(loop);
	return 0;
}
