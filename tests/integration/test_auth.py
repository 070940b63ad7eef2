"""The certificate matrix, as OpenSSH's regress/cert-userkey.sh does it: one
row per case, each a fresh certificate made with ssh-keygen -s, each expected
to log in or to be refused with a precise reason in the log and audit."""
import os
import shutil

from harness import BastionTest, main, run


class AuthTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        k = cls.env.keys
        cls.other_ca = k.keygen("other_ca")
        cls.rsa_ca = k.keygen("rsa_ca", "rsa", 3072)
        cls.ecdsa_ca = k.keygen("ecdsa_ca", "ecdsa", 384)
        # The bastion trusts user_ca, rsa_ca and ecdsa_ca (not other_ca).
        with open(os.path.join(k.d, "user_ca.pub"), "a") as f:
            for ca in (cls.rsa_ca, cls.ecdsa_ca):
                with open(ca + ".pub") as c:
                    f.write(c.read())
        # Revocations: a KRL made by ssh-keygen -k (serial 666, key id "mallory").
        spec = os.path.join(k.d, "krl_spec")
        with open(spec, "w") as f:
            f.write("serial: 666\nid: mallory\n")
        cls.revoked_key = k.keygen("revoked_user")
        run(["ssh-keygen", "-q", "-k", "-f", os.path.join(k.d, "revoked.krl"), "-s",
             cls.env.ca + ".pub", spec], check=True)
        run(["ssh-keygen", "-q", "-k", "-u", "-f", os.path.join(k.d, "revoked.krl"),
             cls.revoked_key + ".pub"], check=True)
        cls.env.start_bastion(extra='revoked_keys = "keys/revoked.krl"')

    def login(self, key):
        return self.env.ssh("web1", "echo in", key=key, timeout=30)

    def mint(self, name, kind="ed25519", ca=None, **kw):
        key = self.env.keys.keygen(name, kind)
        return self.env.keys.cert(key, ca or self.env.ca, **kw)

    def assert_refused(self, key, reason):
        r = self.login(key)
        self.assertEqual(r.returncode, 255, r.stdout)
        self.assertIn(b"Permission denied", r.stderr)
        self.assertEqual(r.stdout, b"")
        reasons = [l.get("reason", "") for l in self.env.bastion.log_lines()
                   if l.get("msg") == "authentication refused"]
        self.assertTrue(any(reason in x for x in reasons), (reason, reasons[-3:]))
        rows = self.env.audit("SELECT reason FROM auth_events WHERE accepted=0")
        self.assertTrue(any(reason in x for (x,) in rows))

    def assert_accepted(self, key):
        r = self.login(key)
        self.assertEqual((r.returncode, r.stdout), (0, b"in\n"), r.stderr)

    # -- accepted ---------------------------------------------------------
    def test_ed25519_user_cert(self):
        self.assert_accepted(self.mint("u_ed"))

    def test_ecdsa_user_key_and_ecdsa_ca(self):
        self.assert_accepted(self.mint("u_ec", "ecdsa", ca=self.ecdsa_ca))

    def test_rsa_user_key_rsa_sha2_512_ca(self):
        self.assert_accepted(self.mint("u_rsa", "rsa", ca=self.rsa_ca, sig_alg="rsa-sha2-512"))

    def test_rsa_sha2_256_ca_signature(self):
        self.assert_accepted(self.mint("u_rsa256", ca=self.rsa_ca, sig_alg="rsa-sha2-256"))

    def test_source_address_matching(self):
        self.assert_accepted(self.mint("u_src_ok", options=["source-address=10.0.0.0/8,127.0.0.0/8"]))

    def test_identity_and_principals_recorded(self):
        key = self.mint("u_multi", identity="carol@example", principals="dev,ops", serial=4242)
        self.assert_accepted(key)
        rows = self.env.audit("SELECT identity, principals, cert_serial FROM sessions "
                              "WHERE identity='carol@example'")
        self.assertEqual(rows, [("carol@example", "dev,ops", 4242)])

    def test_force_command_replaces_request(self):
        key = self.mint("u_forced", options=["force-command=echo forced"])
        r = self.env.ssh("web1", "echo asked", key=key)
        self.assertEqual(r.stdout, b"forced\n")
        rows = self.env.audit("SELECT text FROM commands WHERE text='echo forced'")
        self.assertEqual(len(rows), 1)

    # -- refused ----------------------------------------------------------
    def test_plain_key_refused(self):
        key = self.env.keys.keygen("plain_only")
        tmp = key + "_nocert"
        shutil.copy(key, tmp)
        os.chmod(tmp, 0o600)
        shutil.copy(key + ".pub", tmp + ".pub")
        r = self.login(tmp)
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"Permission denied", r.stderr)

    def test_untrusted_ca(self):
        self.assert_refused(self.mint("u_foreign", ca=self.other_ca), "untrusted CA")

    def test_expired(self):
        self.assert_refused(self.mint("u_expired", validity="-2h:-1h"), "certificate expired")

    def test_not_yet_valid(self):
        self.assert_refused(self.mint("u_future", validity="+1h:+2h"), "certificate not yet valid")

    def test_host_certificate(self):
        # OpenSSH's client does not even offer a host certificate for user
        # auth; the verifier's own refusal is covered by the unit tests.
        r = self.login(self.mint("u_host", host=True))
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"Permission denied", r.stderr)

    def test_empty_principals(self):
        self.assert_refused(self.mint("u_noprinc", principals=None), "no principals")

    def test_unknown_critical_option(self):
        self.assert_refused(self.mint("u_crit", options=["critical:frobnicate=yes"]),
                            "unsupported critical option")

    def test_source_address_mismatch(self):
        self.assert_refused(self.mint("u_src_bad", options=["source-address=10.1.2.0/24"]),
                            "not in \"10.1.2.0/24\"")

    def test_sha1_rsa_ca_signature(self):
        self.assert_refused(self.mint("u_sha1", ca=self.rsa_ca, sig_alg="ssh-rsa"),
                            "SHA-1 RSA signatures")

    def test_revoked_serial(self):
        self.assert_refused(self.mint("u_rev_serial", serial=666), "serial revoked")

    def test_revoked_key_id(self):
        self.assert_refused(self.mint("u_rev_id", identity="mallory"), "key ID revoked")

    def test_revoked_key(self):
        self.assert_refused(self.env.keys.cert(self.revoked_key, self.env.ca), "key revoked")

    def test_tampered_certificate(self):
        key = self.mint("u_tamper", identity="eve")
        with open(key + "-cert.pub") as f:
            kind, b64, *rest = f.read().split()
        import base64
        blob = bytearray(base64.b64decode(b64))
        i = blob.find(b"eve")
        blob[i:i + 3] = b"eva"  # same length, signature no longer matches
        with open(key + "-cert.pub", "w") as f:
            f.write(f"{kind} {base64.b64encode(bytes(blob)).decode()}\n")
        self.assert_refused(key, "certificate signature invalid")


if __name__ == "__main__":
    main()
