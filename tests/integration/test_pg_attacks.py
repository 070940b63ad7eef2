"""Attacks on column masks and the PostgreSQL policy (an outside review of
issue 11). Each test PASSES when the bastion resists and FAILS when the
attack works: the masked value must appear nowhere (client output,
recording, audit database, bastiond's log), an analyst changes nothing, and
what needs a review does not run without one."""
import os

import pg_cluster
from harness import BastionTest, Env, main

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")
SECRET = "alice.secret@example.com"
SECRETS = (SECRET, "ALICE.SECRET", "alice.secret", "bob.hidden", "123-45-", "987-65-")

SCHEMA = r"""
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text);
INSERT INTO customers VALUES (1, 'alice', 'alice.secret@example.com', '123-45-6789'),
                             (2, 'bob', 'bob.hidden@example.org', '987-65-4321');
CREATE TABLE notes (id int, body text);
ANALYZE customers;
"""

# A shadowing CTE anywhere in the statement (here inside EXISTS) that has
# the name of the real table read at the top level.
SHADOW = " WHERE EXISTS (WITH customers AS (SELECT 1) SELECT 1)"


class PgAttacksTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        pg_cluster.shop_env(env, SCHEMA)
        shipped = os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua"))
        env.start_bastion(targets=env.default_targets() + "\n" + pg_cluster.shop_target(env, "shopdb", shipped),
                          extra="approvals = { timeout = 3 }")

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def sql(self, command, key=None, input=None):
        return self.env.ssh("shopdb", command, key=key, input=input)

    def snapshot(self):
        """Where each store stands now, so a check sees only what one attack added."""
        (last,) = self.env.audit("SELECT coalesce(max(id), 0) FROM commands")[0]
        sizes = {}
        for (path,) in self.env.audit("SELECT DISTINCT recording FROM commands WHERE recording IS NOT NULL"):
            sizes[path] = os.path.getsize(path)
        return last, sizes, os.path.getsize(self.env.bastion.log)

    def assert_nowhere(self, r, what, since):
        last, sizes, log_at = since
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, text, decision FROM commands WHERE ended_at IS NULL AND kind <> 'session'", []), [])
        recordings = ""
        for (path,) in self.env.audit("SELECT DISTINCT recording FROM commands WHERE recording IS NOT NULL"):
            with open(path, encoding="utf-8", errors="replace") as f:
                f.seek(sizes.get(path, 0))
                recordings += f.read()
        audit = repr(self.env.audit("SELECT * FROM commands WHERE id > ?", (last,)))
        with open(self.env.bastion.log, encoding="utf-8", errors="replace") as f:
            f.seek(log_at)
            log = f.read()
        for s in SECRETS:
            for where, content in (("client", out), ("recordings", recordings), ("audit", audit), ("log", log)):
                self.assertNotIn(s.lower(), content.lower(), f"{s} in the {where} for {what}:\n{out}")

    def attack(self, q, key=None, input=None):
        since = self.snapshot()
        r = self.sql(["--", "--csv " + q] if q else None, key=key, input=input)
        self.assert_nowhere(r, q or input, since)
        return r

    def both(self, q):
        for key in (None, self.env.analyst):
            with self.subTest(q=q, who="ops" if key is None else "analyst"):
                self.attack(q, key=key)

    # --- a CTE name anywhere hides the real table of that name ---------------

    def test_shadowing_cte_computed_column(self):
        self.both("SELECT upper(email) AS u FROM customers" + SHADOW)

    def test_shadowing_cte_error_text(self):
        self.both("SELECT email::int FROM customers" + SHADOW)

    def test_shadowing_cte_in_from_subquery(self):
        self.both("SELECT email || '' AS u FROM customers, (WITH customers AS (SELECT 1) SELECT 1) s")

    def test_shadowing_cte_error_detail_as_ops(self):
        r = self.attack("UPDATE customers SET name = NULL WHERE id = 1 AND EXISTS (WITH customers AS (SELECT 1) SELECT 1)")
        self.assertNotEqual(r.returncode, 0)

    def test_shadowing_cte_derived_object_as_ops(self):
        r = self.attack(None, input=("CREATE TEMP TABLE t AS SELECT email AS e FROM customers" + SHADOW +
                                     ";\nSELECT e FROM t;\n").encode())

    def test_shadowing_cte_copy_into_plain_column_as_ops(self):
        since = self.snapshot()
        r = self.sql(None, input=(b"UPDATE customers SET name = email WHERE id = 2 AND EXISTS "
                                  b"(WITH customers AS (SELECT 1) SELECT 1);\n"))
        try:
            self.assertEqual(self.env.pg.scalar("SELECT name FROM customers WHERE id = 2", db="shop"), "bob")
        finally:
            self.env.pg.psql("UPDATE customers SET name = 'bob' WHERE id = 2", db="shop")
        self.assert_nowhere(r, "UPDATE ... SET name = email shadow", since)

    # --- result-column origins -------------------------------------------------

    def test_union_origin_from_leftmost(self):
        self.both("SELECT name FROM customers UNION ALL SELECT email FROM customers")

    def test_union_in_cte_origin(self):
        self.both("WITH t AS (SELECT name AS n FROM customers UNION ALL SELECT email FROM customers) SELECT n FROM t")

    def test_union_in_subquery_origin(self):
        self.both("SELECT n FROM (SELECT name AS n FROM customers UNION ALL SELECT email FROM customers) s")

    def test_intersect_except_origin(self):
        self.both("SELECT name FROM customers EXCEPT SELECT 'x' UNION ALL SELECT email FROM customers")

    # --- computed columns --------------------------------------------------------

    def test_computed_expressions(self):
        for q in ("SELECT * FROM unnest(array(SELECT email FROM customers)) u",
                  "SELECT * FROM ROWS FROM (unnest(array(SELECT email FROM customers))) u",
                  "TABLE customers",
                  "SELECT (c).email AS x FROM customers c",
                  "SELECT (customers).* FROM customers",
                  "SELECT to_json(c.*) AS j FROM customers c",
                  "SELECT * FROM customers c JOIN LATERAL (SELECT c.email AS x) s ON true",
                  "SELECT x FROM customers c, LATERAL (SELECT c.email) s(x)",
                  "VALUES ((SELECT email FROM customers LIMIT 1))",
                  "SELECT format('%s', email) AS f FROM customers",
                  "SELECT first_value(email) OVER (ORDER BY id) AS f FROM customers",
                  "SELECT array_agg(email) AS a FROM customers",
                  "SELECT string_agg(email, ',') AS a FROM customers",
                  "SELECT CASE WHEN id > 0 THEN email END AS a FROM customers",
                  "SELECT GREATEST(email, '') AS a FROM customers",
                  "SELECT (ARRAY[email])[1] AS a FROM customers",
                  "SELECT jsonb_build_object('a', email)->>'a' AS a FROM customers",
                  "SELECT email COLLATE \"C\" AS a FROM customers",
                  "SELECT email::varchar AS a FROM customers",
                  "SELECT ROW(email)::text AS a FROM customers",
                  "SELECT x.email AS a FROM (customers c JOIN notes n ON true) x",
                  "SELECT a FROM customers c JOIN (SELECT id, email AS a FROM customers) d USING (id)",
                  "SELECT email(c) AS a FROM customers c",
                  "SELECT (SELECT s FROM (SELECT email FROM customers) s LIMIT 1)::text AS a",
                  "SELECT a FROM customers CROSS JOIN LATERAL unnest(ARRAY[email]) a",
                  "SELECT * FROM customers FULL JOIN (SELECT 1 AS id, email AS x FROM customers) d USING (id)",
                  "SELECT id, name, e FROM customers c, LATERAL (VALUES (c.email)) v(e)",
                  "SELECT m FROM (SELECT max(email) FROM customers) s(m)",
                  "SELECT * FROM (SELECT email FROM customers) s(m)",
                  "SELECT * FROM (SELECT *, upper(email) AS m FROM customers) s",
                  "SELECT *, upper(email) AS x FROM customers",
                  "SELECT name FROM (SELECT email AS name FROM customers) s",
                  "SELECT ssn AS x FROM customers",
                  "SELECT upper(ssn) AS x FROM customers",
                  "SELECT substr(ssn, 1, 7) AS x FROM customers",
                  "SELECT json_agg(c) AS x FROM customers c",
                  "SELECT * FROM json_populate_record(NULL::customers, (SELECT to_json(c) FROM customers c LIMIT 1))",
                  "SELECT (json_populate_record(NULL::customers, (SELECT to_json(c) FROM customers c LIMIT 1))).name",
                  "SELECT (jsonb_each_text(to_jsonb(c))).* FROM customers c",
                  "SELECT * FROM customers c, jsonb_each_text(to_jsonb(c)) j",
                  ):
            self.both(q)

    def test_case_column_name(self):
        # PostgreSQL names a CASE after its ELSE branch ("name" here), not "case".
        self.both("SELECT name FROM (SELECT CASE WHEN id > 0 THEN email ELSE name END FROM customers) s")
        self.both("WITH t AS (SELECT CASE WHEN id > 0 THEN email ELSE name END FROM customers) SELECT name FROM t")

    def test_column_notation_function_on_whole_row(self):
        # c.text is text(c): the whole row cast to text; c.row_to_json is row_to_json(c).
        for q in ("SELECT c.text FROM customers c", "SELECT customers.text FROM customers",
                  "SELECT c.row_to_json FROM customers c", "SELECT c.to_json FROM customers c",
                  "SELECT c.to_jsonb FROM customers c", "SELECT upper(c.text) AS u FROM customers c"):
            self.both(q)

    def test_whole_row_of_a_table(self):
        # A whole-row Var has the table as its origin (PQftable) and column 0.
        for q in ("SELECT c FROM customers c", "SELECT customers FROM customers",
                  "SELECT id, c FROM customers c WHERE id = 1"):
            self.both(q)
        r = self.attack("UPDATE customers SET name = name WHERE id = 1 RETURNING customers")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_copy_into_a_partly_masked_column_as_ops(self):
        # customers.ssn shows its last 4 characters: 5 characters of a masked email copied into it show 4 of them.
        since = self.snapshot()
        r = self.sql(None, input=b"UPDATE customers SET ssn = substr(email, 7, 5) WHERE id = 1;\n"
                                 b"SELECT ssn FROM customers WHERE id = 1;\n")
        try:
            self.assertNotIn(b"ecre", r.stdout + r.stderr)
        finally:
            self.env.pg.psql("UPDATE customers SET ssn = '123-45-6789' WHERE id = 1", db="shop")
        self.assert_nowhere(r, "ssn = substr(email, 7, 5)", since)

    def test_explain_analyze_delete_without_where_as_ops(self):
        self.env.pg.psql("INSERT INTO notes VALUES (9, 'keep')", db="shop")
        try:
            self.sql("EXPLAIN ANALYZE DELETE FROM notes")
            self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM notes", db="shop"), "1")
        finally:
            self.env.pg.psql("DELETE FROM notes WHERE id = 9", db="shop")

    def test_shadowing_cte_cursor(self):
        self.attack(None, input=("BEGIN;\nDECLARE k CURSOR FOR SELECT upper(email) AS u FROM customers" + SHADOW +
                                 ";\nFETCH ALL FROM k;\n").encode())

    def test_copy_into_a_column_named_like_a_table_rule_as_ops(self):
        # "customers.ssn" is masked in customers only, but any column named ssn counts as masked for writes.
        self.attack(None, input=b"CREATE TEMP TABLE x (id int, ssn text);\nINSERT INTO x VALUES (1, '');\n"
                                b"UPDATE x SET ssn = (SELECT email FROM customers WHERE id = 1) WHERE id = 1;\n"
                                b"SELECT ssn FROM x;\n")

    def test_join_condition_spells_a_masked_value(self):
        # WHERE is not analysed: a join on each character makes plain computed columns equal to it.
        self.both("SELECT string_agg(chr(k), '' ORDER BY n) AS s FROM customers, generate_series(1, 40) n, "
                  "generate_series(32, 126) k WHERE id = 1 AND ascii(substr(email, n, 1)) = k")

    # --- the server reads the text in another client encoding ---------------------

    # "\u0141" is C5 81 in UTF-8; in SJIS, C5 is one character and 81 a lead
    # byte that swallows the backslash after it: the server sees the string
    # end there, and a second statement after it, which the bastion's parser
    # (UTF-8) saw inside the string literal. The simple protocol runs both.
    SMUGGLE = "SELECT E'\u0141\\' ; {} ; --'"

    def test_client_encoding_smuggles_a_read(self):
        for setting in ("SET client_encoding = 'SJIS'", "SET NAMES 'SJIS'",
                        "SELECT set_config('client_encoding', 'SJIS', false)"):
            with self.subTest(setting=setting):
                self.attack(None, key=self.env.analyst,
                            input=(setting + ";\n" + self.SMUGGLE.format("SELECT upper(email) AS u FROM customers") +
                                   ";\n").encode())

    def test_client_encoding_smuggles_a_drop_past_review(self):
        self.env.pg.psql("CREATE TABLE victim (x int)", db="shop")
        try:
            self.sql(None, input=("SET client_encoding = 'SJIS';\n" + self.SMUGGLE.format("DROP TABLE victim") +
                                  ";\n").encode())
            self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM pg_class WHERE relname = 'victim'", db="shop"), "1")
        finally:
            self.env.pg.psql("DROP TABLE IF EXISTS victim", db="shop")

    def test_invalid_utf8_is_refused_and_audited_not_dropped(self):
        text = b"SELECT E'\x95\\' ; SELECT 1; --'"
        r = self.sql(None, input=text + b";\n")
        self.assertEqual(r.returncode, 126, r.stderr)
        self.assertIn("the statement is not valid UTF-8", r.stderr.decode(errors="replace"))
        rows = self.env.audit_eventually("SELECT decision FROM commands WHERE kind='sql' AND reason LIKE "
                                         "'%not valid UTF-8%' ORDER BY id DESC LIMIT 1", [("deny",)])
        self.assertEqual(rows, [("deny",)])

    def test_constraint_errors_as_ops(self):
        for q in ("UPDATE customers SET name = NULL WHERE id = 1",
                  "INSERT INTO customers VALUES (1, 'x', 'y', 'z') ON CONFLICT (id) DO UPDATE SET name = NULL",
                  "UPDATE customers SET name = NULL WHERE id = 1 RETURNING email"):
            with self.subTest(q=q):
                self.attack(q)

    def test_console_variables(self):
        for script in (b"\\set q 'SELECT upper(email) AS u FROM customers'\n:q;\n",
                       b"\\set t customers\nSELECT upper(email) AS u FROM :t" + SHADOW.encode() + b";\n",
                       b"SELECT 'customers' AS t\n\\gset\nSELECT upper(email) AS u FROM :t;\n",
                       b"SELECT upper(name) AS u FROM customers\n\\g\n",
                       b"SET standard_conforming_strings = off;\nSELECT 'a\\' , upper(email) AS u FROM customers; --';\n",
                       # With it off, the server reads '\'' as one quote: the guard must judge that
                       # reading (the text as typed shows two constants), also for a "\;" group
                       # read before its SET ran (an outside review: both printed the address).
                       b"SET standard_conforming_strings = off;\nSELECT '\\'' , upper(email) AS u FROM customers"
                       b" -- ' AS a, 'x' AS u FROM customers\n;\n",
                       b"SET standard_conforming_strings = off \\; SELECT '\\'' , upper(email) AS u FROM customers -- ';\n",
                       b"SELECT set_config($$standard_conforming_strings$$, $$off$$, false) \\; "
                       b"SELECT '\\'' , upper(email) AS u FROM customers -- ';\n",
                       b"SET standard_conforming_strings = off \\; SELECT '\\'' , email FROM customers -- ';\n",
                       b"SELECT 1; SELECT upper(email) AS u FROM customers;\n",
                       ):
            for key in (None, self.env.analyst):
                with self.subTest(script=script, who="ops" if key is None else "analyst"):
                    self.attack(None, key=key, input=script)

    # --- writes and reviews ------------------------------------------------------

    def test_analyst_changes_nothing(self):
        for q in ("UPDATE customers SET name = 'x' WHERE id = 1" + " AND EXISTS (WITH customers AS (SELECT 1) SELECT 1)",
                  "WITH x AS (UPDATE customers SET name = 'x' WHERE id = 1 RETURNING 1) SELECT * FROM x",
                  "SELECT set_config('default_transaction_read_only', 'off', false)",
                  "INSERT INTO notes VALUES (1, 'x')"):
            with self.subTest(q=q):
                self.sql(q, key=self.env.analyst)
                self.assertEqual(self.env.pg.scalar("SELECT name FROM customers WHERE id = 1", db="shop"), "alice")
                self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM notes", db="shop"), "0")

    def test_review_needed_not_run_without(self):
        # DROP waits for a review by dba-lead: with no reviewer, it must not run.
        for q in ("DROP TABLE notes" + "",):
            r = self.sql(q, input=b"")
            self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM pg_class WHERE relname = 'notes'", db="shop"), "1", r.stderr)


if __name__ == "__main__":
    main()
