"""Attacks on users' own kubectl through the bastion (`ssh -N -L
6443:k8s:443 k8s@bastion` + the kubeconfig subsystem). Each test PASSES when
the bastion resists the attack and FAILS when the attack works. The setup is
test_kubectl_own.py's; the client here is often a raw TLS client (every
header and path in the attacker's hands), not kubectl."""
import base64
import glob
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import hashlib
from urllib.parse import parse_qs, urlparse

from fake_kube_api import FakeKube, deployment, secret
from harness import BastionTest, main, run, stop_process
from test_kubectl_own import open_tunnel, own_kubectl_env

TOKEN = "held-kube-token-attack-91c3"
PLAIN, B64 = "hunter2-secret", "aHVudGVyMi1zZWNyZXQ="

# The API server also serves watches over WebSocket (apiserver's
# WatchServer.HandleWS): the fake here learns that for Secrets.
_fake_handler = FakeKube._handler


def _handler_with_ws_watch(fake):
    H = _fake_handler(fake)

    class W(H):
        def handle_any(self, method):
            u, auth = urlparse(self.path), self.headers.get("Authorization", "")
            if (method == "GET" and u.path.endswith("/secrets") and
                    parse_qs(u.query).get("watch", [""])[0] in ("1", "true") and
                    self.headers.get("Upgrade", "").lower() == "websocket"):
                with fake.lock:
                    fake.requests.append((method, self.path, auth[7:]))
                if auth != "Bearer " + fake.token:
                    return self.status(401, "Unauthorized", "Unauthorized")
                key = self.headers["Sec-WebSocket-Key"]
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", base64.b64encode(hashlib.sha1(
                    (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode())
                self.end_headers()
                for (r, _, _), o in list(fake.objects.items()):
                    if r == "secrets":
                        self.ws_send(None, json.dumps({"type": "ADDED", "object": o}).encode(), opcode=1)
                self.ws_send(None, b"\x03\xe8", opcode=8)
                self.close_connection = True
                return None
            return super().handle_any(method)
    return W


FakeKube._handler = _handler_with_ws_watch


class OwnKubectlAttackTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = own_kubectl_env(TOKEN)
        env.ops = env.keys.cert(env.keys.keygen("olga"), env.ca, "olga", "ops")  # not oncall

    @classmethod
    def tearDownClass(cls):
        cls.env.kube.stop()
        super().tearDownClass()

    # --- helpers -----------------------------------------------------------

    def kubeconfig(self, key):
        r = self.env.ssh("k8s", ["kubeconfig"], key=key, extra=["-s"])
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        ca = base64.b64decode(j["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        return ca, j["users"][0]["user"]["token"]

    def tunnel(self, key):
        return open_tunnel(self, key)

    def conn(self, port, ca, timeout=15):
        ctx = ssl.create_default_context(cadata=ca)
        return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)

    def raw(self, port, ca, token, method, path, headers=None, body=None):
        c = self.conn(port, ca)
        h = {"Authorization": "Bearer " + token}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def rows(self, text):
        return self.env.audit("SELECT kind, text, decision FROM commands WHERE text=?", (text,))

    def bastion_alive(self):
        self.assertIsNone(self.env.bastion.proc.poll(), "bastiond died")

    # --- attacks -----------------------------------------------------------

    def test_non_resource_paths_reach_the_api_only_with_a_decision(self):
        """The proxy passes every GET it calls "discovery" (anything outside
        /api/v1/RES and /apis/G/V/RES) upstream with the held credential,
        without asking the policy and without an audit row: /logs/ (the
        control plane's /var/log), /metrics, /debug/pprof, /api/v1/.. ."""
        ca, token = self.kubeconfig(self.env.dev)
        _, port = self.tunnel(self.env.dev)
        reached_undecided = []
        for path in ("/logs/kube-apiserver.log", "/metrics", "/debug/pprof/goroutine?debug=2"):
            before = len(self.env.kube.requests)
            status, _ = self.raw(port, ca, token, "GET", path)
            got = [r for r in self.env.kube.requests[before:] if r[2] == TOKEN]
            audited = self.env.audit("SELECT count(*) FROM commands WHERE kind='kube_request' AND text=?",
                                     ("GET " + path.split("?")[0],))[0][0]
            if got and not audited:
                reached_undecided.append((path, status))
        self.assertEqual(reached_undecided, [], "sent upstream with the held credential, no policy decision, "
                                                "no audit row")

    def test_own_kubectl_cannot_scale_production_without_the_review(self):
        """The shipped policy holds `kubectl scale/drain/cordon/rollout` in
        production for oncall's approval (the kubectl layer); own kubectl
        meets only the kube_request layer, which holds only deletes."""
        self.env.kube.put("deployments", "web", deployment("api", "web", 2))
        ca, token = self.kubeconfig(self.env.ops)
        _, port = self.tunnel(self.env.ops)
        before = len(self.env.kube.requests)
        status, body = self.raw(port, ca, token, "PATCH", "/apis/apps/v1/namespaces/web/deployments/api/scale",
                                {"Content-Type": "application/merge-patch+json"},
                                json.dumps({"spec": {"replicas": 0}}))
        patched = [r for r in self.env.kube.requests[before:] if r[0] == "PATCH"]
        self.assertEqual(patched, [], f"production scaled to 0 with no approval (HTTP {status}: {body[:200]!r}); "
                                      f"audit: {self.rows('PATCH /apis/apps/v1/namespaces/web/deployments/api/scale')}")

    def test_own_kubectl_cannot_evict_in_production_without_oncall(self):
        """Deletes in production need oncall; an eviction (what `kubectl
        drain` does, held for review in the kubectl layer) deletes the pod
        all the same and is a plain "create" to the kube_request layer."""
        ca, token = self.kubeconfig(self.env.ops)
        _, port = self.tunnel(self.env.ops)
        status, _ = self.raw(port, ca, token, "DELETE", "/api/v1/namespaces/web/pods/api-7d9")
        self.assertEqual(status, 403)  # the policy's intent: not without oncall
        before = len(self.env.kube.requests)
        path = "/api/v1/namespaces/web/pods/api-7d9/eviction"
        status, body = self.raw(port, ca, token, "POST", path, {"Content-Type": "application/json"}, json.dumps(
            {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "api-7d9", "namespace": "web"}}))
        sent = [r for r in self.env.kube.requests[before:] if r[0] == "POST"]
        self.assertEqual(sent, [], f"eviction (a delete) of a production pod sent with the held credential; "
                                   f"audit: {self.rows('POST ' + path)}")

    def test_secrets_stay_masked_in_a_websocket_watch(self):
        """The proxy relays any 101 Switching Protocols as raw bytes, masked
        decision or not; a watch asked for as a WebSocket is one."""
        ca, token = self.kubeconfig(self.env.dev)
        _, port = self.tunnel(self.env.dev)
        s = ssl.create_default_context(cadata=ca).wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                                              server_hostname="127.0.0.1")
        s.settimeout(10)
        s.sendall(("GET /api/v1/namespaces/web/secrets?watch=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Authorization: Bearer " + token + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                   "Origin: http://127.0.0.1\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
        got = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except (OSError, ssl.SSLError):
            pass
        s.close()
        self.assertEqual(self.rows("GET /api/v1/namespaces/web/secrets")[-1:], [("kube_request",
                         "GET /api/v1/namespaces/web/secrets", "mask")])
        self.assertNotIn(B64.encode(), got, f"unmasked Secret through a WebSocket watch: {got[:300]!r}")

    def test_last_applied_configuration_does_not_leak_secret_values(self):
        """A Secret made with `kubectl apply` carries its whole manifest,
        data included, in an annotation; the masker replaces only data and
        stringData."""
        s = secret("applied", "web", {"password": PLAIN})
        s["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "applied", "namespace": "web"},
             "data": {"password": B64}, "type": "Opaque"})}
        self.env.kube.put("secrets", "web", s)
        ca, token = self.kubeconfig(self.env.dev)
        _, port = self.tunnel(self.env.dev)
        status, body = self.raw(port, ca, token, "GET", "/api/v1/namespaces/web/secrets/applied")
        self.assertEqual(status, 200)
        self.assertIn(b"KioqKg==", body)  # data itself was masked
        self.assertNotIn(B64.encode(), body, "the Secret's value, unmasked, in metadata.annotations")

    def test_kubeconfig_subsystem_request_never_reaches_an_ssh_target(self):
        """cb_subsystem now lets "kubeconfig" through for every target; on an
        ssh target the policy decides it as a subsystem and the bastion asks
        the target's sshd for it (before: refused by the bastion)."""
        before = self.env.audit("SELECT max(id) FROM commands")[0][0] or 0
        r = self.env.ssh("web1", ["kubeconfig"], extra=["-s"])
        self.assertNotEqual(r.returncode, 0)
        rows = self.env.audit("SELECT kind, text, decision FROM commands WHERE id>? AND kind='subsystem'", (before,))
        self.assertEqual(rows, [], "the bastion decided (and forwarded) subsystem kubeconfig on an ssh target")

    def test_reload_withdrawing_access_cuts_a_running_tunnel(self):
        ca, token = self.kubeconfig(self.env.dev)
        p, port = self.tunnel(self.env.dev)
        c = self.conn(port, ca, timeout=30)
        c.request("GET", "/api/v1/namespaces/web/pods/api-7d9/log?follow=true",
                  headers={"Authorization": "Bearer " + token})
        sock = c.sock  # http.client forgets it once the response says Connection: close
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.fp.readline())
        b = self.env.bastion
        with open(b.conf) as f:
            good = f.read()
        try:
            with open(b.conf, "w") as f:
                f.write(good.replace('allow = { "ops", "dev" }', 'allow = { "ops" }', 1))
            b.proc.send_signal(signal.SIGHUP)
            t0, alive = time.time(), True
            sock.settimeout(2)
            while time.time() - t0 < 15:
                try:
                    if not r.fp.readline():
                        alive = False
                        break
                except (OSError, ssl.SSLError, http.client.HTTPException):
                    alive = False
                    break
            self.assertFalse(alive, "log -f kept streaming 15 s after the reload withdrew access")
        finally:
            with open(b.conf, "w") as f:
                f.write(good)
            b.proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
        self.bastion_alive()

    def test_access_withdrawn_while_requests_hammer_the_proxy(self):
        """The bastion ends the session (reload) while many requests are
        being read, decided and relayed: no crash, no hang, nothing after."""
        ca, token = self.kubeconfig(self.env.dev)
        _, port = self.tunnel(self.env.dev)
        stop, counts = threading.Event(), []

        def hammer():
            n = 0
            while not stop.is_set():
                try:
                    status, _ = self.raw(port, ca, token, "GET", "/api/v1/namespaces/web/pods")
                    n += status == 200
                except (OSError, ssl.SSLError, http.client.HTTPException):
                    pass
            counts.append(n)

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        b = self.env.bastion
        with open(b.conf) as f:
            good = f.read()
        try:
            with open(b.conf, "w") as f:
                f.write(good.replace('allow = { "ops", "dev" }', 'allow = { "ops" }', 1))
            b.proc.send_signal(signal.SIGHUP)
            time.sleep(3)
            before = len(self.env.kube.requests)
            time.sleep(2)
            after = len(self.env.kube.requests)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            with open(b.conf, "w") as f:
                f.write(good)
            b.proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
        self.assertGreater(sum(counts), 0)
        self.assertEqual(after, before, "requests still reached the API after access was withdrawn")
        self.assertFalse(any(t.is_alive() for t in threads))
        self.bastion_alive()

    def test_certificate_expiry_cuts_a_running_tunnel(self):
        short = self.env.keys.cert(self.env.keys.keygen("eve"), self.env.ca, "eve", "dev", validity="-5m:+12s")
        ca, token = self.kubeconfig(short)
        _, port = self.tunnel(short)
        c = self.conn(port, ca, timeout=30)
        c.request("GET", "/api/v1/namespaces/web/pods/api-7d9/log?follow=true",
                  headers={"Authorization": "Bearer " + token})
        sock = c.sock  # http.client forgets it once the response says Connection: close
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        sock.settimeout(2)
        t0, ended = time.time(), None
        while time.time() - t0 < 30:
            try:
                line = r.fp.readline()
            except (OSError, ssl.SSLError, http.client.HTTPException):
                line = b""
            if not line:
                ended = time.time() - t0
                break
        self.assertIsNotNone(ended, "still streaming 30 s in, the certificate expired after 12")
        # Not before (the expiry warnings must not break the TLS in the tunnel), not long after.
        self.assertGreater(ended, 6)
        self.assertLess(ended, 25)
        self.bastion_alive()

    def test_session_end_with_proxy_threads_in_flight_does_not_hurt_bastiond(self):
        """Kill the client while proxy threads are mid-handshake, mid-head,
        waiting for a decision and streaming; again and again."""
        ca, token = self.kubeconfig(self.env.dev)
        for _ in range(4):
            p, port = self.tunnel(self.env.dev)
            socks = []
            for i in range(8):
                s = socket.create_connection(("127.0.0.1", port))
                if i % 4 == 1:  # TLS, a partial head
                    s = ssl.create_default_context(cadata=ca).wrap_socket(s, server_hostname="127.0.0.1")
                    s.sendall(b"GET /api/v1/namespaces/web/pods HTTP/1.1\r\nAuthorization: Bearer " +
                              token.encode())
                elif i % 4 == 2:  # a follow stream
                    s = ssl.create_default_context(cadata=ca).wrap_socket(s, server_hostname="127.0.0.1")
                    s.sendall(b"GET /api/v1/namespaces/web/pods/api-7d9/log?follow=true HTTP/1.1\r\n"
                              b"Host: x\r\nAuthorization: Bearer " + token.encode() + b"\r\n\r\n")
                elif i % 4 == 3:  # a body promised, never sent
                    s = ssl.create_default_context(cadata=ca).wrap_socket(s, server_hostname="127.0.0.1")
                    s.sendall(b"GET /api/v1/namespaces/web/pods HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                              b"Authorization: Bearer " + token.encode() + b"\r\n\r\nabc")
                socks.append(s)  # i % 4 == 0: TCP only, the TLS handshake pending
            time.sleep(0.5)
            p.send_signal(signal.SIGKILL)
            p.wait(10)
            for s in socks:
                s.close()
            self.bastion_alive()
        # The bastion still serves.
        _, port = self.tunnel(self.env.dev)
        status, body = self.raw(port, ca, token, "GET", "/api/v1/namespaces/web/pods")
        self.assertEqual(status, 200, body)
        self.bastion_alive()

    def test_another_nobody_process_cannot_take_a_live_sessions_token(self):
        """bastiond as root now chowns every session's kubectl HOME and
        kubeconfig (with the session token and the proxy's port) to the
        sandbox user, nobody by default: one uid for every session's kubectl
        and for whatever else on the host runs as nobody."""
        self.assertEqual(os.geteuid(), 0)  # the suite's bastiond runs as root
        before = set(glob.glob("/tmp/bastion-kubectl-*"))
        p = subprocess.Popen(self.env.ssh_base(self.env.dev) + ["k8s@127.0.0.1", "--", "logs -f api-7d9"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: stop_process(p))
        homes, end = [], time.time() + 10
        while not homes and time.time() < end:
            homes = [h for h in set(glob.glob("/tmp/bastion-kubectl-*")) - before
                     if os.path.exists(os.path.join(h, "kubeconfig"))]
            time.sleep(0.05)
        self.assertTrue(homes)
        time.sleep(1)

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        # A process of the nobody user (not bastiond, not this session) reads it...
        r = subprocess.run(["cat", os.path.join(homes[0], "kubeconfig")], preexec_fn=as_nobody, capture_output=True)
        stolen = {}
        if r.returncode == 0:
            j = json.loads(r.stdout)
            stolen = {"server": j["clusters"][0]["cluster"]["server"], "token": j["users"][0]["user"]["token"]}
            # ...and is dana on the API, decided and audited as her.
            r2 = subprocess.run(["curl", "-sk", "--max-time", "5", "-H", "Authorization: Bearer " + stolen["token"],
                                 stolen["server"] + "/api/v1/namespaces/web/secrets"],
                                preexec_fn=as_nobody, capture_output=True)
            stolen["api"] = r2.stdout[:120]
        self.assertNotEqual(r.returncode, 0, f"a nobody process took dana's session: {stolen}")

    def test_another_laptop_user_cannot_ride_the_documented_recipe(self):
        """bastiond(8)'s recipe, as a user types it (a umask 022 shell): `(umask
        077; ssh -s k8s@bastion kubeconfig > k8s.kubeconfig)` then `ssh -N -L
        6443:k8s:443`. Another local user (nobody here) reads the file and
        uses the loopback listener: the token is the only thing between them
        and the engineer's access."""
        _, port = self.tunnel(self.env.dev)
        kc = os.path.join(self.env.d, "recipe", "k8s.kubeconfig")
        os.makedirs(os.path.dirname(kc), exist_ok=True)
        os.chmod(os.path.dirname(kc), 0o755)  # a home directory as Debian makes them
        cmd = " ".join(self.env.ssh_base(self.env.dev, extra=["-s"]) + ["k8s@127.0.0.1", "kubeconfig"])
        # The recipe as bastiond(8) now gives it, typed in a umask 022 shell.
        r = subprocess.run(["sh", "-c", f"umask 022; (umask 077; {cmd} > {kc})"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(kc).st_mode & 0o777, 0o600)

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        r = subprocess.run(["cat", kc], preexec_fn=as_nobody, capture_output=True)
        used = None
        if r.returncode == 0:
            token = json.loads(r.stdout)["users"][0]["user"]["token"]
            r2 = subprocess.run(["curl", "-sk", "--max-time", "5", "-H", "Authorization: Bearer " + token,
                                 f"https://127.0.0.1:{port}/api/v1/namespaces/web/pods"],
                                preexec_fn=as_nobody, capture_output=True)
            used = r2.stdout[:100]
        self.assertNotEqual(r.returncode, 0, f"another local user read the token and used the tunnel: {used!r}")

    def test_the_token_is_nowhere_but_the_kubeconfig(self):
        """Logs, audit rows and recordings must not hold the token (or the
        held credential) after the kubeconfig subsystem and a few requests."""
        ca, token = self.kubeconfig(self.env.dev)
        _, port = self.tunnel(self.env.dev)
        self.raw(port, ca, token, "GET", "/api/v1/namespaces/web/pods")
        self.raw(port, ca, "0" * 64, "GET", "/api/v1/namespaces/web/pods")
        time.sleep(0.5)
        found = []
        for root, _, files in os.walk(self.env.d):
            for n in files:
                path = os.path.join(root, n)
                if path.endswith(".kubeconfig") or "/keys/" in path:
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                for secret_ in (token, TOKEN):
                    if secret_.encode() in data:
                        found.append((path, secret_[:8]))
        self.assertEqual(found, [])

    def test_forged_and_header_tricks_do_not_pass(self):
        ca, token = self.kubeconfig(self.env.dev)
        _, port = self.tunnel(self.env.dev)
        before = len(self.env.kube.requests)
        # Two Authorization headers, one good.
        c = self.conn(port, ca)
        c.putrequest("GET", "/api/v1/namespaces/web/pods")
        c.putheader("Authorization", "Bearer " + token)
        c.putheader("Authorization", "Bearer " + TOKEN)
        c.endheaders()
        self.assertEqual(c.getresponse().status, 401)
        c.close()
        # Impersonation in any case.
        for h in ("Impersonate-User", "impersonate-group", "IMPERSONATE-UID"):
            status, _ = self.raw(port, ca, token, "GET", "/api/v1/namespaces/web/pods", {h: "admin"})
            self.assertEqual(status, 403, h)
        # Dev through a path that hides a connect subresource.
        for path in ("/api/v1/namespaces/staging/pods/api-s1/exec?command=id",
                     "/api/v1/namespaces/staging/pods/api-s1/%65xec?command=id",
                     "/api/v1/namespaces/staging/pods/api-s1/exec/?command=id",
                     "/api/v1/namespaces/staging/pods/api-s1/attach",
                     "/api/v1/namespaces/staging/services/api/proxy/",
                     "/api/v1/nodes/n1/proxy/run/x",
                     "/api/v1/namespaces/staging/pods/api-s1/../api-s1/exec"):
            status, _ = self.raw(port, ca, token, "GET", path,
                                 {"Connection": "Upgrade", "Upgrade": "websocket",
                                  "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
            self.assertIn(status, (400, 403), path)
        self.assertEqual(self.env.kube.requests[before:], [])
        self.bastion_alive()


class ShutdownUnderLoadTest(BastionTest):
    """SIGTERM while three tunnels hammer the proxy (lists, log -f, a masked
    watch): bastiond ends, promptly and cleanly (an ASan build reports
    nothing)."""

    @classmethod
    def setUpClass(cls):
        OwnKubectlAttackTest.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        cls.env.kube.stop()
        BastionTest.tearDownClass.__func__(cls)

    kubeconfig, tunnel, conn = OwnKubectlAttackTest.kubeconfig, OwnKubectlAttackTest.tunnel, OwnKubectlAttackTest.conn

    def test_sigterm_with_proxy_threads_in_flight(self):
        ca, token = self.kubeconfig(self.env.dev)
        ports = [self.tunnel(self.env.dev)[1] for _ in range(3)]
        stop = threading.Event()

        def hammer(port, path):
            while not stop.is_set():
                try:
                    c = self.conn(port, ca, timeout=5)
                    c.request("GET", path, headers={"Authorization": "Bearer " + token})
                    c.getresponse().read(100)
                    c.close()
                except (OSError, ssl.SSLError, http.client.HTTPException):
                    time.sleep(0.05)

        threads = [threading.Thread(target=hammer, args=(port, path), daemon=True) for port in ports
                   for path in ("/api/v1/namespaces/web/pods", "/api/v1/namespaces/web/pods/api-7d9/log?follow=true",
                                "/api/v1/namespaces/web/secrets?watch=1")]
        for t in threads:
            t.start()
        time.sleep(3)
        b = self.env.bastion
        t0 = time.time()
        b.proc.send_signal(signal.SIGTERM)
        rc = b.proc.wait(30)
        stop.set()
        self.assertEqual(rc, 0)
        self.assertLess(time.time() - t0, 15)
        with open(b.log, errors="replace") as f:
            log = f.read()
        self.assertNotIn("Sanitizer", log)
        self.assertNotIn("runtime error", log)


if __name__ == "__main__":
    main()
