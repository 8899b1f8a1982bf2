/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install swupdate --image FILE.swu --key CERT [--selection SET,MODE]
 *                           [--hwrevision BOARD:REV] [--swupdate PATH]
 *
 * `swupdate -l 4 -k CERT [-e SEL] [-H HW] -i FILE` (Debian's build verifies
 * a CMS signature of sw-description: CERT is the CA certificate that must
 * have issued the signer). SWUpdate prints no percentages on its console
 * (they go to its progress socket only), so progress is its phases:
 *   1/3 "Software Update started"   the .swu is being read and checked
 *   2/3 "Installation in progress"  signature, hardware, selection and
 *                                   hashes passed; the handlers write
 *   3/3 "SWUPDATE successful"
 * A failure is a refusal of the .swu ("error refused" with SWUpdate's first
 * error: "Authentication of all signatures failed", "Found nothing to
 * install", "SW not compatible with hardware", "HASH mismatch : ...") when
 * one of its error lines is one SWUpdate 2022.12 prints for a bad .swu (see
 * refusals[]). Its summary "Image invalid or corrupted" is no such sign: it
 * also follows a full disk while extracting, and SWUpdate's exit races
 * with printing it (seen missing after a signature failure). Everything
 * else is the device's ("Installation failed !", a missing key, no hardware
 * revision of its own): internal, with the handler's reason from the trace.
 *
 * SWUpdate copies every image that is not "installed-directly" into its
 * TMPDIR before writing it; that TMPDIR is a fresh directory beside the
 * .swu (the OTA directory, whose free space the agent checked) instead of
 * /tmp, which is RAM on most gateways, and is removed afterwards.
 */
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "install.h"
#include "tool.h"

struct swu {
	int phase;	  /* 0..3, see above */
	bool refused;	  /* an error line says the .swu is bad */
	bool hw_known;	  /* "Running on BOARD Revision REV": this device has one */
	bool hw_mismatch; /* "SW not compatible with hardware" */
	char first_error[400];
	char reason[400]; /* the first trace line after "Installation in progress"
			     that says what went wrong */
	char plain[400];  /* the first line without a [LEVEL] tag (early errors) */
};

static void set_phase(struct swu *s, int phase)
{
	if (phase > s->phase) {
		s->phase = phase;
		inst_emit("progress %d 3", phase);
	}
}

/* Error texts of SWUpdate 2022.12 that are about the .swu itself. "Compatible
 * SW not found" follows every rejected sw-description: its signature, its
 * syntax, or a selection (-e) it does not have. */
static bool says_refused(const char *text)
{
	static const char *const refusals[] = {
	    "Compatible SW not found",
	    "SW not compatible with hardware",
	    "HW compatibility not found", /* the .swu names no hardware */
	    "Authentication of all signatures failed",
	    "HASH mismatch",
	    "Hash not set",
	    "Checksum WRONG",
	    "CPIO",
	    "invalid archive",
	    "Required image file",
	    "cannot be extracted",
	};
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strstr(text, refusals[i]))
			return true;
	return false;
}

/* "[ERROR] : SWUPDATE failed [0] ERROR : text" -> "text";
 * "[ERROR] : SWUPDATE failed [1] Installation failed !" -> "Installation ..." */
static const char *error_text(const char *line)
{
	const char *p = strstr(line, "ERROR : ");
	if (p)
		return p + 8;
	p = strstr(line, "] ");
	if (p) {
		const char *q = strstr(p + 2, "] ");
		if (q)
			return q + 2;
	}
	return line;
}

static void on_line(void *ctx, char *line)
{
	struct swu *s = ctx;

	if (strncmp(line, "[ERROR]", 7) == 0) {
		const char *t = error_text(line);
		if (strstr(t, "SW not compatible with hardware"))
			s->hw_mismatch = true;
		if (says_refused(t))
			s->refused = true;
		/* the summary lines say nothing of their own */
		if (!s->first_error[0] && !strstr(t, "SWUpdate *failed*") &&
		    !strstr(t, "Image invalid or corrupted"))
			inst_copy(s->first_error, sizeof(s->first_error), t);
		inst_emit("log swupdate: %.400s", t);
		return;
	}
	if (line[0] != '[') {
		/* the banner, or an early error such as "Unable to open F" */
		if (line[0] && !s->plain[0] && strncmp(line, "SWUpdate v", 10) != 0 &&
		    strncmp(line, "Licensed under", 14) != 0)
			inst_copy(s->plain, sizeof(s->plain), line);
		return;
	}
	if (strstr(line, "[main] : Running on ")) {
		s->hw_known = true;
	} else if (strstr(line, "SWUPDATE successful")) {
		set_phase(s, 3);
	} else if (strstr(line, "Installation in progress")) {
		set_phase(s, 2);
	} else if (strstr(line, "Software Update started")) {
		set_phase(s, 1);
	} else if (s->phase == 2 && !s->reason[0] &&
		   (strcasestr(line, "cannot") || strcasestr(line, "fail") ||
		    strcasestr(line, "error"))) {
		/* "[TRACE] : SWUPDATE running :  [function] : text" -> "text" */
		const char *t = line;
		for (const char *p = strstr(line, "] : "); p; p = strstr(p + 1, "] : "))
			t = p + 4;
		inst_copy(s->reason, sizeof(s->reason), t);
	} else if (strstr(line, "[install_single_image] : Found installer for stream")) {
		const char *t = strstr(line, "stream ");
		inst_emit("log swupdate: writing %.200s", t ? t + 7 : line);
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0)
		inst_emit("log swupdate: cannot remove %.200s: %s", path, strerror(errno));
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: edge-ota-install swupdate --image FILE.swu --key CERT "
			"[--selection SET,MODE] [--hwrevision BOARD:REV] [--swupdate PATH]\n");
	return 2;
}

static int run(int argc, char **argv)
{
	const char *image = inst_opt(argc, argv, "image");
	const char *key = inst_opt(argc, argv, "key");
	const char *sel = inst_opt(argc, argv, "selection");
	const char *hw = inst_opt(argc, argv, "hwrevision");
	const char *swupdate = inst_opt(argc, argv, "swupdate");
	if (!image || !key)
		return usage();
	if (sel && !strchr(sel, ','))
		return usage();
	if (!swupdate)
		swupdate = "swupdate";
	if (access(image, R_OK) < 0)
		return inst_fail("internal", "cannot read %s: %s", image, strerror(errno));

	char tmpdir[4200], tmpenv[4220];
	char img_copy[4096];
	inst_copy(img_copy, sizeof(img_copy), image);
	int w = snprintf(tmpdir, sizeof(tmpdir), "%s/.swupdate-XXXXXX", dirname(img_copy));
	if (w < 0 || (size_t)w >= sizeof(tmpdir))
		return inst_fail("internal", "image path too long");
	if (!mkdtemp(tmpdir))
		return inst_fail("disk", "cannot make a work directory beside %s: %s", image,
				 strerror(errno));
	snprintf(tmpenv, sizeof(tmpenv), "TMPDIR=%s", tmpdir);
	const char *env[] = {tmpenv, NULL};

	/* -l 4: the trace level, which carries a handler's reason for failing */
	const char *args[14];
	int n = 0;
	args[n++] = swupdate;
	args[n++] = "-l";
	args[n++] = "4";
	args[n++] = "-k";
	args[n++] = key;
	if (sel) {
		args[n++] = "-e";
		args[n++] = sel;
	}
	if (hw) {
		args[n++] = "-H";
		args[n++] = hw;
	}
	args[n++] = "-i";
	args[n++] = image;
	args[n] = NULL;

	struct swu s = {.phase = 0};
	struct inst_tool t = {.argv = args, .env = env, .on_line = on_line, .ctx = &s};
	int rc = inst_tool_run(&t);
	if (nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
		inst_emit("log swupdate: cannot clean %.200s: %s", tmpdir, strerror(errno));

	if (rc < 0)
		return inst_fail("internal", "cannot run %s: %s", swupdate, strerror(-rc));
	if (rc == 0 && s.phase == 3) {
		inst_emit("done");
		return 0;
	}
	if (rc == 0)
		return inst_fail("internal", "swupdate exited 0 without saying it succeeded");
	/* without /etc/hwrevision (or --hwrevision) every .swu "does not fit":
	 * that is this device's fault, not the image's */
	if (s.hw_mismatch && !s.hw_known)
		return inst_fail("internal", "swupdate knows no hardware revision of this device "
					     "(/etc/hwrevision or --hwrevision BOARD:REV)");
	if (s.refused)
		return inst_fail("refused", "%s",
				 s.first_error[0] ? s.first_error : "image invalid");
	const char *what = s.first_error[0] ? s.first_error : s.plain[0] ? s.plain : "no message";
	if (s.reason[0])
		return inst_fail("internal", "swupdate failed: %s (%s)", what, s.reason);
	return inst_fail("internal", "swupdate failed (status %d): %s", rc, what);
}

const struct inst_cmd inst_swupdate = {
    "swupdate",
    "--image F.swu --key CA [--selection SET,MODE] [--hwrevision B:R] [--swupdate PATH]", run};
