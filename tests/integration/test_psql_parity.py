"""psql parity: a SQL corpus runs through the bastion's SQL console (a
script on stdin, `ssh db@bastion < file.sql`) and through the real `psql`
against the same real PostgreSQL server (two databases made alike), and
the outputs are compared entry by entry: stdout, stderr and exit status.

The only normalisation: psql prefixes a script's messages with
"psql:<stdin>:LINE: ", which the bastion does not (it is a console, not a
file); that prefix is removed before comparing."""
import json
import os
import re
import sys

import pg_cluster
from harness import Env, main, run, BastionTest
from pty_driver import PtySession

FIXTURE = r"""
CREATE ROLE bastion_svc LOGIN PASSWORD 'held-secret-pw';
CREATE DATABASE parity_b OWNER bastion_svc;
CREATE DATABASE parity_p OWNER bastion_svc;
"""
SCHEMA = r"""
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2), tags text[], meta jsonb, created date);
INSERT INTO items VALUES (1, 'apple', 1.50, '{red,fruit}', '{"k": 1}', '2024-01-02'),
  (2, 'pear', NULL, NULL, NULL, NULL), (3, 'long name with spaces', 100.00, '{}', '[]', '2023-12-31');
CREATE TABLE notes (id int, body text);
INSERT INTO notes VALUES (1, E'tab\there'), (2, E'esc\x1b[31mred'), (3, E'two\nlines'), (4, E'cr\rhere'),
  (5, 'unicode çé日本'), (6, E'bell\x07'), (7, E'a\tb\tlonger\tc');
CREATE TABLE ruled (x int);
CREATE RULE ruled_ins AS ON INSERT TO ruled DO INSTEAD SELECT 'from rule'::text AS msg, NEW.x AS x;
CREATE TABLE orders (id int PRIMARY KEY, item_id int REFERENCES items(id), qty int CHECK (qty > 0),
  note text COLLATE "C" DEFAULT 'none', code text UNIQUE, n int GENERATED ALWAYS AS IDENTITY);
COMMENT ON COLUMN orders.qty IS 'how many';
CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10;
CREATE TABLE guarded (x int);
"""

# (name, script). Names starting with an issue item ("i1-" ...) are the
# regressions the issue lists: they must match psql exactly.
CORPUS = [
    ("select-1", "SELECT 1;\n"),
    ("select-table", "SELECT id, name, price FROM items ORDER BY id;\n"),
    ("select-star", "SELECT * FROM items ORDER BY id;\n"),
    ("empty-result", "SELECT * FROM items WHERE false;\n"),
    ("limit-0", "SELECT id FROM items ORDER BY id LIMIT 0;\n"),
    ("values", "VALUES (1, 'a'), (2, NULL);\n"),
    ("generate-series", "SELECT * FROM generate_series(1, 3) g;\n"),
    ("types", "SELECT repeat('x', 3) AS r, true AS b, 1.5::float8 AS f, '{\"a\":1}'::json AS j;\n"),
    ("big-numbers", "SELECT 12345678901234567890::numeric AS big, -1 AS neg;\n"),
    ("arrays-rows", "SELECT ARRAY[1,2] AS arr, ROW(1,'a') AS r;\n"),
    ("quoted-names", "SELECT 'a' AS \"Mixed Case\", 'b' AS \"日本\";\n"),
    ("padded", "SELECT '  padded  ' AS p, 'a|b' AS pipe;\n"),
    ("multiline-value", "SELECT 'multi\nline' AS m, 2 AS n;\n"),
    ("unicode", "SELECT body FROM notes WHERE id = 5;\n"),
    ("void", "SELECT pg_sleep(0);\n"),
    ("show", "SHOW standard_conforming_strings;\n"),
    ("dollar", "SELECT $$dollar ; quoted$$ AS d;\n"),
    ("string-continuation", "SELECT 'x'\n'y' AS cont;\n"),
    ("e-backslash", "SELECT E'\\\\' AS backslash;\n"),
    ("e-quote", "SELECT E'a\\'b;c' AS e;\n"),
    ("two-on-a-line", "SELECT 1 AS a; SELECT 2 AS b;\n"),
    ("trailing-comment", "SELECT 1 AS one -- trailing comment\n;\n"),
    ("comment-between", "SELECT 1 AS one,\n-- a comment line\n2 AS two;\n"),
    ("dml", "INSERT INTO notes VALUES (70, 'x');\nUPDATE notes SET body = 'y' WHERE id = 70;\n"
            "DELETE FROM notes WHERE id = 70;\n"),
    ("returning", "INSERT INTO notes VALUES (71, 'r') RETURNING id, body;\nDELETE FROM notes WHERE id = 71;\n"),
    ("transaction", "BEGIN;\nSELECT 1 AS inside;\nCOMMIT;\n"),
    ("ddl", "CREATE TABLE t2 (a int);\nDROP TABLE t2;\n"),
    ("ctas", "CREATE TEMP TABLE tt AS SELECT 1 AS a;\n"),
    ("notice", "DO $$BEGIN RAISE NOTICE 'hi %', 1; END$$;\n"),
    ("explain", "EXPLAIN (COSTS OFF) SELECT * FROM items WHERE id = 1;\n"),
    ("copy-out", "COPY (SELECT id, name FROM items ORDER BY id) TO STDOUT;\n"),
    ("prepare", "PREPARE p(int) AS SELECT $1 + 1 AS n;\nEXECUTE p(1);\nDEALLOCATE p;\n"),
    ("expanded", "\\x\nSELECT id, name FROM items ORDER BY id;\n"),
    ("error-plain", "SELECT nosuch;\n"),
    ("error-division", "SELECT 1/0;\n"),
    ("error-multiline", "SELECT 1,\n  nosuch\nFROM items;\n"),
    ("error-stops-script", "SELECT 1 AS a;\nSELECT nosuch;\nSELECT 2 AS b;\n"),
    ("describe-table", "\\d items\n"),
    ("describe-schemas", "\\dn\n"),
    ("list-tables", "\\dt\n"),
    ("semicolon-escape", "SELECT 1 AS x \\; SELECT 2 AS y;\n"),
    ("describe-constraints", "\\d orders\n"),
    ("describe-constraints-plus", "\\d+ orders\n"),
    ("describe-referenced", "CREATE INDEX items_name ON items (name);\n\\d items\nDROP INDEX items_name;\n"),
    ("describe-view", "\\d cheap\n"),
    ("describe-missing", "\\d nosuch\n"),
    ("list-tables-pattern", "\\dt i*\n"),
    ("list-roles", "\\du\n"),
    ("list-databases", "\\l\n"),
    ("pset-format-csv", "\\pset format csv\nSELECT id, name FROM items ORDER BY id;\n"),
    ("echo", "\\echo hello world\n"),
    ("go", "SELECT 1 AS one \\g\n"),
    ("expanded-multiline", "\\x\nSELECT 'a\nb' AS m, NULL AS n;\n"),
    ("union-alignment", "SELECT 1.5::numeric AS a, 'x' AS b UNION ALL SELECT 100, 'yy';\n"),
    ("booleans", "SELECT true AS t, false AS f;\n"),
    ("timestamps", "SELECT '2024-01-02 03:04:05'::timestamp AS ts, '1 day'::interval AS iv;\n"),
    ("long-text", "SELECT repeat('ab', 50) AS r;\n"),
    ("empty-string", "SELECT '' AS e;\n"),
    ("wide-characters", "SELECT '日本語' AS j, 'x' AS k;\n"),
    ("copy-in", "CREATE TEMP TABLE ci (a int, b text);\nCOPY ci FROM STDIN;\n1\tx\n\\.\nSELECT * FROM ci;\n"),
    ("raise-exception", "DO $$BEGIN RAISE EXCEPTION 'boom'; END$$;\n"),
    ("error-in-transaction", "BEGIN;\nSELECT nosuch;\nROLLBACK;\n"),
    ("savepoint", "BEGIN;\nSAVEPOINT s;\nROLLBACK TO s;\nCOMMIT;\n"),
    ("no-semicolon-at-end", "SELECT 42 AS answer\n"),
    ("only-comments", "-- nothing\n/* at all */\n"),
    ("list-views", "\\dv\n"),
    ("list-indexes", "\\di\n"),
    ("list-sequences", "\\ds\n"),
    ("list-functions", "CREATE FUNCTION f1(a int, b text) RETURNS int LANGUAGE sql AS 'SELECT a';\n\\df\nDROP FUNCTION f1;\n"),
    ("list-tables-plus", "\\dt+ items\n"),
    ("describe-sequence", "CREATE SEQUENCE sq;\n\\d sq\nDROP SEQUENCE sq;\n"),
    ("describe-index", "\\d items_pkey\n"),
    ("set-list-one", "\\set x 1\n\\echo :x\n"),
    ("errverbose-none", "\\errverbose\n"),
    ("help-unknown", "\\frobnicate\n"),
    ("timing-toggle", "\\timing off\n"),
    ("pset-null-expanded", "\\pset null (nil)\n\\x\nSELECT NULL AS n, 1 AS one;\n"),
    ("select-into-error", "SELECT 1 INTO;\n"),
    ("nested-comment", "SELECT /* a /* b */ c */ 1 AS one;\n"),
    ("dollar-tag-function", "CREATE FUNCTION f2() RETURNS text LANGUAGE plpgsql AS $fn$ BEGIN RETURN 'x;y'; END $fn$;\n"
                            "SELECT f2();\nDROP FUNCTION f2;\n"),
    # The issue's items, worst first.
    ("i1-begin-atomic-function", "CREATE FUNCTION add_one(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n"
                                 "  SELECT a + 1;\nEND;\nSELECT add_one(41);\nDROP FUNCTION add_one;\n"),
    ("i1-begin-atomic-procedure", "CREATE PROCEDURE put(a int) LANGUAGE sql\nBEGIN ATOMIC\n"
                                  "  INSERT INTO notes VALUES (a, 'p');\n  DELETE FROM notes WHERE id = a;\nEND;\n"
                                  "CALL put(80);\nDROP PROCEDURE put;\n"),
    ("i1-begin-atomic-case", "CREATE OR REPLACE FUNCTION sign_of(a int) RETURNS text LANGUAGE sql\nBEGIN ATOMIC\n"
                             "  SELECT CASE WHEN a < 0 THEN 'neg' ELSE 'pos' END;\nEND;\n"
                             "SELECT sign_of(-1), sign_of(1);\nDROP FUNCTION sign_of;\n"),
    ("i2-meta-after-comment", "-- list the tables\n\\dt\nSELECT 1 AS after;\n"),
    ("i2-describe-after-comment", "-- describe\n\\d notes\n"),
    ("i3-scs-off", "SET standard_conforming_strings = off;\nSELECT 'it\\'s; here' AS s;\nSELECT 2 AS two;\n"),
    ("i3-scs-off-e-string", "SET standard_conforming_strings = off;\nSELECT E'x\\';y' AS e, 'a\\\\' AS b;\n"),
    ("i4-fails-after-rows", "SELECT g, 10 / (3 - g) AS q FROM generate_series(1, 5) g;\n"),
    ("i4-fails-after-rows-csv", "\\pset format csv\nSELECT g, 10 / (3 - g) AS q FROM generate_series(1, 5) g;\n"),
    ("i4-fails-after-a-batch", "SELECT g, 10 / (1500 - g) AS q FROM generate_series(1, 2000) g;\n"),
    ("i5-control-characters", "SELECT id, body FROM notes WHERE id IN (2, 4, 6) ORDER BY id;\n"),
    ("i5-escape-expanded", "\\x\nSELECT body FROM notes WHERE id = 2;\n"),
    ("i6-do-instead-select", "INSERT INTO ruled VALUES (7);\n"),
    ("i7-null-default", "SELECT NULL AS n, 1 AS one;\n"),
    ("i7-null-items", "SELECT id, price, tags FROM items ORDER BY id;\n"),
    ("i7-pset-null", "\\pset null X\nSELECT NULL AS n;\n"),
    ("i8-error-after-comment", "-- leading comment\nSELECT nosuch;\n"),
    ("i8-error-after-block-comment", "/* block */ SELECT nosuch FROM items;\n"),
    ("i8-error-comment-inside", "SELECT nosuch FROM items -- comment\n;\n"),
    ("i9-describe-plus", "\\d+ items\n"),
    ("i9-variables", "\\set n 5\n\\set t items\nSELECT :n AS n, :'t' AS lit, count(*) AS :\"t\" FROM :t;\n"),
    ("i9-variable-quoting", "\\set v 'it''s'\nSELECT :'v' AS v, :{?v} AS set, :{?nope} AS unset;\n"),
    ("i9-zero-columns", "SELECT;\n"),
    ("i9-zero-columns-rows", "SELECT FROM items;\n"),
    ("i9-tabs", "SELECT id, body FROM notes WHERE id IN (1, 7) ORDER BY id;\n"),
]

# Entries byte-identical: 53 of 105 (50.5%) before this work; after it 103 of 105
# (98.1%): \d of a sequence or an index still prints the table layout.
PARITY_FLOOR = 98.0


def pg_target(env):
    return f"""  paritydb = {{ type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "parity_b",
           user = "bastion_svc", password_file = "keys/pg_password", allow = {{ "ops" }},
           policy = "{env.allow_all}" }},"""


def normalise_psql(err):
    return re.sub(r"(?m)^psql:<stdin>:\d+: ", "", err)


class PsqlParityTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        try:
            env.pg = pg_cluster.PostgresCluster(os.path.join(env.d, "pg"))
            r = env.pg.psql(None, input=FIXTURE.encode())
            assert r.returncode == 0, r.stderr
            for db in ("parity_b", "parity_p"):
                r = env.pg.psql(None, db=db, input=("SET ROLE bastion_svc;" + SCHEMA).encode())
                assert r.returncode == 0, r.stderr
            pw = os.path.join(env.keys.d, "pg_password")
            with open(pw, "w") as f:
                f.write("held-secret-pw\n")
            os.chmod(pw, 0o600)
            env.allow_all = os.path.join(env.d, "allow_all.lua")
            with open(env.allow_all, "w") as f:
                # Everything, except dropping the table "guarded" (to show each
                # statement the splitter hands out is decided on its own).
                f.write("function on_command(c)\n"
                        "  if c.kind == 'sql' and c.sql.statement == 'drop' then\n"
                        "    for _, w in ipairs(c.sql.writes) do\n"
                        "      if w:find('guarded') then return deny('guarded is kept') end\n"
                        "    end\n"
                        "  end\n"
                        "  return allow()\n"
                        "end\n")
            env.start_bastion(targets=env.default_targets() + "\n" + pg_target(env))
        except BaseException:
            env.close()
            raise
        cls.results = {}

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def through_bastion(self, script):
        r = self.env.ssh("paritydb", input=script.encode(), timeout=60)
        return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), r.returncode

    def through_psql(self, script):
        e = self.env.pg.env()
        e.update(PGUSER="bastion_svc", PGDATABASE="parity_p")
        r = run(["psql", "-X", "-v", "ON_ERROR_STOP=1"], env=e, input=script.encode())
        return r.stdout.decode(errors="replace"), normalise_psql(r.stderr.decode(errors="replace")), r.returncode

    def compare(self, name):
        if name not in self.results:
            script = dict(CORPUS)[name]
            self.results[name] = (self.through_bastion(script), self.through_psql(script))
        return self.results[name]

    def test_corpus_parity(self):
        same, diffs = 0, []
        for name, _ in CORPUS:
            b, p = self.compare(name)
            if b == p:
                same += 1
            else:
                diffs.append(f"--- {name}\n  bastion: {b!r}\n  psql:    {p!r}")
        pct = 100.0 * same / len(CORPUS)
        sys.stderr.write(f"\npsql parity: {same}/{len(CORPUS)} entries byte-identical ({pct:.1f}%)\n")
        for d in diffs:
            sys.stderr.write(d + "\n")
        self.assertGreaterEqual(pct, PARITY_FLOOR)

    def test_issue_items_match_psql_exactly(self):
        for name, _ in CORPUS:
            if re.match(r"i\d-", name):
                with self.subTest(name):
                    b, p = self.compare(name)
                    self.assertEqual(b, p)

    def test_begin_atomic_body_is_one_statement(self):
        name = "i1-begin-atomic-function"
        b, _ = self.compare(name)
        self.assertEqual(b, ("CREATE FUNCTION\n add_one \n---------\n      42\n(1 row)\n\nDROP FUNCTION\n", "", 0))
        rows = self.env.audit_eventually(
            "SELECT text FROM commands WHERE kind='sql' AND text LIKE 'CREATE FUNCTION add_one%'",
            [("CREATE FUNCTION add_one(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT a + 1;\nEND",)])
        self.assertEqual(rows, [("CREATE FUNCTION add_one(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n"
                                 "  SELECT a + 1;\nEND",)])

    def test_control_characters_are_shown_escaped(self):
        b, _ = self.compare("i5-control-characters")
        self.assertNotIn("\x1b", b[0])
        self.assertIn("esc\\x1B[31mred", b[0])

    def test_failed_statement_prints_no_rows(self):
        b, _ = self.compare("i4-fails-after-rows")
        self.assertEqual(b, ("", "ERROR:  division by zero\n", 3))

    def test_json_stays_valid_when_a_statement_fails(self):
        r = self.env.ssh("paritydb", ["--", "--json SELECT g, 10 / (3 - g) AS q FROM generate_series(1, 5) g"])
        self.assertEqual((r.stdout.decode(), r.stderr.decode(), r.returncode), ("", "ERROR:  division by zero\n", 3))

    def test_variables_are_interpolated_before_the_decision(self):
        self.compare("i9-variables")
        rows = self.env.audit_eventually(
            "SELECT text, decision FROM commands WHERE kind='sql' AND text LIKE 'SELECT 5 AS n%'",
            [("SELECT 5 AS n, 'items' AS lit, count(*) AS \"items\" FROM items", "allow")])
        self.assertEqual(rows, [("SELECT 5 AS n, 'items' AS lit, count(*) AS \"items\" FROM items", "allow")])

    def test_split_with_standard_strings_off_is_decided_statement_by_statement(self):
        # With standard_conforming_strings off, 'a\'' is a whole literal: the
        # DROP after it is a statement of its own, and the policy sees it.
        script = "SET standard_conforming_strings = off;\nSELECT 'a\\'' AS a ; DROP TABLE guarded ; SELECT 1 AS b;\n"
        r = self.env.ssh("paritydb", input=script.encode())
        self.assertEqual((r.stdout.decode(), r.returncode), ("SET\n a  \n----\n a'\n(1 row)\n\n", 126))
        self.assertIn("ERROR:  denied by policy: guarded is kept\n", r.stderr.decode())
        rows = self.env.audit_eventually(
            "SELECT text, decision FROM commands WHERE kind='sql' AND text LIKE 'DROP TABLE guarded%'",
            [("DROP TABLE guarded", "deny")])
        self.assertEqual(rows, [("DROP TABLE guarded", "deny")])
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM guarded", db="parity_b"), "0")

    def test_a_result_past_the_hold_cap_streams_and_says_so_when_it_fails(self):
        # 4 MiB are held; past that rows are shown as they come, and a later
        # failure says how many were shown (JSON stays valid).
        r = self.env.ssh("paritydb", ["--", "--json SELECT g, repeat('x', 100) AS pad, 10 / (60000 - g) AS q "
                                      "FROM generate_series(1, 70000) g"], timeout=120)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(len(json.loads(r.stdout)), 59999)
        self.assertEqual(r.stderr.decode(), "bastion: 59999 rows of this result were shown before it failed "
                                            "(results over 4 MiB are shown as they arrive)\nERROR:  division by zero\n")

    def test_console_begin_atomic_variables_and_pasted_lines(self):
        argv = self.env.ssh_base(tty=True) + ["paritydb@127.0.0.1"]
        s = PtySession(argv, 30, 120, env={"TERM": "xterm-256color"})
        s.read_until(b"paritydb=> ")
        # The body's ';' does not end the statement: psql's continuation prompt.
        s.send(b"CREATE FUNCTION twice(a int) RETURNS int LANGUAGE sql\rBEGIN ATOMIC\r")
        s.read_until(b"BEGIN ATOMIC\r\nparitydb-> ")
        s.send(b"  SELECT a * 2;\r")
        s.read_until(b"SELECT a * 2;\r\nparitydb-> ")
        s.send(b"END;\r")
        s.read_until(b"CREATE FUNCTION\r\nparitydb=> ")
        # Lines pasted at once run in order: the \set before the :name using it.
        s.send(b"-- a comment\r\\set n 21\rSELECT twice(:n) AS answer;\r")
        out = s.read_until(b"(1 row)\r\n\r\nparitydb=> ")
        self.assertIn(b" answer \r\n--------\r\n     42\r\n(1 row)\r\n", out)
        s.send(b"DROP FUNCTION twice;\r")
        s.read_until(b"DROP FUNCTION\r\nparitydb=> ")
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)

    def test_rule_rows_are_shown(self):
        b, _ = self.compare("i6-do-instead-select")
        self.assertEqual(b, ("    msg    | x \n-----------+---\n from rule | 7\n(1 row)\n\nINSERT 0 0\n", "", 0))


if __name__ == "__main__":
    main()
