"""Output masking through a real bastiond and sshd: a secret in a very long
line, split across the bastion's reads from the target, is masked in what the
client sees and in the asciicast recording."""
import base64
import glob
import json
import os
import re

from harness import BASTIONCTL, BastionTest, Env, main, run

POLICY = r'''
function on_command(c)
  return allow{ mask = "AKIA[0-9A-Z]{16}" }
end
'''

# Builds the line on both sides (the command line is too short to carry it).
# Secrets straddle the usual read sizes (4, 8, 16, 32, 64, 128 KiB) and sit
# at both ends of the line.
LINE_SOURCE = """
LINE_BYTES = 200_000
POSITIONS = [0, 4090, 8185, 16380, 32760, 65530, 131065, 150_000, LINE_BYTES - 20]

def secret(i):
    return "AKIA" + "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[(i * 7 + k) % 32] for k in range(16))

def build_line():
    line = [chr(ord("a") + k % 26) for k in range(LINE_BYTES)]
    for i, p in enumerate(POSITIONS):
        line[p:p + 20] = secret(i)
    return "".join(line)
"""
exec(LINE_SOURCE)


def target_command(cuts):
    """Writes the line in pieces ending at `cuts`, pausing briefly after each
    (well under the bastion's 50 ms quiet release) so that each piece reaches
    the bastion in its own read."""
    script = LINE_SOURCE + (
        "import sys, time\n"
        "line = build_line().encode() + b'\\n'\n"
        "out = sys.stdout.buffer\n"
        "prev = 0\n"
        f"for c in {cuts!r} + [len(line)]:\n"
        "    out.write(line[prev:c]); out.flush(); prev = c\n"
        "    time.sleep(0.005)\n"
    )
    encoded = base64.b64encode(script.encode()).decode()
    return f"/usr/bin/python3 -c \"import base64; exec(base64.b64decode('{encoded}'))\""


class MaskingTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.start_bastion(extra='policy = "policy.lua"')

    def recorded_output(self, command):
        path = self.env.audit("SELECT recording FROM commands WHERE text = ?", (command,))[0][0]
        with open(path) as f:
            lines = f.read().splitlines()
        # No pty: each LF was recorded as CR LF (the target sent no CR here).
        return "".join(e[2] for e in map(json.loads, lines[1:]) if e[1] == "o").replace("\r\n", "\n")

    def assert_no_secret_anywhere(self, text, where):
        self.assertIsNone(re.search(r"AKIA[0-9A-Z]{16}", text), where)
        for i in range(len(POSITIONS)):
            self.assertNotIn(secret(i)[8:], text, where)  # not even the half after a split

    def check(self, cuts):
        line = build_line()
        expected = re.sub(r"AKIA[0-9A-Z]{16}", "****", line) + "\n"
        self.assertEqual(expected.count("****"), len(POSITIONS))
        command = target_command(cuts)
        r = self.env.ssh("web1", command, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_no_secret_anywhere(r.stdout.decode(), "client output")
        self.assertEqual(r.stdout.decode(), expected)
        recorded = self.recorded_output(command)
        self.assert_no_secret_anywhere(recorded, "recording")
        self.assertEqual(recorded, expected)
        for path in glob.glob(os.path.join(self.env.d, "data", "recordings", "**", "*.cast"), recursive=True):
            with open(path) as f:
                self.assert_no_secret_anywhere(f.read(), path)

    def test_secrets_split_inside_a_200kb_line_are_masked(self):
        # Each piece ends in the middle of a secret (at every offset 1..19).
        self.check([p + 1 + i * 2 % 19 for i, p in enumerate(POSITIONS)])

    def test_secrets_split_right_after_their_prefix_and_before_their_last_byte(self):
        self.check(sorted([p + 4 for p in POSITIONS[::2]] + [p + 19 for p in POSITIONS[1::2]]))

    def test_policy_test_warns_about_an_unbounded_mask_pattern(self):
        path = os.path.join(self.env.d, "unbounded.lua")
        with open(path, "w") as f:
            f.write('function on_command(c) return allow{ mask = { "AKIA[0-9A-Z]{16}", [[token=\\S+]] } } end\n')
        r = run([BASTIONCTL, "policy", "test", path, "--", "cat", "app.env"])
        self.assertEqual(r.returncode, 0, r.stderr)
        # Shown through the display escaping: a backslash is doubled.
        self.assertIn(b"mask:     /AKIA[0-9A-Z]{16}/ -> ****\nmask:     /token=\\\\S+/ -> ****\n", r.stdout)
        self.assertEqual(r.stderr, b"bastionctl: warning: mask /token=\\\\S+/ has no bound on its match length: a match "
                                   b"longer than 64 KiB split across reads may be shown; bound its repetition "
                                   b"({1,64} rather than +)\n")


if __name__ == "__main__":
    main()
