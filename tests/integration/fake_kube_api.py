"""A small fake Kubernetes API server for the regress suite (no real cluster
can be installed here). Enough of the API for kubectl's discovery,
get/list/describe of pods, deployments and secrets, logs (with follow),
delete, scale and create; every request is recorded with its bearer token.
HTTPS on loopback with a certificate made here (kubectl sends a bearer token
only over TLS)."""
import base64
import copy
import hashlib
import json
import struct
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CORE = ["pods", "secrets", "namespaces", "configmaps", "services"]
APPS = ["deployments"]
KINDS = {"pods": "Pod", "secrets": "Secret", "namespaces": "Namespace", "deployments": "Deployment",
         "configmaps": "ConfigMap", "services": "Service"}
SHORT = {"pods": ["po"], "deployments": ["deploy"], "namespaces": ["ns"], "configmaps": ["cm"],
         "services": ["svc"], "secrets": []}
NAMESPACED = {"pods": True, "secrets": True, "namespaces": False, "deployments": True, "configmaps": True,
              "services": True}


def meta(name, ns=None, labels=None):
    m = {"name": name, "uid": f"uid-{name}", "resourceVersion": "1",
         "creationTimestamp": "2026-01-01T00:00:00Z", "labels": labels or {}}
    if ns:
        m["namespace"] = ns
    return m


def pod(name, ns, app):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, ns, {"app": app}),
            "spec": {"containers": [{"name": app, "image": f"{app}:1.0"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": app, "ready": True, "restartCount": 0, "state": {"running": {}}}]}}


def deployment(name, ns, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, ns, {"app": name}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": f"{name}:1.0"}]}}},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                       "updatedReplicas": replicas}}


def secret(name, ns, data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, ns), "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


class FakeKube:
    def __init__(self, token, client_cert=False, also=()):
        """client_cert: the server asks for a client certificate (from its own
        client CA) and takes it instead of a token; the credential recorded
        for each request is then "cert:CN". also: more tokens it accepts."""
        self.token = token
        self.accepted = {token, *also}
        self.requests = []  # (method, path, token)
        self.execs = []     # exec sessions: command, tty
        self.sizes = []     # terminal sizes received by exec sessions (rows, cols)
        self.lock = threading.Lock()
        self.objects = {}
        for ns in ("default", "web", "staging"):
            self.put("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns),
                                          "status": {"phase": "Active"}})
        self.put("pods", "web", pod("api-7d9", "web", "api"))
        self.put("pods", "web", pod("worker-1", "web", "worker"))
        self.put("pods", "staging", pod("api-s1", "staging", "api"))
        self.put("deployments", "web", deployment("api", "web", 2))
        self.put("secrets", "web", secret("db-creds", "web", {"password": "hunter2-secret"}))
        self.dir = tempfile.mkdtemp(prefix="fake-kube-")
        self.cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", self.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.client_cert = None
        if client_cert:
            cca, ccakey = os.path.join(self.dir, "cca.pem"), os.path.join(self.dir, "cca.key")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", ccakey, "-out", cca, "-days", "2", "-subj", "/CN=client-ca"],
                           check=True, capture_output=True)
            ckey, csr, crt = (os.path.join(self.dir, n) for n in ("c.key", "c.csr", "c.pem"))
            subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", ckey, "-out", csr, "-subj", "/CN=bastion-holder"],
                           check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", cca, "-CAkey", ccakey, "-CAcreateserial",
                            "-out", crt, "-days", "2"], check=True, capture_output=True)
            with open(crt) as c, open(ckey) as k:
                self.client_cert = (c.read(), k.read())
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cca)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def put(self, res, ns, obj):
        self.objects[(res, ns, obj["metadata"]["name"])] = obj

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def seen(self, method=None, path_part=""):
        with self.lock:
            return [r for r in self.requests if (method is None or r[0] == method) and path_part in r[1]]

    def _handler(self):
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send_json(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def status(self, code, reason, msg):
                self.send_json(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "message": msg, "reason": reason, "code": code})

            def handle_any(self, method):
                u = urlparse(self.path)
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else ""
                if fake.client_cert and not auth:
                    peer = self.connection.getpeercert() or {}
                    cn = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
                    token = "cert:" + (cn[0] if cn else "")
                with fake.lock:
                    fake.requests.append((method, self.path, token))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if (token != "cert:bastion-holder") if fake.client_cert else token not in fake.accepted:
                    return self.status(401, "Unauthorized", "Unauthorized")
                parts = [p for p in u.path.split("/") if p]
                q = parse_qs(u.query)
                if u.path == "/version":
                    return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake",
                                                "platform": "linux/amd64"})
                if u.path == "/api":
                    return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                                "serverAddressByClientCIDRs": []})
                if u.path == "/apis":
                    return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]})
                if u.path in ("/api/v1", "/apis/apps/v1"):
                    names = CORE if u.path == "/api/v1" else APPS
                    res = []
                    for n in names:
                        res.append({"name": n, "singularName": n.rstrip("s"), "namespaced": NAMESPACED[n],
                                    "kind": KINDS[n], "shortNames": SHORT[n],
                                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
                        if n == "pods":
                            res.append({"name": "pods/log", "singularName": "", "namespaced": True,
                                        "kind": "Pod", "verbs": ["get"]})
                        if n == "deployments":
                            res.append({"name": "deployments/scale", "singularName": "", "namespaced": True,
                                        "group": "autoscaling", "version": "v1", "kind": "Scale",
                                        "verbs": ["get", "patch", "update"]})
                    return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                                "groupVersion": u.path[6:] if u.path.startswith("/apis/") else "v1",
                                                "resources": res})
                # /api/v1/namespaces/NS/RES[/NAME[/SUB]] or /apis/apps/v1/... or cluster-wide lists
                if parts[:2] == ["api", "v1"]:
                    rest = parts[2:]
                elif parts[:3] == ["apis", "apps", "v1"]:
                    rest = parts[3:]
                else:
                    return self.status(404, "NotFound", "the server could not find the requested resource")
                ns = None
                if len(rest) >= 3 and rest[0] == "namespaces":
                    ns, rest = rest[1], rest[2:]
                elif len(rest) == 2 and rest[0] == "namespaces":
                    rest = ["namespaces", rest[1]]
                res = rest[0]
                name = rest[1] if len(rest) > 1 else None
                sub = rest[2] if len(rest) > 2 else None
                if method == "GET" and name is None and res not in KINDS:  # e.g. events for describe
                    return self.send_json(200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []})
                if method == "GET" and name is None:
                    items = [copy.deepcopy(o) for (r, n, _), o in sorted(fake.objects.items(),
                                                                         key=lambda kv: kv[0][2])
                             if r == res and (ns is None or n == ns)]
                    sel = q.get("labelSelector", [""])[0]
                    if sel:
                        k, _, v = sel.partition("=")
                        items = [i for i in items if i["metadata"]["labels"].get(k) == v]
                    api = "apps/v1" if res in APPS else "v1"
                    if q.get("watch", [""])[0] in ("true", "1"):  # one ADDED event per object, then the end
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for i in items:
                            ev = (json.dumps({"type": "ADDED", "object": i}) + "\n").encode()
                            half = len(ev) // 2  # an event split across chunks
                            for part in (ev[:half], ev[half:]):
                                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    return self.send_json(200, {"kind": KINDS[res] + "List", "apiVersion": api,
                                                "metadata": {"resourceVersion": "1"}, "items": items})
                obj = fake.objects.get((res, ns, name))
                if method == "POST" and name is None:
                    o = json.loads(body or b"{}")
                    o.setdefault("metadata", {})["namespace"] = ns
                    o["metadata"].setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
                    fake.put(res, ns, o)
                    return self.send_json(201, o)
                if obj is None:
                    return self.status(404, "NotFound", f'{res} "{name}" not found')
                if sub in ("exec", "attach") and self.headers.get("Upgrade", "").lower() == "websocket":
                    return self.exec_session(q)
                if sub == "log":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    follow = q.get("follow", ["false"])[0] == "true"
                    n = 0
                    try:
                        while True:
                            n += 1
                            line = f"log line {n} from {name}\n".encode()
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                            self.wfile.flush()
                            if not follow and n >= 3:
                                break
                            if follow:
                                time.sleep(0.2)
                        self.wfile.write(b"0\r\n\r\n")
                    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                        pass  # the follower went away
                    return
                if sub == "scale":
                    if method in ("PATCH", "PUT"):
                        spec = json.loads(body).get("spec", {})
                        obj["spec"]["replicas"] = spec.get("replicas", obj["spec"]["replicas"])
                    return self.send_json(200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                                "metadata": obj["metadata"],
                                                "spec": {"replicas": obj["spec"]["replicas"]},
                                                "status": {"replicas": obj["spec"]["replicas"]}})
                if method == "DELETE":
                    del fake.objects[(res, ns, name)]
                    return self.send_json(200, obj)
                if method == "GET":
                    return self.send_json(200, obj)
                return self.status(405, "MethodNotAllowed", "not supported by the fake")

            # --- exec over WebSocket (v5/v4.channel.k8s.io): a tiny fake shell ---
            def ws_send(self, channel, data, opcode=2):
                payload = (bytes([channel]) if channel is not None else b"") + data
                head = bytes([0x80 | opcode])
                n = len(payload)
                head += bytes([n]) if n < 126 else (bytes([126]) + struct.pack(">H", n) if n < 65536
                                                    else bytes([127]) + struct.pack(">Q", n))
                self.wfile.write(head + payload)
                self.wfile.flush()

            def ws_recv(self):
                b1, b2 = self.rfile.read(2)
                opcode, masked, n = b1 & 0x0F, b2 & 0x80, b2 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self.rfile.read(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self.rfile.read(8))[0]
                mask = self.rfile.read(4) if masked else b"\0\0\0\0"
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(self.rfile.read(n)))
                return opcode, data

            def exec_session(self, q):
                offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
                proto = next((p for p in ("v5.channel.k8s.io", "v4.channel.k8s.io") if p in offered), None)
                if not proto:
                    return self.status(400, "BadRequest", "no supported subprotocol")
                key = self.headers["Sec-WebSocket-Key"]
                accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                          .digest()).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.send_header("Sec-WebSocket-Protocol", proto)
                self.end_headers()
                self.wfile.flush()
                with fake.lock:
                    fake.execs.append({"command": q.get("command", []), "tty": q.get("tty", ["false"])[0]})
                size = [0, 0]
                line = b""
                # kubectl 1.32's client-go starts reading the socket before it
                # has registered its streams (kubernetes/kubernetes#131189,
                # fixed in 1.33): a frame that arrives at once is dropped
                # ("Unknown stream id 1, discarding message"), which a slow
                # (TSan) run hit. A real shell's first prompt comes later.
                time.sleep(0.3)
                self.ws_send(1, b"$ ")
                try:
                    while True:
                        opcode, data = self.ws_recv()
                        if opcode == 8:
                            break
                        if opcode not in (1, 2) or not data:
                            continue
                        ch, body = data[0], data[1:]
                        if ch == 4:
                            r = json.loads(body)
                            size = [r.get("Height", 0), r.get("Width", 0)]
                            with fake.lock:
                                fake.sizes.append(tuple(size))
                            continue
                        if ch != 0:
                            continue
                        for c in body:
                            if c in (13, 10):
                                self.ws_send(1, b"\r\n")
                                cmd, line = line.decode(errors="replace").strip(), b""
                                if cmd == "exit":
                                    self.ws_send(3, json.dumps({"metadata": {}, "status": "Success"}).encode())
                                    self.ws_send(None, b"\x03\xe8", opcode=8)
                                    return
                                if cmd == "stty size":
                                    self.ws_send(1, f"{size[0]} {size[1]}\r\n".encode())
                                elif cmd:
                                    self.ws_send(1, f"you said: {cmd}\r\n".encode())
                                self.ws_send(1, b"$ ")
                            else:
                                line += bytes([c])
                                self.ws_send(1, bytes([c]))  # a tty echoes
                except (ValueError, OSError, ssl.SSLError):
                    pass
                self.close_connection = True

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

            def do_DELETE(self):
                self.handle_any("DELETE")

            def do_PATCH(self):
                self.handle_any("PATCH")

            def do_PUT(self):
                self.handle_any("PUT")

        return H

    def kubeconfig(self, path, context="fake", token=None):
        with open(self.cert, "rb") as c:
            ca = base64.b64encode(c.read()).decode()
        if self.client_cert:
            b = lambda t: base64.b64encode(t.encode()).decode()
            user = (f"    client-certificate-data: {b(self.client_cert[0])}\n"
                    f"    client-key-data: {b(self.client_cert[1])}")
        else:
            user = f"    token: {token or self.token}"
        with open(path, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:{self.port}
    certificate-authority-data: {ca}
users:
- name: bastion
  user:
{user}
contexts:
- name: {context}
  context:
    cluster: fake
    user: bastion
    namespace: default
current-context: {context}
""")
