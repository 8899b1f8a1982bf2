/* SPDX-License-Identifier: Apache-2.0 */
/* edge-ota-install: see install.h. */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "install.h"

extern const struct inst_cmd inst_verify, inst_bundle, inst_service, inst_rauc, inst_swupdate,
    inst_boot_uboot, inst_boot_tryboot, inst_boot_service, inst_boot_rauc;

static const struct inst_cmd *const cmds[] = {
    &inst_verify,     &inst_bundle,	  &inst_service,      &inst_rauc,      &inst_swupdate,
    &inst_boot_uboot, &inst_boot_tryboot, &inst_boot_service, &inst_boot_rauc,
};

void inst_emit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

int inst_fail(const char *kind, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	inst_emit("error %s %s", kind, text);
	return 1;
}

const char *inst_opt(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] == '-' && strcmp(argv[i] + 2, name) == 0)
			return argv[i + 1];
	return NULL;
}

bool inst_flag(int argc, char **argv, const char *name)
{
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] == '-' && strcmp(argv[i] + 2, name) == 0)
			return true;
	return false;
}

bool inst_sha256_arg(const char *s, char out[65])
{
	if (!s || strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[i] = c;
	}
	out[64] = '\0';
	return true;
}

int inst_sha256_fd(int fd, uint64_t len, char hex[65])
{
	static unsigned char buf[1 << 16];
	mbedtls_sha256_context sha;
	uint64_t done = 0, next_report = 4u << 20;
	int rc = 0;

	mbedtls_sha256_init(&sha);
	mbedtls_sha256_starts_ret(&sha, 0);
	while (done < len) {
		size_t want = sizeof(buf);
		if (len - done < want)
			want = (size_t)(len - done);
		ssize_t n = pread(fd, buf, want, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			if (len != UINT64_MAX)
				rc = -EIO;
			break;
		}
		mbedtls_sha256_update_ret(&sha, buf, (size_t)n);
		done += (uint64_t)n;
		if (done >= next_report) {
			if (len != UINT64_MAX)
				inst_emit("progress %llu %llu", (unsigned long long)done,
					  (unsigned long long)len);
			else
				inst_emit("progress %llu", (unsigned long long)done);
			next_report = done + (4u << 20);
		}
	}
	if (rc == 0) {
		unsigned char d[32];
		mbedtls_sha256_finish_ret(&sha, d);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
	}
	mbedtls_sha256_free(&sha);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: edge-ota-install SUBCOMMAND [options]\n"
		     "The agent's helper for OTA installs and boot-loader steps; it speaks the\n"
		     "line protocol of docs/ota.md on stdout. Subcommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  %-13s %s\n", cmds[i]->name, cmds[i]->usage);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i]->name) == 0)
			return cmds[i]->run(argc - 1, argv + 1);
	fprintf(stderr, "edge-ota-install: unknown subcommand \"%s\" (see --help)\n", argv[1]);
	return 2;
}
