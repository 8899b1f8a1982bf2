/* SPDX-License-Identifier: Apache-2.0 */
/* UART: sim ports (feed, poll, stream model) and the termios backend on a pty. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "edge/hal/sim.h"
#include "edge/hal/uart.h"
#include "edge_check.h"

static int readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void test_sim_feed_and_poll(void)
{
	struct edge_uart *u;
	uint8_t buf[64];
	char sent[16];
	int fd;

	edge_sim_reset();
	CHECK_EQ(edge_uart_open("sim:gps0", NULL, &u), 0);
	fd = edge_uart_fd(u);
	CHECK(fd >= 0);
	CHECK(!readable(fd, 0));
	CHECK_EQ(edge_uart_read(u, buf, sizeof(buf)), 0); /* nothing: 0, not blocking */
	CHECK_EQ(edge_sim_uart_feed("gps0", "hello", 5), 5);
	CHECK(readable(fd, 100));
	/* partial read: what fits now, the rest later */
	CHECK_EQ(edge_uart_read(u, buf, 3), 3);
	CHECK(memcmp(buf, "hel", 3) == 0);
	CHECK(readable(fd, 0));
	CHECK_EQ(edge_uart_read(u, buf, sizeof(buf)), 2);
	CHECK(memcmp(buf, "lo", 2) == 0);
	CHECK(!readable(fd, 0));
	/* what the driver writes is captured, not echoed back */
	CHECK_EQ(edge_uart_write(u, (const uint8_t *)"$PMTK", 5), 5);
	CHECK(!readable(fd, 0));
	CHECK_EQ(edge_sim_uart_sent("gps0", sent, sizeof(sent)), 5);
	CHECK(memcmp(sent, "$PMTK", 5) == 0);
	CHECK_EQ(edge_sim_uart_sent("gps0", sent, sizeof(sent)), 0);
	edge_uart_close(u);
	edge_sim_reset();
}

static void test_sim_stream_model_pinned_time(void)
{
	struct edge_sim_stream *st;
	struct edge_uart *u;
	char buf[512];
	ssize_t n;

	edge_sim_reset();
	edge_sim_time_set(1000000);
	CHECK_EQ(edge_sim_uart_attach("gps1", "nmea,gps", &st), 0);
	CHECK_EQ(edge_sim_uart_attach("gps1", "nmea,gps", NULL), -EEXIST);
	CHECK_EQ(edge_sim_uart_attach("gps2", "no,such", NULL), -ENOENT);
	CHECK(edge_sim_uart_stream("gps1") == st);
	CHECK_EQ(edge_uart_open("sim:gps1", NULL, &u), 0);
	n = edge_uart_read(u, (uint8_t *)buf, sizeof(buf) - 1);
	CHECK(n > 40);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, "$GPGGA,") != NULL);
	CHECK(strstr(buf, "$GPRMC,") != NULL);
	/* same simulated second: nothing new */
	CHECK_EQ(edge_uart_read(u, (uint8_t *)buf, sizeof(buf)), 0);
	edge_sim_time_set(1001000);
	CHECK(edge_uart_read(u, (uint8_t *)buf, sizeof(buf)) > 40);
	/* no fix: still sentences, but empty positions */
	CHECK_EQ(edge_sim_stream_set(st, "fix", 0), 0);
	CHECK_EQ(edge_sim_stream_set(st, "sats", 1000), -ERANGE);
	edge_sim_time_set(1002000);
	n = edge_uart_read(u, (uint8_t *)buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, ",V,") != NULL);
	edge_sim_time_set(0);
	edge_sim_reset();
}

static void test_sim_stream_wakes_poll(void)
{
	struct edge_sim_stream *st;
	struct edge_uart *u;
	uint8_t buf[512];

	/* real clock: the port's fd must become readable by itself when the
	 * model is due, without anyone calling read first */
	edge_sim_reset();
	edge_sim_time_set(0);
	CHECK_EQ(edge_sim_uart_attach("gps3", "nmea,gps", &st), 0);
	CHECK_EQ(edge_sim_stream_set(st, "period_ms", 100), 0);
	CHECK_EQ(edge_uart_open("sim:gps3", NULL, &u), 0);
	CHECK(readable(edge_uart_fd(u), 1000));
	CHECK(edge_uart_read(u, buf, sizeof(buf)) > 0);
	/* drained: the next epoch (<= 100 ms away) wakes poll again */
	CHECK_EQ(edge_uart_read(u, buf, sizeof(buf)), 0);
	CHECK(readable(edge_uart_fd(u), 1000));
	CHECK(edge_uart_read(u, buf, sizeof(buf)) > 0);
	edge_sim_reset();
}

static void test_open_arguments(void)
{
	struct edge_uart *u;
	struct edge_uart_config c = {.baud = 9600, .data_bits = 9};

	CHECK_EQ(edge_uart_open(NULL, NULL, &u), -EINVAL);
	CHECK_EQ(edge_uart_open("sim:x", &c, &u), -EINVAL);
	c.data_bits = 8;
	c.stop_bits = 3;
	CHECK_EQ(edge_uart_open("sim:x", &c, &u), -EINVAL);
	c.stop_bits = 1;
	c.baud = 12345; /* not a termios rate */
	CHECK_EQ(edge_uart_open("/dev/null", &c, &u), -EINVAL);
	c.baud = 9600;
	CHECK_EQ(edge_uart_open("/dev/null", &c, &u), -ENOTTY);
	CHECK_EQ(edge_uart_open("/dev/ttyNoSuchPort", &c, &u), -ENOENT);
	edge_sim_reset();
}

static void test_linux_termios_on_pty(void)
{
	struct edge_uart_config c = {.baud = 115200, .parity = EDGE_UART_PARITY_EVEN};
	struct edge_uart *u = NULL;
	struct termios tio;
	uint8_t buf[32];
	int master, fd;
	char *name;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(master >= 0);
	if (master < 0)
		return;
	CHECK_EQ(grantpt(master), 0);
	CHECK_EQ(unlockpt(master), 0);
	name = ptsname(master);
	CHECK(name != NULL);
	CHECK_EQ(edge_uart_open(name, &c, &u), 0);
	if (!u) {
		close(master);
		return;
	}
	fd = edge_uart_fd(u);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ(tcgetattr(fd, &tio), 0);
	CHECK_EQ(cfgetispeed(&tio), B115200);
	/* (a pty keeps no parity/size bits, so they cannot be checked here) */
	CHECK(!(tio.c_lflag & ICANON)); /* raw */
	CHECK_EQ(edge_uart_read(u, buf, sizeof(buf)), 0);
	CHECK_EQ(write(master, "$GP\r\n", 5), 5);
	CHECK(readable(fd, 1000));
	CHECK_EQ(edge_uart_read(u, buf, sizeof(buf)), 5);
	CHECK(memcmp(buf, "$GP\r\n", 5) == 0); /* raw: CR LF untouched */
	CHECK_EQ(edge_uart_write(u, (const uint8_t *)"AT", 2), 2);
	CHECK(readable(master, 1000));
	CHECK_EQ(read(master, buf, sizeof(buf)), 2);
	edge_uart_close(u);
	close(master);
}

EDGE_CHECK_MAIN(test_sim_feed_and_poll, test_sim_stream_model_pinned_time,
		test_sim_stream_wakes_poll, test_open_arguments, test_linux_termios_on_pty)
