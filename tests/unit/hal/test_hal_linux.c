/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Linux backends' use of the kernel uAPI, without the kernel devices:
 * open() and ioctl() are wrapped at link time (-Wl,--wrap) so that paths
 * under /dev/fake- reach a small in-process stand-in of the kernel:
 *   - i2c-dev: I2C_FUNCS, and I2C_RDWR messages routed to the sim chip
 *     models (so the MLX90614 model checks the backend's PEC reads);
 *   - GPIO chardev v2: GPIO_V2_GET_LINE_IOCTL (the request is recorded and
 *     checked), SET/GET_VALUES, edge events read from the line fd;
 *   - watchdog: WDIOC_KEEPALIVE / SETTIMEOUT / GETTIMEOUT and the magic 'V'.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <linux/watchdog.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "edge/hal/gpio.h"
#include "edge/hal/i2c.h"
#include "edge/hal/mlx90614_regs.h"
#include "edge/hal/sim.h"
#include "edge/hal/watchdog.h"
#include "edge_check.h"

int __real_open(const char *path, int flags, ...);
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

enum fake_kind { FAKE_NONE, FAKE_I2C, FAKE_GPIOCHIP, FAKE_WDT };

static struct {
	int i2c_fd, chip_fd, wdt_fd, wdt_rd, line_fd, line_wr;
	int chip_flags, wdt_flags;
	struct gpio_v2_line_request req; /* the last line request */
	uint64_t line_bits;
	int keepalives, timeout;
	struct edge_i2c_bus *sim; /* where I2C_RDWR goes */
	unsigned rdwr_calls;
} k = {.i2c_fd = -1, .chip_fd = -1, .wdt_fd = -1, .wdt_rd = -1, .line_fd = -1, .line_wr = -1};

static int fake_fd(void)
{
	int p[2];

	if (pipe(p) < 0)
		return -1;
	close(p[1]);
	return p[0];
}

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (strcmp(path, "/dev/fake-i2c") == 0)
		return k.i2c_fd = fake_fd();
	if (strcmp(path, "/dev/fake-gpiochip") == 0) {
		k.chip_flags = flags;
		return k.chip_fd = fake_fd();
	}
	if (strcmp(path, "/dev/fake-watchdog") == 0) {
		int p[2];

		if (pipe(p) < 0)
			return -1;
		k.wdt_flags = flags;
		k.wdt_rd = p[0];
		return k.wdt_fd = p[1];
	}
	return __real_open(path, flags, mode);
}

static int fake_rdwr(struct i2c_rdwr_ioctl_data *x)
{
	const uint8_t *w = NULL;
	uint8_t *r = NULL;
	size_t wlen = 0, rlen = 0;

	k.rdwr_calls++;
	if (x->nmsgs < 1 || x->nmsgs > 2)
		return -EINVAL;
	for (unsigned i = 0; i < x->nmsgs; i++) {
		if (x->msgs[i].addr != x->msgs[0].addr)
			return -EINVAL;
		if (x->msgs[i].flags & I2C_M_RD) {
			r = x->msgs[i].buf;
			rlen = x->msgs[i].len;
		} else {
			if (i == 1)
				return -EINVAL; /* a write after the read: not what we send */
			w = x->msgs[i].buf;
			wlen = x->msgs[i].len;
		}
	}
	return edge_i2c_transfer(k.sim, x->msgs[0].addr, w, wlen, r, rlen);
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int rc = 0;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd >= 0 && fd == k.i2c_fd && req == I2C_FUNCS) {
		*(unsigned long *)arg = I2C_FUNC_I2C;
	} else if (fd >= 0 && fd == k.i2c_fd && req == I2C_RDWR) {
		rc = fake_rdwr(arg);
	} else if (fd >= 0 && fd == k.chip_fd && req == GPIO_V2_GET_LINE_IOCTL) {
		struct gpio_v2_line_request *lr = arg;
		int p[2];

		k.req = *lr;
		if (pipe(p) < 0)
			return -1;
		k.line_fd = lr->fd = p[0];
		k.line_wr = p[1];
		k.line_bits = 0;
		if (lr->config.num_attrs &&
		    lr->config.attrs[0].attr.id == GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES)
			k.line_bits = lr->config.attrs[0].attr.values & lr->config.attrs[0].mask;
	} else if (fd >= 0 && fd == k.line_fd && req == GPIO_V2_LINE_SET_VALUES_IOCTL) {
		struct gpio_v2_line_values *v = arg;

		k.line_bits = (k.line_bits & ~v->mask) | (v->bits & v->mask);
	} else if (fd >= 0 && fd == k.line_fd && req == GPIO_V2_LINE_GET_VALUES_IOCTL) {
		struct gpio_v2_line_values *v = arg;

		v->bits = k.line_bits & v->mask;
	} else if (fd >= 0 && fd == k.wdt_fd) {
		if (req == WDIOC_KEEPALIVE)
			k.keepalives++;
		else if (req == WDIOC_SETTIMEOUT) /* clamps like the BCM2835, writes back */
			*(int *)arg = k.timeout = *(int *)arg > 15 ? 15 : *(int *)arg;
		else if (req == WDIOC_GETTIMEOUT)
			*(int *)arg = k.timeout;
		else
			rc = -ENOTTY;
	} else {
		return __real_ioctl(fd, req, arg);
	}
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

static void test_i2c_dev_rdwr_with_pec(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	uint16_t v = 0;

	edge_sim_reset();
	CHECK_EQ(edge_sim_i2c_attach("kernel", MLX90614_I2C_ADDR, "melexis,mlx90614", &chip), 0);
	CHECK_EQ(edge_i2c_open("sim:kernel", &k.sim), 0);
	CHECK_EQ(edge_i2c_open("/dev/fake-i2c", &bus), 0);
	CHECK_STR(bus->name, "/dev/fake-i2c");
	CHECK_EQ(edge_sim_chip_set(chip, "object_mk", 310160), 0);
	/* one I2C_RDWR: write command, repeated start, read LSB MSB PEC */
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_RAM_TOBJ1, &v, 1), 0);
	CHECK_EQ(v, 310160 / 20);
	CHECK_EQ(k.rdwr_calls, 1);
	CHECK_EQ(edge_sim_chip_set(chip, "corrupt_pec", 1), 0);
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_RAM_TOBJ1, &v, 1), -EBADMSG);
	/* the "kernel" error comes back as a negative errno */
	CHECK_EQ(edge_smbus_read_word(bus, 0x33, MLX90614_RAM_TOBJ1, &v, 1), -ENXIO);
	edge_i2c_close(bus);
	k.i2c_fd = -1; /* closed: the number may come back for another device */
	edge_i2c_close(k.sim);
	edge_sim_reset();
}

static void test_gpio_v2_request(void)
{
	struct edge_gpio_line *led, *btn;
	struct gpio_v2_line_event ke = {0};
	struct edge_gpio_event ev;
	int v = -1;

	CHECK_EQ(edge_gpio_request("fake-gpiochip", 17, EDGE_GPIO_OUTPUT | EDGE_GPIO_ACTIVE_LOW, 1,
				   "status", &led),
		 0);
	CHECK(k.chip_flags & O_CLOEXEC);
	CHECK_EQ(k.req.num_lines, 1);
	CHECK_EQ(k.req.offsets[0], 17);
	CHECK_STR(k.req.consumer, "status");
	CHECK_EQ(k.req.config.flags, GPIO_V2_LINE_FLAG_OUTPUT | GPIO_V2_LINE_FLAG_ACTIVE_LOW);
	CHECK_EQ(k.req.config.num_attrs, 1);
	CHECK_EQ(k.req.config.attrs[0].attr.id, GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES);
	CHECK_EQ(k.line_bits, 1); /* initial value, logical */
	CHECK_EQ(edge_gpio_set(led, 0), 0);
	CHECK_EQ(k.line_bits, 0);
	CHECK_EQ(edge_gpio_set(led, 1), 0);
	CHECK_EQ(edge_gpio_get(led, &v), 0);
	CHECK_EQ(v, 1);
	edge_gpio_release(led);

	CHECK_EQ(edge_gpio_request("/dev/fake-gpiochip", 4,
				   EDGE_GPIO_INPUT | EDGE_GPIO_EDGE_RISING |
				       EDGE_GPIO_EDGE_FALLING | EDGE_GPIO_PULL_UP,
				   0, NULL, &btn),
		 0);
	CHECK_STR(k.req.consumer, "edge-agent");
	CHECK_EQ(k.req.config.flags, GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING |
					 GPIO_V2_LINE_FLAG_EDGE_FALLING |
					 GPIO_V2_LINE_FLAG_BIAS_PULL_UP);
	CHECK_EQ(k.req.config.num_attrs, 0);
	CHECK(k.req.event_buffer_size > 0);
	CHECK_EQ(edge_gpio_fd(btn), k.line_fd);
	CHECK(fcntl(k.line_fd, F_GETFL) & O_NONBLOCK);
	CHECK_EQ(edge_gpio_event_read(btn, &ev), 0); /* nothing queued: no blocking */
	ke.timestamp_ns = 123456789;
	ke.id = GPIO_V2_LINE_EVENT_FALLING_EDGE;
	ke.offset = 4;
	ke.line_seqno = 7;
	CHECK_EQ(write(k.line_wr, &ke, sizeof(ke)), (ssize_t)sizeof(ke));
	CHECK_EQ(edge_gpio_event_read(btn, &ev), 1);
	CHECK_EQ(ev.rising, 0);
	CHECK_EQ(ev.seqno, 7);
	CHECK_EQ(ev.timestamp_ns, 123456789);
	edge_gpio_release(btn);
	close(k.line_wr);
	k.chip_fd = k.line_fd = -1;
}

static void test_watchdog_ioctls_and_magic_close(void)
{
	struct edge_watchdog *w;
	char buf[4] = {0};
	int t = 0;

	CHECK_EQ(edge_watchdog_open("/dev/fake-watchdog", &w), 0);
	CHECK_EQ(k.wdt_flags & O_ACCMODE, O_WRONLY);
	CHECK(k.wdt_flags & O_CLOEXEC);
	/* the driver may round: the timeout in force comes back */
	CHECK_EQ(edge_watchdog_set_timeout(w, 30), 15);
	CHECK_EQ(edge_watchdog_get_timeout(w, &t), 0);
	CHECK_EQ(t, 15);
	CHECK_EQ(edge_watchdog_keepalive(w), 0);
	CHECK_EQ(edge_watchdog_keepalive(w), 0);
	CHECK_EQ(k.keepalives, 2);
	edge_watchdog_close(w);
	CHECK_EQ(read(k.wdt_rd, buf, sizeof(buf)), 1);
	CHECK_EQ(buf[0], 'V');
	close(k.wdt_rd);
	/* abandon: closed without the magic character */
	CHECK_EQ(edge_watchdog_open("/dev/fake-watchdog", &w), 0);
	edge_watchdog_abandon(w);
	CHECK_EQ(read(k.wdt_rd, buf, sizeof(buf)), 0); /* EOF, no 'V' */
	close(k.wdt_rd);
}

EDGE_CHECK_MAIN(test_i2c_dev_rdwr_with_pec, test_gpio_v2_request,
		test_watchdog_ioctls_and_magic_close)
