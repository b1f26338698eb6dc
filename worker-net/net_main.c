/* lanspread-net: the network worker process, started by the supervisor. */
#include <sys/resource.h>

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
	struct rlimit	 rl;

	bad = proc_worker_args(argc, argv);
	log_init("net", !proc_opts.log_syslog, proc_opts.verbose);
	if (bad == -1)
		fatalx("usage: lanspread-net [-osv] [-u uid:gid]");
	proc_worker_init(PROC_NET);
	/* Room for many peer links. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	loop = ev_default_loop(EVFLAG_AUTO);
	if ((net = net_new(loop, PROC_WORKER_FD)) == NULL)
		fatal("net_new");
	ev_run(loop, 0);
	net_free(net);
	ev_loop_destroy(loop);
	return 0;
}
