/* Logging and fatal helpers, in the style of bgpd's log.h. */
#ifndef LANSPREAD_LOG_H
#define LANSPREAD_LOG_H

#include <stdarg.h>

/* Where log lines go; see log_init(). */
enum log_dest {
	LOG_DEST_STDERR,	/* "hh:mm:ss.mmm proc[pid]: ..." */
	LOG_DEST_JOURNAL,	/* stderr, "<level>proc[pid]: ...", under systemd */
	LOG_DEST_SYSLOG,	/* syslog(3), LOG_DAEMON */
};

/*
 * foreground: log to stderr, with sd-daemon level prefixes when systemd
 * started us; otherwise syslog (LOG_DAEMON).
 */
void	log_init(const char *procname, int foreground, int verbose);
enum log_dest log_destination(void);
void	log_setproc(const char *procname);
int	log_verbose(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
int	seterr(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
