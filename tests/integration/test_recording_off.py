"""A remote-host target with `recording = "off"`: its sessions run, are
decided, masked and audited, but leave no asciicast; the audit rows and
`bastionctl session show` say the recording is off by configuration; a value
other than "on"/"off" is a config error."""
import glob
import json
import os

from harness import BASTIOND, BASTIONCTL, BastionTest, Env, main, run

POLICY = r'''
function on_command(c)
  if c.text:find("forbidden", 1, true) then return deny("not here") end
  return allow{ mask = "AKIA[0-9A-Z]{16}" }
end
'''
SECRET = "AKIA" + "ABCDEFGHIJKLMNOP"


class RecordingOffTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        quiet = f"""
  quiet = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
            identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
            recording = "off" }},"""
        env.start_bastion(extra='policy = "policy.lua"', targets=env.default_targets() + quiet)

    def recordings(self):
        return sorted(glob.glob(os.path.join(self.env.d, "data", "recordings", "*", "*.cast")))

    def session_of(self, command):
        rows = self.env.audit("SELECT session_id FROM commands WHERE text=?", (command,))
        self.assertEqual(len(rows), 1)
        return rows[0][0]

    def test_no_recording_but_decided_masked_and_audited(self):
        before = self.recordings()
        r = self.env.ssh("quiet", f"echo hello {SECRET}")
        self.assertEqual((r.returncode, r.stdout.decode()), (0, "hello ****\n"))
        r = self.env.ssh("quiet", "echo forbidden")
        self.assertEqual(r.returncode, 126)
        self.assertEqual(r.stderr.decode(), "bastion: denied: not here\n")
        sid = self.session_of(f"echo hello {SECRET}")
        self.assertEqual(self.env.audit_eventually(
            "SELECT kind, decision, recording, recording_state, exit_status FROM commands WHERE session_id=? "
            "AND kind='exec'", [("exec", "mask", None, "off (by configuration)", 0)], (sid,)),
            [("exec", "mask", None, "off (by configuration)", 0)])
        denied = self.session_of("echo forbidden")
        self.assertEqual(self.env.audit_eventually(
            "SELECT decision, reason, recording, recording_state FROM commands WHERE session_id=? AND kind='exec'",
            [("deny", "not here", None, "off (by configuration)")], (denied,)),
            [("deny", "not here", None, "off (by configuration)")])
        # The session row exists, with no recording named.
        self.assertEqual(self.env.audit_eventually("SELECT target, recording_path FROM sessions WHERE id=?",
                                                   [("quiet", None)], (sid,)), [("quiet", None)])
        self.assertEqual(self.recordings(), before)
        self.assertEqual(self.env.audit("SELECT count(*) FROM recordings WHERE session_id IN (?, ?)", (sid, denied)),
                         [(0,)])
        # The log says it too.
        self.assertIn({"session": sid, "target": "quiet"},
                      [{k: l.get(k) for k in ("session", "target")} for l in self.env.bastion.log_lines()
                       if l.get("msg") == "recording off by configuration"])

    def test_session_show_says_recording_off(self):
        self.assertEqual(self.env.ssh("quiet", "echo shown").returncode, 0)
        sid = self.session_of("echo shown")
        self.env.audit_eventually("SELECT recording_state FROM commands WHERE session_id=? AND kind='exec'",
                                  [("off (by configuration)",)], (sid,))
        out = run([BASTIONCTL, "session", "show", sid, "--config", self.env.bastion.conf]).stdout.decode()
        lines = out.splitlines()
        i = lines.index(next(l for l in lines if l.endswith(" exec: echo shown")))
        self.assertEqual(lines[i + 3], "  recording: off (by configuration)")
        self.assertEqual(lines[-1], "recordings: 0")
        r = run([BASTIONCTL, "session", "show", sid, "--json", "--config", self.env.bastion.conf])
        self.assertEqual(r.returncode, 0)
        cmds = json.loads(r.stdout)["commands"]
        self.assertEqual([(c["kind"], c["recording"], c["recording_state"]) for c in cmds],
                         [("session", "", ""), ("exec", "", "off (by configuration)")])

    def test_a_recorded_target_beside_it_still_records(self):
        before = len(self.recordings())
        self.assertEqual(self.env.ssh("web1", "echo recorded").returncode, 0)
        sid = self.session_of("echo recorded")
        self.assertEqual(self.env.audit_eventually(
            "SELECT recording_state FROM commands WHERE session_id=? AND kind='exec'", [("complete",)], (sid,)),
            [("complete",)])
        self.assertEqual(len(self.recordings()), before + 1)

    def check(self, value):
        with open(self.env.bastion.conf) as f:
            text = f.read().replace('recording = "off"', f"recording = {value}")
        path = os.path.join(self.env.d, "bad.conf")
        with open(path, "w") as f:
            f.write(text)
        line = next(i for i, l in enumerate(text.splitlines(), 1) if f"recording = {value}" in l)
        r = run([BASTIOND, "--check", "--config", path])
        return r.returncode, r.stdout.decode(), r.stderr.decode(), path, line

    def test_a_bad_value_is_refused_naming_the_allowed_ones(self):
        for value in ('"yes"', '"OFF"', "false", '""'):
            rc, out, err, path, line = self.check(value)
            self.assertEqual((rc, out), (1, ""), value)
            if value == "false":
                self.assertEqual(err, f"bastiond: {path}:{line}: targets.quiet.recording: expected a string\n")
            else:
                self.assertEqual(err, f'bastiond: {path}:{line}: targets.quiet.recording: expected "on" or "off"\n',
                                 value)

    def test_check_warns_that_such_sessions_cannot_be_replayed(self):
        r = run([BASTIOND, "--check", "--config", self.env.bastion.conf])
        self.assertIn('targets.quiet: recording = "off": its sessions are decided and audited but not recorded; '
                      "auditors cannot replay them", r.stdout.decode() + r.stderr.decode())


if __name__ == "__main__":
    main()
