"""Issue 16 attack review: the target picker, unknown-target listing, and
the review loop's chat webhook, tried as a hostile user would."""
import unittest

from harness import BastionTest, Env, main
from pty_driver import PtySession


class PickerReloadTest(BastionTest):
    """A reload that withdraws access must close the picker's way in too.
    Session::cfg_ is the config the session started with: the picker's
    re-check (choose_target -> usable_targets) and target_config() read it,
    and recheck_access() skips a session whose login name is no target, so
    a picker opened before the reload connected to a target the live
    configuration no longer allows, and no later reload check caught it."""

    def picker(self):
        argv = self.env.ssh_base(tty=True) + ["root@127.0.0.1"]
        s = PtySession(argv, env={"TERM": "xterm"})
        s.read_until(b"> dead\r\n  web1\r\n")
        return s

    def test_picker_open_across_a_reload_that_withdraws_access(self):
        b = self.env.bastion
        with open(b.conf) as f:
            original = f.read()
        # web1's allow list becomes { "dba" }: alice (ops) loses it.
        marker = 'known_hosts = "keys/known_hosts", allow = { "ops" },\n           labels = { env = "test" }'
        self.assertIn(marker, original)
        withdrawn = original.replace(marker, marker.replace('"ops"', '"dba"'))
        s = self.picker()
        try:
            self.assertTrue(b.rewrite_config_and_reload(withdrawn), "no reload")
            # The reload took: a direct login to web1 is refused now.
            r = self.env.ssh("web1", "echo direct")
            self.assertEqual(r.returncode, 1, r.stderr)
            s.send(b"web1")
            s.read_until(b"> web1\r\n")
            s.send(b"\r")
            s.read_until(b"bastion: ")
            try:
                s.read_until(b"open to you now", timeout=5)
            except Exception:
                pass
            screen = s.buf.decode(errors="replace")
            self.assertNotIn("connecting to web1", screen)
            self.assertIn('target "web1" is not open to you now', screen)
        finally:
            try:
                s.send(b"exit\r")
                s.wait(timeout=5)
            except Exception:
                pass
            b.rewrite_config_and_reload(original)
        sid = self.env.audit("SELECT session_id FROM commands WHERE kind='pick' ORDER BY id DESC LIMIT 1")
        if sid:
            kinds = [k for (k,) in self.env.audit("SELECT kind FROM commands WHERE session_id=? ORDER BY id",
                                                  (sid[0][0],))]
            self.assertNotIn("shell", kinds)


if __name__ == "__main__":
    main()
