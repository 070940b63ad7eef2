"""Recordings off the host: closed recordings are shipped to an S3-compatible
bucket (s3rver, from tests/s3, installed by scripts/setup.sh) through
libcurl's AWS SigV4, checked (ETag = MD5, size read back), recorded as
stored, and only then removed locally. bastionctl reads and verifies them
from the bucket; a tampered object fails verify; the store down for a while
loses nothing; a restart (and a kill -9 mid-session) resumes the uploads."""
import hashlib
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import BASTIONCTL, BastionTest, Env, free_port, main, run, wait_port
from sigv4_proxy import SigV4Proxy

HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER = os.path.join(HERE, "..", "s3", "node_modules", "s3rver", "bin", "s3rver.js")
BUCKET = "recordings"
PREFIX = "site-a/"
# s3rver's one account.
ACCESS, SECRET = "S3RVER", "S3RVER"


class S3Server:
    """s3rver on a fixed loopback port and folder: stop() and start() again
    keep the bucket's objects."""

    def __init__(self, d):
        self.dir = os.path.join(d, "s3")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.proc = None
        self.log = open(os.path.join(d, "s3rver.log"), "ab")
        self.start()
        # bastiond talks to s3rver through an independent SigV4 check.
        self.proxy = SigV4Proxy(self.port, SECRET)

    def start(self):
        self.proc = subprocess.Popen(["node", S3RVER, "-d", self.dir, "-a", "127.0.0.1", "-p", str(self.port),
                                      "--configure-bucket", BUCKET], stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, timeout=20)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def close(self):
        self.proxy.close()
        self.stop()
        self.log.close()

    def url(self, key):
        return f"http://127.0.0.1:{self.port}/{BUCKET}/{key}"

    def curl(self, *args):
        return run(["curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{ACCESS}:{SECRET}",
                    *args])

    def get(self, key):
        r = self.curl("-H", "x-amz-content-sha256: " + hashlib.sha256(b"").hexdigest(), self.url(key))
        if r.returncode != 0:
            raise AssertionError(f"GET {key}: {r.stderr.decode()}")
        return r.stdout

    def put(self, key, data):
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            r = self.curl("-T", f.name, "-H", "x-amz-content-sha256: " + hashlib.sha256(data).hexdigest(),
                          self.url(key))
        if r.returncode != 0:
            raise AssertionError(f"PUT {key}: {r.stderr.decode()}")


def store_config(env, s3):
    for name, value in (("s3_access", ACCESS), ("s3_secret", SECRET)):
        path = os.path.join(env.d, name)
        with open(path, "w") as f:
            f.write(value + "\n")
        os.chmod(path, 0o600)
    return (f'recordings_store = {{ type = "s3", endpoint = "http://127.0.0.1:{s3.proxy.port}", bucket = "{BUCKET}", '
            f'region = "us-east-1", prefix = "{PREFIX}", access_key_file = "s3_access", '
            f'secret_key_file = "s3_secret" }}')


class RecordingsS3Test(BastionTest):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(S3RVER):
            raise unittest.SkipTest  # never: setup.sh installs it; fail loudly instead
        env = cls.env = Env()
        cls.s3 = S3Server(env.d)
        cls.extra = store_config(env, cls.s3)
        try:
            env.start_bastion(extra=cls.extra)
        except BaseException:
            cls.s3.close()
            env.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.s3.close()
        super().tearDownClass()

    def tearDown(self):
        # Every request bastiond sent carried a right SigV4 signature and body hash.
        self.assertEqual(self.s3.proxy.refused, [])
        self.assertGreater(self.s3.proxy.verified, 0)

    def setUp(self):
        if self.s3.proc is None:
            self.s3.start()
        if self.env.bastion.proc.poll() is not None:
            self.env.start_bastion(extra=self.extra)

    # -- helpers

    def session_recording(self, marker):
        """(session id, recording id, path) of the exec channel that ran `marker`."""
        rows, end = [], time.time() + 10
        while not rows and time.time() < end:
            rows = self.env.audit("SELECT c.session_id, r.id, r.path FROM commands c JOIN recordings r "
                                  "ON r.path = c.recording WHERE c.text LIKE ? AND r.state <> 'open'",
                                  (f"%{marker}%",))
            time.sleep(0 if rows else 0.05)
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def location(self, rec_id):
        rows = self.env.audit("SELECT state, object_key FROM recording_locations WHERE recording_id=?", (rec_id,))
        return rows[0] if rows else ("local", None)

    def wait_stored(self, rec_id, timeout=40):
        end = time.time() + timeout
        while time.time() < end:
            if self.location(rec_id)[0] == "stored":
                return self.location(rec_id)[1]
            time.sleep(0.1)
        self.fail(f"recording {rec_id} not stored: {self.location(rec_id)}")

    def key_of(self, path):
        rel = os.path.relpath(path, os.path.join(self.env.bastion.data, "recordings"))
        return PREFIX + rel

    def verify(self, sid):
        r = run([BASTIONCTL, "verify", "--config", self.env.bastion.conf, sid, "--json"])
        return r.returncode, json.loads(r.stdout)

    # -- tests

    def test_shipped_read_and_verified_from_the_bucket(self):
        env = self.env
        r = env.ssh("web1", "echo shipped-one")
        self.assertEqual((r.returncode, r.stdout), (0, b"shipped-one\n"))
        sid, rid, path = self.session_recording("shipped-one")
        key = self.wait_stored(rid)
        self.assertEqual(key, self.key_of(path))
        # Removed locally only once stored.
        self.assertFalse(os.path.exists(path))
        body = self.s3.get(key)
        # What the row vouches for: its size and the chain the signed digest covers.
        size, = env.audit("SELECT bytes FROM recordings WHERE id=?", (rid,))[0]
        self.assertEqual(len(body), size)
        self.assertIn(b'"shipped-one\\r\\n"', body)
        code, out = self.verify(sid)
        self.assertEqual((code, [x["ok"] for x in out["recordings"]]), (0, [True]), out)
        self.assertTrue(out["recordings"][0]["result"].startswith("OK"), out)
        # cat from the bucket; without --config it is not found locally.
        r = run([BASTIONCTL, "recording", "cat", "--config", env.bastion.conf, path])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"shipped-one\r\n", b""))
        r = run([BASTIONCTL, "recording", "cat", path])
        self.assertEqual((r.returncode, r.stderr.decode()), (1, f"bastionctl: {path}: cannot open\n"))
        # session show says where it lives.
        r = run([BASTIONCTL, "session", "show", sid, "--config", env.bastion.conf])
        self.assertRegex(r.stdout.decode(), r"\n  integrity: state=closed events=\d+ bytes=\d+ digest=[0-9a-f]{64} "
                         r"closed_at=\S+ location=stored object_key=" + re.escape(key) + "\n")
        r = run([BASTIONCTL, "recording", "verify", "--config", env.bastion.conf, path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r": asciicast v2, \d+x\d+, \d+ events\n$")

    def test_tampered_object_fails_verify(self):
        env = self.env
        r = env.ssh("web1", "echo tamper-me")
        self.assertEqual(r.returncode, 0)
        sid, rid, path = self.session_recording("tamper-me")
        key = self.wait_stored(rid)
        body = self.s3.get(key)
        self.assertIn(b"tamper-me\\r\\n", body)
        self.s3.put(key, body.replace(b"tamper-me\\r\\n", b"tamper-ME\\r\\n"))
        code, out = self.verify(sid)
        self.assertEqual(code, 1, out)
        self.assertFalse(out["recordings"][0]["ok"])
        self.assertIn("edited", out["recordings"][0]["result"])
        # The original bytes put back: verified again.
        self.s3.put(key, body)
        self.assertEqual(self.verify(sid)[0], 0)

    def test_store_down_sessions_go_on_nothing_lost(self):
        env = self.env
        self.s3.stop()
        copies = {}
        for i in range(3):
            r = env.ssh("web1", f"echo outage-{i}")
            self.assertEqual((r.returncode, r.stdout), (0, f"outage-{i}\n".encode()))
            sid, rid, path = self.session_recording(f"outage-{i}")
            # The shipper tried and failed: still local, never deleted.
            end = time.time() + 10
            while time.time() < end and self.location(rid)[0] != "uploading":
                time.sleep(0.05)
            self.assertEqual(self.location(rid), ("uploading", self.key_of(path)))
            with open(path, "rb") as f:
                copies[rid] = (path, f.read())
        logs = [l for l in env.bastion.log_lines() if l.get("msg") == "recording not shipped: kept on local disk, will retry"]
        self.assertTrue(logs)
        for rid, (path, data) in copies.items():
            self.assertTrue(os.path.exists(path))
        self.s3.start()
        for rid, (path, data) in copies.items():
            key = self.wait_stored(rid)
            self.assertEqual(self.s3.get(key), data)  # byte-identical
            self.assertFalse(os.path.exists(path))

    def test_symlinked_day_directory_is_neither_read_nor_removed(self):
        env = self.env
        self.s3.stop()
        r = env.ssh("web1", "echo through-a-link")
        self.assertEqual(r.returncode, 0)
        sid, rid, path = self.session_recording("through-a-link")
        day = os.path.dirname(path)
        # Someone with write access to recordings_dir swaps the day folder
        # for a link to another place holding a file of the same name.
        elsewhere = os.path.join(env.d, "elsewhere")
        os.rename(day, elsewhere)
        os.symlink(elsewhere, day)
        try:
            self.s3.start()
            end = time.time() + 8
            while time.time() < end:
                logs = [l for l in env.bastion.log_lines() if l.get("msg", "").startswith("recording not shipped")
                        and l.get("recording") == path and "symbolic links" in l.get("error", "")]
                if logs:
                    break
                time.sleep(0.1)
            self.assertTrue(logs)
            self.assertEqual(logs[0]["error"], "cannot open the recording: Too many levels of symbolic links")
            self.assertEqual(self.location(rid)[0], "uploading")
            self.assertTrue(os.path.exists(os.path.join(elsewhere, os.path.basename(path))))
        finally:
            os.unlink(day)
            os.rename(elsewhere, day)
        self.wait_stored(rid)
        self.assertFalse(os.path.exists(path))

    def test_restart_with_pending_uploads_resumes(self):
        env = self.env
        self.s3.stop()
        r = env.ssh("web1", "echo pending-restart")
        self.assertEqual(r.returncode, 0)
        sid, rid, path = self.session_recording("pending-restart")
        with open(path, "rb") as f:
            data = f.read()
        env.bastion.stop()
        self.s3.start()
        env.start_bastion(extra=self.extra)
        key = self.wait_stored(rid)
        self.assertEqual(self.s3.get(key), data)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(self.verify(sid)[0], 0)

    def test_big_recording_in_parts(self):
        env = self.env
        # About 20 MiB of recording: three 8 MiB parts.
        r = env.ssh("web1", "echo big-start; head -c 15000000 /dev/zero | base64 -w 200; echo big-end", timeout=120)
        self.assertEqual(r.returncode, 0)
        sid, rid, path = self.session_recording("big-start")
        with open(path, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 16 << 20)
        key = self.wait_stored(rid, timeout=60)
        self.assertFalse(os.path.exists(path))
        head = self.s3.curl("-I", "-H", "x-amz-content-sha256: " + hashlib.sha256(b"").hexdigest(), self.url_of(key))
        etag = [l for l in head.stdout.decode().splitlines() if l.lower().startswith("etag:")]
        # s3rver gives a multipart object the whole object's MD5 (S3: MD5 of the parts' MD5s, "-3").
        self.assertEqual(etag, [f'ETag: "{hashlib.md5(data).hexdigest()}"'])
        with open(os.path.join(env.d, "s3rver.log"), errors="replace") as f:
            log = f.read()
        self.assertEqual([n for n in range(1, 6) if f"partNumber={n}&uploadId=" in log], [1, 2, 3])
        self.assertEqual(self.s3.get(key), data)
        self.assertEqual(self.verify(sid)[0], 0)

    def test_long_recording_shipped_in_parts_while_it_grows(self):
        env = self.env
        cmd = env.ssh_base() + ["web1@127.0.0.1", "echo grow-start; head -c 13000000 /dev/zero | base64 -w 200; "
                                "echo grown; sleep 6; echo grow-end"]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            while b"grown" not in client.stdout.readline():
                pass
            rid, path = env.audit("SELECT r.id, r.path FROM recordings r JOIN commands c ON c.recording = r.path "
                                  "WHERE c.text LIKE '%grow-start%'")[0]
            name = os.path.basename(path)
            # Two whole 8 MiB parts go up while the session still writes it.
            end, parts = time.time() + 5, []
            while time.time() < end:
                with open(os.path.join(env.d, "s3rver.log"), errors="replace") as f:
                    parts = [l for l in f if name in l and "partNumber=" in l]
                if len(parts) >= 2:
                    break
                time.sleep(0.05)
            self.assertEqual(env.audit("SELECT state FROM recordings WHERE id=?", (rid,)), [("open",)])
            self.assertEqual(self.location(rid), ("uploading", self.key_of(path)))
            self.assertEqual(len(parts), 2, parts)
            self.assertEqual(client.wait(timeout=30), 0)
        finally:
            client.kill()
            client.wait()
            client.stdout.close()
        sid, _, _ = self.session_recording("grow-start")
        key = self.wait_stored(rid)
        self.assertFalse(os.path.exists(path))
        body = self.s3.get(key)
        self.assertEqual(len(body), env.audit("SELECT bytes FROM recordings WHERE id=?", (rid,))[0][0])
        self.assertTrue(body.endswith(b'"grow-end\\r\\n"]\n'), body[-100:])
        with open(os.path.join(env.d, "s3rver.log"), errors="replace") as f:
            self.assertEqual(len([l for l in f if name in l and "partNumber=" in l]), 3)  # the last one at close
        code, out = self.verify(sid)
        self.assertEqual(code, 0, out)

    def url_of(self, key):
        return self.s3.url(key)

    def test_kill_9_mid_session_shipped_at_next_start(self):
        env = self.env
        cmd = env.ssh_base() + ["web1@127.0.0.1", "for i in $(seq 1 2000); do echo k9line$i; sleep 0.01; done"]
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            for _ in range(150):
                client.stdout.readline()
            end = time.time() + 10
            while time.time() < end and not env.audit(
                    "SELECT 1 FROM recordings r JOIN commands c ON c.recording = r.path "
                    "WHERE r.state='open' AND r.cp_events > 2 AND c.text LIKE '%k9line%'"):
                time.sleep(0.05)
            env.bastion.proc.send_signal(signal.SIGKILL)
            env.bastion.proc.wait()
        finally:
            client.kill()
            client.wait()
            client.stdout.close()
        sid, rid, path = env.audit("SELECT c.session_id, r.id, r.path FROM commands c JOIN recordings r "
                                   "ON r.path = c.recording WHERE c.text LIKE '%k9line%'")[0]
        self.assertEqual(self.location(rid)[0], "local")  # open: never shipped while written
        env.bastion.logf.close()
        env.start_bastion(extra=self.extra)
        key = self.wait_stored(rid)
        self.assertEqual(env.audit("SELECT state FROM recordings WHERE id=?", (rid,)), [("interrupted",)])
        self.assertFalse(os.path.exists(path))
        self.assertIn(b"k9line1\\r\\n", self.s3.get(key))
        code, out = self.verify(sid)
        self.assertEqual(code, 0, out)
        self.assertTrue(out["recordings"][0]["result"].startswith("interrupted: verified up to event"), out)


class WebPageFromBucketTest(BastionTest):
    """The auditor page's recording route serves a recording from the bucket."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        cls.s3 = S3Server(env.d)
        cls.web_port = free_port()
        try:
            env.start_bastion(extra=store_config(env, cls.s3) + f"""
web_listen = "127.0.0.1:{cls.web_port}"
auditor_principals = {{ "auditor" }}
""")
        except BaseException:
            cls.s3.close()
            env.close()
            raise
        cls.carol = env.keys.cert(env.keys.keygen("carol"), env.ca, "carol", "auditor")

    @classmethod
    def tearDownClass(cls):
        cls.s3.close()
        super().tearDownClass()

    def request(self, path, cookie=None):
        ctx = ssl.create_default_context(cafile=os.path.join(self.env.d, "data", "web-cert.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", self.web_port, context=ctx, timeout=20)
        c.request("GET", path, headers={"Cookie": f"bastion_audit={cookie}"} if cookie else {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r, body

    def test_recording_route_reads_the_bucket(self):
        env = self.env
        r = env.ssh("web1", "echo from-the-bucket")
        self.assertEqual(r.returncode, 0)
        rows, end = [], time.time() + 20
        while time.time() < end:
            rows = env.audit("SELECT r.session_id, r.path, l.object_key FROM recordings r JOIN recording_locations l "
                             "ON l.recording_id = r.id WHERE l.state = 'stored'")
            if rows:
                break
            time.sleep(0.1)
        self.assertEqual(len(rows), 1)
        sid, path, key = rows[0]
        self.assertFalse(os.path.exists(path))
        url = env.ssh("audit", "login", key=self.carol).stdout.decode().strip()
        resp, _ = self.request(url.split(str(self.web_port), 1)[1])
        self.assertEqual(resp.status, 303)
        cookie = resp.getheader("Set-Cookie").split(";")[0].split("=", 1)[1]
        resp, body = self.request(f"/api/sessions/{sid}/recordings/0", cookie)
        self.assertEqual(resp.status, 200, body)
        self.assertEqual(body, self.s3.get(key))
        self.assertIn(b"from-the-bucket\\r\\n", body)
        self.assertEqual(resp.getheader("X-Recording-Size"), str(len(body)))
        # With the object gone: unavailable, never another file.
        self.s3.curl("-X", "DELETE", "-H", "x-amz-content-sha256: " + hashlib.sha256(b"").hexdigest(), self.s3.url(key))
        resp, body = self.request(f"/api/sessions/{sid}/recordings/0", cookie)
        self.assertEqual((resp.status, json.loads(body)), (404, {"error": "recording unavailable"}))


if __name__ == "__main__":
    main()
