/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helpers' line protocol (edge/ota/progress.h). Parsing is strict for
 * the words it knows (one space between fields, canonical numbers, fields
 * that fit the record they end up in) so that a confused helper is noticed
 * rather than half-understood; an unknown word is accepted and ignored so
 * that a newer helper may say more.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "edge/ota/manifest.h"
#include "edge/ota/progress.h"
#include "ota_core.h"

#define NUM_MAX	      INT64_MAX
#define VALIDATOR_MAX 255 /* struct edge_ota_record.validator holds 256 with the NUL */
#define SLOT_MAX      7	  /* struct edge_ota_record.target_slot holds 8 with the NUL */

static const char *const error_kinds[] = {
    "url", "size", "hash", "deadline", "io", "disk", "refused", "internal",
};

static const struct {
	const char *word;
	enum edge_ota_event ev;
} words[] = {
    {"ckpt", EDGE_OTA_EV_CKPT},		  {"progress", EDGE_OTA_EV_PROGRESS},
    {"validator", EDGE_OTA_EV_VALIDATOR}, {"restart", EDGE_OTA_EV_RESTART},
    {"retry", EDGE_OTA_EV_RETRY},	  {"slot", EDGE_OTA_EV_SLOT},
    {"version", EDGE_OTA_EV_VERSION},	  {"done", EDGE_OTA_EV_DONE},
    {"error", EDGE_OTA_EV_ERROR},	  {"log", EDGE_OTA_EV_LOG},
};

#define N_WORDS (sizeof(words) / sizeof(words[0]))

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* What is left of the line while it is being taken apart. */
struct cur {
	const char *p;
	size_t n;
};

/* The next field up to a space (or the end); consumes one separating space.
 * false when the field is empty (two spaces, or nothing left). */
static bool take_field(struct cur *c, const char **f, size_t *flen)
{
	const char *sp = memchr(c->p, ' ', c->n);
	size_t k = sp ? (size_t)(sp - c->p) : c->n;

	if (k == 0)
		return false;
	*f = c->p;
	*flen = k;
	c->p += k + (sp ? 1 : 0);
	c->n -= k + (sp ? 1 : 0);
	/* a trailing space leaves an empty last field: malformed */
	return !(sp && c->n == 0);
}

/* Decimal, no sign, no leading zero, at most 2^63-1. */
static bool number(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)NUM_MAX)
		return false;
	*out = v;
	return true;
}

static bool take_number(struct cur *c, uint64_t *out)
{
	const char *f;
	size_t n;

	return take_field(c, &f, &n) && number(f, n, out);
}

/* One word of at most max characters into out. */
static bool take_word(struct cur *c, char *out, size_t max)
{
	const char *f;
	size_t n;

	if (!take_field(c, &f, &n) || n > max)
		return false;
	memcpy(out, f, n);
	out[n] = '\0';
	return true;
}

/* The rest of the line (possibly empty) into out. */
static void take_rest(struct cur *c, char *out)
{
	memcpy(out, c->p, c->n);
	out[c->n] = '\0';
	c->p += c->n;
	c->n = 0;
}

static bool known_kind(const char *k)
{
	for (size_t i = 0; i < sizeof(error_kinds) / sizeof(error_kinds[0]); i++)
		if (strcmp(k, error_kinds[i]) == 0)
			return true;
	return false;
}

static int parse_known(struct cur *c, struct edge_ota_msg *out)
{
	char hex[65];
	size_t start;

	switch (out->ev) {
	case EDGE_OTA_EV_CKPT:
		return take_number(c, &out->n) && c->n == 0 ? 0 : -EINVAL;
	case EDGE_OTA_EV_PROGRESS:
		if (!take_number(c, &out->n))
			return -EINVAL;
		if (c->n && (!take_number(c, &out->total) || out->n > out->total))
			return -EINVAL;
		return c->n == 0 ? 0 : -EINVAL;
	case EDGE_OTA_EV_VALIDATOR:
		/* "lm:" + an HTTP date holds spaces: the rest of the line */
		if (c->n == 0 || c->n > VALIDATOR_MAX)
			return -EINVAL;
		take_rest(c, out->text);
		return 0;
	case EDGE_OTA_EV_RESTART:
		return take_word(c, out->word, sizeof(out->word) - 1) && c->n == 0 ? 0 : -EINVAL;
	case EDGE_OTA_EV_SLOT:
		return take_word(c, out->word, SLOT_MAX) && c->n == 0 ? 0 : -EINVAL;
	case EDGE_OTA_EV_VERSION:
		return take_word(c, out->text, EDGE_OTA_VERSION_MAX - 1) && c->n == 0 ? 0 : -EINVAL;
	case EDGE_OTA_EV_RETRY:
		if (!take_number(c, &out->n))
			return -EINVAL;
		take_rest(c, out->text);
		return 0;
	case EDGE_OTA_EV_DONE:
		if (c->n == 0)
			return 0;
		start = c->n;
		if (!take_word(c, out->text, 64) || c->n != 0 || start != 64 ||
		    !ota_sha256_hex(out->text, hex))
			return -EINVAL;
		memcpy(out->text, hex, sizeof(hex));
		return 0;
	case EDGE_OTA_EV_ERROR:
		if (!take_word(c, out->word, sizeof(out->word) - 1) || !known_kind(out->word))
			return -EINVAL;
		take_rest(c, out->text);
		return 0;
	case EDGE_OTA_EV_LOG:
		take_rest(c, out->text);
		return 0;
	case EDGE_OTA_EV_UNKNOWN:
		break;
	}
	return -EINVAL;
}

int edge_ota_msg_parse(const char *line, size_t len, struct edge_ota_msg *out)
{
	struct cur c = {line, len};
	const char *w, *sp;
	size_t wlen, i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= EDGE_OTA_LINE_MAX)
		return -EINVAL;
	w = line;
	sp = memchr(line, ' ', len);
	wlen = sp ? (size_t)(sp - line) : len;
	/* the word itself: an empty one (a leading space) is malformed */
	if (wlen == 0)
		return -EINVAL;
	for (i = 0; i < N_WORDS; i++)
		if (strlen(words[i].word) == wlen && memcmp(words[i].word, w, wlen) == 0)
			break;
	if (i == N_WORDS) {
		/* kept for the log, shortened to fit */
		size_t k = wlen < sizeof(out->word) - 1 ? wlen : sizeof(out->word) - 1;

		for (size_t j = 0; j < k; j++)
			out->word[j] = is_ctl((unsigned char)w[j]) ? '?' : w[j];
		out->ev = EDGE_OTA_EV_UNKNOWN;
		return 0;
	}
	for (size_t j = 0; j < len; j++)
		if (is_ctl((unsigned char)line[j])) {
			memset(out, 0, sizeof(*out));
			return -EINVAL;
		}
	out->ev = words[i].ev;
	c.p += wlen;
	c.n -= wlen;
	if (c.n) {
		/* exactly one space after the word, and something after it */
		c.p++;
		c.n--;
		if (c.n == 0)
			goto bad;
	}
	rc = parse_known(&c, out);
	if (rc == 0)
		return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

static bool text_ok(const char *s)
{
	for (; *s; s++)
		if (is_ctl((unsigned char)*s))
			return false;
	return true;
}

static bool word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max && !strchr(s, ' ') && text_ok(s);
}

int edge_ota_msg_format(char *buf, size_t buflen, const struct edge_ota_msg *msg)
{
	const char *name = NULL;
	char hex[65];
	int n;

	for (size_t i = 0; i < N_WORDS; i++)
		if (words[i].ev == msg->ev)
			name = words[i].word;
	if (!name || strnlen(msg->text, sizeof(msg->text)) == sizeof(msg->text) ||
	    strnlen(msg->word, sizeof(msg->word)) == sizeof(msg->word) || !text_ok(msg->text))
		return -EINVAL;
	switch (msg->ev) {
	case EDGE_OTA_EV_CKPT:
		if (msg->n > (uint64_t)NUM_MAX)
			return -EINVAL;
		n = snprintf(buf, buflen, "ckpt %llu\n", (unsigned long long)msg->n);
		break;
	case EDGE_OTA_EV_PROGRESS:
		if (msg->n > (uint64_t)NUM_MAX || msg->total > (uint64_t)NUM_MAX ||
		    (msg->total && msg->n > msg->total))
			return -EINVAL;
		if (msg->total)
			n = snprintf(buf, buflen, "progress %llu %llu\n",
				     (unsigned long long)msg->n, (unsigned long long)msg->total);
		else
			n = snprintf(buf, buflen, "progress %llu\n", (unsigned long long)msg->n);
		break;
	case EDGE_OTA_EV_VALIDATOR:
		if (!msg->text[0] || strlen(msg->text) > VALIDATOR_MAX)
			return -EINVAL;
		n = snprintf(buf, buflen, "validator %s\n", msg->text);
		break;
	case EDGE_OTA_EV_RESTART:
	case EDGE_OTA_EV_SLOT:
		if (!word_ok(msg->word,
			     msg->ev == EDGE_OTA_EV_SLOT ? SLOT_MAX : sizeof(msg->word) - 1))
			return -EINVAL;
		n = snprintf(buf, buflen, "%s %s\n", name, msg->word);
		break;
	case EDGE_OTA_EV_VERSION:
		if (!word_ok(msg->text, EDGE_OTA_VERSION_MAX - 1))
			return -EINVAL;
		n = snprintf(buf, buflen, "version %s\n", msg->text);
		break;
	case EDGE_OTA_EV_RETRY:
		if (msg->n > (uint64_t)NUM_MAX)
			return -EINVAL;
		n = snprintf(buf, buflen, "retry %llu%s%s\n", (unsigned long long)msg->n,
			     msg->text[0] ? " " : "", msg->text);
		break;
	case EDGE_OTA_EV_DONE:
		if (!msg->text[0]) {
			n = snprintf(buf, buflen, "done\n");
			break;
		}
		if (!ota_sha256_hex(msg->text, hex))
			return -EINVAL;
		n = snprintf(buf, buflen, "done %s\n", hex);
		break;
	case EDGE_OTA_EV_ERROR:
		if (!known_kind(msg->word))
			return -EINVAL;
		n = snprintf(buf, buflen, "error %s%s%s\n", msg->word, msg->text[0] ? " " : "",
			     msg->text);
		break;
	case EDGE_OTA_EV_LOG:
		n = snprintf(buf, buflen, "log%s%s\n", msg->text[0] ? " " : "", msg->text);
		break;
	default:
		return -EINVAL;
	}
	/* the protocol's bound holds whatever the caller's buffer size */
	if (n < 0 || (size_t)n >= buflen || n > EDGE_OTA_LINE_MAX)
		return -ENOSPC;
	return n;
}
