/* log.h: one-line diagnostics to stderr (lighttpd's error log). Never pass
 * call content, SDP, PINs or tokens. */
#ifndef TUTURU_LOG_H
#define TUTURU_LOG_H

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
