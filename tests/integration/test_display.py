"""Nothing shown to a person can be forged: user-controlled text (held
command text, key IDs, names) reaches approvers, auditors and the text log
escaped (common/display_escape.h), never as raw control, bidi or invisible
characters."""
import json
import os
import subprocess
import time

from harness import BASTIONCTL, BastionTest, Env, main, run

POLICY = r'''
function on_command(c)
  if c.text:find("^printf") or c.text:find("^echo held") then
    return review{ reason = "held", approvers = { "oncall" }, timeout = 60 }
  end
  return allow()
end
'''

# Shows the approver `printf 'sudo systemctl status nginx'` on a terminal
# (CR goes back to the start of the line, ESC [K erases it).
FORGED = b"printf 'rm -rf /srv\r\x1b[Ksudo systemctl status nginx'"
FORGED_SHOWN = "printf 'rm -rf /srv\\r\\x1b[Ksudo systemctl status nginx'"
KEY_ID = b"mallory\x1b[2K\nalice"  # a key ID that would erase a line and forge a row
KEY_ID_SHOWN = "mallory\\x1b[2K\\nalice"


def controls(data):
    """The control bytes in data other than the line and column separators."""
    return sorted({b for b in data if (b < 0x20 or b == 0x7F) and b not in (0x09, 0x0A)})


class DisplayTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        k = env.keys
        env.bob = k.cert(k.keygen("bob"), env.ca, "bob", "ops,oncall")
        env.mallory = k.cert(k.keygen("mallory"), env.ca, KEY_ID, "ops")
        # The text log (the harness's default is json): the last assignment wins.
        env.start_bastion(extra='policy = "policy.lua"\nlog_format = "text"')
        cls.db = os.path.join(env.d, "data", "audit.db")

    def hold(self, command):
        """Starts a held exec command (raw bytes in the exec request); returns
        the client process and the request id."""
        p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", command],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.time() + 10
        while time.time() < end:
            rows = self.env.audit("SELECT id FROM approval_requests WHERE CAST(command_text AS BLOB)=? "
                                  "AND state='pending'", (command,))
            if rows:
                return p, rows[0][0]
            time.sleep(0.1)
        p.kill()
        p.communicate()
        self.fail(f"no pending request for {command!r}")

    def approvals(self, *args):
        return self.env.ssh("approvals", list(args), key=self.env.bob)

    def deny(self, p, rid):
        r = self.approvals("deny", str(rid), "--reason", "test over")
        self.assertEqual(r.returncode, 0, r.stderr)
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, 126)

    def test_held_command_with_cr_and_esc_is_shown_escaped(self):
        p, rid = self.hold(FORGED)
        listed = f"#{rid}  pending  alice  web1 exec: {FORGED_SHOWN}  (held)  "
        r = self.approvals("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(controls(r.stdout), [])
        self.assertIn(listed, r.stdout.decode())
        r = self.approvals("show", str(rid))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(controls(r.stdout), [])
        out = r.stdout.decode()
        self.assertTrue(out.startswith(listed), out)
        self.assertIn(f"\n  command, {len(FORGED)} bytes, exactly as it will run:\n  | {FORGED_SHOWN}\n"
                      f"  requested ", out)
        r = run([BASTIONCTL, "approvals", "--db", self.db, "list"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(controls(r.stdout), [])
        self.assertIn(listed, r.stdout.decode())
        # As JSON: the exact text, its control bytes as JSON escapes.
        r = run([BASTIONCTL, "approvals", "--db", self.db, "list", "--json"])
        self.assertEqual((r.returncode, controls(r.stdout)), (0, []), r.stderr)
        entry = next(e for e in json.loads(r.stdout) if e["id"] == rid)
        self.assertEqual((entry["kind"], entry["requester"], entry["target"], entry["command_kind"], entry["command"],
                          entry["reason"], entry["approvers"], entry["votes"]),
                         ("command", "alice", "web1", "exec", FORGED.decode(), "held", ["oncall"], []))
        # What was shown is what runs: the exact bytes.
        r = self.approvals("approve", str(rid))
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out), (0, b"rm -rf /srv\r\x1b[Ksudo systemctl status nginx"), err)

    def test_bidi_override_is_shown_as_an_escape(self):
        command = "echo held \u202e gnp.exe".encode()
        p, rid = self.hold(command)
        r = self.approvals("list")
        self.assertNotIn("\u202e".encode(), r.stdout)
        self.assertIn(f"#{rid}  pending  alice  web1 exec: echo held \\u202e gnp.exe  (held)  ", r.stdout.decode())
        r = self.approvals("show", str(rid))
        self.assertNotIn("\u202e".encode(), r.stdout)
        self.assertIn("\n  | echo held \\u202e gnp.exe\n", r.stdout.decode())
        self.deny(p, rid)

    def test_long_command_is_cut_visibly_in_the_list_and_whole_in_show(self):
        command = b"echo held " + b"x" * 400 + b" tail-end"
        p, rid = self.hold(command)
        r = self.approvals("list")
        line = next(l for l in r.stdout.decode().splitlines() if l.startswith(f"#{rid} "))
        self.assertIn(f" web1 exec: echo held {'x' * 190}\u2026 [{len(command)} bytes in all]  (held)  ", line)
        self.assertNotIn("tail-end", line)
        r = self.approvals("show", str(rid))
        self.assertIn(f"\n  | {command.decode()}\n", r.stdout.decode())
        self.deny(p, rid)

    def mallory_session(self):
        """One session by the certificate whose key ID holds ESC and a newline
        (once per class); returns its id."""
        if getattr(type(self), "mallory_sid", None) is None:
            r = self.env.ssh("web1", b"echo hi\x1b[2K", key=self.env.mallory)
            self.assertEqual((r.returncode, r.stdout), (0, b"hi\x1b[2K\n"), r.stderr)
            rows = self.env.audit("SELECT id FROM sessions WHERE CAST(identity AS BLOB)=?", (KEY_ID,))
            self.assertEqual(len(rows), 1)
            type(self).mallory_sid = rows[0][0]
        return type(self).mallory_sid

    def test_key_id_with_escape_and_newline_in_audit_listings(self):
        sid = self.mallory_session()
        nsessions = self.env.audit("SELECT count(*) FROM sessions")[0][0]
        r = run([BASTIONCTL, "audit", "sessions", "--db", self.db])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(controls(r.stdout), [])
        rows = [l.split("\t") for l in r.stdout.decode().splitlines()[1:]]  # after the header
        self.assertEqual(len(rows), nsessions)  # no forged row
        self.assertEqual([row[3] for row in rows if row[2] == sid], [KEY_ID_SHOWN])

        r = run([BASTIONCTL, "audit", "commands", "--db", self.db, "--session", sid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(controls(r.stdout), [])
        rows = [l.split("\t") for l in r.stdout.decode().splitlines()[1:]]  # after the header
        self.assertEqual([(row[1], row[4], row[5], row[11]) for row in rows],
                         [(sid, "exec", "allow", "echo hi\\x1b[2K"), (sid, "session", "allow", "")])

    def test_recording_markers_are_shown_escaped(self):
        sid = self.mallory_session()
        path = self.env.audit("SELECT recording FROM commands WHERE session_id=? AND kind='exec'", (sid,))[0][0]
        r = run([BASTIONCTL, "recording", "play", "--markers", "--speed", "1000", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        # The output events are what the user saw (raw on purpose); the marker
        # is the bastion's note and quotes the command: escaped.
        self.assertIn(b"\x1b[7m[marker] exec: echo hi\\x1b[2K\x1b[0m\r\n", r.stdout)
        self.assertNotIn(b"[marker] exec: echo hi\x1b", r.stdout)

    def test_key_id_with_escape_and_newline_in_the_text_log(self):
        sid = self.mallory_session()
        # Session rows and log lines are finished when the connection ends.
        self.env.audit_eventually("SELECT count(*) FROM sessions WHERE id=? AND ended_at IS NOT NULL", [(1,)],
                                  (sid,))
        with open(self.env.bastion.log, "rb") as f:
            log = f.read()
        self.assertEqual(controls(log), [])  # one line per event, nothing for the terminal
        lines = log.decode().splitlines()
        opened = [l for l in lines if " session opened " in l and f" session={sid} " in l]
        self.assertEqual(len(opened), 1, log)
        self.assertIn(f" identity={KEY_ID_SHOWN} ", opened[0] + " ")
        closed = [l for l in lines if " session closed " in l and f" session={sid} " in l]
        self.assertEqual(len(closed), 1, log)
        self.assertIn(f" identity={KEY_ID_SHOWN} ", closed[0] + " ")

if __name__ == "__main__":
    main()
