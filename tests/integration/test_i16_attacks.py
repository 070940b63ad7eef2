"""Issue 16 attack review: the target picker, unknown-target listing, and
the review loop's chat webhook, tried as a hostile user would."""
import json
import os
import sqlite3
import unittest

from harness import BASTIONCTL, BastionTest, Env, main, run
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


class PickerOperatorViewTest(BastionTest):
    """After a pick, operators see the session where it runs: `bastionctl
    status` and the sessions gauge kept the login name ("root", kind
    "unknown") the Session registered at its start, so a live shell on web1
    was invisible as such until it ended."""

    def test_status_names_the_picked_target(self):
        argv = self.env.ssh_base(tty=True) + ["root@127.0.0.1"]
        s = PtySession(argv, env={"TERM": "xterm"})
        try:
            s.read_until(b"> dead\r\n  web1\r\n")
            s.send(b"web1\r")
            s.read_until(b"bastion: connecting to web1")
            s.send(b"echo picked-$((6*7))\r")
            s.read_until(b"picked-42")
            sock = os.path.join(self.env.d, "data", "bastiond.sock")
            r = run([BASTIONCTL, "status", "--socket", sock, "--json"])
            self.assertEqual(r.returncode, 0, r.stderr)
            j = json.loads(r.stdout)
            [live] = j["sessions"]
            self.assertEqual((live["target"], live["kind"]), ("web1", "ssh"))
            self.assertEqual(j["sessions_by_kind"], {"ssh": 1})
        finally:
            s.send(b"exit\r")
            s.wait()

    # Fixed: the sessions row kept the login name ("root") as its target
    # until the session ended (SessionEnd.target), so while it ran, and for
    # good when bastiond died before the end was written, it named no
    # target the shell ran on. The pick now updates the row at once
    # (AuditStore::session_retargeted, chained; a failed write refuses it).
    def test_sessions_row_names_the_picked_target_while_it_runs(self):
        argv = self.env.ssh_base(tty=True) + ["root@127.0.0.1"]
        s = PtySession(argv, env={"TERM": "xterm"})
        try:
            s.read_until(b"> dead\r\n  web1\r\n")
            s.send(b"web1\r")
            s.read_until(b"bastion: connecting to web1")
            s.send(b"echo live-$((6*7))\r")
            s.read_until(b"live-42")
            rows = self.env.audit("SELECT target FROM sessions WHERE ended_at IS NULL")
            self.assertEqual(rows, [("web1",)])
        finally:
            s.send(b"exit\r")
            s.wait()



class PickerAuditFailureTest(BastionTest):
    """The pick is written on the sessions row when it is made; when that
    write fails, the pick is refused (fail closed)."""

    def test_pick_refused_when_the_sessions_row_cannot_be_written(self):
        # Fail closed: a sessions row edited outside the bastion (the chain
        # check refuses to write over it) refuses the pick; nothing runs.
        argv = self.env.ssh_base(tty=True) + ["root@127.0.0.1"]
        s = PtySession(argv, env={"TERM": "xterm"})
        s.read_until(b"> dead\r\n  web1\r\n")
        db = sqlite3.connect(os.path.join(self.env.d, "data", "audit.db"))
        try:
            db.execute("UPDATE sessions SET source_address='10.9.9.9' WHERE ended_at IS NULL")
            db.commit()
        finally:
            db.close()
        s.send(b"web1\r")
        s.read_until(b"bastion: the audit store is unavailable; nothing was run")
        self.assertEqual(s.wait(timeout=10), 255)
        self.assertNotIn(b"connecting to web1", s.buf)
        kinds = self.env.audit("SELECT kind FROM commands WHERE session_id=(SELECT id FROM sessions "
                               "WHERE source_address='10.9.9.9')")
        self.assertNotIn(("shell",), kinds)
        self.assertNotIn(("pick",), kinds)

if __name__ == "__main__":
    main()
