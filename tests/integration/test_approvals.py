"""Just-in-time access through real clients: held commands approved, denied,
timed out or cancelled from another connection (approvals@), four eyes,
min_approvals, one use per approval; time-boxed access requests (access@)
that approvers grant, that expire, and whose revocation ends live sessions;
bastionctl approvals; the webhook."""
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import BASTIONCTL, BastionTest, Env, main, run
from pty_driver import PtySession

POLICY = r'''
function on_command(c)
  if c.kind == "access" then  -- an access request, on the target asked for
    if c.text:find("--reason nope") then return deny("give a ticket number") end
    if c.target.name == "db1" and c.text:find("INC%-9") then return review{ approvers = { "dba-lead" } } end
    return nil
  end
  if c.text:find("^echo held") then
    return review{ reason = "held for a test", approvers = { "oncall" }, timeout = 30 }
  end
  if c.text:find("^echo twice") then
    return review{ reason = "two people", approvers = { "oncall" }, min_approvals = 2, timeout = 30 }
  end
  if c.text:find("^echo quick") then
    return review{ reason = "short", approvers = { "oncall" }, timeout = 2 }
  end
  if c.text:find("^echo grant") then
    return allow{ reason = c.grant and ("grant " .. c.grant.id .. " by " .. c.grant.approver) or "standing" }
  end
  return allow()
end
'''


class Receiver:
    """A local webhook receiver."""

    def __init__(self):
        self.events = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ApprovalsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        cls.hook = Receiver()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        k = env.keys
        # The approvers' certificates come from the bastion's own CA.
        bca = os.path.join(k.d, "bastion_ca")
        assert run([BASTIONCTL, "ca", "init", bca]).returncode == 0
        with open(os.path.join(k.d, "user_ca.pub"), "a") as f, open(bca + ".pub") as p:
            f.write(p.read())

        def issued(name, principals):
            key = k.keygen(name)
            r = run([BASTIONCTL, "cert", "issue", "--ca", bca, "--identity", name, "--principals", principals,
                     "--ttl", "1h", "--db", os.path.join(env.d, "issued.db"), key + ".pub"])
            assert r.returncode == 0, r.stderr
            return key

        env.bob = issued("bob", "ops,oncall")
        env.carol = issued("carol", "ops,oncall")
        env.dave = k.cert(k.keygen("dave"), env.ca, "dave", "ops")
        targets = env.default_targets().replace('allow = { "dba" } }', 'allow = { "dba" }, approvers = { "oncall" } }')
        env.start_bastion(targets=targets, extra=f'policy = "policy.lua"\n'
                          f'approvals = {{ request_ttl = 4, webhook = "http://127.0.0.1:{cls.hook.port}/hook" }}')

    @classmethod
    def tearDownClass(cls):
        cls.hook.stop()
        super().tearDownClass()

    def start(self, command, key=None):
        return subprocess.Popen(self.env.ssh_base(key) + ["web1@127.0.0.1", command],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def approvals(self, key, *args, target="approvals"):
        return self.env.ssh(target, list(args), key=key)

    def pending_id(self, text, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            rows = self.env.audit("SELECT id FROM approval_requests WHERE command_text=? AND state='pending' "
                                  "ORDER BY id DESC LIMIT 1", (text,))
            if rows:
                return rows[0][0]
            time.sleep(0.1)
        self.fail(f"no pending request for {text!r}")

    def finish(self, p, timeout=30):
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(), err.decode()

    def test_approve_runs_the_command_exactly_once(self):
        p = self.start("echo held-approved")
        rid = self.pending_id("echo held-approved")
        r = self.approvals(self.env.bob, "list")
        self.assertIn(f"#{rid}  pending  alice  web1 exec: echo held-approved  (held for a test)", r.stdout.decode())
        r = self.approvals(self.env.bob, "approve", str(rid), "--comment", "looks fine")
        self.assertEqual((r.returncode, r.stdout.decode()), (0, f"request #{rid} approved\n"), r.stderr)
        rc, out, err = self.finish(p)
        self.assertEqual((rc, out), (0, "held-approved\n"), err)
        self.assertIn(f"bastion: request #{rid} waits for approval by oncall (held for a test)", err)
        self.assertIn(f"bastion: request #{rid} approved by bob", err)
        self.assertEqual(self.env.audit("SELECT state FROM approval_requests WHERE id=?", (rid,)), [("used",)])
        self.assertEqual(self.env.audit("SELECT decision, policy_hook FROM commands WHERE text='echo held-approved' "
                                        "ORDER BY id"), [("review", "on_command"), ("allow", "approval")])
        # The approval is spent: deciding again is refused, and running again asks again.
        r = self.approvals(self.env.carol, "approve", str(rid))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"request #{rid} is used", r.stderr.decode())
        p = self.start("echo held-approved")
        rid2 = self.pending_id("echo held-approved")
        self.assertNotEqual(rid2, rid)
        self.approvals(self.env.carol, "deny", str(rid2), "--reason", "once is enough")
        self.assertEqual(self.finish(p)[0], 126)

    def test_deny_shows_the_reason(self):
        p = self.start("echo held-denied")
        rid = self.pending_id("echo held-denied")
        r = self.approvals(self.env.bob, "deny", str(rid))
        self.assertEqual(r.returncode, 2)  # a reason is required
        r = self.approvals(self.env.bob, "deny", str(rid), "--reason", "not during the freeze")
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out, err = self.finish(p)
        self.assertEqual((rc, out), (126, ""))
        self.assertIn(f"bastion: request #{rid} denied by bob: not during the freeze; nothing was run\n", err)

    def test_timeout(self):
        rc, out, err = self.finish(self.start("echo quick"))
        self.assertEqual(rc, 126)
        self.assertRegex(err, r"request #\d+ timed out waiting for approval; nothing was run\n$")

    def test_four_eyes_and_approvers_only(self):
        p = self.start("echo held-own", key=self.env.carol)
        rid = self.pending_id("echo held-own")
        r = self.approvals(self.env.carol, "approve", str(rid))
        self.assertEqual(r.returncode, 1)
        self.assertIn("you cannot decide your own request (four eyes)", r.stderr.decode())
        r = self.approvals(self.env.dave, "approve", str(rid))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"you are not an approver of request #{rid}", r.stderr.decode())
        self.assertNotIn(f"#{rid} ", self.approvals(self.env.dave, "list").stdout.decode())
        r = self.approvals(self.env.bob, "approve", str(rid))
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.finish(p)[:2], (0, "held-own\n"))

    def test_min_approvals_needs_two_distinct_approvers(self):
        p = self.start("echo twice-run")
        rid = self.pending_id("echo twice-run")
        r = self.approvals(self.env.bob, "approve", str(rid))
        self.assertEqual(r.stdout.decode(), f"approval recorded for request #{rid} (1 of 2)\n")
        r = self.approvals(self.env.bob, "approve", str(rid))
        self.assertIn("you already decided", r.stderr.decode())
        time.sleep(0.5)
        self.assertIsNone(p.poll())  # still waiting
        self.approvals(self.env.carol, "approve", str(rid))
        self.assertEqual(self.finish(p)[:2], (0, "twice-run\n"))

    def test_ctrl_c_cancels(self):
        argv = self.env.ssh_base(tty=True) + ["web1@127.0.0.1", "echo held-cancel"]
        s = PtySession(argv)
        s.read_until(b"waits for approval by oncall")
        rid = self.pending_id("echo held-cancel")
        s.send(b"\x03")
        s.read_until(b"cancelled; nothing was run")
        self.assertEqual(s.wait(), 126)
        self.assertEqual(self.env.audit("SELECT state FROM approval_requests WHERE id=?", (rid,)), [("cancelled",)])

    def test_bastionctl_approvals(self):
        p = self.start("echo held-admin")
        rid = self.pending_id("echo held-admin")
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "approvals", "--db", db, "show", str(rid)])
        self.assertIn("held-admin", r.stdout.decode())
        r = run([BASTIONCTL, "approvals", "--db", db, "approve", str(rid), "--comment", "change 42"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.finish(p)[:2], (0, "held-admin\n"))  # noticed by polling the store
        votes = self.env.audit("SELECT approver, comment FROM approval_votes WHERE request_id=?", (rid,))
        self.assertEqual(len(votes), 1)
        self.assertTrue(votes[0][0].startswith("admin:"), votes)
        self.assertEqual(votes[0][1], "change 42")

    def test_access_request_grant_expiry_and_revocation(self):
        # alice (ops) has no standing access to db1 (dba only).
        self.assertEqual(self.env.ssh("db1", "true").returncode, 1)
        r = self.approvals(self.env.alice, "request", "db1", "--for", "6s", "--reason", "INC-1234", target="access")
        self.assertEqual(r.returncode, 0, r.stderr)
        rid = int(re.search(r"request #(\d+) created", r.stdout.decode()).group(1))
        self.assertEqual(self.env.ssh("db1", "true").returncode, 1)  # pending: still no access
        self.assertEqual(self.approvals(self.env.alice, "approve", str(rid)).returncode, 1)  # not her own
        self.assertEqual(self.approvals(self.env.bob, "approve", str(rid)).returncode, 0)
        r = self.env.ssh("db1", "echo grant-in")
        self.assertEqual((r.returncode, r.stdout), (0, b"grant-in\n"), r.stderr)
        self.assertEqual(self.env.audit("SELECT reason FROM commands WHERE text='echo grant-in' AND kind='exec'"),
                         [(f"grant {rid} by bob",)])
        mine = self.approvals(self.env.alice, "list", target="access").stdout.decode()
        self.assertIn(f"#{rid}  approved  alice  access to db1 for 6s", mine)
        time.sleep(6.5)  # the TTL counts from approval
        self.assertEqual(self.env.ssh("db1", "true").returncode, 1)

        # Revocation ends a live session.
        r = self.approvals(self.env.alice, "request", "db1", "--for", "5m", "--reason", "INC-1235", target="access")
        rid = int(re.search(r"request #(\d+) created", r.stdout.decode()).group(1))
        self.approvals(self.env.carol, "approve", str(rid))
        p = subprocess.Popen(self.env.ssh_base() + ["db1@127.0.0.1", "sleep 30; echo never"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.5)
        r = self.approvals(self.env.bob, "revoke", str(rid))
        self.assertEqual(r.stdout.decode(), f"grant #{rid} revoked\n", r.stderr)
        rc, out, err = self.finish(p, timeout=15)
        self.assertEqual(out, "")
        self.assertIn(f"bastion: your access grant #{rid} has been revoked; session closed", err)

    def test_policy_refines_access_requests(self):
        r = self.approvals(self.env.alice, "request", "db1", "--for", "5m", "--reason", "nope", target="access")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(), "request refused by policy: give a ticket number\n")
        r = self.approvals(self.env.alice, "request", "db1", "--for", "5m", "--reason", "INC-9", target="access")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("approved by one of: dba-lead", r.stdout.decode())
        rid = int(re.search(r"request #(\d+) created", r.stdout.decode()).group(1))
        self.assertEqual(self.approvals(self.env.bob, "approve", str(rid)).returncode, 1)  # oncall may not

    def test_access_requests_are_bounded(self):
        # One pending request per target (and a few in all): nobody can bury
        # the approvers' list in requests.
        r = self.approvals(self.env.alice, "request", "db1", "--for", "5m", "--reason", "INC-77", target="access")
        rid = int(re.search(r"request #(\d+) created", r.stdout.decode()).group(1))
        r = self.approvals(self.env.alice, "request", "db1", "--for", "5m", "--reason", "INC-78", target="access")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(), f'request #{rid} for "db1" is already pending\n')
        # Not left pending for the tests after this one (request_ttl is 4 s,
        # and the suite can run through them faster than that).
        self.assertEqual(self.approvals(self.env.carol, "deny", str(rid), "--reason", "test done").returncode, 0)

    def test_pending_requests_expire(self):
        r = self.approvals(self.env.alice, "request", "db1", "--for", "1h", "--reason", "later", target="access")
        rid = int(re.search(r"request #(\d+) created", r.stdout.decode()).group(1))
        time.sleep(4.5)  # request_ttl = 4
        r = self.approvals(self.env.bob, "approve", str(rid))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"request #{rid} is expired", r.stderr.decode())

    def test_webhook_gets_events(self):
        p = self.start("echo held-hook")
        rid = self.pending_id("echo held-hook")
        self.approvals(self.env.bob, "approve", str(rid))
        self.finish(p)
        end = time.time() + 10
        while time.time() < end:
            events = [(e["event"], e["request"]["id"]) for e in self.hook.events]
            if ("approved", rid) in events:
                break
            time.sleep(0.1)
        self.assertIn(("created", rid), events)
        self.assertIn(("approved", rid), events)
        created = next(e for e in self.hook.events if e["event"] == "created" and e["request"]["id"] == rid)
        self.assertEqual(created["request"]["command"], "echo held-hook")
        self.assertEqual(created["request"]["approvers"], ["oncall"])


class DeadWebhookTest(BastionTest):
    """A webhook receiver that is not there does not slow anyone down."""

    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        env.bob = env.keys.cert(env.keys.keygen("bob"), env.ca, "bob", "ops,oncall")
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()
        env.start_bastion(extra=f'policy = "policy.lua"\napprovals = {{ webhook = "http://127.0.0.1:{dead}/" }}')

    def test_dead_receiver(self):
        t = time.time()
        p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", "echo held-dead"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.time() + 10
        rid = None
        while time.time() < end and rid is None:
            rows = self.env.audit("SELECT id FROM approval_requests WHERE state='pending'")
            rid = rows[0][0] if rows else None
            time.sleep(0.1)
        r = self.env.ssh("approvals", ["approve", str(rid)], key=self.env.bob)
        self.assertEqual(r.returncode, 0, r.stderr)
        out, _ = p.communicate(timeout=20)
        self.assertEqual(out, b"held-dead\n")
        self.assertLess(time.time() - t, 8)
        self.assertEqual(self.env.ssh("web1", "echo fast").stdout, b"fast\n")


if __name__ == "__main__":
    main()
