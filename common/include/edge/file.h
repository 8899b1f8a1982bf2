/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FILE_H
#define EDGE_FILE_H
#include <stddef.h>
#include <sys/types.h>

/* Replaces path with data so that after a crash or power cut the file holds
 * either the old or the new content: write to a temporary file in the same
 * directory, fsync, rename over path, fsync the directory. */
int edge_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads a whole file of at most max bytes (-EFBIG beyond). *out is
 * NUL-terminated; caller frees with free(). */
int edge_file_read(const char *path, size_t max, char **out, size_t *len);

/* Reads exactly size bytes from the start of an open file (a secret the
 * caller has fstat()ed and checked) into a NUL-terminated buffer; caller
 * frees. On failure nothing is returned and what was read is wiped first.
 * 0, -ENOMEM, -EIO (the file ended early) or -errno. */
int edge_file_read_fd(int fd, size_t size, char **out);

/* mkdir -p with mode for the directories it creates. */
int edge_mkdir_p(const char *path, mode_t mode);

#endif
