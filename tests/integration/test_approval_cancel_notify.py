"""A held channel that ends before anyone decides is cancelled the same way
however it ends: the store says cancelled, the webhook gets "cancelled" and
the recording a marker. Ctrl-C is covered by test_approvals; here the
requester's connection drops, and the bastion ends the session (the
certificate expires) while the command is held."""
import json
import os
import signal
import subprocess
import time

from harness import BastionTest, Env, main
from test_approvals import Receiver

POLICY = r'''
function on_command(c)
  if c.text:find("^echo held") then
    return review{ reason = "held for a test", approvers = { "oncall" }, timeout = 60 }
  end
  return allow()
end
'''


class CancelNotifyTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        cls.hook = Receiver()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.start_bastion(extra=f'policy = "policy.lua"\n'
                          f'approvals = {{ webhook = "http://127.0.0.1:{cls.hook.port}/hook" }}')

    @classmethod
    def tearDownClass(cls):
        cls.hook.stop()
        super().tearDownClass()

    def held(self, command, key=None):
        p = subprocess.Popen(self.env.ssh_base(key) + ["web1@127.0.0.1", command],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.time() + 10
        while time.time() < end:
            rows = self.env.audit("SELECT id FROM approval_requests WHERE command_text=? AND state='pending'",
                                  (command,))
            if rows:
                return p, rows[0][0]
            time.sleep(0.05)
        p.kill()
        p.communicate()
        self.fail(f"no pending request for {command!r}")

    def assert_cancelled(self, rid, command, reason):
        self.assertEqual(self.env.audit_eventually("SELECT state, deny_reason FROM approval_requests WHERE id=?",
                                                   [("cancelled", reason)], (rid,)), [("cancelled", reason)])
        end = time.time() + 10
        events = []
        while time.time() < end:
            events = [e["event"] for e in list(self.hook.events) if e["request"]["id"] == rid]
            if "cancelled" in events:
                break
            time.sleep(0.05)
        self.assertEqual(events, ["created", "cancelled"])
        (path,) = {r[0] for r in self.env.audit("SELECT recording FROM commands WHERE text=?", (command,))}
        with open(path) as f:
            markers = [e[2] for e in (json.loads(l) for l in f.read().splitlines()[1:]) if e[1] == "m"]
        self.assertEqual(markers, [f"exec: {command}", "decision: review (held for a test)",
                                   f"approval requested: #{rid}", f"approval cancelled: #{rid}"])

    def test_requester_connection_drops(self):
        p, rid = self.held("echo held-dropped")
        p.send_signal(signal.SIGKILL)  # no channel close, no disconnect message
        p.communicate(timeout=10)
        self.assert_cancelled(rid, "echo held-dropped", "the requester left")

    def test_session_ended_by_the_bastion(self):
        k = self.env.keys
        short = k.cert(k.keygen("short"), self.env.ca, "short", "ops", validity="-5m:+4s")
        p, rid = self.held("echo held-expiring", key=short)
        _, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 255)
        self.assertIn(b"bastion: your certificate has expired; session closed", err)
        self.assert_cancelled(rid, "echo held-expiring", "the requester left")


if __name__ == "__main__":
    main()
