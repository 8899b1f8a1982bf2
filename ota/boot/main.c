/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-boot: ExecStartPre of the agent's unit in the service A/B mode
 * (shared/DESIGN.md 5.4; layout in appdir.h). At every start it
 *   - advances D/boot-count, the agent's boot id in this mode;
 *   - points D/current at A when there is no link yet and D/A exists
 *     (a fresh install);
 *   - counts a start of a slot on trial, and once there were more than
 *     max starts without a commit, moves current back to the slot the
 *     trial came from and leaves D/rolled-back.json for the agent.
 *
 * It must never keep the agent from starting: whatever goes wrong is said on
 * stderr (the journal) and the exit status is 0; only a usage error exits 2.
 * It writes nothing to stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "appdir.h"

#define PROG "edge-ota-boot"

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " --app-dir D [--max-starts N]\n"
		     "Counts the agent's starts in D/boot-count and the starts of a slot on\n"
		     "trial (D/trial.json); after more than N (default 3, or the trial's own\n"
		     "\"max\") it swaps D/current back. Always exits 0 once its arguments\n"
		     "are right.\n");
}

static void count_boot(const char *dir)
{
	char text[32];
	unsigned long long n = 0;
	ssize_t len = appdir_read(dir, APPDIR_BOOT_COUNT, text, sizeof(text));
	int rc;

	if (len > 0) {
		char *end;

		errno = 0;
		n = strtoull(text, &end, 10);
		if (errno || end == text || (*end && *end != '\n')) {
			fprintf(stderr, PROG ": %s/%s is not a number: starting again at 1\n", dir,
				APPDIR_BOOT_COUNT);
			n = 0;
		}
	} else if (len < 0 && len != -ENOENT) {
		fprintf(stderr, PROG ": reading %s/%s: %s\n", dir, APPDIR_BOOT_COUNT,
			strerror((int)-len));
	}
	n++;
	len = snprintf(text, sizeof(text), "%llu\n", n);
	rc = appdir_write_atomic(dir, APPDIR_BOOT_COUNT, text, (size_t)len, 0644);
	if (rc)
		fprintf(stderr, PROG ": writing %s/%s: %s\n", dir, APPDIR_BOOT_COUNT,
			strerror(-rc));
	else
		fprintf(stderr, PROG ": start %llu\n", n);
}

static void init_current(const char *dir)
{
	char cur[2], a[PATH_MAX];
	struct stat st;
	int rc = appdir_current(dir, cur);

	if (rc == 0)
		return;
	if (rc != -ENOENT) {
		fprintf(stderr, PROG ": %s/current: %s (left alone)\n", dir,
			rc == -EINVAL ? "names neither A nor B" : strerror(-rc));
		return;
	}
	if (appdir_path(a, sizeof(a), dir, "A") || lstat(a, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": %s has no current link and no A/: nothing to start from\n",
			dir);
		return;
	}
	rc = appdir_set_current(dir, "A");
	if (rc)
		fprintf(stderr, PROG ": creating %s/current -> A: %s\n", dir, strerror(-rc));
	else
		fprintf(stderr, PROG ": created %s/current -> A\n", dir);
}

/* Rollback order: the record first (a crash after it redoes the same
 * rollback at the next start), then the link, then the trial's end. */
static void roll_back(const char *dir, const struct appdir_trial *t)
{
	char text[96];
	int n = snprintf(text, sizeof(text), "{\"slot\":\"%s\",\"from\":\"%s\",\"starts\":%lu}\n",
			 t->slot, t->from, t->starts);
	int rc = appdir_write_atomic(dir, APPDIR_ROLLED_BACK, text, (size_t)n, 0644);

	if (rc)
		fprintf(stderr, PROG ": writing %s/%s: %s (rolling back anyway)\n", dir,
			APPDIR_ROLLED_BACK, strerror(-rc));
	rc = appdir_set_current(dir, t->from);
	if (rc) {
		fprintf(stderr, PROG ": swapping %s/current back to %s: %s\n", dir, t->from,
			strerror(-rc));
		return;
	}
	rc = appdir_remove(dir, APPDIR_TRIAL);
	if (rc)
		fprintf(stderr, PROG ": removing %s/%s: %s\n", dir, APPDIR_TRIAL, strerror(-rc));
	fprintf(stderr, PROG ": trial of %s failed after %lu starts: current is %s again\n",
		t->slot, t->starts - 1, t->from);
}

static void count_trial(const char *dir, unsigned long max_default)
{
	struct appdir_trial t;
	char cur[2] = "";
	int rc = appdir_trial_read(dir, &t);

	if (rc == -ENOENT)
		return;
	if (rc) {
		/* Without "from" there is no safe way back; the agent's own
		 * start count still ends the trial. */
		fprintf(stderr, PROG ": %s/%s unreadable (%s): left alone\n", dir, APPDIR_TRIAL,
			rc == -EINVAL ? "not a trial record" : strerror(-rc));
		return;
	}
	(void)appdir_current(dir, cur);
	if (strcmp(cur, t.slot) != 0) {
		/* current never reached S (a crash inside `trial`) or came
		 * back already: the record has nothing left to guard. */
		fprintf(stderr, PROG ": trial of %s is not running (current is %s): ended\n",
			t.slot, cur[0] ? cur : "missing");
		rc = appdir_remove(dir, APPDIR_TRIAL);
		if (rc)
			fprintf(stderr, PROG ": removing %s/%s: %s\n", dir, APPDIR_TRIAL,
				strerror(-rc));
		return;
	}
	if (t.max == 0)
		t.max = max_default;
	t.starts++;
	if (t.starts > t.max) {
		roll_back(dir, &t);
		return;
	}
	rc = appdir_trial_write(dir, &t);
	if (rc)
		fprintf(stderr, PROG ": writing %s/%s: %s\n", dir, APPDIR_TRIAL, strerror(-rc));
	else
		fprintf(stderr, PROG ": trial of %s: start %lu of %lu\n", t.slot, t.starts, t.max);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	unsigned long max = 3;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (i + 1 < argc && strcmp(argv[i], "--app-dir") == 0) {
			dir = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--max-starts") == 0) {
			char *end;

			errno = 0;
			max = strtoul(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || max < 1 || max > 1000) {
				fprintf(stderr, PROG ": --max-starts wants 1..1000, got \"%s\"\n",
					argv[i]);
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!dir || !*dir) {
		usage(stderr);
		return 2;
	}
	if (stat(dir, &st) < 0) {
		fprintf(stderr, PROG ": %s: %s: nothing to do\n", dir, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": %s: not a directory: nothing to do\n", dir);
		return 0;
	}
	count_boot(dir);
	init_current(dir);
	count_trial(dir, max);
	return 0;
}
