"""Users know why and what next: the exact lines a real ssh client shows for
its own certificate's refusal (a userauth banner, only after the client
signed with the certified key), for a login name that is no target (usage,
the targets this identity may use, a picker with a pty), for refused access
(how to request it) and for refused forwarding."""
import os
import re
import shutil

from harness import BastionTest, main, run
from pty_driver import PtySession

HINT = "renew it with: get-cert --renew"


def bastion_lines(stderr):
    return [l for l in stderr.decode(errors="replace").splitlines() if l.startswith("bastion:")]


class CertificateBannerTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Revoked: serial 666 (the KRL must exist before bastiond reads it).
        env = cls.env
        spec = os.path.join(env.keys.d, "krl_spec")
        with open(spec, "w") as f:
            f.write("serial: 666\n")
        run(["ssh-keygen", "-q", "-k", "-f", os.path.join(env.keys.d, "revoked.krl"), "-s", env.ca + ".pub", spec],
            check=True)
        env.start_bastion(extra=f'renew_hint = "{HINT}"\nrevoked_keys = "keys/revoked.krl"')

    def mint(self, name, **kw):
        key = self.env.keys.keygen(name)
        return self.env.keys.cert(key, self.env.ca, **kw)

    def login(self, key, loglevel="INFO", target="web1", extra=()):
        b = self.env.bastion
        cmd = ["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
               "-o", f"LogLevel={loglevel}", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
               "-i", key, *extra, "-p", str(b.port), "-T", f"{target}@127.0.0.1", "echo in"]
        return run(cmd, timeout=30)

    def assert_banner(self, key, expected, audit_reason):
        r = self.login(key)
        self.assertEqual(r.returncode, 255, r.stderr)
        self.assertEqual(bastion_lines(r.stderr), expected, r.stderr)
        self.assertIn(b"Permission denied (publickey)", r.stderr)
        # Still a refusal like any other: audited with the log reason, so
        # per-source penalties count it.
        rows = self.env.audit("SELECT reason FROM auth_events WHERE accepted=0 AND key_id=?",
                              (os.path.basename(key),))
        self.assertIn((audit_reason,), rows)

    def test_expired(self):
        key = self.mint("ex", identity="ex", validity="20200101000000Z:20200101123456Z")
        self.assert_banner(key, [f"bastion: your certificate expired at 2020-01-01 12:34Z; {HINT}"],
                           "certificate expired")

    def test_not_yet_valid(self):
        key = self.mint("nyv", identity="nyv", validity="20990101000000Z:20990102000000Z")
        self.assert_banner(key, ["bastion: your certificate is not valid before 2099-01-01 00:00Z; "
                                 f"check this computer's clock, or {HINT}"], "certificate not yet valid")

    def test_no_principals(self):
        key = self.mint("nop", identity="nop", principals=None)
        self.assert_banner(key, [f"bastion: your certificate names no principals; {HINT}"],
                           "certificate has no principals")

    def test_wrong_source_address(self):
        key = self.mint("src", identity="src", options=["source-address=10.1.2.0/24"])
        self.assert_banner(key, ["bastion: your certificate may be used only from 10.1.2.0/24, not from 127.0.0.1; "
                                 f"log in from an allowed address, or {HINT}"],
                           'source address 127.0.0.1 not in "10.1.2.0/24"')

    def test_two_problems_two_lines(self):
        key = self.mint("two", identity="two", validity="20200101000000Z:20200101123456Z",
                        options=["source-address=10.1.2.0/24"])
        self.assert_banner(key, [f"bastion: your certificate expired at 2020-01-01 12:34Z; {HINT}",
                                 "bastion: your certificate may be used only from 10.1.2.0/24, not from 127.0.0.1; "
                                 f"log in from an allowed address, or {HINT}"],
                           'certificate expired; source address 127.0.0.1 not in "10.1.2.0/24"')

    def test_revoked_stays_silent_even_when_expired(self):
        key = self.mint("rev", identity="rev", serial=666, validity="20200101000000Z:20200101123456Z")
        r = self.login(key)
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)
        self.assertIn(b"Permission denied (publickey)", r.stderr)

    def test_foreign_ca_stays_silent(self):
        other = self.env.keys.keygen("foreign_ca")
        key = self.env.keys.cert(self.env.keys.keygen("foreign"), other, identity="foreign",
                                 validity="20200101000000Z:20200101123456Z")
        r = self.login(key)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)

    def test_unsigned_query_gets_no_reason(self):
        # A stolen certificate without its private key: the client can only
        # ask; it is never told why the certificate would be refused.
        key = self.mint("stolen", identity="stolen", validity="20200101000000Z:20200101123456Z")
        d = os.path.join(self.env.d, "stolen_only")
        os.makedirs(d, exist_ok=True)
        for suffix in (".pub", "-cert.pub"):
            shutil.copy(key + suffix, os.path.join(d, "stolen" + suffix))
        stolen = os.path.join(d, "stolen")
        r = self.login(stolen + ".pub", extra=("-o", f"CertificateFile={stolen}-cert.pub"))
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)
        rows = self.env.audit_eventually("SELECT reason FROM auth_events WHERE key_id='stolen'",
                                         [("certificate offered but not signed for (no private key)",)])
        self.assertEqual(rows, [("certificate offered but not signed for (no private key)",)])

    def test_quiet_client_sees_nothing(self):
        key = self.mint("quiet", identity="quiet", validity="20200101000000Z:20200101123456Z")
        r = self.login(key, loglevel="QUIET")
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [])

    def test_valid_certificate_still_logs_in(self):
        r = self.login(self.env.alice)
        self.assertEqual((r.returncode, r.stdout), (0, b"in\n"), r.stderr)
        self.assertEqual(bastion_lines(r.stderr), [])


class NoDetailTest(BastionTest):
    bastion_options = {"extra": 'auth_failure_detail = "none"'}

    def test_none_keeps_openssh_silence(self):
        key = self.env.keys.cert(self.env.keys.keygen("ex"), self.env.ca, identity="ex",
                                 validity="20200101000000Z:20200101123456Z")
        b = self.env.bastion
        r = run(["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
                 "-o", "LogLevel=INFO", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", key,
                 "-p", str(b.port), "-T", "web1@127.0.0.1", "true"], timeout=30)
        self.assertEqual(r.returncode, 255)
        self.assertEqual(bastion_lines(r.stderr), [], r.stderr)
        self.assertIn(b"Permission denied (publickey)", r.stderr)
        self.assertIn(("certificate expired",), self.env.audit("SELECT reason FROM auth_events WHERE key_id='ex'"))


if __name__ == "__main__":
    main()
