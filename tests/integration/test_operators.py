"""Operators see inside: Prometheus metrics scraped over HTTP and parsed,
`bastionctl status` and `bastionctl reload` through the control socket, the
pid file, and systemd's notify protocol on a socket the test binds."""
import fcntl
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

from harness import BASTIOND, BASTIONCTL, BastionTest, Env, free_port, main, run

POLICY = r'''
function on_command(c)
  if c.text:find("rm ", 1, true) == 1 then return deny("rm is not allowed here") end
  if c.text:find("sudo ", 1, true) == 1 then
    return review{ reason = "sudo needs a second person", approvers = { "oncall" }, timeout = 60 }
  end
  return allow()
end
'''

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}; asserts every line is well formed."""
    out, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, f"malformed sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out, types


class Scraper:
    def __init__(self, port):
        self.port = port

    def request(self, method, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            c.close()

    def scrape(self):
        status, ctype, body = self.request("GET", "/metrics")
        assert status == 200, status
        return parse_metrics(body.decode())[0]


def value(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


def notify_listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(15)
    return s


class MetricsTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        with open(os.path.join(env.d, "ops.lua"), "w") as f:
            f.write(POLICY)
        cls.metrics_port = free_port()
        env.start_bastion(extra=f'policy = "ops.lua"\nmetrics_listen = "127.0.0.1:{cls.metrics_port}"')
        cls.m = Scraper(cls.metrics_port)

    def test_exposition_format_and_routes(self):
        status, ctype, body = self.m.request("GET", "/metrics")
        self.assertEqual((status, ctype), (200, "text/plain; version=0.0.4; charset=utf-8"))
        samples, types = parse_metrics(body.decode())
        self.assertEqual(types["bastion_sessions_active"], "gauge")
        self.assertEqual(types["bastion_decisions_total"], "counter")
        self.assertEqual(types["bastion_upstream_connect_seconds"], "histogram")
        self.assertEqual(types["bastion_policy_decision_seconds"], "histogram")
        self.assertEqual(types["bastion_approvals_pending"], "gauge")
        version = run([BASTIOND, "--version"]).stdout.decode().split()[1]
        self.assertEqual(value(samples, "bastion_build_info", version=version), 1)
        self.assertEqual(value(samples, "bastion_approvals_pending"), 0)
        for verdict in ("allow", "deny", "review", "mask", "invalid"):
            self.assertIsNotNone(value(samples, "bastion_decisions_total", verdict=verdict))
        for kind in ("ssh", "postgres", "kubectl", "approvals", "access", "audit", "other"):
            self.assertIsNotNone(value(samples, "bastion_sessions_active", kind=kind), kind)
        # Nothing the bastion serves names a user or a target.
        self.assertNotIn(b"alice", body)
        self.assertNotIn(b"web1", body)
        status, _, body = self.m.request("HEAD", "/metrics")
        self.assertEqual((status, body), (200, b""))
        for method, path in (("GET", "/"), ("GET", "/metrics/x"), ("POST", "/metrics")):
            self.assertEqual(self.m.request(method, path)[0], 404, (method, path))

    def quiet_scrape(self):
        """A scrape once no session is live: a previous test's session that is
        still ending (a killed client, a cancelled review) counts nothing after it."""
        end = time.time() + 15
        while True:
            m = self.m.scrape()
            if sum(v for (name, _), v in m.items() if name == "bastion_sessions_active") == 0:
                return m
            self.assertLess(time.time(), end, "a previous test's session never ended")
            time.sleep(0.05)

    def test_values_follow_a_session(self):
        before = self.quiet_scrape()
        p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", "echo started; sleep 3; echo done"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"started\n")
        during = self.m.scrape()
        self.assertEqual(value(during, "bastion_sessions_active", kind="ssh"),
                         value(before, "bastion_sessions_active", kind="ssh") + 1)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, out), (0, b"done\n"), err)
        # The gauge drops when the session is gone, after its channel's counts.
        end = time.time() + 10
        while True:
            after = self.m.scrape()
            if value(after, "bastion_sessions_active", kind="ssh") == value(before, "bastion_sessions_active", kind="ssh"):
                break
            self.assertLess(time.time(), end, "the session stayed counted as active")
            time.sleep(0.05)
        d = lambda name, **l: value(after, name, **l) - value(before, name, **l)
        # The session's decision and the exec channel's.
        self.assertEqual(d("bastion_decisions_total", verdict="allow"), 2)
        self.assertEqual(d("bastion_policy_decision_seconds_count"), 2)
        self.assertEqual(d("bastion_upstream_connect_seconds_count", kind="ssh"), 1)
        self.assertEqual(d("bastion_upstream_connect_seconds_bucket", kind="ssh", le="+Inf"), 1)
        path = self.env.audit("SELECT recording FROM commands WHERE text='echo started; sleep 3; echo done'")[0][0]
        self.assertEqual(d("bastion_recording_bytes_total"), os.path.getsize(path))
        self.assertEqual(d("bastion_recording_failures_total"), 0)

    def test_deny_counts(self):
        before = self.quiet_scrape()
        r = self.env.ssh("web1", "rm -rf /tmp/nothing-here")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"rm is not allowed here", r.stderr)
        self.env.audit_eventually("SELECT decision FROM commands WHERE text='rm -rf /tmp/nothing-here'", [("deny",)])
        after = self.m.scrape()
        self.assertEqual(value(after, "bastion_decisions_total", verdict="deny")
                         - value(before, "bastion_decisions_total", verdict="deny"), 1)

    def test_held_command_is_a_pending_approval(self):
        before = self.m.scrape()
        self.assertEqual(value(before, "bastion_approvals_pending"), 0)
        p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", "sudo true"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            end = time.time() + 15
            while value(self.m.scrape(), "bastion_approvals_pending") != 1:
                self.assertLess(time.time(), end, "the held command never showed as pending")
                time.sleep(0.05)
        finally:
            p.kill()
            p.communicate(timeout=30)
        end = time.time() + 15
        while value(self.m.scrape(), "bastion_approvals_pending") != 0:
            self.assertLess(time.time(), end, "the cancelled request stayed pending")
            time.sleep(0.05)
        after = self.m.scrape()
        self.assertEqual(value(after, "bastion_decisions_total", verdict="review")
                         - value(before, "bastion_decisions_total", verdict="review"), 1)

    def test_failed_logins_count_by_reason(self):
        before = self.m.scrape()
        expired = self.env.keys.cert(self.env.keys.keygen("old"), self.env.ca, "carol", "ops", validity="-2h:-1h")
        other_ca = self.env.keys.keygen("other_ca")
        stranger = self.env.keys.cert(self.env.keys.keygen("stranger"), other_ca, "mallory", "ops")
        for key in (expired, stranger):
            r = self.env.ssh("web1", "true", key=key)
            self.assertEqual(r.returncode, 255)
        self.env.audit_eventually("SELECT COUNT(*) FROM auth_events WHERE reason LIKE 'certificate signed by untrusted CA%'",
                                  [(1,)])
        after = self.m.scrape()
        d = lambda reason: (value(after, "bastion_auth_failures_total", reason=reason)
                            - value(before, "bastion_auth_failures_total", reason=reason))
        self.assertEqual((d("expired"), d("untrusted_ca"), d("bad_signature")), (1, 1, 0))


def bastionctl(*args, timeout=30):
    return run([BASTIONCTL, *args], timeout=timeout)


class ControlTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        cls.metrics_port = free_port()
        cls.notify_path = os.path.join(env.d, "notify.sock")
        cls.notify = notify_listener(cls.notify_path)
        os.environ["NOTIFY_SOCKET"] = cls.notify_path
        try:
            os.makedirs(os.path.join(env.d, "run"))
            env.start_bastion(extra=f'metrics_listen = "127.0.0.1:{cls.metrics_port}"\npid_file = "run/bastiond.pid"')
        finally:
            del os.environ["NOTIFY_SOCKET"]
        cls.m = Scraper(cls.metrics_port)
        cls.conf = env.bastion.conf
        cls.sock = os.path.join(env.d, "data", "bastiond.sock")

    @classmethod
    def tearDownClass(cls):
        cls.notify.close()
        super().tearDownClass()

    def next_notification(self):
        return self.notify.recv(4096).decode()

    def test_1_ready_then_status(self):
        b = self.env.bastion
        self.assertEqual(self.next_notification(), f"READY=1\nSTATUS=listening on 127.0.0.1:{b.port}, 3 targets")
        st = os.stat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o600, os.getuid()))
        with open(os.path.join(self.env.d, "run", "bastiond.pid")) as f:
            self.assertEqual(f.read(), f"{b.proc.pid}\n")

        p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", "echo started; sleep 3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"started\n")
        r = bastionctl("status", "--config", self.conf, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["pid"], b.proc.pid)
        self.assertEqual(j["version"], run([BASTIOND, "--version"]).stdout.decode().split()[1])
        self.assertGreaterEqual(j["uptime_seconds"], 0)
        self.assertEqual(j["config"]["path"], self.conf)
        self.assertEqual(j["config"]["generation"], 1)
        with open(self.conf, "rb") as f:
            self.assertEqual(j["config"]["sha256"], hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(j["config"]["policy_sha256"], "")
        self.assertIsNone(j["last_reload"])
        self.assertEqual(j["sessions_by_kind"], {"ssh": 1})
        [s] = j["sessions"]
        self.assertEqual((s["identity"], s["target"], s["kind"], s["source_address"]),
                         ("alice", "web1", "ssh", "127.0.0.1"))
        sid = self.env.audit("SELECT id FROM sessions WHERE ended_at IS NULL")[0][0]
        self.assertEqual(s["id"], sid)
        # The same through --socket, for people.
        r = bastionctl("status", "--socket", self.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertRegex(lines[0], rf"^bastiond \S+, pid {b.proc.pid}, up \d+s \(since \S+Z\)$")
        self.assertEqual(lines[3], "last reload: none")
        self.assertEqual(lines[4], "sessions: 1 (ssh 1)")
        self.assertRegex(lines[5], rf"^  {sid}  alice -> web1 \(ssh\) from 127\.0\.0\.1 since \S+Z$")
        p.communicate(timeout=30)

    def test_2_reload_ok_and_refused(self):
        before = self.m.scrape()
        with open(self.conf) as f:
            good = f.read()
        with open(self.conf, "a") as f:
            f.write("-- a comment changes the hash\n")
        r = bastionctl("reload", "--config", self.conf)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"reload: ok, config generation 2\n", b""))
        self.assertEqual(self.next_notification().split("\n")[0::2], ["RELOADING=1", "STATUS=reloading the config"])
        self.assertEqual(self.next_notification(), "READY=1\nSTATUS=config reloaded, generation 2")
        j = json.loads(bastionctl("status", "--config", self.conf, "--json").stdout)
        self.assertEqual((j["last_reload"]["result"], j["last_reload"]["trigger"], j["last_reload"]["error"]),
                         ("ok", "control socket", ""))
        self.assertEqual(j["config"]["generation"], 2)

        broken = good.replace(f'metrics_listen = "127.0.0.1:{self.metrics_port}"', 'metrics_listen = "0.0.0.0:9100"')
        with open(self.conf, "w") as f:
            f.write(broken)
        line = broken.splitlines().index('metrics_listen = "0.0.0.0:9100"') + 1
        expected_error = (f'{self.conf}:{line}: metrics_listen: "0.0.0.0" is not a loopback address; metrics need '
                          'no login, so listening beyond this host needs metrics_allow_remote = true')
        # bastionctl cannot read the socket's path from a config that does not load...
        r = bastionctl("reload", "--config", self.conf)
        self.assertEqual((r.returncode, r.stdout.decode()),
                         (1, f"reload: refused: {expected_error}\nbastionctl did not ask bastiond: the config does "
                             "not load, so bastiond keeps its running config\n"))
        # ... and bastiond, asked, refuses it and says what it runs.
        r = bastionctl("reload", "--socket", self.sock)
        self.assertEqual((r.returncode, r.stdout.decode()),
                         (1, f"reload: refused: {expected_error}\nbastiond keeps running config generation 2\n"))
        self.assertEqual(self.next_notification().split("\n")[0], "RELOADING=1")
        self.assertEqual(self.next_notification(),
                         f"READY=1\nSTATUS=reload refused, running generation 2: {expected_error}")
        j = json.loads(bastionctl("status", "--socket", self.sock, "--json").stdout)
        self.assertEqual((j["last_reload"]["result"], j["last_reload"]["error"], j["config"]["generation"]),
                         ("error", expected_error, 2))
        # SIGHUP takes the same path.
        with open(self.conf, "w") as f:
            f.write(good)
        self.env.bastion.proc.send_signal(signal.SIGHUP)
        self.assertEqual(self.next_notification().split("\n")[0], "RELOADING=1")
        self.assertEqual(self.next_notification(), "READY=1\nSTATUS=config reloaded, generation 3")
        j = json.loads(bastionctl("status", "--socket", self.sock, "--json").stdout)
        self.assertEqual((j["last_reload"]["trigger"], j["config"]["generation"]), ("SIGHUP", 3))
        after = self.m.scrape()
        self.assertEqual(value(after, "bastion_config_reload_total", result="ok")
                         - value(before, "bastion_config_reload_total", result="ok"), 2)
        self.assertEqual(value(after, "bastion_config_reload_total", result="error")
                         - value(before, "bastion_config_reload_total", result="error"), 1)
        r = self.env.ssh("web1", "echo still serving")
        self.assertEqual((r.returncode, r.stdout), (0, b"still serving\n"))

    def test_3_other_users_are_refused(self):
        # The mode keeps them out; with it opened up, the peer check still does.
        os.chmod(self.sock, 0o666)
        try:
            # It sends its request the way bastionctl does, once bastiond could have answered
            # (up to half a second): the refusal is still read, not a connection reset.
            code = ("import select,socket;s=socket.socket(socket.AF_UNIX);s.connect(%r);"
                    "select.select([s],[],[],0.5);s.sendall(b'status\\n');"
                    "print(s.recv(4096).decode(),end='')" % self.sock)
            r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", code])
            self.assertEqual(r.stdout, b'{"error":"permission denied"}\n', r.stderr)
        finally:
            os.chmod(self.sock, 0o600)
        r = bastionctl("bogus-status", "--socket", self.sock)
        self.assertEqual(r.returncode, 2)
        r = bastionctl("status", "--sockett", self.sock)
        self.assertEqual((r.returncode, r.stderr.splitlines()[0]), (2, b"bastionctl status: unknown option: --sockett"))
        r = bastionctl("status", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith(b"usage: bastionctl status [--config FILE | --socket PATH | --pid PID] [--json]\n"))

    def test_4_stop_notifies_and_cleans_up(self):
        b = self.env.bastion
        b.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.next_notification(), "STOPPING=1\nSTATUS=shutting down")
        self.assertEqual(b.proc.wait(timeout=20), 0)
        self.assertFalse(os.path.exists(os.path.join(self.env.d, "run", "bastiond.pid")))
        self.assertFalse(os.path.exists(self.sock))
        r = bastionctl("status", "--socket", self.sock)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith(f"bastionctl status: cannot connect to {self.sock}: No such file".encode()))


class StartupRefusalTest(BastionTest):
    """What keeps a second bastiond (or a bad listener) from starting."""

    def config_with(self, extra):
        with open(self.env.bastion.conf) as f:
            text = f.read()
        path = os.path.join(self.env.d, "second.conf")
        with open(path, "w") as f:
            text = text.replace('listen = "127.0.0.1:', f'listen = "127.0.0.1:{free_port()}" --', 1)
            # The keys `extra` sets replace the running config's (a key set twice is an error).
            for line in extra.splitlines():
                key = line.split("=")[0].strip()
                text = re.sub(rf"^{re.escape(key)}\s*=.*$", "", text, flags=re.M)
            f.write(text + extra + "\n")
        return path

    def start_second(self, conf):
        return subprocess.run([BASTIOND, "--config", conf], capture_output=True, timeout=30)

    def test_pid_file_locked_by_a_live_process(self):
        # What a running bastiond looks like: its pid in the file, and the file locked.
        pid_path = os.path.join(self.env.d, "other.pid")
        with open(pid_path, "w") as f:
            f.write(f"{os.getpid()}\n")
            f.flush()
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            conf = self.config_with(f'pid_file = "other.pid"\ndata_dir = "data2"\ncontrol_socket = ""')
            r = self.start_second(conf)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"pid file {pid_path} is locked by a running bastiond (pid {os.getpid()}): stop it "
                          "first, or give this one another pid_file", r.stdout.decode() + r.stderr.decode())
        with open(pid_path) as f:
            self.assertEqual(f.read(), f"{os.getpid()}\n")

    def test_control_socket_in_use(self):
        conf = self.config_with("")  # same data_dir, so the same control socket
        r = self.start_second(conf)
        self.assertEqual(r.returncode, 1)
        sock = os.path.join(self.env.d, "data", "bastiond.sock")
        self.assertIn(f"control socket {sock} answers: is another bastiond running with this data_dir?",
                      r.stdout.decode() + r.stderr.decode())
        self.assertEqual(bastionctl("status", "--socket", sock).returncode, 0)

    def test_a_listener_port_in_use_refuses_the_start_promptly(self):
        # Was a hang: a listener whose bind failed waited forever for a
        # listening thread that never started.
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            for key in ("metrics_listen", "web_listen"):
                conf = self.config_with(f'{key} = "127.0.0.1:{port}"\ndata_dir = "data-{key}"\ncontrol_socket = ""')
                r = self.start_second(conf)
                out = r.stdout.decode() + r.stderr.decode()
                self.assertEqual(r.returncode, 1, out)
                self.assertIn(f"{key.split('_')[0]}: cannot listen on 127.0.0.1:{port}", out)
        finally:
            busy.close()

    def test_metrics_beyond_loopback_needs_consent(self):
        conf = self.config_with('metrics_listen = "0.0.0.0:9100"')
        r = run([BASTIOND, "--check", "--config", conf])
        self.assertEqual(r.returncode, 1)
        with open(conf) as f:
            line = len(f.read().splitlines())
        self.assertEqual(r.stderr.decode(), f'bastiond: {conf}:{line}: metrics_listen: "0.0.0.0" is not a loopback '
                         'address; metrics need no login, so listening beyond this host needs '
                         'metrics_allow_remote = true\n')
        conf = self.config_with('metrics_listen = "0.0.0.0:9100"\nmetrics_allow_remote = true')
        self.assertEqual(run([BASTIOND, "--check", "--config", conf]).returncode, 0)


if __name__ == "__main__":
    main()
