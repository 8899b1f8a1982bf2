/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PPG_H
#define EDGE_PPG_H
/*
 * Heart rate and SpO2 from a two-wavelength photoplethysmogram (red + IR),
 * the signal path of the MAX3010x driver, kept apart so it can be tested on
 * its own. Pure computation: no I/O, no allocation (the caller provides the
 * work area).
 *
 *  1. finger check: mean IR below EDGE_PPG_MIN_IR_DC counts = no tissue.
 *  2. band-pass: a centred 1 s moving average is subtracted (DC and breathing
 *     wander out), then two passes of a centred ~0.1 s moving average (a
 *     triangular window) smooth the noise out; all filters are symmetric, so
 *     peaks keep their timing.
 *  3. pulses are dips of reflected light: peaks of the inverted IR signal
 *     above half the largest, at least 0.27 s apart (<= 220 bpm), located to
 *     a fraction of a sample by a parabola through the three top points.
 *  4. heart rate = 60 * fs / mean beat interval; rejected when fewer than 2
 *     intervals or an interval strays more than 30 % from the mean.
 *  5. ratio of ratios R = (AC_red / DC_red) / (AC_ir / DC_ir), with
 *     AC_red / AC_ir the least-squares gain of band-passed red on band-passed
 *     IR (noise in red does not inflate it as an RMS would); SpO2 = 110 - 25 R
 *     (the linear calibration used with MAX3010x reference designs; a
 *     product calibrates its own curve against a reference oximeter).
 */
#include <stddef.h>
#include <stdint.h>

#define EDGE_PPG_MAX_SAMPLES 512
#define EDGE_PPG_MIN_IR_DC   50000 /* of 262143: below is "no finger" */

struct edge_ppg_work {
	double a[EDGE_PPG_MAX_SAMPLES];
	double b[EDGE_PPG_MAX_SAMPLES];
	double tmp[EDGE_PPG_MAX_SAMPLES];
	double lp_ir[EDGE_PPG_MAX_SAMPLES];
};

struct edge_ppg_result {
	int finger;	  /* 1 when the IR level says tissue is there */
	int hr_valid;	  /* heart_rate_x10 holds a value */
	int spo2_valid;	  /* spo2_x10 holds a value */
	int32_t hr_x10;	  /* 0.1 bpm */
	int32_t spo2_x10; /* 0.1 % */
	int32_t ratio_x1000;
	unsigned beats; /* peaks found */
};

/* red and ir hold n samples (oldest first) taken at fs Hz. n <= max samples;
 * red may be NULL (heart rate only). Returns 0, or -EINVAL. */
int edge_ppg_analyze(const uint32_t *red, const uint32_t *ir, size_t n, unsigned fs,
		     struct edge_ppg_work *w, struct edge_ppg_result *res);

#endif
