/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "edge/hal/system.h"
#include "edge/hal/watchdog.h"
#include "hal_internal.h"

int edge_watchdog_open(const char *path, struct edge_watchdog **out)
{
	if (!path || !out)
		return -EINVAL;
	if (strncmp(path, "sim:", 4) == 0)
		return edge_hal_sim_watchdog_open(path + 4, out);
	return edge_hal_linux_watchdog_open(path, out);
}

int edge_watchdog_keepalive(struct edge_watchdog *w)
{
	return w ? w->ops->keepalive(w) : -EINVAL;
}

int edge_watchdog_set_timeout(struct edge_watchdog *w, int seconds)
{
	if (!w || seconds <= 0)
		return -EINVAL;
	return w->ops->set_timeout(w, seconds);
}

int edge_watchdog_get_timeout(struct edge_watchdog *w, int *seconds)
{
	if (!w || !seconds)
		return -EINVAL;
	return w->ops->get_timeout(w, seconds);
}

void edge_watchdog_close(struct edge_watchdog *w)
{
	if (w)
		w->ops->close(w, 1);
}

void edge_watchdog_abandon(struct edge_watchdog *w)
{
	if (w)
		w->ops->close(w, 0);
}

int edge_system_reboot_arg(const char *backend, const char *arg)
{
	if (!arg || !*arg)
		return edge_system_reboot(backend);
	if (backend && strcmp(backend, "sim") == 0)
		return edge_hal_sim_reboot_arg(arg);
	if (backend && strcmp(backend, "linux") != 0)
		return -EINVAL;
	return edge_hal_linux_reboot_arg(arg);
}

int edge_system_reboot(const char *backend)
{
	if (backend && strcmp(backend, "sim") == 0)
		return edge_hal_sim_reboot();
	if (backend && strcmp(backend, "linux") != 0)
		return -EINVAL;
	return edge_hal_linux_reboot();
}
