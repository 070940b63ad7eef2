"""Column masks without side doors, through real clients and a real
PostgreSQL server: while a statement runs under column masks, a masked value
leaves by no error text, notice, COPY, query-string function, statistics
view or object made from the masked table; and, the other way round, computed
columns that cannot carry a masked value (count(*), max(id), length(name))
show their values. The masked value must appear nowhere: not in the client's
output, the recording, the audit database or bastiond's log."""
import os
import subprocess

import pg_cluster
from harness import BastionTest, Env, main
from pty_driver import PtySession

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")
SECRET = "alice.secret@example.com"
SECRETS = (SECRET, "ALICE.SECRET", "alice.secret", "bob.hidden")

SCHEMA = r"""
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text);
INSERT INTO customers VALUES (1, 'alice', 'alice.secret@example.com', '123-45-6789'),
                             (2, 'bob', 'bob.hidden@example.org', '987-65-4321');
CREATE TABLE notes (id int, body text);
CREATE FUNCTION leak_notice() RETURNS int LANGUAGE plpgsql AS $$
DECLARE e text;
BEGIN
  SELECT email INTO e FROM customers WHERE id = 1;
  RAISE NOTICE 'found %', e USING DETAIL = 'detail ' || e, HINT = 'hint ' || e;
  RETURN 1;
END $$;
CREATE FUNCTION leak_error() RETURNS int LANGUAGE plpgsql AS $$
DECLARE e text;
BEGIN
  SELECT email INTO e FROM customers WHERE id = 1;
  RAISE EXCEPTION 'found %', e USING DETAIL = 'detail ' || e, HINT = 'hint ' || e;
END $$;
CREATE FUNCTION ident(t text) RETURNS text LANGUAGE sql AS 'SELECT t';
ANALYZE customers;
"""

# A policy that opts out of the derived-object rule (and masks only email).
OPT_OUT_POLICY = r"""
function on_command(c)
  if c.kind ~= "sql" then return nil end
  return allow{ mask = { columns = { "email" }, allow_derived_objects = true } }
end
"""
# A permissive policy that masks email: the bastion's own guards must hold
# even when the policy lets DO blocks and user functions through (the shipped
# postgres.lua refuses them to analysts as opaque; see test_pg_opaque.py).
MASK_POLICY = r"""
function on_command(c)
  if c.kind ~= "sql" then return nil end
  return allow{ mask = { columns = { "email" } } }
end
"""
# A policy that keeps computed columns visible (derived = "keep").
KEEP_POLICY = r"""
function on_command(c)
  if c.kind ~= "sql" then return nil end
  return allow{ mask = { columns = { "email" }, derived = "keep" } }
end
"""

WITHHELD_ERROR = "the error text is withheld because the statement reads masked columns"
WITHHELD_NOTICE = "the notice text is withheld because the statement reads masked columns"


def pg_target(env, name, policy):
    return pg_cluster.shop_target(env, name, policy)


class PgMaskSideDoorsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        pg_cluster.shop_env(env, SCHEMA)
        opt_out = os.path.join(env.d, "opt_out.lua")
        with open(opt_out, "w") as f:
            f.write(OPT_OUT_POLICY)
        maskp = os.path.join(env.d, "mask.lua")
        with open(maskp, "w") as f:
            f.write(MASK_POLICY)
        keep = os.path.join(env.d, "keep.lua")
        with open(keep, "w") as f:
            f.write(KEEP_POLICY)
        shipped = os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua"))
        env.start_bastion(targets=env.default_targets() + "\n" + pg_target(env, "shopdb", shipped) + "\n" +
                          pg_target(env, "optdb", opt_out) + "\n" + pg_target(env, "maskdb", maskp) + "\n" +
                          pg_target(env, "keepdb", keep))

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def sql(self, command, key=None, target="shopdb", input=None):
        """Runs `command` as ops (masked by the shipped policy) or as `key`."""
        return self.env.ssh(target, command, key=key, input=input)

    def assert_nowhere(self, r, what):
        """The secrets appear nowhere: not in this command's output, any
        recording, the audit database or bastiond's log."""
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        # Rows and recordings are finished when the connection ends, just after the client exits.
        self.assertEqual(self.env.audit_eventually("SELECT kind, text, decision FROM commands WHERE ended_at IS NULL AND kind <> 'session'", []),
                         [])
        recordings = ""
        for (path,) in self.env.audit("SELECT DISTINCT recording FROM commands WHERE recording IS NOT NULL"):
            with open(path, encoding="utf-8", errors="replace") as f:
                recordings += f.read()
        self.assertIn("sql: ", recordings)
        audit = repr(self.env.audit("SELECT * FROM commands"))
        with open(self.env.bastion.log, encoding="utf-8", errors="replace") as f:
            log = f.read()
        for s in SECRETS:
            for where, content in (("client", out), ("recordings", recordings), ("audit", audit), ("log", log)):
                self.assertNotIn(s.lower(), content.lower(), f"{s} in the {where} for {what}")

    # --- errors and notices ------------------------------------------------

    def test_errors_under_masks_show_only_sqlstate(self):
        for q, state in (("SELECT string_agg(email, ',')::int FROM customers", "22P02"),
                         ("SELECT email::int FROM customers", "22P02"),
                         ("SELECT 1/0 FROM customers WHERE email = 'x'", "22012"),
                         ("SELECT leak_error()", "P0001")):
            for key in (None, self.env.analyst):
                r = self.sql(q, key=key, target="maskdb")
                self.assertEqual(r.returncode, 3, q)
                self.assertEqual(r.stdout.decode(), "", q)
                self.assertEqual(r.stderr.decode(), f"ERROR:  {state}: {WITHHELD_ERROR}\n", q)
                self.assert_nowhere(r, q)
            self.assertEqual(self.env.audit_eventually(
                "SELECT DISTINCT error FROM commands WHERE kind='sql' AND text=?", [(f"{state}: {WITHHELD_ERROR}",)],
                (q,)), [(f"{state}: {WITHHELD_ERROR}",)])

    def test_notices_under_masks_are_withheld(self):
        q = "SELECT leak_notice() AS n"
        r = self.sql(["--", "--csv " + q], target="maskdb")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "n\n****\n")
        self.assertEqual(r.stderr.decode(),
                         f"NOTICE:  00000: {WITHHELD_NOTICE}\n"
                         'bastion: column "n" is masked: it is computed and may carry a masked value\n')
        self.assert_nowhere(r, "--csv " + q)

    def test_do_block_messages_are_withheld(self):
        q = ("DO $$DECLARE e text; BEGIN SELECT email INTO e FROM customers WHERE id = 1; "
             "RAISE NOTICE 'found %', e; END$$")
        r = self.sql(q, target="maskdb")
        self.assertEqual((r.returncode, r.stdout.decode(), r.stderr.decode()),
                         (0, "DO\n", f"NOTICE:  00000: {WITHHELD_NOTICE}\n"))
        self.assert_nowhere(r, q)

    def test_errverbose_in_the_console_shows_the_withheld_text(self):
        s = PtySession(self.env.ssh_base(tty=True) + ["maskdb@127.0.0.1"], 30, 120, env={"TERM": "xterm-256color"})
        s.read_until(b"maskdb=> ")
        s.send(b"SELECT email::int FROM customers;\r")
        s.read_until(f"ERROR:  22P02: {WITHHELD_ERROR}\r\nmaskdb=> ".encode())
        s.send(b"\\errverbose\r")
        s.read_until(f"22P02: {WITHHELD_ERROR}\r\nmaskdb=> ".encode())
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)
        for secret in SECRETS:
            self.assertNotIn(secret.lower().encode(), s.buf.lower())
        self.assert_nowhere(subprocess.CompletedProcess([], 0, s.buf, b""), "console")

    def test_errors_without_masks_pass_through(self):
        r = self.sql("SELECT 'abc'::int", target="shopdb")  # reads nothing masked: the full text
        self.assertEqual(r.returncode, 3)
        self.assertIn('ERROR:  invalid input syntax for type integer: "abc"\n', r.stderr.decode())

    # --- refused under masks -----------------------------------------------

    def assert_refused(self, q, reason, key=None, input=None, stdout="", target="shopdb"):
        r = self.sql(q, key=key, input=input, target=target)
        self.assertEqual(r.returncode, 126, (q, r.stderr))
        self.assertEqual(r.stdout.decode(), stdout, q)
        self.assertEqual(r.stderr.decode(), f"ERROR:  {reason}\n", q)
        self.assert_nowhere(r, q or input)
        return r

    def test_copy_to_is_refused(self):
        reason = "COPY ... TO is refused while column masks apply: its output cannot be masked by column; use SELECT"
        for q in ("COPY customers TO STDOUT", "COPY (SELECT email FROM customers) TO STDOUT",
                  "COPY (SELECT id FROM notes) TO STDOUT"):
            self.assert_refused(q, reason)
            self.assertEqual(self.env.audit_eventually(
                "SELECT DISTINCT decision, error FROM commands WHERE kind='sql' AND text=?", [("mask", reason)], (q,)),
                [("mask", reason)])

    def test_query_string_functions_are_refused(self):
        # On a permissive masking policy: the shipped one already refuses them as opaque.
        self.assert_refused(
            "SELECT query_to_xml('select email from customers', true, false, '')",
            "query_to_xml() is refused while column masks apply: it runs SQL given as text, "
            "where column masks cannot follow", key=self.env.analyst, target="maskdb")
        self.assert_refused(
            "SELECT * FROM ts_stat('SELECT to_tsvector(email) FROM customers')",
            "ts_stat() is refused while column masks apply: it runs SQL given as text, "
            "where column masks cannot follow", key=self.env.analyst, target="maskdb")
        self.assert_refused(
            "SELECT table_to_xml('customers', true, false, '')",
            "table_to_xml() is refused while column masks apply: it runs SQL given as text, "
            "where column masks cannot follow", target="maskdb")

    def test_statistics_are_refused(self):
        for q, what in (("SELECT histogram_bounds FROM pg_stats WHERE tablename='customers'", "pg_stats"),
                        ("SELECT most_common_vals FROM pg_catalog.pg_stats", "pg_stats"),
                        ("SELECT query FROM pg_stat_activity", "pg_stat_activity")):
            self.assert_refused(q, f"reading {what} is refused while column masks apply: "
                                   "statistics and statement texts hold column values", key=self.env.analyst)

    def test_objects_from_masked_relations_are_refused(self):
        tail = (" from a relation holding masked columns is refused while column masks apply: the new object "
                "would show the values unmasked (a policy may allow it: mask = { ..., allow_derived_objects = true })")
        for q, what in (("CREATE TEMP TABLE t AS SELECT * FROM customers", "CREATE TABLE AS"),
                        ("CREATE TABLE t2 AS SELECT id FROM customers", "CREATE TABLE AS"),
                        ("SELECT email INTO TEMP t3 FROM customers", "SELECT INTO"),
                        ("CREATE TEMP VIEW v AS SELECT email AS e FROM customers", "CREATE VIEW"),
                        ("CREATE MATERIALIZED VIEW mv AS SELECT email AS e FROM customers", "CREATE MATERIALIZED VIEW"),
                        ("PREPARE p AS SELECT email FROM customers", "PREPARE"),
                        ("INSERT INTO notes SELECT id, email FROM customers", "INSERT ... SELECT")):
            self.assert_refused(q, what + tail)
        r = self.assert_refused(None, "DECLARE CURSOR" + tail, stdout="BEGIN\n",
                                input=b"BEGIN;\nDECLARE c CURSOR FOR SELECT * FROM customers;\nFETCH ALL FROM c;\n")
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM pg_class WHERE relname IN ('t2', 'mv')", db="shop"), "0")
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM notes", db="shop"), "0")
        # Copying a masked value into a column nobody masks.
        self.assert_refused("UPDATE customers SET name = email WHERE id = 2",
                            "copying a masked column's value into a column that is not masked is refused while "
                            "column masks apply: the copy would show the value unmasked "
                            "(a policy may allow it: mask = { ..., allow_derived_objects = true })")
        self.assertEqual(self.env.pg.scalar("SELECT name FROM customers WHERE id = 2", db="shop"), "bob")
        # Not from a masked relation, or not carrying a masked value: allowed.
        r = self.sql("INSERT INTO notes VALUES (7, 'plain'); UPDATE customers SET name = 'bob' WHERE id = 2; "
                     "DELETE FROM notes WHERE id = 7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "INSERT 0 1\nUPDATE 1\nDELETE 1\n")

    def test_policy_may_allow_derived_objects(self):
        r = self.sql(None, input=b"CREATE TEMP TABLE t AS SELECT * FROM customers;\n"
                           b"SELECT id, email FROM t ORDER BY id;\n", target="optdb")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "SELECT 2\n id | email \n----+-------\n  1 | ****\n  2 | ****\n(2 rows)\n\n")
        # Renames are refused all the same: masks match columns by name.
        r = self.sql("ALTER TABLE customers RENAME email TO contact", target="optdb")
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (126, "ERROR:  renaming a masked column, or a relation holding one, is refused while "
                               "column masks apply: masks match columns by name\n"))
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM information_schema.columns "
                                            "WHERE table_name = 'customers' AND column_name = 'email'", db="shop"), "1")

    # --- computed columns ----------------------------------------------------

    def test_computed_columns_that_cannot_carry_masked_values_show(self):
        q = "SELECT count(*), max(id), length(name) FROM customers GROUP BY name ORDER BY 2"
        r = self.sql(q, key=self.env.analyst)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(),
                         " count | max | length \n-------+-----+--------\n"
                         "     1 |   1 |      5\n     1 |   2 |      3\n(2 rows)\n\n")
        self.assertEqual(r.stderr.decode(), "")
        for q, out in (("SELECT length(n) AS l FROM (SELECT name AS n FROM customers) s WHERE s.n = 'bob'", "l\n3\n"),
                       ("WITH t AS (SELECT id AS k FROM customers) SELECT max(k) + 1 AS m FROM t", "m\n3\n"),
                       ("SELECT count(*) AS n FROM customers WHERE email LIKE '%.org'", "n\n1\n")):
            r = self.sql(["--", "--csv " + q], key=self.env.analyst)
            self.assertEqual((r.stdout.decode(), r.stderr.decode()), (out, ""), q)

    def test_computed_columns_that_can_carry_masked_values_are_masked(self):
        cols = ("length(email)", "upper(email)", "email || ''", "coalesce(email, '')", "row_to_json(c)", "c::text",
                "(SELECT email FROM customers LIMIT 1)", "ident(email)", "ROW(c.id, c.email)",
                "(SELECT x FROM (SELECT email AS x FROM customers) s LIMIT 1)")
        names = [f"c{i}" for i in range(len(cols))]
        q = "SELECT " + ", ".join(f"{e} AS {n}" for e, n in zip(cols, names)) + " FROM customers c WHERE id = 1"
        r = self.sql(["--", "--csv " + q], key=self.env.analyst, target="maskdb")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), ",".join(names) + "\n" + ",".join(["****"] * len(cols)) + "\n")
        self.assertEqual(r.stderr.decode(), "bastion: columns " + ", ".join(f'"{n}"' for n in names) +
                         " are masked: they are computed and may carry masked values\n")
        self.assert_nowhere(r, "--csv " + q)
        for q in ("WITH t AS (SELECT email AS e FROM customers) SELECT upper(e) AS u FROM t",
                  "SELECT upper(x) AS u FROM (SELECT email FROM customers) s(x)",
                  "SELECT upper(email) AS u FROM customers UNION ALL SELECT 'x'"):
            r = self.sql(["--", "--csv " + q], key=self.env.analyst)
            self.assertEqual(r.stdout.decode().splitlines()[1:], ["****"] * (3 if "UNION" in q else 2), q)
            self.assertEqual(r.stderr.decode(), 'bastion: column "u" is masked: it is computed and may carry a masked value\n')
            self.assert_nowhere(r, "--csv " + q)

    def test_result_names_made_from_masked_values_are_withheld(self):
        # A cursor opened by dynamic SQL names its column after a masked
        # value; FETCH's text shows no names, so it is "?column?" (its
        # value, a constant, carries nothing masked).
        q = ("BEGIN; DO $$ DECLARE c refcursor := 'leaky'; BEGIN OPEN c FOR EXECUTE 'SELECT 1 AS ' || "
             "quote_ident((SELECT email FROM customers WHERE id = 1)); END $$; FETCH ALL FROM leaky; COMMIT")
        r = self.sql(["--", "--csv " + q], target="maskdb")
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "BEGIN\nDO\n?column?\n1\nCOMMIT\n"), r.stderr)
        self.assert_nowhere(r, q)

    def test_derived_keep_still_shows_computed_columns(self):
        r = self.sql(["--", "--csv SELECT length(email) AS l, email FROM customers WHERE id = 1"], target="keepdb")
        self.assertEqual((r.stdout.decode(), r.stderr.decode()), ("l,email\n24,****\n", ""))


if __name__ == "__main__":
    main()
