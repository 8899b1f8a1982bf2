"""The registry unit tests (tests/unit/provisioning/test_registry.c) against a
real PostgreSQL: every registration outcome, the quota and the one claim
under concurrent registrations through two registries, the claim POST lease,
renewal against revocation, and concurrent `admin migrate` runs. The binary
skips its PostgreSQL half without EDGE_TEST_PG_URL; here it may not."""
# ctest-timeout: 120
import os
import subprocess

import edgetest
from edgetest import BUILD_DIR, Harness, check
from provtest import PgCluster


def test_registry_unit_on_postgresql():
    with Harness("prov-pg-registry") as h:
        pg = PgCluster(h)
        url = pg.create_db("unit")
        binary = os.path.join(BUILD_DIR, "tests", "prov_registry_test")
        check(os.path.exists(binary), f"{binary} not built")
        r = subprocess.run([binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90,
                           env=dict(os.environ, EDGE_TEST_PG_URL=url, EDGE_TEST_PG_REQUIRED="1"))
        out = r.stdout.decode(errors="replace")
        print(out[-3000:])
        check(r.returncode == 0, "prov_registry_test failed against PostgreSQL")
        check("SKIPPED" not in out, "PostgreSQL variants were skipped")
        check("[  PASSED  ] 13 test(s)." in out, "not all 13 registry tests ran")


if __name__ == "__main__":
    edgetest.main([test_registry_unit_on_postgresql])
