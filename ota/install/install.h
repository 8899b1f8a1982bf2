/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_INSTALL_H
#define EDGE_OTA_INSTALL_H
/*
 * edge-ota-install: the short-lived helper the agent starts (common/spawn)
 * for every OTA step that writes a slot or talks to a boot loader, so the
 * daemon never blocks on a long write and never maps libubootenv, RAUC or
 * SWUpdate. One subcommand per step; each speaks the line protocol of
 * edge/ota/progress.h on stdout and exits 0 (success, after "done"),
 * 1 (a terminal failure, after "error KIND TEXT") or 2 (usage).
 *
 *   verify   --image F --sha256 H                re-hash a downloaded image
 *   bundle   --image F --sha256 H --slot-path P  write, fdatasync, read back
 *   service  --image F --sha256 H --app-dir D --slot S
 *                                                unpack an app tarball to D/S
 *   rauc     --image F [--rauc PATH]             `rauc install`
 *   swupdate --image F --key K --selection S [--swupdate PATH]
 *   boot-uboot|boot-tryboot|boot-service|boot-rauc  OP [--slot S] [options]
 *            OP: booted     prints "slot S" (the slot running now)
 *                mark-bad   S may not be booted (before it is written)
 *                trial      the next boot tries S once it is written; the
 *                           other slot stays the fallback
 *                commit     S becomes the slot that boots from now on
 *
 * Every subcommand is in its own file and registers a struct inst_cmd.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inst_cmd {
	const char *name;
	const char *usage;		   /* one line of options, for --help */
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand */
};

/* Prints one protocol line to stdout and flushes it. */
void inst_emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "error KIND TEXT" and returns 1 (the exit status). */
int inst_fail(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The value of --name in argv (argv[i] == "--name" -> argv[i+1]), or NULL. */
const char *inst_opt(int argc, char **argv, const char *name);
/* True when --name appears (a flag without a value). */
bool inst_flag(int argc, char **argv, const char *name);
/* Checks a 64-hex sha256 argument (folded to lower case into out). */
bool inst_sha256_arg(const char *s, char out[65]);
/* SHA-256 of the first len bytes of fd from its offset 0 (len UINT64_MAX:
 * to the end), with "progress N TOTAL" every 4 MiB. 0 or negative errno;
 * -EIO when the file is shorter than len. */
int inst_sha256_fd(int fd, uint64_t len, char hex[65]);

#endif
