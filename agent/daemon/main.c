/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-agent: sensors -> SQLite outbox -> MQTT over mutual TLS.
 * One process, one poll() loop (common/loop.c) owning every descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent/provision.h"
#include "edge/file.h"
#include "edge/hal/sim.h"
#include "edge/log.h"
#include "edge/notify.h"
#include "edge/sensor.h"
#include "edge/time.h"
#include "hwdog.h"
#include "keycheck.h"

#define MOD	       "agent"
#define DEFAULT_CONFIG "/etc/edge-agent/edge-agent.json"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: edge-agent [OPTION]...\n"
	    "Reads health sensors, keeps every reading in a SQLite outbox and publishes\n"
	    "it to the platform's MQTT broker over mutual TLS.\n\n"
	    "  -c, --config FILE    configuration (default %s)\n"
	    "  -f, --foreground     stay in the foreground, log to stderr (systemd, containers)\n"
	    "      --check-config   validate the configuration and board, then exit 0 or 1\n"
	    "      --list-boards    print the built-in board descriptors\n"
	    "      --list-drivers   print the sensor drivers\n"
	    "      --help-config    print every configuration key with its default\n"
	    "  -V, --version        print the version\n"
	    "  -h, --help           this text\n\n"
	    "Signals: SIGTERM/SIGINT stop (publishing the backlog for store.shutdown_flush_ms),\n"
	    "SIGHUP reloads the configuration without touching the outbox.\n"
	    "Docs: README.md and docs/ in the source tree.\n",
	    DEFAULT_CONFIG);
}

static int list_boards(void)
{
	for (size_t i = 0; i < edge_board_embedded_count(); i++) {
		struct edge_board b;
		size_t len;
		const char *json = edge_board_embedded_json(i, &len);
		char err[256];

		if (edge_board_parse(json, len, edge_board_embedded_name(i), &b, err,
				     sizeof(err))) {
			printf("%-18s INVALID: %s\n", edge_board_embedded_name(i), err);
			continue;
		}
		printf("%-18s %zu sensor(s)  %s\n", b.name, b.n_sensors, b.description);
	}
	return 0;
}

static int list_drivers(void)
{
	size_t n;
	const struct edge_sensor_ops *const *all = edge_sensor_ops_all(&n);

	for (size_t i = 0; i < n; i++) {
		printf("%-22s %s\n    channels:", all[i]->compatible,
		       all[i]->description ? all[i]->description : "");
		for (size_t c = 0; c < all[i]->n_channels; c++)
			printf(" %s[%s]", edge_channel_name(all[i]->channels[c]),
			       edge_channel_unit(all[i]->channels[c]));
		printf("\n");
	}
	return 0;
}

/* ---- wiring ------------------------------------------------------------ */

/* The sampler's sink: every message of a tick in one outbox transaction. */
static int sink(void *arg, const struct edge_store_msg *msgs, size_t n)
{
	struct edge_agent *a = arg;
	int rc = edge_store_append(a->store, msgs, n);

	if (rc == 0 && n)
		a->records++;
	return rc;
}

/* Beside the sink, every accepted reading goes to the alert rules and to
 * edgectl's tail clients. */
static void on_reading(void *arg, const char *sensor, enum edge_channel ch, int32_t value,
		       uint64_t ts_ms)
{
	struct edge_agent *a = arg;
	int32_t scale = edge_channel_scale(ch);
	const char *metric = edge_channel_name(ch);

	if (a->alerts)
		edge_alerts_reading(a->alerts, metric, (double)value / (scale ? scale : 1),
				    edge_now_ms(), ts_ms);
	if (a->ctl) {
		char v[32];

		if (edge_record_format_value(ch, value, v, sizeof(v)) > 0)
			edge_ctl_reading(a->ctl, sensor, metric, v, edge_channel_unit(ch), ts_ms);
	}
}

/* Alerts go through the outbox with priority 1: kept offline, published
 * ahead of telemetry, dropped last. */
static void alert_emit(void *arg, const char *topic, const char *payload, size_t len)
{
	struct edge_agent *a = arg;
	struct edge_store_msg m = {
	    .topic = topic, .payload = payload, .len = len, .qos = 1, .prio = 1};
	int rc = edge_store_append(a->store, &m, 1);

	if (rc)
		EDGE_ERR(MOD, "alert on %s not queued: %s", topic, strerror(-rc));
	else
		EDGE_NOTICE(MOD, "alert %s: %.*s", topic, (int)len, (const char *)payload);
}

static void publish_status(struct edge_agent *a)
{
	char *json;
	int rc;

	if (!edge_uplink_connected(a->uplink))
		return;
	json = edge_status_json(a, true, NULL);
	if (!json)
		return;
	rc = edge_uplink_publish(a->uplink, a->status_topic, json, strlen(json), 1, true, NULL, 0);
	if (rc == 0)
		a->status_published++;
	if (rc && rc != -ENOTCONN)
		EDGE_WARN(MOD, "status publish failed: %s", strerror(-rc));
	free(json);
}

static void on_connected(void *arg)
{
	struct edge_agent *a = arg;

	/* Subscribe before announcing "online": a platform (or a test) that
	 * sends a command as soon as it sees the status must find the
	 * subscription in place (the broker handles our packets in order). */
	if (a->commands)
		edge_commands_connected(a->commands);
	publish_status(a);
	if (a->ota)
		edge_ota_connected(a->ota);
}

static void on_message(void *arg, const struct edge_mqtt_message *msg)
{
	struct edge_agent *a = arg;

	if (a->commands)
		edge_commands_message(a->commands, msg);
}

static void status_timer_cb(void *arg)
{
	publish_status(arg);
}

static void watchdog_cb(void *arg)
{
	(void)arg;
	edge_notify("WATCHDOG=1");
}

/* Applies cfg->sensors overrides (interval_ms, freshness_ms) to the board;
 * unknown sensor names are ignored (config.set refuses them). */
static void apply_overrides(const struct edge_config *cfg, struct edge_board *board)
{
	for (uint32_t i = 0; i < cfg->n_sensors; i++) {
		const struct edge_sensor_override *o = &cfg->sensors[i];

		for (size_t j = 0; j < board->n_sensors; j++) {
			if (strcmp(board->sensors[j].name, o->name) != 0)
				continue;
			if (o->interval_ms)
				board->sensors[j].interval_ms = o->interval_ms;
			if (o->freshness_ms)
				board->sensors[j].freshness_ms = o->freshness_ms;
		}
	}
}

/* Hardware watchdog (hwdog.h): fed while the loop runs and this says healthy. */

/* The outbox takes writes. A full disk does not count: a reboot frees no
 * space, and the outbox recovers by itself when space returns. */
static bool hwdog_healthy(void *arg, char *why, size_t len)
{
	const struct edge_agent *a = arg;
	struct edge_store_stats st;

	edge_store_stats(a->store, &st);
	if (st.last_error == 0 || st.last_error == -ENOSPC)
		return true;
	snprintf(why, len, "outbox not writable: %s", strerror(-st.last_error));
	return false;
}

static char *offline_will(struct edge_agent *a)
{
	return edge_status_json(a, false, NULL);
}

/* Provisioning hooks (agent/provision.h): a registration names the broker and
 * brings the first certificate, a renewal replaces it. */
static void prov_reconfigure_uplink(struct edge_agent *a)
{
	char *will;

	edge_provision_apply_state(&a->cfg);
	will = offline_will(a);
	if (will)
		edge_uplink_reconfigure(a->uplink, &a->cfg, a->status_topic, will);
	free(will);
}

static void prov_registered(void *arg)
{
	struct edge_agent *a = arg;

	prov_reconfigure_uplink(a);
	a->last_error[0] = '\0';
	edge_uplink_start(a->uplink);
}

static void prov_renewed(void *arg)
{
	struct edge_agent *a = arg;

	prov_reconfigure_uplink(a);
	edge_uplink_reconnect(a->uplink);
}

static void prov_error(void *arg, const char *msg)
{
	struct edge_agent *a = arg;

	snprintf(a->last_error, sizeof(a->last_error), "%s", msg);
}

/* Creates state_dir and takes its lock: two agents on one outbox would
 * corrupt each other's in-flight accounting. The lock fd stays open. */
static int open_state_dir(const struct edge_config *cfg)
{
	char path[EDGE_PATH_MAX + 16];
	int rc = edge_mkdir_p(cfg->state_dir, 0750), fd;

	if (rc) {
		EDGE_ERR(MOD, "state_dir %s: %s", cfg->state_dir, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/agent.lock", cfg->state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		EDGE_ERR(MOD, "state_dir %s: %s", cfg->state_dir, strerror(errno));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		EDGE_ERR(MOD, "state_dir %s is in use by another edge-agent (%s)", cfg->state_dir,
			 path);
		close(fd);
		return rc;
	}
	return 0;
}

static int load_board(const struct edge_config *cfg, struct edge_board *board, char *err,
		      size_t errlen)
{
	int rc = edge_board_load(cfg->board, *cfg->boards_dir ? cfg->boards_dir : NULL, board, err,
				 errlen);

	if (rc == 0)
		apply_overrides(cfg, board);
	return rc;
}

static void stop_now(void *arg)
{
	struct edge_agent *a = arg;

	edge_loop_stop(a->loop);
}

/* While stopping: leave as soon as everything is acknowledged. */
static void drain_check(void *arg)
{
	struct edge_agent *a = arg;

	if (a->stopping && (edge_uplink_idle(a->uplink) || !edge_uplink_connected(a->uplink)))
		edge_loop_stop(a->loop);
}

static void begin_stop(struct edge_agent *a, const char *why)
{
	struct edge_store_stats st;

	if (a->stopping)
		return;
	a->stopping = true;
	edge_notify("STOPPING=1");
	edge_sampler_pause(a->sampler);
	edge_store_stats(a->store, &st);
	EDGE_NOTICE(MOD, "%s: stopping; flushing a backlog of %" PRIu64 " for up to %u ms", why,
		    st.rows, a->cfg.store.shutdown_flush_ms);
	edge_loop_timer_add(a->loop, a->cfg.store.shutdown_flush_ms, 0, stop_now, a,
			    &a->stop_timer);
}

static void reload(struct edge_agent *a)
{
	struct edge_config next;
	struct edge_board board;
	struct edge_sampler *sampler;
	char err[512];
	char *will;
	int rc;

	rc = edge_config_load(a->config_path, &next, err, sizeof(err));
	if (rc) {
		EDGE_ERR(MOD, "reload refused, keeping the running configuration: %s", err);
		return;
	}
	if (strcmp(next.device_id, a->cfg.device_id) || strcmp(next.state_dir, a->cfg.state_dir)) {
		EDGE_ERR(MOD, "reload refused: device_id and state_dir change only with a restart");
		return;
	}
	rc = load_board(&next, &board, err, sizeof(err));
	if (rc) {
		EDGE_ERR(MOD, "reload refused, keeping the running configuration: %s", err);
		return;
	}
	edge_log_set_level(next.log_level);
	edge_store_set_caps(a->store, next.store.max_rows, next.store.max_bytes);
	/* Sensors and records: rebuild (the outbox is untouched). */
	rc = edge_sampler_new(a->loop, &next, &board, sink, a, &sampler, err, sizeof(err));
	if (rc) {
		EDGE_ERR(MOD, "reload: board %s: %s; keeping the running sensors", next.board, err);
	} else {
		edge_sampler_free(a->sampler);
		a->sampler = sampler;
		a->board = board;
		edge_sampler_set_observer(sampler, on_reading, a);
	}
	a->cfg = next;
	edge_hwdog_reconfigure(a->hwdog, &a->cfg, a->board.watchdog);
	edge_provision_apply_state(&a->cfg);
	edge_provision_reconfigure(a->prov, &a->cfg, &a->board);
	edge_topic_format(a->status_topic, sizeof(a->status_topic), a->cfg.topics.status,
			  a->cfg.device_id, NULL, NULL, NULL);
	will = offline_will(a);
	if (will)
		edge_uplink_reconfigure(a->uplink, &a->cfg, a->status_topic, will);
	free(will);
	edge_loop_timer_set(a->loop, a->status_timer, 1000, a->cfg.status.interval_s * 1000ull);
	if (a->alerts)
		edge_alerts_configure(a->alerts, &a->cfg);
	if (a->commands)
		edge_commands_reconfigure(a->commands, a->sampler);
	if (a->ingress)
		edge_ingress_reconfigure(a->ingress, &a->cfg);
	if (a->ota)
		edge_ota_reconfigure(a->ota);
	EDGE_NOTICE(MOD, "configuration reloaded from %s", a->config_path);
	edge_notify("READY=1");
}

/* ---- hooks of commands and ctl --------------------------------------------- */

static void hook_reload(void *arg)
{
	reload(arg);
}

/* The restart command: stop gracefully, then exit with exit_code. */
static void hook_stop(void *arg, int exit_code, const char *why)
{
	struct edge_agent *a = arg;

	a->exit_code = exit_code;
	begin_stop(a, why);
}

static char *hook_status_json(void *arg)
{
	return edge_status_json(arg, true, NULL);
}

static char *hook_ctl_status(void *arg)
{
	return edge_status_ctl_json(arg);
}

static char *hook_ctl_command(void *arg, const char *action, const char *params_json)
{
	struct edge_agent *a = arg;

	if (!a->commands)
		return NULL;
	return edge_commands_run_local(a->commands, action, params_json);
}

/* ---- hooks of the OTA engine ---------------------------------------------- */

static bool hook_ota(void *arg, const char *cmd_id, const void *params, void *data, char *msg,
		     size_t msglen)
{
	struct edge_agent *a = arg;

	if (!a->ota) {
		if (!a->cfg.ota.enabled)
			snprintf(msg, msglen, "ota.enabled is false on this device");
		else
			snprintf(msg, msglen, "OTA is unavailable: ota.dir %s could not be used",
				 a->cfg.ota.dir);
		return false;
	}
	return edge_ota_command(a->ota, cmd_id, params, data, msg, msglen);
}

/* The OTA report: retained, QoS 1, on topics.ota. */
static int ota_publish(void *arg, const char *payload, size_t len)
{
	struct edge_agent *a = arg;
	char topic[256];

	if (edge_topic_format(topic, sizeof(topic), a->cfg.topics.ota, a->cfg.device_id, NULL, NULL,
			      NULL) < 0)
		return -ENAMETOOLONG;
	if (!edge_uplink_connected(a->uplink))
		return -ENOTCONN;
	return edge_uplink_publish(a->uplink, topic, payload, len, 1, true, NULL, 0);
}

static void ota_restart(void *arg, enum edge_ota_restart how, const char *why)
{
	struct edge_agent *a = arg;
	int rc;

	if (how == EDGE_OTA_RESTART_AGENT) {
		/* service mode: systemd starts the agent again, edge-ota-boot
		 * (ExecStartPre) first */
		a->exit_code = EDGE_EXIT_RESTART;
		begin_stop(a, "OTA restart");
		return;
	}
	rc = a->commands ? edge_commands_reboot(a->commands, why,
						how == EDGE_OTA_REBOOT_TRYBOOT ? "0 tryboot" : NULL)
			 : -ENOTSUP;
	if (rc)
		EDGE_ERR(MOD, "%s: cannot reboot: %s", why, strerror(-rc));
}

static void ota_health(void *arg, struct edge_ota_health *out)
{
	struct edge_agent *a = arg;

	out->connected = edge_uplink_connected(a->uplink);
	out->status_published = a->status_published;
	out->records = a->records;
}

static int ota_boot_id(void *arg, char *out, size_t len)
{
	struct edge_agent *a = arg;
	char *buf = NULL;
	size_t n = 0;
	int rc;

	if (a->board.sim)
		return edge_sim_boot_id(out, len);
	rc = edge_file_read("/proc/sys/kernel/random/boot_id", 128, &buf, &n);
	if (rc)
		return rc;
	snprintf(out, len, "%.*s", (int)strcspn(buf, "\r\n"), buf);
	free(buf);
	return 0;
}

static void start_ota(struct edge_agent *a)
{
	const struct edge_ota_hooks hooks = {.publish = ota_publish,
					     .restart = ota_restart,
					     .health = ota_health,
					     .boot_id = ota_boot_id,
					     .arg = a};

	if (!a->cfg.ota.enabled)
		return;
	if (edge_ota_new(a->loop, &a->cfg, EDGE_AGENT_VERSION_STR, &hooks, &a->ota))
		a->ota = NULL; /* logged; the ota command says why */
	else
		edge_ota_start(a->ota);
}

/* edgectl nodes [reload]: the CoAP ingress answers (NULL: not running). */
static char *hook_ctl_nodes(void *arg, const char *action)
{
	struct edge_agent *a = arg;

	return a->ingress ? edge_ingress_ctl(a->ingress, action) : NULL;
}

/* A node's committed reading, for edgectl tail (sensor = the node id). */
static void on_node_reading(void *arg, const char *node, enum edge_channel ch, int32_t value,
			    uint64_t ts_ms)
{
	struct edge_agent *a = arg;
	char v[32];

	if (a->ctl && edge_record_format_value(ch, value, v, sizeof(v)) > 0)
		edge_ctl_reading(a->ctl, node, edge_channel_name(ch), v, edge_channel_unit(ch),
				 ts_ms);
}

/* The CoAP ingress, after the store and loop (and ctl, for tail). A failure
 * is logged and the agent runs without CoAP nodes. */
static void start_ingress(struct edge_agent *a)
{
	const struct edge_ingress_deps deps = {.loop = a->loop, .store = a->store, .cfg = &a->cfg};
	const struct edge_ingress_hooks hooks = {.reading = on_node_reading, .arg = a};

	if (edge_ingress_new(&deps, &hooks, &a->ingress))
		a->ingress = NULL;
}

/* Alerts, commands and the edgectl socket, after the uplink and sampler
 * exist. A failing control socket is logged and the agent runs without it. */
static int start_control(struct edge_agent *a)
{
	const struct edge_commands_deps deps = {
	    .loop = a->loop,
	    .store = a->store,
	    .uplink = a->uplink,
	    .sampler = a->sampler,
	    .cfg = &a->cfg,
	    .board = &a->board,
	    .config_path = a->config_path,
	};
	const struct edge_commands_hooks hooks = {.reload = hook_reload,
						  .stop = hook_stop,
						  .status_json = hook_status_json,
						  .ota = hook_ota,
						  .arg = a};
	const struct edge_ctl_hooks ctl_hooks = {.status = hook_ctl_status,
						 .command = hook_ctl_command,
						 .nodes = hook_ctl_nodes,
						 .arg = a};
	char path[EDGE_PATH_MAX + 32];
	int rc;

	rc = edge_alerts_new(&a->cfg, alert_emit, a, &a->alerts);
	if (rc)
		return rc;
	rc = edge_commands_new(&deps, &hooks, &a->commands);
	if (rc) {
		edge_alerts_free(a->alerts);
		a->alerts = NULL;
		return rc;
	}
	if (a->cfg.ctl.enabled) {
		struct edge_ctl_cfg cc = {
		    .path = path, .group = a->cfg.ctl.group, .max_clients = a->cfg.ctl.max_clients};

		if (edge_ctl_default_path(a->cfg.ctl.socket, a->cfg.state_dir, path,
					  sizeof(path)) ||
		    edge_ctl_new(a->loop, &cc, &ctl_hooks, &a->ctl))
			a->ctl = NULL; /* logged; the agent runs without local control */
	}
	edge_sampler_set_observer(a->sampler, on_reading, a);
	return 0;
}

/* Before the uplink and sampler go. */
static void stop_control(struct edge_agent *a)
{
	if (a->sampler)
		edge_sampler_set_observer(a->sampler, NULL, NULL);
	edge_ctl_free(a->ctl);
	a->ctl = NULL;
	edge_commands_free(a->commands);
	a->commands = NULL;
	edge_alerts_free(a->alerts);
	a->alerts = NULL;
}

static void signal_cb(int fd, short revents, void *arg)
{
	struct edge_agent *a = arg;
	struct signalfd_siginfo si;

	(void)revents;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			edge_notify("RELOADING=1");
			reload(a);
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop(a, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
	}
}

static int setup_signals(struct edge_agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sigfd < 0)
		return -errno;
	return edge_loop_fd_add(a->loop, a->sigfd, POLLIN, signal_cb, a);
}

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	edge_log_open_syslog("edge-agent");
	return 0;
}

static int run(struct edge_agent *a)
{
	struct edge_store_cfg scfg = {
	    .dir = a->cfg.state_dir,
	    .max_rows = a->cfg.store.max_rows,
	    .max_bytes = a->cfg.store.max_bytes,
	    .sync_full = a->cfg.store.synchronous == EDGE_SYNC_FULL,
	};
	struct edge_uplink_hooks hooks = {
	    .connected = on_connected, .message = on_message, .arg = a};
	struct edge_provision_hooks prov_hooks = {
	    .registered = prov_registered, .renewed = prov_renewed, .error = prov_error, .arg = a};
	struct edge_store_stats st;
	uint64_t wd_usec = 0;
	bool hold_uplink = false;
	char err[512], *will;
	int rc;

	a->started_ms = edge_now_ms();
	rc = open_state_dir(&a->cfg);
	if (rc)
		return rc;
	rc = edge_store_open(&scfg, &a->store, a->recovered, sizeof(a->recovered));
	if (rc) {
		EDGE_ERR(MOD, "outbox in %s: %s", a->cfg.state_dir, strerror(-rc));
		return rc;
	}
	edge_store_stats(a->store, &st);
	snprintf(a->boot, sizeof(a->boot), "%" PRId64, st.boot);
	if (*a->recovered)
		snprintf(a->last_error, sizeof(a->last_error),
			 "corrupt outbox moved to %.120s; started a new one", a->recovered);
	EDGE_NOTICE(MOD,
		    "edge-agent %s: device %s, board %s, boot %s, backlog %" PRIu64
		    " message(s), next seq %" PRId64,
		    EDGE_AGENT_VERSION_STR, a->cfg.device_id, a->cfg.board, a->boot, st.rows,
		    st.next_seq);
	rc = edge_loop_new(&a->loop);
	if (rc)
		goto out_store;
	rc = setup_signals(a);
	if (rc) {
		EDGE_ERR(MOD, "signals: %s", strerror(-rc));
		goto out_loop;
	}
	rc = edge_sampler_new(a->loop, &a->cfg, &a->board, sink, a, &a->sampler, err, sizeof(err));
	if (rc) {
		EDGE_ERR(MOD, "board %s: %s", a->cfg.board, err);
		goto out_loop;
	}
	edge_topic_format(a->status_topic, sizeof(a->status_topic), a->cfg.topics.status,
			  a->cfg.device_id, NULL, NULL, NULL);
	edge_provision_apply_state(&a->cfg);
	will = offline_will(a);
	rc = will ? edge_uplink_new(a->loop, a->store, &a->cfg, a->status_topic, will, &hooks,
				    &a->uplink)
		  : -ENOMEM;
	free(will);
	if (rc) {
		EDGE_ERR(MOD, "uplink: %s", strerror(-rc));
		goto out_sampler;
	}
	rc = start_control(a);
	if (rc)
		EDGE_ERR(MOD, "commands, alerts and edgectl are unavailable: %s", strerror(-rc));
	start_ingress(a);
	start_ota(a);
	edge_loop_prepare_add(a->loop, drain_check, a);
	edge_loop_timer_add(a->loop, a->cfg.status.interval_s * 1000ull,
			    a->cfg.status.interval_s * 1000ull, status_timer_cb, a,
			    &a->status_timer);
	rc = edge_watchdog_usec(&wd_usec);
	if (rc > 0)
		edge_loop_timer_add(a->loop, 0, wd_usec / 2000, watchdog_cb, a, &a->watchdog_timer);
	else if (rc < 0)
		EDGE_WARN(MOD, "WATCHDOG_USEC or WATCHDOG_PID malformed: not pinging the watchdog");
	rc = edge_provision_new(a->loop, &a->cfg, &a->board, &prov_hooks, &a->prov, &hold_uplink);
	if (rc)
		goto out_uplink;
	if (!hold_uplink)
		edge_uplink_start(a->uplink);
	if (edge_hwdog_new(a->loop, &a->cfg, a->board.watchdog, hwdog_healthy, a, &a->hwdog))
		EDGE_ERR(MOD, "hardware watchdog: out of memory; running without it");
	edge_notify("READY=1\nSTATUS=sampling");

	rc = edge_loop_run(a->loop);
	edge_hwdog_free(a->hwdog); /* the loop that fed it is done: magic close */
	a->hwdog = NULL;

	will = edge_status_json(a, false, "shutdown");
	edge_uplink_shutdown(a->uplink, a->status_topic, will ? will : "{\"state\":\"offline\"}");
	free(will);
	edge_store_ack_flush(a->store);
	edge_store_stats(a->store, &st);
	EDGE_NOTICE(MOD,
		    "stopped; %" PRIu64
		    " message(s) kept in the outbox for the next start, %" PRIu64
		    " dropped at the cap in total, %" PRIu64 " refused by disk errors in total",
		    st.rows, st.dropped_cap, st.dropped_error);
	edge_provision_free(a->prov); /* bounded: a waiting helper is stopped, then killed */
	a->prov = NULL;
out_uplink:
	edge_ota_free(a->ota); /* bounded: a helper is stopped; state.json resumes it */
	a->ota = NULL;
	edge_ingress_free(a->ingress);
	a->ingress = NULL;
	stop_control(a);
	edge_uplink_free(a->uplink);
out_sampler:
	edge_sampler_free(a->sampler);
out_loop:
	if (a->sigfd >= 0)
		close(a->sigfd);
	edge_loop_free(a->loop);
out_store:
	edge_store_checkpoint(a->store);
	edge_store_close(a->store);
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 1000, OPT_BOARDS, OPT_DRIVERS, OPT_HELP_CONFIG };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"list-boards", no_argument, NULL, OPT_BOARDS},
	    {"list-drivers", no_argument, NULL, OPT_DRIVERS},
	    {"help-config", no_argument, NULL, OPT_HELP_CONFIG},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct edge_agent agent = {.sigfd = -1, .firmware = EDGE_AGENT_VERSION_STR};
	const char *config = DEFAULT_CONFIG;
	bool foreground = false, check = false;
	char err[512];
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:fVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_BOARDS:
			return list_boards();
		case OPT_DRIVERS:
			return list_drivers();
		case OPT_HELP_CONFIG:
			edge_config_print_reference(stdout);
			return 0;
		case 'V':
			printf("edge-agent %s\n", EDGE_AGENT_VERSION_STR);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "edge-agent: unexpected argument \"%s\" (see --help)\n",
			argv[optind]);
		return 2;
	}
	snprintf(agent.config_path, sizeof(agent.config_path), "%s", config);
	if (edge_config_load(config, &agent.cfg, err, sizeof(err)) ||
	    load_board(&agent.cfg, &agent.board, err, sizeof(err))) {
		fprintf(stderr, "edge-agent: %s\n", err);
		return 1;
	}
	/* keycheck.h: secrets group/other may read are refused; the token is
	 * probed only here, a token missing at run time is retried by the uplink */
	if (edge_agent_check_keys(&agent.cfg, check, err, sizeof(err))) {
		fprintf(stderr, "edge-agent: %s: %s\n", config, err);
		return 1;
	}
	if (check) {
		printf("%s: OK (device %s, board %s with %zu sensor(s), broker %s:%u, key %s)\n",
		       config, agent.cfg.device_id, agent.board.name, agent.board.n_sensors,
		       agent.cfg.mqtt.host, agent.cfg.mqtt.port,
		       *agent.cfg.mqtt.tls.key_file ? agent.cfg.mqtt.tls.key_file : "none");
		return 0;
	}
	edge_log_set_level(agent.cfg.log_level);
	if (!foreground && !getenv("NOTIFY_SOCKET")) {
		rc = daemonize();
		if (rc) {
			fprintf(stderr, "edge-agent: cannot daemonize: %s\n", strerror(-rc));
			return 1;
		}
	}
	rc = run(&agent);
	return rc ? 1 : agent.exit_code;
}
