/* Logging and fatal helpers, in the style of bgpd's log.h. */
#ifndef LANSPREAD_LOG_H
#define LANSPREAD_LOG_H

#include <stdarg.h>

/* foreground: log to stderr; otherwise syslog (LOG_DAEMON). */
void	log_init(const char *procname, int foreground, int verbose);
void	log_setproc(const char *procname);
int	log_verbose(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
int	seterr(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
