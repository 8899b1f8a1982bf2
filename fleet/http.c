/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "edge/log.h"
#include "edge/time.h"
#include "exporter.h"

#define MOD "http"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct fleet_http {
	struct edge_loop *loop;
	struct edge_fleet *fleet;
	struct MHD_Daemon *d;
	int epoll_fd;
	struct edge_timer *timer;
	/* The one body buffer, reused by every scrape (it keeps the size of the
	 * largest). While MHD still sends it, a concurrent scrape renders into a
	 * buffer of its own that MHD frees. */
	struct edge_fleet_buf body;
	bool body_busy;
	size_t spare_cap; /* size hint for those extra buffers */
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void body_released(void *cls)
{
	struct fleet_http *h = cls;

	h->body_busy = false;
}

static enum MHD_Result reply_metrics(struct fleet_http *h, struct MHD_Connection *c)
{
	struct edge_fleet_buf spare = {0};
	struct edge_fleet_buf *b = h->body_busy ? &spare : &h->body;
	struct MHD_Response *r;
	enum MHD_Result ret;
	uint64_t start = mono_us();
	size_t len;

	edge_fleet_buf_reset(b);
	if (b == &spare)
		edge_fleet_buf_reserve(b, h->spare_cap);
	if (edge_fleet_render(h->fleet, b, edge_wall_ms())) {
		edge_fleet_buf_free(&spare);
		EDGE_ERR(MOD, "out of memory rendering /metrics");
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	len = b->len;
	h->spare_cap = len + len / 8 + 4096;
	if (b == &spare) {
		char *data = edge_fleet_buf_steal(&spare, NULL);

		r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
		if (!r)
			free(data);
	} else {
		r = MHD_create_response_from_buffer_with_free_callback_cls(len, b->data,
									   body_released, h);
		h->body_busy = r != NULL;
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	edge_fleet_note_render(h->fleet, mono_us() - start, len);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct fleet_http *h = cls;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n");
	if (*upload_data_size)
		return reply_text(c, MHD_HTTP_BAD_REQUEST, "no body expected\n");
	if (!strcmp(url, "/metrics"))
		return reply_metrics(h, c);
	if (!strcmp(url, "/healthz"))
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz")) {
		/* ready = connected to the broker (the data is live) */
		return edge_fleet_mqtt_connected(h->fleet)
			   ? reply_text(c, MHD_HTTP_OK, "ready\n")
			   : reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "mqtt not connected\n");
	}
	if (!strcmp(url, "/"))
		return reply_text(c, MHD_HTTP_OK,
				  "edge-fleet-exporter: see /metrics, /healthz, /readyz\n");
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	EDGE_WARN(MOD, "libmicrohttpd: %s", line);
}

static void run(struct fleet_http *h)
{
	MHD_run(h->d);
}

static void on_epoll(int fd, short revents, void *arg)
{
	(void)fd;
	(void)revents;
	run(arg);
}

static void on_timer(void *arg)
{
	run(arg);
}

/* MHD may have work that its epoll fd will not signal again (connections
 * it left ready, timeouts): ask before every poll(). */
static void prepare(void *arg)
{
	struct fleet_http *h = arg;
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		edge_loop_timer_set(h->loop, h->timer, ms, 0);
	else
		edge_loop_timer_set(h->loop, h->timer, UINT64_MAX, 0);
}

int fleet_http_start(const struct edge_fleet_config *cfg, struct edge_loop *loop,
		     struct edge_fleet *fleet, struct fleet_http **out)
{
	struct fleet_http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss = {0};
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	int rc;

	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->fleet = fleet;
	h->epoll_fd = -1;
	if (strchr(cfg->listen_address, ':')) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)cfg->listen_port);
		rc = inet_pton(AF_INET6, cfg->listen_address, &a6->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)cfg->listen_port);
		rc = inet_pton(AF_INET, cfg->listen_address, &a4->sin_addr);
	}
	if (rc != 1) {
		EDGE_ERR(MOD, "listen.address \"%s\" is not an IPv4 or IPv6 address",
			 cfg->listen_address);
		free(h);
		return -EINVAL;
	}
	h->d = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL, handle, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
				MHD_OPTION_END);
	if (!h->d) {
		EDGE_ERR(MOD, "cannot listen on %s port %u (see above)", cfg->listen_address,
			 cfg->listen_port);
		free(h);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		rc = -ENOTSUP;
		goto err;
	}
	h->epoll_fd = info->epoll_fd;
	rc = edge_loop_fd_add(loop, h->epoll_fd, POLLIN, on_epoll, h);
	if (rc) {
		h->epoll_fd = -1;
		goto err;
	}
	rc = edge_loop_timer_add(loop, UINT64_MAX, 0, on_timer, h, &h->timer);
	if (rc)
		goto err;
	rc = edge_loop_prepare_add(loop, prepare, h);
	if (rc)
		goto err;
	EDGE_NOTICE(MOD, "serving http://%s%s%s:%u/metrics",
		    strchr(cfg->listen_address, ':') ? "[" : "", cfg->listen_address,
		    strchr(cfg->listen_address, ':') ? "]" : "", cfg->listen_port);
	*out = h;
	return 0;
err:
	fleet_http_free(h);
	return rc;
}

void fleet_http_free(struct fleet_http *h)
{
	if (!h)
		return;
	if (h->epoll_fd >= 0)
		edge_loop_fd_del(h->loop, h->epoll_fd);
	edge_loop_timer_del(h->loop, h->timer);
	MHD_stop_daemon(h->d); /* releases the responses, then the body can go */
	edge_fleet_buf_free(&h->body);
	free(h);
}
