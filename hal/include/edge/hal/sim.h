/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_SIM_H
#define EDGE_HAL_SIM_H
/*
 * Sim backend: register-level chip models hosted on simulated buses.
 *
 * A chip model is a const ops table registered by compatible string (the
 * same string as the driver it models). edge_sim_i2c_attach() instantiates a
 * model at an address on a named sim bus ("sim:i2c0"); edge_i2c_open() of
 * that name returns the bus. Buses and models live until edge_sim_reset().
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct edge_sim_chip;

struct edge_sim_chip_ops {
	const char *compatible;
	size_t priv_size;
	int (*init)(struct edge_sim_chip *chip);
	/* One I2C transaction addressed to this chip (write then read). */
	int (*transfer)(struct edge_sim_chip *chip, const uint8_t *w, size_t wlen, uint8_t *r,
			size_t rlen);
	void (*deinit)(struct edge_sim_chip *chip);
	/* Optional test knobs ("heart_rate_bpm", "corrupt_pec", ...): see each
	 * model's header comment. Unknown key: -ENOENT. */
	int (*set)(struct edge_sim_chip *chip, const char *key, int64_t val);
	int (*get)(const struct edge_sim_chip *chip, const char *key, int64_t *val);
};

struct edge_sim_chip {
	const struct edge_sim_chip_ops *ops;
	uint16_t addr;
	void *priv; /* priv_size bytes, zeroed, owned by the sim bus */
};

/* Looks up a chip model by compatible; NULL when none. */
const struct edge_sim_chip_ops *edge_sim_model_find(const char *compatible);

/* Creates the sim bus "sim:<bus>" if needed and attaches a model instance.
 * On success *out (optional) is borrowed, valid until edge_sim_reset(). */
int edge_sim_i2c_attach(const char *bus, uint16_t addr, const char *compatible,
			struct edge_sim_chip **out);

/* The chip instance at addr on bus, or NULL. Borrowed. */
struct edge_sim_chip *edge_sim_i2c_chip(const char *bus, uint16_t addr);

/* Test knobs of a chip model (see the model's source for its keys). */
int edge_sim_chip_set(struct edge_sim_chip *chip, const char *key, int64_t val);
int edge_sim_chip_get(const struct edge_sim_chip *chip, const char *key, int64_t *val);

/*
 * Sim UARTs. "sim:NAME" ports are socketpairs: the driver's end is a real
 * descriptor (edge_uart_fd() is pollable). Bytes come from a test
 * (edge_sim_uart_feed()) or from a stream model attached to the port, which
 * generates bytes as simulated time passes (a GPS receiver printing NMEA
 * once a second). A port with a stream model also arms a timerfd for the
 * next output, and edge_uart_fd() is an epoll descriptor over both, so the
 * agent's poll() wakes up when the model has something to say.
 * Ports belong to the sim registry: edge_uart_close() of a sim port is a
 * no-op and the port (with its queued bytes) lives until edge_sim_reset().
 */
struct edge_sim_stream;

struct edge_sim_stream_ops {
	const char *compatible; /* the driver's compatible, e.g. "nmea,gps" */
	size_t priv_size;
	int (*init)(struct edge_sim_stream *st);
	/* Bytes due at now_ms (at most cap) into buf; returns the count and sets
	 * *next_ms to when the next output is due. */
	size_t (*generate)(struct edge_sim_stream *st, uint64_t now_ms, uint8_t *buf, size_t cap,
			   uint64_t *next_ms);
	/* Bytes the driver wrote to the port (optional). */
	void (*rx)(struct edge_sim_stream *st, const uint8_t *buf, size_t len);
	int (*set)(struct edge_sim_stream *st, const char *key, int64_t val);
};

struct edge_sim_stream {
	const struct edge_sim_stream_ops *ops;
	void *priv; /* priv_size bytes, zeroed, owned by the port */
};

const struct edge_sim_stream_ops *edge_sim_stream_find(const char *compatible);
/* Creates port "sim:<name>" if needed and attaches a stream model (one per
 * port: -EEXIST). *out (optional) is borrowed until edge_sim_reset(). */
int edge_sim_uart_attach(const char *name, const char *compatible, struct edge_sim_stream **out);
struct edge_sim_stream *edge_sim_uart_stream(const char *name);
int edge_sim_stream_set(struct edge_sim_stream *st, const char *key, int64_t val);
/* Queues bytes for the driver to read (creates the port if needed). Returns
 * the count queued (short when the socket buffer is full) or -errno. */
long edge_sim_uart_feed(const char *name, const void *bytes, size_t len);
/* Runs the stream model up to the current simulated time (reads do this
 * too). Returns bytes generated. */
long edge_sim_uart_pump(const char *name);
/* The line settings of the last edge_uart_open() of the port. */
struct edge_uart_config;
int edge_sim_uart_config(const char *name, struct edge_uart_config *out);
/* Copies up to len bytes the driver wrote (a 256-byte history, oldest
 * dropped) and empties it. */
size_t edge_sim_uart_sent(const char *name, void *buf, size_t len);

/*
 * Sim GPIO: "sim:CHIP" lines. Levels below are physical (ACTIVE_LOW is
 * applied by the HAL as on Linux).
 */
/* Physical level an output drives (or an input sees): 0/1, -ENOENT if the
 * line was never requested or driven. */
int edge_sim_gpio_level(const char *chip, unsigned offset);
/* Drives an input's physical level from outside; queues an edge event when
 * the line was requested with the matching edge flag. */
int edge_sim_gpio_drive(const char *chip, unsigned offset, int level);

/*
 * Sim watchdog "sim:NAME": what the agent did with it, and a model of the
 * hardware's timeout on simulated time (edge_sim_time_ms()).
 *
 * The sim has no clock of its own: an expiry is noticed at the next call
 * through the handle (open of an abandoned watchdog, keepalive, set/get
 * timeout, close) that comes more than timeout_s after the last keepalive
 * (open and set_timeout count as keepalives, as in the Linux core). Then the
 * board "resets": resets++ and last_reset are recorded and, by default, the
 * process ends the way a reset ends it, without cleanup: the state file (see
 * below) is written, one line goes to stderr,
 *   "sim watchdog NAME expired after N ms: board reset"
 * and _exit(EDGE_SIM_WATCHDOG_EXIT) (no atexit handlers, no stdio flush).
 *
 * With EDGE_SIM_STATE_DIR set, the state is also written atomically (tmp +
 * rename, no fsync: the sim has no power to lose) to
 * $EDGE_SIM_STATE_DIR/watchdog-NAME.json on open, close, set_timeout and
 * reset, and on a keepalive at most once a second of sim time:
 *   {"name","pid","opens","keepalives","timeout_s","armed","magic_closed",
 *    "resets","last_reset","sim_time_ms","last_keepalive_ms"}
 * resets and last_reset are read back from that file at the first open in a
 * process, like a reset-cause register that survives the reboot; the other
 * fields describe the current process.
 */
#define EDGE_SIM_WATCHDOG_EXIT 86 /* exit status of a process the sim watchdog reset */

struct edge_sim_watchdog_state {
	unsigned opens;
	unsigned keepalives;
	int timeout_s;
	int armed;		    /* running: opened, and not magic-closed since */
	int magic_closed;	    /* last close wrote 'V' */
	unsigned resets;	    /* expiries (including earlier processes, see above) */
	char last_reset[128];	    /* why the last reset happened, "" when none */
	uint64_t last_keepalive_ms; /* sim time of the last keepalive (or open) */
};
int edge_sim_watchdog_state(const char *name, struct edge_sim_watchdog_state *st);
/* exit_process 1 (the default, restored by edge_sim_reset()): an expiry ends
 * the process as described above. 0 (in-process tests): the reset is only
 * recorded; the watchdog is then disarmed and its handle dead (-EBADF), and
 * the call that noticed the expiry returns -ETIMEDOUT (an open goes on and
 * arms the watchdog again, as after a reboot). */
void edge_sim_watchdog_exit_on_reset(int exit_process);

/*
 * Blood-pressure cuff model (used by the "edge,sim-bp-cuff" driver): the
 * reading a cuff would take at t_ms, and its 0x2A35 encoding.
 */
struct edge_sim_bp_reading {
	int systolic, diastolic, map; /* mmHg */
	int kpa;		      /* encode pressures in kPa (0.1 kPa) */
	int pulse, has_pulse;	      /* bpm */
	int has_time, year, month, day, hours, minutes, seconds;
	int user; /* -1: none */
	uint16_t status;
};
void edge_sim_bp_cuff_reading(uint64_t t_ms, unsigned seed, struct edge_sim_bp_reading *r);
/* Bytes written (at most 19), 0 when cap is too small. */
size_t edge_sim_bp_cuff_encode(const struct edge_sim_bp_reading *r, uint8_t *buf, size_t cap);

/* Reboots requested through edge_system_reboot("sim"). */
unsigned edge_sim_reboot_requests(void);

/* The sim board's boot id, what /proc/sys/kernel/random/boot_id is on a
 * real one: "sim-boot-N", N read from $EDGE_SIM_STATE_DIR/boot-id (0 when
 * the file or the variable is missing). A reboot request advances N in that
 * file, so that the next agent started by the test (the "booted" system)
 * sees a new boot. 0 or -ENAMETOOLONG. */
int edge_sim_boot_id(char *out, size_t len);
/* The argument of the last edge_system_reboot_arg("sim", arg), or "". */
const char *edge_sim_last_reboot_arg(void);

/* Frees every sim bus, chip, port and line. */
void edge_sim_reset(void);

/* Simulated time for chip models, in milliseconds. Defaults to the
 * monotonic clock; tests may pin it with edge_sim_time_set(). */
uint64_t edge_sim_time_ms(void);
void edge_sim_time_set(uint64_t ms); /* 0 returns to the real clock */

#ifdef __cplusplus
}
#endif
#endif
