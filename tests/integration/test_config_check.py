"""bastiond --check as an admin meets it: a target defined twice, a misspelled
key, durations for every time, files that cannot be read, --help."""
import os
import shutil
import tempfile

from harness import BASTIOND, BastionTest, main, run


def line_of(text, needle, start=1):
    return next(i for i, l in enumerate(text.splitlines(), 1) if i >= start and needle in l)


class ConfigCheckTest(BastionTest):
    def variant(self, name, edit):
        """A copy of the running bastion's config, changed by `edit`, beside it
        (so keys/ resolves the same)."""
        with open(self.env.bastion.conf) as f:
            text = edit(f.read())
        path = os.path.join(self.env.d, name)
        with open(path, "w") as f:
            f.write(text)
        return path, text

    def check(self, conf, **kw):
        r = run([BASTIOND, "--check", "--config", conf], **kw)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_a_target_defined_twice_names_both_lines(self):
        conf, text = self.variant("twice.conf", lambda t: t.replace("  db1 = {", "  web1 = {", 1))
        first, second = line_of(text, "  web1 = {"), line_of(text, "  web1 = {", line_of(text, "  web1 = {") + 1)
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{second}: targets.web1: defined twice "
                                                   f"(lines {first} and {second}); Lua would keep only the last\n"))

    def test_a_key_defined_twice_in_a_target_or_at_the_top(self):
        conf, text = self.variant("port.conf", lambda t: t.replace('identity = "keys/target_key", known_hosts',
                                                                   'port = 2, identity = "keys/target_key", known_hosts', 1))
        first = line_of(text, "  web1 = {")
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{first + 1}: targets.web1.port: defined twice "
                                                   f"(lines {first} and {first + 1}); Lua would keep only the last\n"))
        conf, text = self.variant("top.conf", lambda t: t + 'data_dir = "elsewhere"\n')
        n = len(text.splitlines())
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{n}: data_dir: defined twice "
                                                   f"(lines {line_of(text, 'data_dir')} and {n}); "
                                                   "Lua would keep only the last\n"))

    def test_an_unknown_key_gets_the_nearest_known_one(self):
        conf, text = self.variant("typo.conf", lambda t: t.replace("known_hosts =", "knwon_hosts =", 1))
        n = line_of(text, "knwon_hosts")
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{n}: targets.web1.knwon_hosts: unknown key "
                                                   "(did you mean \"known_hosts\"?)\n"))
        conf, text = self.variant("far.conf", lambda t: t + "colour = 1\n")
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{len(text.splitlines())}: colour: unknown key\n"))

    def test_durations_everywhere_a_time_is_configured(self):
        conf, _ = self.variant("durations.conf", lambda t: t.replace("connect_timeout = 3", 'connect_timeout = "1m"', 1) +
                               'approvals = { timeout = "5m", request_ttl = "1d", max_grant = "8h" }\n'
                               'cert_max_ttl = "12h"\ncert_clock_skew = "1m"\nweb_session_ttl = "2h"\n')
        rc, out, err = self.check(conf)
        # The only thing said besides OK: the running bastion's audit key is not pinned in this copy.
        self.assertEqual((rc, out, [l.split(":")[1] for l in err.splitlines()]),
                         (0, f"{conf}: OK (3 targets, 1 CA keys)\n", [" warning"]))
        self.assertTrue(err.startswith("bastiond: warning: pin the audit key: "), err)
        conf, text = self.variant("bad_duration.conf", lambda t: t + 'approvals = { timeout = "5 minutes" }\n')
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{len(text.splitlines())}: approvals.timeout: "
                                                   "expected a duration from 1s to 7d (seconds, or a number with s, m, "
                                                   "h, d or w: \"90s\", \"5m\", \"8h\", \"2d\")\n"))

    def test_a_missing_file_gives_the_system_reason(self):
        conf, text = self.variant("missing.conf", lambda t: t.replace('"keys/bastion_host_key"', '"keys/host_ed25519"'))
        key = os.path.join(self.env.d, "keys", "host_ed25519")
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{line_of(text, 'host_keys')}: host_keys: {key}: "
                                                   "cannot read: No such file or directory\n"))
        conf, text = self.variant("nokh.conf", lambda t: t.replace('"keys/known_hosts"', '"keys/kh"', 1))
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{line_of(text, 'keys/kh')}: "
                                                   f"targets.web1.known_hosts: {self.env.d}/keys/kh: "
                                                   "No such file or directory\n"))
        conf, text = self.variant("nopolicy.conf", lambda t: t + 'policy = "policies/none.lua"\n')
        self.assertEqual(self.check(conf), (1, "", f"bastiond: {conf}:{len(text.splitlines())}: policy: "
                                                   f"{self.env.d}/policies/none.lua: cannot read policy: "
                                                   "No such file or directory\n"))
        gone = os.path.join(self.env.d, "gone.conf")
        self.assertEqual(self.check(gone), (1, "", f"bastiond: {gone}: cannot read the config file: "
                                                   "No such file or directory\n"))

    def test_an_unreadable_file_gives_the_system_reason(self):
        # A config another user may read, naming a CA file only root may read: checked as that
        # user (root reads any file; as another user, the file is made unreadable instead).
        d = tempfile.mkdtemp(prefix="bastion-perm-")
        try:
            os.chmod(d, 0o755)
            shutil.copytree(self.env.keys.d, os.path.join(d, "keys"))
            os.chmod(os.path.join(d, "keys"), 0o755)
            ca = os.path.join(d, "keys", "user_ca.pub")
            conf = os.path.join(d, "bastion.conf")
            shutil.copy(self.env.bastion.conf, conf)
            os.chmod(conf, 0o644)
            if os.geteuid() == 0:
                os.chmod(ca, 0o600)
                cmd = ["runuser", "-u", "nobody", "--", BASTIOND, "--check", "--config", conf]
            else:
                os.chmod(ca, 0)
                cmd = [BASTIOND, "--check", "--config", conf]
            r = run(cmd)
            with open(conf) as f:
                n = line_of(f.read(), "user_ca_keys")
            self.assertEqual((r.returncode, r.stdout.decode(), r.stderr.decode()),
                             (1, "", f"bastiond: {conf}:{n}: user_ca_keys: {ca}: Permission denied\n"))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_help_and_unknown_options(self):
        r = run([BASTIOND, "--help"])
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertTrue(r.stdout.startswith(b"usage: bastiond --config FILE [--check]\n"), r.stdout)
        self.assertIn(b"  -t, --check ", r.stdout)
        r = run([BASTIOND, "--frobnicate"])
        self.assertEqual((r.returncode, r.stdout), (2, b""))
        self.assertEqual(r.stderr.decode().splitlines()[0], "bastiond: unknown option --frobnicate")
        r = run([BASTIOND, "--check"])
        self.assertEqual((r.returncode, r.stderr.decode().splitlines()[0]), (2, "bastiond: --config FILE is required"))


if __name__ == "__main__":
    main()
