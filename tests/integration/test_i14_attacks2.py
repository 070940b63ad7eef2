"""Attack review 2 of issue 14: the pty shell path (ssh -tt through the
bastion, line tracker over a libvterm screen model). Each test is a hole
found by the review and FAILED on 6d997b5. Fixed on this branch (screen
model): the libvterm crashes, ESC ( 0, DECAWM off, a scroll region above
the prompt. Still open (the tracker's owner): a background job repainting
the typed line, a key bound to accept-line."""
import os
import time

from harness import Env, main
from test_shell_lines import CSI_RE, POLICY, ShellLinesBase


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

    def test_scroll_region_after_shrink_does_not_kill_bastiond(self):
        # A scroll region (apt's progress bar, tmux) low on the screen, the
        # user shrinks the window, a line feed: libvterm scrolls a region of
        # negative height and bastiond aborts.
        s = self.open()
        self.line(s, r"printf '\e[20;30r\e[30;1H'")
        s.resize(5, 100)
        time.sleep(0.3)
        self.line(s, "echo a; echo b; echo done-$((6*7))", wait=False)
        s.read_until(b"done-42", timeout=10)
        self.assertIsNone(self.env.bastion.proc.poll(), "bastiond died")
        s.send(b"printf '\\e[r'; exit\r")
        s.wait()
        r = self.env.ssh("web1", "echo still-up")
        self.assertEqual(r.stdout, b"still-up\n")



class FakeLineTest(ShellLinesBase):
    """The line the bastion reads off its screen model is not the line bash runs."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.start_bastion(extra='policy = "policy.lua"')

    def test_background_job_repaints_the_typed_line(self):
        # A job started earlier redraws the prompt row with an innocent line
        # while the user types: the bastion decides what the screen shows
        # ("echo hi"), bash runs what it holds (touch .../deny_me).
        s = self.open()
        self.line(s, "PS1='$ '")
        self.line(s, r"(sleep 1.5; printf '\r\e[K$ echo hi') &")
        s.buf = b""
        for ch in f"touch {self.d}/deny_me":
            s.send(ch.encode())
            time.sleep(0.01)
        s.read_until(b"$ echo hi", timeout=10)
        time.sleep(0.3)
        s.send(b"\r")
        self.prompt(s)
        self.assertFalse(self.exists("deny_me"), "bash ran a line the bastion never decided")


class ShippedStagingTest(ShellLinesBase):
    """The shipped default.lua on a non-production target: escalation (sudo,
    su, ...) needs a review."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        try:
            cls.policy = env.start_shipped_policy("staging")
        except BaseException:
            env.close()
            raise

    def test_dec_graphics_charset_hides_the_typed_line(self):
        # ESC ( 0 maps a-z to line-drawing glyphs on the screen (the model's
        # and the user's); bash still gets the keys. `su ...` reads as
        # "⎽┤ -␌ ...": no escalation, allowed without a review.
        s = self.open()
        self.line(s, r"printf '\e(0'")
        self.line(s, f"su -c 'touch {self.d}/su_ran' root", wait=False)
        try:
            s.read_until(b"su needs approval", timeout=5)
        finally:
            s.send(b"\x03")
            self.prompt(s)
        s.send(b"printf '\\e(B'\r")
        self.prompt(s)
        decisions = [(r[1], r[2]) for r in self.rows()]
        self.assertFalse(self.exists("su_ran"), f"su ran without a review; decisions {decisions}")

    def test_key_bound_to_accept_line_submits_undecided(self):
        # `bind` was allowed off production. A key bound to accept-line ends
        # the line in bash, but the tracker holds only CR, LF, Ctrl-O and
        # Ctrl-D: Ctrl-T would go on at once and su would run with no
        # decision. The shipped policy now refuses lines that change what
        # later lines run, in every brokered shell.
        s = self.open()
        bind = r"bind '\"\C-t\": accept-line'"
        self.line(s, bind)
        self.assertIn(("shell_line", bind, "deny"), self.rows())
        s.buf = b""
        for ch in f"su -c 'touch {self.d}/su_bound' root":
            s.send(ch.encode())
            time.sleep(0.01)
        time.sleep(0.1)
        s.send(b"\x14")  # transpose-chars again: nothing is submitted
        time.sleep(0.5)
        s.send(b"\x03")
        self.prompt(s)
        decisions = [(r[1], r[2]) for r in self.rows()]
        self.assertFalse(self.exists("su_bound"), f"su ran without a decision; rows {decisions}")
        self.assert_clean_prompt(s)


class ShippedProdPtyTest(ShellLinesBase):
    """The shipped default.lua + commands.lua on an env=prod target, typed
    through a pty: the allow-list decides what the screen model shows."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        try:
            cls.policy = env.start_shipped_policy("prod")
        except BaseException:
            env.close()
            raise

    def setUp(self):
        super().setUp()
        self.dir = os.path.join(self.d, "D")
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "flag"), "w") as f:
            f.write("still here\n")

    def end_covers_start(self, setup, restore):
        """Draws `setup` (allowed on prod: echo -e), then types a line whose
        end lands on its own start if readline's wrap does not move down:
        the screen would read `cat /etc/hostname`, bash would run `rm -rf D; ...`."""
        s = self.open(cols=200)
        prompt_len = len(CSI_RE.sub(b"", s.buf).replace(b"\r", b"").split(b"\n")[-1])
        self.line(s, setup)
        head = f"rm -rf {self.dir};"
        head += " " * (200 - prompt_len - len(head))
        tail = "cat /etc/hostname"
        tail += " " * (prompt_len + len(head.rstrip()) + 1 - len(tail))
        self.line(s, head + tail)
        s.send(restore)
        self.prompt(s)
        rows = [(r[1].strip(), r[2]) for r in self.rows()]
        self.assertTrue(os.path.exists(os.path.join(self.dir, "flag")), f"rm -rf D ran on prod; rows {rows}")

    def test_autowrap_off_lets_the_end_of_the_line_cover_its_start(self):
        # DECAWM off. At the margin readline prints " \r" to wrap; without
        # autowrap that is a CR on the same row, so the rest of the line is
        # drawn over the prompt and the line's start.
        self.end_covers_start(r"echo -e '\e[?7l'", b"echo -e '\\e[?7h'\r")

    def test_scroll_region_above_the_prompt_lets_the_end_cover_the_start(self):
        # The same with autowrap on: a scroll region at the top and the
        # cursor on the last row, below it. A line feed there does not
        # scroll, so readline's wrap lands on the same row.
        self.end_covers_start(r"echo -e '\e[1;2r\e[999;1H'", b"echo -e '\\e[r'\r")


if __name__ == "__main__":
    main()
