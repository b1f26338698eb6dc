/* lanspread-transfer: the transfer worker process. */

#include <stddef.h>

#include "common/log.h"
#include "common/manifest.h"
#include "common/proc.h"
#include "worker-transfer/transfer.h"

int
main(int argc, char *argv[])
{
	int		 bad;
	struct ev_loop	*loop;
	struct transfer	*xfer;

	bad = proc_worker_args(argc, argv);
	log_init("transfer", !proc_opts.log_syslog, proc_opts.verbose);
	if (bad == -1)
		fatalx("usage: lanspread-transfer [-osv]");
	proc_worker_init(PROC_TRANSFER);
	hash_init();
	loop = ev_default_loop(EVFLAG_AUTO);
	if ((xfer = transfer_new(loop, PROC_WORKER_FD)) == NULL)
		fatal("transfer_new");
	ev_run(loop, 0);
	transfer_free(xfer);
	ev_loop_destroy(loop);
	return 0;
}
