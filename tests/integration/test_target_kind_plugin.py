"""A target kind defined only under tests/ (tests/kinds/echo): registered
in a test daemon (bastiond_echo) by one line, it takes real ssh clients'
exec commands through the channel's gate and the policy, with facts of its
own, like the built-in kinds. Proves a kind is one folder plus one line."""
import json
import os
import subprocess
import unittest

import harness

BASTIOND_ECHO = os.path.abspath(os.path.join(harness.BUILD, "tests/kinds/echo/bastiond_echo"))

POLICY = """
function on_command(c)
  if c.kind == "echo" and c.echo.words[1] == "rm" then
    return deny("no rm on echo targets (" .. #c.echo.words .. " words)")
  end
  return allow()
end
"""


class EchoKindTest(harness.BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.Env()
        env = cls.env
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        cls.targets = """  echo1 = { type = "echo", greeting = "hi", token = "t0k", allow = { "ops" } },
  loud = { type = "echo", greeting = "HEY", shout = true, token = "t0k", allow = { "ops" } },"""
        try:
            env.start_bastion(targets=cls.targets, extra='policy = "policy.lua"', binary=BASTIOND_ECHO)
        except BaseException:
            env.close()
            raise

    def test_allowed_command_runs_through_the_kind(self):
        r = self.env.ssh("echo1", "hello  world")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hi: hello  world\n", b""))
        r = self.env.ssh("loud", "quiet please")
        self.assertEqual((r.returncode, r.stdout), (0, b"HEY: QUIET PLEASE\n"))

    def test_policy_sees_the_kinds_facts_and_denies(self):
        r = self.env.ssh("echo1", "rm -rf /srv")
        self.assertEqual(r.returncode, 126)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr, b"echo: refused: no rm on echo targets (3 words)\n")
        rows = self.env.audit_eventually(
            "SELECT kind, text, decision, reason, details FROM commands WHERE kind = 'echo' AND text = 'rm -rf /srv'",
            [("echo", "rm -rf /srv", "deny", "no rm on echo targets (3 words)", '{"words":["rm","-rf","/srv"]}')])
        self.assertEqual(rows, [("echo", "rm -rf /srv", "deny", "no rm on echo targets (3 words)",
                                 '{"words":["rm","-rf","/srv"]}')])
        # The channel itself is the bastion's: each command in it is decided on its own.
        rows = self.env.audit("SELECT kind, decision, reason FROM commands WHERE kind = 'exec' AND text = 'rm -rf /srv'")
        self.assertEqual(rows, [("exec", "allow", "each command in it is decided by the policy")])

    def test_recording_marks_the_kinds_command(self):
        r = self.env.ssh("echo1", "marked words")
        self.assertEqual(r.returncode, 0)
        rec = self.env.audit("SELECT recording FROM commands WHERE kind = 'exec' AND text = 'marked words'")[0][0]
        with open(rec) as f:
            events = [json.loads(line) for line in f.read().splitlines()[1:]]
        markers = [e[2] for e in events if e[1] == "m"]
        self.assertIn("echo: marked words", markers)
        self.assertIn("decision: allow", markers)
        self.assertIn([e[2] for e in events if e[1] == "o"], [["hi: marked words\r\n"], ["hi: marked words\n"]])

    def test_shell_is_refused_by_the_kind(self):
        r = self.env.ssh("echo1")
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"echo targets take one command", r.stderr)

    def test_config_check_knows_the_kind_only_where_registered(self):
        conf = self.env.bastion.conf
        r = subprocess.run([BASTIOND_ECHO, "--config", conf, "--check"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(b": OK (2 targets, 1 CA keys)\n"), r.stdout)
        r = subprocess.run([harness.BASTIOND, "--config", conf, "--check"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        # Targets are read in name order: the first one's error, every time.
        self.assertRegex(r.stderr, rb'^bastiond: .*bastion\.conf:\d+: targets\.echo1\.type: '
                                   rb'unsupported target type "echo" \(supported: ssh, postgres, kubectl, http\)\n$')


if __name__ == "__main__":
    harness.main()
