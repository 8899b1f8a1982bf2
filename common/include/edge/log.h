/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H
/*
 * One logging macro family with levels and a module tag. Lines go to stderr;
 * under systemd (JOURNAL_STREAM set) each line starts with a "<N>" syslog
 * priority so journald records the level, otherwise with a timestamp.
 * Libraries (hal/, drivers/) do not log.
 */
#include <stdbool.h>
#include <stdint.h>

enum edge_log_level {
	EDGE_LOG_ERR = 3,
	EDGE_LOG_WARNING = 4,
	EDGE_LOG_NOTICE = 5,
	EDGE_LOG_INFO = 6,
	EDGE_LOG_DEBUG = 7,
};

/* Sends lines to syslog instead of stderr (daemonized, no journal). */
void edge_log_open_syslog(const char *ident);
void edge_log_set_level(enum edge_log_level level);
enum edge_log_level edge_log_get_level(void);
/* "error", "warning", "notice", "info", "debug" -> level, or -1. */
int edge_log_level_from_name(const char *name);
const char *edge_log_level_name(enum edge_log_level level);

__attribute__((format(printf, 3, 4))) void edge_log(enum edge_log_level level, const char *module,
						    const char *fmt, ...);

#define EDGE_ERR(mod, ...)    edge_log(EDGE_LOG_ERR, mod, __VA_ARGS__)
#define EDGE_WARN(mod, ...)   edge_log(EDGE_LOG_WARNING, mod, __VA_ARGS__)
#define EDGE_NOTICE(mod, ...) edge_log(EDGE_LOG_NOTICE, mod, __VA_ARGS__)
#define EDGE_INFO(mod, ...)   edge_log(EDGE_LOG_INFO, mod, __VA_ARGS__)
#define EDGE_DEBUG(mod, ...)                                                                       \
	do {                                                                                       \
		if (edge_log_get_level() >= EDGE_LOG_DEBUG)                                        \
			edge_log(EDGE_LOG_DEBUG, mod, __VA_ARGS__);                                \
	} while (0)

/*
 * Rate limit for repeating conditions: at most `burst` lines per
 * `interval_ms`; the first line of the next window reports how many were
 * suppressed. Initialise with EDGE_RATELIMIT_INIT(interval_ms, burst).
 */
struct edge_ratelimit {
	uint32_t interval_ms;
	uint32_t burst;
	uint64_t window_start_ms;
	uint32_t printed;
	uint32_t suppressed;
};
#define EDGE_RATELIMIT_INIT(ms, n)                                                                 \
	{                                                                                          \
		.interval_ms = (ms), .burst = (n)                                                  \
	}

/* True when a line may be printed now; *suppressed (optional) receives the
 * count dropped since the last printed line. */
bool edge_ratelimit_ok(struct edge_ratelimit *rl, uint32_t *suppressed);

/* Log through a rate limit; appends "(N similar suppressed)" when due. */
#define EDGE_LOG_RL(rl, level, mod, fmt, ...)                                                      \
	do {                                                                                       \
		uint32_t edge_rl_sup_;                                                             \
		if (edge_ratelimit_ok((rl), &edge_rl_sup_)) {                                      \
			if (edge_rl_sup_)                                                          \
				edge_log(level, mod, fmt " (%u similar suppressed)",               \
					 ##__VA_ARGS__, edge_rl_sup_);                             \
			else                                                                       \
				edge_log(level, mod, fmt, ##__VA_ARGS__);                          \
		}                                                                                  \
	} while (0)

#endif
