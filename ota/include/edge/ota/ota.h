/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_OTA_H
#define EDGE_OTA_OTA_H
/*
 * The daemon-side OTA state machine (shared/DESIGN.md 5.4, docs/ota.md).
 *
 * It owns ota.dir: state.json is written BEFORE each transition's side
 * effect (a helper started, a slot marked, a reboot asked), so that after a
 * kill -9 or a power cut the agent resumes from what state.json says:
 * downloading continues from the checkpoint, verifying and installing are
 * redone (only the inactive slot is ever written), rebooting and trial are
 * judged by the boot id and the booted slot.
 *
 * Every step that blocks or maps a heavy library runs in a helper child
 * started through common/spawn: edge-ota-fetch (libcurl) downloads,
 * edge-ota-install writes slots and talks to the boot loader (libubootenv,
 * rauc, swupdate). Both speak edge/ota/progress.h on their stdout.
 *
 * The engine answers the `ota` command itself (edge_ota_command) and reports
 * on topics.ota through the publish hook. Runs on the daemon's loop; no
 * thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "edge/loop.h"

struct edge_ota;

/* What the daemon knows about its own health, for the trial. */
struct edge_ota_health {
	bool connected;		   /* MQTT session up now */
	uint64_t status_published; /* status messages published since start */
	uint64_t records;	   /* records the sampler produced since start */
};

/* Why the engine wants the machine to start again. */
enum edge_ota_restart {
	EDGE_OTA_REBOOT,	 /* reboot the board */
	EDGE_OTA_REBOOT_TRYBOOT, /* reboot with the Raspberry Pi "tryboot" flag */
	EDGE_OTA_RESTART_AGENT,	 /* service mode: restart the agent (systemd) */
};

struct edge_ota_hooks {
	/* Publishes the report (retained, QoS 1) on topics.ota. 0 or -errno
	 * (not connected: the engine publishes again at the next connect). */
	int (*publish)(void *arg, const char *payload, size_t len);
	/* Starts the machine again (returns; the reboot follows). */
	void (*restart)(void *arg, enum edge_ota_restart how, const char *why);
	void (*health)(void *arg, struct edge_ota_health *out);
	/* The boot id (modes other than service): the kernel's
	 * /proc/sys/kernel/random/boot_id, or the sim board's. 0 or -errno. */
	int (*boot_id)(void *arg, char *out, size_t len);
	void *arg;
};

/* cfg is the daemon's live configuration (borrowed). version is what this
 * build says it is (EDGE_VERSION): the running version until a slot says
 * otherwise. Creates ota.dir (0700), loads state.json and history.json and
 * the manifest key. Errors in them are reported in the status, not fatal.
 * Nothing runs until edge_ota_start(). */
int edge_ota_new(struct edge_loop *loop, const struct edge_config *cfg, const char *version,
		 const struct edge_ota_hooks *hooks, struct edge_ota **out);
/* Resumes what state.json says (once the loop runs). */
void edge_ota_start(struct edge_ota *o);
/* After a configuration reload: the key and the limits. */
void edge_ota_reconfigure(struct edge_ota *o);
/* The MQTT session is up: the last report is published again. */
void edge_ota_connected(struct edge_ota *o);

/* The `ota` command: params {"op":"install","manifest":JWS,"retryFailed"?}
 * | {"op":"cancel"} | {"op":"status"}. Fills data (a cJSON object, as
 * `void *` so that this header needs no cJSON) and msg; returns true when
 * accepted ("ok"), false when refused ("rejected"). cmd_id becomes the
 * otaId of an install. */
bool edge_ota_command(struct edge_ota *o, const char *cmd_id, const void *params, void *data,
		      char *msg, size_t msglen);

/* The status JSON's "ota" object (state, version, progress...) and the
 * booted slot's version ("firmware"). */
void edge_ota_status(struct edge_ota *o, void *status_obj);
const char *edge_ota_firmware(const struct edge_ota *o);

/* Shutdown: helpers stopped (bounded), state.json left as the authority. */
void edge_ota_free(struct edge_ota *o);

#endif
