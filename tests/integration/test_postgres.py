"""PostgreSQL targets through real clients: ssh -> bastiond -> a real
PostgreSQL server (initdb'd here). Exec, stdin scripts and the console (via a
pty) render like psql; each statement is decided by the policy; denials leave
the database untouched; masked columns are masked in output and recording."""
import json
import sys
import os
import re
import subprocess
import time

import pg_cluster
from harness import BastionTest, Env, free_port, main, run, sanitized
from pty_driver import PtySession

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")

SCHEMA = r"""
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text, balance numeric(10,2), note text);
INSERT INTO customers VALUES
  (1, 'alice', 'alice@example.com', '123-45-6789', 12.50, NULL),
  (2, 'bob', 'bob@example.org', '987-65-4321', 3.00, E'two\nlines'),
  (3, 'çé日本', NULL, NULL, NULL, 'key sk_live_4eC39HqLyjWDarjtT1 inside');
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2), status text);
INSERT INTO orders VALUES (10, 1, 99.90, 'paid'), (11, 2, 5.00, 'open');
CREATE FUNCTION all_customers() RETURNS SETOF customers AS 'SELECT * FROM customers' LANGUAGE sql;
CREATE TABLE scratch (x int);
"""


def pg_target(env, name="shopdb", extra=""):
    # Analysts connect as shop_ro (policies/postgres.lua chooses "readonly").
    return pg_cluster.shop_target(env, name, os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua")), extra=extra)


class PostgresTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        pg_cluster.shop_env(env, SCHEMA)
        env.reader = env.keys.cert(env.keys.keygen("pam"), env.ca, "pam", "ops,pii-reader")
        env.lead = env.keys.cert(env.keys.keygen("lee"), env.ca, "lee", "ops,dba-lead")
        # Runs what the classifier cannot see through (DO, pg_sleep, user functions) without review.
        env.admin = env.keys.cert(env.keys.keygen("ada"), env.ca, "ada", "ops,dba-admin")
        env.admin_pii = env.keys.cert(env.keys.keygen("abe"), env.ca, "abe", "ops,dba-admin,pii-reader")
        dead = f"""  deaddb = {{ type = "postgres", host = "127.0.0.1", port = {free_port()}, dbname = "shop",
           user = "bastion_svc", password_file = "keys/pg_password", allow = {{ "ops" }}, connect_timeout = 3 }},"""
        env.start_bastion(targets=env.default_targets() + "\n" + pg_target(env, extra="row_limit = 2000000") + "\n" +
                          pg_target(env, "smalldb", "row_limit = 2") + "\n" + dead,
                          extra="approvals = { timeout = 3 }")

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def sql(self, command=None, key=None, input=None, timeout=60):
        return self.env.ssh("shopdb", command, key=key, input=input, timeout=timeout)

    def psql_direct(self, *args, input=None):
        e = self.env.pg.env()
        e.update(PGUSER="bastion_svc", PGDATABASE="shop")
        return run(["psql", "-X", *args], env=e, input=input)

    # --- rendering ---------------------------------------------------------

    def test_exec_renders_like_psql(self):
        q = "SELECT id, name, balance, note FROM customers ORDER BY id"
        r = self.env.ssh("shopdb", q, key=self.env.reader)
        self.assertEqual(r.returncode, 0, r.stderr)
        direct = self.psql_direct("-c", q)
        self.assertEqual(r.stdout.decode(), direct.stdout.decode())
        self.assertEqual(r.stdout.decode(),
                         " id |  name  | balance |                 note                  \n"
                         "----+--------+---------+---------------------------------------\n"
                         "  1 | alice  |   12.50 | \n"
                         "  2 | bob    |    3.00 | two                                  +\n"
                         "    |        |         | lines\n"
                         "  3 | çé日本 |         | key sk_live_4eC39HqLyjWDarjtT1 inside\n"
                         "(3 rows)\n\n")

    def test_expanded_and_csv_like_psql(self):
        q = "SELECT id, name, note FROM customers ORDER BY id"
        r = self.env.ssh("shopdb", ["--", "-x " + q], key=self.env.reader)
        self.assertEqual(r.stdout.decode(), self.psql_direct("-x", "-c", q).stdout.decode())
        r = self.env.ssh("shopdb", ["--", "--csv " + q], key=self.env.reader)
        self.assertEqual(r.stdout.decode(), self.psql_direct("--csv", "-P", "null=", "-c", q).stdout.decode())

    def test_json_output(self):
        r = self.env.ssh("shopdb", ["--", "--json SELECT id, name, balance, note IS NULL AS nonote FROM customers "
                         "WHERE id < 3 ORDER BY id"], key=self.env.reader)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [{"id": 1, "name": "alice", "balance": 12.50, "nonote": True},
                                                {"id": 2, "name": "bob", "balance": 3.00, "nonote": False}])

    def test_command_tags_and_multiple_statements(self):
        r = self.sql("BEGIN; INSERT INTO orders VALUES (90, 1, 1, 'x'); ROLLBACK; SELECT count(*) FROM orders")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "BEGIN\nINSERT 0 1\nROLLBACK\n count \n-------\n     2\n(1 row)\n\n")

    # --- errors --------------------------------------------------------------

    def test_error_stops_with_status_3(self):
        r = self.sql("SELECT 1 AS one; SELECT * FROM nosuch; SELECT 2 AS two")
        self.assertEqual(r.returncode, 3)
        self.assertIn(" one \n-----\n   1\n(1 row)\n", r.stdout.decode())
        self.assertNotIn("two", r.stdout.decode())
        self.assertIn('ERROR:  relation "nosuch" does not exist\nLINE 1: SELECT * FROM nosuch;\n', r.stderr.decode())
        row = self.env.audit_eventually("SELECT error FROM commands WHERE text='SELECT * FROM nosuch' AND kind='sql'",
                                        [('42P01: relation "nosuch" does not exist',)])
        self.assertEqual(row, [('42P01: relation "nosuch" does not exist',)])

    def test_upstream_down_is_a_clear_error(self):
        r = self.env.ssh("deaddb", "SELECT 1")
        self.assertEqual(r.returncode, 255)
        self.assertRegex(r.stderr.decode(), r'bastion: cannot connect to "deaddb": .*refused')
        self.assertNotIn("held-secret-pw", r.stderr.decode())

    # --- policy ------------------------------------------------------------

    def test_denied_statement_never_reaches_the_database(self):
        r = self.sql("DELETE FROM orders")
        self.assertEqual(r.returncode, 126)
        self.assertEqual(r.stderr.decode(), "ERROR:  denied by policy: DELETE without WHERE would change every row\n")
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM orders", db="shop"), "2")
        self.assertEqual(self.env.audit_eventually(
            "SELECT DISTINCT kind, decision, reason FROM commands WHERE text='DELETE FROM orders' AND kind='sql'",
            [("sql", "deny", "DELETE without WHERE would change every row")]),
            [("sql", "deny", "DELETE without WHERE would change every row")])

    def held_id(self, text):
        end = time.time() + 10
        while time.time() < end:
            rows = self.env.audit("SELECT id FROM approval_requests WHERE command_text=? AND state='pending'", (text,))
            if rows:
                return rows[0][0]
            time.sleep(0.1)
        self.fail("not held: " + text)

    def test_review_holds_the_statement_until_approved(self):
        p = subprocess.Popen(self.env.ssh_base() + ["shopdb@127.0.0.1", "DROP TABLE scratch; SELECT 'after' AS a"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        rid = self.held_id("DROP TABLE scratch")
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM pg_tables WHERE tablename='scratch'", db="shop"), "1")
        r = self.env.ssh("approvals", ["approve", str(rid)], key=self.env.lead)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode(), "DROP TABLE\n   a   \n-------\n after\n(1 row)\n\n")
        self.assertIn(f"request #{rid} approved by lee", err.decode())
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM pg_tables WHERE tablename='scratch'", db="shop"), "0")

    def test_review_denied_or_timed_out_leaves_the_database_alone(self):
        p = subprocess.Popen(self.env.ssh_base() + ["shopdb@127.0.0.1", "TRUNCATE orders"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        rid = self.held_id("TRUNCATE orders")
        self.env.ssh("approvals", ["deny", str(rid), "--reason", "use a migration"], key=self.env.lead)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 126)
        self.assertIn(f"ERROR:  denied by policy: request #{rid} denied by lee: use a migration\n", err.decode())
        r = self.sql("ALTER TABLE orders ADD COLUMN x int")  # nobody approves: times out (3 s)
        self.assertEqual(r.returncode, 126)
        self.assertRegex(r.stderr.decode(), r"ERROR:  denied by policy: request #\d+ timed out waiting for approval\n")
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM orders", db="shop"), "2")

    def test_analyst_is_read_only_and_masked(self):
        r = self.env.ssh("shopdb", "SELECT id, email, ssn AS x, upper(email) AS shout FROM customers ORDER BY id",
                         key=self.env.analyst)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertNotIn("alice@example.com", out)
        self.assertNotIn("ALICE@EXAMPLE.COM", out)
        self.assertNotIn("123-45", out)
        self.assertIn("  1 | ****  | *******6789 | ****\n", out)
        r = self.env.ssh("shopdb", "UPDATE orders SET status='x' WHERE id=10", key=self.env.analyst)
        self.assertEqual(r.returncode, 126)
        self.assertEqual(self.env.pg.scalar("SELECT status FROM orders WHERE id=10", db="shop"), "paid")
        cols = self.env.audit_eventually(
            "SELECT masked_columns FROM commands WHERE text LIKE 'SELECT id, email, ssn AS x%' AND kind='sql'",
            [("email,x,shout",)])
        self.assertEqual(cols, [("email,x,shout",)])

    def test_masks_survive_aliases_subqueries_and_functions(self):
        for q in ("SELECT email AS contact FROM customers WHERE id = 1",
                  "SELECT x.e FROM (SELECT email AS e FROM customers) x WHERE x.e LIKE 'alice%'",
                  "SELECT (SELECT email FROM customers WHERE id = 1) AS sneaky",
                  "SELECT email AS y FROM all_customers() WHERE id = 1",
                  "SELECT c.email || '' AS z FROM public.customers c WHERE c.id = 1",
                  "WITH t AS (SELECT * FROM customers) SELECT email AS w FROM t WHERE id = 1"):
            r = self.sql(["--", "--csv " + q], key=self.env.admin)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.decode().splitlines()
            self.assertEqual(lines[1:], ["****"], q)
        # Nothing masked where nothing masked is read.
        r = self.sql(["--", "--csv SELECT count(*) AS n, max(total) AS m FROM orders"])
        self.assertEqual(r.stdout.decode(), "n,m\n2,99.90\n")

    def test_masked_in_recording_too(self):
        r = self.sql("SELECT email, note FROM customers WHERE id IN (1, 3) ORDER BY id")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertNotIn("alice@example.com", out)
        self.assertIn("key [key] inside", out)  # the policy's output pattern applies too
        path = self.env.audit("SELECT recording FROM commands WHERE kind='exec' AND text LIKE "
                              "'SELECT email, note FROM customers%'")[0][0]
        with open(path) as f:
            rec = f.read()
        self.assertNotIn("alice@example.com", rec)
        self.assertNotIn("sk_live_", rec)
        self.assertIn("sql: SELECT email, note FROM customers WHERE id IN (1, 3) ORDER BY id", rec)

    # --- sessions and transactions -----------------------------------------

    def test_stdin_script_and_transaction_across_statements(self):
        script = (b"BEGIN;\nINSERT INTO orders VALUES (50, 2, 7.5, 'new');\n"
                  b"SELECT status FROM orders WHERE id = 50;\nCOMMIT;\n"
                  b"DELETE FROM orders WHERE id = 50;\n")
        r = self.sql(input=script)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "BEGIN\nINSERT 0 1\n status \n--------\n new\n(1 row)\n\nCOMMIT\nDELETE 1\n")
        rows = self.env.audit_eventually(
            "SELECT text, decision, exit_status, rows, duration_us > 0 FROM commands WHERE kind='sql' AND "
            "(text LIKE 'INSERT INTO orders VALUES (50,%' OR text = 'SELECT status FROM orders WHERE id = 50' "
            "OR text = 'DELETE FROM orders WHERE id = 50') ORDER BY id",
            [("INSERT INTO orders VALUES (50, 2, 7.5, 'new')", "mask", 0, 1, 1),
             ("SELECT status FROM orders WHERE id = 50", "mask", 0, 1, 1),
             ("DELETE FROM orders WHERE id = 50", "mask", 0, 1, 1)])
        self.assertEqual(len(rows), 3, rows)
        self.assertEqual(rows[0], ("INSERT INTO orders VALUES (50, 2, 7.5, 'new')", "mask", 0, 1, 1))

    def test_notices_and_errverbose(self):
        # dba-admin (DO is opaque below it) and pii-reader (no column masks, so its messages are shown).
        r = self.sql(key=self.env.admin_pii, input=b"DO $$BEGIN RAISE NOTICE 'hello %', 42; END$$;\n"
                                                 b"SELECT 1/0;\n")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stdout.decode(), "DO\n")
        self.assertEqual(r.stderr.decode(), "NOTICE:  hello 42\nERROR:  division by zero\n")

    def test_copy_from_stdin_in_a_script(self):
        # pg_dump's layout: the data follows the statement, up to "\.".
        script = (b"CREATE TABLE loaded (a int, b text);\n"
                  b"COPY loaded (a, b) FROM stdin;\n1\tone\n2\ttwo words\n3\t\\N\n\\.\n"
                  b"SELECT a, b FROM loaded ORDER BY a;\nDROP TABLE loaded;\n")
        r = self.env.ssh("shopdb", key=self.env.lead, input=script)
        self.assertEqual(r.returncode, 126, r.stderr)  # the DROP waits for a dba-lead and times out here
        self.assertTrue(r.stdout.decode().startswith(
            "CREATE TABLE\nCOPY 3\n a |     b     \n---+-----------\n 1 | one\n 2 | two words\n 3 | \n(3 rows)\n"),
            r.stdout)
        self.assertEqual(self.env.audit_eventually(
            "SELECT decision, rows FROM commands WHERE kind='sql' AND text LIKE 'COPY loaded%'", [("mask", 3)]),
            [("mask", 3)])
        r = self.sql("COPY customers FROM STDIN")  # exec: no data to send
        self.assertEqual(r.returncode, 3)
        self.assertIn("COPY FROM STDIN takes its data from a script on stdin", r.stderr.decode())

    def test_copy_data_line_longer_than_the_input_buffer(self):
        # A 3 MiB data line (the input buffer holds 1 MiB): streamed through,
        # not left waiting for its newline until the idle timeout.
        big = b"x" * (3 << 20)
        script = (b"CREATE TEMP TABLE wide (a int, b text);\n"
                  b"COPY wide (a, b) FROM stdin;\n1\t" + big + b"\n2\tshort\n\\.\n"
                  b"SELECT a, length(b) FROM wide ORDER BY a;\n")
        t0 = time.time()
        r = self.env.ssh("shopdb", key=self.env.lead, input=script, timeout=60)
        self.assertLess(time.time() - t0, 30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "CREATE TABLE\nCOPY 2\n a | length  \n---+---------\n"
                                            " 1 | 3145728\n 2 |       5\n(2 rows)\n\n")

    def test_row_limit_cuts_with_notice(self):
        r = self.env.ssh("smalldb", "SELECT g FROM generate_series(1, 5) g")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), " g \n---\n 1\n 2\n(2 rows)\n\n")
        self.assertEqual(r.stderr.decode(), "bastion: row limit reached: showed 2 of 5 rows\n")
        # The policy may lower the target's cap (analysts: 10000).
        r = self.env.ssh("shopdb", ["--", "--csv SELECT g FROM generate_series(1, 10005) g"], key=self.env.analyst)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.decode().splitlines()), 10001)
        self.assertEqual(r.stderr.decode(), "bastion: row limit reached: showed 10000 of 10005 rows\n")

    def test_large_result_streams_with_bounded_memory(self):
        b = self.env.bastion
        with open(f"/proc/{b.proc.pid}/status") as f:
            before = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        p = subprocess.Popen(self.env.ssh_base(self.env.reader) + ["shopdb@127.0.0.1", "--",
                             "--csv SELECT g, repeat('x', 40) FROM generate_series(1, 1000000) g"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        peak, lines = 0, 0
        # Read slowly at first so the bastion has to hold back, then drain.
        for chunk in iter(lambda: p.stdout.read(1 << 16), b""):
            lines += chunk.count(b"\n")
            with open(f"/proc/{b.proc.pid}/status") as f:
                peak = max(peak, int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)))
        p.wait(timeout=120)
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(lines, 1000001)
        sys.stderr.write(f"bastiond RSS grew by {peak - before} KiB\n")
        if not sanitized():
            self.assertLess(peak - before, 64 * 1024, f"bastiond grew by {peak - before} KiB")

    # --- the console (a pty, driven like a person) ---------------------------

    def console(self, key=None, target="shopdb"):
        argv = self.env.ssh_base(key=key, tty=True) + [f"{target}@127.0.0.1"]
        return PtySession(argv, 30, 120, env={"TERM": "xterm-256color"})

    def test_console_prompt_transactions_and_multiline(self):
        s = self.console(key=self.env.reader)
        s.read_until(b"shopdb=> ")
        s.send(b"BEGIN;\r")
        s.read_until(b"BEGIN\r\nshopdb=*> ")
        s.send(b"SELECT name\r")
        s.read_until(b"shopdb-*> ")
        s.send(b"FROM customers WHERE id = 1;\r")
        out = s.read_until(b"(1 row)\r\n\r\nshopdb=*> ")
        self.assertIn(b" name  \r\n-------\r\n alice\r\n(1 row)\r\n", out)
        s.send(b"SELECT nosuch;\r")
        s.read_until(b"shopdb=!> ")
        s.send(b"ROLLBACK;\r")
        s.read_until(b"ROLLBACK\r\nshopdb=> ")
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)
        # The console session is recorded like any terminal session, with a marker per statement.
        path = self.env.audit("SELECT recording FROM commands WHERE kind='shell' ORDER BY id DESC LIMIT 1")[0][0]
        with open(path) as f:
            events = [json.loads(l) for l in f][1:]
        markers = [e[2] for e in events if e[1] == "m"]
        self.assertIn("sql: SELECT name\nFROM customers WHERE id = 1", markers)
        self.assertIn(" alice\r\n", "".join(e[2] for e in events if e[1] == "o"))

    def test_console_line_editing_history_and_meta_commands(self):
        s = self.console(key=self.env.reader)
        s.read_until(b"shopdb=> ")
        # Typo fixed with Backspace, Ctrl-A to the start, Ctrl-E to the end.
        s.send(b"ELECT 40 + 2 AS answer;x\x7f\x01S\x05\r")
        s.read_until(b" answer \r\n--------\r\n     42\r\n(1 row)")
        s.send(b"garbage to forget\x15SELECT 'u' AS cleared;\r")  # Ctrl-U clears the line
        s.read_until(b" cleared \r\n---------\r\n u\r\n")
        s.send(b"\x1b[A\x1b[A\r")  # Up, Up: the first statement again
        s.send(b"SELECT 'after' AS z;\r")
        s.read_until(b" after\r\n")
        self.assertEqual(s.buf.count(b"     42\r\n"), 2)
        s.send(b"\\dt\r")
        s.read_until(b"List of relations")
        out = s.read_until(b"(3 rows)")
        self.assertIn(b" public | customers | table | bastion_svc\r\n", out)
        s.send(b"\\x\r")
        s.read_until(b"Expanded display is on.")
        s.send(b"SELECT 1 AS a, 2 AS b;\r")
        s.read_until(b"-[ RECORD 1 ]\r\na | 1\r\nb | 2\r\n")
        s.send(b"\\x off\r\\pset format csv\rSELECT 1 AS a, 2 AS b;\r")
        s.read_until(b"a,b\r\n1,2\r\n")
        s.send(b"\\nope\r")
        s.read_until(b"invalid command \\nope")
        s.send(b"\x04")  # Ctrl-D on an empty line
        self.assertEqual(s.wait(), 0)

    def test_console_denial_keeps_console_usable(self):
        s = self.console()
        s.read_until(b"shopdb=> ")
        s.send(b"DELETE FROM orders;\r")
        s.read_until(b"ERROR:  denied by policy: DELETE without WHERE would change every row\r\nshopdb=> ")
        s.send(b"SELECT count(*) AS n FROM orders;\r")
        s.read_until(b" n \r\n---\r\n 2\r\n(1 row)")
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)

    def test_ctrl_c_cancels_a_running_query(self):
        s = self.console(key=self.env.admin)
        s.read_until(b"shopdb=> ")
        started = time.time()
        s.send(b"SELECT pg_sleep(60);\r")
        time.sleep(1.0)
        s.send(b"\x03")
        s.read_until(b"ERROR:  canceling statement due to user request", timeout=15)
        s.read_until(b"shopdb=> ")
        self.assertLess(time.time() - started, 15)
        s.send(b"\x03")  # at the prompt: abandons the (empty) line, the console stays
        s.read_until(b"^C\r\nshopdb=> ")
        s.send(b"SELECT 'still here' AS s;\r")
        s.read_until(b" still here\r\n")
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)
        self.assertEqual(self.env.audit_eventually(
            "SELECT error FROM commands WHERE text='SELECT pg_sleep(60)' AND kind='sql'",
            [("57014: canceling statement due to user request",)]),
            [("57014: canceling statement due to user request",)])

    def test_password_never_reaches_user(self):
        r = self.sql("SHOW password_encryption; SELECT current_user")
        self.assertNotIn("held-secret-pw", r.stdout.decode() + r.stderr.decode())
        self.assertIn("bastion_svc", r.stdout.decode())


if __name__ == "__main__":
    main()
