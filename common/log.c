/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "edge/log.h"
#include "edge/time.h"

static enum edge_log_level current = EDGE_LOG_INFO;
static int journal = -1; /* -1 unknown, 0 no, 1 stderr is journald */
static bool use_syslog;

void edge_log_open_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

static const char *const names[] = {
    [EDGE_LOG_ERR] = "error", [EDGE_LOG_WARNING] = "warning", [EDGE_LOG_NOTICE] = "notice",
    [EDGE_LOG_INFO] = "info", [EDGE_LOG_DEBUG] = "debug",
};

void edge_log_set_level(enum edge_log_level level)
{
	current = level;
}

enum edge_log_level edge_log_get_level(void)
{
	return current;
}

int edge_log_level_from_name(const char *name)
{
	for (int i = EDGE_LOG_ERR; i <= EDGE_LOG_DEBUG; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *edge_log_level_name(enum edge_log_level level)
{
	return (level >= EDGE_LOG_ERR && level <= EDGE_LOG_DEBUG) ? names[level] : "?";
}

void edge_log(enum edge_log_level level, const char *module, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > current)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf per line so concurrent writers never interleave mid-line. */
	if (use_syslog) {
		syslog((int)level, "%s: %s", module, msg);
	} else if (journal) {
		fprintf(stderr, "<%d>%s: %s\n", (int)level, module, msg);
	} else {
		uint64_t now = edge_wall_ms();
		time_t secs = (time_t)(now / 1000);
		struct tm tm;
		char ts[32];

		gmtime_r(&secs, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03uZ %-7s %s: %s\n", ts, (unsigned)(now % 1000),
			edge_log_level_name(level), module, msg);
	}
}

bool edge_ratelimit_ok(struct edge_ratelimit *rl, uint32_t *suppressed)
{
	uint64_t now = edge_now_ms();

	if (suppressed)
		*suppressed = 0;
	if (rl->window_start_ms == 0 || now - rl->window_start_ms >= rl->interval_ms) {
		rl->window_start_ms = now ? now : 1;
		rl->printed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		if (suppressed)
			*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	return false;
}
