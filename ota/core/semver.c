/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Semantic versions, semver 2.0.0 (https://semver.org): the grammar of its
 * section 9-10 and the precedence of section 11. Numeric parts are compared
 * as digit strings (length first, then lexically): the grammar forbids
 * leading zeros, so no parse to an integer is needed and no size overflows.
 */
#include <stdbool.h>
#include <string.h>

#include "edge/ota/manifest.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* "0" or [1-9][0-9]*: the length scanned, 0 when s does not start with one. */
static size_t numeric_len(const char *s)
{
	size_t n = 0;

	while (is_digit(s[n]))
		n++;
	if (n > 1 && s[0] == '0')
		return 0; /* leading zero */
	return n;
}

/* Dot-separated non-empty identifiers up to end or stop; numeric ones
 * without leading zeros when strict_numeric. The length scanned, 0 when the
 * list is malformed. */
static size_t ident_list_len(const char *s, char stop, bool strict_numeric)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		bool all_digits = true;

		while (is_ident_char(s[i])) {
			all_digits = all_digits && is_digit(s[i]);
			i++;
		}
		if (i == start)
			return 0; /* empty identifier */
		if (strict_numeric && all_digits && i - start > 1 && s[start] == '0')
			return 0;
		if (s[i] != '.')
			break;
		i++;
	}
	if (s[i] != '\0' && s[i] != stop)
		return 0;
	return i;
}

struct parts {
	const char *num[3];
	size_t num_len[3];
	const char *pre; /* NULL when absent */
	size_t pre_len;
};

static bool parse(const char *s, struct parts *p)
{
	size_t i = 0;

	if (!s)
		return false;
	for (int k = 0; k < 3; k++) {
		size_t n = numeric_len(s + i);

		if (n == 0)
			return false;
		p->num[k] = s + i;
		p->num_len[k] = n;
		i += n;
		if (k < 2) {
			if (s[i] != '.')
				return false;
			i++;
		}
	}
	p->pre = NULL;
	p->pre_len = 0;
	if (s[i] == '-') {
		size_t n = ident_list_len(s + i + 1, '+', true);

		if (n == 0)
			return false;
		p->pre = s + i + 1;
		p->pre_len = n;
		i += 1 + n;
	}
	if (s[i] == '+') {
		/* build metadata: leading zeros allowed, ignored in comparisons */
		size_t n = ident_list_len(s + i + 1, '\0', false);

		if (n == 0)
			return false;
		i += 1 + n;
	}
	return s[i] == '\0';
}

bool edge_semver_valid(const char *s)
{
	struct parts p;

	return parse(s, &p);
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* Two digit strings without leading zeros, by value. */
static int cmp_numeric(const char *a, size_t al, const char *b, size_t bl)
{
	if (al != bl)
		return al < bl ? -1 : 1;
	return sign(memcmp(a, b, al));
}

static size_t ident_len(const char *s, size_t left)
{
	size_t n = 0;

	while (n < left && s[n] != '.')
		n++;
	return n;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* Section 11.4: identifier by identifier; numeric < alphanumeric; a
 * shorter list that is a prefix of the longer one sorts first. */
static int cmp_prerelease(const char *a, size_t al, const char *b, size_t bl)
{
	size_t i = 0, j = 0;

	while (i < al && j < bl) {
		size_t x = ident_len(a + i, al - i), y = ident_len(b + j, bl - j);
		bool xn = all_digits(a + i, x), yn = all_digits(b + j, y);
		int c;

		if (xn && yn) {
			c = cmp_numeric(a + i, x, b + j, y);
		} else if (xn != yn) {
			c = xn ? -1 : 1;
		} else {
			size_t m = x < y ? x : y;

			c = sign(memcmp(a + i, b + j, m));
			if (c == 0 && x != y)
				c = x < y ? -1 : 1;
		}
		if (c)
			return c;
		i += x + 1;
		j += y + 1;
	}
	if (i < al)
		return 1; /* a has more identifiers */
	if (j < bl)
		return -1;
	return 0;
}

int edge_semver_cmp(const char *a, const char *b)
{
	struct parts pa, pb;
	bool va = parse(a, &pa), vb = parse(b, &pb);
	int c;

	if (!va || !vb) {
		if (va != vb)
			return va ? 1 : -1;
		if (!a || !b)
			return (a != NULL) - (b != NULL);
		return sign(strcmp(a, b));
	}
	for (int k = 0; k < 3; k++) {
		c = cmp_numeric(pa.num[k], pa.num_len[k], pb.num[k], pb.num_len[k]);
		if (c)
			return c;
	}
	/* a version without pre-release sorts after the same one with */
	if (!pa.pre || !pb.pre)
		return (pa.pre == NULL) - (pb.pre == NULL);
	return cmp_prerelease(pa.pre, pa.pre_len, pb.pre, pb.pre_len);
}
