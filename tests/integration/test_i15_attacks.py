"""Issue 15 attack review (auditors' web page, audit CLI): holes found by an
outside reviewer with real clients. Each test fails on the code it was
written against and says what it breaks."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import paramiko

from harness import BASTIONCTL, BastionTest, free_port, main, run

WEB_PORT = free_port()


class WebAuthAttackTest(BastionTest):
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
        os.makedirs(os.path.join(env.d, "web", "assets"))
        with open(os.path.join(env.d, "web", "index.html"), "w") as f:
            f.write("<!doctype html><title>audit</title>\n")

    def request(self, method, path, cookie=None, timeout=10, source="127.0.0.1"):
        ctx = ssl.create_default_context(cafile=os.path.join(self.env.d, "data", "web-cert.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", WEB_PORT, context=ctx, timeout=timeout,
                                        source_address=(source, 0))
        c.request(method, path, headers={"Cookie": f"bastion_audit={cookie}"} if cookie else {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r, body

    def login(self, name):
        key = self.env.keys.cert(self.env.keys.keygen(name), self.env.ca, name, "auditor")
        r = self.env.ssh("audit", "login", key=key)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.fullmatch(rf"https://127\.0\.0\.1:{WEB_PORT}(/login\?token=[0-9a-f]{{64}})", r.stdout.decode().strip())
        self.assertTrue(m, r.stdout)
        resp, _ = self.request("GET", m.group(1))
        self.assertEqual(resp.status, 303)
        cookie = re.match(r"bastion_audit=([0-9a-f]{64});", resp.getheader("Set-Cookie")).group(1)
        resp, body = self.request("GET", "/api/me", cookie)
        self.assertEqual((resp.status, json.loads(body)["identity"]), (200, name))
        return key, cookie

    def reload(self, text):
        self.assertTrue(self.env.bastion.rewrite_config_and_reload(text), "no reload")

    def test_web_session_ends_when_the_auditor_principal_is_removed(self):
        # Claim (1): only holders of an auditor principal read anything. The
        # admin takes "auditor" out of auditor_principals and reloads; the
        # browser session minted before keeps reading for web_session_ttl.
        _, cookie = self.login("ivan")
        with open(self.env.bastion.conf) as f:
            conf = f.read()
        try:
            self.reload(conf.replace('auditor_principals = { "auditor" }', 'auditor_principals = { "nobody" }'))
            resp, body = self.request("GET", "/api/sessions", cookie)
            self.assertEqual(resp.status, 401, body)
            self.assertEqual(json.loads(body), {"error": "session ended: not an auditor; login required: ssh audit@bastion login"})
        finally:
            self.reload(conf)

    def test_web_session_ends_when_the_certificate_is_revoked(self):
        # The auditor's certificate is revoked (KRL, reload): SSH refuses it
        # at once, the web session it minted keeps reading.
        key, cookie = self.login("judy")
        krl = os.path.join(self.env.d, "i15-revoked.krl")
        subprocess.run(["ssh-keygen", "-q", "-k", "-f", krl, key + "-cert.pub"], check=True)
        with open(self.env.bastion.conf) as f:
            conf = f.read()
        try:
            self.reload(conf + f'\nrevoked_keys = "{krl}"\n')
            self.assertEqual(self.env.ssh("audit", "login", key=key).returncode, 255)  # SSH: refused
            resp, body = self.request("GET", "/api/sessions", cookie)
            self.assertEqual(resp.status, 401, body)
        finally:
            self.reload(conf)

    def test_certificate_source_address_binds_the_web_login(self):
        # The auditor's certificate may only be used from 127.0.0.1
        # (source-address). The login URL it mints is a bearer secret that
        # works from anywhere (here 127.0.0.2), and so does the cookie: the
        # restriction the CA put on the certificate is gone on the web.
        key = self.env.keys.cert(self.env.keys.keygen("leo"), self.env.ca, "leo", "auditor",
                                 options=("source-address=127.0.0.1",))
        r = self.env.ssh("audit", "login", key=key)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = re.fullmatch(rf"https://127\.0\.0\.1:{WEB_PORT}(/login\?token=[0-9a-f]{{64}})",
                            r.stdout.decode().strip()).group(1)
        resp, _ = self.request("GET", path, source="127.0.0.2")
        self.assertEqual(resp.status, 401)
        self.assertIsNone(resp.getheader("Set-Cookie"))

    def test_a_source_address_session_answers_only_the_address_that_redeemed_it(self):
        # The fix for the above: redeemed from an allowed address, the session
        # is bound to it; the cookie from another address ends it, with the
        # reason, and it stays ended for the first address too.
        key = self.env.keys.cert(self.env.keys.keygen("mia"), self.env.ca, "mia", "auditor",
                                 options=("source-address=127.0.0.0/8",))
        r = self.env.ssh("audit", "login", key=key)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = re.fullmatch(rf"https://127\.0\.0\.1:{WEB_PORT}(/login\?token=[0-9a-f]{{64}})",
                            r.stdout.decode().strip()).group(1)
        resp, _ = self.request("GET", path, source="127.0.0.1")
        self.assertEqual(resp.status, 303)
        cookie = re.match(r"bastion_audit=([0-9a-f]{64});", resp.getheader("Set-Cookie")).group(1)
        resp, body = self.request("GET", "/api/me", cookie, source="127.0.0.1")
        self.assertEqual((resp.status, json.loads(body)["identity"]), (200, "mia"))
        resp, body = self.request("GET", "/api/me", cookie, source="127.0.0.2")
        self.assertEqual((resp.status, json.loads(body)), (401, {"error": (
            "session ended: the certificate has source-address: this session answers only 127.0.0.1; "
            "login required: ssh audit@bastion login")}))
        resp, body = self.request("GET", "/api/me", cookie, source="127.0.0.1")
        self.assertEqual((resp.status, json.loads(body)), (401, {"error": "login required: ssh audit@bastion login"}))

    def test_a_chunked_body_without_login_is_not_read_into_memory(self):
        # Unauthenticated: /login skips the pre-routing login check, and
        # cpp-httplib 0.11 reads a chunked request body whole, without
        # payload_max_length (CVE-2025-46728). A POST /login with a 48 MiB
        # chunked body grows bastiond (the SSH bastion itself) by 48 MiB; 32
        # such connections, or one never-ending one, take it down.
        ctx = ssl.create_default_context(cafile=os.path.join(self.env.d, "data", "web-cert.pem"))
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", WEB_PORT), timeout=10),
                            server_hostname="127.0.0.1")
        try:
            # The headers and one 64 KiB chunk of a body that never ends: the
            # answer must come now (413), before any more of it. Reading the
            # body first would wait here for a terminating chunk that never
            # comes (recv times out), holding everything sent in memory.
            s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            s.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                got = s.recv(4096)
                if not got:
                    break
                answer += got
        finally:
            s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:80])
        self.assertIn(b"\r\nConnection: close\r\n", answer)

    def test_slow_connections_from_one_address_do_not_lock_auditors_out(self):
        # Unauthenticated: connections from one address (127.0.0.3) that
        # trickle a TLS ClientHello one byte every 2 s. Each holds a worker
        # thread (4 of them) for as long as it trickles: httplib's timeout is
        # per read (10 s), with no total deadline and no per-address limit,
        # so 4 such connections keep every auditor (127.0.0.1) out.
        key, cookie = self.login("kim")
        stop = threading.Event()
        socks = []
        for _ in range(32):
            s = socket.socket()
            s.bind(("127.0.0.3", 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", WEB_PORT))
            socks.append(s)

        def trickle():
            hello = b"\x16\x03\x01\x02\x00" + b"\x01" * 600
            i = 0
            while not stop.wait(2) and i < len(hello):
                for s in socks:
                    try:
                        s.send(hello[i:i + 1])
                    except OSError:
                        pass
                i += 1

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            time.sleep(0.5)
            # The SSH side is a listener of its own: not locked out.
            self.assertEqual(self.env.ssh("audit", "login", key=key, timeout=20).returncode, 0)
            started = time.time()
            try:
                resp, _ = self.request("GET", "/api/me", cookie, timeout=15)
                status = resp.status
            except OSError as e:
                status = f"no answer after {time.time() - started:.1f}s: {e!r}"
            self.assertEqual(status, 200)
        finally:
            stop.set()
            t.join(5)
            for s in socks:
                s.close()


class AuditCliAttackTest(BastionTest):
    def grep(self, text):
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "audit", "commands", "--db", db, "--grep", text, "--kind", "exec"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return [line.split("\t")[-1] for line in r.stdout.decode().split("\n")[1:-1]]

    def test_grep_ignores_case_the_same_whatever_its_length(self):
        # Claim (3) and bastionctl(1): --grep matches "ignoring case". Three
        # characters or more go through the trigram index, which folds all
        # of Unicode; shorter text is a LIKE scan, which folds ASCII only:
        # "été" finds the command "echo ÉTÉ", "ét" and "é" hide it.
        r = self.env.ssh("web1", "echo ÉTÉ")
        self.assertEqual(r.returncode, 0, r)
        self.env.audit_eventually("SELECT count(*) FROM commands WHERE text = 'echo ÉTÉ'", [(1,)])
        self.assertEqual(self.grep("été"), ["echo ÉTÉ"])
        self.assertEqual(self.grep("ét"), ["echo ÉTÉ"])
        self.assertEqual(self.grep("é"), ["echo ÉTÉ"])

    def test_json_output_never_carries_terminal_controls(self):
        # Claim (2): typed command text cannot drive the auditor's terminal
        # through `bastionctl audit ... --json` or `session show --json`. The
        # JSON escapes C0 but printed C1 controls and bidi overrides raw. A
        # terminal that acts on decoded U+0080..U+009F (recording cat's filter
        # assumes some do; st answers U+009A, DECID) reads "\u009b6n" as a
        # cursor position query; U+202E reverses what the auditor reads. The
        # table output escapes both (display_escape); --json did not.
        text = "echo i15json \u009b6n \u202eevil"
        r = self.env.ssh("web1", text)
        self.assertEqual(r.returncode, 0, r)
        self.env.audit_eventually("SELECT count(*) FROM commands WHERE text = ?", [(1,)], args=(text,))
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "audit", "commands", "--db", db, "--grep", "i15json", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([c["text"] for c in json.loads(r.stdout)["commands"]], [text])
        for bad in ("\u009b", "\u202e"):
            self.assertNotIn(bad.encode(), r.stdout)
        (sid,), = self.env.audit("SELECT session_id FROM commands WHERE text = ?", (text,))
        r = run([BASTIONCTL, "session", "show", sid, "--db", db, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for bad in ("\u009b", "\u202e"):
            self.assertNotIn(bad.encode(), r.stdout)

    def test_a_huge_user_name_does_not_become_a_huge_auth_row(self):
        # Unauthenticated disk filling: every password attempt is an auth
        # row holding the user name as sent (and a log line). One paramiko
        # client sending 200 KB names on loopback grew audit.db by 140 MB and
        # the log by 70 MB in 10 seconds. The row must exist, but bounded.
        t = paramiko.Transport(socket.create_connection(("127.0.0.1", self.env.bastion.port), timeout=10))
        try:
            t.start_client(timeout=10)
            with self.assertRaises(paramiko.BadAuthenticationType):
                t.auth_password("big" + "u" * 200000, "x")
        finally:
            t.close()
        rows = self.env.audit_eventually(
            "SELECT count(*) FROM auth_events WHERE user LIKE 'bigu%' AND reason LIKE 'password%'", [(1,)])
        self.assertEqual(rows, [(1,)])
        (longest,), = self.env.audit("SELECT max(length(user)) FROM auth_events WHERE user LIKE 'bigu%'")
        self.assertLessEqual(longest, 1024)
        # Cut at 256 bytes, with the length as sent; the log line likewise.
        self.assertEqual(self.env.audit("SELECT user FROM auth_events WHERE user LIKE 'bigu%'"),
                         [("big" + "u" * 253 + "\u2026(200003 bytes)",)])
        with open(self.env.bastion.log, encoding="utf-8") as f:
            lines = [line for line in f if "bigu" in line]
        self.assertEqual(len(lines), 1, lines)
        self.assertLess(len(lines[0]), 2048)
        self.assertIn("(200003 bytes)", lines[0])

    def test_a_huge_key_id_from_an_untrusted_ca_does_not_become_a_huge_auth_row(self):
        # The key ID of a certificate no trusted CA signed is the client's to
        # choose; it is refused, and the row names it, bounded.
        env = self.env
        rogue_ca = env.keys.keygen("rogue-ca")
        key = env.keys.cert(env.keys.keygen("rogue-user"), rogue_ca, "rogue" + "k" * 100000, "ops")
        r = env.ssh("web2", "true", key=key)
        self.assertEqual(r.returncode, 255, r)
        rows = env.audit_eventually("SELECT key_id, substr(reason, 1, 35) FROM auth_events WHERE user='web2'",
                                    [("rogue" + "k" * 251 + "\u2026(100005 bytes)", "certificate signed by untrusted CA ")])
        self.assertEqual(rows, [("rogue" + "k" * 251 + "\u2026(100005 bytes)", "certificate signed by untrusted CA ")])

    def test_a_certificate_probed_without_its_key_is_audited_with_its_key_id(self):
        # Claim (3): every login attempt is an auth row, exactly. A stolen
        # certificate without its private key is offered (OpenSSH asks "would
        # you accept this key?", the bastion says yes, the client cannot
        # sign): the row says "no certificate offered" with no key ID, so
        # `audit auth --identity mallet` does not show the probe.
        env = self.env
        key = env.keys.cert(env.keys.keygen("mallet"), env.ca, "mallet", "ops")
        stolen = os.path.join(env.d, "stolen")
        os.makedirs(stolen)
        shutil.copy(key + ".pub", os.path.join(stolen, "id.pub"))
        shutil.copy(key + "-cert.pub", os.path.join(stolen, "id-cert.pub"))
        # ssh ignores an -i file that does not exist (and then offers no
        # certificate at all): "id" holds the public key, not the private one,
        # so the certificate is offered, accepted in the query, and not signed.
        shutil.copy(key + ".pub", os.path.join(stolen, "id"))
        os.chmod(os.path.join(stolen, "id"), 0o600)
        r = env.ssh("web1", "true", key=os.path.join(stolen, "id"))
        self.assertEqual(r.returncode, 255, r)
        rows = env.audit_eventually("SELECT user, key_id, accepted FROM auth_events WHERE user='web1' AND accepted=0",
                                    [("web1", "mallet", 0)])
        self.assertEqual(rows, [("web1", "mallet", 0)])
        reason = env.audit("SELECT reason FROM auth_events WHERE user='web1' AND accepted=0")[0][0]
        self.assertNotEqual(reason, "no certificate offered")


if __name__ == "__main__":
    main()
