/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_NOTIFY_H
#define EDGE_NOTIFY_H
/*
 * The service manager's readiness and watchdog protocol (sd_notify(3),
 * sd_watchdog_enabled(3)) without libsystemd: one datagram per notification
 * on the AF_UNIX socket named by $NOTIFY_SOCKET ("/path", or "@name" in the
 * abstract namespace). No process state is kept; the environment is read on
 * every call and left as it is.
 */
#include <stdint.h>

/* Sends state ("READY=1", "WATCHDOG=1", "STATUS=...", several separated by
 * '\n') as one datagram. 0 when $NOTIFY_SOCKET is unset (not run by a
 * service manager), a positive value when sent, a negative errno when the
 * address is malformed (-EINVAL, -EAFNOSUPPORT) or sending failed. */
int edge_notify(const char *state);

/* printf-style edge_notify(); a state longer than 1023 bytes is -EMSGSIZE. */
__attribute__((format(printf, 1, 2))) int edge_notifyf(const char *fmt, ...);

/* The watchdog interval the service manager expects pings within: 1 and
 * *usec (optional) set when $WATCHDOG_USEC is set and, if $WATCHDOG_PID is
 * set too, it names this process; 0 when the watchdog is off or meant for
 * another process; -EINVAL when either variable is malformed (not a decimal
 * number, 0, or out of range). */
int edge_watchdog_usec(uint64_t *usec);

#endif
