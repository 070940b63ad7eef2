"""A reload reaches the onward connections of connections that logged in
before it: a new onward connection (a reconnect, a new channel's) is opened
only under the live configuration: the certificate and the target's access
checked, on_session asked again, and the target's live address, keys and
credential used. From an outside review of the change that made onward
connections follow the live configuration: each test is one of its holes."""
import http.server
import os
import socket
import threading
import time

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST

import sshproto
from harness import BastionTest, Env, Target, free_port, main

# web2's policy: staging lets ops in with the "deploy" credential; a target
# labelled prod is closed.
WEB2_POLICY = r"""
function on_session(s)
  if s.target.labels.env == "prod" then return deny("prod is closed") end
  return allow{ credential = "deploy" }
end
function on_command(c)
  if c.text == "probe" then return deny("probe refused") end
  return allow()
end
"""


def http_server(tag):
    """Answers every GET with TAG and which bearer token it was given (named,
    not echoed: the bastion masks held secrets in what comes back)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            auth = self.headers.get("Authorization") or ""
            token = auth.rsplit(" ", 1)[-1]
            which = {"old-token": "first", "new-token": "second"}.get(token, "no")
            body = f"{tag} {which} credential\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    s = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def hung_host():
    """Accepts TCP connections and never says a word (a host that hangs)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(s.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    return s


def exec_without_waiting(ch, command):
    """An exec request sent without waiting for its reply."""
    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(ch.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)
    m.add_string(command)
    ch.transport._send_user_message(m)


class ReloadOnwardTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        cls.prod = cls.hung = cls.old_api = cls.new_api = None
        try:
            # A second sshd: the host reloads move targets to.
            cls.prod = Target(os.path.join(env.d, "prod"), env.target_key + ".pub")
            with open(os.path.join(env.keys.d, "known_hosts"), "a") as f:
                f.write(cls.prod.known_hosts_line)
            with open(os.path.join(env.d, "web2.lua"), "w") as f:
                f.write(WEB2_POLICY)
            cls.hung = hung_host()
            cls.old_api, cls.new_api = http_server("old-host"), http_server("new-host")
            for name in ("old-token", "new-token"):
                path = os.path.join(env.keys.d, name)
                with open(path, "w") as f:
                    f.write(name + "\n")
                os.chmod(path, 0o600)
            env.start_bastion(targets=env.default_targets() + f"""
  web2 = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           labels = {{ env = "staging" }},
           credentials = {{ deploy = {{ user = "{env.user}", identity = "keys/target_key" }} }},
           policy = "web2.lua" }},
  web3 = {{ type = "ssh", host = "127.0.0.1", port = {cls.hung.getsockname()[1]}, user = "{env.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           connect_timeout = 4 }},
  api = {{ type = "http", url = "http://127.0.0.1:{cls.old_api.server_port}", bearer_file = "keys/old-token",
          allow = {{ "ops" }} }},""")
        except BaseException:
            cls.stop_servers()
            env.close()
            raise

    @classmethod
    def stop_servers(cls):
        if cls.prod:
            cls.prod.stop()
        if cls.hung:
            cls.hung.close()
        for s in (cls.old_api, cls.new_api):
            if s:
                s.shutdown()

    @classmethod
    def tearDownClass(cls):
        cls.stop_servers()
        super().tearDownClass()

    def reload_with(self, old, new):
        with open(self.env.bastion.conf) as f:
            good = f.read()
        self.assertIn(old, good)
        self.addCleanup(self.env.bastion.rewrite_config_and_reload, good)
        self.assertTrue(self.env.bastion.rewrite_config_and_reload(good.replace(old, new, 1)), "no reload")

    def move_web2_to_prod(self):
        self.reload_with(f'port = {self.env.target.port}, user = "{self.env.user}",\n'
                         '           identity = "keys/target_key", known_hosts = "keys/known_hosts", '
                         'allow = { "ops" },\n           labels = { env = "staging" }',
                         f'port = {self.prod.port}, user = "{self.env.user}",\n'
                         '           identity = "keys/target_key", known_hosts = "keys/known_hosts", '
                         'allow = { "ops" },\n           labels = { env = "prod" }')

    def login(self, target):
        t = sshproto.connect(self.env.bastion.port, target, self.env.alice)
        self.addCleanup(t.close)
        sid = self.env.audit("SELECT id FROM sessions ORDER BY rowid DESC LIMIT 1")[0][0]
        return t, sid

    def session_decisions(self, sid):
        return self.env.audit("SELECT decision, reason FROM commands WHERE session_id = ? AND kind = 'session' "
                              "ORDER BY id", (sid,))

    def test_admitted_before_a_reload_on_session_decides_again_before_the_first_connection(self):
        # Admitted under staging; the only command so far was denied, so no
        # onward connection exists when the reload moves web2 to a prod host.
        t, sid = self.login("web2")
        self.assertEqual(sshproto.run(t, "probe"), (126, b"", b"bastion: denied: probe refused\n"))
        self.move_web2_to_prod()
        self.assertEqual(sshproto.run(t, "echo $HOME"), (255, b"", b"bastion: session denied: prod is closed\n"))
        self.assertEqual(self.session_decisions(sid), [("allow", ""), ("deny", "prod is closed")])

    def test_a_lost_onward_connection_is_opened_again_only_after_a_new_decision(self):
        t, sid = self.login("web2")
        self.assertEqual(sshproto.run(t, "echo $HOME"), (0, (self.env.target.home + "\n").encode(), b""))
        # The user drops the onward connection (its sshd on the target).
        self.assertEqual(sshproto.run(t, "kill -9 $PPID", timeout=10),
                         (255, b"", b"bastion: the connection to the target was lost\n"))
        self.move_web2_to_prod()
        self.assertEqual(sshproto.run(t, "echo $HOME"), (255, b"", b"bastion: session denied: prod is closed\n"))
        self.assertEqual(self.session_decisions(sid), [("allow", ""), ("deny", "prod is closed")])

    def test_a_channel_starting_before_the_loop_rechecks_access_never_connects(self):
        # Two channels reach the bastion together; while the session thread
        # waits on the first one's connect (a hung host), a reload moves web3
        # to a live host and takes alice's access away. The second channel
        # starts in the same loop pass, before the session's own recheck.
        marker = os.path.join(self.prod.home, "ran-after-access-was-removed")
        t, _ = self.login("web3")
        x, y = t.open_session(timeout=10), t.open_session(timeout=10)
        x.settimeout(30)
        y.settimeout(30)
        exec_without_waiting(x, "echo x")
        exec_without_waiting(y, f"touch {marker}")
        time.sleep(1)
        hung = self.hung.getsockname()[1]
        self.reload_with(f'port = {hung}, user = "{self.env.user}",\n'
                         '           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = { "ops" }',
                         f'port = {self.prod.port}, user = "{self.env.user}",\n'
                         '           identity = "keys/target_key", known_hosts = "keys/known_hosts", '
                         'allow = { "nobody" }')
        self.assertEqual(sshproto.finish(x), (255, b"", f"bastion: target web3 (127.0.0.1:{hung}) unreachable: "
                                                        "Timeout connecting to 127.0.0.1\n".encode()))
        self.assertEqual(sshproto.finish(y), (255, b"", b'bastion: your access to "web3" was withdrawn\n'))
        self.assertFalse(os.path.exists(marker))

    def test_an_http_channel_after_a_reload_goes_to_the_live_url_with_the_live_token(self):
        t, _ = self.login("api")
        self.assertEqual(sshproto.run(t, "GET /who")[:2], (0, b"old-host first credential\n"))
        self.reload_with(f'127.0.0.1:{self.old_api.server_port}", bearer_file = "keys/old-token"',
                         f'127.0.0.1:{self.new_api.server_port}", bearer_file = "keys/new-token"')
        self.assertEqual(sshproto.run(t, "GET /who")[:2], (0, b"new-host second credential\n"))


if __name__ == "__main__":
    main()
