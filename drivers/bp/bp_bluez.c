/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "bluetooth,blood-pressure": a paired Bluetooth LE cuff through BlueZ over
 * D-Bus (sd-bus from libsystemd). param: the cuff's address
 * "AA:BB:CC:DD:EE:FF" and optionally ",adapter=hci1".
 *
 * init  connects to the system bus, subscribes to BlueZ's signals, looks for
 *       the cuff's Blood Pressure Measurement characteristic (UUID 0x2A35)
 *       among BlueZ's objects (ObjectManager.GetManagedObjects, under
 *       /org/bluez/<hci>/dev_<addr>) and asks for indications
 *       (GattCharacteristic1.StartNotify, asynchronously). A paired cuff
 *       whose services are not resolved yet is fine: InterfacesAdded brings
 *       the characteristic later. No bluetoothd on the bus fails init.
 * pollfd the bus fd: the agent polls it; sample_fetch runs sd_bus_process()
 *       (bounded). PropertiesChanged "Value" on the characteristic is
 *       decoded by edge_bp_decode(); Device1 "Connected" turning true
 *       re-subscribes (cuffs connect to upload, then drop the link).
 * sd-bus allocates while processing messages: this backend is the exception
 * to "no allocation on the sample path".
 *
 * sd-bus is not linked: the first init dlopen()s libsystemd.so.0 and
 * resolves the functions below, so libsystemd and what it pulls in (libcap,
 * libgcrypt, liblzma, libzstd, liblz4: about 1 MiB of RSS) are mapped only
 * into an agent whose board has a BlueZ cuff. Without the library init
 * returns -ENOTSUP and .unavailable says why (the agent logs it once).
 *
 * Compiled only with EDGE_BLUEZ=ON and the sd-bus headers found (Debian
 * libsystemd-dev); otherwise init returns -ENOTSUP. Tested against a fake
 * BlueZ on a private bus (tests/unit/drivers/test_bluez.c), not against a
 * real one; the missing library by tests/unit/drivers/test_bluez_nolib.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bp_internal.h"

#define BP_MEAS_UUID "00002a35-0000-1000-8000-00805f9b34fb"

static int parse_param(const char *p, char *addr_path, size_t alen, char *adapter, size_t adlen)
{
	const char *ad;
	size_t i;

	if (!p)
		return -EINVAL;
	/* "AA:BB:CC:DD:EE:FF" -> "AA_BB_CC_DD_EE_FF" */
	if (alen < 18)
		return -EINVAL;
	for (i = 0; i < 17; i++) {
		char c = p[i];

		if (i % 3 == 2) {
			if (c != ':')
				return -EINVAL;
			addr_path[i] = '_';
		} else if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) {
			addr_path[i] = c;
		} else if (c >= 'a' && c <= 'f') {
			addr_path[i] = (char)(c - 'a' + 'A');
		} else {
			return -EINVAL;
		}
	}
	addr_path[17] = '\0';
	if (p[17] != '\0' && p[17] != ',')
		return -EINVAL;
	ad = strstr(p, "adapter=");
	snprintf(adapter, adlen, "%.*s", ad ? (int)strcspn(ad + 8, ",") : 4, ad ? ad + 8 : "hci0");
	for (const char *c = adapter; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
			return -EINVAL;
	return 0;
}

#ifdef EDGE_HAVE_SDBUS
#include <dlfcn.h>
#include <systemd/sd-bus.h>

#ifndef EDGE_SDBUS_SONAME
#define EDGE_SDBUS_SONAME "libsystemd.so.0" /* a test build names a missing one */
#endif

/* Every sd_bus_<f> this backend calls, as sdbus.<f>, typed from sd-bus.h. */
#define SDBUS_FUNCS(X)                                                                             \
	X(open_system)                                                                             \
	X(match_signal)                                                                            \
	X(flush)                                                                                   \
	X(flush_close_unref)                                                                       \
	X(process)                                                                                 \
	X(get_fd)                                                                                  \
	X(call_method)                                                                             \
	X(call_method_async)                                                                       \
	X(slot_unref)                                                                              \
	X(error_free)                                                                              \
	X(error_get_errno)                                                                         \
	X(message_enter_container)                                                                 \
	X(message_exit_container)                                                                  \
	X(message_read)                                                                            \
	X(message_read_array)                                                                      \
	X(message_skip)                                                                            \
	X(message_get_error)                                                                       \
	X(message_get_path)                                                                        \
	X(message_is_signal)                                                                       \
	X(message_unref)

#define SDBUS_MEMBER(f) __typeof__(sd_bus_##f) *f;
static struct {
	SDBUS_FUNCS(SDBUS_MEMBER)
} sdbus;
#undef SDBUS_MEMBER

static int sdbus_state;	    /* 0 not tried yet, 1 resolved, -ENOTSUP missing */
static char sdbus_why[320]; /* why not, for .unavailable */

/* Resolves the table once (the agent is single-threaded); a failure is
 * remembered: installing the library later takes a restart. The
 * `*(void **)&fp = dlsym()` form is how POSIX stores a function pointer. */
static int sdbus_load(void)
{
	const char *msg;
	void *h;

	if (sdbus_state)
		return sdbus_state > 0 ? 0 : sdbus_state;
	sdbus_state = -ENOTSUP;
	h = dlopen(EDGE_SDBUS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		goto err_open;
#define SDBUS_RESOLVE(f)                                                                           \
	if (!(*(void **)&sdbus.f = dlsym(h, "sd_bus_" #f)))                                        \
		goto err_sym;
	SDBUS_FUNCS(SDBUS_RESOLVE)
#undef SDBUS_RESOLVE
	sdbus_state = 1;
	return 0;

err_sym:
	msg = dlerror();
	snprintf(sdbus_why, sizeof(sdbus_why), "sd-bus from %s unusable: %s", EDGE_SDBUS_SONAME,
		 msg ? msg : "a symbol is missing");
	dlclose(h);
	memset(&sdbus, 0, sizeof(sdbus));
	return sdbus_state;
err_open:
	msg = dlerror();
	snprintf(sdbus_why, sizeof(sdbus_why),
		 "cannot load sd-bus from %s: %s (install libsystemd0)", EDGE_SDBUS_SONAME,
		 msg ? msg : "unknown error");
	return sdbus_state;
}

static const char *bluez_unavailable(void)
{
	return sdbus_state < 0 ? sdbus_why : NULL;
}

#define MAX_PROCESS_FETCH 64
#define IFACE_CHAR	  "org.bluez.GattCharacteristic1"
#define IFACE_DEVICE	  "org.bluez.Device1"

struct bluez_cuff {
	struct edge_bp_latest latest;
	sd_bus *bus;
	sd_bus_slot *signals; /* every signal org.bluez sends */
	char dev_path[96];
	char char_path[160]; /* "" until the characteristic is known */
	int notifying;
	int last_error; /* of the last StartNotify, 0 when fine */
};

static int uuid_equal(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
		char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;

		if (x != y)
			return 0;
	}
	return *a == *b;
}

static int under_device(const struct bluez_cuff *c, const char *path)
{
	size_t n = strlen(c->dev_path);

	return strncmp(path, c->dev_path, n) == 0 && path[n] == '/';
}

/* In an a{sv} of GattCharacteristic1 properties: is UUID ours? */
static int props_have_uuid(sd_bus_message *m, int *match)
{
	int r;

	r = sdbus.message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sdbus.message_enter_container(m, 'e', "sv")) > 0) {
		const char *key;

		r = sdbus.message_read(m, "s", &key);
		if (r < 0)
			return r;
		if (strcmp(key, "UUID") == 0) {
			const char *uuid;

			r = sdbus.message_read(m, "v", "s", &uuid);
			if (r < 0)
				return r;
			if (uuid_equal(uuid, BP_MEAS_UUID))
				*match = 1;
		} else if ((r = sdbus.message_skip(m, "v")) < 0) {
			return r;
		}
		r = sdbus.message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sdbus.message_exit_container(m);
}

/* One object's interfaces, a{sa{sv}}: *is_bp when it is a 0x2A35
 * GattCharacteristic1. */
static int read_interfaces(sd_bus_message *m, int *is_bp)
{
	int r;

	r = sdbus.message_enter_container(m, 'a', "{sa{sv}}");
	if (r < 0)
		return r;
	while ((r = sdbus.message_enter_container(m, 'e', "sa{sv}")) > 0) {
		const char *iface;

		r = sdbus.message_read(m, "s", &iface);
		if (r < 0)
			return r;
		if (strcmp(iface, IFACE_CHAR) == 0)
			r = props_have_uuid(m, is_bp);
		else
			r = sdbus.message_skip(m, "a{sv}");
		if (r < 0)
			return r;
		r = sdbus.message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sdbus.message_exit_container(m);
}

static int on_start_notify(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct bluez_cuff *c = userdata;
	const sd_bus_error *e = sdbus.message_get_error(m);

	(void)ret_error;
	c->last_error = e ? -sdbus.error_get_errno(e) : 0;
	if (!e)
		c->notifying = 1;
	return 0;
}

/* Asks BlueZ for indications; the reply arrives through sd_bus_process(). */
static void start_notify(struct bluez_cuff *c)
{
	int r;

	if (!c->char_path[0])
		return;
	r = sdbus.call_method_async(c->bus, NULL, "org.bluez", c->char_path, IFACE_CHAR,
				    "StartNotify", on_start_notify, c, "");
	c->last_error = r < 0 ? r : 0;
}

static void adopt(struct bluez_cuff *c, const char *path)
{
	snprintf(c->char_path, sizeof(c->char_path), "%s", path);
	c->notifying = 0;
	start_notify(c);
}

/* GetManagedObjects -> a{oa{sa{sv}}}: the 0x2A35 characteristic under the
 * device. 0 found, -ENODEV not (yet) there, other negative errno: BlueZ
 * is not reachable. */
static int find_characteristic(struct bluez_cuff *c)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r, found = 0;

	r = sdbus.call_method(c->bus, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager",
			      "GetManagedObjects", &e, &reply, "");
	sdbus.error_free(&e);
	if (r < 0)
		return r;
	r = sdbus.message_enter_container(reply, 'a', "{oa{sa{sv}}}");
	while (r >= 0 && !found &&
	       (r = sdbus.message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
		const char *path;
		int is_bp = 0;

		if ((r = sdbus.message_read(reply, "o", &path)) < 0 ||
		    (r = read_interfaces(reply, &is_bp)) < 0 ||
		    (r = sdbus.message_exit_container(reply)) < 0)
			break;
		if (is_bp && under_device(c, path)) {
			snprintf(c->char_path, sizeof(c->char_path), "%s", path);
			found = 1;
		}
	}
	sdbus.message_unref(reply);
	if (r < 0)
		return r;
	return found ? 0 : -ENODEV;
}

/* InterfacesAdded(o path, a{sa{sv}}): the cuff's services were resolved. */
static void on_interfaces_added(struct bluez_cuff *c, sd_bus_message *m)
{
	const char *path;
	int is_bp = 0;

	if (sdbus.message_read(m, "o", &path) < 0 || read_interfaces(m, &is_bp) < 0)
		return;
	if (is_bp && under_device(c, path) && strcmp(path, c->char_path) != 0)
		adopt(c, path);
}

/* InterfacesRemoved(o path, as): the cuff went away (unpaired, cache dropped). */
static void on_interfaces_removed(struct bluez_cuff *c, sd_bus_message *m)
{
	const char *path;

	if (sdbus.message_read(m, "o", &path) < 0)
		return;
	if (c->char_path[0] && strcmp(path, c->char_path) == 0) {
		c->char_path[0] = '\0';
		c->notifying = 0;
	}
}

/* PropertiesChanged(s interface, a{sv} changed, as invalidated) on the
 * characteristic (Value, Notifying) or on the device (Connected). */
static void on_properties_changed(struct bluez_cuff *c, sd_bus_message *m)
{
	const char *path = sdbus.message_get_path(m), *iface;
	int on_char, on_dev;

	if (!path || sdbus.message_read(m, "s", &iface) < 0)
		return;
	on_char =
	    c->char_path[0] && strcmp(path, c->char_path) == 0 && strcmp(iface, IFACE_CHAR) == 0;
	on_dev = strcmp(path, c->dev_path) == 0 && strcmp(iface, IFACE_DEVICE) == 0;
	if ((!on_char && !on_dev) || sdbus.message_enter_container(m, 'a', "{sv}") < 0)
		return;
	while (sdbus.message_enter_container(m, 'e', "sv") > 0) {
		const char *key;
		int b;

		if (sdbus.message_read(m, "s", &key) < 0)
			return;
		if (on_char && strcmp(key, "Value") == 0) {
			const void *data;
			size_t len;

			if (sdbus.message_enter_container(m, 'v', "ay") < 0 ||
			    sdbus.message_read_array(m, 'y', &data, &len) < 0 ||
			    sdbus.message_exit_container(m) < 0)
				return;
			(void)edge_bp_latest_update(&c->latest, data, len);
		} else if (on_char && strcmp(key, "Notifying") == 0) {
			if (sdbus.message_read(m, "v", "b", &b) < 0)
				return;
			c->notifying = b;
		} else if (on_dev && strcmp(key, "Connected") == 0) {
			if (sdbus.message_read(m, "v", "b", &b) < 0)
				return;
			if (!b)
				c->notifying = 0;
			else if (!c->notifying)
				start_notify(c); /* a cuff that reconnects to upload */
		} else if (sdbus.message_skip(m, "v") < 0) {
			return;
		}
		if (sdbus.message_exit_container(m) < 0)
			return;
	}
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct bluez_cuff *c = userdata;

	(void)ret_error;
	if (sdbus.message_is_signal(m, "org.freedesktop.DBus.Properties", "PropertiesChanged"))
		on_properties_changed(c, m);
	else if (sdbus.message_is_signal(m, "org.freedesktop.DBus.ObjectManager",
					 "InterfacesAdded"))
		on_interfaces_added(c, m);
	else if (sdbus.message_is_signal(m, "org.freedesktop.DBus.ObjectManager",
					 "InterfacesRemoved"))
		on_interfaces_removed(c, m);
	return 0;
}

static int bluez_init(struct edge_sensor *s)
{
	struct bluez_cuff *c = s->priv;
	char addr[24], adapter[16];
	int r;

	r = parse_param(s->bind.param, addr, sizeof(addr), adapter, sizeof(adapter));
	if (r)
		return r;
	r = sdbus_load();
	if (r)
		return r;
	snprintf(c->dev_path, sizeof(c->dev_path), "/org/bluez/%s/dev_%s", adapter, addr);
	r = sdbus.open_system(&c->bus);
	if (r < 0)
		return r;
	/* subscribe first, so an InterfacesAdded racing the lookup is not lost */
	r = sdbus.match_signal(c->bus, &c->signals, "org.bluez", NULL, NULL, NULL, on_signal, c);
	if (r < 0)
		goto err_bus;
	r = find_characteristic(c);
	if (r == 0)
		start_notify(c);
	else if (r != -ENODEV)
		goto err_match; /* no bluetoothd on the bus: the sampler retries */
	/* -ENODEV: paired but not resolved yet; InterfacesAdded will tell */
	r = sdbus.flush(c->bus);
	if (r < 0)
		goto err_match;
	return 0;

err_match:
	c->signals = sdbus.slot_unref(c->signals);
err_bus:
	c->bus = sdbus.flush_close_unref(c->bus);
	return r;
}

static int bluez_fetch(struct edge_sensor *s)
{
	struct bluez_cuff *c = s->priv;
	int r = 0;

	for (int i = 0; i < MAX_PROCESS_FETCH; i++) {
		r = sdbus.process(c->bus, NULL);
		if (r <= 0)
			break;
	}
	if (r < 0)
		return r;
	return c->last_error;
}

static int bluez_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	struct bluez_cuff *c = s->priv; /* delivery state: see bp_internal.h */

	return edge_bp_latest_get(&c->latest, ch, val);
}

static int bluez_pollfd(const struct edge_sensor *s)
{
	const struct bluez_cuff *c = s->priv;

	return c->bus ? sdbus.get_fd(c->bus) : -1;
}

static void bluez_deinit(struct edge_sensor *s)
{
	struct bluez_cuff *c = s->priv;

	if (!c->bus)
		return;
	if (c->notifying && c->char_path[0])
		(void)sdbus.call_method_async(c->bus, NULL, "org.bluez", c->char_path, IFACE_CHAR,
					      "StopNotify", NULL, NULL, "");
	c->signals = sdbus.slot_unref(c->signals);
	c->bus = sdbus.flush_close_unref(c->bus);
}

#else /* !EDGE_HAVE_SDBUS */

struct bluez_cuff {
	struct edge_bp_latest latest;
};

static int bluez_init(struct edge_sensor *s)
{
	char addr[24], adapter[16];
	int r = parse_param(s->bind.param, addr, sizeof(addr), adapter, sizeof(adapter));

	return r ? r : -ENOTSUP; /* built without sd-bus (EDGE_BLUEZ=OFF) */
}

static const char *bluez_unavailable(void)
{
	return "built without sd-bus (EDGE_BLUEZ=OFF, or no libsystemd-dev at build time)";
}

static int bluez_fetch(struct edge_sensor *s)
{
	(void)s;
	return -ENOTSUP;
}

static int bluez_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	struct bluez_cuff *c = s->priv; /* delivery state: see bp_internal.h */

	return edge_bp_latest_get(&c->latest, ch, val);
}

static int bluez_pollfd(const struct edge_sensor *s)
{
	(void)s;
	return -1;
}

static void bluez_deinit(struct edge_sensor *s)
{
	(void)s;
}
#endif

/* For tests: the param parser is the part that runs without BlueZ. */
int edge_bluez_cuff_param(const char *param, char *dev_path, size_t len)
{
	char addr[24], adapter[16];
	int r = parse_param(param, addr, sizeof(addr), adapter, sizeof(adapter));

	if (r)
		return r;
	snprintf(dev_path, len, "/org/bluez/%s/dev_%s", adapter, addr);
	return 0;
}

const struct edge_sensor_ops edge_bluez_bp_driver = {
    .compatible = "bluetooth,blood-pressure",
    .description = "Bluetooth LE blood-pressure cuff via BlueZ (0x2A35 indications)",
    .priv_size = sizeof(struct bluez_cuff),
    .channels = edge_bp_channels,
    .n_channels = 4,
    .init = bluez_init,
    .sample_fetch = bluez_fetch,
    .channel_get = bluez_get,
    .deinit = bluez_deinit,
    .pollfd = bluez_pollfd,
    .unavailable = bluez_unavailable,
    .bus = EDGE_SENSOR_BUS_NONE,
};
