"""Least privilege by held role: a target holds several credentials and the
policy's on_session picks one per session (allow{ credential = "..." }).
Real clients through bastiond to a real PostgreSQL server (analysts connect
as a SELECT-only role, and PostgreSQL itself refuses their writes), a real
sshd (which key the bastion used, as sshd reports it) and the fake Kubernetes
API server (which token the API proxy sent upstream)."""
import json
import os
import shutil
import signal
import subprocess
import time

import pg_cluster
from fake_kube_api import FakeKube
from harness import BASTIOND, BASTIONCTL, SSHD, BastionTest, Env, main, run, wait_port

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")
KUBECTL = shutil.which("kubectl")
TOKEN, VIEW_TOKEN = "held-admin-token-7c1d", "held-view-token-2b8e"

SCHEMA = r"""
CREATE TABLE orders (id int PRIMARY KEY, status text);
INSERT INTO orders VALUES (10, 'paid'), (11, 'open');
"""

# Stands in for a classifier that missed something: every statement is
# allowed, so only the database role stands between the analyst and a write.
# The credential comes from the principal; commands see it as c.session.credential.
GRANT_ONLY = r"""
local CHOICE = { analyst = "readonly", deployer = "deploy", viewer = "view", lost = "x" }
function on_session(s)
  for _, p in ipairs(s.principals) do
    if CHOICE[p] then return allow{ credential = CHOICE[p] } end
  end
  return nil
end
function on_command(c)
  return allow{ reason = "as " .. tostring(c.session.credential) }
end
"""


def restart_sshd_with(target, extra_config):
    """The harness's sshd, started again with more configuration."""
    target.stop()
    with open(target.config, "a") as f:
        f.write(extra_config)
    with open(target.log + ".out", "ab") as out:
        target.proc = subprocess.Popen([SSHD, "-D", "-f", target.config, "-E", target.log],
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    wait_port(target.port)


def pubkey(path):
    with open(path + ".pub") as f:
        return " ".join(f.read().split()[:2])


class CredentialsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        env.pg = env.kube = None
        try:
            cls.setup(env)
        except BaseException:
            cls.stop_servers(env)
            env.close()  # tearDownClass does not run when setUpClass fails
            raise

    @staticmethod
    def stop_servers(env):
        if env.pg:
            env.pg.stop()
        if env.kube:
            env.kube.stop()

    @classmethod
    def setup(cls, env):
        k = env.keys.d
        # PostgreSQL: the owner (default credential) and a SELECT-only role.
        env.pg = pg_cluster.PostgresCluster(os.path.join(env.d, "pg"))
        r = env.pg.psql("CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw'")
        assert r.returncode == 0, r.stderr
        r = env.pg.psql("CREATE DATABASE shop OWNER app_owner")
        assert r.returncode == 0, r.stderr
        r = env.pg.psql(None, db="shop", input=("SET ROLE app_owner;" + SCHEMA).encode())
        assert r.returncode == 0, r.stderr
        env.pg.create_readonly_role("app_ro", "ro-pw", "shop")
        for name, secret in (("owner.pw", "owner-pw"), ("ro.pw", "ro-pw")):
            with open(os.path.join(k, name), "w") as f:
                f.write(secret + "\n")
            os.chmod(os.path.join(k, name), 0o600)
        shutil.copy(os.path.join(POLICY_DIR, "commands.lua"), os.path.join(env.d, "commands.lua"))
        with open(os.path.join(env.d, "grant_only.lua"), "w") as f:
            f.write(GRANT_ONLY)

        # SSH: a second key for the same account; sshd tells the session
        # which key authenticated it ($SSH_USER_AUTH, ExposeAuthInfo).
        env.deploy_key = env.keys.keygen("deploy_key")
        with open(os.path.join(env.target.d, "authorized_keys"), "a") as f:
            f.write(pubkey(env.deploy_key) + "\n")
        restart_sshd_with(env.target, "ExposeAuthInfo yes\n")

        # Kubernetes: two kubeconfigs for one API server, different tokens.
        env.kube = FakeKube(TOKEN, also=(VIEW_TOKEN,))
        env.kube.kubeconfig(os.path.join(k, "admin.kubeconfig"))
        env.kube.kubeconfig(os.path.join(k, "view.kubeconfig"), token=VIEW_TOKEN)
        for name in ("admin.kubeconfig", "view.kubeconfig"):
            os.chmod(os.path.join(k, name), 0o600)

        cert = lambda who, principals: env.keys.cert(env.keys.keygen(who), env.ca, who, principals)
        env.analyst = cert("ann", "analyst")
        env.admin = cert("dan", "ops,dba")
        env.deployer = cert("dee", "deployer")
        env.viewer = cert("vic", "viewer")
        env.lost = cert("lou", "lost")
        shipped = os.path.abspath(os.path.join(POLICY_DIR, "postgres.lua"))
        pg = f'type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "shop"'
        readonly = 'readonly = { user = "app_ro", password_file = "keys/ro.pw" }'
        everyone = 'allow = { "ops", "analyst", "deployer", "viewer", "lost" }'
        env.start_bastion(targets=f"""
  shop = {{ {pg}, user = "app_owner", password_file = "keys/owner.pw", {everyone},
           credentials = {{ {readonly} }}, policy = "{shipped}" }},
  shopraw = {{ {pg}, user = "app_owner", password_file = "keys/owner.pw", {everyone},
              credentials = {{ {readonly} }}, policy = "grant_only.lua" }},
  onlyro = {{ {pg}, {everyone}, credentials = {{ {readonly} }}, policy = "grant_only.lua" }},
  web = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
          identity = "keys/target_key", known_hosts = "keys/known_hosts", {everyone},
          credentials = {{ deploy = {{ user = "{env.user}", identity = "keys/deploy_key" }} }},
          policy = "grant_only.lua" }},
  k8s = {{ type = "kubectl", kubeconfig = "keys/admin.kubeconfig", namespace = "web", kubectl = "{KUBECTL}",
          {everyone}, credentials = {{ view = {{ kubeconfig = "keys/view.kubeconfig" }} }},
          policy = "grant_only.lua" }},""")

    @classmethod
    def tearDownClass(cls):
        cls.stop_servers(cls.env)
        super().tearDownClass()

    def session_row(self, identity, target):
        """The session decision's audit row: decision, reason, details."""
        return self.env.audit(
            "SELECT c.decision, c.reason, c.details FROM commands c JOIN sessions s ON s.id = c.session_id "
            "WHERE c.kind = 'session' AND s.identity = ? AND s.target = ? ORDER BY c.id DESC LIMIT 1",
            (identity, target))

    def orders(self):
        return self.env.pg.scalar("SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM orders", db="shop")

    # --- PostgreSQL ---------------------------------------------------------

    def test_analyst_connects_as_the_readonly_role(self):
        r = self.env.ssh("shop", "SELECT current_user", key=self.env.analyst)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), " current_user \n--------------\n app_ro\n(1 row)\n\n")
        self.assertEqual(self.session_row("ann", "shop"), [("allow", "", json.dumps({"credential": "readonly"},
                                                                                     separators=(",", ":")))])

    def test_admin_connects_with_the_default_credential(self):
        r = self.env.ssh("shop", "SELECT current_user", key=self.env.admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), " current_user \n--------------\n app_owner\n(1 row)\n\n")
        self.assertEqual(self.session_row("dan", "shop"), [("allow", "", '{"credential":"default"}')])

    def test_shipped_policy_still_refuses_analyst_writes_first(self):
        r = self.env.ssh("shop", "INSERT INTO orders VALUES (12, 'new')", key=self.env.analyst)
        self.assertEqual(r.returncode, 126)
        self.assertEqual(r.stderr.decode(), "ERROR:  denied by policy: read-only access: insert is not allowed\n")
        self.assertEqual(self.orders(), "10:paid,11:open")

    def test_the_database_role_refuses_what_the_policy_let_through(self):
        # Every statement is allowed by grant_only.lua: PostgreSQL's own
        # errors are what stop the analyst, passed through as they are.
        # default_transaction_read_only answers first...
        r = self.env.ssh("shopraw", "INSERT INTO orders VALUES (12, 'new')", key=self.env.analyst)
        self.assertEqual((r.returncode, r.stdout.decode(), r.stderr.decode()),
                         (3, "", "ERROR:  cannot execute INSERT in a read-only transaction\n"))
        # ...but the session can turn that off; the grants it cannot.
        off = "SET default_transaction_read_only = off; "
        cases = [
            ("INSERT INTO orders VALUES (12, 'new')", "ERROR:  permission denied for table orders\n"),
            ("UPDATE orders SET status = 'x' WHERE id = 10", "ERROR:  permission denied for table orders\n"),
            ("CREATE TABLE stash (x int)", "ERROR:  permission denied for schema public\n"
                                           "LINE 1: CREATE TABLE stash (x int)\n                     ^\n"),
            ("CREATE TEMP TABLE stash (x int)",
             'ERROR:  permission denied to create temporary tables in database "shop"\n'
             "LINE 1: CREATE TEMP TABLE stash (x int)\n                          ^\n"),
            ("DO $$ BEGIN EXECUTE 'DELETE FROM orders'; END $$",
             "ERROR:  permission denied for table orders\n"
             "CONTEXT:  SQL statement \"DELETE FROM orders\"\nPL/pgSQL function inline_code_block line 1 at EXECUTE\n"),
        ]
        for sql, err in cases:
            with self.subTest(sql=sql):
                r = self.env.ssh("shopraw", off + sql, key=self.env.analyst)
                self.assertEqual((r.returncode, r.stdout.decode(), r.stderr.decode()), (3, "SET\n", err))
        self.assertEqual(self.orders(), "10:paid,11:open")
        self.assertEqual(self.env.pg.scalar("SELECT count(*) FROM pg_class WHERE relname = 'stash'", db="shop"), "0")
        # The policy saw the credential in each command decision.
        rows = self.env.audit("SELECT DISTINCT c.reason FROM commands c JOIN sessions s ON s.id = c.session_id "
                              "WHERE c.kind = 'sql' AND s.identity = 'ann' AND s.target = 'shopraw'")
        self.assertEqual(rows, [("as readonly",)])

    def test_a_credential_the_target_does_not_hold_refuses_the_session(self):
        r = self.env.ssh("shopraw", "SELECT 1", key=self.env.lost)
        self.assertEqual((r.returncode, r.stdout.decode(), r.stderr.decode()),
                         (1, "", "bastion: target 'shopraw' holds no credential 'x'\n"))
        self.assertEqual(self.session_row("lou", "shopraw"),
                         [("deny", "target 'shopraw' holds no credential 'x'", '{"credential":"x"}')])
        # Nothing reached the database as anyone.
        self.assertEqual(self.env.audit("SELECT count(*) FROM commands c JOIN sessions s ON s.id = c.session_id "
                                        "WHERE s.identity = 'lou' AND c.kind = 'sql'"), [(0,)])

    def test_no_default_credential_and_none_chosen_refuses_the_session(self):
        r = self.env.ssh("onlyro", "SELECT 1", key=self.env.admin)
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, "bastion: target 'onlyro' holds no credential 'default' "
                             "(the policy must choose one of: readonly)\n"))
        r = self.env.ssh("onlyro", "SELECT current_user", key=self.env.analyst)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, " current_user \n--------------\n app_ro\n(1 row)\n\n"))

    # --- SSH ------------------------------------------------------------------

    def test_ssh_target_authenticates_with_the_chosen_identity(self):
        show = 'cat "$SSH_USER_AUTH"; whoami'
        r = self.env.ssh("web", show, key=self.env.deployer)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), f"publickey {pubkey(self.env.deploy_key)}\n{self.env.user}\n")
        r = self.env.ssh("web", show, key=self.env.admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), f"publickey {pubkey(self.env.target_key)}\n{self.env.user}\n")
        self.assertEqual(self.session_row("dee", "web"), [("allow", "", '{"credential":"deploy"}')])
        r = self.env.ssh("web", "true", key=self.env.lost)
        self.assertEqual((r.returncode, r.stderr.decode()), (1, "bastion: target 'web' holds no credential 'x'\n"))

    def reload(self, text):
        self.assertTrue(self.env.bastion.rewrite_config_and_reload(text), "no reload")

    def test_reload_that_withdraws_the_credential_ends_the_session(self):
        with open(self.env.bastion.conf) as f:
            good = f.read()
        p = subprocess.Popen(self.env.ssh_base(key=self.env.deployer) + ["web@127.0.0.1", "echo started; sleep 30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"started\n")
            self.reload(good.replace('deploy = { user', 'deployed = { user', 1))
            out, err = p.communicate(timeout=20)
            self.assertIn("bastion: target 'web' no longer holds credential 'deploy'; session closed",
                          err.decode())
            self.assertEqual(self.env.audit_eventually(
                "SELECT end_reason FROM sessions WHERE identity = 'dee' AND target = 'web' ORDER BY started_at DESC "
                "LIMIT 1", [("credential removed",)]), [("credential removed",)])
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            self.reload(good)

    # --- kubectl ----------------------------------------------------------------

    def test_kubectl_api_proxy_sends_the_chosen_token(self):
        for key, token in ((self.env.viewer, VIEW_TOKEN), (self.env.admin, TOKEN)):
            with self.subTest(token=token):
                before = len(self.env.kube.requests)
                r = self.env.ssh("k8s", ["--", "get pods"], key=key)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual([l.split()[0] for l in r.stdout.decode().splitlines()],
                                 ["NAME", "api-7d9", "worker-1"])
                new = self.env.kube.requests[before:]
                self.assertTrue(any("/namespaces/web/pods" in p for _, p, _ in new), new)
                self.assertEqual({t for _, _, t in new}, {token})

    # --- policy tests ------------------------------------------------------------

    def test_policy_cases_check_the_credential(self):
        cases = os.path.join(self.env.d, "grant_only.cases.lua")
        with open(cases, "w") as f:
            f.write("""cases = {
  { name = "analyst", hook = "on_session", principals = { "analyst" }, expect = "allow", credential = "readonly" },
  { name = "wrong", hook = "on_session", principals = { "viewer" }, expect = "allow", credential = "readonly" },
  { name = "ops", hook = "on_session", principals = { "ops" }, expect = "allow", credential = "default" },
  { name = "command as readonly", kind = "sql", command = "SELECT 1", credential = "readonly", expect = "allow",
    reason = "as readonly" },
  { name = "command as default", kind = "sql", command = "SELECT 1", expect = "allow", reason = "as default" },
}
""")
        r = run([BASTIONCTL, "policy", "test", os.path.join(self.env.d, "grant_only.lua"), "--cases", cases])
        self.assertEqual((r.returncode, r.stdout.decode()),
                         (1, "FAIL wrong: expected credential readonly, got view\n4 passed, 1 failed\n"))
        r = run([BASTIONCTL, "policy", "test", os.path.join(self.env.d, "grant_only.lua"), "--session",
                 "--principals", "analyst"])
        self.assertIn("credential: readonly\n", r.stdout.decode())

    # --- configuration ------------------------------------------------------------

    def test_check_reports_a_malformed_credential(self):
        with open(self.env.bastion.conf) as f:
            text = f.read()
        lines = text.splitlines()
        n = next(i for i, l in enumerate(lines, 1) if "deploy = {" in l)
        bad = os.path.join(self.env.d, "bad.conf")
        with open(bad, "w") as f:
            f.write(text.replace('deploy = {', 'deploy = { password_file = "keys/ro.pw",', 1))
        r = run([BASTIOND, "--check", "--config", bad])
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, f"bastiond: {bad}:{n}: targets.web.credentials.deploy.password_file: unknown key "
                             "(ssh credentials take ca, ca_passphrase_file, certificate, identity, principals, ttl, user)\n"))


if __name__ == "__main__":
    main()
