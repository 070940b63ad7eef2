"""Admin and auditor command lines: bastiond --check, bastionctl."""
import json
import os
import re
import shutil

from harness import BASTIOND, BASTIONCTL, BastionTest, main, run


class CliTest(BastionTest):
    def check(self, conf):
        return run([BASTIOND, "--check", "--config", conf])

    def test_check_good_config(self):
        r = self.check(self.env.bastion.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"{self.env.bastion.conf}: OK (3 targets, 1 CA keys)\n".encode())

    def test_check_names_file_line_and_key(self):
        bad = os.path.join(self.env.d, "bad.conf")
        with open(self.env.bastion.conf) as f:
            text = f.read()
        lines = text.splitlines()
        n = next(i for i, l in enumerate(lines, 1) if "port = " in l and "web1" in l)
        with open(bad, "w") as f:
            f.write(text.replace(f"port = {self.env.target.port}", "port = 0", 1))
        r = self.check(bad)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"bastiond: {bad}:{n}: targets.web1.port: must be between 1 and 65535\n".encode())
        ctl = run([BASTIONCTL, "config", "check", bad])
        self.assertEqual(ctl.returncode, 1)
        self.assertIn(f"{bad}:{n}: targets.web1.port".encode(), ctl.stderr)

    def test_check_refuses_world_readable_identity(self):
        d = os.path.join(self.env.d, "loose")
        shutil.copytree(self.env.keys.d, os.path.join(d, "keys"))
        conf = os.path.join(d, "bastion.conf")
        shutil.copy(self.env.bastion.conf, conf)
        os.chmod(os.path.join(d, "keys", "target_key"), 0o644)
        r = self.check(conf)
        self.assertEqual(r.returncode, 1)
        key = os.path.join(d, "keys", "target_key")
        # The key is every ssh target's: whichever the loader reads first is named.
        self.assertRegex(r.stderr.decode(), rf"^bastiond: {conf}:\d+: targets\.(web1|db1|dead)\.identity: {key}: "
                                            r"mode 0644 is readable by group or others \(chmod 600\)\n$")

    # Every command and subcommand of bastionctl(1), as its SYNOPSIS lists them.
    COMMANDS = [("config", "check"), ("policy", "check"), ("policy", "test"), ("recording", "cat"),
                ("recording", "play"), ("recording", "verify"), ("audit", "sessions"), ("audit", "commands"),
                ("audit", "auth"), ("session", "show"), ("verify",), ("recordings", "prune"), ("approvals", "list"),
                ("approvals", "show"), ("approvals", "approve"), ("approvals", "deny"), ("approvals", "revoke"),
                ("ca", "init"), ("cert", "issue"), ("kubeconfig",)]

    def test_help_for_every_command_on_stdout_exit_0(self):
        for flag in ("--help", "-h"):
            r = run([BASTIONCTL, flag])
            self.assertEqual((r.returncode, r.stderr), (0, b""))
            self.assertTrue(r.stdout.startswith(b"usage: bastionctl config check FILE\n"), r.stdout)
            for words in self.COMMANDS:
                self.assertIn(("bastionctl " + " ".join(words)).encode(), r.stdout)
        for words in self.COMMANDS:
            for flag in ("--help", "-h"):
                with self.subTest(command=words, flag=flag):
                    r = run([BASTIONCTL, *words, flag])
                    self.assertEqual((r.returncode, r.stderr), (0, b""))
                    self.assertTrue(r.stdout.startswith(b"usage: bastionctl " + " ".join(words).encode()), r.stdout)
        # A command alone: every subcommand's usage.
        r = run([BASTIONCTL, "audit", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertEqual(re.findall(r"bastionctl audit (\w+)", r.stdout.decode()), ["sessions", "commands", "auth"])
        # Without a command it is a usage error, on stderr.
        r = run([BASTIONCTL])
        self.assertEqual((r.returncode, r.stdout), (2, b""))
        self.assertTrue(r.stderr.startswith(b"usage: bastionctl "))
        r = run([BASTIONCTL, "frobnicate"])
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith(b"bastionctl: unknown command frobnicate\nusage: "), r.stderr)

    def test_an_unknown_option_is_named(self):
        db = os.path.join(self.env.d, "data", "audit.db")
        for words, shown in [(["audit", "commands", "--db", db, "--foo"], "audit commands"),
                             (["audit", "sessions", "--json", "-x"], "audit sessions"),
                             (["policy", "test", "p.lua", "--lables", "env=prod", "--", "ls"], "policy test"),
                             (["policy", "check", "--bogus", "p.lua"], "policy check"),
                             (["verify", "--db", db, "--everything"], "verify"),
                             (["recordings", "prune", "--db", db, "--force"], "recordings prune"),
                             (["approvals", "--db", db, "list", "--all"], "approvals list"),
                             (["session", "show", "x", "--db", db, "--full"], "session show"),
                             (["config", "check", "--strict", "x.conf"], "config check")]:
            with self.subTest(words=words):
                r = run([BASTIONCTL, *words])
                bad = next(w for w in words if w.startswith("-") and w not in ("--db", "--json", "--"))
                self.assertEqual((r.returncode, r.stdout, r.stderr.decode()),
                                 (2, b"", f"bastionctl: {shown}: unknown option {bad}\n"))
        # What follows -- is the command under test, never an option.
        r = run([BASTIONCTL, "policy", "test", os.path.join(self.env.d, "nope.lua"), "--", "ls", "--frob"])
        self.assertEqual(r.returncode, 2)
        self.assertNotIn(b"unknown option", r.stderr)

    def test_listings_offer_json(self):
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "approvals", "--db", db, "list", "--json"])
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(json.loads(r.stdout), [])
        r = run([BASTIONCTL, "recordings", "prune", "--db", db, "--retention", "3650d", "--dry-run", "--json"])
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(json.loads(r.stdout), {"dry_run": True, "pruned": [], "errors": []})
        r = run([BASTIONCTL, "approvals", "--db", db, "show", "1", "--json"])
        self.assertEqual((r.returncode, r.stderr), (2, b"bastionctl: approvals: --json goes with list\n"))

    def test_recording_play_with_markers(self):
        self.env.ssh("web1", "echo played")
        path = self.env.audit("SELECT recording FROM commands WHERE text = 'echo played'")[0][0]
        r = run([BASTIONCTL, "recording", "play", "--speed", "1000", "--markers", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"\x1b[7m[marker] exec: echo played\x1b[0m", r.stdout)
        self.assertIn(b"\x1b[7m[marker] decision: allow\x1b[0m", r.stdout)
        self.assertIn(b"played\r\n", r.stdout)
        plain = run([BASTIONCTL, "recording", "play", "--speed", "1000", path])
        self.assertNotIn(b"[marker]", plain.stdout)

    def test_audit_search(self):
        self.env.ssh("web1", "echo for-the-auditor")
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "audit", "commands", "--db", db, "--grep", "for-the-auditor"])
        self.assertEqual(r.returncode, 0, r.stderr)
        header, row = r.stdout.decode().splitlines()
        self.assertTrue(header.startswith("TIME\tSESSION\tIDENTITY\t"), header)
        fields = row.split("\t")
        self.assertEqual([fields[i] for i in (2, 3, 4, 5, 9, 11)],
                         ["alice", "web1", "exec", "allow", "0", "echo for-the-auditor"])
        r = run([BASTIONCTL, "audit", "sessions", "--db", db, "--identity", "alice", "--limit", "1"])
        self.assertEqual(r.stdout.decode().splitlines()[1].split("\t")[3:5], ["alice", "web1"])


if __name__ == "__main__":
    main()
