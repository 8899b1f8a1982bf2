/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BlueZ cuff backend against a fake BlueZ: a private dbus-daemon, and a
 * child process that owns "org.bluez" and exports what bluetoothd would for
 * a paired cuff (ObjectManager at "/", a GattCharacteristic1 with UUID
 * 0x2A35 whose StartNotify makes it send Blood Pressure Measurement values
 * as PropertiesChanged "Value"). The driver finds the bus through
 * DBUS_SYSTEM_BUS_ADDRESS, as sd_bus_open_system() honours it. The test
 * links libsystemd for its fake; the driver dlopen()s it all the same.
 * Exit 77 (skipped) when dbus-daemon is not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "drivers_internal.h"
#include "edge_check.h"

#define DEV_PATH  "/org/bluez/hci0/dev_A4_C1_38_0F_22_9B"
#define CHAR_PATH DEV_PATH "/service000a/char000b"
#define CUFF	  "A4:C1:38:0F:22:9B"

static char dir[64], bus_addr[192];
static pid_t daemon_pid = -1;

/* ---- the fake bluetoothd (child process) ---- */

struct fake {
	uint8_t value[32];
	size_t len;
	int notifying;
};

static const uint8_t meas_mmhg[] = {0x04, 0x7D, 0x00, 0x4F, 0x00, 0x5E, 0x00, 0x41, 0x00};
static const uint8_t meas_kpa[] = {0x01, 0xA0, 0xF0, 0x6B, 0xF0, 0x7D, 0xF0};

static int prop_uuid(sd_bus *b, const char *p, const char *i, const char *n, sd_bus_message *r,
		     void *u, sd_bus_error *e)
{
	(void)b, (void)p, (void)i, (void)n, (void)u, (void)e;
	return sd_bus_message_append(r, "s", "00002A35-0000-1000-8000-00805F9B34FB");
}

static int prop_value(sd_bus *b, const char *p, const char *i, const char *n, sd_bus_message *r,
		      void *u, sd_bus_error *e)
{
	struct fake *f = u;

	(void)b, (void)p, (void)i, (void)n, (void)e;
	return sd_bus_message_append_array(r, 'y', f->value, f->len);
}

static int prop_notifying(sd_bus *b, const char *p, const char *i, const char *n, sd_bus_message *r,
			  void *u, sd_bus_error *e)
{
	struct fake *f = u;

	(void)b, (void)p, (void)i, (void)n, (void)e;
	return sd_bus_message_append(r, "b", f->notifying);
}

static int start_notify(sd_bus_message *m, void *u, sd_bus_error *e)
{
	struct fake *f = u;

	(void)e;
	f->notifying = 1;
	return sd_bus_reply_method_return(m, "");
}

static int stop_notify(sd_bus_message *m, void *u, sd_bus_error *e)
{
	struct fake *f = u;

	(void)e;
	f->notifying = 0;
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable char_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("UUID", "s", prop_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Value", "ay", prop_value, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Notifying", "b", prop_notifying, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_METHOD("StartNotify", "", "", start_notify, 0),
    SD_BUS_METHOD("StopNotify", "", "", stop_notify, 0),
    SD_BUS_VTABLE_END,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* late_ms: export the characteristic only after that long (InterfacesAdded) */
static int fake_bluez(unsigned late_ms)
{
	struct fake f = {0};
	sd_bus *bus = NULL;
	uint64_t t0 = now_ms();
	int exported = 0, sent = 0;

	if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, bus_addr) < 0 ||
	    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0 ||
	    sd_bus_request_name(bus, "org.bluez", 0) < 0 ||
	    sd_bus_add_object_manager(bus, NULL, "/") < 0)
		return 1;
	while (now_ms() - t0 < 5000) {
		if (!exported && now_ms() - t0 >= late_ms) {
			if (sd_bus_add_object_vtable(bus, NULL, CHAR_PATH,
						     "org.bluez.GattCharacteristic1", char_vtable,
						     &f) < 0)
				return 1;
			if (late_ms)
				sd_bus_emit_interfaces_added(bus, CHAR_PATH,
							     "org.bluez.GattCharacteristic1", NULL);
			exported = 1;
		}
		/* once subscribed, indicate two measurements 100 ms apart */
		if (f.notifying && sent < 2 && now_ms() - t0 >= late_ms + 100u * (unsigned)sent) {
			const uint8_t *v = sent ? meas_kpa : meas_mmhg;
			size_t n = sent ? sizeof(meas_kpa) : sizeof(meas_mmhg);

			memcpy(f.value, v, n);
			f.len = n;
			sd_bus_emit_properties_changed(
			    bus, CHAR_PATH, "org.bluez.GattCharacteristic1", "Value", NULL);
			sent++;
		}
		while (sd_bus_process(bus, NULL) > 0) {
		}
		sd_bus_wait(bus, 20000);
	}
	sd_bus_flush_close_unref(bus);
	return 0;
}

/* ---- the private bus ---- */

static int start_daemon(void)
{
	char conf[96], sock[96];
	FILE *fp;

	if (access("/usr/bin/dbus-daemon", X_OK) != 0)
		return -ENOENT;
	snprintf(dir, sizeof(dir), "/tmp/edge-bluez-XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(conf, sizeof(conf), "%s/bus.conf", dir);
	snprintf(sock, sizeof(sock), "%s/bus", dir);
	snprintf(bus_addr, sizeof(bus_addr), "unix:path=%s", sock);
	fp = fopen(conf, "w");
	if (!fp)
		return -errno;
	fprintf(
	    fp,
	    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	    "<busconfig><type>session</type><listen>%s</listen><auth>EXTERNAL</auth>\n"
	    "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	    "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
	    bus_addr);
	fclose(fp);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		char arg[160];

		snprintf(arg, sizeof(arg), "--config-file=%s", conf);
		execl("/usr/bin/dbus-daemon", "dbus-daemon", arg, "--nofork", "--nopidfile",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) { /* up to 2 s for the socket */
		struct stat st;

		if (stat(sock, &st) == 0)
			return setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_addr, 1) ? -errno : 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static void stop_daemon(void)
{
	char path[128];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/bus.conf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bus", dir);
	unlink(path);
	rmdir(dir);
}

static pid_t spawn_fake(unsigned late_ms)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(fake_bluez(late_ms));
	usleep(150000); /* let it take the name */
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Polls the driver's fd and fetches until n measurements arrived. */
static int collect(struct edge_sensor *s, int32_t *sys, int32_t *dia, int32_t *pulse, int n,
		   unsigned timeout_ms)
{
	uint64_t t0 = now_ms();
	int got = 0;

	while (got < n && now_ms() - t0 < timeout_ms) {
		struct pollfd p = {.fd = edge_sensor_pollfd(s), .events = POLLIN};
		int32_t v;

		poll(&p, 1, 50);
		CHECK_EQ(edge_sensor_sample_fetch(s), 0);
		if (edge_sensor_channel_get(s, EDGE_CH_SYSTOLIC, &v) == 0) {
			sys[got] = v;
			dia[got] = -1;
			pulse[got] = -1;
			edge_sensor_channel_get(s, EDGE_CH_DIASTOLIC, &dia[got]);
			edge_sensor_channel_get(s, EDGE_CH_PULSE_RATE, &pulse[got]);
			got++;
		}
	}
	return got;
}

static void test_indications(void)
{
	struct edge_sensor_binding bind = {.param = CUFF};
	struct edge_sensor *s = NULL;
	int32_t sys[2], dia[2], pulse[2];
	pid_t pid = spawn_fake(0);

	CHECK_EQ(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s), 0);
	if (!s) {
		reap(pid);
		return;
	}
	CHECK(edge_sensor_pollfd(s) >= 0);
	CHECK(edge_bluez_bp_driver.unavailable() == NULL); /* libsystemd.so.0 was loaded */
	CHECK_EQ(collect(s, sys, dia, pulse, 2, 3000), 2);
	CHECK_EQ(sys[0], 125);
	CHECK_EQ(dia[0], 79);
	CHECK_EQ(pulse[0], 65);
	CHECK_EQ(sys[1], 120); /* 16.0 kPa */
	CHECK_EQ(dia[1], 80);  /* 10.7 kPa */
	CHECK_EQ(pulse[1], -1);
	edge_sensor_destroy(s);
	reap(pid);
}

static void test_characteristic_appears_later(void)
{
	struct edge_sensor_binding bind = {.param = CUFF};
	struct edge_sensor *s = NULL;
	int32_t sys[1], dia[1], pulse[1];
	pid_t pid = spawn_fake(400);

	/* paired but not resolved yet: init succeeds and waits */
	CHECK_EQ(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s), 0);
	if (!s) {
		reap(pid);
		return;
	}
	CHECK_EQ(collect(s, sys, dia, pulse, 1, 3000), 1);
	CHECK_EQ(sys[0], 125);
	edge_sensor_destroy(s);
	reap(pid);
}

static void test_no_bluetoothd(void)
{
	struct edge_sensor_binding bind = {.param = CUFF};
	struct edge_sensor *s = NULL;

	/* nobody owns org.bluez: init fails, the sampler retries later */
	CHECK(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s) < 0);
	CHECK(s == NULL);
}

static void test_other_device_ignored(void)
{
	struct edge_sensor_binding bind = {.param = "A4:C1:38:0F:22:9C"};
	struct edge_sensor *s = NULL;
	int32_t sys[1], dia[1], pulse[1];
	pid_t pid = spawn_fake(0);

	/* the fake exports a cuff at another address: nothing is delivered */
	CHECK_EQ(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s), 0);
	if (s) {
		CHECK_EQ(collect(s, sys, dia, pulse, 1, 700), 0);
		edge_sensor_destroy(s);
	}
	reap(pid);
}

int main(int argc, char **argv)
{
	static const edge_check_fn fns[] = {test_no_bluetoothd, test_indications,
					    test_characteristic_appears_later,
					    test_other_device_ignored};
	int rc = start_daemon();

	if (rc == -ENOENT) {
		printf("%s: dbus-daemon not installed, skipped\n", argv[0]);
		return 77;
	}
	if (rc) {
		fprintf(stderr, "%s: private bus: %s\n", argv[0], strerror(-rc));
		stop_daemon();
		return 1;
	}
	(void)argc;
	rc = edge_check_run(argv[0], fns,
			    "test_no_bluetoothd test_indications "
			    "test_characteristic_appears_later test_other_device_ignored",
			    sizeof(fns) / sizeof(fns[0]));
	stop_daemon();
	return rc;
}
