"""Pins, after the issue-13 refactor (target kinds as plug-ins, one channel
gate), the refusals each target kind gives an attacker holding a valid
certificate: subsystems, tunnels and reserved targets, with their exact
messages, exit statuses and audit rows. A later refactor must not drift."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import paramiko

import pg_cluster
import sshproto
from fake_kube_api import FakeKube
from harness import BASTIONCTL, BastionTest, Env, free_port, main, run
from test_kubectl_own import KUBECTL, POLICY_DIR

REFUSED = (paramiko.ChannelException, paramiko.SSHException, EOFError)


class StructureReviewTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        # A kubectl target (k8s, as test_kubectl_own), ssh targets (web1) and
        # a postgres target never reached: every refusal here comes first.
        cls.env = env = Env()
        try:
            env.kube = FakeKube("held-kube-token-review-5a1")
            kc = os.path.join(env.keys.d, "kubeconfig")
            env.kube.kubeconfig(kc)
            os.chmod(kc, 0o600)
            pw = os.path.join(env.keys.d, "pg_password")
            with open(pw, "w") as f:
                f.write("unused-pw\n")
            os.chmod(pw, 0o600)
            shutil.copy(os.path.join(POLICY_DIR, "commands.lua"), os.path.join(env.d, "commands.lua"))
            policy = os.path.abspath(os.path.join(POLICY_DIR, "kubernetes.lua"))
            env.start_bastion(targets=env.default_targets() + f"""
  k8s = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "web", allow = {{ "ops" }},
          policy = "{policy}", kubectl = "{KUBECTL}" }},
  deaddb = {{ type = "postgres", host = "127.0.0.1", port = {free_port()}, dbname = "shop",
             user = "bastion_svc", password_file = "keys/pg_password", allow = {{ "ops" }}, connect_timeout = 3 }},""")
        except BaseException:
            env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.kube.stop()
        super().tearDownClass()

    def channel(self, target):
        t = sshproto.connect(self.env.bastion.port, target, self.env.alice)
        self.addCleanup(t.close)
        c = t.open_session(timeout=10)
        c.settimeout(10)
        return t, c

    def last_forward_row(self):
        return self.env.audit("SELECT kind, text, decision, reason FROM commands WHERE kind='forward' "
                              "ORDER BY id DESC LIMIT 1")

    # --- subsystems per kind ------------------------------------------------

    def test_sftp_on_command_kinds_is_refused_with_its_kind_named(self):
        for target, kind in (("deaddb", "postgres"), ("k8s", "kubectl"), ("approvals", "approvals"),
                             ("access", "access")):
            with self.subTest(target=target):
                _, c = self.channel(target)
                c.invoke_subsystem("sftp")
                self.assertEqual(sshproto.finish(c),
                                 (1, b"", f"bastion: file transfer is not available on {kind} targets\n".encode()))

    def test_kubeconfig_subsystem_is_served_by_kubectl_targets_only(self):
        for target in ("web1", "deaddb", "approvals", "access"):
            with self.subTest(target=target):
                _, c = self.channel(target)
                with self.assertRaises(REFUSED):
                    c.invoke_subsystem("kubeconfig")
        rows = self.env.audit("SELECT count(*) FROM commands WHERE kind='subsystem' AND text='kubeconfig'")
        self.assertEqual(rows, [(0,)])  # refused at the request: nothing decided, nothing run

    def test_unknown_subsystems_are_refused_at_the_request_on_every_kind(self):
        for target in ("web1", "deaddb", "k8s", "approvals"):
            for name in ("bogus", "sftp-server", "KUBECONFIG", "kubeconfig "):
                with self.subTest(target=target, name=name):
                    _, c = self.channel(target)
                    with self.assertRaises(REFUSED):
                        c.invoke_subsystem(name)

    # --- tunnels per kind ----------------------------------------------------

    def tunnel(self, target, host, port):
        t = sshproto.connect(self.env.bastion.port, target, self.env.alice)
        self.addCleanup(t.close)
        with self.assertRaises(paramiko.ChannelException):
            t.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 40000), timeout=10)

    def test_tunnels_to_kinds_without_one_are_refused(self):
        for target, port in (("web1", 22), ("approvals", 443), ("access", 443)):
            with self.subTest(target=target, port=port):
                self.tunnel(target, target, port)
                self.assertEqual(self.last_forward_row(),
                                 [("forward", f"direct-tcpip to {target}:{port}", "deny",
                                   "port forwarding is not allowed")])

    def test_postgres_tunnel_names_only_its_own_port(self):
        # A postgres target takes tunnels since the wire proxy (issue 18):
        # only to itself, on 5432.
        for host, port in (("deaddb", 443), ("deaddb", 5433), ("127.0.0.1", 5432), ("k8s", 5432)):
            with self.subTest(host=host, port=port):
                self.tunnel("deaddb", host, port)
                self.assertEqual(self.last_forward_row(),
                                 [("forward", f"direct-tcpip to {host}:{port}", "deny",
                                   "port forwarding is not allowed (a postgres target forwards only deaddb:5432)")])

    def test_kubectl_tunnel_names_only_its_own_api(self):
        for host, port in (("k8s", 6443), ("web1", 443), ("127.0.0.1", 443), ("k8s", 22)):
            with self.subTest(host=host, port=port):
                self.tunnel("k8s", host, port)
                self.assertEqual(self.last_forward_row(),
                                 [("forward", f"direct-tcpip to {host}:{port}", "deny",
                                   "port forwarding is not allowed (a kubectl target forwards only k8s:443)")])

    # --- script consoles: one endless line must not fill bastiond's memory --

    def test_kubectl_script_line_is_bounded(self):
        r = self.env.ssh("k8s", input=b"x" * (256 * 1024), timeout=60)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (126, b"", b"bastion: line too long for the bastion (64 KiB)\n"))

    def test_approvals_script_line_is_bounded(self):
        r = self.env.ssh("approvals", input=b"x" * (256 * 1024), timeout=60)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (2, b"", b"bastion: line too long for the bastion (64 KiB)\n"))

    def test_long_kubectl_script_of_short_lines_runs_whole(self):
        # Many lines wait while kubectl runs: only an unfinished line is bounded.
        since = self.env.audit("SELECT coalesce(max(id), 0) FROM commands")[0][0]
        script = b"version --client\n" + b"# a comment line, skipped\n" * 12000 + b"version --client\n"
        r = self.env.ssh("k8s", input=script, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(b"too long", r.stderr)
        self.assertEqual(self.env.audit("SELECT kind, text FROM commands WHERE id > ? AND kind='kubectl' ORDER BY id",
                                        (since,)), [("kubectl", "version --client")] * 2)


def pending_request(test, text):
    """The id of the pending approval request for `text`, once it exists."""
    end = time.time() + 10
    while time.time() < end:
        rows = test.env.audit("SELECT id FROM approval_requests WHERE command_text=? AND state='pending'", (text,))
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    test.fail(f"no pending request for {text!r}")


# The global policy masks secrets in every output; the target's policy holds
# some commands for review. Both layers apply to what finally runs.
GLOBAL_MASK_POLICY = r'''
function on_command(c)
  return allow{ mask = { patterns = { [[secret-[a-z]+]] }, replacement = "[M]" } }
end
'''

HELD_POLICY = r'''
function on_command(c)
  if c.text:find("^echo held") then
    return review{ reason = "held for a test", approvers = { "oncall" }, timeout = 60 }
  end
  if c.text:find("^echo masked") then
    return allow{ mask = { patterns = { [[secret-[a-z]+]] }, replacement = "[M]" } }
  end
  return allow()
end
'''


class HeldChannelTest(BastionTest):
    """A channel held for approval on an ssh target: what runs, what the user
    sees, and the audit rows, for approve (with masks) and deny."""

    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(HELD_POLICY)
        env.bob = env.keys.cert(env.keys.keygen("bob"), env.ca, "bob", "ops,oncall")
        with open(os.path.join(env.d, "global.lua"), "w") as f:
            f.write(GLOBAL_MASK_POLICY)
        env.start_bastion(extra='policy = "policy.lua"', targets=env.default_targets() + f"""
  web2 = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           policy = "global.lua" }},""")

    def held(self, command, target="web1"):
        p = subprocess.Popen(self.env.ssh_base() + [f"{target}@127.0.0.1", command],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p, pending_request(self, command)

    def test_layered_mask_applies_without_review(self):
        r = self.env.ssh("web2", "echo masked secret-abc")
        self.assertEqual((r.returncode, r.stdout), (0, b"masked [M]\n"))

    def test_approved_channel_runs_once(self):
        cmd = "echo held-ok secret-abc"
        p, rid = self.held(cmd)
        r = self.env.ssh("approvals", ["approve", str(rid)], key=self.env.bob)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out), (0, b"held-ok secret-abc\n"))
        self.assertIn(f"bastion: request #{rid} approved by bob\n".encode(), err)
        expected = [("exec", "review", "held for a test", "on_command", None, None),
                    ("exec", "allow", f"approved in request #{rid} by bob", "approval", 0, "complete")]
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, decision, reason, policy_hook, exit_status, recording_state FROM commands WHERE text=? "
            "ORDER BY id", expected, (cmd,)), expected)

    def test_approved_channel_keeps_the_other_layers_masks(self):
        # One layer holds the command, the other masks its output: approved,
        # it runs with the masks (the approver approved running it, not
        # seeing what the masking layer hides).
        cmd = "echo held-mask secret-abc"
        p, rid = self.held(cmd, target="web2")
        r = self.env.ssh("approvals", ["approve", str(rid)], key=self.env.bob)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out), (0, b"held-mask [M]\n"))

    def test_denied_channel_runs_nothing(self):
        cmd = "echo held-deny"
        p, rid = self.held(cmd)
        r = self.env.ssh("approvals", ["deny", str(rid), "--reason", "no"], key=self.env.bob)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out), (126, b""))
        self.assertTrue(err.endswith(f"bastion: request #{rid} denied by bob: no; nothing was run\n".encode()), err)
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, decision, reason, policy_hook, exit_status, recording_state FROM commands WHERE text=? "
            "ORDER BY id", [("exec", "review", "held for a test", "on_command", 126, "complete")], (cmd,)),
            [("exec", "review", "held for a test", "on_command", 126, "complete")])


PG_GLOBAL_POLICY = r'''
function on_command(c)
  if c.kind == "sql" and c.text:find("held", 1, true) then
    return review{ reason = "held sql", approvers = { "oncall" }, timeout = 60 }
  end
  return allow()
end
'''

PG_TARGET_POLICY = r'''
function on_command(c)
  return allow{ mask = { columns = { "email" } } }
end
'''

PG_SCHEMA = r"""
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO customers VALUES (1, 'alice', 'alice@example.com');
"""


class HeldStatementTest(BastionTest):
    """A statement held inside a SQL script: nothing after it runs before
    the decision, it runs once, and the other layer's column masks apply."""

    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        pg_cluster.shop_database(env, pg_cluster.SHOP_FIXTURE, PG_SCHEMA)
        for name, text in (("global.lua", PG_GLOBAL_POLICY), ("pg.lua", PG_TARGET_POLICY)):
            with open(os.path.join(env.d, name), "w") as f:
                f.write(text)
        env.bob = env.keys.cert(env.keys.keygen("bob"), env.ca, "bob", "ops,oncall")
        env.start_bastion(extra='policy = "global.lua"',
                          targets=env.default_targets() + "\n" +
                          pg_cluster.shop_target(env, "shopdb", os.path.join(env.d, "pg.lua")))

    @classmethod
    def tearDownClass(cls):
        cls.env.pg.stop()
        super().tearDownClass()

    def script(self, text):
        p = subprocess.Popen(self.env.ssh_base() + ["shopdb@127.0.0.1"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        p.stdin.write(text.encode())
        p.stdin.close()
        p.stdin = None  # communicate() must not flush it again
        return p

    def sql_rows(self, since):
        return self.env.audit("SELECT text, decision, exit_status, rows FROM commands WHERE kind='sql' AND id > ? "
                              "ORDER BY id", (since,))

    def last_id(self):
        return self.env.audit("SELECT coalesce(max(id), 0) FROM commands")[0][0]

    def test_approved_statement_runs_once_masked_and_in_order(self):
        since = self.last_id()
        held = "select email from customers /* held-a */"
        p = self.script(f"select 1 as a;\n{held};\nselect 2 as b;\n")
        rid = pending_request(self, held)
        time.sleep(0.3)  # time for anything that would (wrongly) run before the decision
        self.assertEqual([r[0] for r in self.sql_rows(since)], ["select 1 as a", held])
        r = self.env.ssh("approvals", ["approve", str(rid)], key=self.env.bob)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode(), " a \n---\n 1\n(1 row)\n\n email \n-------\n ****\n(1 row)\n\n"
                                       " b \n---\n 2\n(1 row)\n\n")

    def test_denied_statement_runs_nothing(self):
        since = self.last_id()
        held = "select email from customers /* held-d */"
        p = self.script(f"{held};\nselect 3 as c;\n")
        rid = pending_request(self, held)
        r = self.env.ssh("approvals", ["deny", str(rid), "--reason", "no"], key=self.env.bob)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out.decode()), (126, ""))  # a script stops at a refusal
        self.assertTrue(err.decode().endswith(f"ERROR:  denied by policy: request #{rid} denied by bob: no\n"), err)
        self.assertEqual(self.sql_rows(since), [(held, "review", 1, None)])


# Policy tests (bastionctl policy test --cases): before issue 13 a case's
# `approved` / `own_kubectl` were read with Lua truth (any value but nil and
# false); since the cases go through the kind's parser as CommandOptions only
# the boolean true and the string "true" count.
APPROVED_CASES = """
cases = {
  { name = "approved = 1", principals = {"ops"}, kind = "kube_request",
    command = "DELETE /api/v1/namespaces/web/pods/worker-1", approved = 1, expect = "allow" },
  { name = "approved = yes", principals = {"ops"}, kind = "kube_request",
    command = "DELETE /api/v1/namespaces/web/pods/worker-1", approved = "yes", expect = "allow" },
}
"""


class PolicyCaseOptionsTest(unittest.TestCase):
    def run_cases(self, text):
        with tempfile.TemporaryDirectory() as d:
            cases = os.path.join(d, "c.cases.lua")
            with open(cases, "w") as f:
                f.write(text)
            return run([BASTIONCTL, "policy", "test", os.path.join(POLICY_DIR, "kubernetes.lua"), "--cases", cases])

    def test_boolean_case_fields_still_count(self):
        r = self.run_cases(APPROVED_CASES.replace("approved = 1", "approved = true")
                           .replace('approved = "yes"', "approved = true"))
        self.assertEqual((r.returncode, r.stdout), (0, b"2 passed, 0 failed\n"))

    # Found in review: truthy non-boolean `approved` / `own_kubectl` case
    # fields read as false for a while (policy tests only); fixed.
    def test_truthy_case_fields_read_as_before(self):
        r = self.run_cases(APPROVED_CASES)
        self.assertEqual((r.returncode, r.stdout), (0, b"2 passed, 0 failed\n"))


if __name__ == "__main__":
    main()
