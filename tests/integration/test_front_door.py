"""The front door: pre-authentication limits (max_startups,
per_source_max_startups) that keep a flood of idle connections from locking
users out; identity slots given back when a login is refused after taking
one; and user input that used to reach std::sto* (and end bastiond) refused
with a clear message while the daemon keeps serving."""
import os
import socket
import sqlite3
import subprocess
import time

import paramiko

from harness import BASTIONCTL, BastionTest, Env, main, run

REFUSALS = "connections refused before authentication"


def connect_from(source, port):
    """A TCP connection to the bastion from a chosen loopback address
    (Linux routes all of 127.0.0.0/8 to lo)."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def outcome(s, timeout=5.0):
    """"banner" if bastiond started SSH on this connection, "closed" if it
    closed it; a connection left open and silent fails the read."""
    s.settimeout(timeout)
    try:
        data = s.recv(256)
    except ConnectionResetError:
        return "closed"
    if data == b"":
        return "closed"
    return "banner" if data.startswith(b"SSH-2.0-") else data


class FrontDoorTest(BastionTest):
    def hold(self, tag, key=None):
        """An authenticated session kept open; returns once it runs."""
        p = subprocess.Popen(self.env.ssh_base(key=key) + ["web1@127.0.0.1", f"echo {tag}; sleep 30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline()
        if line != f"{tag}\n".encode():
            p.kill()
            _, err = p.communicate()
            self.fail(f"session {tag} did not start: {line!r} {err!r}")
        return p

    def refusal_counts(self, expected, timeout=5.0):
        """Sums of the rate-limited refusal summaries; the last one is written
        within about a second of the last refusal."""
        end = time.time() + timeout
        while True:
            lines = [l for l in self.env.bastion.log_lines() if l.get("msg") == REFUSALS]
            counts = {k: sum(int(l[k]) for l in lines)
                      for k in ("per_source_max_startups", "max_startups", "max_sessions")}
            if counts == expected or time.time() > end:
                return counts, lines
            time.sleep(0.1)


class FloodTest(FrontDoorTest):
    bastion_options = {"limits": 'login_grace_time = 30, max_sessions = 20, '
                                 'per_source_max_startups = 5, max_startups = "10:30:40", per_source_penalties = "no"'}

    def test_flood_from_one_source_does_not_keep_others_out(self):
        port = self.env.bastion.port
        flood = [connect_from("127.0.0.2", port) for _ in range(60)]
        held = []
        try:
            # Five idle connections are let in (per source), the other 55
            # closed at once; none of them holds a session slot.
            outcomes = [outcome(s) for s in flood]
            self.assertEqual((outcomes.count("banner"), outcomes.count("closed")), (5, 55), outcomes)
            started = time.time()
            r = self.env.ssh("web1", "echo ok", timeout=20)
            self.assertEqual((r.returncode, r.stdout), (0, b"ok\n"), r.stderr)
            self.assertLess(time.time() - started, 10)
            # Authenticated sessions are not "startups": 12 at once from one
            # address is more than per_source_max_startups and max_startups'
            # start, next to the 5 idle ones, and all run.
            held = [self.hold(f"up{i}") for i in range(12)]
            self.assertEqual([p.poll() for p in held], [None] * 12)
            r = self.env.ssh("web1", "echo thirteenth", timeout=20)
            self.assertEqual((r.returncode, r.stdout), (0, b"thirteenth\n"), r.stderr)
        finally:
            for p in held:
                p.kill()
                p.wait()
            for s in flood:
                s.close()
        counts, lines = self.refusal_counts({"per_source_max_startups": 55, "max_startups": 0, "max_sessions": 0})
        self.assertEqual(counts, {"per_source_max_startups": 55, "max_startups": 0, "max_sessions": 0})
        # One summary a second, not a line per refusal.
        self.assertLessEqual(len(lines), 3, lines)
        self.assertEqual(lines[-1]["last_peer"], "127.0.0.2")
        self.assertEqual(lines[-1]["level"], "warning")


class PerSourceTest(FrontDoorTest):
    bastion_options = {"limits": 'login_grace_time = 30, per_source_max_startups = 5, max_startups = "50:30:100", '
                                 'per_source_penalties = "no"'}

    def test_sixth_idle_connection_from_one_address_is_closed(self):
        port = self.env.bastion.port
        five = [connect_from("127.0.0.2", port) for _ in range(5)]
        others = []
        try:
            self.assertEqual([outcome(s) for s in five], ["banner"] * 5)
            sixth = connect_from("127.0.0.2", port)
            others.append(sixth)
            started = time.time()
            self.assertEqual(outcome(sixth), "closed")
            self.assertLess(time.time() - started, 2)
            other = connect_from("127.0.0.3", port)
            others.append(other)
            self.assertEqual(outcome(other), "banner")
            # A slot comes back when one of the five goes (bastiond sees the
            # close in its key exchange at once).
            five.pop().close()
            end = time.time() + 5
            while True:
                again = connect_from("127.0.0.2", port)
                others.append(again)
                if outcome(again) == "banner":
                    break
                self.assertLess(time.time(), end, "the slot of a closed connection was not given back")
                time.sleep(0.1)
        finally:
            for s in five + others:
                s.close()
        counts, _ = self.refusal_counts({"per_source_max_startups": 1, "max_startups": 0, "max_sessions": 0})
        self.assertEqual(counts["max_startups"], 0)
        self.assertGreaterEqual(counts["per_source_max_startups"], 1)


class PenaltyTest(FrontDoorTest):
    """OpenSSH's PerSourcePenalties: a source whose connections keep ending
    without a login is refused at accept until its penalty runs out."""
    bastion_options = {"limits": 'login_grace_time = 30, per_source_penalties = '
                                 '"authfail:10 noauth:1 grace-exceeded:10 max:60 min:15", '
                                 'per_source_penalty_exempt = "127.0.0.1,127.0.0.6"'}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        other_ca = env.keys.keygen("other_ca")
        cls.foreign = env.keys.cert(env.keys.keygen("mallory"), other_ca, "mallory", "ops")

    def failed_login(self, source):
        sock = connect_from(source, self.env.bastion.port)
        t = paramiko.Transport(sock)
        try:
            t.connect()
            key = paramiko.Ed25519Key.from_private_key_file(self.foreign)
            key.load_certificate(self.foreign + "-cert.pub")
            with self.assertRaises(paramiko.AuthenticationException):
                t.auth_publickey("web1", key)
        finally:
            t.close()

    def wait_refused(self, source, timeout=5.0):
        end = time.time() + timeout
        while True:
            s = connect_from(source, self.env.bastion.port)
            try:
                if outcome(s) == "closed":
                    return True
            finally:
                s.close()
            if time.time() > end:
                return False
            time.sleep(0.1)

    def test_refused_credentials_put_the_source_in_the_penalty_box(self):
        self.failed_login("127.0.0.4")  # 10 s: below min
        s = connect_from("127.0.0.4", self.env.bastion.port)
        self.assertEqual(outcome(s), "banner")
        s.close()
        self.failed_login("127.0.0.4")  # 20 s (plus the noauth second): refused from now on
        self.assertTrue(self.wait_refused("127.0.0.4"))
        # Others are not affected.
        s = connect_from("127.0.0.5", self.env.bastion.port)
        self.assertEqual(outcome(s), "banner")
        s.close()
        r = self.env.ssh("web1", "echo ok")
        self.assertEqual((r.returncode, r.stdout), (0, b"ok\n"), r.stderr)
        end = time.time() + 5
        while True:
            lines = [l for l in self.env.bastion.log_lines() if l.get("msg") == REFUSALS]
            if sum(int(l["per_source_penalties"]) for l in lines) >= 1 or time.time() > end:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(sum(int(l["per_source_penalties"]) for l in lines), 1)

    def test_exempt_sources_are_never_refused(self):
        for _ in range(3):
            self.failed_login("127.0.0.6")
        time.sleep(0.5)
        s = connect_from("127.0.0.6", self.env.bastion.port)
        self.assertEqual(outcome(s), "banner")
        s.close()


class PenaltyScanTest(PenaltyTest):
    # Generous noauth seconds, so the penalty cannot decay below min while a
    # loaded machine is slow to see the connections close.
    bastion_options = {"limits": 'login_grace_time = 30, per_source_penalties = "noauth:5 max:60 min:15", '
                                 'per_source_penalty_exempt = "127.0.0.1"'}

    def test_scans_count_too(self):
        # Connections that close without trying to log in.
        for _ in range(8):
            connect_from("127.0.0.8", self.env.bastion.port).close()
        self.assertTrue(self.wait_refused("127.0.0.8", timeout=10))
        s = connect_from("127.0.0.9", self.env.bastion.port)
        self.assertEqual(outcome(s), "banner")
        s.close()

    # The inherited tests need PenaltyTest's settings.
    test_refused_credentials_put_the_source_in_the_penalty_box = None
    test_exempt_sources_are_never_refused = None


class IdentitySlotTest(FrontDoorTest):
    bastion_options = {"limits": "login_grace_time = 30, max_sessions_per_identity = 2"}

    def test_refused_login_after_the_slot_is_taken_gives_it_back(self):
        env = self.env
        # The audit store refuses the session row (a trigger fails at once,
        # unlike a lock that would wait out the store's 5 s busy timeout).
        db = sqlite3.connect(os.path.join(env.d, "data", "audit.db"))
        db.execute("CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions "
                   "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        db.commit()
        t = paramiko.Transport(("127.0.0.1", env.bastion.port))
        try:
            t.start_client(timeout=10)
            key = paramiko.Ed25519Key.from_private_key_file(env.alice)
            key.load_certificate(env.alice + "-cert.pub")
            for _ in range(2):  # twice on one connection
                with self.assertRaises(paramiko.AuthenticationException):
                    t.auth_publickey("web1", key)
            db.execute("DROP TRIGGER refuse_sessions")
            db.commit()
            self.assertEqual(env.audit("SELECT key_id, accepted, reason FROM auth_events WHERE accepted = 0"),
                             [("alice", 0, "audit store unavailable")] * 2)
            # Both slots of alice's two are free while that connection is
            # still open.
            held = [self.hold("one"), self.hold("two")]
            for p in held:
                p.kill()
                p.wait()
        finally:
            t.close()
            db.close()


class NumberInputTest(FrontDoorTest):
    def assert_still_serving(self):
        self.assertIsNone(self.env.bastion.proc.poll(), "bastiond exited")
        r = self.env.ssh("web1", "echo ok")
        self.assertEqual((r.returncode, r.stdout), (0, b"ok\n"), r.stderr)

    def test_huge_request_number(self):
        r = self.env.ssh("approvals", ["approve", "99999999999999999999999"])
        self.assertEqual((r.returncode, r.stdout, r.stderr.decode()),
                         (2, b"", '"99999999999999999999999" is not a request number: '
                                  'out of range (1..9223372036854775807)\n'))
        r = self.env.ssh("approvals", ["show", "12x"])
        self.assertEqual((r.returncode, r.stderr.decode()), (2, '"12x" is not a request number: not a number\n'))
        self.assert_still_serving()

    def test_huge_duration(self):
        r = self.env.ssh("access", ["request", "web1", "--for", "99999999999999999999m", "--reason", "x"])
        self.assertEqual((r.returncode, r.stdout, r.stderr.decode()),
                         (2, b"", '--for "99999999999999999999m": not a duration (e.g. 30m, 2h)\n'))
        self.assert_still_serving()

    def test_bastionctl_numbers(self):
        db = os.path.join(self.env.d, "data", "audit.db")
        r = run([BASTIONCTL, "audit", "sessions", "--db", db, "--limit", "99999999999999999999"])
        self.assertEqual((r.returncode, r.stdout, r.stderr.decode()),
                         (2, b"", "bastionctl: --limit 99999999999999999999: out of range (1..1000000)\n"))
        r = run([BASTIONCTL, "audit", "sessions", "--db", db, "--limit", "ten"])
        self.assertEqual((r.returncode, r.stderr.decode()), (2, "bastionctl: --limit ten: not a number\n"))
        r = run([BASTIONCTL, "recording", "play", "--speed", "fast", "x.cast"])
        self.assertEqual((r.returncode, r.stdout, r.stderr.decode()),
                         (2, b"", "bastionctl: --speed fast: not a number\n"))
        r = run([BASTIONCTL, "recording", "play", "--speed", "1e400", "x.cast"])
        self.assertEqual((r.returncode, r.stderr.decode()), (2, "bastionctl: --speed 1e400: not a number\n"))


class SessionThreadErrorTest(FrontDoorTest):
    """std::filesystem::temp_directory_path() threw on a session thread when
    TMPDIR is not a folder (a kubectl session makes its HOME there), and the
    exception ended bastiond for every user."""

    @classmethod
    def setUpClass(cls):
        cls.env = env = Env()
        with open(os.path.join(env.keys.d, "kubeconfig"), "w") as f:
            f.write("apiVersion: v1\nkind: Config\n")
        os.chmod(os.path.join(env.keys.d, "kubeconfig"), 0o600)  # a held credential
        targets = env.default_targets() + """
  k8s = { type = "kubectl", kubeconfig = "keys/kubeconfig", allow = { "ops" }, kubectl = "/bin/true" },"""
        saved = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = "/dev/null"
        try:
            env.start_bastion(targets=targets)
        finally:
            if saved is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = saved

    def test_kubectl_without_a_temporary_folder(self):
        r = self.env.ssh("k8s", "get pods")
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"cannot find a temporary folder for kubectl: Not a directory", r.stderr)
        self.assertIsNone(self.env.bastion.proc.poll(), "bastiond exited")
        r = self.env.ssh("web1", "echo ok")
        self.assertEqual((r.returncode, r.stdout), (0, b"ok\n"), r.stderr)


if __name__ == "__main__":
    main()
