"""Targets as SSH subsystems (issue 21), through the real OpenSSH client: a
login that names no target (`ssh -s bastion TARGET`) chooses each channel's
target by the subsystem name; with connection sharing (ControlMaster) one
login serves several targets at once, each channel decided, audited and
recorded with its own target; `targets` lists what the identity may use;
`sftp -s TARGET/sftp` reaches that host's sftp; refusals are one line and a
non-zero exit."""
import glob
import json
import os
import shutil
import subprocess
import time

import pg_cluster
from fake_kube_api import FakeKube
from harness import BASTIONCTL, BastionTest, Env, main, run
from pty_driver import PtySession

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")
KUBECTL = shutil.which("kubectl")
TOKEN = "held-kube-token-21"

SCHEMA = r"""
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text, balance numeric(10,2), note text);
INSERT INTO customers VALUES (1, 'alice', 'alice@example.com', '123-45-6789', 12.50, NULL),
  (2, 'bob', 'bob@example.org', '987-65-4321', 3.00, NULL);
"""

LOGIN = "bastion@127.0.0.1"  # the reserved login name: no target


class SubsystemTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        pg_cluster.shop_env(env, SCHEMA)
        env.kube = FakeKube(TOKEN)
        kc = os.path.join(env.keys.d, "kubeconfig")
        env.kube.kubeconfig(kc)
        os.chmod(kc, 0o600)
        env.bob = env.keys.cert(env.keys.keygen("bob"), env.ca, "bob", "dev")
        policy = os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua"))
        env.start_bastion(targets=env.default_targets() + "\n" + pg_cluster.shop_target(env, "shopdb", policy) + f"""
  k8s = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "web", allow = {{ "ops" }},
          kubectl = "{KUBECTL}" }},""", limits="login_grace_time = 5, max_targets_per_session = 2")

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        cls.env.kube.stop()
        super().tearDownClass()

    def sub(self, name, input=b"", key=None, login=LOGIN, extra=(), timeout=30):
        return run(self.env.ssh_base(key, extra=extra) + ["-s", login, name], input=input, timeout=timeout)

    def session_of(self, since_id=0):
        rows = self.env.audit("SELECT id FROM sessions WHERE rowid > ? ORDER BY rowid", (since_id,))
        return [r[0] for r in rows]

    def master(self):
        """A ControlMaster connection (no channel of its own): the mux options
        for clients sharing it, and a cleanup."""
        path = os.path.join(self.env.d, f"cm-{self._testMethodName[-12:]}")
        r = run(self.env.ssh_base() + ["-o", "ControlMaster=yes", "-o", f"ControlPath={path}",
                                       "-o", "ControlPersist=60", "-f", "-N", LOGIN], timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(lambda: run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={path}", "-O", "exit", LOGIN]))
        return ["-o", "ControlMaster=no", "-o", f"ControlPath={path}"]

    def held(self, name, mux, first_line, row_text):
        """A channel to `name` on the shared connection, kept open (stdin
        open) once `first_line` was decided (its audit row `row_text`)."""
        p = subprocess.Popen(self.env.ssh_base(extra=mux) + ["-s", LOGIN, name], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        p.stdin.write(first_line)
        p.stdin.flush()
        self.assertEqual(self.env.audit_eventually("SELECT count(*) FROM commands WHERE text = ?", [(1,)],
                                                   (row_text,)), [(1,)])
        return p

    def session_rows(self, sid):
        return self.env.audit("SELECT channel, kind, text, decision, json_extract(details, '$.channel_target') "
                              "FROM commands WHERE session_id = ? ORDER BY id", (sid,))

    def last_session(self):
        return self.env.audit("SELECT id FROM sessions ORDER BY rowid DESC LIMIT 1")[0][0]

    # --- one channel, its target named by the subsystem ---------------------

    def test_remote_host_shell_from_stdin(self):
        r = self.sub("web1", b"echo hello\necho $((6*7))\n")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hello\n42\n", b""))
        sid = self.last_session()
        self.assertEqual(self.env.audit_eventually("SELECT target, end_reason FROM sessions WHERE id = ?",
                                                   [("bastion", "client disconnected")], (sid,)),
                         [("bastion", "client disconnected")])
        self.assertEqual(self.session_rows(sid), [
            (-1, "session", "", "allow", "web1"),
            (0, "shell", "", "allow", "web1"),
            (0, "shell_line", "echo hello", "allow", "web1"),
            (0, "shell_line", "echo $((6*7))", "allow", "web1"),
        ])

    def test_postgres_script_from_stdin(self):
        r = self.sub("shopdb", b"SELECT id, name FROM customers ORDER BY id;\nSELECT 1 AS one;\n")
        self.assertEqual(r.stderr, b"")
        self.assertEqual(r.stdout, b" id | name  \n----+-------\n  1 | alice\n  2 | bob\n(2 rows)\n\n"
                                   b" one \n-----\n   1\n(1 row)\n\n")
        self.assertEqual(r.returncode, 0)
        self.assertEqual([row[1:3] + row[4:] for row in self.session_rows(self.last_session())], [
            ("session", "", "shopdb"), ("shell", "", "shopdb"),
            ("sql", "SELECT id, name FROM customers ORDER BY id", "shopdb"), ("sql", "SELECT 1 AS one", "shopdb"),
        ])

    def test_postgres_console_with_a_pty(self):
        s = PtySession(self.env.ssh_base(tty=True) + ["-s", LOGIN, "shopdb"], 30, 120, env={"TERM": "xterm"})
        s.read_until(b"shopdb=> ")
        s.send(b"SELECT count(*) AS n FROM customers;\r")
        s.read_until(b" n \r\n---\r\n 2\r\n(1 row)\r\n\r\nshopdb=> ")
        s.send(b"\\q\r")
        self.assertEqual(s.wait(), 0)
        sid = self.last_session()
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, text, json_extract(details, '$.channel_target') FROM commands WHERE session_id = ? "
            "AND channel = 0 AND kind = 'sql'", [("sql", "SELECT count(*) AS n FROM customers", "shopdb")], (sid,)),
            [("sql", "SELECT count(*) AS n FROM customers", "shopdb")])
        # Recorded as the console it was, titled with its target.
        path = self.env.audit("SELECT path FROM recordings WHERE session_id = ? AND channel = 0", (sid,))[0][0]
        with open(path) as f:
            self.assertEqual(json.loads(f.readline())["title"], "alice -> shopdb")

    def test_kubectl_console_from_stdin(self):
        r = self.sub("k8s", b"logs api-7d9\n")
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(r.stdout, b"log line 1 from api-7d9\nlog line 2 from api-7d9\nlog line 3 from api-7d9\n")
        rows = self.session_rows(self.last_session())
        self.assertEqual(rows[:3], [(-1, "session", "", "allow", "k8s"), (0, "shell", "", "allow", "k8s"),
                                    (0, "kubectl", "logs api-7d9", "allow", "k8s")])
        self.assertEqual({row[4] for row in rows}, {"k8s"})

    def test_sftp_through_target_slash_sftp(self):
        # sftp sends a -s name with a slash as an exec command ("web1/sftp"),
        # without one as a subsystem; ssh -s sends the subsystem.
        src = os.path.join(self.env.d, "sub-upload.bin")
        data = os.urandom(256 * 1024 + 5)
        with open(src, "wb") as f:
            f.write(data)
        dst, back = os.path.join(self.env.d, "sub-uploaded.bin"), os.path.join(self.env.d, "sub-back.bin")
        opts = []
        it = iter(self.env.ssh_base()[1:])
        for a in it:
            if a == "-p":
                opts += ["-P", next(it)]
            elif a != "-T":
                opts.append(a)
        r = run(["sftp", "-b", "-", "-s", "web1/sftp"] + opts + [LOGIN], input=f"put {src} {dst}\nget {dst} {back}\n".encode())
        self.assertEqual(r.returncode, 0, r.stderr)
        for path in (dst, back):
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data)
        sid = self.last_session()
        # The channel and each file operation in it name the channel's target.
        expected = [(0, "subsystem", "sftp", "allow", "web1", "not recorded (file transfer)"),
                    (0, "sftp", f"open {dst} write,create,truncate", "allow", "web1", "unrecorded"),
                    (0, "sftp", f"open {dst} read", "allow", "web1", "unrecorded")]
        self.assertEqual(self.env.audit_eventually(
            "SELECT channel, kind, text, decision, json_extract(details, '$.channel_target'), recording_state "
            "FROM commands WHERE session_id = ? AND channel >= 0 ORDER BY id", expected, (sid,)), expected)
        # ssh -s sends it as a subsystem: the same channel.
        r = self.sub("web1/sftp", b"")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.session_rows(self.last_session())[1], (0, "subsystem", "sftp", "allow", "web1"))
        # On a database target, as on `ssh shopdb@bastion -s sftp`: refused with the reason.
        r = self.sub("shopdb/sftp")
        self.assertEqual((r.returncode, r.stderr), (1, b"bastion: file transfer is not available on postgres targets\n"))

    def test_approvals_and_access_answer_as_subsystems(self):
        r = self.sub("approvals", b"list\n")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"no pending requests you may decide\n", b""))
        r = self.sub("access", b"list\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.session_rows(self.last_session())[:2],
                         [(-1, "session", "", "allow", "access"), (0, "shell", "", "allow", "access")])

    # --- the listing ----------------------------------------------------------

    def test_targets_lists_what_allow_opens(self):
        r = self.sub("targets")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"dead\nk8s\nshopdb\nweb1\n", b""))
        # db1 allows dba only; bob (dev) is in no target's allow.
        r = self.sub("targets", key=self.env.bob)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))
        r = self.sub("targets --json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [{"name": "dead", "type": "ssh"}, {"name": "k8s", "type": "kubectl"},
                                                {"name": "shopdb", "type": "postgres"}, {"name": "web1", "type": "ssh"}])
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, text, decision, reason, exit_status, recording_state FROM commands WHERE session_id = ?",
            [("subsystem", "targets --json", "allow", "target list", 0, "unrecorded")], (self.last_session(),)),
            [("subsystem", "targets --json", "allow", "target list", 0, "unrecorded")])

    # --- refusals ---------------------------------------------------------------

    def test_refusals_are_one_line_and_non_zero(self):
        cases = [
            ("nosuch", LOGIN, 'bastion: unknown target "nosuch"\n', "access refused"),
            ("db1", LOGIN, 'bastion: access to target "db1" is not allowed for alice\n', "access refused"),
            ("audit", LOGIN, 'bastion: unknown target "audit"\n', "access refused"),
            ("sftp", LOGIN, "bastion: no target named; use sftp -s TARGET/sftp bastion\n", "access refused"),
            ("shopdb", "web1@127.0.0.1", "bastion: this connection is for web1; use ssh -s bastion shopdb\n",
             "subsystem refused"),
            ("k8s/sftp", "web1@127.0.0.1", "bastion: this connection is for web1; use ssh -s bastion k8s/sftp\n",
             "subsystem refused"),
        ]
        for name, login, line, reason in cases:
            with self.subTest(name=name, login=login):
                r = self.sub(name, login=login)
                self.assertEqual((r.returncode, r.stdout, r.stderr.decode()), (1, b"", line))
                self.assertEqual(self.env.audit_eventually("SELECT end_reason FROM sessions WHERE id = ?", [(reason,)],
                                                           (self.last_session(),)), [(reason,)])
        # A subsystem the connection's own target does not serve is refused as before.
        r = self.sub("nosuch", login="web1@127.0.0.1")
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"subsystem request failed", r.stderr)
        # `ssh TARGET@bastion` keeps working as it did.
        r = self.env.ssh("web1", "echo same")
        self.assertEqual((r.returncode, r.stdout), (0, b"same\n"))
        self.assertEqual(self.env.audit("SELECT target, json_extract(details, '$.channel_target') FROM sessions s JOIN commands c "
                                        "ON c.session_id = s.id WHERE s.id = ? AND c.kind = 'exec'",
                                        (self.last_session(),)), [("web1", None)])

    # --- connection sharing: one login, several targets ----------------------------

    def test_control_master_two_targets_in_parallel(self):
        mux = self.master()
        sid = self.last_session()
        web = self.held("web1", mux, b"echo from-web1\n", "echo from-web1")
        # While web1's channel is open, a database channel on the same connection.
        r = self.sub("shopdb", b"SELECT name FROM customers WHERE id = 2;\n", extra=mux)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b" name \n------\n bob\n(1 row)\n\n", b""))
        out, err = web.communicate(b"echo still-web1\n", timeout=30)
        self.assertEqual((web.returncode, out, err), (0, b"from-web1\nstill-web1\n", b""))
        self.assertEqual(self.last_session(), sid)  # no second login
        self.assertEqual(self.session_rows(sid), [
            (-1, "session", "", "allow", "web1"),
            (0, "shell", "", "allow", "web1"),
            (0, "shell_line", "echo from-web1", "allow", "web1"),
            (-1, "session", "", "allow", "shopdb"),
            (1, "shell", "", "allow", "shopdb"),
            (1, "sql", "SELECT name FROM customers WHERE id = 2", "mask", "shopdb"),
            (0, "shell_line", "echo still-web1", "allow", "web1"),
        ])
        # Each channel's recording names its own target.
        titles = {}
        for channel, path in self.env.audit("SELECT channel, path FROM recordings WHERE session_id = ?", (sid,)):
            with open(path) as f:
                titles[channel] = json.loads(f.readline())["title"]
        self.assertEqual(titles, {0: "alice -> web1", 1: "alice -> shopdb"})
        # bastionctl shows each command's own target, and finds the session by either.
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "audit", "commands", "--db", db, "--session", sid, "--target", "shopdb", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([(c["target"], c["kind"], c["text"]) for c in json.loads(r.stdout)["commands"]],
                         [("shopdb", "sql", "SELECT name FROM customers WHERE id = 2"), ("shopdb", "shell", ""),
                          ("shopdb", "session", "")])
        for target in ("web1", "shopdb", "bastion"):
            r = run([BASTIONCTL, "audit", "sessions", "--db", db, "--target", target, "--json"])
            self.assertIn(sid, [x["id"] for x in json.loads(r.stdout)["sessions"]], target)
        r = run([BASTIONCTL, "audit", "sessions", "--db", db, "--target", "k8s", "--json"])
        self.assertNotIn(sid, [x["id"] for x in json.loads(r.stdout)["sessions"]])

    def test_targets_per_connection_limit_and_close_with_last_channel(self):
        mux = self.master()
        sid = self.last_session()
        web = self.held("web1", mux, b"echo limit-web1\n", "echo limit-web1")
        db = self.held("shopdb", mux, b"SELECT 21 * 2 AS limit_db;\n", "SELECT 21 * 2 AS limit_db")
        r = self.sub("k8s", b"logs api-7d9\n", extra=mux)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, b"", b"bastion: too many targets on one connection (limits.max_targets_per_session = 2)\n"))
        # A further channel to a target already held is no new upstream.
        r = self.sub("web1", b"echo second-web1\n", extra=mux)
        self.assertEqual((r.returncode, r.stdout), (0, b"second-web1\n"), r.stderr)
        out, _ = db.communicate(b"", timeout=30)
        self.assertEqual(out, b" limit_db \n----------\n       42\n(1 row)\n\n")
        # shopdb's upstream closed with its last channel: room for k8s.
        end = time.time() + 10
        while time.time() < end and not any(l.get("msg") == "target closed" and l.get("target") == "shopdb"
                                             and l.get("session") == sid for l in self.env.bastion.log_lines()):
            time.sleep(0.05)
        r = self.sub("k8s", b"logs api-7d9\n", extra=mux)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(r.stdout.splitlines()[0], b"log line 1 from api-7d9")
        web.communicate(b"", timeout=30)
        self.assertEqual(web.returncode, 0)

    def test_no_picker_on_a_connection_whose_channels_chose_targets(self):
        # The picker retargets the whole session; here it would move the
        # open web1 channel's session, so a pty shell gets the usage instead.
        mux = self.master()
        web = self.held("web1", mux, b"echo picker-web1\n", "echo picker-web1")
        s = PtySession(self.env.ssh_base(tty=True, extra=mux) + [LOGIN], env={"TERM": "xterm"})
        # Through a multiplexing client the local pty may not be raw yet
        # when the first lines arrive (its ONLCR makes CR CR LF): the lines
        # themselves are what is checked.
        s.read_until(b'bastion: unknown target "bastion"\r')
        s.read_until(b"bastion: targets you may use: dead, k8s, shopdb, web1\r")
        self.assertEqual(s.wait(), 1)
        self.assertNotIn(b"pick a target", s.buf)
        out, _ = web.communicate(b"echo after\n", timeout=30)
        self.assertEqual((web.returncode, out), (0, b"picker-web1\nafter\n"))

    def test_reload_withdrawing_one_target_ends_only_its_channels(self):
        mux = self.master()
        web = self.held("web1", mux, b"echo before-reload\n", "echo before-reload")
        db = self.held("shopdb", mux, b"SELECT 'kept' AS still;\n", "SELECT 'kept' AS still")
        with open(self.env.bastion.conf) as f:
            original = f.read()
        web1_allow = 'allow = { "ops" },\n           labels = { env = "test" }'
        self.assertIn(web1_allow, original)
        self.addCleanup(lambda: self.env.bastion.rewrite_config_and_reload(original))
        self.assertTrue(self.env.bastion.rewrite_config_and_reload(
            original.replace(web1_allow, 'allow = { "dba" },\n           labels = { env = "test" }')))
        out, err = web.communicate(timeout=30)
        self.assertEqual((web.returncode, out, err), (
            255, b"before-reload\n", b'bastion: your access to "web1" was withdrawn; its channels were closed\n'))
        # A new channel to it on this connection is refused; the database channel goes on.
        r = self.sub("web1", b"echo again\n", extra=mux)
        self.assertEqual((r.returncode, r.stderr), (
            1, b'bastion: your access to "web1" was withdrawn; its channels were closed\n'))
        out, err = db.communicate(b"SELECT 2 AS two;\n", timeout=30)
        self.assertEqual((db.returncode, out, err), (
            0, b" still \n-------\n kept\n(1 row)\n\n two \n-----\n   2\n(1 row)\n\n", b""))


if __name__ == "__main__":
    main()
