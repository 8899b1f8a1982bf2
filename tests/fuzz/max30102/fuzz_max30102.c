/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the MAX30102 driver's FIFO unpacking and the PPG
 * analysis behind it, from raw register bytes.
 *
 * First byte even: the real driver (drivers/max30102/max30102.c) runs on an
 * I2C bus whose part answers the probe like a MAX30102 and whose FIFO comes
 * from the input. The rest of the input is a series of fetches, each
 *   control, FIFO_WR_PTR, OVF_COUNTER, FIFO_RD_PTR, then the FIFO_DATA
 *   bytes the driver asks for (6 per sample, red then IR, MSB first; short
 *   input reads as zeros)
 * where control bit 0 makes the pointer read fail (-EIO), bit 1 the data
 * read, and bits 2-3 set the sample rate (50/100) or the LED current
 * before the fetch. After every fetch the channels must hold values in
 * their documented ranges or -ENODATA.
 * First byte odd: edge_ppg_analyze() directly, at 10..265 samples/s
 * (second byte), red+IR or IR only (bit 1 of the first), on 3-byte samples.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/max30102_regs.h"
#include "edge/sensor.h"
#include "max30102/ppg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_bus {
	struct edge_i2c_bus base; /* first: the HAL's contract */
	const uint8_t *p;
	size_t n;
	bool fail_ptr, fail_data;
};

static size_t take(struct fuzz_bus *b, uint8_t *out, size_t len)
{
	size_t k = len < b->n ? len : b->n;

	memcpy(out, b->p, k);
	memset(out + k, 0, len - k);
	b->p += k;
	b->n -= k;
	return k;
}

static int transfer(struct edge_i2c_bus *bus, uint16_t addr, const uint8_t *w, size_t wlen,
		    uint8_t *r, size_t rlen)
{
	struct fuzz_bus *b = (struct fuzz_bus *)bus;

	if (addr != MAX30102_I2C_ADDR || wlen == 0)
		abort(); /* the driver addresses its part, register first */
	if (rlen == 0)
		return 0; /* configuration writes */
	switch (w[0]) {
	case MAX30102_REG_PART_ID:
		memset(r, MAX30102_PART_ID, rlen);
		return 0;
	case MAX30102_REG_FIFO_WR_PTR:
		if (b->fail_ptr)
			return -EIO;
		take(b, r, rlen);
		return 0;
	case MAX30102_REG_FIFO_DATA:
		/* at most the FIFO: 32 samples of red + IR */
		if (rlen > MAX30102_FIFO_DEPTH * 6)
			abort();
		if (b->fail_data)
			return -EIO;
		take(b, r, rlen);
		return 0;
	default: /* MODE (reset done), INT_STATUS */
		memset(r, 0, rlen);
		return 0;
	}
}

static void bus_close(struct edge_i2c_bus *bus)
{
	(void)bus;
}

static const struct edge_i2c_bus_ops fuzz_ops = {.transfer = transfer, .close = bus_close};

static void check_result(const struct edge_ppg_result *r)
{
	if (r->finger > 1 || r->hr_valid > 1 || r->spo2_valid > 1)
		abort();
	if (r->hr_valid && (r->hr_x10 < 250 || r->hr_x10 > 2500))
		abort();
	if (r->spo2_valid && (r->spo2_x10 < 500 || r->spo2_x10 > 1000))
		abort();
	if ((r->hr_valid || r->spo2_valid) && !r->finger)
		abort();
	if (r->spo2_valid && !r->hr_valid)
		abort(); /* SpO2 only from a clean pulse */
}

static void check_channels(const struct edge_sensor *s)
{
	struct edge_ppg_result res;
	int32_t v;
	int rc;

	if (edge_max30102_result(s, &res))
		abort();
	check_result(&res);
	rc = edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &v);
	if (rc != (res.hr_valid ? 0 : -ENODATA) || (!rc && (v < 25 || v > 250)))
		abort();
	rc = edge_sensor_channel_get(s, EDGE_CH_SPO2, &v);
	if (rc != (res.spo2_valid ? 0 : -ENODATA) || (!rc && (v < 50 || v > 100)))
		abort();
	if (edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v) != -ENOTSUP)
		abort();
}

static void run_driver(const uint8_t *data, size_t size)
{
	struct fuzz_bus bus = {.base = {.ops = &fuzz_ops, .name = "fuzz"}};
	struct edge_sensor_binding bind = {.i2c = &bus.base, .addr = MAX30102_I2C_ADDR};
	struct edge_sensor *s = NULL;
	uint32_t ovf = 0, last_ovf = 0;

	if (edge_sensor_create(edge_sensor_ops_find("maxim,max30102"), "ppg", &bind, &s))
		abort(); /* the probe sees a MAX30102 */
	while (size > 0) {
		uint8_t ctl = data[0];
		int rc;

		data++;
		size--;
		if (ctl & 4) {
			if (s->ops->attr_set(s, "sample_rate", ctl & 8 ? 50 : 100))
				abort();
		} else if (ctl & 8) {
			if (s->ops->attr_set(s, "led_current_ua", (ctl >> 4) * 3000))
				abort();
		}
		bus.p = data;
		bus.n = size;
		bus.fail_ptr = ctl & 1;
		bus.fail_data = ctl & 2;
		rc = edge_sensor_sample_fetch(s);
		if (rc && rc != -EIO)
			abort(); /* analysis errors are impossible with the driver's window */
		data = bus.p;
		size = bus.n;
		check_channels(s);
		if (edge_max30102_overflows(s, &ovf) || ovf < last_ovf)
			abort();
		last_ovf = ovf;
	}
	edge_sensor_destroy(s);
}

static void run_ppg(const uint8_t *data, size_t size)
{
	static uint32_t red[EDGE_PPG_MAX_SAMPLES], ir[EDGE_PPG_MAX_SAMPLES];
	static struct edge_ppg_work work;
	struct edge_ppg_result res;
	unsigned fs;
	bool ir_only;
	size_t n = 0;

	if (size < 2)
		return;
	ir_only = data[0] & 2;
	fs = 10u + data[1];
	data += 2;
	size -= 2;
	for (; n < EDGE_PPG_MAX_SAMPLES && size >= 6; n++, data += 6, size -= 6) {
		red[n] = (uint32_t)data[0] << 16 | (uint32_t)data[1] << 8 | data[2];
		ir[n] = (uint32_t)data[3] << 16 | (uint32_t)data[4] << 8 | data[5];
	}
	if (edge_ppg_analyze(ir_only ? NULL : red, ir, n, fs, &work, &res))
		abort();
	check_result(&res);
	if (ir_only && res.spo2_valid)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		run_ppg(data, size);
	else
		run_driver(data + 1, size - 1);
	return 0;
}
