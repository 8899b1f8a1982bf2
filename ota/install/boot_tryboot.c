/* SPDX-License-Identifier: Apache-2.0 */
/* edge-ota-install boot-tryboot: not built yet (placeholder; see install.h). */
#include "install.h"

static int run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return inst_fail("internal", "boot-tryboot is not implemented in this build");
}

const struct inst_cmd inst_boot_tryboot = {"boot-tryboot", "(not implemented yet)", run};
