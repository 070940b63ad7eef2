"""What the SQL classifier cannot see, it says (issue 11), against a real
PostgreSQL server with the shipped policies/postgres.lua: statements whose
effect is hidden from their text (DO, PREPARE of a DELETE, EXECUTE, COPY ...
PROGRAM inside DO, user-defined functions) and session settings that undo
read-only or hide activity (SET ROLE in any spelling) are refused or held,
the database is unchanged, and the audit database records each decision.
Each attack is first shown to work when sent to the server directly."""
import json
import os

import pg_cluster
from harness import BastionTest, Env, main, run
from pty_driver import PtySession

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")

FIXTURE = r"""
CREATE ROLE bastion_svc LOGIN PASSWORD 'held-secret-pw';
CREATE DATABASE shop OWNER bastion_svc;
GRANT pg_execute_server_program TO bastion_svc;
"""
SCHEMA = r"""
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO customers VALUES (1, 'alice', 'alice@example.com'), (2, 'bob', 'bob@example.org');
CREATE TABLE orders (id int PRIMARY KEY, status text);
INSERT INTO orders VALUES (10, 'paid'), (11, 'open');
CREATE TABLE victim (x int);
INSERT INTO victim VALUES (1);
CREATE FUNCTION wipe() RETURNS int LANGUAGE plpgsql AS 'BEGIN DELETE FROM victim; RETURN 0; END';
"""

DO_DROP = "DO $$ BEGIN EXECUTE 'DROP TABLE victim'; END $$"
HIDDEN = "the bastion cannot see what this statement does: "


class PgOpaqueTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        pg_cluster.shop_env(env, SCHEMA, fixture=FIXTURE)
        policy = os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua"))
        target = pg_cluster.shop_target(env, "shopdb", policy)
        env.start_bastion(targets=env.default_targets() + "\n" + target, extra="approvals = { timeout = 3 }")
        # Files a program run by COPY ... PROGRAM would create (the server's account writes them).
        cls.marker = os.path.join(env.d, "pg", "copied-by-program")

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def direct(self, sql):
        """The statement sent to the server without the bastion, as the held role."""
        e = self.env.pg.env()
        e.update(PGUSER="bastion_svc", PGDATABASE="shop", PGPASSWORD="held-secret-pw")
        return run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-c", sql], env=e)

    def scalar(self, sql):
        return self.env.pg.scalar(sql, db="shop")

    def assert_audited(self, text, decision, reason):
        want = [("sql", decision, reason)]
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, decision, reason FROM commands WHERE text=? AND kind='sql'", want, args=(text,)), want)

    def test_drop_wrapped_in_do_is_refused_with_the_reason(self):
        r = self.env.ssh("shopdb", DO_DROP, key=self.env.analyst)
        self.assertEqual(r.returncode, 126, r.stderr)
        self.assertEqual(r.stderr.decode(), "ERROR:  denied by policy: " + HIDDEN + "DO block\n")
        self.assertEqual(self.scalar("SELECT count(*) FROM victim"), "1")
        self.assert_audited(DO_DROP, "deny", HIDDEN + "DO block")

    def test_drop_wrapped_in_do_waits_for_review_for_ops(self):
        r = self.env.ssh("shopdb", DO_DROP)
        self.assertEqual(r.returncode, 126, r.stderr)
        err = r.stderr.decode()
        self.assertIn("waits for approval by dba-lead (" + HIDDEN + "DO block)", err)
        self.assertRegex(err, r"\nERROR:  denied by policy: request #\d+ timed out waiting for approval\n$")
        self.assertEqual(self.env.audit("SELECT reason, approvers FROM approval_requests WHERE command_text=?",
                                        (DO_DROP,)), [(HIDDEN + "DO block", "dba-lead")])
        self.assertEqual(self.scalar("SELECT count(*) FROM pg_tables WHERE tablename='victim'"), "1")

    def test_prepare_of_a_delete_without_where_is_refused(self):
        text = "PREPARE p AS DELETE FROM victim"
        r = self.env.ssh("shopdb", text + "; EXECUTE p")
        self.assertEqual(r.returncode, 126, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "ERROR:  denied by policy: an UPDATE or DELETE without WHERE inside this PREPARE would "
                         "change every row\n")
        self.assertEqual(self.scalar("SELECT count(*) FROM victim"), "1")
        self.assert_audited(text, "deny", "an UPDATE or DELETE without WHERE inside this PREPARE would change every row")
        # With a WHERE it is still not a plain SELECT: held, then EXECUTE is held too.
        text = "PREPARE q AS DELETE FROM victim WHERE x > 0"
        r = self.env.ssh("shopdb", text)
        self.assertEqual(r.returncode, 126, r.stderr)
        self.assertEqual(self.env.audit("SELECT reason FROM approval_requests WHERE command_text=?", (text,)),
                         [(HIDDEN + "PREPARE of a statement that is not a plain SELECT",)])
        self.assertEqual(self.scalar("SELECT count(*) FROM victim"), "1")

    def test_function_with_hidden_delete_is_refused(self):
        self.assertEqual(self.direct("BEGIN; SELECT wipe(); ROLLBACK").returncode, 0)  # it would work directly
        r = self.env.ssh("shopdb", "SELECT wipe()", key=self.env.analyst)
        self.assertEqual(r.returncode, 126, r.stderr)
        self.assertEqual(r.stderr.decode(), "ERROR:  denied by policy: " + HIDDEN +
                         "function wipe is not a known side-effect-free function\n")
        self.assertEqual(self.scalar("SELECT count(*) FROM victim"), "1")
        # Auditors find what the classifier could not see in the row's details.
        details = self.env.audit_eventually("SELECT details FROM commands WHERE kind='sql' AND text='SELECT wipe()'",
                                            [], timeout=0.5)
        self.assertEqual(json.loads(details[0][0])["opaque_reasons"],
                         ["function wipe is not a known side-effect-free function"])

    def test_copy_to_program_inside_do_is_refused(self):
        # `cat >` reads the whole row: `touch` exits first and COPY fails on the pipe now and then.
        sql = "DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''cat > %s'''; END $$"
        # The held role may run programs: without the bastion the file appears.
        direct = self.marker + ".direct"
        r = self.direct(sql % direct)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(direct))
        text = sql % self.marker
        for key in (self.env.analyst, None):
            r = self.env.ssh("shopdb", text, key=key)
            self.assertEqual(r.returncode, 126, r.stderr)
        self.assertFalse(os.path.exists(self.marker))
        self.assertEqual(self.env.audit_eventually(
            "SELECT decision, reason FROM commands WHERE text=? AND kind='sql' ORDER BY id", [
                ("deny", HIDDEN + "DO block"), ("review", HIDDEN + "DO block")], args=(text,)),
            [("deny", HIDDEN + "DO block"), ("review", HIDDEN + "DO block")])

    def test_set_role_in_any_spelling_is_refused_in_the_console(self):
        s = PtySession(self.env.ssh_base(key=self.env.analyst, tty=True) + ["shopdb@127.0.0.1"], 30, 120,
                       env={"TERM": "xterm-256color"})
        s.read_until(b"shopdb=> ")
        s.send(b"SET U&\"\\0072ole\" = 'postgres';\r")
        s.read_until(b"ERROR:  denied by policy: changing role is not allowed (role)\r\nshopdb=> ")
        s.send(b"SET SESSION AUTHORIZATION postgres;\r")
        s.read_until(b"ERROR:  denied by policy: changing role is not allowed (session_authorization)\r\nshopdb=> ")
        s.send(b"SELECT current_user;\r")
        # Analysts log in as the read-only role (the "readonly" credential), and stay it.
        s.read_until(b" current_user \r\n--------------\r\n shop_ro\r\n(1 row)")
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)
        self.assert_audited("SET U&\"\\0072ole\" = 'postgres'", "deny", "changing role is not allowed (role)")

    def test_side_channels_of_a_read_only_session_are_refused(self):
        cases = [
            ("SELECT lo_import('/etc/passwd')", HIDDEN + "large-object function lo_import"),
            ("SELECT pg_create_logical_replication_slot('s', 'test_decoding')",
             HIDDEN + "replication function pg_create_logical_replication_slot"),
            ("SELECT set_config('log_statement', 'none', false)", "changing log_statement would hide activity (log_statement)"),
            ("SELECT 1 OPERATOR(public.+) 1", HIDDEN + "operator public.+ is not a known built-in operator"),
            ("RESET ALL", "resetting every setting is not allowed (all)"),
        ]
        for text, reason in cases:
            r = self.env.ssh("shopdb", text, key=self.env.analyst)
            self.assertEqual((r.returncode, r.stderr.decode()), (126, "ERROR:  denied by policy: " + reason + "\n"))
            self.assert_audited(text, "deny", reason)
        self.assertEqual(self.scalar("SELECT count(*) FROM pg_largeobject_metadata"), "0")
        self.assertEqual(self.scalar("SELECT count(*) FROM pg_replication_slots"), "0")

    def test_ordinary_reads_stay_allowed(self):
        r = self.env.ssh("shopdb", "SELECT count(*), max(id), lower(status) FROM orders GROUP BY status ORDER BY 3",
                         key=self.env.analyst)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), " count | max | lower \n-------+-----+-------\n"
                                            "     1 |  11 | open\n     1 |  10 | paid\n(2 rows)\n\n")


    def test_copy_to_is_a_read_and_refused_under_masks(self):
        # COPY ... TO was classified as a write, so the executor's "no COPY
        # output under column masks" rule never fired.
        for text in ("COPY customers TO STDOUT", "COPY (SELECT email FROM customers) TO STDOUT"):
            r = self.env.ssh("shopdb", text, key=self.env.analyst)
            self.assertEqual((r.returncode, r.stdout.decode(), r.stderr.decode()),
                             (126, "", "ERROR:  COPY ... TO is refused while column masks apply: its output cannot "
                                       "be masked by column; use SELECT\n"))


if __name__ == "__main__":
    main()
