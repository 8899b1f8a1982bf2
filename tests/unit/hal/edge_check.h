/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_CHECK_H
#define EDGE_CHECK_H
/*
 * A tiny header-only test framework for tests that must run where only libc
 * exists (armhf under qemu-arm): no cmocka. A test is a void function; a
 * failed CHECK marks it failed and the test goes on. The runner prints
 * "N passed, N failed" and exits non-zero when anything failed.
 *
 *   static void test_x(void) { CHECK_EQ(f(1), 2); }
 *   EDGE_CHECK_MAIN(test_x, test_y)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int edge_check_failed_now;
static unsigned edge_check_count;

static inline void edge_check_report(const char *file, int line, const char *what)
{
	fprintf(stderr, "  %s:%d: %s\n", file, line, what);
	edge_check_failed_now = 1;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		edge_check_count++;                                                                \
		if (!(cond))                                                                       \
			edge_check_report(__FILE__, __LINE__, "CHECK(" #cond ") failed");          \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long ea_ = (long long)(a), eb_ = (long long)(b);                              \
		edge_check_count++;                                                                \
		if (ea_ != eb_) {                                                                  \
			char m_[640];                                                              \
			snprintf(m_, sizeof(m_), "%.200s == %.200s: %lld != %lld", #a, #b, ea_,    \
				 eb_);                                                             \
			edge_check_report(__FILE__, __LINE__, m_);                                 \
		}                                                                                  \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
	do {                                                                                       \
		double ea_ = (double)(a), eb_ = (double)(b), et_ = (double)(tol);                  \
		edge_check_count++;                                                                \
		if (!(ea_ - eb_ <= et_ && eb_ - ea_ <= et_)) {                                     \
			char m_[640];                                                              \
			snprintf(m_, sizeof(m_), "%.200s ~ %.200s: %g vs %g (tolerance %g)", #a,   \
				 #b, ea_, eb_, et_);                                               \
			edge_check_report(__FILE__, __LINE__, m_);                                 \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *ea_ = (a), *eb_ = (b);                                                 \
		edge_check_count++;                                                                \
		if (!ea_ || !eb_ || strcmp(ea_, eb_) != 0) {                                       \
			char m_[1024];                                                             \
			snprintf(m_, sizeof(m_), "%.200s == %.200s: \"%.250s\" != \"%.250s\"", #a, \
				 #b, ea_ ? ea_ : "(null)", eb_ ? eb_ : "(null)");                  \
			edge_check_report(__FILE__, __LINE__, m_);                                 \
		}                                                                                  \
	} while (0)

typedef void (*edge_check_fn)(void);

/* Next name from the stringified list "a, b,\n c" into out. */
static inline const char *edge_check_next_name(const char *p, char *out, size_t len)
{
	size_t n = 0;

	while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n')
		p++;
	while (*p && *p != ',' && *p != ' ' && *p != '\t' && *p != '\n') {
		if (n + 1 < len)
			out[n++] = *p;
		p++;
	}
	out[n] = '\0';
	return p;
}

static inline int edge_check_run(const char *prog, const edge_check_fn *fns, const char *names,
				 size_t n)
{
	unsigned passed = 0, failed = 0;
	char name[128];

	for (size_t i = 0; i < n; i++) {
		names = edge_check_next_name(names, name, sizeof(name));
		edge_check_failed_now = 0;
		fns[i]();
		if (edge_check_failed_now) {
			failed++;
			fprintf(stderr, "FAIL %s\n", name);
		} else {
			passed++;
			printf("ok   %s\n", name);
		}
		fflush(stdout);
	}
	printf("%s: %u passed, %u failed (%u checks)\n", prog, passed, failed, edge_check_count);
	return failed ? 1 : 0;
}

#define EDGE_CHECK_MAIN(...)                                                                       \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static const edge_check_fn fns_[] = {__VA_ARGS__};                                 \
		(void)argc;                                                                        \
		return edge_check_run(argv[0], fns_, #__VA_ARGS__,                                 \
				      sizeof(fns_) / sizeof(fns_[0]));                             \
	}

#endif
