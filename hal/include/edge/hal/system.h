/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_SYSTEM_H
#define EDGE_HAL_SYSTEM_H
/*
 * System control. backend is "linux" (or NULL) for the real machine and
 * "sim" for the sim backend, which only records the request
 * (edge_sim_reboot_requests()).
 */
#ifdef __cplusplus
extern "C" {
#endif

/* Linux: sync() then reboot(RB_AUTOBOOT); needs CAP_SYS_BOOT. Returns only
 * on failure (negative errno), or 0 on the sim backend. */
int edge_system_reboot(const char *backend);
/* The same with an argument for the kernel (LINUX_REBOOT_CMD_RESTART2),
 * e.g. "0 tryboot" on a Raspberry Pi: the firmware boots the [tryboot]
 * partition of autoboot.txt once. NULL or "": edge_system_reboot(). The sim
 * backend records the argument (edge_sim_last_reboot_arg()). */
int edge_system_reboot_arg(const char *backend, const char *arg);

#ifdef __cplusplus
}
#endif
#endif
