"""A real OCI registry for tests and benches: Debian's docker-registry
(distribution 2.8) on a free loopback port, htpasswd auth (a bcrypt entry
made with python3-bcrypt), TLS with a certificate made at test time by the
openssl CLI; and small OCI image layouts written here for skopeo."""
import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import ssl
import subprocess
import tarfile
import time
import urllib.request

import bcrypt

from harness import free_port, wait_port

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"


class Registry:
    def __init__(self, d, user="pusher", password="reg-Pa55-held-9c1e"):
        self.d = os.path.join(d, "registry")
        os.makedirs(self.d, exist_ok=True)
        self.user, self.password = user, password
        self.port = free_port()
        self.cert = os.path.join(self.d, "cert.pem")
        key = os.path.join(self.d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", self.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(self.d, "htpasswd"), "wb") as f:
            f.write(user.encode() + b":" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)) + b"\n")
        self.storage = os.path.join(self.d, "storage")
        os.makedirs(self.storage, exist_ok=True)
        conf = os.path.join(self.d, "config.yml")
        with open(conf, "w") as f:
            f.write(f"""version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {self.storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{self.port}
  secret: test-http-secret-0123456789
  tls:
    certificate: {self.cert}
    key: {key}
auth:
  htpasswd:
    realm: test-registry
    path: {os.path.join(self.d, "htpasswd")}
""")
        self.log = os.path.join(self.d, "registry.log")
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([REGISTRY, "serve", conf], stdout=self.logf, stderr=subprocess.STDOUT)
        wait_port(self.port)

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def request(self, method, path, auth=True):
        """A direct call (not through the bastion): (status, body bytes)."""
        ctx = ssl.create_default_context(cafile=self.cert)
        req = urllib.request.Request(self.url + path, method=method)
        req.add_header("Accept", "application/vnd.oci.image.manifest.v1+json, "
                                 "application/vnd.docker.distribution.manifest.v2+json")
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode())
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def access_log(self):
        """(method, path, status) of every request the registry served."""
        with open(self.log, errors="replace") as f:
            text = f.read()
        return [(m, p, int(s)) for m, p, s in re.findall(r'"([A-Z]+) (\S+) HTTP/1\.[01]" (\d{3})', text)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def _blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def _big_blob(layout, size, seed=b"seed"):
    """A layer of `size` incompressible-ish bytes written in pieces (never whole in memory)."""
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, "tmp")
    h = hashlib.sha256()
    chunk = hashlib.sha256(seed).digest() * (1 << 15)  # 1 MiB
    with open(tmp, "wb") as f:
        left = size
        i = 0
        while left > 0:
            piece = (i.to_bytes(8, "big") + chunk)[:min(left, len(chunk))]
            f.write(piece)
            h.update(piece)
            left -= len(piece)
            i += 1
    digest = h.hexdigest()
    os.rename(tmp, os.path.join(d, digest))
    return {"digest": "sha256:" + digest, "size": size}


def make_image(layout, tag, text="hello from the bastion test\n", layer_bytes=0, seed=b"seed"):
    """An OCI image layout at `layout` with one tag: a config blob, one layer
    (a gzip tarball holding one file, or `layer_bytes` raw bytes), a manifest."""
    os.makedirs(layout, exist_ok=True)
    if layer_bytes:
        layer = _big_blob(layout, layer_bytes, seed)
        diff_id = layer["digest"]
        media = "application/vnd.oci.image.layer.v1.tar"
    else:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as t:
            info = tarfile.TarInfo("hello.txt")
            info.size = len(text.encode())
            info.mtime = 0
            t.addfile(info, io.BytesIO(text.encode()))
        diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
        layer = _blob(layout, gzip.compress(raw.getvalue(), mtime=0))
        media = "application/vnd.oci.image.layer.v1.tar+gzip"
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}}).encode()
    cfg = _blob(layout, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
                           "layers": [dict(layer, mediaType=media)]}).encode()
    man = _blob(layout, manifest)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(man, mediaType="application/vnd.oci.image.manifest.v1+json",
                                                           annotations={"org.opencontainers.image.ref.name": tag})]}, f)
    return man["digest"], layer["digest"]


def skopeo(args, timeout=300, env=None):
    """skopeo with no policy file or stored credentials of the machine's."""
    e = dict(os.environ, REGISTRY_AUTH_FILE="/nonexistent/auth.json")
    if env:
        e.update(env)
    return subprocess.run([SKOPEO, "--insecure-policy"] + args, capture_output=True, timeout=timeout, env=e)
