"""Kubernetes targets through real clients: ssh -> bastiond -> the real
kubectl -> a fake API server on loopback (fake_kube_api.py) that records
every request with its bearer token. Every invocation is parsed and decided;
refused ones never reach the server; the credential never reaches the user."""
import base64
import glob
import json
import os
import shutil
import subprocess
import time

from fake_kube_api import FakeKube
from harness import BASTIOND, BASTIONCTL, BastionTest, Env, main, run
from pty_driver import PtySession

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")
KUBECTL = shutil.which("kubectl")
TOKEN = "held-kube-token-4f9a2c"

FAKE_KUBECTL = """#!/bin/sh
# Stands in for kubectl: shows exactly what bastiond ran it with.
env | sort
echo "--- fds $$"
for f in /proc/$$/fd/*; do echo "${f##*/} $(readlink "$f")"; done
echo "--- argv"
for a in "$@"; do echo "[$a]"; done
echo "--- kubeconfig"
stat -c %a "$KUBECONFIG"
cat "$KUBECONFIG"
echo "--- escape"
# What a compromised kubectl would try on the bastion host; each must fail.
try() { if "$@" >/dev/null 2>&1; then echo "ESCAPED: $*"; else echo "blocked: $*"; fi; }
try cat "$BASTION_DIR/bastion.conf"
try cat "$BASTION_DIR/data/audit.db"
try cat "$BASTION_DIR/keys/target_key"
try cat "$BASTION_DIR/keys/kubeconfig"
try ls "$BASTION_DIR/data/recordings"
try touch "$BASTION_DIR/data/marker"
try touch /usr/bastion-kubectl-marker
try touch /bastion-kubectl-marker
touch "$BASTION_DIR/marker" /tmp/bastion-kubectl-marker 2>/dev/null  # the sandbox's private /tmp at most
try "$KUBE_EDITOR" /etc/hostname
echo "uid $(id -u)"
case "$*" in *uidprobe*) sleep 4;; esac  # the test looks at it from outside meanwhile
"""


# Stands in for a kubectl whose argv the bastion misread: it reads API
# requests ("METHOD PATH" lines) from stdin and makes them against whatever
# the kubeconfig it was given points at, with the credential in it.
RAW_KUBECTL = """#!/usr/bin/python3
import base64, http.client, json, os, ssl, sys
kc = json.load(open(os.environ["KUBECONFIG"]))
cluster, user = kc["clusters"][0]["cluster"], kc["users"][0]["user"]
host, port = cluster["server"][len("https://"):].rsplit(":", 1)
ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
print("ENDPOINT", port, user["token"], flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    method, path, *token = line.split()
    c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=20)
    headers = {"Accept": "application/json"}
    if token != ["-"]:
        headers["Authorization"] = "Bearer " + (token[0] if token else user["token"])
    c.request(method, path, headers=headers)
    r = c.getresponse()
    print(r.status, json.dumps(r.read().decode()), flush=True)
"""

STATUS_403 = ('{"apiVersion":"v1","code":403,"kind":"Status","message":"bastion: denied: %s",'
              '"metadata":{},"reason":"Forbidden","status":"Failure"}')


class KubectlTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        env.kube = FakeKube(TOKEN)
        env.mtls = FakeKube(TOKEN, client_cert=True)
        env.mtls.kubeconfig(os.path.join(env.keys.d, "kubeconfig-mtls"))
        os.chmod(os.path.join(env.keys.d, "kubeconfig-mtls"), 0o600)
        kc = os.path.join(env.keys.d, "kubeconfig")
        env.kube.kubeconfig(kc)
        os.chmod(kc, 0o600)
        shutil.copy(os.path.join(POLICY_DIR, "commands.lua"), os.path.join(env.d, "commands.lua"))
        fake = os.path.join(env.d, "fake-kubectl")
        with open(fake, "w") as f:
            f.write(FAKE_KUBECTL.replace("$BASTION_DIR", env.d))
        os.chmod(fake, 0o755)
        # A kubeconfig whose CA is not the API server's, one with a credential plugin.
        other = os.path.join(env.keys.d, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", other + ".key", "-out", other, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        with open(kc) as f:
            held = f.read()
        with open(other) as f:
            other_ca = base64.b64encode(f.read().encode()).decode()
        ca_line = next(l for l in held.splitlines() if "certificate-authority-data" in l)
        for name, text in (("kubeconfig-badca", held.replace(ca_line, "    certificate-authority-data: " + other_ca)),
                           ("kubeconfig-exec", held.replace("    token: " + TOKEN,
                                                            "    exec:\n      command: /bin/sh\n      apiVersion: x"))):
            with open(os.path.join(env.keys.d, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(env.keys.d, name), 0o600)
        raw = os.path.join(env.d, "raw-kubectl")
        with open(raw, "w") as f:
            f.write(RAW_KUBECTL)
        os.chmod(raw, 0o755)
        env.dev = env.keys.cert(env.keys.keygen("dana"), env.ca, "dana", "dev")
        env.oncall = env.keys.cert(env.keys.keygen("otto"), env.ca, "otto", "ops,oncall")
        policy = os.path.abspath(os.path.join(POLICY_DIR, "kubernetes.lua"))
        env.start_bastion(targets=env.default_targets() + f"""
  k8s = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "web", allow = {{ "ops", "dev" }},
          policy = "{policy}", kubectl = "{KUBECTL}" }},
  k8sopen = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "staging", allow = {{ "ops" }},
              kubectl = "{KUBECTL}" }},
  k8senv = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "ns1", allow = {{ "ops" }},
             kubectl = "fake-kubectl" }},
  k8snobwrap = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", allow = {{ "ops" }}, kubectl = "{KUBECTL}",
                 bwrap = "/nonexistent/bwrap" }},
  k8smtls = {{ type = "kubectl", kubeconfig = "keys/kubeconfig-mtls", namespace = "web", allow = {{ "ops" }},
              kubectl = "{KUBECTL}" }},
  k8sbadca = {{ type = "kubectl", kubeconfig = "keys/kubeconfig-badca", namespace = "web", allow = {{ "ops" }},
               kubectl = "{KUBECTL}" }},
  k8sraw = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "web", allow = {{ "ops", "dev" }},
             policy = "{policy}", kubectl = "raw-kubectl" }},""", extra="approvals = { timeout = 20 }")

    @classmethod
    def tearDownClass(cls):
        cls.env.kube.stop()
        cls.env.mtls.stop()
        super().tearDownClass()

    def k(self, target, command, key=None, input=None, timeout=60):
        return self.env.ssh(target, command if isinstance(command, list) else ["--"] + [command],
                            key=key, input=input, timeout=timeout)

    def test_get_pods_with_the_held_credential(self):
        before = len(self.env.kube.requests)
        r = self.k("k8s", "get pods")  # the target's default namespace: web
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual([l.split()[0] for l in lines][:2], ["NAME", "api-7d9"])
        new = self.env.kube.requests[before:]
        self.assertTrue(any("/namespaces/web/pods" in p for _, p, _ in new), new)
        self.assertEqual({t for _, _, t in new}, {TOKEN})
        row = self.env.audit_eventually(
            "SELECT kind, decision, exit_status, details FROM commands WHERE kind='kubectl' AND text='get pods'",
            [("kubectl", "allow", 0,
              json.dumps({"flags": {}, "names": [], "namespace": "web", "resources": ["pods"], "verb": "get"},
                         separators=(",", ":")))])
        self.assertEqual(row[0][:3], ("kubectl", "allow", 0))
        self.assertEqual(json.loads(row[0][3])["resources"], ["pods"])

    def test_verbs(self):
        r = self.k("k8sopen", "get deploy -A")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("api", r.stdout.decode())
        r = self.k("k8sopen", "describe pod api-s1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Name:         api-s1", r.stdout.decode())
        r = self.k("k8sopen", "logs api-7d9 -n web")
        self.assertEqual(r.stdout.decode(), "log line 1 from api-7d9\nlog line 2 from api-7d9\nlog line 3 from api-7d9\n")
        r = self.k("k8sopen", "scale deployment/api --replicas=5 -n web")
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "deployment.apps/api scaled\n"), r.stderr)
        self.assertEqual(self.env.kube.objects[("deployments", "web", "api")]["spec"]["replicas"], 5)

    def test_exit_status_and_errors_pass_through(self):
        r = self.k("k8sopen", "get pod nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn('Error from server (NotFound): pods "nope" not found', r.stderr.decode())

    def test_denied_never_reaches_the_cluster(self):
        before = len(self.env.kube.requests)
        r = self.k("k8s", "delete pod api-s1 -n staging", key=self.env.dev)
        self.assertEqual(r.returncode, 126)
        self.assertEqual(r.stderr.decode(),
                         "bastion: denied: developers have read-only access: kubectl delete is not allowed\n")
        time.sleep(0.3)
        self.assertEqual(self.env.kube.seen("DELETE", "/namespaces/staging/"), [])
        self.assertIn(("pods", "staging", "api-s1"), self.env.kube.objects)

    def test_delete_in_production_waits_for_oncall(self):
        p = subprocess.Popen(self.env.ssh_base() + ["k8s@127.0.0.1", "--", "delete pod worker-1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.time() + 10
        rid = None
        while rid is None and time.time() < end:
            rows = self.env.audit("SELECT id FROM approval_requests WHERE command_text='delete pod worker-1' "
                                  "AND state='pending'")
            rid = rows[0][0] if rows else None
            time.sleep(0.1)
        self.assertIsNotNone(rid)
        self.assertEqual(self.env.kube.seen("DELETE"), [])  # nothing reached the cluster while held
        r = self.env.ssh("approvals", ["approve", str(rid)], key=self.env.oncall)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out.decode()), (0, 'pod "worker-1" deleted\n'), err)
        self.assertNotIn(("pods", "web", "worker-1"), self.env.kube.objects)

    def test_refused_whatever_the_policy_says(self):
        # k8sopen has no policy at all: everything else is allowed there.
        refused = {
            "get pods --kubeconfig=/tmp/other": "--kubeconfig is not available",
            "get pods --token abc": "--token is not available",
            "--context=other get pods": "--context is not available",
            "get pods -s https://127.0.0.1:1": "--server is not available",
            "get pods --as=system:admin": "--as is not available",
            "get pods --insecure-skip-tls-verify": "--insecure-skip-tls-verify is not available",
            "get pods --client-certificate=/tmp/c": "--client-certificate is not available",
            "config view --raw": "would show or change the held credential",
            "proxy --port=8001": "tunnel around the recording",
            "port-forward pod/api-s1 8080:80": "tunnel around the recording",
            "cp api-s1:/etc/passwd /tmp/x": "files on the bastion host",
            "edit deploy/api": "editor on the bastion host",
            "plugin list": "plugins run programs",
            "krew install evil": "plugins are not available",
            "apply -f /etc/passwd": "pass the manifest on stdin",
            "create secret generic x --from-file=/etc/passwd": "--from-file is not available",
            "get pods -o go-template-file=/etc/passwd": "reads a file on the bastion host",
            "get pods | sh": "not through a shell",
        }
        before = len(self.env.kube.requests)
        for line, why in refused.items():
            r = self.env.ssh("k8sopen", ["--", line])
            self.assertEqual(r.returncode, 126, (line, r.stdout, r.stderr))
            self.assertTrue(r.stderr.decode().startswith("bastion: denied: "), (line, r.stderr))
            self.assertIn(why, r.stderr.decode(), line)
            self.assertNotIn(TOKEN, r.stdout.decode() + r.stderr.decode())
        time.sleep(0.3)
        self.assertEqual(self.env.kube.requests[before:], [])
        rows = self.env.audit("SELECT DISTINCT decision, policy_hook FROM commands WHERE kind='kubectl' AND "
                              "text='config view --raw'")
        self.assertEqual(rows, [("deny", "bastion")])

    def test_the_credential_never_reaches_the_user(self):
        for line in ("get pods -v=9", "version", "get pods -o yaml", "cluster-info"):
            r = self.k("k8sopen", line)
            self.assertNotIn(TOKEN, r.stdout.decode() + r.stderr.decode(), line)

    def test_clean_environment_and_exact_argv(self):
        r = self.k("k8senv", "get pods 'a b' -l app=x")
        self.assertEqual(r.returncode, 0, r.stderr)
        env_part, rest = r.stdout.decode().split("--- fds ")
        fds_pid, rest = rest.split("\n", 1)
        fds_part, rest = rest.split("--- argv\n")
        argv_part = rest.split("--- kubeconfig\n")[0]
        env = dict(l.split("=", 1) for l in env_part.splitlines() if "=" in l)
        # The kubeconfig held since load, written 0600 into the session's HOME.
        self.assertTrue(env["HOME"].startswith("/tmp/bastion-kubectl-"), env["HOME"])
        self.assertEqual(env["KUBECONFIG"], env["HOME"] + "/kubeconfig")
        self.assertEqual(set(env) - {"PWD", "SHLVL", "_", "OLDPWD"},
                         {"KUBECONFIG", "HOME", "PATH", "LANG", "KUBE_EDITOR", "EDITOR", "VISUAL"})
        # No plugin directories; every editor refuses.
        self.assertEqual((env["PATH"], env["KUBE_EDITOR"], env["EDITOR"], env["VISUAL"]),
                         ("/usr/bin:/bin", "/bin/false", "/bin/false", "/bin/false"))
        self.assertEqual(argv_part, "[--namespace=ns1]\n[get]\n[pods]\n[a b]\n[-l]\n[app=x]\n")
        # Nothing of the bastion's is inherited: no listening socket, no
        # session's socket, no file of the bastion's (database, recording).
        # (The shell itself holds its script and a command-substitution pipe.)
        fds = {int(n): t for n, t in (l.split(" ", 1) for l in fds_part.splitlines())}
        leaked = {n: t for n, t in fds.items() if n > 2 and (t.startswith("socket:") or (
            t.startswith(self.env.d) and not t.endswith("/fake-kubectl")) or t.startswith("anon_inode:"))}
        self.assertEqual(leaked, {}, fds)
        self.assertIn(int(fds_pid), range(1, 1 << 22))
        # The per-session HOME is gone once the session is.
        deadline = time.time() + 5
        while os.path.exists(env["HOME"]) and time.time() < deadline:
            time.sleep(0.1)
        self.assertFalse(os.path.exists(env["HOME"]))

    def test_kubeconfig_has_only_the_session_token(self):
        kc = os.path.join(self.env.keys.d, "kubeconfig")
        os.rename(kc, kc + ".aside")  # after load, the file on disk no longer matters
        try:
            r = self.k("k8senv", "get pods")
        finally:
            os.rename(kc + ".aside", kc)
        self.assertEqual(r.returncode, 0, r.stderr)
        mode, text = r.stdout.decode().split("--- kubeconfig\n")[1].split("--- escape\n")[0].split("\n", 1)
        self.assertEqual(mode, "600")
        self.assertNotIn(TOKEN, text)
        got = json.loads(text)
        cluster, user = got["clusters"][0]["cluster"], got["users"][0]["user"]
        self.assertRegex(cluster["server"], r"^https://127\.0\.0\.1:[0-9]+$")
        self.assertNotEqual(cluster["server"], f"https://127.0.0.1:{self.env.kube.port}")
        self.assertRegex(user["token"], r"^[0-9a-f]{64}$")
        self.assertEqual(set(user), {"token"})
        self.assertEqual(got["current-context"], "fake")
        self.assertEqual(got["contexts"], [{"name": "fake", "context": {"cluster": "bastion", "user": "bastion",
                                                                         "namespace": "default"}}])

    def test_sandbox_hides_the_bastion_host(self):
        # Issue 10: the child sees only /usr, TLS roots, resolver files and
        # its HOME: not the bastion's config, audit DB, recordings, keys or
        # held kubeconfig; it writes nothing outside HOME; its editor refuses.
        marker = os.path.join(self.env.d, "marker")
        host_paths = (marker, os.path.join(self.env.d, "data", "marker"), "/tmp/bastion-kubectl-marker",
                      "/usr/bastion-kubectl-marker", "/bastion-kubectl-marker")
        self.addCleanup(lambda: [os.unlink(p) for p in host_paths if os.path.exists(p)])  # should a run escape
        r = self.env.ssh("k8senv", ["--", "get pods"], extra=("-o", "SetEnv=KUBE_EDITOR=/bin/sh EDITOR=/bin/sh"))
        self.assertEqual(r.returncode, 0, r.stderr)
        d = self.env.d
        self.assertEqual(r.stdout.decode().split("--- escape\n")[1],
                         f"blocked: cat {d}/bastion.conf\nblocked: cat {d}/data/audit.db\n"
                         f"blocked: cat {d}/keys/target_key\nblocked: cat {d}/keys/kubeconfig\n"
                         f"blocked: ls {d}/data/recordings\n"
                         f"blocked: touch {d}/data/marker\nblocked: touch /usr/bastion-kubectl-marker\n"
                         "blocked: touch /bastion-kubectl-marker\n"
                         "blocked: /bin/false /etc/hostname\nuid 65534\n")
        for path in host_paths:
            self.assertFalse(os.path.exists(path), path)
        self.assertIn("KUBE_EDITOR=/bin/false\n", r.stdout.decode())  # the client's SetEnv changes nothing

    def sandbox_uids(self, probe):
        """The host's view of the probe script's uids (real, effective, saved, fs)."""
        uids = set()
        end = time.time() + 10
        while not uids and time.time() < end:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().split(b"\0")
                    if probe.encode() in cmd and b"--die-with-parent" not in cmd:  # the script, not bwrap
                        with open(f"/proc/{pid}/status") as f:
                            uids.add(tuple(next(l for l in f if l.startswith("Uid:")).split()[1:]))
                except (OSError, StopIteration):
                    pass
            time.sleep(0.05)
        return uids

    def test_kubectl_runs_as_a_uid_of_its_sessions_own(self):
        # bastiond runs as root in this suite: each session's kubectl is a uid
        # of its own from the sandbox range (0x70000000...), as the host sees
        # it, not root and not shared with another session or service.
        self.assertEqual(os.geteuid(), 0)
        probes = ["uidprobe-" + os.urandom(4).hex() for _ in range(2)]
        procs = [subprocess.Popen(self.env.ssh_base() + ["k8senv@127.0.0.1", "--", "get pods " + p],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in probes]
        seen = [self.sandbox_uids(p) for p in probes]
        for p in procs:
            p.wait(20)
        uids = []
        for s in seen:
            self.assertEqual(len(s), 1, s)
            (u,) = s
            self.assertEqual(len(set(u)), 1, u)  # real, effective, saved and fs uid alike
            uids.append(int(u[0]))
        self.assertTrue(all(0x70000000 <= u < 0x70000000 + 65536 for u in uids), uids)
        self.assertNotEqual(uids[0], uids[1])  # two sessions at once: two uids

    def test_argv_attacks_fail_closed(self):
        # Issue 10's findings, on a target without any policy (everything
        # else allowed): kubectl's reading of argv is the bastion's.
        kc = os.path.join(self.env.keys.d, "kubeconfig")
        marker = os.path.join(self.env.d, "attack-marker")
        refused = {
            "--request_timeout get config view --raw": "kubectl config would show or change the held credential",
            f"get pods --cache_dir={marker}": "--cache-dir is not available through the bastion "
                                              "(it names files on the bastion host)",
            f"get pods --profile=cpu --profile_output={marker}": "--profile is not available through the bastion "
                                                                 "(it writes files on the bastion host)",
            f"get pods --certificate_authority={kc}": "--certificate-authority is not available through the bastion "
                                                      "(the bastion holds the credential and the target)",
            f"annotate -f {kc} -f - --local -o yaml a=b": f"-f {kc}: files on the bastion host are not available; "
                                                          "pass the manifest on stdin (-f -)",
            f"annotate -f - -f {kc} --local -o yaml a=b": f"-f {kc}: files on the bastion host are not available; "
                                                          "pass the manifest on stdin (-f -)",
            "apply edit-last-applied deploy/api": "kubectl apply edit-last-applied launches an editor on the bastion host",
            "create --edit -f -": "--edit is not available through the bastion (it starts an editor on the bastion host)",
            "--request_timeout get edit deploy/api": "kubectl edit launches an editor on the bastion host",
            "get pods --bogus-flag x": 'unknown flag --bogus-flag for "get"',
            "krew list": '"krew" is not a kubectl command the bastion knows (plugins are not available)',
        }
        before = len(self.env.kube.requests)
        for line, why in refused.items():
            r = self.env.ssh("k8sopen", ["--", line], input=b"")
            self.assertEqual((r.returncode, r.stderr.decode()), (126, f"bastion: denied: {why}\n"), line)
            self.assertNotIn(TOKEN, r.stdout.decode(), line)
        # The same through a read-only policy: the verb the policy judges is kubectl's.
        r = self.k("k8s", "--request_timeout get delete pod api-s1", key=self.env.dev)
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (126, "bastion: denied: developers have read-only access: kubectl delete is not allowed\n"))
        time.sleep(0.3)
        self.assertEqual(self.env.kube.requests[before:], [])
        self.assertFalse(os.path.exists(marker))
        # The held token is nowhere the user or an operator reads.
        for path in glob.glob(os.path.join(self.env.d, "data", "**"), recursive=True) + [self.env.bastion.log]:
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    self.assertNotIn(TOKEN.encode(), f.read(), path)

    def test_no_sandbox_no_kubectl(self):
        # Fail closed: bubblewrap missing refuses the invocation, clearly.
        r = self.k("k8snobwrap", "get pods")
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (255, "bastion: cannot run kubectl: the kubectl sandbox needs bubblewrap: /nonexistent/bwrap "
                               "is not an executable (install Debian's bubblewrap, or set kubectl_sandbox = false)\n"))

    def check(self, targets):
        conf = os.path.join(self.env.d, "check.conf")
        # A data dir of its own: the running bastion's holds an unpinned audit
        # key, which --check would (rightly) ask to pin.
        os.makedirs(os.path.join(self.env.d, "check-data"), mode=0o700, exist_ok=True)
        with open(conf, "w") as f:
            f.write(f"""listen = "127.0.0.1:1"
host_keys = {{ "keys/bastion_host_key" }}
user_ca_keys = {{ "keys/user_ca.pub" }}
data_dir = "check-data"
targets = {{
{targets}
}}
""")
        return run([BASTIOND, "--check", "--config", conf])

    def test_check_decision_timeout(self):
        base = f'  k = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", allow = {{ "ops" }}, kubectl = "{KUBECTL}", '
        for extra in ("decision_timeout = 0", "decision_timeout = 601", 'sandbox_user = "nobody"'):
            r = self.check(base + extra + " },")
            self.assertEqual(r.returncode, 1, (extra, r.stderr))
            self.assertIn("targets.k." + extra.split()[0], r.stderr.decode(), extra)
        r = self.check(base + "decision_timeout = 5 },")
        self.assertEqual((r.returncode, r.stderr.decode()), (0, ""))

    def test_check_refuses_credential_plugins_and_reports_the_sandbox(self):
        d = self.env.d
        plugin = os.path.join(self.env.keys.d, "kubeconfig-exec")
        with open(os.path.join(self.env.keys.d, "kubeconfig")) as f:
            text = f.read()
        for key, body in (("exec", "    exec:\n      command: /bin/sh\n      apiVersion: client.authentication.k8s.io/v1\n"),
                          ("auth-provider", "    auth-provider:\n      name: oidc\n")):
            with open(plugin, "w") as f:
                f.write(text.replace("    token: " + TOKEN + "\n", body))
            os.chmod(plugin, 0o600)
            r = self.check(f'  k = {{ type = "kubectl", kubeconfig = "keys/kubeconfig-exec", allow = {{ "ops" }}, kubectl = "{KUBECTL}" }},')
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f'targets.k.kubeconfig: {plugin}: its user entry has "{key}:" (credential plugins would run on '
                          "the bastion host; give the target a bearer token or a client certificate)", r.stderr.decode())
        newer = os.path.join(d, "kubectl-newer")
        with open(newer, "w") as f:
            f.write("#!/bin/sh\necho 'Client Version: v1.99.0'\n")
        os.chmod(newer, 0o755)
        r = self.check(f'  k = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", allow = {{ "ops" }}, kubectl = "{newer}" }},\n'
                       f'  n = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", allow = {{ "ops" }}, kubectl = "{KUBECTL}",'
                       ' bwrap = "/nonexistent/bwrap" },')
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(),
                         f"bastiond: warning: targets.k: {newer} is kubectl v1.99.0 but the bastion\'s flag table was "
                         "generated from kubectl v1.32.4 (flags new in v1.99.0 are refused; regenerate with "
                         "scripts/gen_kubectl_flags.py)\n"
                         "bastiond: targets.n: /nonexistent/bwrap: No such file or directory: kubectl runs only inside "
                         "bubblewrap (install Debian\'s bubblewrap, set bwrap = PATH, or kubectl_sandbox = false)\n")
        r = self.check(f'  k = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", allow = {{ "ops" }}, kubectl = "{KUBECTL}" }},')
        self.assertEqual((r.returncode, r.stderr.decode()), (0, ""))

    def raw(self, lines, ops=False):
        """Requests made by the kubectl child itself: (endpoint, [(status, body)])."""
        r = self.k("k8sraw", "get pods", key=None if ops else self.env.dev, input=("\n".join(lines) + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode().splitlines()
        self.assertTrue(out[0].startswith("ENDPOINT "), out)
        answers = [(int(l.split(" ", 1)[0]), json.loads(l.split(" ", 1)[1])) for l in out[1:]]
        return out[0].split()[1:], answers

    def test_api_requests_decided_one_by_one(self):
        before = len(self.env.kube.requests)
        _, answers = self.raw(["GET /api/v1/namespaces/web/pods",
                               "DELETE /api/v1/namespaces/staging/pods/api-s1",
                               "POST /api/v1/namespaces/staging/pods/api-s1/exec?command=id&stdout=true",
                               "GET /api/v1/namespaces/web/pods/api-7d9",
                               "GET /version"])
        self.assertEqual([a[0] for a in answers], [200, 403, 403, 200, 200])
        self.assertEqual(answers[1][1], STATUS_403 % "developers have read-only access: delete pods is not allowed")
        self.assertEqual(answers[2][1], STATUS_403 % "developers have read-only access: exec pods/exec is not allowed")
        self.assertEqual(json.loads(answers[3][1])["metadata"]["name"], "api-7d9")
        # What reached the cluster: the allowed requests only, each with the held credential.
        new = self.env.kube.requests[before:]
        self.assertEqual([(m, p) for m, p, _ in new], [("GET", "/api/v1/namespaces/web/pods"),
                                                        ("GET", "/api/v1/namespaces/web/pods/api-7d9"),
                                                        ("GET", "/version")])
        self.assertEqual({t for _, _, t in new}, {TOKEN})
        self.assertIn(("pods", "staging", "api-s1"), self.env.kube.objects)
        rows = self.env.audit_eventually(
            "SELECT text, decision, exit_status, details FROM commands WHERE kind='kube_request' AND "
            "text IN ('DELETE /api/v1/namespaces/staging/pods/api-s1', 'GET /api/v1/namespaces/web/pods/api-7d9') "
            "ORDER BY id DESC LIMIT 2", [], timeout=0.5)
        self.assertEqual([r[:3] for r in rows], [("GET /api/v1/namespaces/web/pods/api-7d9", "allow", 0),
                                                 ("DELETE /api/v1/namespaces/staging/pods/api-s1", "deny", 403)])
        self.assertEqual(json.loads(rows[1][3]), {
            "verb": "delete", "group": "", "version": "v1", "resource": "pods", "subresource": "",
            "namespace": "staging", "name": "api-s1", "path": "/api/v1/namespaces/staging/pods/api-s1",
            "method": "DELETE", "invocation": "get pods"})
        # Denials are marked in the recording; allowed requests are not (one per request would be noise).
        rec = self.env.audit("SELECT recording FROM commands WHERE kind='kube_request' AND "
                             "text='DELETE /api/v1/namespaces/staging/pods/api-s1' ORDER BY id DESC LIMIT 1")[0][0]
        with open(rec) as f:
            markers = [json.loads(l)[2] for l in f.read().splitlines()[1:] if json.loads(l)[1] == "m"]
        self.assertIn("kube_request: DELETE /api/v1/namespaces/staging/pods/api-s1", markers)
        self.assertIn("decision: deny (developers have read-only access: delete pods is not allowed)", markers)
        self.assertNotIn("kube_request: GET /api/v1/namespaces/web/pods/api-7d9", markers)
        # Discovery is not a policy question: no audit row.
        self.assertEqual(self.env.audit("SELECT count(*) FROM commands WHERE kind='kube_request' AND "
                                        "text='GET /version'"), [(0,)])

    def test_the_proxy_wants_the_session_token(self):
        before = len(self.env.kube.requests)
        _, answers = self.raw(["GET /api/v1/namespaces/web/pods -", "GET /api/v1/namespaces/web/pods " + TOKEN,
                               "GET /api/v1/namespaces/web/pods 0000"])
        unauth = ('{"apiVersion":"v1","code":401,"kind":"Status","message":"bastion: a session token is required",'
                  '"metadata":{},"reason":"Unauthorized","status":"Failure"}')
        self.assertEqual(answers, [(401, unauth)] * 3)
        self.assertEqual(self.env.kube.requests[before:], [])

    def test_the_session_token_dies_with_the_session(self):
        (port, token), answers = self.raw(["GET /api/v1/namespaces/web/pods"])
        self.assertEqual(answers[0][0], 200)
        import socket
        deadline = time.time() + 5
        refused = False
        while not refused and time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
                time.sleep(0.05)
            except ConnectionRefusedError:
                refused = True
        self.assertTrue(refused, "the proxy still listens after the session ended")

    def test_ops_delete_in_production_refused_at_the_api(self):
        before = len(self.env.kube.requests)
        _, answers = self.raw(["DELETE /api/v1/namespaces/web/pods/worker-1",
                               "POST /api/v1/namespaces/web/pods/api-7d9/exec?command=sh"], ops=True)
        self.assertEqual(answers, [
            (403, STATUS_403 % "deleting in production namespace web needs oncall or an approved kubectl invocation"),
            (403, STATUS_403 % "exec is only allowed into non-production namespaces")])
        self.assertEqual(self.env.kube.requests[before:], [])

    def test_the_api_server_is_verified_against_the_held_ca(self):
        before = len(self.env.kube.requests)
        r = self.k("k8sbadca", "get pods")
        self.assertEqual(r.returncode, 1)
        # kubectl shows a 502 from discovery as "unknown"; the Status says why (bastiond's log too).
        self.assertTrue(r.stderr.decode().endswith('Error from server (InternalError): an error on the server '
                                                   '("unknown") has prevented the request from succeeding\n'), r.stderr)
        self.assertEqual(self.env.kube.requests[before:], [])

    def test_client_certificate_credentials(self):
        r = self.k("k8smtls", "get pods -o name")
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "pod/api-7d9\npod/worker-1\n"), r.stderr)
        self.assertEqual({t for _, _, t in self.env.mtls.requests}, {"cert:bastion-holder"})
        self.assertIn(("GET", "/api/v1/namespaces/web/pods"), [(m, p.split("?")[0]) for m, p, _ in self.env.mtls.requests])

    def test_policy_cases_and_policy_test_for_kube_requests(self):
        policy = os.path.join(POLICY_DIR, "kubernetes.lua")
        r = subprocess.run([BASTIONCTL, "policy", "test", policy, "--cases",
                            os.path.join(POLICY_DIR, "kubernetes.cases.lua")], capture_output=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "56 passed, 0 failed\n"), r.stderr)
        r = subprocess.run([BASTIONCTL, "policy", "test", policy, "--principals", "dev", "--kind", "kube_request",
                            "--", "DELETE /api/v1/namespaces/web/pods/x"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stdout.decode().startswith(
            "certificate: not given (c.certificate fields are zero)\n"
            "decision: deny\nreason:   developers have read-only access: delete pods is not allowed\n"), r.stdout)
        r = subprocess.run([BASTIONCTL, "policy", "test", policy, "--kind", "kube_request", "--",
                            "GET /api/v1/namespaces/web/../kube-system/secrets"], capture_output=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout.decode()), (1, "certificate: not given (c.certificate fields are "
                                                                "zero)\ndecision: deny\nreason:   a malformed request path\n"
                                                                "from:     bastion (refused whatever the policy says)\n"))

    def test_argv_tricks_meet_the_api_layer(self):
        before = len(self.env.kube.requests)
        # kubectl reads --cache_dir as --cache-dir=get and runs `delete`.
        r = self.k("k8s", "--cache_dir get delete pod api-s1 -n staging", key=self.env.dev)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bastion: denied: ", r.stderr.decode())
        r = self.k("k8s", "--request_timeout get config view --raw", key=self.env.dev)
        self.assertNotIn(TOKEN, r.stdout.decode() + r.stderr.decode())
        time.sleep(0.3)
        self.assertEqual([x for x in self.env.kube.requests[before:] if x[0] != "GET"], [])
        self.assertIn(("pods", "staging", "api-s1"), self.env.kube.objects)

    def test_secret_values_masked_in_every_output_format(self):
        plain, b64 = "hunter2-secret", "aHVudGVyMi1zZWNyZXQ="
        cases = {
            "get secret db-creds -o jsonpath={.data.password}": "KioqKg==",
            "get secret db-creds -o custom-columns=P:.data.password": "P\nKioqKg==\n",
            "get secret db-creds -o go-template={{.data.password}}": "KioqKg==",
            "get secret db-creds -o 'go-template={{.data.password | base64decode}}'": "****",
            "get --raw /api/v1/namespaces/web/secrets/db-creds": None,
            "get secrets -o json": None,
            "get secret db-creds -o yaml": None,
            "describe secret db-creds": None,
        }
        for line, want in cases.items():
            r = self.k("k8s", line, key=self.env.dev)
            out = r.stdout.decode()
            self.assertEqual(r.returncode, 0, (line, r.stderr))
            self.assertNotIn(b64, out, line)
            self.assertNotIn(plain, out, line)
            if want is not None:
                self.assertEqual(out, want, line)
        r = self.k("k8s", "describe secret db-creds", key=self.env.dev)
        self.assertIn("password:  4 bytes", r.stdout.decode())
        r = self.k("k8s", "get --raw /api/v1/namespaces/web/secrets/db-creds", key=self.env.dev)
        self.assertEqual(json.loads(r.stdout.decode())["data"], {"password": "KioqKg=="})
        _, answers = self.raw(["GET /api/v1/secrets", "GET /api/v1/namespaces/web/secrets?watch=true&timeoutSeconds=1"])
        self.assertEqual(json.loads(answers[0][1])["items"][0]["data"], {"password": "KioqKg=="})
        events = [json.loads(l) for l in answers[1][1].splitlines() if l]
        self.assertEqual([(e["type"], e["object"]["data"]) for e in events], [("ADDED", {"password": "KioqKg=="})])

    def test_secrets_masked_in_output_and_recording(self):
        r = self.k("k8s", "get secret db-creds -o yaml")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("  password: ****\n", out)
        self.assertNotIn("aHVudGVyMi1zZWNyZXQ=", out)
        r = self.k("k8s", "get secret db-creds -o json")
        self.assertIn('"password": "****"', r.stdout.decode())
        for path in self.env.audit("SELECT recording FROM commands WHERE kind='exec' AND text LIKE 'get secret%'"):
            with open(path[0]) as f:
                self.assertNotIn("aHVudGVy", f.read())

    def test_manifest_from_stdin(self):
        manifest = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "from-stdin"},
                               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}).encode()
        r = self.k("k8sopen", "create --validate=false -f -", input=manifest)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "pod/from-stdin created\n")
        self.assertIn(("pods", "staging", "from-stdin"), self.env.kube.objects)

    def test_logs_follow_streams_until_the_user_leaves(self):
        p = subprocess.Popen(self.env.ssh_base() + ["k8sopen@127.0.0.1", "--", "logs -f api-7d9 -n web"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got = b""
        while got.count(b"\n") < 4:
            got += p.stdout.read1(4096)
        self.assertTrue(got.startswith(b"log line 1 from api-7d9\nlog line 2 from api-7d9\n"), got)
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            running = subprocess.run(["pgrep", "-f", "logs -f api-7d9 -n web"], capture_output=True).stdout
            if not running:
                break
            time.sleep(0.2)
        self.assertEqual(running, b"")

    def test_exec_it_with_a_real_pty_and_window_changes(self):
        argv = self.env.ssh_base(tty=True) + ["k8sopen@127.0.0.1", "--", "exec -it api-s1 -- sh"]
        s = PtySession(argv, 30, 100, env={"TERM": "xterm-256color"})
        s.read_until(b"$ ", timeout=20)
        # kubectl sends the first size on its own schedule, maybe after the first keys.
        end = time.time() + 10
        while (30, 100) not in self.env.kube.sizes and time.time() < end:
            time.sleep(0.05)
        s.send(b"stty size\r")
        s.read_until(b"30 100\r\n")
        s.resize(40, 120)
        time.sleep(0.5)
        s.send(b"stty size\r")
        s.read_until(b"40 120\r\n")
        s.send(b"exit\r")
        self.assertEqual(s.wait(), 0)
        self.assertEqual(self.env.kube.execs[-1], {"command": ["sh"], "tty": "true"})

    def test_console(self):
        argv = self.env.ssh_base(tty=True) + ["k8sopen@127.0.0.1"]
        s = PtySession(argv, 30, 120, env={"TERM": "xterm-256color"})
        s.read_until(b"k8sopen (staging)> ")
        s.send(b"get pods\r")
        s.read_until(b"api-s1", timeout=20)
        s.read_until(b"\r\nk8sopen (staging)> ")
        s.send(b"config view\r")
        s.read_until(b"bastion: denied: kubectl config would show or change the held credential")
        s.send(b"exit\r")
        self.assertEqual(s.wait(), 0)


if __name__ == "__main__":
    main()
