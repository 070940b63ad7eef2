"""Targets that hold no standing key: an ssh target with `ca = ...` gets,
for each onward connection, a fresh key and a certificate minted by the
bastion's CA (key ID naming user, session and target; valid for minutes;
recorded in the audit). The sshd here trusts only that CA
(TrustedUserCAKeys, no authorized_keys). Also: `bastionctl ca init`, and
`cert issue` with CA keys made by ssh-keygen (plain and with a passphrase)."""
import os
import pty
import re
import select
import shutil
import socket
import threading
import time

from harness import BASTIOND, BASTIONCTL, BastionTest, Env, Target, main, run

PICK = r"""
function on_session(s) return allow{ credential = "deploy" } end
function on_command(c) return allow{} end
"""


def ctl(*args):
    return run([BASTIONCTL, *args])


class SourceChangingRelay:
    """A TCP relay on 127.0.0.1 that reaches the target from 127.0.0.2: what
    a certificate copied off the bastion and used from another host looks
    like to the target's sshd (the bastion's end is 127.0.0.1, the target
    sees 127.0.0.2)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket()
            upstream.settimeout(10)
            upstream.bind(("127.0.0.2", 0))
            upstream.connect(("127.0.0.1", self.target_port))
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


class MintedCertTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        try:
            k = env.keys.d
            for name in ("target_ca", "other_ca"):
                r = ctl("ca", "init", os.path.join(k, name))
                assert r.returncode == 0, r.stderr
                cls.init_out = cls.init_out if name == "other_ca" else r.stdout.decode()
            # An sshd that trusts the target CA and nothing else.
            cls.mt = Target(os.path.join(env.d, "mtarget"), trusted_ca_pub=os.path.join(k, "target_ca.pub"))
            cls.relay = SourceChangingRelay(cls.mt.port)
            with open(os.path.join(k, "known_hosts"), "a") as f:
                f.write(cls.mt.known_hosts_line)
                f.write(cls.mt.known_hosts_line.replace(f"]:{cls.mt.port} ", f"]:{cls.relay.port} "))
            with open(os.path.join(env.d, "pick.lua"), "w") as f:
                f.write(PICK)
            cls.targets = cls.targets_text()
            env.start_bastion(targets=cls.targets)
        except BaseException:
            env.close()
            if hasattr(cls, "relay"):
                cls.relay.close()
            if hasattr(cls, "mt"):
                cls.mt.stop()
            raise

    @classmethod
    def targets_text(cls, web1_extra='ttl = "5m"', deploy_ttl='"2m"'):
        env, mt = cls.env, cls.mt
        common = f'type = "ssh", host = "127.0.0.1", port = {mt.port}, known_hosts = "keys/known_hosts"'
        return f"""
  web1 = {{ {common}, user = "{env.user}", ca = "keys/target_ca", {web1_extra}, allow = {{ "ops" }} }},
  web2 = {{ {common}, allow = {{ "ops" }}, policy = "pick.lua",
           credentials = {{ deploy = {{ user = "{env.user}", ca = "keys/target_ca", ttl = {deploy_ttl},
                                        principals = {{ "{env.user}" }} }} }} }},
  rogue = {{ {common}, user = "{env.user}", ca = "keys/other_ca", allow = {{ "ops" }} }},
  relayed = {{ type = "ssh", host = "127.0.0.1", port = {cls.relay.port}, known_hosts = "keys/known_hosts",
              user = "{env.user}", ca = "keys/target_ca", allow = {{ "ops" }} }},"""

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()
        cls.mt.stop()
        super().tearDownClass()

    def session_ids(self, target):
        return [r[0] for r in self.env.audit("SELECT id FROM sessions WHERE target=? ORDER BY started_at, id",
                                             (target,))]

    def minted_rows(self, key_id_like):
        return self.env.audit("SELECT serial, key_id, principals, valid_after, valid_before, issued_by, "
                              "ca_fingerprint, key_fingerprint FROM issued_certs WHERE key_id LIKE ? "
                              "ORDER BY issued_at, serial", (key_id_like,))

    def ca_fingerprint(self, name):
        out = run(["ssh-keygen", "-lf", os.path.join(self.env.keys.d, name + ".pub")]).stdout.decode()
        return out.split()[1]

    def test_exec_through_a_minted_certificate(self):
        r = self.env.ssh("web1", "echo minted-ok")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"minted-ok\n", b""))
        sid = self.session_ids("web1")[-1]
        key_id = f"bastion:alice:session={sid}:target=web1"
        rows = self.minted_rows(key_id)
        self.assertEqual(len(rows), 1, rows)
        serial, kid, principals, after, before, by, ca_fp, key_fp = rows[0]
        self.assertEqual((kid, principals, by, ca_fp),
                         (key_id, self.env.user, f"bastiond session={sid} target=web1",
                          self.ca_fingerprint("target_ca")))
        to_unix = lambda s: time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(to_unix(before) - to_unix(after), 300 + 60)  # ttl 5m, from a minute back
        # The target's sshd saw that certificate: its key ID and serial.
        with open(self.mt.log) as f:
            log = f.read()
        self.assertRegex(log, r"Accepted publickey for %s from 127\.0\.0\.1 port \d+ ssh2: ED25519-CERT %s ID %s "
                              r"\(serial %s\) CA ED25519 %s" % (re.escape(self.env.user), re.escape(key_fp),
                                                                re.escape(key_id), serial,
                                                                re.escape(self.ca_fingerprint("target_ca"))))
        logged = [l for l in self.env.bastion.log_lines() if l.get("msg") == "minted target certificate"
                  and l.get("session") == sid]
        self.assertEqual([(l["serial"], l["key_id"], l["target"], l["source_address"]) for l in logged],
                         [(serial, key_id, "web1", "127.0.0.1")])
        # Usable only from the bastion's end of that connection (source-address).
        self.assertEqual(self.env.audit("SELECT source_address FROM issued_certs WHERE serial=?", (int(serial),)),
                         [("127.0.0.1",)])

    def test_a_minted_certificate_is_refused_from_another_address(self):
        # The same CA, user and principals as web1, but the target's sshd sees the
        # connection come from 127.0.0.2 while the certificate names 127.0.0.1.
        r = self.env.ssh("relayed", "echo never")
        self.assertEqual((r.returncode, r.stdout), (255, b""), r.stderr)
        self.assertIn(b"the target refused the bastion's certificate", r.stderr)
        sid = self.session_ids("relayed")[-1]
        rows = self.env.audit("SELECT key_id, source_address FROM issued_certs WHERE key_id LIKE ?",
                              (f"bastion:alice:session={sid}:target=relayed",))
        self.assertEqual(rows, [(f"bastion:alice:session={sid}:target=relayed", "127.0.0.1")])
        with open(self.mt.log) as f:
            log = f.read()
        self.assertIn("Authentication tried for %s with valid certificate but not from a permitted source "
                      "address (127.0.0.2)." % self.env.user, log)

    def test_a_key_id_field_is_escaped_in_the_certificate_the_target_sees(self):
        key = self.env.keys.cert(self.env.keys.keygen("eve_forge"), self.env.ca, "eve:target=db1 x", "ops")
        r = self.env.ssh("web1", "echo escaped", key=key)
        self.assertEqual((r.returncode, r.stdout), (0, b"escaped\n"), r.stderr)
        sid = self.session_ids("web1")[-1]
        key_id = f"bastion:eve%3Atarget%3Ddb1%20x:session={sid}:target=web1"
        self.assertEqual([row[1] for row in self.minted_rows(key_id)], [key_id])
        with open(self.mt.log) as f:
            self.assertIn(f" ID {key_id} (serial ", f.read())

    def test_each_connection_gets_its_own_key_and_serial(self):
        for _ in range(2):
            r = self.env.ssh("web1", "true")
            self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.minted_rows("bastion:alice:session=%:target=web1")
        self.assertGreaterEqual(len(rows), 2)
        self.assertEqual(len({r[0] for r in rows}), len(rows))  # serials
        self.assertEqual(len({r[7] for r in rows}), len(rows))  # keys

    def test_named_credential_mints_with_its_own_principals_and_ttl(self):
        r = self.env.ssh("web2", "echo two")
        self.assertEqual((r.returncode, r.stdout), (0, b"two\n"), r.stderr)
        sid = self.session_ids("web2")[-1]
        rows = self.minted_rows(f"bastion:alice:session={sid}:target=web2")
        self.assertEqual(len(rows), 1, rows)
        to_unix = lambda s: time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual((rows[0][2], to_unix(rows[0][4]) - to_unix(rows[0][3])), (self.env.user, 120 + 60))

    def test_a_ca_the_target_does_not_trust_fails_clearly(self):
        r = self.env.ssh("rogue", "echo never")
        self.assertEqual(r.returncode, 255)  # as for any target the bastion cannot reach
        sid = self.session_ids("rogue")[-1]
        serial = self.minted_rows(f"bastion:alice:session={sid}:target=rogue")[0][0]
        self.assertEqual(r.stderr.decode(),
                         f"bastion: target rogue (127.0.0.1:{self.mt.port}): the target refused the bastion's "
                         f"certificate (serial {serial}, principals {self.env.user}): does its sshd trust the "
                         f"bastion's CA (TrustedUserCAKeys) and allow that principal for user {self.env.user}?\n")
        self.assertEqual(r.stdout, b"")

    def check_with(self, targets):
        conf = os.path.join(self.env.d, "check.conf")
        with open(self.env.bastion.conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace(self.targets, targets))
        r = run([BASTIOND, "--check", "--config", conf])
        return conf, text.replace(self.targets, targets), r

    def line_of(self, text, needle):
        return next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)

    def test_check_accepts_the_minting_config(self):
        r = run([BASTIOND, "--check", "--config", self.env.bastion.conf])
        self.assertEqual((r.returncode, r.stdout), (0, f"{self.env.bastion.conf}: OK (4 targets, 1 CA keys)\n".encode()))

    def test_check_rejects_a_ttl_in_the_past_or_too_long(self):
        for ttl, prefix in (('"-5m"', "a negative duration (a certificate that expired before it was made); "),
                            ('"2h"', ""), ('"0s"', "")):
            conf, text, r = self.check_with(self.targets_text(web1_extra=f"ttl = {ttl}"))
            n = self.line_of(text, "web1 = ")
            self.assertEqual((r.returncode, r.stderr.decode()),
                             (1, f"bastiond: {conf}:{n}: targets.web1.ttl: {prefix}expected a duration from 10s to "
                                 f'1h (e.g. "5m"): minted certificates live for minutes\n'))
        conf, text, r = self.check_with(self.targets_text(deploy_ttl='"1d"'))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"targets.web2.credentials.deploy.ttl: expected a duration from 10s to 1h", r.stderr.decode())

    def test_check_refuses_an_unreadable_or_open_ca(self):
        conf, text, r = self.check_with(self.targets.replace("keys/other_ca", "keys/missing_ca"))
        n = self.line_of(text, "rogue = ")
        missing = os.path.join(self.env.keys.d, "missing_ca")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.decode().startswith(f"bastiond: {conf}:{n}: targets.rogue.ca: {missing}"),
                        r.stderr)
        self.assertIn("No such file", r.stderr.decode())
        # A CA key others may read is refused like any held key.
        loose = os.path.join(self.env.keys.d, "loose_ca")
        shutil.copy(os.path.join(self.env.keys.d, "other_ca"), loose)
        os.chmod(loose, 0o644)
        conf, text, r = self.check_with(self.targets.replace("keys/other_ca", "keys/loose_ca"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("targets.rogue.ca: ", r.stderr.decode())
        self.assertIn("0644", r.stderr.decode())
        # Both a standing key and a CA: one or the other.
        conf, text, r = self.check_with(self.targets.replace('ca = "keys/other_ca"',
                                                             'ca = "keys/other_ca", identity = "keys/target_key"'))
        self.assertEqual(r.returncode, 1)
        self.assertIn("targets.rogue.ca: give either identity (a standing key) or ca (minted certificates), "
                      "not both", r.stderr.decode())

    def test_check_refuses_an_encrypted_ca_without_its_passphrase(self):
        enc = os.path.join(self.env.keys.d, "enc_target_ca")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "hunter22", "-f", enc], check=True)
        targets = self.targets.replace("keys/other_ca", "keys/enc_target_ca")
        conf, text, r = self.check_with(targets)
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, f"bastiond: {conf}:{self.line_of(text, 'rogue = ')}: targets.rogue.ca: {enc}: the key is "
                             "encrypted and no passphrase was given (set ca_passphrase_file)\n"))
        pf = os.path.join(self.env.keys.d, "enc_pass")
        with open(pf, "w") as f:
            f.write("hunter22\n")
        os.chmod(pf, 0o600)
        conf, text, r = self.check_with(targets.replace('ca = "keys/enc_target_ca"',
                                                        'ca = "keys/enc_target_ca", ca_passphrase_file = "keys/enc_pass"'))
        self.assertEqual((r.returncode, r.stdout), (0, f"{conf}: OK (4 targets, 1 CA keys)\n".encode()))

    def test_ca_init_prints_what_a_target_needs(self):
        path = os.path.join(self.env.keys.d, "target_ca")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        with open(path + ".pub") as f:
            pub = f.read()
        self.assertIn("public key:\n" + pub, self.init_out)
        self.assertIn("  TrustedUserCAKeys /etc/ssh/bastion_ca.pub\n", self.init_out)
        self.assertIn("  AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u\n", self.init_out)
        r = ctl("ca", "init", "--type", "ed25519", path)
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertIn(b"not overwritten", r.stderr)
        r = ctl("ca", "init", "--colour", path)
        self.assertEqual((r.returncode, r.stderr.splitlines()[0]),
                         (2, b"bastionctl: unknown option or argument --colour"))

    # bastionctl cert issue with CA keys ssh-keygen made: the harness's user CA
    # (OpenSSH format, no passphrase) is the one bastiond trusts.
    def issue(self, name, ca, *extra):
        key = self.env.keys.keygen(name)
        r = ctl("cert", "issue", "--ca", ca, "--identity", name, "--principals", "ops", "--ttl", "10m",
                "--config", self.env.bastion.conf, *extra, key + ".pub")
        return key, r

    def assert_usable(self, key, name):
        out = run(["ssh-keygen", "-L", "-f", key + "-cert.pub"]).stdout.decode()
        self.assertIn(f'Key ID: "{name}"', out)
        self.assertIn("Signing CA: ED25519 %s (using ssh-ed25519)" % self.ca_fingerprint("user_ca"), out)
        r = self.env.ssh("web1", "echo accepted", key=key)
        self.assertEqual((r.returncode, r.stdout), (0, b"accepted\n"), r.stderr)

    def test_cert_issue_with_an_ssh_keygen_ca(self):
        with open(self.env.ca) as f:
            self.assertTrue(f.read().startswith("-----BEGIN OPENSSH PRIVATE KEY-----"))
        key, r = self.issue("kim", self.env.ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_usable(key, "kim")

    def encrypted_user_ca(self):
        enc = self.env.ca + "_enc"
        if not os.path.exists(enc):
            shutil.copy(self.env.ca, enc)
            run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "correct horse", "-f", enc], check=True)
        return enc

    def test_cert_issue_with_a_passphrase_file(self):
        enc = self.encrypted_user_ca()
        pf = os.path.join(self.env.keys.d, "ca_pass")
        with open(pf, "w") as f:
            f.write("correct horse\n")
        os.chmod(pf, 0o600)
        key, r = self.issue("lee", enc, "--passphrase-file", pf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_usable(key, "lee")
        with open(pf, "w") as f:
            f.write("wrong horse\n")
        key, r = self.issue("lee2", enc, "--passphrase-file", pf)
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, f"bastionctl: {enc}: wrong passphrase, or a key libssh cannot load\n"))
        self.assertFalse(os.path.exists(key + "-cert.pub"))

    def test_cert_issue_prompts_on_the_terminal(self):
        enc = self.encrypted_user_ca()
        key = self.env.keys.keygen("max")
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BASTIONCTL, [BASTIONCTL, "cert", "issue", "--ca", enc, "--identity", "max", "--principals",
                                  "ops", "--ttl", "10m", "--config", self.env.bastion.conf, key + ".pub"])
        out, sent, end = b"", False, time.time() + 30
        while time.time() < end:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if not sent and b"Enter passphrase for " in out:
                os.write(fd, b"correct horse\n")
                sent = True
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
        self.assertTrue(out.startswith(f"Enter passphrase for {enc}: ".encode()), out)
        self.assertNotIn(b"correct horse", out)  # not echoed
        self.assert_usable(key, "max")

    def test_cert_issue_without_a_passphrase_refuses_an_encrypted_ca(self):
        enc = self.encrypted_user_ca()
        key = self.env.keys.keygen("ned")
        r = run([BASTIONCTL, "cert", "issue", "--ca", enc, "--identity", "ned", "--principals", "ops", "--ttl",
                 "10m", "--config", self.env.bastion.conf, key + ".pub"], start_new_session=True)
        self.assertEqual((r.returncode, r.stderr.decode()),
                         (1, f"bastionctl: {enc}: the key is encrypted and no passphrase was given\n"))

    # Last (it stops bastiond): the minted certificates' rows are in the
    # signed audit chain like every other row bastiond writes.
    def test_zz_audit_chain_holds_the_minted_rows(self):
        r = self.env.ssh("web1", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.env.bastion.stop()
        v = run([BASTIONCTL, "verify", "--config", self.env.bastion.conf, "--all"])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn(b"\naudit chain: OK (", v.stdout)
        self.assertTrue(v.stdout.endswith(b"verify: OK\n"), v.stdout)


if __name__ == "__main__":
    main()
