"""The auditors' web listener through real clients: `ssh audit@bastion
login` prints a one-time URL for auditors only; a Python HTTPS client that
trusts only the bastion's generated certificate logs in with it and reads
the JSON API (sessions, commands, a session's detail, recordings and their
tail); everything else is refused (no cookie, reused token, traversal,
another session's file, bad parameters), and every response carries the
security headers."""
import http.client
import json
import os
import re
import ssl
import subprocess
import time

import sshproto
from harness import BastionTest, free_port, main

WEB_PORT = free_port()
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "frame-ancestors 'none'")
LOGIN_REQUIRED = {"error": "login required: ssh audit@bastion login"}
API_ROUTES = ["/api/me", "/api/sessions", "/api/commands", "/api/sessions/20260101T000000-0123456789abcdef",
              "/api/sessions/20260101T000000-0123456789abcdef/recordings/0"]


class WebApiTest(BastionTest):
    bastion_options = {"extra": f'''
web_listen = "127.0.0.1:{WEB_PORT}"
auditor_principals = {{ "auditor" }}
web_assets_dir = "web"
web_session_ttl = "2h"
'''}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        assets = os.path.join(env.d, "web", "assets")
        os.makedirs(assets)
        with open(os.path.join(env.d, "web", "index.html"), "w") as f:
            f.write("<!doctype html><title>audit</title>\n")
        with open(os.path.join(assets, "app.js"), "w") as f:
            f.write("console.log('page');\n")
        cls.carol = env.keys.cert(env.keys.keygen("carol"), env.ca, "carol", "auditor")
        # Two real sessions through the bastion, each with its recording.
        for text in ("echo hello-web", "echo second-one"):
            r = env.ssh("web1", text)
            assert r.returncode == 0 and r.stdout == text[5:].encode() + b"\n", r
        rows = env.audit_eventually(
            "SELECT count(*) FROM sessions WHERE target='web1' AND ended_at IS NOT NULL", [(2,)])
        assert rows == [(2,)], rows
        (cls.first,), (cls.second,) = env.audit("SELECT id FROM sessions WHERE target='web1' ORDER BY started_at")

    def tls(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.env.d, "data", "web-cert.pem"))
        return ctx

    def request(self, method, path, cookie=None, headers=None):
        c = http.client.HTTPSConnection("127.0.0.1", WEB_PORT, context=self.tls(), timeout=10)
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = f"bastion_audit={cookie}"
        c.request(method, path, headers=h)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r, body

    def login_url(self, key):
        r = self.env.ssh("audit", "login", key=key)
        return r

    def login(self):
        r = self.login_url(self.carol)
        self.assertEqual(r.returncode, 0, r.stderr)
        url = r.stdout.decode().strip()
        m = re.fullmatch(rf"https://127\.0\.0\.1:{WEB_PORT}(/login\?token=[0-9a-f]{{64}})", url)
        self.assertTrue(m, url)
        resp, _ = self.request("GET", m.group(1))
        self.assertEqual(resp.status, 303)
        self.assertEqual(resp.getheader("Location"), "/")
        cookie = resp.getheader("Set-Cookie")
        m2 = re.fullmatch(r"bastion_audit=([0-9a-f]{64}); HttpOnly; Secure; SameSite=Strict; Path=/", cookie)
        self.assertTrue(m2, cookie)
        return m.group(1), m2.group(1)

    def get_json(self, path, cookie, status=200):
        resp, body = self.request("GET", path, cookie)
        self.assertEqual(resp.status, status, body)
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        return json.loads(body)

    def assert_headers(self, resp):
        self.assertEqual(resp.getheader("Content-Security-Policy"), CSP)
        self.assertEqual(resp.getheader("X-Content-Type-Options"), "nosniff")
        self.assertEqual(resp.getheader("Referrer-Policy"), "no-referrer")
        self.assertEqual(resp.getheader("Cache-Control"), "no-store")

    def test_login_prints_url_and_token_is_single_use(self):
        path, cookie = self.login()
        me = self.get_json("/api/me", cookie)
        self.assertEqual(me["identity"], "carol")
        self.assertRegex(me["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        resp, body = self.request("GET", path)
        self.assertEqual(resp.status, 401)
        self.assertIn(b"ssh audit@bastion login", body)
        self.assertIsNone(resp.getheader("Set-Cookie"))
        # The login is an audit row of its own.
        rows = self.env.audit("SELECT c.kind, c.text, c.decision, c.reason FROM commands c JOIN sessions s "
                              "ON s.id = c.session_id WHERE s.identity = 'carol' AND s.target = 'audit' "
                              "AND c.kind = 'exec'")
        self.assertIn(("exec", "login", "allow", "auditor web login"), rows)

    def test_certificate_without_expiry_gets_a_url(self):
        # valid_before = 2^64-1 must not wrap to a past time.
        dave = self.env.keys.cert(self.env.keys.keygen("dave"), self.env.ca, "dave", "auditor",
                                  validity="always:forever")
        r = self.login_url(dave)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), rf"^https://127\.0\.0\.1:{WEB_PORT}/login\?token=[0-9a-f]{{64}}\n$")

    def test_file_transfer_to_audit_is_refused(self):
        t = sshproto.connect(self.env.bastion.port, "audit", self.carol)
        try:
            c = t.open_session(timeout=10)
            c.settimeout(10)
            c.invoke_subsystem("sftp")
            self.assertEqual(sshproto.finish(c),
                             (1, b"", b"bastion: file transfer is not available on audit targets\n"))
        finally:
            t.close()

    def test_non_auditor_gets_no_url(self):
        r = self.login_url(self.env.alice)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr, b"bastion: audit: not an auditor\n")
        rows = self.env.audit("SELECT c.text, c.decision, c.reason FROM commands c JOIN sessions s "
                              "ON s.id = c.session_id WHERE s.identity = 'alice' AND s.target = 'audit' "
                              "AND c.kind = 'exec'")
        self.assertEqual(rows, [("login", "deny", "not an auditor")])

    def test_no_cookie_is_401_everywhere(self):
        for path in API_ROUTES + ["/api/nothing"]:
            for cookie in (None, "0" * 64, "not-hex"):
                resp, body = self.request("GET", path, cookie)
                self.assertEqual(resp.status, 401, path)
                self.assertEqual(json.loads(body), LOGIN_REQUIRED, path)
                self.assert_headers(resp)
        for path in ("/", "/assets/app.js"):
            resp, body = self.request("GET", path)
            self.assertEqual(resp.status, 401, path)
            self.assertIn(b"ssh audit@bastion login", body)
            self.assertNotIn(b"console.log", body)
        resp, _ = self.request("POST", "/logout")
        self.assertEqual(resp.status, 401)

    def test_sessions_commands_and_detail(self):
        _, cookie = self.login()
        sessions = self.get_json("/api/sessions?target=web1&limit=10", cookie)["sessions"]
        ours = [s for s in sessions if s["id"] in (self.first, self.second)]
        self.assertEqual([s["id"] for s in ours], [self.second, self.first])
        self.assertTrue(all(s["live"] is False and s["identity"] == "alice" for s in ours))
        cmds = self.get_json("/api/commands?grep=HELLO-WEB&identity=alice", cookie)["commands"]
        self.assertEqual([(c["session_id"], c["text"], c["decision"]) for c in cmds],
                         [(self.first, "echo hello-web", "allow")])
        detail = self.get_json(f"/api/sessions/{self.first}", cookie)
        self.assertEqual(detail["session"]["id"], self.first)
        execs = [(c["kind"], c["text"], c["decision"]) for c in detail["commands"] if c["kind"] == "exec"]
        self.assertEqual(execs, [("exec", "echo hello-web", "allow")])
        self.assertEqual(len(detail["recordings"]), 1)
        rec = detail["recordings"][0]
        self.assertEqual((rec["index"], rec["channel"], rec["name"], rec["live"]),
                         (0, 0, f"{self.first}-0.cast", False))
        self.assertNotIn("path", rec)
        self.assertEqual(self.get_json(f"/api/sessions/20260101T000000-0123456789abcdef", cookie, 404),
                         {"error": "no such session"})

    def recording_file(self, sid):
        (path,), = self.env.audit("SELECT recording FROM commands WHERE session_id=? AND kind='exec'", (sid,))
        with open(path, "rb") as f:
            return path, f.read()

    def test_recording_and_tail(self):
        _, cookie = self.login()
        _, data = self.recording_file(self.first)
        self.assertIn(b"hello-web", data)
        resp, body = self.request("GET", f"/api/sessions/{self.first}/recordings/0", cookie)
        self.assertEqual(resp.status, 200)
        self.assertEqual(body, data)
        self.assertEqual(resp.getheader("Content-Type"), "application/x-asciicast")
        self.assertEqual(resp.getheader("X-Recording-Size"), str(len(data)))
        self.assertEqual(resp.getheader("X-Recording-Live"), "0")
        self.assert_headers(resp)
        resp, body = self.request("GET", f"/api/sessions/{self.first}/recordings/0?offset=10", cookie)
        self.assertEqual((resp.status, body), (200, data[10:]))
        self.assertEqual(resp.getheader("X-Recording-Size"), str(len(data)))
        resp, body = self.request("GET", f"/api/sessions/{self.first}/recordings/0?offset={len(data)}", cookie)
        self.assertEqual((resp.status, body), (200, b""))
        self.assertEqual(self.get_json(f"/api/sessions/{self.first}/recordings/0?offset={len(data) + 1}", cookie,
                                       416), {"error": "offset past the end of the recording"})

    def test_refusals(self):
        _, cookie = self.login()
        for path in ("/assets/../../etc/passwd", "/assets/%2e%2e/%2e%2e/etc/passwd", "/assets/%2e%2e",
                     "/assets/..%2f..%2fetc%2fpasswd", "/assets/.hidden.js", "/assets/app.sh"):
            resp, body = self.request("GET", path, cookie)
            self.assertIn(resp.status, (400, 404), path)
            self.assertNotIn(b"root:", body, path)
            self.assert_headers(resp)
        resp, body = self.request("GET", "/assets/app.js", cookie)
        self.assertEqual((resp.status, body), (200, b"console.log('page');\n"))
        self.assertEqual(resp.getheader("Content-Type"), "text/javascript; charset=utf-8")
        resp, body = self.request("GET", "/", cookie)
        self.assertEqual((resp.status, resp.getheader("Content-Type")), (200, "text/html; charset=utf-8"))
        self.assert_headers(resp)
        self.assertEqual(self.get_json(f"/api/sessions/{self.first}/recordings/1", cookie, 404),
                         {"error": "no such recording"})
        self.assertEqual(self.get_json(f"/api/sessions/{self.first}/recordings/x", cookie, 400),
                         {"error": "recording index: expected 0 to 9999"})
        self.assertEqual(self.get_json("/api/sessions/..%2f..%2fetc", cookie, 404), {"error": "not found"})
        self.assertEqual(self.get_json("/api/sessions/%2e%2e", cookie, 400), {"error": "not a session id"})
        self.assertEqual(self.get_json("/api/sessions?limit=abc", cookie, 400), {"error": "limit: not a number"})
        self.assertEqual(self.get_json("/api/sessions?limit=5&limit=6", cookie, 400),
                         {"error": "limit: given more than once"})
        self.assertEqual(self.get_json("/api/sessions?grep=x", cookie, 400), {"error": "unknown parameter \"grep\""})
        self.assertEqual(self.get_json("/api/commands?decision=maybe", cookie, 400),
                         {"error": "decision: expected allow, mask, review or deny"})
        self.assertEqual(self.get_json(f"/api/sessions/{self.first}/recordings/0?offset=-1", cookie, 400),
                         {"error": "offset: not a number"})

    def test_another_sessions_recording_is_refused(self):
        _, cookie = self.login()
        first_path, _ = self.recording_file(self.first)
        second_path, second_data = self.recording_file(self.second)
        # A store row of the second session naming the first one's file.
        db = os.path.join(self.env.d, "data", "audit.db")
        import sqlite3
        con = sqlite3.connect(db)
        try:
            con.execute("UPDATE commands SET recording=? WHERE session_id=? AND kind='exec'",
                        (first_path, self.second))
            con.commit()
            self.assertEqual(self.get_json(f"/api/sessions/{self.second}/recordings/0", cookie, 404),
                             {"error": "recording unavailable"})
            # A symlink in its own name is refused too.
            os.rename(second_path, second_path + ".moved")
            os.symlink(first_path, second_path)
            con.execute("UPDATE commands SET recording=? WHERE session_id=? AND kind='exec'",
                        (second_path, self.second))
            con.commit()
            self.assertEqual(self.get_json(f"/api/sessions/{self.second}/recordings/0", cookie, 404),
                             {"error": "recording unavailable"})
        finally:
            if os.path.islink(second_path):
                os.unlink(second_path)
                os.rename(second_path + ".moved", second_path)
            con.close()
        resp, body = self.request("GET", f"/api/sessions/{self.second}/recordings/0", cookie)
        self.assertEqual((resp.status, body), (200, second_data))

    def test_live_session_and_tail(self):
        _, cookie = self.login()
        env = self.env
        proc = subprocess.Popen(env.ssh_base() + ["web1@127.0.0.1", "echo start-live; read x; echo end-live"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(proc.stdout.readline(), b"start-live\n")
            sid, path = None, None
            end = time.time() + 10
            while time.time() < end and not sid:
                rows = env.audit("SELECT c.session_id, c.recording FROM commands c WHERE c.text LIKE '%start-live%' "
                                 "AND c.ended_at IS NULL")
                if rows and os.path.exists(rows[0][1]):
                    with open(rows[0][1], "rb") as f:
                        if b"start-live" in f.read():
                            sid, path = rows[0]
                time.sleep(0.05)
            self.assertTrue(sid)
            listed = [s for s in self.get_json("/api/sessions?target=web1", cookie)["sessions"] if s["id"] == sid]
            self.assertEqual([s["live"] for s in listed], [True])
            detail = self.get_json(f"/api/sessions/{sid}", cookie)
            self.assertEqual([r["live"] for r in detail["recordings"]], [True])
            resp, head = self.request("GET", f"/api/sessions/{sid}/recordings/0", cookie)
            self.assertEqual(resp.getheader("X-Recording-Live"), "1")
            self.assertIn(b"start-live", head)
            size = int(resp.getheader("X-Recording-Size"))
            self.assertEqual(len(head), size)
            proc.stdin.write(b"go\n")
            proc.stdin.close()
            self.assertEqual(proc.stdout.read(), b"end-live\n")
            self.assertEqual(proc.wait(timeout=20), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        env.audit_eventually("SELECT count(*) FROM sessions WHERE id=? AND ended_at IS NOT NULL", [(1,)], (sid,))
        with open(path, "rb") as f:
            whole = f.read()
        resp, tail = self.request("GET", f"/api/sessions/{sid}/recordings/0?offset={size}", cookie)
        self.assertEqual(resp.getheader("X-Recording-Live"), "0")
        self.assertEqual(head + tail, whole)
        self.assertIn(b"end-live", tail)

    def test_logout_ends_the_session(self):
        _, cookie = self.login()
        resp, _ = self.request("POST", "/logout", cookie,
                               headers={"Origin": "https://evil.example", "Content-Length": "0"})
        self.assertEqual(resp.status, 403)
        resp, _ = self.request("POST", "/logout", cookie, headers={"Content-Length": "0"})
        self.assertEqual(resp.status, 204)
        self.assertEqual(self.get_json("/api/me", cookie, 401), LOGIN_REQUIRED)


if __name__ == "__main__":
    main()
