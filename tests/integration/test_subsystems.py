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
from harness import BastionTest, Env, main, run

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

    def test_explore(self):
        for name, inp in (("web1", b"echo hello\necho $((6*7))\n"),
                          ("shopdb", b"SELECT id, name FROM customers ORDER BY id;\n"),
                          ("k8s", b"logs api-7d9\n"), ("targets", b""), ("targets --json", b""),
                          ("nosuch", b""), ("db1", b""), ("approvals", b"help\n")):
            r = self.sub(name, inp)
            print(name, r.returncode, r.stdout, r.stderr)
        r = self.sub("shopdb", login="web1@127.0.0.1")
        print("mixed", r.returncode, r.stdout, r.stderr)
        print(self.env.audit("SELECT session_id, channel, kind, text, decision, details FROM commands"))
        print(self.env.audit("SELECT id, target, end_reason FROM sessions"))


if __name__ == "__main__":
    main()
