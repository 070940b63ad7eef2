"""The bastion CA: `bastionctl ca init` and `bastionctl cert issue` make real
OpenSSH certificates. ssh-keygen -L reads them as asked, bastiond accepts
them, OpenSSH's own sshd accepts them (TrustedUserCAKeys), the maximum TTL
holds, and every serial is recorded so revocation by serial works."""
import os
import re
import subprocess

from harness import BASTIONCTL, BastionTest, Env, Target, main, run


def ctl(*args):
    return run([BASTIONCTL, *args])


class CaTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        cls.cas = {}
        for kind in ("ed25519", "ecdsa", "rsa"):
            path = os.path.join(env.keys.d, f"bastion_ca_{kind}")
            r = ctl("ca", "init", "--type", kind, path)
            assert r.returncode == 0, r.stderr
            cls.cas[kind] = path
        # bastiond trusts the bastion CAs (plus the test CA the harness uses).
        with open(os.path.join(env.keys.d, "user_ca.pub"), "a") as f:
            for path in cls.cas.values():
                with open(path + ".pub") as p:
                    f.write(p.read())
        env.start_bastion(extra="cert_max_ttl = 7200")

    def issue(self, name, ca="ed25519", ttl="1h", principals="ops", *extra):
        key = self.env.keys.keygen(name)
        r = ctl("cert", "issue", "--ca", self.cas[ca], "--identity", name, "--principals", principals,
                "--ttl", ttl, "--config", self.env.bastion.conf, *extra, key + ".pub")
        return key, r

    def test_ca_key_files(self):
        st = os.stat(self.cas["ed25519"])
        self.assertEqual(st.st_mode & 0o777, 0o600)
        with open(self.cas["ed25519"] + ".pub") as f:
            self.assertTrue(f.read().startswith("ssh-ed25519 AAAA"))
        r = ctl("ca", "init", self.cas["ed25519"])  # never overwritten
        self.assertEqual(r.returncode, 1)
        self.assertIn("not overwritten", r.stderr.decode())

    def test_keygen_reads_what_was_asked(self):
        key, r = self.issue("carol", "ecdsa", "30m", "ops,dba", "--source-address", "127.0.0.1/32",
                            "--force-command", "echo forced")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = run(["ssh-keygen", "-L", "-f", key + "-cert.pub"]).stdout.decode()
        self.assertIn("Type: ssh-ed25519-cert-v01@openssh.com user certificate", out)
        self.assertIn('Key ID: "carol"', out)
        self.assertIn("(using ecdsa-sha2-nistp256)", out)
        self.assertRegex(out, r"Principals: \n\s+ops\n\s+dba\n")
        self.assertRegex(out, r"force-command echo forced\n\s+source-address 127.0.0.1/32\n")
        m = re.search(r"Valid: from (\S+) to (\S+)", out)
        self.assertIsNotNone(m)
        serial = re.search(r"Serial: (\d+)", out).group(1)
        self.assertEqual(self.env.audit("SELECT key_id, principals, source_address, force_command FROM "
                                        "issued_certs WHERE serial=?", (serial,)),
                         [("carol", "ops,dba", "127.0.0.1/32", "echo forced")])

    def test_bastiond_accepts_them_for_every_ca_type(self):
        for kind in ("ed25519", "ecdsa", "rsa"):
            key, r = self.issue(f"user_{kind}", kind)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.env.ssh("web1", "echo issued-ok", key=key)
            self.assertEqual((r.returncode, r.stdout), (0, b"issued-ok\n"), (kind, r.stderr))

    def test_openssh_sshd_accepts_them(self):
        target = Target(os.path.join(self.env.d, "ca-sshd"), trusted_ca_pub=self.cas["rsa"] + ".pub")
        try:
            key, r = self.issue("dave", "rsa", "10m", self.env.user)  # sshd matches principals to the login
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run(["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                     "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", key,
                     "-p", str(target.port), f"{self.env.user}@127.0.0.1", "echo sshd-ok"])
            self.assertEqual((r.returncode, r.stdout), (0, b"sshd-ok\n"), r.stderr)
        finally:
            target.stop()

    def test_max_ttl_and_serials(self):
        _, r = self.issue("erin", "ed25519", "3h")
        self.assertEqual(r.returncode, 1)
        self.assertIn("longer than the maximum (7200 seconds)", r.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(self.env.keys.d, "erin-cert.pub")))
        serials = set()
        for i in range(5):
            _, r = self.issue(f"frank{i}")
            self.assertEqual(r.returncode, 0, r.stderr)
            serials.add(re.search(r"serial (\d+)", r.stdout.decode()).group(1))
        self.assertEqual(len(serials), 5)

    def test_revocation_by_serial(self):
        key, r = self.issue("grace")
        serial = re.search(r"serial (\d+)", r.stdout.decode()).group(1)
        self.assertEqual(self.env.ssh("web1", "true", key=key).returncode, 0)
        spec = os.path.join(self.env.d, "krl.spec")
        with open(spec, "w") as f:
            f.write(f"serial: {serial}\n")
        krl = os.path.join(self.env.keys.d, "revoked.krl")
        run(["ssh-keygen", "-q", "-k", "-f", krl, "-s", self.cas["ed25519"] + ".pub", spec], check=True)
        self.env.start_bastion(extra=f'cert_max_ttl = 7200\nrevoked_keys = "{krl}"')
        try:
            r = self.env.ssh("web1", "true", key=key)
            self.assertEqual(r.returncode, 255)
            self.assertEqual(self.env.audit_eventually(
                "SELECT reason FROM auth_events WHERE key_id='grace' AND accepted=0 LIMIT 1",
                [("serial revoked",)]), [("serial revoked",)])
            other, _ = self.issue("heidi")
            self.assertEqual(self.env.ssh("web1", "true", key=other).returncode, 0)
        finally:
            self.env.start_bastion(extra="cert_max_ttl = 7200")


if __name__ == "__main__":
    main()
