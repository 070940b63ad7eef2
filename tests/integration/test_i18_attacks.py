"""Outside review of issue 18 (the PostgreSQL wire proxy over `ssh -L`):
each test is one attack through the forward, with a raw protocol client
(Raw, from test_pg_wire) against a real server and a real bastiond."""
import os
import struct
import subprocess
import unittest

import pg_cluster
from harness import BastionTest, Env, free_port, main, wait_port, stop_process
from test_pg_wire import POLICY_DIR, SCHEMA, Raw, fields, msg


def cstr(s):
    return s.encode() + b"\0"


def parse(name, sql):
    return msg(b"P", cstr(name) + cstr(sql) + b"\0\0")


def bind(portal, stmt, result_formats=()):
    return msg(b"B", cstr(portal) + cstr(stmt) + b"\0\0" + b"\0\0" +
               struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f) for f in result_formats))


def describe_portal(name):
    return msg(b"D", b"P" + cstr(name))


def execute(portal, max_rows=0):
    return msg(b"E", cstr(portal) + struct.pack("!i", max_rows))


SYNC = msg(b"S")


def data_rows(out):
    """Each DataRow's first column, as text."""
    rows = []
    for t, body in out:
        if t == b"D":
            n = struct.unpack("!i", body[2:6])[0]
            rows.append(None if n < 0 else body[6:6 + n].decode())
    return rows


class I18AttackTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        pg_cluster.shop_env(env, SCHEMA)
        env.lead = env.keys.cert(env.keys.keygen("lee"), env.ca, "lee", "ops,dba-lead")
        # An admin without pii-reader: code the text hides runs unreviewed, personal data stays masked.
        env.admin = env.keys.cert(env.keys.keygen("ada"), env.ca, "ada", "ops,dba-admin")
        policy = os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua"))
        # A target whose policy lets derived objects (cursors) be made from masked relations.
        derived = os.path.join(env.d, "derived.lua")
        with open(derived, "w") as f:
            f.write('function on_command(c)\n  if c.kind ~= "sql" then return nil end\n'
                    '  return allow{ mask = { columns = { "email" }, allow_derived_objects = true } }\nend\n')
        env.start_bastion(targets=env.default_targets() + "\n" + pg_cluster.shop_target(env, "shopdb", policy) +
                          "\n" + pg_cluster.shop_target(env, "derived", derived),
                          extra="approvals = { timeout = 20 }")

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def tunnel(self, key=None, target="shopdb"):
        port = free_port()
        cmd = self.env.ssh_base(key, extra=["-N", "-L", f"127.0.0.1:{port}:{target}:5432", "-o",
                                            "ExitOnForwardFailure=yes"])
        p = subprocess.Popen(cmd + [f"{target}@127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: stop_process(p))
        wait_port(port)
        return port

    def raw(self, key=None, target="shopdb"):
        c = Raw(self.tunnel(key, target))
        self.addCleanup(c.close)
        _, z = c.login()
        self.assertEqual(z, (b"Z", b"I"))
        return c

    # --- masks: a portal name the bastion bound, reused by SQL behind it ---

    def test_stale_portal_reused_by_declare(self):
        c = self.raw(target="derived")
        c.send(parse("", "SELECT 'x'::text AS a") + bind("p", "") + describe_portal("p") + execute("p") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["x"])
        # The implicit transaction ended at Sync: the server dropped portal p; SQL makes another p.
        c.send(msg(b"Q", b"BEGIN; DECLARE p CURSOR FOR SELECT email FROM customers ORDER BY id\0"))
        out, z = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"C", b"C", b"Z"])
        c.send(execute("p") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"E", b"Z"])
        self.assertEqual(fields(out[0][1])["M"], 'bastion: denied: portal "p" was not bound through this '
                                                 "connection's Bind messages")
        # In one transaction: SQL CLOSE drops the bound portal, DECLARE makes another under its name.
        c.send(parse("", "SELECT 'y'::text AS a") + bind("q", "") + describe_portal("q") + execute("q", 1) + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["y"])
        c.send(msg(b"Q", b"CLOSE q; DECLARE q CURSOR FOR SELECT email FROM customers ORDER BY id\0"))
        out, z = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"C", b"C", b"Z"])
        c.send(execute("q") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"E", b"Z"])
        self.assertEqual(fields(out[0][1])["M"], 'bastion: denied: portal "q" was not bound through this '
                                                 "connection's Bind messages")
        self.assertNotIn(b"@example", c.seen)
        # A portal bound in a transaction is still executed in parts.
        c.send(msg(b"Q", b"ROLLBACK; BEGIN\0"))
        c.until(b"Z")
        c.send(parse("", "SELECT 'z'::text AS a FROM generate_series(1, 2)") + bind("r", "") + describe_portal("r") +
               execute("r", 1) + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["z"])
        c.send(msg(b"Q", b"SELECT 1\0"))
        c.until(b"Z")
        c.send(execute("r", 1) + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["z"])

    # --- masks: what held ---

    def test_suspended_portal_continued_stays_masked(self):
        c = self.raw()
        c.send(msg(b"Q", b"BEGIN\0"))
        c.until(b"Z")
        c.send(parse("", "SELECT email FROM customers ORDER BY id") + bind("q", "") + execute("q", 1) + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"1", b"2", b"D", b"s", b"Z"])
        c.send(execute("q", 1) + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["****"])
        self.assertNotIn(b"@example", c.seen)

    # --- masks: a notification carries what the statement read ---

    def test_notify_payload_of_a_masked_column(self):
        c = self.raw(self.env.admin)
        c.send(msg(b"Q", b"LISTEN leak\0"))
        out, _ = c.until(b"Z")
        c.send(msg(b"Q", b"SELECT pg_notify('leak', email) FROM customers ORDER BY id\0"))
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["****", "****"])
        payloads = [body[4:].split(b"\0")[:2] for t, body in out if t == b"A"]
        self.assertEqual(payloads, [[b"leak", b""]] * 2)  # the channel passes, the payload is emptied
        self.assertNotIn(b"@example", c.seen)

    # --- a statement the policy denies, named by Parse (undecided) and run by SQL EXECUTE ---

    def test_parse_then_sql_execute_runs_an_undecided_statement(self):
        c = self.raw(self.env.admin)  # an admin: EXECUTE runs unreviewed, DELETE without WHERE stays denied
        c.send(msg(b"Q", b"DELETE FROM scratch\0"))
        out, _ = c.until(b"Z")
        self.assertEqual(fields(out[0][1])["M"], "bastion: denied: DELETE without WHERE would change every row")
        self.env.pg.psql("INSERT INTO scratch VALUES (77)", db="shop")
        self.addCleanup(lambda: self.env.pg.psql("DELETE FROM scratch WHERE x = 77", db="shop"))
        c.send(parse("wipe", "DELETE FROM scratch") + SYNC)
        out, _ = c.until(b"Z")
        refusal = ("bastion: denied: EXECUTE is refused on a connection whose Parse messages named statements: "
                   "those are decided at Bind, and EXECUTE would run them undecided")
        for sql in (b"EXECUTE wipe", b"EXPLAIN ANALYZE EXECUTE wipe", b"CREATE TABLE t_wipe AS EXECUTE wipe"):
            c.send(msg(b"Q", sql + b"\0"))
            out, _ = c.until(b"Z")
            self.assertEqual([m[0] for m in out], [b"E", b"Z"], sql)
            self.assertEqual(fields(out[0][1])["M"], refusal, sql)
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM scratch WHERE x = 77", db="shop"), "1")
        rows = self.env.audit_eventually("SELECT decision, reason FROM commands WHERE text = 'EXECUTE wipe'",
                                         [("deny", refusal[len("bastion: denied: "):])])
        self.assertEqual(rows, [("deny", refusal[len("bastion: denied: "):])])

    # --- masks: a reported setting carries what the statement read ---

    def test_parameter_status_of_a_masked_column(self):
        c = self.raw(self.env.admin)
        c.send(msg(b"Q", b"SELECT set_config('application_name', email, false) FROM customers WHERE id = 1\0"))
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["****"])
        self.assertIn((b"S", b"application_name\0bastion: withheld because masks apply in this session\0"), out)
        self.assertNotIn(b"@example", c.seen)


    def test_error_quoting_a_masked_value_is_withheld(self):
        c = self.raw()
        c.send(msg(b"Q", b"SELECT email::int FROM customers\0"))
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"T", b"E", b"Z"])
        self.assertEqual(fields(out[1][1]), {"S": "ERROR", "V": "ERROR", "C": "22P02",
                                             "M": "the error text is withheld because the statement reads masked columns"})
        self.assertNotIn(b"@example", c.seen)

    # A column's name made by dynamic SQL (DO ... OPEN c FOR EXECUTE, then
    # FETCH) from a masked value: under column masks, a result name the
    # statement's text does not show, and that is not its table column's
    # own name, is replaced by "?column?" in RowDescription.
    def test_column_name_made_from_a_masked_value(self):
        c = self.raw(self.env.admin)
        c.send(msg(b"Q", b"BEGIN; DO $$ DECLARE c refcursor := 'leaky'; BEGIN OPEN c FOR EXECUTE 'SELECT 1 AS ' || "
                         b"quote_ident((SELECT email FROM customers WHERE id = 1)); END $$; FETCH ALL FROM leaky\0"))
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["****"])
        t = [body for kind, body in out if kind == b"T"]
        self.assertEqual(len(t), 1)
        self.assertEqual(t[0][2:t[0].index(b"\0", 2)], b"?column?")
        self.assertNotIn(b"@example", c.seen)


    # --- per-connection maps are bounded: prepared statement names ---

    def test_prepared_statement_names_are_bounded(self):
        c = self.raw()
        c.send(b"".join(parse(f"s{i}", "SELECT 1") for i in range(10000)) + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"1"] * 10000 + [b"Z"])
        c.send(parse("one_more", "SELECT 1") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"E", b"Z"])
        self.assertEqual(fields(out[0][1])["C"], "53400")
        self.assertEqual(fields(out[0][1])["M"], "the bastion keeps at most 10000 prepared statement names per "
                                                 "connection; close some first")
        # The unnamed statement still works, and a closed name can be prepared again.
        c.send(parse("", "SELECT 6") + bind("", "") + describe_portal("") + execute("") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["6"])
        c.send(msg(b"C", b"Ss7\0") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"3", b"Z"])
        c.send(parse("s7", "SELECT 7") + bind("", "s7") + describe_portal("") + execute("") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["7"], out)

    # --- a Parse the server refused, a Bind pipelined after Sync ---

    def test_parse_refused_by_the_server_then_bind_after_sync(self):
        c = self.raw()  # DELETE without WHERE: denied, also at Bind
        self.env.pg.psql("INSERT INTO scratch VALUES (78)", db="shop")
        self.addCleanup(lambda: self.env.pg.psql("DELETE FROM scratch WHERE x = 78", db="shop"))
        c.send(parse("swap", "DELETE FROM scratch") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"1", b"Z"])
        # The server refuses this Parse (the name exists) and keeps the DELETE; the Bind after Sync binds it.
        c.send(parse("swap", "SELECT 1") + SYNC + bind("", "swap") + execute("") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"E", b"Z"])
        self.assertEqual(fields(out[0][1])["C"], "42P05")  # the server's: prepared statement "swap" already exists
        out, _ = c.until(b"Z")
        self.assertEqual([m[0] for m in out], [b"E", b"Z"])
        self.assertEqual(fields(out[0][1])["M"], 'bastion: denied: prepared statement "swap" is bound after a Sync '
                         "before the server answered its Parse (a refused Parse leaves another statement under the "
                         "name); wait for ParseComplete")
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM scratch WHERE x = 78", db="shop"), "1")
        # Once the server answered, the client binds what the server holds, decided as usual.
        c.send(parse("swap2", "SELECT 2") + SYNC)
        c.until(b"Z")
        c.send(bind("", "swap2") + describe_portal("") + execute("") + SYNC)
        out, _ = c.until(b"Z")
        self.assertEqual(data_rows(out), ["2"])
        self.assertEqual(self.env.audit("SELECT count(*) FROM commands WHERE text = 'SELECT 1'"), [(0,)])


    # --- a DataRow larger than the relay takes (held) ---

    def test_oversized_data_row_from_the_server(self):
        c = self.raw(self.env.admin)
        c.send(msg(b"Q", b"SELECT repeat('x', 70000000)\0"))
        out, z = c.until(b"Z")
        self.assertIsNone(z)  # closed
        self.assertEqual([m[0] for m in out], [b"T", b"E"])
        self.assertEqual(fields(out[1][1])["M"], "bastion: the server sent a message the bastion cannot relay")
        r = self.raw(self.env.admin)
        r.send(msg(b"Q", b"SELECT 5\0"))
        out, _ = r.until(b"Z")
        self.assertEqual(data_rows(out), ["5"])


if __name__ == "__main__":
    main()
