/*
 * Logging: stderr in the foreground, syslog otherwise; errno is preserved.
 * Under systemd, stderr lines carry sd-daemon level prefixes ("<4>") so
 * the journal files each at its level; elsewhere they carry a time.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static const char	*log_procname = "lanspread";
static enum log_dest	 log_dest = LOG_DEST_STDERR;
static int		 log_verbosity;

/*
 * Whether systemd started us: stderr is the journal stream it names
 * (JOURNAL_STREAM=dev:ino), or we run as one of its units (INVOCATION_ID).
 */
static int
started_by_systemd(void)
{
	const char	*stream = getenv("JOURNAL_STREAM");
	const char	*invocation = getenv("INVOCATION_ID");
	unsigned long long dev, ino;
	struct stat	 st;

	if (stream != NULL && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		return 1;
	return invocation != NULL && invocation[0] != '\0';
}

void
log_init(const char *procname, int foreground, int verbose)
{
	log_procname = procname;
	log_verbosity = verbose;
	if (!foreground) {
		log_dest = LOG_DEST_SYSLOG;
		openlog(procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	} else if (started_by_systemd())
		log_dest = LOG_DEST_JOURNAL;
	else
		log_dest = LOG_DEST_STDERR;
}

enum log_dest
log_destination(void)
{
	return log_dest;
}

void
log_setproc(const char *procname)
{
	log_procname = procname;
}

int
log_verbose(void)
{
	return log_verbosity;
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *err)
{
	char	 msg[2048];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_dest == LOG_DEST_JOURNAL) {
		/* The journal stamps the time; the prefix is the level. */
		if (err != NULL)
			fprintf(stderr, "<%d>%s[%d]: %s: %s\n", pri,
			    log_procname, (int)getpid(), msg, err);
		else
			fprintf(stderr, "<%d>%s[%d]: %s\n", pri, log_procname,
			    (int)getpid(), msg);
	} else if (log_dest == LOG_DEST_STDERR) {
		struct timespec	 ts;
		struct tm	 tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		if (err != NULL)
			fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%d]: %s: %s\n",
			    tm.tm_hour, tm.tm_min, tm.tm_sec,
			    ts.tv_nsec / 1000000, log_procname, (int)getpid(),
			    msg, err);
		else
			fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%d]: %s\n",
			    tm.tm_hour, tm.tm_min, tm.tm_sec,
			    ts.tv_nsec / 1000000, log_procname, (int)getpid(),
			    msg);
	} else if (err != NULL)
		syslog(pri, "%s: %s: %s", log_procname, msg, err);
	else
		syslog(pri, "%s: %s", log_procname, msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

/* Something went wrong that an operator should look at. */
void
log_errx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, NULL);
	va_end(ap);
}

/* Normal but significant: start, stop, listening. */
void
log_notice(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_NOTICE, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

/* Fills a caller's error buffer; returns -1 and keeps errno. */
int
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (errsz > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
