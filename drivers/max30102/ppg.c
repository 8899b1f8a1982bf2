/* SPDX-License-Identifier: Apache-2.0 */
/* Heart rate and SpO2 from red/IR PPG: see ppg.h for the method. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ppg.h"

/* out[i] = mean of in[i-h .. i+h] for i in [h, n-h); other entries are 0. */
static void centred_mean(const double *in, double *out, size_t n, size_t h)
{
	double sum = 0;
	size_t len = 2 * h + 1;

	memset(out, 0, n * sizeof(*out));
	if (n < len)
		return;
	for (size_t i = 0; i < len; i++)
		sum += in[i];
	for (size_t i = h; i + h < n; i++) {
		out[i] = sum / (double)len;
		if (i + h + 1 < n)
			sum += (double)in[i + h + 1] - (double)in[i - h];
	}
}

/* Band-passed copy of x into out; valid for [lo, hi). Returns the DC. */
static double band_pass(const uint32_t *x, size_t n, unsigned fs, struct edge_ppg_work *w,
			double *out, size_t *lo, size_t *hi)
{
	size_t h1 = fs / 2, h2 = fs / 20 ? fs / 20 : 1;
	double dc = 0;

	for (size_t i = 0; i < n; i++) {
		w->a[i] = x[i];
		dc += x[i];
	}
	dc /= (double)n;
	for (size_t i = 0; i < n; i++)
		w->a[i] -= dc;
	centred_mean(w->a, w->tmp, n, h1);
	for (size_t i = h1; i + h1 < n; i++)
		w->tmp[i] = w->a[i] - w->tmp[i];
	/* two passes of the short mean: a triangular window, better stop band */
	centred_mean(w->tmp + h1, w->a + h1, n - 2 * h1, h2);
	centred_mean(w->a + h1 + h2, out + h1 + h2, n - 2 * h1 - 2 * h2, h2);
	memset(out, 0, (h1 + h2) * sizeof(*out));
	memset(out + n - h1 - h2, 0, (h1 + h2) * sizeof(*out));
	*lo = h1 + 2 * h2;
	*hi = n - h1 - 2 * h2;
	return dc;
}

#define MAX_BEATS 64

static unsigned find_peaks(const double *lp, size_t lo, size_t hi, unsigned fs, double *pos)
{
	size_t refractory = (size_t)(0.27 * fs), last = 0;
	double top = 0, thr;
	unsigned n = 0;

	for (size_t i = lo; i < hi; i++)
		if (-lp[i] > top)
			top = -lp[i];
	if (top <= 0)
		return 0;
	thr = 0.5 * top;
	for (size_t i = lo + 1; i + 1 < hi; i++) {
		double v = -lp[i], prev = -lp[i - 1], next = -lp[i + 1], denom, off;

		if (!(v > thr && v > prev && v >= next))
			continue;
		denom = prev - 2 * v + next;
		off = denom < 0 ? 0.5 * (prev - next) / denom : 0;
		if (n && i - last < refractory) {
			if (v <= -lp[last])
				continue;
			n--; /* the higher of two close peaks wins */
		}
		if (n == MAX_BEATS)
			break;
		pos[n++] = (double)i + off;
		last = i;
	}
	return n;
}

int edge_ppg_analyze(const uint32_t *red, const uint32_t *ir, size_t n, unsigned fs,
		     struct edge_ppg_work *w, struct edge_ppg_result *res)
{
	double pos[MAX_BEATS], dc_ir, dc_red, ac_ir, ac_red, mean, r;
	size_t lo, hi;
	unsigned beats;

	if (!ir || !w || !res || n > EDGE_PPG_MAX_SAMPLES || fs < 10 || fs > 1000)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (n < 2 * (size_t)fs) /* under 2 s there is nothing to say */
		return 0;
	dc_ir = 0;
	for (size_t i = 0; i < n; i++)
		dc_ir += ir[i];
	dc_ir /= (double)n;
	if (dc_ir < EDGE_PPG_MIN_IR_DC)
		return 0;
	res->finger = 1;

	dc_ir = band_pass(ir, n, fs, w, w->lp_ir, &lo, &hi);
	beats = find_peaks(w->lp_ir, lo, hi, fs, pos);
	res->beats = beats;
	if (beats >= 3) {
		int regular = 1;

		mean = (pos[beats - 1] - pos[0]) / (beats - 1);
		for (unsigned i = 1; i < beats; i++)
			if (fabs(pos[i] - pos[i - 1] - mean) > 0.3 * mean)
				regular = 0;
		if (regular && mean > 0) {
			res->hr_x10 = (int32_t)lround(600.0 * fs / mean);
			res->hr_valid = res->hr_x10 >= 250 && res->hr_x10 <= 2500;
		}
	}
	if (!red || !res->hr_valid) /* no clean pulse: AC would be noise */
		return 0;

	/* AC of red by least squares against IR: red noise, uncorrelated with
	 * the IR pulse, averages out instead of adding to the amplitude */
	dc_red = band_pass(red, n, fs, w, w->b, &lo, &hi);
	{
		double rr = 0, ii = 0;

		for (size_t i = lo; i < hi; i++) {
			rr += w->b[i] * w->lp_ir[i];
			ii += w->lp_ir[i] * w->lp_ir[i];
		}
		/* IR noise adds to ii but not to rr: take its share out.
		 * White noise variance from second differences of the raw
		 * IR (var = 6 sigma^2; the pulse barely curves between
		 * samples), times the noise gain of the triangular smoother. */
		double d2 = 0, L = (double)(2 * (fs / 20 ? fs / 20 : 1) + 1);

		for (size_t i = 1; i + 1 < n; i++) {
			double d = (double)ir[i + 1] - 2.0 * ir[i] + (double)ir[i - 1];

			d2 += d * d;
		}
		d2 /= (double)(n - 2) * 6.0;
		ii -= d2 * (2 * L * L + 1) / (3 * L * L * L) * (double)(hi - lo);
		ac_red = ii > 0 ? rr / ii : 0; /* AC_red / AC_ir */
		ac_ir = 1.0;
	}
	if (ac_red <= 0 || dc_red <= 0 || dc_ir <= 0)
		return 0;
	r = (ac_red / dc_red) / (ac_ir / dc_ir);
	res->ratio_x1000 = (int32_t)lround(r * 1000);
	mean = 110.0 - 25.0 * r;
	if (mean > 100.0)
		mean = 100.0;
	if (mean >= 50.0) { /* below, the calibration line means nothing */
		res->spo2_x10 = (int32_t)lround(mean * 10);
		res->spo2_valid = 1;
	}
	return 0;
}
