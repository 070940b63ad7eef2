"""Attack review 2 of issue 14: the pty shell path (ssh -tt through the
bastion, line tracker over a libvterm screen model) and the sftp gate.
Each test is a hole found by the review and FAILED on d45b6fd^ (6d997b5)."""
import os
import time

from harness import Env, main
from test_shell_lines import POLICY, ShellLinesBase


class HostileOutputTest(ShellLinesBase):
    """Target output reaches libvterm 0.1.4 through the screen model."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.start_bastion(extra='policy = "policy.lua"')

    def test_restored_cursor_after_shrink_does_not_kill_bastiond(self):
        # The shell (or anything on a compromised target) saves the cursor
        # low on the screen; the user makes the window smaller; ESC 8 and a
        # double-width-line switch then write libvterm's line array out of
        # bounds: bastiond died with SIGSEGV, taking every session with it.
        s = self.open()
        self.line(s, r"printf '\e[30;1H\e7\e[H'")
        s.resize(1, 100)
        time.sleep(0.3)
        self.line(s, r"printf '\e8\e#6\e#3\e#4'; echo done-$((6*7))", wait=False)
        s.read_until(b"done-42", timeout=10)
        self.assertIsNone(self.env.bastion.proc.poll(), "bastiond died")
        s.resize(30, 100)
        self.prompt(s)
        s.send(b"exit\r")
        s.wait()
        self.assertIsNone(self.env.bastion.proc.poll(), "bastiond died")
        r = self.env.ssh("web1", "echo still-up")
        self.assertEqual(r.stdout, b"still-up\n")


if __name__ == "__main__":
    main()
