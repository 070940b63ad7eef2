"""Pty shells line by line: a real `ssh -tt` through bastiond to a real sshd,
driven like a person with bash (the login shell) and dash. Every line the
user submits is read off the bastion's screen model and decided before its
Enter reaches the shell; a denied line never runs and the shell is left at
a clean prompt."""
import os
import re
import time

from harness import BastionTest, Env, main

POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "policies")
from pty_driver import PtySession

# Allows everything but a line with a part whose word is deny_me (or a path
# ending in /deny_me): the side-effect file it would create stays absent.
POLICY = r'''
function on_command(c)
  if c.kind == "shell_line" then
    for _, p in ipairs(c.parts or {}) do
      for _, w in ipairs(p.argv or {}) do
        if w == "deny_me" or (w:match("/deny_me$") and not w:find(" ")) then
          return deny("deny_me is not allowed here")
        end
      end
    end
  end
  return allow()
end
'''

# A prompt at the end of the output, once escape sequences are taken out
# (zsh and a bastion repaint leave some after it).
PROMPT_RE = re.compile(rb"[#$] ?$")
CSI_RE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class ShellLinesBase(BastionTest):
    """Drives a pty shell through the bastion and reads back its shell_line rows."""
    maxDiff = None

    def setUp(self):
        self.d = os.path.join(self.env.d, "w", self._testMethodName)
        os.makedirs(self.d)
        self.first = self.env.audit("SELECT coalesce(max(id), 0) FROM commands")[0][0]

    # -- driving --------------------------------------------------------
    def open(self, command=None, cols=100):
        argv = self.env.ssh_base(tty=True) + ["web1@127.0.0.1"] + ([command] if command else [])
        s = PtySession(argv, 30, cols, env={"TERM": "xterm-256color"})
        self.prompt(s)
        return s

    def prompt(self, s, timeout=10.0):
        """Waits until the shell shows a prompt and is quiet."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                s.read_until(b"\x00never", timeout=0.3)
            except AssertionError:
                pass
            if s.buf.endswith(b"\x1b[6n"):  # busybox asks where the cursor is
                s.send(b"\x1b[1;5R")
                s.buf = s.buf[:-4]
                continue
            if PROMPT_RE.search(CSI_RE.sub(b"", s.buf.replace(b"\r", b""))):
                return
        raise AssertionError(f"no prompt; got {s.buf[-300:]!r}")

    def line(self, s, text, wait=True):
        s.buf = b""
        for ch in text:  # typed, not pasted
            s.send(ch.encode())
            time.sleep(0.01)
        time.sleep(0.05)
        s.send(b"\r")
        if wait:
            self.prompt(s)

    def rows(self):
        return self.env.audit("SELECT kind, text, decision FROM commands WHERE kind='shell_line' AND id > ? "
                              "ORDER BY id", (self.first,))

    def assert_clean_prompt(self, s):
        s.buf = b""
        self.line(s, "echo ok-$((1+1))", wait=False)
        s.read_until(b"ok-2\r\n")
        self.prompt(s)

    def finish(self, s, expected_rows):
        self.assert_clean_prompt(s)
        s.send(b"exit\r")
        s.wait()
        self.assertEqual(self.rows(), expected_rows + [("shell_line", "echo ok-$((1+1))", "allow"),
                                                       ("shell_line", "exit", "allow")])

    def exists(self, name):
        return os.path.exists(os.path.join(self.d, name))



class ShellLinesTest(ShellLinesBase):
    """The test policy: everything but deny_me."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.start_bastion(extra='policy = "policy.lua"')

    def test_typed_allowed_and_denied(self):
        s = self.open()
        self.line(s, f"touch {self.d}/a1")
        self.line(s, f"touch {self.d}/deny_me")
        self.assertIn(b"bastion: denied: deny_me is not allowed here", s.buf)
        self.finish(s, [("shell_line", f"touch {self.d}/a1", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertTrue(self.exists("a1"))
        self.assertFalse(self.exists("deny_me"))

    def test_edited_mid_line(self):
        s = self.open()
        # "de_me", Left x3, insert "ny": the keys never spell deny_me.
        s.buf = b""
        for k in [f"touch {self.d}/de_me", "\x1b[D", "\x1b[D", "\x1b[D", "n", "y"]:
            s.send(k.encode())
            time.sleep(0.05)
        s.send(b"\r")
        self.prompt(s)
        self.finish(s, [("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertFalse(self.exists("deny_me"))

    def test_history_recall_and_ctrl_r(self):
        s = self.open()
        self.line(s, f"history -s 'touch {self.d}/deny_me'")
        s.buf = b""
        s.send(b"\x1b[A")
        time.sleep(0.2)
        s.send(b"\r")
        self.prompt(s)
        # Ctrl-C: readline's history position back at the end, so that
        # Ctrl-R searches the whole history again.
        s.send(b"\x03")
        self.prompt(s)
        s.buf = b""
        s.send(b"\x12")
        time.sleep(0.1)
        s.send(b"deny")
        time.sleep(0.2)
        s.send(b"\r")
        self.prompt(s)
        self.finish(s, [("shell_line", f"history -s 'touch {self.d}/deny_me'", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertFalse(self.exists("deny_me"))

    def test_tab_completion(self):
        os.makedirs(os.path.join(self.d, "sub"))
        open(os.path.join(self.d, "sub", "deny_me"), "w").close()
        s = self.open()
        s.buf = b""
        s.send(f"rm {self.d}/sub/den".encode())
        time.sleep(0.1)
        s.send(b"\t")
        time.sleep(0.3)
        s.send(b"\r")
        self.prompt(s)
        self.finish(s, [("shell_line", f"rm {self.d}/sub/deny_me", "deny")])
        self.assertTrue(os.path.exists(os.path.join(self.d, "sub", "deny_me")))

    def test_pasted_block_with_a_denied_line_runs_nothing(self):
        s = self.open()
        s.buf = b""
        s.send(f"touch {self.d}/p1\rtouch {self.d}/deny_me\rtouch {self.d}/p3\r".encode())
        s.read_until(b"bastion: denied: deny_me is not allowed here")
        self.prompt(s)
        self.assertIn(f"(pasted line: touch {self.d}/deny_me); nothing was run".encode(), s.buf)
        self.finish(s, [("shell_line", f"touch {self.d}/p1", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertEqual(sorted(os.listdir(self.d)), [])

    def test_bracketed_paste_is_decided_whole_at_enter(self):
        s = self.open()
        s.buf = b""
        s.send(f"\x1b[200~touch {self.d}/b1\rtouch {self.d}/deny_me\x1b[201~".encode())
        time.sleep(0.3)
        s.send(b"\r")
        s.read_until(b"bastion: denied:")
        self.prompt(s)
        self.finish(s, [("shell_line", f"touch {self.d}/b1\ntouch {self.d}/deny_me", "deny")])
        self.assertEqual(sorted(os.listdir(self.d)), [])

    def test_for_loop_over_continuation_prompts(self):
        s = self.open()
        self.line(s, "for i in 1 2; do", wait=False)
        s.read_until(b"> ")
        self.line(s, f"touch {self.d}/loop_$i", wait=False)
        s.read_until(b"> ")
        self.line(s, "done")
        self.line(s, "for i in 1; do", wait=False)
        s.read_until(b"> ")
        self.line(s, f"touch {self.d}/deny_me", wait=False)
        s.read_until(b"bastion: denied:")
        s.read_until(b">\x1b[K\r\x1b[2C")  # the PS2 prompt repainted
        s.send(b"\x03")
        self.prompt(s)
        loop = f"for i in 1 2; do\ntouch {self.d}/loop_$i\ndone"
        self.finish(s, [("shell_line", "for i in 1 2; do", "allow"),
                        ("shell_line", f"touch {self.d}/loop_$i", "allow"),
                        ("shell_line", "done", "allow"),
                        ("shell_line", loop, "allow"),
                        ("shell_line", "for i in 1; do", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertEqual(sorted(os.listdir(self.d)), ["loop_1", "loop_2"])

    def test_vim_then_a_denied_line(self):
        s = self.open()
        self.line(s, f"vim -u NONE -N {self.d}/v.txt", wait=False)
        s.read_until(b"\x1b[?1049h")
        time.sleep(0.5)
        s.send(b":q\r")
        self.prompt(s)
        self.line(s, f"touch {self.d}/deny_me")
        self.finish(s, [("shell_line", f"vim -u NONE -N {self.d}/v.txt", "allow"),
                        ("shell_line", f"vim -u NONE -N {self.d}/v.txt", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertFalse(self.exists("deny_me"))

    def test_alternate_screen_printed_at_a_prompt_suspends_nothing(self):
        s = self.open()
        self.line(s, f"cd {self.d}")  # a prompt with another directory in it
        self.line(s, "printf '\\e[?1049h'")
        self.line(s, f"touch {self.d}/deny_me")
        self.assertIn(b"bastion: denied:", s.buf)
        self.line(s, "printf '\\e[?1049l'")
        self.finish(s, [("shell_line", f"cd {self.d}", "allow"),
                        ("shell_line", "printf '\\e[?1049h'", "allow"),
                        ("shell_line", "printf '\\e[?1049h'", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny"),
                        ("shell_line", "printf '\\e[?1049l'", "allow")])
        self.assertFalse(self.exists("deny_me"))

    def test_password_typed_with_echo_off_is_never_recorded(self):
        s = self.open()
        self.line(s, "read -s pw", wait=False)
        time.sleep(0.3)
        self.line(s, "hunter2-secret")
        self.finish(s, [("shell_line", "read -s pw", "allow"), ("shell_line", "", "allow")])
        details = self.env.audit("SELECT details FROM commands WHERE kind='shell_line' AND text='' AND id > ?",
                                 (self.first,))
        self.assertIn('"hidden":true', details[0][0].replace(" ", ""))
        self.assertIn('"hidden_chars":14', details[0][0].replace(" ", ""))
        for path in self.env.audit("SELECT recording FROM commands WHERE kind='shell' AND id > ?", (self.first,)):
            with open(path[0], "rb") as f:
                self.assertNotIn(b"hunter2", f.read())
        with open(self.env.bastion.log, "rb") as f:
            self.assertNotIn(b"hunter2", f.read())

    def test_ctrl_c_after_an_allowed_prefix_then_a_denied_line(self):
        s = self.open()
        s.buf = b""
        s.send(f"touch {self.d}/c1".encode())
        time.sleep(0.2)
        s.send(b"\x03")
        self.prompt(s)
        self.line(s, f"touch {self.d}/deny_me")
        self.finish(s, [("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertEqual(sorted(os.listdir(self.d)), [])

    def test_dash_typed_denied_and_pasted(self):
        s = self.open("dash")
        self.line(s, f"touch {self.d}/d1")
        self.line(s, f"touch {self.d}/deny_me")
        self.assertIn(b"bastion: denied: deny_me is not allowed here", s.buf)
        s.buf = b""
        s.send(f"touch {self.d}/d2\rtouch {self.d}/deny_me\r".encode())
        s.read_until(b"bastion: denied:")
        self.prompt(s)
        self.finish(s, [("shell_line", f"touch {self.d}/d1", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny"),
                        ("shell_line", f"touch {self.d}/d2", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertEqual(sorted(os.listdir(self.d)), ["d1"])

    def check_other_shell(self, command):
        s = self.open(command)
        self.line(s, f"touch {self.d}/o1")
        self.line(s, f"touch {self.d}/deny_me")
        self.assertIn(b"bastion: denied: deny_me is not allowed here", s.buf)
        self.finish(s, [("shell_line", f"touch {self.d}/o1", "allow"),
                        ("shell_line", f"touch {self.d}/deny_me", "deny")])
        self.assertEqual(sorted(os.listdir(self.d)), ["o1"])

    def test_busybox_sh(self):
        self.check_other_shell("busybox sh")

    def test_zsh(self):
        self.check_other_shell("zsh -f")


class ProdShellLinesTest(ShellLinesBase):
    """The shipped policies/default.lua on a production target: an allow-list
    for shell lines as for exec."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        cls.policy = env.start_shipped_policy("prod")

    def test_allow_list_on_a_production_shell(self):
        open(os.path.join(self.d, "keep"), "w").close()
        s = self.open()
        self.line(s, f"ls {self.d}")
        self.assertIn(b"keep\r\n", s.buf)
        self.line(s, f"rm -rf {self.d}")
        self.assertIn(b"bastion: denied: ", s.buf)
        self.line(s, f"touch {self.d}/new")
        s.buf = b""
        s.send(f"ls {self.d}\rrm -rf {self.d}\r".encode())
        s.read_until(b"bastion: denied:")
        self.prompt(s)
        s.buf = b""
        self.line(s, 'echo ok-pr""od', wait=False)
        s.read_until(b"ok-prod\r\n")
        self.prompt(s)
        self.line(s, "exit")  # not on the allow-list either
        s.send(b"\x04")  # Ctrl-D on an empty line is no line: the shell ends
        s.wait()
        rows = self.rows()
        self.assertEqual([(k, t, d) for k, t, d in rows],
                         [("shell_line", f"ls {self.d}", "allow"),
                          ("shell_line", f"rm -rf {self.d}", "deny"),
                          ("shell_line", f"touch {self.d}/new", "deny"),
                          ("shell_line", f"ls {self.d}", "allow"),
                          ("shell_line", f"rm -rf {self.d}", "deny"),
                          ("shell_line", 'echo ok-pr""od', "allow"),
                          ("shell_line", "exit", "deny")])
        self.assertEqual(os.listdir(self.d), ["keep"])


if __name__ == "__main__":
    main()
