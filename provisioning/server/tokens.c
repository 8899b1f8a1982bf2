/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>

#include "edge/prov_identity.h"
#include "srv.h"

int srv_token_generate(char out[48])
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[32];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	/* 32 random bytes -> 43 characters of 6 bits (256 bits of entropy). */
	for (size_t i = 0; i < 43; i++) {
		size_t bit = i * 6;
		unsigned v = (unsigned)raw[bit / 8] << 8;

		if (bit / 8 + 1 < sizeof(raw))
			v |= raw[bit / 8 + 1];
		out[i] = alphabet[(v >> (10 - bit % 8)) & 63];
	}
	out[43] = '\0';
	memset(raw, 0, sizeof(raw));
	return 0;
}

void srv_token_hash(const char *token, char hex[65])
{
	edge_id_sha256_hex(token, strlen(token), hex);
}

const char *srv_bearer(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	if (!*h || strlen(h) > 256)
		return NULL;
	return h;
}
