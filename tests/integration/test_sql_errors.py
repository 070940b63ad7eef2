"""SQL the parser rejects, through real ssh clients, a real bastion and a
real PostgreSQL: the user reads the error as psql prints it (compared with
real psql against the same server), in the console, the exec line and a
script on stdin; the audit row is the bastion's refusal of kind "invalid"
(the policy, which would deny any other kind, is not asked), and nothing
reaches the database (its log never shows the text). Also psql's -c habit on
the exec line, and the clear line for other psql options."""
import os
import re

import pg_cluster
from harness import BastionTest, Env, main, run
from pty_driver import PtySession

# The policy allows SQL and denies anything else by name: if it were asked
# about an invalid statement, the audit row would say "policy asked".
POLICY = """
function on_command(c)
  if c.kind ~= "sql" then return deny("policy asked about kind " .. c.kind) end
  return allow()
end
"""


def normalise_psql(err):
    return re.sub(r"(?m)^psql:<stdin>:\d+: ", "", err)


class SqlErrorsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        try:
            env.pg = pg_cluster.PostgresCluster(os.path.join(env.d, "pg"))
            r = env.pg.psql("CREATE ROLE bastion_svc LOGIN PASSWORD 'held-secret-pw'")
            assert r.returncode == 0, r.stderr
            pw = os.path.join(env.keys.d, "pg_password")
            with open(pw, "w") as f:
                f.write("held-secret-pw\n")
            os.chmod(pw, 0o600)
            policy = os.path.join(env.d, "sql_policy.lua")
            with open(policy, "w") as f:
                f.write(POLICY)
            target = (f'  db = {{ type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "postgres", '
                      f'user = "bastion_svc", password_file = "keys/pg_password", allow = {{ "ops" }}, '
                      f'policy = "{policy}" }},')
            env.start_bastion(targets=env.default_targets() + "\n" + target)
        except BaseException:
            env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def psql(self, script):
        e = self.env.pg.env()
        e.update(PGUSER="bastion_svc", PGPASSWORD="held-secret-pw")
        r = run(["psql", "-X", "-v", "ON_ERROR_STOP=1"], env=e, input=script.encode())
        return r.stdout.decode(), normalise_psql(r.stderr.decode()), r.returncode

    def server_log(self):
        with open(self.env.pg.log, errors="replace") as f:
            return f.read()

    def assert_invalid(self, text, reason):
        rows = self.env.audit_eventually(
            "SELECT kind, decision, policy_hook, reason, exit_status FROM commands WHERE text=? AND kind != 'exec'",
            [("invalid", "deny", "bastion", reason, 1)], (text,))
        self.assertEqual(rows, [("invalid", "deny", "bastion", reason, 1)])
        self.assertNotIn(text, self.server_log())

    def test_exec_line_error_reads_as_psql_prints_it(self):
        r = self.env.ssh("db", ["--", "selec 101"])
        self.assertEqual((r.stdout.decode(), r.stderr.decode(), r.returncode),
                         ("", 'ERROR:  syntax error at or near "selec"\nLINE 1: selec 101\n        ^\n', 3))
        self.assert_invalid("selec 101", 'syntax error at or near "selec"')

    def test_script_on_stdin_matches_psql_exactly(self):
        script = "SELECT 1 AS a;\nSELECT 2,\n  3 frm pg_class_102;\nSELECT 3 AS not_reached;\n"
        r = self.env.ssh("db", input=script.encode())
        got = (r.stdout.decode(), r.stderr.decode(), r.returncode)
        self.assertEqual(got, (" a \n---\n 1\n(1 row)\n\n",
                               'ERROR:  syntax error at or near "pg_class_102"\n'
                               "LINE 2:   3 frm pg_class_102;\n                ^\n", 3))
        self.assert_invalid("SELECT 2,\n  3 frm pg_class_102", 'syntax error at or near "pg_class_102"')
        self.assertEqual(got, self.psql(script))  # after: psql's run reaches the server log

    def test_psql_parity_of_positions(self):
        cols = ", ".join(f"col{i}" for i in range(30))
        for script in ("SELECT 1 from_103 from;\n", f"SELECT {cols} FROM t WHERE x = = 104;\n",
                       "SELECT 'h\u00e9llo' \u65e5\u672c frm x105;\n", "SELECT 'open106;\n",
                       "SELECT 1 \\; selec 107;\n"):
            with self.subTest(script):
                r = self.env.ssh("db", input=script.encode())
                got = (r.stdout.decode(), r.stderr.decode(), r.returncode)
                self.assertNotIn(script.strip().rstrip(";"), self.server_log())
                self.assertEqual(got, self.psql(script))

    def test_console_shows_the_error_and_goes_on(self):
        s = PtySession(self.env.ssh_base(tty=True) + ["db@127.0.0.1"], 30, 120, env={"TERM": "xterm"})
        s.read_until(b"db=> ")
        s.send(b"selec 108;\r")
        s.read_until(b'ERROR:  syntax error at or near "selec"\r\nLINE 1: selec 108;\r\n        ^\r\ndb=> ')
        s.send(b"SELECT 109 AS n;\r")
        s.read_until(b"(1 row)")
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)
        self.assert_invalid("selec 108", 'syntax error at or near "selec"')

    def test_psql_dash_c_runs_the_statement(self):
        for argv in (["--", "-c", "SELECT 110 AS n"], ["--", "-c", "'SELECT 110 AS n'"],
                     ["--", "--command=SELECT 110 AS n"], ["--", "--csv", "-c", "SELECT 110 AS n"]):
            with self.subTest(argv):
                r = self.env.ssh("db", argv)
                out = "n\n110\n" if "--csv" in argv else "  n  \n-----\n 110\n(1 row)\n\n"
                self.assertEqual((r.stdout.decode(), r.stderr.decode(), r.returncode), (out, "", 0))
        rows = self.env.audit_eventually("SELECT count(*) FROM commands WHERE kind='sql' AND text='SELECT 110 AS n' "
                                         "AND decision='allow'", [(4,)])
        self.assertEqual(rows, [(4,)])

    def test_other_psql_options_get_a_clear_line(self):
        opts = " (options: -c/--command SQL, --csv, --json, --format=aligned|csv|json, -x, --timing, --continue-on-error)"
        r = self.env.ssh("db", ["--", "-f", "dump.sql"])
        self.assertEqual((r.stdout.decode(), r.stderr.decode(), r.returncode),
                         ("", "bastion: psql option -f is not available through the bastion; to run a file, send it "
                              "on stdin: ssh TARGET@bastion < FILE" + opts + "\n", 3))
        r = self.env.ssh("db", ["--", "-X", "-c", "SELECT 111"])
        self.assertEqual((r.stderr.decode(), r.returncode),
                         ("bastion: psql option -X is not available through the bastion" + opts + "\n", 3))
        self.assertEqual(self.env.audit("SELECT count(*) FROM commands WHERE text LIKE '%111%' AND kind!='exec'"),
                         [(0,)])


if __name__ == "__main__":
    main()
