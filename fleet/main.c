/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-fleet-exporter: devices' retained status and edge alerts (MQTT) ->
 * Prometheus /metrics (HTTP). One thread, one edge_loop: libmosquitto's
 * socket, libmicrohttpd's epoll fd, a signalfd and timers.
 */
#include <errno.h>
#include <malloc.h>
#include <mosquitto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "edge/log.h"
#include "edge/notify.h"
#include "exporter.h"

#define MOD "main"

static void on_signal(int fd, short revents, void *arg)
{
	struct signalfd_siginfo si;

	(void)revents;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		EDGE_NOTICE(MOD, "signal %u: stopping", si.ssi_signo);
	edge_loop_stop(arg);
}

int main(int argc, char **argv)
{
	struct edge_fleet_config cfg;
	struct edge_fleet_opts fo = {0};
	struct edge_fleet *fleet = NULL;
	struct edge_loop *loop = NULL;
	struct fleet_http *http = NULL;
	struct fleet_mqtt *mqtt = NULL;
	sigset_t sigs;
	int sfd = -1, rc, status = 1;

	rc = edge_fleet_config_load(&cfg, argc, argv, stdout, stderr);
	if (rc) {
		edge_fleet_config_free(&cfg);
		return rc > 0 ? 0 : 2;
	}
	if (edge_fleet_config_check_only()) {
		printf("configuration OK\n");
		edge_fleet_config_free(&cfg);
		return 0;
	}
	edge_log_set_level((enum edge_log_level)edge_log_level_from_name(cfg.log_level));

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);

	/* Scrape bodies are big (megabytes with 10,000 devices) and short-lived:
	 * keep them out of the heap so that freeing one gives the memory back
	 * instead of raising glibc's dynamic mmap threshold and pinning it. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mosquitto_lib_init();
	fo.max_devices = cfg.max_devices;
	fo.stale_after_s = cfg.stale_after_s;
	fo.version = EDGE_FLEET_VERSION;
	if (sfd < 0 || edge_fleet_new(&fo, &fleet) || edge_loop_new(&loop) ||
	    edge_loop_fd_add(loop, sfd, POLLIN, on_signal, loop)) {
		EDGE_ERR(MOD, "start-up failed: %s", strerror(errno));
		goto out;
	}
	if (fleet_http_start(&cfg, loop, fleet, &http))
		goto out;
	rc = fleet_mqtt_start(&cfg, loop, fleet, &mqtt);
	if (rc) {
		EDGE_ERR(MOD, "MQTT client setup failed: %s", strerror(-rc));
		goto out;
	}
	EDGE_NOTICE(MOD, "edge-fleet-exporter %s running", EDGE_FLEET_VERSION);
	/* Type=notify: ready once /metrics answers (the MQTT side keeps retrying) */
	edge_notify("READY=1\nSTATUS=serving /metrics");
	rc = edge_loop_run(loop);
	edge_notify("STOPPING=1");
	if (rc)
		EDGE_ERR(MOD, "event loop: %s", strerror(-rc));
	else
		status = 0;
out:
	fleet_mqtt_free(mqtt);
	fleet_http_free(http);
	edge_loop_free(loop);
	edge_fleet_free(fleet);
	mosquitto_lib_cleanup();
	if (sfd >= 0)
		close(sfd);
	edge_fleet_config_free(&cfg);
	return status;
}
