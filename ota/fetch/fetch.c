/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-fetch: the agent's download helper (DESIGN 5.4 "Download").
 *
 * Downloads one image into a part file that survives kills and power cuts:
 * every byte is written with pwrite() at its offset and hashed (SHA-256,
 * streaming) as it is written; every --ckpt-bytes or --ckpt-ms the file is
 * fdatasync'ed and "ckpt OFFSET" is printed, and the agent persists that
 * offset. The next run gets it back as --offset: the part is cut to it (what
 * lies beyond may be garbage after a power cut), the prefix is hashed again,
 * and the rest is asked for with Range + If-Range. It speaks the line
 * protocol of edge/ota/progress.h on stdout; stderr is for people.
 *
 * One process, no thread: libcurl's multi interface in a loop that also
 * polls a signalfd, so SIGTERM (from the agent, or from the kernel when the
 * agent died) ends it within one poll round, whatever the network does.
 *
 * Exit status: 0 done, 1 after an "error" line, 2 usage; killed by the
 * signal that stopped it (SIGTERM/SIGINT) after a last checkpoint.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge/backoff.h"
#include "edge/ota/progress.h"
#include "edge/spawn.h"
#include "edge/time.h"
#include "sha256.h"
#include <curl/curl.h>

#define PROG	     "edge-ota-fetch"
#define REHASH_CHUNK (256u * 1024)
/* curl's receive buffer, the only copy of the body in this process: larger
 * than the 16 KiB default so a pwrite() and a hash update cover several TLS
 * records (fewer system calls at loopback speed); fixed, so memory does not
 * depend on the image size. */
#define RECV_BUFFER	(128L * 1024)
#define WRITEBACK_CHUNK (1024u * 1024)
#define VALIDATOR_MAX	200 /* keeps "validator V" well inside EDGE_OTA_LINE_MAX */
#define POLL_MAX_MS	1000
#define MAX_REDIRS	5L

struct opts {
	const char *url, *out, *ca_file;
	char validator[VALIDATOR_MAX + 1]; /* "" when none is known */
	uint64_t size, offset;
	uint8_t sha256[32];
	char sha256_hex[65];
	bool allow_http;
	int64_t deadline; /* UNIX seconds; 0: none */
	pid_t parent;
	uint64_t ckpt_bytes, ckpt_ms;
	long stall_s;
	uint32_t backoff_base_ms, backoff_cap_ms;
};

/* How one request ended, decided by the callbacks or from curl's result. */
enum outcome {
	OUT_NONE,    /* not decided by a callback: curl's result tells */
	OUT_DONE,    /* all size bytes are in the part (or 416 at size) */
	OUT_RESTART, /* start over from byte 0, at once */
	OUT_RETRY,   /* transient: back off, then again from the offset */
	OUT_FATAL,   /* an "error" line was printed */
	OUT_STOP,    /* SIGTERM/SIGINT */
};

enum body_mode {
	BODY_IGNORE, /* 1xx/3xx: curl goes on by itself */
	BODY_APPEND, /* 200/206 accepted: bytes go to the part */
	BODY_REFUSE, /* decided against it: abort the transfer */
};

struct fetch {
	struct opts o;
	int fd;
	int sigfd;
	int stop_sig;
	uint64_t off;	  /* bytes in the part, written and hashed */
	uint64_t durable; /* the last offset reported with "ckpt" */
	struct fetch_sha256 *sha;
	CURL *easy;
	CURLM *multi;
	char curl_err[CURL_ERROR_SIZE];

	/* the request in flight */
	uint64_t req_off;   /* the offset it asked from */
	bool sent_if_range; /* with the validator in o.validator */
	uint64_t got;	    /* body bytes appended by it */

	/* the current response's headers */
	long status;
	int64_t content_length; /* -1: not given */
	bool has_range;
	uint64_t range_start, range_end, range_total;
	char etag[VALIDATOR_MAX + 1];
	char last_modified[VALIDATOR_MAX + 1];
	bool long_etag; /* longer than VALIDATOR_MAX: not usable */
	enum body_mode mode;

	enum outcome out;
	char reason[160]; /* OUT_RETRY: the text of the "retry" line */

	/* pacing of ckpt and progress lines */
	uint64_t last_ckpt_ms, last_progress_ms, last_progress_bytes, progress_step;
	uint64_t flushed; /* writeback started up to here (sync_file_range) */
};

/* ---- output --------------------------------------------------------------- */

/* One protocol line on stdout. The agent reads it as soon as it is written
 * (line buffered); if the agent is gone (EPIPE) there is nobody to work for. */
static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	char line[EDGE_OTA_LINE_MAX + 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > EDGE_OTA_LINE_MAX)
		n = EDGE_OTA_LINE_MAX; /* a cut text field; the words come first */
	line[n] = '\n';
	if (fwrite(line, 1, (size_t)n + 1, stdout) != (size_t)n + 1 || fflush(stdout) != 0) {
		fprintf(stderr, PROG ": stdout: %s; exiting\n", strerror(errno));
		_exit(1);
	}
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The terminal "error KIND TEXT" line; the caller exits 1. */
static void fail(struct fetch *f, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct fetch *f, const char *kind, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	emit("error %s %s", kind, text);
	logmsg("error %s: %s", kind, text);
	if (f)
		f->out = OUT_FATAL;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- the part file ---------------------------------------------------------- */

static const char *write_kind(int err)
{
	return err == ENOSPC || err == EDQUOT ? "disk" : "io";
}

/* Writes all of buf at off; 0 or the errno. */
static int pwrite_all(int fd, const char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* fdatasync, then "ckpt OFFSET": everything below it is on disk and hashed,
 * so the agent may persist it. Returns false after an "error" line. */
static bool checkpoint(struct fetch *f)
{
	if (f->off == f->durable)
		return true;
	if (fdatasync(f->fd) < 0) {
		fail(f, write_kind(errno), "fdatasync %s: %s", f->o.out, strerror(errno));
		return false;
	}
	f->durable = f->off;
	f->last_ckpt_ms = edge_now_ms();
	emit("ckpt %" PRIu64, f->off);
	return true;
}

/* Back to byte 0: an empty part and a fresh hash. The agent's persisted
 * offset is now beyond the file, which a next run takes as "start over". */
static bool start_over(struct fetch *f, const char *reason)
{
	if (ftruncate(f->fd, 0) < 0) {
		fail(f, write_kind(errno), "truncate %s: %s", f->o.out, strerror(errno));
		return false;
	}
	if (fetch_sha256_reset(f->sha) != 0) {
		fail(f, "internal", "SHA-256 reset failed");
		return false;
	}
	f->off = f->durable = f->flushed = 0;
	f->last_progress_bytes = 0;
	emit("restart %s", reason);
	logmsg("starting over from byte 0 (%s)", reason);
	return true;
}

static bool stop_requested(struct fetch *f)
{
	struct signalfd_siginfo si;
	struct pollfd p = {.fd = f->sigfd, .events = POLLIN};

	if (f->stop_sig)
		return true;
	if (poll(&p, 1, 0) > 0 && read(f->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		f->stop_sig = (int)si.ssi_signo;
	return f->stop_sig != 0;
}

/* Opens the part and brings it to the checkpoint: cut to --offset (bytes
 * after it may be garbage after a power cut), the prefix hashed again. A
 * part shorter than the offset lost data the agent thought durable: start
 * over. Returns false after an "error" line or on a stop request. */
static bool open_part(struct fetch *f)
{
	static char buf[REHASH_CHUNK];
	struct stat st;

	f->fd = open(f->o.out, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->fd < 0) {
		fail(f, "io", "open %s: %s", f->o.out, strerror(errno));
		return false;
	}
	if (fstat(f->fd, &st) < 0) {
		fail(f, "io", "stat %s: %s", f->o.out, strerror(errno));
		return false;
	}
	f->sha = fetch_sha256_new();
	if (!f->sha) {
		fail(f, "internal", "SHA-256 context: out of memory");
		return false;
	}
	if ((uint64_t)st.st_size < f->o.offset) {
		logmsg("%s has %lld bytes, fewer than the checkpoint %" PRIu64, f->o.out,
		       (long long)st.st_size, f->o.offset);
		return start_over(f, "rehash");
	}
	if (ftruncate(f->fd, (off_t)f->o.offset) < 0) {
		fail(f, write_kind(errno), "truncate %s: %s", f->o.out, strerror(errno));
		return false;
	}
	/* The agent reserves the image's space (posix_fallocate) before the
	 * download; the cut above gave the tail back, so reserve it again
	 * without changing the length. A file system without it is fine. */
	if (f->o.size > f->o.offset &&
	    fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)f->o.offset,
		      (off_t)(f->o.size - f->o.offset)) < 0 &&
	    errno != EOPNOTSUPP && errno != ENOSYS) {
		fail(f, write_kind(errno), "reserve %" PRIu64 " bytes for %s: %s",
		     f->o.size - f->o.offset, f->o.out, strerror(errno));
		return false;
	}
	for (uint64_t pos = 0; pos < f->o.offset;) {
		size_t want =
		    f->o.offset - pos < sizeof(buf) ? (size_t)(f->o.offset - pos) : sizeof(buf);
		ssize_t n = pread(f->fd, buf, want, (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail(f, "io", "read %s at %" PRIu64 ": %s", f->o.out, pos,
			     n < 0 ? strerror(errno) : "unexpected end of file");
			return false;
		}
		if (fetch_sha256_update(f->sha, buf, (size_t)n) != 0) {
			fail(f, "internal", "SHA-256 update failed");
			return false;
		}
		pos += (uint64_t)n;
		if ((pos & (16u * 1024 * 1024 - 1)) < (uint64_t)n && stop_requested(f))
			return false;
	}
	f->off = f->durable = f->flushed = f->o.offset;
	if (f->o.offset)
		logmsg("resuming at %" PRIu64 " of %" PRIu64 " bytes", f->o.offset, f->o.size);
	return true;
}

/* At size bytes: durable, then the hash decides. A wrong image is emptied so
 * that nobody ever resumes from it. */
static void finish(struct fetch *f)
{
	uint8_t got[32];
	char got_hex[65];

	if (fdatasync(f->fd) < 0) {
		fail(f, write_kind(errno), "fdatasync %s: %s", f->o.out, strerror(errno));
		return;
	}
	if (fetch_sha256_finish(f->sha, got) != 0) {
		fail(f, "internal", "SHA-256 finish failed");
		return;
	}
	hex(got, sizeof(got), got_hex);
	if (memcmp(got, f->o.sha256, sizeof(got)) != 0) {
		if (ftruncate(f->fd, 0) < 0 || fdatasync(f->fd) < 0)
			logmsg("emptying %s: %s", f->o.out, strerror(errno));
		fail(f, "hash", "expected %s got %s", f->o.sha256_hex, got_hex);
		return;
	}
	f->durable = f->off;
	emit("ckpt %" PRIu64, f->off);
	emit("done %s", got_hex);
	logmsg("done: %" PRIu64 " bytes, sha256 %s", f->off, got_hex);
	f->out = OUT_DONE;
}

/* ---- one response ------------------------------------------------------------- */

static void progress(struct fetch *f, uint64_t now)
{
	if (f->off - f->last_progress_bytes >= f->progress_step ||
	    (now - f->last_progress_ms >= 1000 && f->off != f->last_progress_bytes)) {
		emit("progress %" PRIu64, f->off);
		f->last_progress_bytes = f->off;
		f->last_progress_ms = now;
	}
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * nmemb;
	uint64_t now;
	int err;

	if (f->mode == BODY_IGNORE)
		return len;
	if (f->mode != BODY_APPEND)
		return CURL_WRITEFUNC_ERROR;
	if (len > f->o.size - f->off) {
		/* Nothing past size is ever written: the server's file is not
		 * the one the manifest describes. */
		fail(f, "size",
		     "the server sent more than %" PRIu64 " bytes (HTTP %ld from %" PRIu64 ")",
		     f->o.size, f->status, f->req_off);
		return CURL_WRITEFUNC_ERROR;
	}
	if ((err = pwrite_all(f->fd, data, len, f->off)) != 0) {
		fail(f, write_kind(err), "write %s at %" PRIu64 ": %s", f->o.out, f->off,
		     strerror(err));
		return CURL_WRITEFUNC_ERROR;
	}
	if (fetch_sha256_update(f->sha, data, len) != 0) {
		fail(f, "internal", "SHA-256 update failed");
		return CURL_WRITEFUNC_ERROR;
	}
	f->off += len;
	f->got += len;
	if (f->off - f->flushed >= WRITEBACK_CHUNK) {
		/* Start the writeback of what came so far without waiting for
		 * it, so the checkpoint's fdatasync finds little left to do and
		 * the transfer does not stall on it. Advisory: errors surface
		 * at the fdatasync. */
		(void)sync_file_range(f->fd, (off_t)f->flushed, (off_t)(f->off - f->flushed),
				      SYNC_FILE_RANGE_WRITE);
		f->flushed = f->off;
	}
	now = edge_now_ms();
	if (f->off - f->durable >= f->o.ckpt_bytes || now - f->last_ckpt_ms >= f->o.ckpt_ms) {
		if (!checkpoint(f))
			return CURL_WRITEFUNC_ERROR;
	}
	progress(f, now);
	return len;
}

/* A header value without surrounding blanks, copied if it fits. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *v, *end = line + len;

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return false;
	v = line + nlen + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - v) >= cap) {
		out[0] = '\0';
		return true; /* present but too long: callers treat it as absent */
	}
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = '\0';
	return true;
}

/* Strict decimal, the whole string, no sign. */
static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* "bytes START-END/TOTAL" (RFC 9110 14.4); a "*" total is of no use here. */
static bool parse_content_range(const char *v, uint64_t *start, uint64_t *end, uint64_t *total)
{
	char a[24], b[24], c[24];
	int n = 0;

	if (strncasecmp(v, "bytes ", 6) != 0)
		return false;
	if (sscanf(v + 6, "%23[0-9]-%23[0-9]/%23[0-9]%n", a, b, c, &n) != 3 || v[6 + n] != '\0')
		return false;
	return parse_u64(a, start) && parse_u64(b, end) && parse_u64(c, total) && *start <= *end &&
	       *end < *total;
}

/* Printable ASCII only: the value travels in a protocol line and back. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* The validator of this response for If-Range next time: a strong ETag, else
 * Last-Modified ("lm:" + date). A weak ETag (W/) never may (RFC 9110 13.1.5). */
static void take_validator(struct fetch *f, char *out, size_t cap)
{
	out[0] = '\0';
	if (f->etag[0] == '"' && !f->long_etag && printable(f->etag))
		snprintf(out, cap, "%s", f->etag);
	else if (f->last_modified[0] && printable(f->last_modified) &&
		 strlen(f->last_modified) + 3 < cap)
		snprintf(out, cap, "lm:%s", f->last_modified);
}

/* All headers of a final response are in: decide what its body is. */
static void on_headers_done(struct fetch *f)
{
	char v[VALIDATOR_MAX + 1];
	bool changed;

	if (f->status < 200 || (f->status >= 300 && f->status < 400)) {
		/* 1xx, or a redirect curl follows (only to https unless
		 * --allow-http: CURLOPT_REDIR_PROTOCOLS_STR) */
		f->mode = BODY_IGNORE;
		return;
	}
	f->mode = BODY_REFUSE;
	if (f->status == 200 || f->status == 206) {
		take_validator(f, v, sizeof(v));
		changed = f->sent_if_range && strcmp(v, f->o.validator) != 0;
		if (v[0]) {
			emit("validator %s", v);
			memcpy(f->o.validator, v, sizeof(v));
		}
	}
	switch (f->status) {
	case 200:
		if (f->content_length >= 0 && (uint64_t)f->content_length != f->o.size) {
			fail(f, "size",
			     "the server's file has %" PRId64 " bytes, expected %" PRIu64,
			     f->content_length, f->o.size);
			return;
		}
		/* The whole file from byte 0: the server ignored the Range
		 * (no range support) or If-Range found a new file. */
		if (f->off > 0 && !start_over(f, changed ? "validator" : "200"))
			return;
		f->mode = BODY_APPEND;
		return;
	case 206:
		if (!f->has_range || f->range_start != f->req_off || f->range_total != f->o.size) {
			if (f->req_off == 0) {
				fail(f, "url", "HTTP 206 without the range asked for (%s)",
				     f->has_range ? "other range" : "no Content-Range");
				return;
			}
			logmsg("HTTP 206 for another range (%s%" PRIu64 "/%" PRIu64
			       "), asked from %" PRIu64,
			       f->has_range ? "" : "none: ", f->range_start, f->range_total,
			       f->req_off);
			f->out = start_over(f, "206") ? OUT_RESTART : OUT_FATAL;
			return;
		}
		if (f->content_length >= 0 &&
		    (uint64_t)f->content_length > f->o.size - f->req_off) {
			fail(f, "size",
			     "HTTP 206 of %" PRId64 " bytes from %" PRIu64
			     " is more than the %" PRIu64 " expected",
			     f->content_length, f->req_off, f->o.size);
			return;
		}
		f->mode = BODY_APPEND;
		return;
	case 416:
		if (f->req_off > 0 && f->req_off == f->o.size) {
			f->out = OUT_DONE; /* finish() verifies */
			return;
		}
		if (f->req_off > 0) {
			f->out = start_over(f, "416") ? OUT_RESTART : OUT_FATAL;
			return;
		}
		break;
	case 408: /* request timeout and rate limiting are the server's load, */
	case 429: /* not a wrong URL: try again later */
		f->out = OUT_RETRY;
		snprintf(f->reason, sizeof(f->reason), "HTTP %ld", f->status);
		return;
	default:
		if (f->status >= 500) {
			f->out = OUT_RETRY;
			snprintf(f->reason, sizeof(f->reason), "HTTP %ld", f->status);
			return;
		}
		break;
	}
	fail(f, "url", "HTTP %ld", f->status);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * nmemb;
	char tmp[64];

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (after a 1xx or a redirect): forget the last */
		const char *sp = memchr(data, ' ', len);

		f->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		f->content_length = -1;
		f->has_range = f->long_etag = false;
		f->etag[0] = f->last_modified[0] = '\0';
		f->mode = BODY_IGNORE;
		return len;
	}
	if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		on_headers_done(f);
		/* a decision that needs no body ends the transfer here */
		return f->out == OUT_NONE ? len : CURL_WRITEFUNC_ERROR;
	}
	if (header_value(data, len, "etag", f->etag, sizeof(f->etag))) {
		f->long_etag = f->etag[0] == '\0';
	} else if (header_value(data, len, "last-modified", f->last_modified,
				sizeof(f->last_modified))) {
	} else if (header_value(data, len, "content-length", tmp, sizeof(tmp))) {
		uint64_t v;

		f->content_length = parse_u64(tmp, &v) && v <= INT64_MAX ? (int64_t)v : -1;
	} else if (header_value(data, len, "content-range", tmp, sizeof(tmp))) {
		f->has_range =
		    parse_content_range(tmp, &f->range_start, &f->range_end, &f->range_total);
	}
	return len;
}

/* ---- attempts ------------------------------------------------------------------ */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static bool setup_curl(struct fetch *f)
{
	bool https_only = !f->o.allow_http;
	CURLcode rc = CURLE_OK;

	f->easy = curl_easy_init();
	f->multi = curl_multi_init();
	if (!f->easy || !f->multi) {
		fail(NULL, "internal", "libcurl initialisation failed");
		return false;
	}
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(f->easy, opt, val);                                  \
	} while (0)
	SET(CURLOPT_URL, f->o.url);
	SET(CURLOPT_PROTOCOLS_STR, https_only ? "https" : "http,https");
	/* never from https down to http, and http only when allowed at all */
	SET(CURLOPT_REDIR_PROTOCOLS_STR, https_only ? "https" : "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, MAX_REDIRS);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (f->o.ca_file)
		SET(CURLOPT_CAINFO, f->o.ca_file);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_BUFFERSIZE, RECV_BUFFER);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, f);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, f);
	SET(CURLOPT_ERRORBUFFER, f->curl_err);
	SET(CURLOPT_USERAGENT, "edge-ota-fetch/1");
	/* a stall: less than 1 byte/s for stall_s, connecting included */
	SET(CURLOPT_CONNECTTIMEOUT, f->o.stall_s);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, f->o.stall_s);
#undef SET
	if (rc != CURLE_OK) {
		fail(NULL, "internal", "libcurl option: %s", curl_easy_strerror(rc));
		return false;
	}
	return true;
}

/* curl's own failures: a transfer that the callbacks did not decide on. */
static void classify_curl(struct fetch *f, CURLcode rc)
{
	const char *what = f->curl_err[0] ? f->curl_err : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL: /* a redirect to http (or another scheme) */
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_URL_MALFORMAT:
		fail(f, "url", "%s", what);
		return;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_SSL_CACERT_BADFILE:
		fail(f, "internal", "%s", what);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(f->reason, sizeof(f->reason), "stalled: %.*s", (int)sizeof(f->reason) - 10,
			 what);
		break;
	default:
		snprintf(f->reason, sizeof(f->reason), "%.*s", (int)sizeof(f->reason) - 1, what);
		break;
	}
	f->out = OUT_RETRY;
}

/* One request from f->off; sets f->out. */
static void attempt(struct fetch *f)
{
	struct curl_slist *hdrs = NULL, *h;
	char range[64], ifr[VALIDATOR_MAX + 16];
	struct curl_waitfd wfd = {.fd = f->sigfd, .events = CURL_WAIT_POLLIN};
	CURLcode result = CURLE_OK;
	int running = 1;

	f->out = OUT_NONE;
	f->reason[0] = f->curl_err[0] = '\0';
	f->req_off = f->off;
	f->got = 0;
	f->status = 0;
	f->mode = BODY_IGNORE;
	f->sent_if_range = false;
	if (f->off > 0) {
		snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", f->off);
		hdrs = curl_slist_append(hdrs, range);
		if (hdrs && f->o.validator[0]) {
			const char *v = f->o.validator;

			snprintf(ifr, sizeof(ifr), "If-Range: %s",
				 strncmp(v, "lm:", 3) == 0 ? v + 3 : v);
			h = curl_slist_append(hdrs, ifr);
			if (h)
				hdrs = h;
			f->sent_if_range = h != NULL;
		}
		if (!hdrs || (f->o.validator[0] && !f->sent_if_range)) {
			curl_slist_free_all(hdrs);
			fail(f, "internal", "out of memory");
			return;
		}
	}
	curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, hdrs);
	if (curl_multi_add_handle(f->multi, f->easy) != CURLM_OK) {
		curl_slist_free_all(hdrs);
		fail(f, "internal", "curl_multi_add_handle failed");
		return;
	}
	while (running) {
		int64_t left_ms = POLL_MAX_MS;
		CURLMcode mc = curl_multi_perform(f->multi, &running);

		if (mc != CURLM_OK) {
			fail(f, "internal", "curl_multi_perform: %s", curl_multi_strerror(mc));
			break;
		}
		if (f->out == OUT_FATAL || !running)
			break;
		if (f->o.deadline) {
			left_ms = (f->o.deadline - now_s()) * 1000;
			if (left_ms <= 0) {
				f->out = OUT_RETRY; /* the retry loop says "deadline" */
				snprintf(f->reason, sizeof(f->reason), "deadline during transfer");
				break;
			}
			if (left_ms > POLL_MAX_MS)
				left_ms = POLL_MAX_MS;
		}
		wfd.revents = 0;
		mc = curl_multi_poll(f->multi, &wfd, 1, (int)left_ms, NULL);
		if (mc != CURLM_OK) {
			fail(f, "internal", "curl_multi_poll: %s", curl_multi_strerror(mc));
			break;
		}
		if (wfd.revents && stop_requested(f)) {
			f->out = OUT_STOP;
			break;
		}
	}
	if (!running) {
		struct CURLMsg *m;
		int left;

		while ((m = curl_multi_info_read(f->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE)
				result = m->data.result;
	}
	curl_multi_remove_handle(f->multi, f->easy);
	curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (f->out != OUT_NONE)
		return; /* the callbacks (or a stop) decided */
	if (result != CURLE_OK) {
		classify_curl(f, result);
		return;
	}
	if (f->off == f->o.size) {
		f->out = OUT_DONE;
		return;
	}
	/* a complete response that ended short of size: the connection was
	 * cut cleanly, or the server's file is shorter than it said */
	f->out = OUT_RETRY;
	snprintf(f->reason, sizeof(f->reason), "short body: %" PRIu64 " of %" PRIu64 " bytes",
		 f->off, f->o.size);
}

/* Sleeps up to ms, or until a stop signal; false when stopped. */
static bool pause_ms(struct fetch *f, uint64_t ms)
{
	uint64_t end = edge_now_ms() + ms;

	for (;;) {
		struct pollfd p = {.fd = f->sigfd, .events = POLLIN};
		uint64_t now = edge_now_ms();
		int r;

		if (now >= end)
			return true;
		r = poll(&p, 1, (int)(end - now > INT_MAX ? INT_MAX : end - now));
		if (r > 0 && stop_requested(f))
			return false;
		if (r < 0 && errno != EINTR)
			return true;
	}
}

/* Attempts until done, a terminal error, the deadline or a stop. Returns
 * the exit status (or -signo for a stop). */
static int run(struct fetch *f)
{
	struct edge_backoff bo;

	edge_backoff_init(&bo, f->o.backoff_base_ms, f->o.backoff_cap_ms, 0);
	f->progress_step = f->o.size / 100 ? f->o.size / 100 : 1;
	f->last_ckpt_ms = f->last_progress_ms = edge_now_ms();
	f->last_progress_bytes = f->off;
	for (;;) {
		if (f->off == f->o.size) {
			finish(f); /* a part complete at start, a 416 at size, or the end */
			return f->out == OUT_DONE ? 0 : 1;
		}
		if (f->o.deadline && now_s() >= f->o.deadline) {
			checkpoint(f);
			fail(f, "deadline",
			     "not done by %" PRId64 " (%" PRIu64 " of %" PRIu64 " bytes)",
			     f->o.deadline, f->off, f->o.size);
			return 1;
		}
		attempt(f);
		switch (f->out) {
		case OUT_DONE:
		case OUT_RESTART:
			continue;
		case OUT_FATAL:
			return 1;
		case OUT_STOP:
			checkpoint(f);
			return -f->stop_sig;
		case OUT_NONE: /* not reached: attempt() always decides */
		case OUT_RETRY:
			break;
		}
		if (f->o.deadline && now_s() >= f->o.deadline)
			continue; /* no retry line for an attempt that cannot come */
		if (!checkpoint(f))
			return 1;
		if (f->got > 0)
			edge_backoff_reset(&bo); /* it moved: the trouble is new */
		uint64_t ms = edge_backoff_next(&bo);
		if (f->o.deadline) {
			int64_t left = (f->o.deadline - now_s()) * 1000;

			if (left < 0)
				left = 0;
			if ((int64_t)ms > left)
				ms = (uint64_t)left;
		}
		emit("retry %" PRIu64 " %s", (ms + 999) / 1000, f->reason);
		logmsg("%s at %" PRIu64 " of %" PRIu64 " bytes; next attempt in %" PRIu64 " ms",
		       f->reason, f->off, f->o.size, ms);
		if (!pause_ms(f, ms))
			return -f->stop_sig;
	}
}

/* ---- options ------------------------------------------------------------------- */

static void usage(FILE *to)
{
	fprintf(to, "usage: " PROG " --url URL --out PART --size N --sha256 HEX\n"
		    "       [--offset N] [--validator V] [--ca-file F] [--allow-http]\n"
		    "       [--deadline UNIX_SECONDS] [--parent-pid PID]\n"
		    "       [--ckpt-bytes N (4194304)] [--ckpt-ms N (10000)] [--stall-s N (60)]\n"
		    "       [--backoff-base-ms N (1000)] [--backoff-cap-ms N (300000)]\n"
		    "Downloads URL into PART (resuming at --offset), prints the lines of\n"
		    "edge/ota/progress.h on stdout; exit 0 done, 1 error, 2 usage.\n");
}

static bool parse_hash(const char *s, struct opts *o)
{
	if (strlen(s) != 64)
		return false;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		o->sha256[i] = (uint8_t)v;
	}
	hex(o->sha256, 32, o->sha256_hex);
	return true;
}

/* 0, or 2 after a message on stderr. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *hash = NULL, *validator = NULL;
	bool have_size = false;

	*o = (struct opts){.ckpt_bytes = 4194304,
			   .ckpt_ms = 10000,
			   .stall_s = 60,
			   .backoff_base_ms = 1000,
			   .backoff_cap_ms = 300000};
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n = 0;
		bool num;

		if (strcmp(k, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(k, "--allow-http") == 0) {
			o->allow_http = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, PROG ": %s needs a value\n", k);
			return 2;
		}
		i++;
		num = parse_u64(v, &n);
#define NUM(name, max)                                                                             \
	if (!num || n > (uint64_t)(max)) {                                                         \
		fprintf(stderr, PROG ": %s: %s is not a number in 0..%" PRIu64 "\n", name, v,      \
			(uint64_t)(max));                                                          \
		return 2;                                                                          \
	}
		if (strcmp(k, "--url") == 0) {
			o->url = v;
		} else if (strcmp(k, "--out") == 0) {
			o->out = v;
		} else if (strcmp(k, "--sha256") == 0) {
			hash = v;
		} else if (strcmp(k, "--validator") == 0) {
			validator = v;
		} else if (strcmp(k, "--ca-file") == 0) {
			o->ca_file = v;
		} else if (strcmp(k, "--size") == 0) {
			NUM(k, INT64_MAX);
			o->size = n;
			have_size = true;
		} else if (strcmp(k, "--offset") == 0) {
			NUM(k, INT64_MAX);
			o->offset = n;
		} else if (strcmp(k, "--deadline") == 0) {
			NUM(k, INT64_MAX);
			o->deadline = (int64_t)n;
		} else if (strcmp(k, "--parent-pid") == 0) {
			NUM(k, INT_MAX);
			o->parent = (pid_t)n;
		} else if (strcmp(k, "--ckpt-bytes") == 0) {
			NUM(k, INT64_MAX);
			o->ckpt_bytes = n;
		} else if (strcmp(k, "--ckpt-ms") == 0) {
			NUM(k, INT64_MAX);
			o->ckpt_ms = n;
		} else if (strcmp(k, "--stall-s") == 0) {
			NUM(k, 86400);
			o->stall_s = (long)n;
		} else if (strcmp(k, "--backoff-base-ms") == 0) {
			NUM(k, UINT32_MAX);
			o->backoff_base_ms = (uint32_t)n;
		} else if (strcmp(k, "--backoff-cap-ms") == 0) {
			NUM(k, UINT32_MAX);
			o->backoff_cap_ms = (uint32_t)n;
		} else {
			fprintf(stderr, PROG ": unknown option %s (--help)\n", k);
			return 2;
		}
#undef NUM
	}
	if (!o->url || !o->out || !have_size || !hash) {
		fprintf(stderr, PROG ": --url, --out, --size and --sha256 are required (--help)\n");
		return 2;
	}
	if (o->size == 0) {
		fprintf(stderr, PROG ": --size must be at least 1\n");
		return 2;
	}
	if (o->offset > o->size) {
		fprintf(stderr, PROG ": --offset %" PRIu64 " is beyond --size %" PRIu64 "\n",
			o->offset, o->size);
		return 2;
	}
	if (!parse_hash(hash, o)) {
		fprintf(stderr, PROG ": --sha256 wants 64 hex digits, got '%s'\n", hash);
		return 2;
	}
	if (o->stall_s < 1 || o->ckpt_bytes < 1 || o->backoff_base_ms < 1 ||
	    o->backoff_cap_ms < o->backoff_base_ms) {
		fprintf(stderr, PROG ": --stall-s, --ckpt-bytes and --backoff-base-ms must be at "
				     "least 1, --backoff-cap-ms at least --backoff-base-ms\n");
		return 2;
	}
	if (validator) {
		/* A weak ETag must not be used for If-Range; one that does not
		 * fit a protocol line cannot have come from us. Without it the
		 * resume still works: the final hash is the judge. */
		if (strncmp(validator, "W/", 2) == 0)
			logmsg("--validator %s is a weak ETag: not used for If-Range", validator);
		else if (strlen(validator) > VALIDATOR_MAX || !printable(validator) ||
			 (validator[0] != '"' && strncmp(validator, "lm:", 3) != 0) ||
			 strcmp(validator, "lm:") == 0)
			logmsg("--validator '%s' is neither a strong ETag nor lm:DATE: not used",
			       validator);
		else
			snprintf(o->validator, sizeof(o->validator), "%s", validator);
	}
	if (o->ca_file && access(o->ca_file, R_OK) != 0) {
		fprintf(stderr, PROG ": --ca-file %s: %s\n", o->ca_file, strerror(errno));
		return 2;
	}
	return 0;
}

/* https only, unless --allow-http; decided before any request. */
static bool url_allowed(const struct opts *o)
{
	if (strncasecmp(o->url, "https://", 8) == 0)
		return true;
	if (strncasecmp(o->url, "http://", 7) == 0) {
		if (o->allow_http)
			return true;
		fail(NULL, "refused", "%s is not https and --allow-http is not given", o->url);
		return false;
	}
	fail(NULL, "refused", "%s: only https:// URLs are fetched", o->url);
	return false;
}

int main(int argc, char **argv)
{
	static struct fetch f = {.fd = -1, .sigfd = -1};
	sigset_t stop;
	int rc;

	if ((rc = parse_args(argc, argv, &f.o)) != 0)
		return rc;
	/* Started by the agent: leave with it, even when it is SIGKILLed. */
	if (edge_spawn_die_with_parent(f.o.parent) == -ESRCH) {
		fprintf(stderr, PROG ": the agent (pid %d) is gone\n", (int)f.o.parent);
		return 2;
	}
	/* SIGTERM/SIGINT arrive on a descriptor polled beside curl's sockets;
	 * SIGPIPE is ignored so that a closed peer is an error, not a death. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0 ||
	    (f.sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, PROG ": signalfd: %s\n", strerror(errno));
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (setvbuf(stdout, NULL, _IOFBF, BUFSIZ) != 0) /* emit() flushes each line */
		return 2;

	if (!url_allowed(&f.o))
		return 1;
	if (f.o.deadline && now_s() >= f.o.deadline) {
		fail(NULL, "deadline", "the deadline %" PRId64 " has passed before the start",
		     f.o.deadline);
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fail(NULL, "internal", "curl_global_init failed");
		return 1;
	}
	if (!open_part(&f))
		rc = f.stop_sig ? -f.stop_sig : 1;
	else if (!setup_curl(&f))
		rc = 1;
	else
		rc = run(&f);

	if (f.multi)
		curl_multi_cleanup(f.multi);
	if (f.easy)
		curl_easy_cleanup(f.easy);
	curl_global_cleanup();
	fetch_sha256_free(f.sha);
	if (f.fd >= 0 && close(f.fd) < 0 && rc == 0) {
		fail(NULL, "io", "close %s: %s", f.o.out, strerror(errno));
		rc = 1;
	}
	if (rc < 0) {
		/* stopped: end by that signal, as the agent's stop expects */
		logmsg("stopped by signal %d at %" PRIu64 " of %" PRIu64 " bytes (ckpt %" PRIu64
		       ")",
		       -rc, f.off, f.o.size, f.durable);
		signal(-rc, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &stop, NULL);
		raise(-rc);
		return 128 - rc;
	}
	return rc;
}
