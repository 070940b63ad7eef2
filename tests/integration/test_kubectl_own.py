"""The user's own kubectl through the bastion: `ssh -N -L PORT:k8s:443
k8s@bastion` plus the kubeconfig `bastionctl kubeconfig k8s` prints. The real
kubectl on this machine (not run by the bastion) talks TLS to the bastion's
API proxy through the tunnel; every request is decided by the policy,
audited, and sent to the fake API server with the held credential, which
never reaches the user."""
import base64
import json
import os
import shutil
import stat
import subprocess
import time
import unittest

from fake_kube_api import FakeKube, pod
from harness import BASTIONCTL, BastionTest, Env, free_port, main, run, wait_port, stop_process

POLICY_DIR = os.path.join(os.path.dirname(__file__), "../../policies")
KUBECTL = shutil.which("kubectl")
TOKEN = "held-kube-token-own-77e1"


def own_kubectl_env(token, extra_targets=""):
    """A bastion whose kubectl target k8s (namespace web, policies/kubernetes.lua)
    fronts a fake API server holding `token`; env.dev is a read-only developer.
    More certificates can be made afterwards (the bastion trusts the CA)."""
    env = Env()
    try:
        env.kube = FakeKube(token)
        kc = os.path.join(env.keys.d, "kubeconfig")
        env.kube.kubeconfig(kc)
        os.chmod(kc, 0o600)
        shutil.copy(os.path.join(POLICY_DIR, "commands.lua"), os.path.join(env.d, "commands.lua"))
        env.dev = env.keys.cert(env.keys.keygen("dana"), env.ca, "dana", "dev")
        policy = os.path.abspath(os.path.join(POLICY_DIR, "kubernetes.lua"))
        env.start_bastion(targets=env.default_targets() + f"""
  k8s = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "web", allow = {{ "ops", "dev" }},
          policy = "{policy}", kubectl = "{KUBECTL}" }},""" + extra_targets)
    except BaseException:
        env.close()
        raise
    return env


def open_tunnel(test, key, target="k8s", dest=None):
    """An `ssh -N -L` tunnel for the test's lifetime; returns (process, local port)."""
    port = free_port()
    cmd = test.env.ssh_base(key, extra=["-N", "-L", f"127.0.0.1:{port}:{dest or target + ':443'}",
                                        "-o", "ExitOnForwardFailure=yes"]) + [f"{target}@127.0.0.1"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    test.addCleanup(lambda: stop_process(p))
    wait_port(port)
    return p, port


class OwnKubectlTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        policy = os.path.abspath(os.path.join(POLICY_DIR, "kubernetes.lua"))
        cls.env = env = own_kubectl_env(TOKEN, f"""
  k8stoo = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "web", allow = {{ "ops", "dev" }},
             policy = "{policy}", kubectl = "{KUBECTL}" }},""")
        try:
            env.oncall = env.keys.cert(env.keys.keygen("otto"), env.ca, "otto", "ops,oncall")
            # ssh-keygen's defaults minus permit-port-forwarding.
            env.nofwd = env.keys.cert(env.keys.keygen("nora"), env.ca, "nora", "ops",
                                      options=("clear", "permit-pty"))
            env.forced = env.keys.cert(env.keys.keygen("fred"), env.ca, "fred", "ops",
                                       options=("force-command=get pods",))
        except BaseException:
            env.kube.stop()
            env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.kube.stop()
        super().tearDownClass()

    def kubeconfig(self, key, target="k8s"):
        r = self.env.ssh(target, ["kubeconfig"], key=key, extra=["-s"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def tunnel(self, key, target="k8s", dest=None):
        return open_tunnel(self, key, target, dest)

    def own(self, key, args, port, kc=None, target="k8s", timeout=30, input=None):
        """Runs the machine's kubectl with the bastion's kubeconfig for `key`."""
        if kc is None:
            kc = os.path.join(self.env.d, f"own-{os.path.basename(key)}-{target}-{port}.kubeconfig")
            r = run([BASTIONCTL, "kubeconfig", target, "--bastion", "127.0.0.1", "--port", str(self.env.bastion.port),
                     "--local-port", str(port), "--output", kc, "--"] + self.env.ssh_base(key)[1:-3])
            self.assertEqual(r.returncode, 0, r.stderr)
        home = os.path.join(self.env.d, "kubehome")
        os.makedirs(home, exist_ok=True)
        return run([KUBECTL, "--kubeconfig", kc] + args, timeout=timeout, input=input,
                   env={"PATH": "/usr/bin:/bin", "HOME": home})

    def test_the_kubeconfig_holds_a_token_for_this_certificate_only(self):
        a = self.kubeconfig(self.env.dev)
        self.assertEqual(self.kubeconfig(self.env.dev), a)  # stable for one certificate
        b = self.kubeconfig(self.env.oncall)
        other_target = self.kubeconfig(self.env.dev, target="k8stoo")
        cluster = a["clusters"][0]["cluster"]
        self.assertEqual(cluster["server"], "https://127.0.0.1:6443")
        with open(os.path.join(self.env.bastion.data, "kube-proxy.pem")) as f:
            held = f.read()
        self.assertEqual(os.stat(os.path.join(self.env.bastion.data, "kube-proxy.pem")).st_mode & 0o777, 0o600)
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.assertTrue(ca.startswith("-----BEGIN CERTIFICATE-----"), ca)
        self.assertIn(ca, held)
        self.assertNotIn("PRIVATE KEY", json.dumps(a))
        tokens = [x["users"][0]["user"]["token"] for x in (a, b, other_target)]
        self.assertEqual([len(t) for t in tokens], [64] * 3)
        self.assertEqual(len(set(tokens)), 3)
        self.assertNotIn(TOKEN, json.dumps(a))
        self.assertEqual((a["current-context"], a["contexts"][0]["context"]["namespace"]), ("k8s", "web"))
        rows = self.env.audit_eventually(
            "SELECT kind, text, decision FROM commands WHERE kind='subsystem' AND text='kubeconfig' LIMIT 1",
            [("subsystem", "kubeconfig", "allow")])
        self.assertEqual(rows, [("subsystem", "kubeconfig", "allow")])

    def test_bastionctl_kubeconfig_writes_a_private_file(self):
        kc = os.path.join(self.env.d, "bastionctl.kubeconfig")
        with open(kc, "w") as f:
            f.write("old")
        os.chmod(kc, 0o644)
        r = run([BASTIONCTL, "kubeconfig", "k8s", "--bastion", "127.0.0.1", "--port", str(self.env.bastion.port),
                 "--local-port", "7443", "--output", kc, "--"] + self.env.ssh_base(self.env.dev)[1:-3])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.decode(), "bastionctl: forward the API with: ssh -N -L 7443:k8s:443 "
                                            f"k8s@127.0.0.1 -p {self.env.bastion.port}\n")
        self.assertEqual(stat.S_IMODE(os.stat(kc).st_mode), 0o600)
        with open(kc) as f:
            j = json.load(f)
        self.assertEqual(j["clusters"][0]["cluster"]["server"], "https://127.0.0.1:7443")
        self.assertEqual(j["users"], self.kubeconfig(self.env.dev)["users"])
        # A target that does not exist: ssh is refused, bastionctl says so.
        r = run([BASTIONCTL, "kubeconfig", "nope", "--bastion", "127.0.0.1", "--port", str(self.env.bastion.port),
                 "--"] + self.env.ssh_base(self.env.dev)[1:-3])
        self.assertEqual(r.returncode, 1)
        self.assertIn("bastionctl: the bastion gave no kubeconfig", r.stderr.decode())
        r = run([BASTIONCTL, "kubeconfig", "-oProxyCommand=x", "--bastion", "127.0.0.1"])
        self.assertEqual(r.returncode, 2)

    def test_own_kubectl_requests_are_decided_one_by_one(self):
        _, port = self.tunnel(self.env.dev)
        before = len(self.env.kube.requests)
        r = self.own(self.env.dev, ["get", "pods"], port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l.split()[0] for l in r.stdout.decode().splitlines()][:2], ["NAME", "api-7d9"])
        r = self.own(self.env.dev, ["get", "pods", "-n", "web", "--watch"], port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("api-7d9", r.stdout.decode())
        r = self.own(self.env.dev, ["delete", "pod", "api-s1", "-n", "staging"], port)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(), "Error from server (Forbidden): bastion: denied: developers have "
                                            "read-only access: delete pods is not allowed\n")
        r = self.own(self.env.dev, ["exec", "api-s1", "-n", "staging", "--", "id"], port)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bastion: denied: developers have read-only access: exec pods/exec is not allowed",
                      r.stderr.decode())
        r = self.own(self.env.dev, ["port-forward", "pod/api-s1", "-n", "staging", f"{free_port()}:80"], port)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bastion: denied: developers have read-only access: portforward pods/portforward is not "
                      "allowed", r.stderr.decode())
        self.assertIn(("pods", "staging", "api-s1"), self.env.kube.objects)
        new = self.env.kube.requests[before:]
        self.assertEqual({t for _, _, t in new}, {TOKEN})  # the held credential, on every request
        self.assertEqual([(m, p) for m, p, _ in new if m != "GET"], [])  # nothing denied arrived
        rows = self.env.audit_eventually(
            "SELECT decision, exit_status, details FROM commands WHERE kind='kube_request' AND "
            "text='DELETE /api/v1/namespaces/staging/pods/api-s1' ORDER BY id DESC LIMIT 1", [], timeout=0.5)
        self.assertEqual(rows[0][:2], ("deny", 403))
        self.assertEqual(json.loads(rows[0][2]), {
            "verb": "delete", "group": "", "version": "v1", "resource": "pods", "subresource": "",
            "namespace": "staging", "name": "api-s1", "path": "/api/v1/namespaces/staging/pods/api-s1",
            "method": "DELETE", "own_kubectl": True})
        rows = self.env.audit("SELECT kind, text, decision FROM commands WHERE kind='tunnel' ORDER BY id DESC LIMIT 1")
        self.assertEqual(rows, [("tunnel", "k8s:443", "allow")])

    def test_oncall_deletes_outside_production(self):
        _, port = self.tunnel(self.env.oncall)
        self.env.kube.put("pods", "staging", pod("doomed", "staging", "x"))
        r = self.own(self.env.oncall, ["delete", "pod", "doomed", "-n", "staging", "--wait=false"], port)
        self.assertEqual((r.returncode, r.stdout.decode()), (0, 'pod "doomed" deleted\n'), r.stderr)
        self.assertEqual(self.env.kube.seen("DELETE", "/namespaces/staging/pods/doomed")[0][2], TOKEN)
        self.assertNotIn(("pods", "staging", "doomed"), self.env.kube.objects)

    def test_a_large_object_goes_through_the_tunnel_whole(self):
        # 900 KB of request body: more than the socketpair to the API proxy
        # and the executor's queue hold at once, so the tunnel waits on the
        # proxy while the client has stopped sending.
        _, port = self.tunnel(self.env.oncall)
        data = ("x" * 99 + "\n") * 9000
        manifest = os.path.join(self.env.d, "large-configmap.json")
        with open(manifest, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "large", "namespace": "staging"}, "data": {"blob": data}}, f)
        r = self.own(self.env.oncall, ["create", "--validate=false", "-f", manifest], port, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, b"configmap/large created\n"), r.stderr)
        self.assertEqual(self.env.kube.objects[("configmaps", "staging", "large")]["data"]["blob"], data)

    def test_secrets_masked_in_every_output_format(self):
        _, port = self.tunnel(self.env.dev)
        plain, b64 = "hunter2-secret", "aHVudGVyMi1zZWNyZXQ="
        cases = {
            ("get", "secret", "db-creds", "-o", "jsonpath={.data.password}"): "KioqKg==",
            ("get", "secret", "db-creds", "-o", "custom-columns=P:.data.password"): "P\nKioqKg==\n",
            ("get", "secret", "db-creds", "-o", "go-template={{.data.password | base64decode}}"): "****",
            ("get", "--raw", "/api/v1/namespaces/web/secrets/db-creds"): None,
            ("get", "secrets", "-o", "yaml"): None,
            ("describe", "secret", "db-creds"): None,
        }
        for args, want in cases.items():
            r = self.own(self.env.dev, list(args), port)
            out = r.stdout.decode()
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertNotIn(b64, out, args)
            self.assertNotIn(plain, out, args)
            if want is not None:
                self.assertEqual(out, want, args)

    def test_exec_where_the_policy_allows_it(self):
        _, port = self.tunnel(self.env.oncall)
        # The fake API server's exec is a little shell: it answers lines until "exit".
        r = self.own(self.env.oncall, ["exec", "-i", "api-s1", "-n", "staging", "--", "sh"], port,
                     input=b"hello\nexit\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("you said: hello", r.stdout.decode())
        r = self.own(self.env.oncall, ["exec", "api-7d9", "-n", "web", "--", "id"], port)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bastion: denied: exec is only allowed into non-production namespaces", r.stderr.decode())

    def test_the_tunnel_wants_this_certificates_token(self):
        _, port = self.tunnel(self.env.dev)
        before = len(self.env.kube.requests)
        good = self.kubeconfig(self.env.dev)
        for token in (TOKEN, self.kubeconfig(self.env.oncall)["users"][0]["user"]["token"],
                      self.kubeconfig(self.env.dev, target="k8stoo")["users"][0]["user"]["token"], "0" * 64):
            kc = dict(good)
            kc["clusters"] = [{"name": "bastion", "cluster": dict(good["clusters"][0]["cluster"],
                                                                  server=f"https://127.0.0.1:{port}")}]
            kc["users"] = [{"name": "bastion", "user": {"token": token}}]
            path = os.path.join(self.env.d, "forged.kubeconfig")
            with open(path, "w") as f:
                json.dump(kc, f)
            r = self.own(self.env.dev, ["get", "pods"], port, kc=path)
            self.assertEqual(r.returncode, 1)
            # kubectl shows its own words for a 401, not the Status message.
            self.assertIn("error: You must be logged in to the server (the server has asked for the client to "
                          "provide credentials)", r.stderr.decode())
        self.assertEqual(self.env.kube.requests[before:], [])

    def test_tunnels_only_to_the_kubectl_targets_api(self):
        before = self.env.audit("SELECT count(*) FROM commands WHERE kind='forward'")[0][0]
        for key, target, dest, why in (
                (self.env.dev, "k8s", "127.0.0.1:" + str(self.env.kube.port),
                 "port forwarding is not allowed (a kubectl target forwards only k8s:443)"),
                (self.env.dev, "k8s", "k8s:6443", "port forwarding is not allowed (a kubectl target forwards only k8s:443)"),
                (self.env.dev, "k8s", "k8stoo:443", "port forwarding is not allowed (a kubectl target forwards only k8s:443)"),
                (self.env.alice, "web1", "web1:443", "port forwarding is not allowed"),
                (self.env.nofwd, "k8s", "k8s:443", "your certificate does not permit port forwarding"),
                (self.env.forced, "k8s", "k8s:443", "your certificate is restricted to a forced command")):
            port = free_port()
            p = subprocess.Popen(self.env.ssh_base(key, extra=["-N", "-L", f"127.0.0.1:{port}:{dest}"]) +
                                 [f"{target}@127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(port)
                r = run(["curl", "-sk", "--max-time", "5", f"https://127.0.0.1:{port}/version"])
                self.assertNotEqual(r.returncode, 0, (dest, r.stdout))
            finally:
                stop_process(p)
            rows = self.env.audit_eventually(
                "SELECT text, decision, reason FROM commands WHERE kind='forward' ORDER BY id DESC LIMIT 1",
                [(f"direct-tcpip to {dest}", "deny", why)])
            self.assertEqual(rows, [(f"direct-tcpip to {dest}", "deny", why)])
        # Two refusals each: wait_port's probe and curl.
        self.assertEqual(self.env.audit("SELECT count(*) FROM commands WHERE kind='forward'")[0][0], before + 12)

    def test_the_tunnel_dies_with_the_session(self):
        p, port = self.tunnel(self.env.dev)
        r = self.own(self.env.dev, ["get", "pods"], port)
        self.assertEqual(r.returncode, 0, r.stderr)
        stop_process(p)
        r = self.own(self.env.dev, ["get", "pods", "--request-timeout=5s"], port)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"The connection to the server 127.0.0.1:{port} was refused", r.stderr.decode())

    def test_kubeconfig_subsystem_only_on_kubectl_targets(self):
        r = self.env.ssh("web1", ["kubeconfig"], extra=["-s"])
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("certificate-authority-data", r.stdout.decode())


if __name__ == "__main__":
    main()
