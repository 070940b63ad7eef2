"""The store test suite (tests/unit/test_store_backends.cpp) against a real
PostgreSQL: starts a throwaway cluster, then runs the unit binary's hidden
[pg-store] cases with its DSN. Kept out of `ctest -L unit` (initdb takes
seconds); it never skips: a missing server is a failure."""
import os
import subprocess
import tempfile
import unittest

from pg_cluster import PostgresCluster

BUILD = os.environ.get("BASTION_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))


class PgStoreSuite(unittest.TestCase):
    def test_store_suite_on_postgresql(self):
        with tempfile.TemporaryDirectory(prefix="bastion-pgstore-") as d:
            os.chmod(d, 0o755)
            pg = PostgresCluster(os.path.join(d, "pg"))
            try:
                pw = os.path.join(d, "store.pw")
                with open(pw, "w") as f:
                    f.write(pg.password + "\n")
                os.chmod(pw, 0o600)
                env = dict(os.environ, BASTION_TEST_PG_DSN=f"postgresql://postgres@127.0.0.1:{pg.port}",
                           BASTION_TEST_PG_PASSWORD_FILE=pw)
                r = subprocess.run([os.path.join(BUILD, "tests/unit/unit_tests"), "[pg-store]"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
                out = r.stdout.decode(errors="replace")
                self.assertEqual(r.returncode, 0, out[-6000:])
                print(out.strip().splitlines()[-1])
                # Every case ran (none filtered out, none skipped).
                self.assertRegex(out, r"All tests passed \(\d+ assertions in [1-9]\d* test cases\)")
            finally:
                pg.stop()


if __name__ == "__main__":
    unittest.main()
