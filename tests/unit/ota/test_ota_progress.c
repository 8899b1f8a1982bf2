/* SPDX-License-Identifier: Apache-2.0 */
/* The helpers' line protocol: every word parsed, formatted and parsed back;
 * malformed lines of every known word refused; unknown words accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edge/ota/progress.h"

#define SHA "e98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f70"

static int parse(const char *line, struct edge_ota_msg *m)
{
	return edge_ota_msg_parse(line, strlen(line), m);
}

/* line parses, formats back to exactly line + "\n" (canonical input), and
 * that parses to the same message. */
static void round_trip(const char *line, const struct edge_ota_msg *want)
{
	struct edge_ota_msg m, back;
	char buf[EDGE_OTA_LINE_MAX + 8], expect[EDGE_OTA_LINE_MAX + 8];
	int n;

	if (parse(line, &m) != 0)
		fail_msg("\"%s\" did not parse", line);
	assert_int_equal(m.ev, want->ev);
	assert_true(m.n == want->n);
	assert_true(m.total == want->total);
	assert_string_equal(m.word, want->word);
	assert_string_equal(m.text, want->text);
	n = edge_ota_msg_format(buf, sizeof(buf), &m);
	assert_true(n > 0);
	snprintf(expect, sizeof(expect), "%s\n", line);
	assert_string_equal(buf, expect);
	assert_int_equal((size_t)n, strlen(expect));
	assert_int_equal(edge_ota_msg_parse(buf, (size_t)n - 1, &back), 0);
	assert_memory_equal(&m, &back, sizeof(m));
}

static void every_word(void **state)
{
	(void)state;
	round_trip("ckpt 0", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_CKPT});
	round_trip("ckpt 4194304", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_CKPT, .n = 4194304});
	round_trip("ckpt 9223372036854775807",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_CKPT, .n = INT64_MAX});
	round_trip("progress 17", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_PROGRESS, .n = 17});
	round_trip("progress 5 10",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_PROGRESS, .n = 5, .total = 10});
	round_trip("progress 10 10",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_PROGRESS, .n = 10, .total = 10});
	round_trip("validator \"5f3c-1a2b\"",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_VALIDATOR, .text = "\"5f3c-1a2b\""});
	round_trip("validator lm:Wed, 21 Oct 2015 07:28:00 GMT",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_VALIDATOR,
					  .text = "lm:Wed, 21 Oct 2015 07:28:00 GMT"});
	round_trip("restart 200", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_RESTART, .word = "200"});
	round_trip("restart rehash",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_RESTART, .word = "rehash"});
	round_trip("retry 30 HTTP 503 from 10.0.0.1",
		   &(struct edge_ota_msg){
		       .ev = EDGE_OTA_EV_RETRY, .n = 30, .text = "HTTP 503 from 10.0.0.1"});
	round_trip("retry 5", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_RETRY, .n = 5});
	round_trip("slot B", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_SLOT, .word = "B"});
	round_trip("version 1.2.3-rc.1",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_VERSION, .text = "1.2.3-rc.1"});
	round_trip("done", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_DONE});
	round_trip("done " SHA, &(struct edge_ota_msg){.ev = EDGE_OTA_EV_DONE, .text = SHA});
	round_trip("error hash sha256 mismatch: got 00ff",
		   &(struct edge_ota_msg){.ev = EDGE_OTA_EV_ERROR,
					  .word = "hash",
					  .text = "sha256 mismatch: got 00ff"});
	round_trip("error disk", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_ERROR, .word = "disk"});
	round_trip(
	    "log connected to 127.0.0.1:8080",
	    &(struct edge_ota_msg){.ev = EDGE_OTA_EV_LOG, .text = "connected to 127.0.0.1:8080"});
	round_trip("log", &(struct edge_ota_msg){.ev = EDGE_OTA_EV_LOG});
}

static void every_error_kind(void **state)
{
	static const char *const kinds[] = {"url", "size", "hash",    "deadline",
					    "io",  "disk", "refused", "internal"};
	struct edge_ota_msg m;
	char line[64];

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(line, sizeof(line), "error %s some text", kinds[i]);
		assert_int_equal(parse(line, &m), 0);
		assert_int_equal(m.ev, EDGE_OTA_EV_ERROR);
		assert_string_equal(m.word, kinds[i]);
		assert_string_equal(m.text, "some text");
	}
}

static void done_folds_case(void **state)
{
	struct edge_ota_msg m;

	(void)state;
	assert_int_equal(
	    parse("done E98DEB22BB70EED0CE41084A016C8EF65805BABFB8BC3210ACB68D7453145F70", &m), 0);
	assert_string_equal(m.text, SHA);
}

static void unknown_words(void **state)
{
	struct edge_ota_msg m;

	(void)state;
	assert_int_equal(parse("speed 1200000 B/s", &m), 0);
	assert_int_equal(m.ev, EDGE_OTA_EV_UNKNOWN);
	assert_string_equal(m.word, "speed");
	/* case matters: "CKPT" is not "ckpt" */
	assert_int_equal(parse("CKPT 5", &m), 0);
	assert_int_equal(m.ev, EDGE_OTA_EV_UNKNOWN);
	/* a long unknown word is kept shortened */
	assert_int_equal(parse("averyveryveryverylongwordthatgoeson 1", &m), 0);
	assert_int_equal(m.ev, EDGE_OTA_EV_UNKNOWN);
	assert_int_equal(strlen(m.word), sizeof(m.word) - 1);
	/* an unknown word cannot be formatted */
	{
		char buf[64];

		assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -EINVAL);
	}
}

static void malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    " ckpt 5",
	    /* ckpt */
	    "ckpt",
	    "ckpt ",
	    "ckpt  5",
	    "ckpt 5 ",
	    "ckpt 5 6",
	    "ckpt -5",
	    "ckpt +5",
	    "ckpt 05",
	    "ckpt 5x",
	    "ckpt 0x10",
	    "ckpt 9223372036854775808",
	    "ckpt 18446744073709551616",
	    "ckpt 99999999999999999999",
	    /* progress */
	    "progress",
	    "progress x",
	    "progress 5 4",
	    "progress 5 10 15",
	    "progress 5  10",
	    "progress 5 -1",
	    "progress 5 ",
	    /* validator */
	    "validator",
	    "validator ",
	    "validator \"a\tb\"",
	    /* restart */
	    "restart",
	    "restart two words",
	    "restart averyveryveryverylongreason",
	    /* retry */
	    "retry",
	    "retry soon",
	    "retry -1 x",
	    "retry 5 ",
	    "retry 5 tab\there",
	    /* slot */
	    "slot",
	    "slot A B",
	    "slot toolongname",
	    /* version */
	    "version",
	    "version 1.0.0 extra",
	    "version 1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    /* done */
	    "done ",
	    "done xyz",
	    "done " SHA "0",
	    "done e98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f7",
	    "done g98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f70",
	    "done " SHA " extra",
	    /* error */
	    "error",
	    "error ",
	    "error network down",
	    "error IO failed",
	    "error io bad\x01text",
	    /* log */
	    "log ",
	    "log bell\x07",
	    "log del\x7f",
	    "log cr\r",
	};
	struct edge_ota_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m.ev = EDGE_OTA_EV_LOG;
		if (parse(bad[i], &m) != -EINVAL)
			fail_msg("\"%s\" should be refused", bad[i]);
		assert_int_equal(m.ev, EDGE_OTA_EV_UNKNOWN); /* zeroed */
	}
}

static void length_bounds(void **state)
{
	char line[EDGE_OTA_LINE_MAX + 2], buf[EDGE_OTA_LINE_MAX * 2];
	struct edge_ota_msg m;

	(void)state;
	/* 511 bytes parse (512 with the newline), 512 do not */
	memset(line, 'x', sizeof(line));
	memcpy(line, "log ", 4);
	assert_int_equal(edge_ota_msg_parse(line, EDGE_OTA_LINE_MAX - 1, &m), 0);
	assert_int_equal(strlen(m.text), EDGE_OTA_LINE_MAX - 5);
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), EDGE_OTA_LINE_MAX);
	assert_int_equal(edge_ota_msg_parse(line, EDGE_OTA_LINE_MAX, &m), -EINVAL);
	/* a validator of 255 characters fits the record, 256 do not */
	memcpy(line, "validator ", 10);
	assert_int_equal(edge_ota_msg_parse(line, 10 + 255, &m), 0);
	assert_int_equal(edge_ota_msg_parse(line, 10 + 256, &m), -EINVAL);
	/* format: a text the protocol cannot carry is refused, not cut */
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_LOG;
	memset(m.text, 'y', sizeof(m.text) - 1);
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -ENOSPC);
	/* a buffer too small */
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_CKPT;
	m.n = 123456;
	assert_int_equal(edge_ota_msg_format(buf, 8, &m), -ENOSPC);
	assert_int_equal(edge_ota_msg_format(buf, 12, &m), -ENOSPC); /* no room for the NUL */
	assert_int_equal(edge_ota_msg_format(buf, 13, &m), 12);
	assert_string_equal(buf, "ckpt 123456\n");
}

static void format_refuses_bad_messages(void **state)
{
	struct edge_ota_msg m;
	char buf[600];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_LOG;
	strcpy(m.text, "two\nlines");
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -EINVAL);
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_ERROR;
	strcpy(m.word, "oops");
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -EINVAL);
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_PROGRESS;
	m.n = 11;
	m.total = 10;
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -EINVAL);
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_DONE;
	strcpy(m.text, "nothex");
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -EINVAL);
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_SLOT;
	strcpy(m.word, "A B");
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -EINVAL);
	memset(&m, 0, sizeof(m));
	m.ev = EDGE_OTA_EV_CKPT;
	m.n = UINT64_MAX;
	assert_int_equal(edge_ota_msg_format(buf, sizeof(buf), &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_word),
	    cmocka_unit_test(every_error_kind),
	    cmocka_unit_test(done_folds_case),
	    cmocka_unit_test(unknown_words),
	    cmocka_unit_test(malformed),
	    cmocka_unit_test(length_bounds),
	    cmocka_unit_test(format_refuses_bad_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
