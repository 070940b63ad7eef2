"""The review loop through real clients: the requester's status line says
how many approvals are needed and when the request times out; an approver
sitting in the approvals> console sees requests they may decide as they
arrive, printed above the line they are typing, which is redrawn as typed;
a held command without a pty is cancelled by a signal (the client's Ctrl-C)
with the cancellation on stderr before the exit status; and the man page's
chat recipe (approvals.webhook_text) posts the exact body it documents to a
local HTTP server."""
import datetime
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.message import Message

import sshproto
from harness import BASTIONCTL, BastionTest, Env, main, run
from pty_driver import PtySession

POLICY = r'''
function on_command(c)
  if c.text:find("^echo held") then
    return review{ reason = "held for a test", approvers = { "oncall" }, timeout = 300 }
  end
  if c.text:find("^echo twice") then
    return review{ reason = "two people", approvers = { "oncall" }, min_approvals = 2, timeout = 300 }
  end
  if c.text:find("^echo ops") then
    return review{ reason = "for ops", approvers = { "ops" }, timeout = 300 }
  end
  return allow()
end
'''

# The recipe in bastion.conf(5), EXAMPLES: a Slack or Mattermost incoming webhook.
RECIPE = ('[{event}] #{id} {requester} on {target}: `{command}` ({reason}); '
          'decide: ssh approvals@bastion show {id}')


class RawReceiver:
    """A local HTTP server keeping each POST's exact body and content type."""

    def __init__(self):
        self.posts = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append((self.path, self.headers.get("Content-Type"), body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ReviewLoopTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        cls.hook = RawReceiver()
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        k = env.keys
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
        env.dave = issued("dave", "ops")
        env.start_bastion(extra=f'policy = "policy.lua"\n'
                          f'approvals = {{ webhook = "http://127.0.0.1:{cls.hook.port}/hook", '
                          f'webhook_text = {lua_string(RECIPE)} }}')

    @classmethod
    def tearDownClass(cls):
        cls.hook.stop()
        super().tearDownClass()

    def start(self, command):
        return subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", command],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def pending(self, text, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            rows = self.env.audit("SELECT id, expires_at FROM approval_requests WHERE command_text=? "
                                  "AND state='pending'", (text,))
            if rows:
                return rows[0]
            time.sleep(0.05)
        self.fail(f"no pending request for {text!r}")

    def deny(self, rid):
        r = self.env.ssh("approvals", ["deny", str(rid), "--reason", "done"], key=self.env.bob)
        self.assertEqual(r.returncode, 0, r.stderr)

    @staticmethod
    def utc(t):
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%SZ")

    def test_status_line_says_when_it_times_out(self):
        p = self.start("echo held-status")
        rid, expires = self.pending("echo held-status")
        self.deny(rid)
        _, err = p.communicate(timeout=30)
        self.assertRegex(err.decode(), re.escape(f"\rbastion: request #{rid} waits for approval by oncall "
                                                 f"(held for a test), ") + r"\d+s so far, " +
                         re.escape(f"times out at {self.utc(expires)}; Ctrl-C cancels it, nothing runs"))

    def test_status_line_says_how_many_approvals(self):
        p = self.start("echo twice-status")
        rid, expires = self.pending("echo twice-status")
        self.deny(rid)
        _, err = p.communicate(timeout=30)
        self.assertIn(f"bastion: request #{rid} waits for 2 approvals by oncall (two people), ", err.decode())
        self.assertIn(f"times out at {self.utc(expires)}; Ctrl-C cancels", err.decode())

    def test_approver_console_sees_new_requests_above_the_typed_line(self):
        bob = PtySession(self.env.ssh_base(self.env.bob, tty=True) + ["approvals@127.0.0.1"], 30, 200)
        dave = PtySession(self.env.ssh_base(self.env.dave, tty=True) + ["approvals@127.0.0.1"], 30, 200)
        bob.read_until(b"approvals> ")
        dave.read_until(b"approvals> ")
        bob.send(b"sho")  # typing, not finished
        bob.read_until(b"approvals> sho")
        p = self.start("echo held-arrives")
        rid, _ = self.pending("echo held-arrives")
        line = (f"bastion: new request #{rid}  pending  alice  web1 exec: echo held-arrives  (held for a test)  "
                ).encode()
        buf = bob.read_until(b"; approve %d or deny %d --reason ...\r\n\rapprovals> sho\x1b[K" % (rid, rid))
        self.assertIn(b"\r\x1b[K" + line, buf)
        # The line goes on where it was.
        bob.send(b"w %d\r" % rid)
        bob.read_until(b"exactly as it will run:\r\n  | echo held-arrives")
        # dave (ops, not oncall) is not told of it; he is told of an ops request after it.
        q = self.start("echo ops-arrives")
        qid, _ = self.pending("echo ops-arrives")
        buf = dave.read_until(b"bastion: new request #%d " % qid)
        self.assertNotIn(b"#%d " % rid, buf)
        self.assertNotIn(b"held-arrives", buf)
        for s in (bob, dave):
            s.send(b"quit\r")
            self.assertEqual(s.wait(), 0)
        self.deny(rid)
        self.deny(qid)
        for x in (p, q):
            x.communicate(timeout=30)

    def test_signal_without_pty_cancels_and_says_so_on_stderr(self):
        t = sshproto.connect(self.env.bastion.port, "web1", self.env.alice)
        try:
            ch = t.open_session()
            ch.settimeout(30)
            ch.exec_command("echo held-signal")
            rid, _ = self.pending("echo held-signal")
            m = Message()  # RFC 4254 6.9: what a client sends for Ctrl-C without a pty
            m.add_byte(cMSG_CHANNEL_REQUEST)
            m.add_int(ch.remote_chanid)
            m.add_string("signal")
            m.add_boolean(False)
            m.add_string("INT")
            t._send_user_message(m)
            status, out, err = sshproto.finish(ch)
        finally:
            t.close()
        self.assertEqual((status, out), (126, b""))
        self.assertTrue(err.endswith(b"\nbastion: request #%d cancelled; nothing was run\n" % rid), err)
        self.assertEqual(self.env.audit_eventually("SELECT state FROM approval_requests WHERE id=?",
                                                   [("cancelled",)], (rid,)), [("cancelled",)])

    def test_recipe_is_the_man_pages(self):
        man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../man/bastion.conf.5")
        with open(man) as f:
            lines = [l for l in f if l.strip().startswith("webhook_text = ")]
        self.assertEqual(lines, [f"  webhook_text = {lua_string(RECIPE)},\n"])

    def test_chat_recipe_posts_the_documented_body(self):
        text = 'echo held-chat "<!here> & more"'
        p = self.start(text)
        rid, _ = self.pending(text)
        end = time.time() + 10
        mine = []
        while time.time() < end and not mine:
            mine = [x for x in list(self.hook.posts) if b"[created] #%d " % rid in x[2]]
            time.sleep(0.05)
        self.assertEqual(len(mine), 1, self.hook.posts)
        path, ctype, body = mine[0]
        self.assertEqual((path, ctype), ("/hook", "application/json"))
        expected = ('[created] #%d alice on web1: `echo held-chat "&lt;!here&gt; &amp; more"` (held for a test); '
                    'decide: ssh approvals@bastion show %d' % (rid, rid))
        self.assertEqual(body, json.dumps({"text": expected}, separators=(",", ":")).encode())
        self.deny(rid)
        p.communicate(timeout=30)
        # The decision is posted too, by the same recipe.
        end = time.time() + 10
        while time.time() < end and not any(b"[denied] #%d " % rid in x[2] for x in list(self.hook.posts)):
            time.sleep(0.05)
        self.assertTrue(any(b"[denied] #%d " % rid in x[2] for x in list(self.hook.posts)))

if __name__ == "__main__":
    main()
