"""Session limits and daemon lifecycle: certificate expiry, idle timeout,
reload, shutdown, login grace, crash safety of recordings, size caps."""
import json
import os
import signal
import socket
import subprocess
import time

from harness import BastionTest, Env, main, run, BASTIONCTL


def recording_events(path):
    with open(path) as f:
        return [json.loads(l) for l in f]


class ExpiryTest(BastionTest):
    def test_certificate_expiry_ends_session(self):
        key = self.env.keys.cert(self.env.keys.keygen("shortlived"), self.env.ca, "bob", "ops",
                                 validity="-1m:+4s")
        t0 = time.time()
        r = self.env.ssh("web1", "sleep 30; echo survived", key=key, timeout=40)
        elapsed = time.time() - t0
        self.assertLess(elapsed, 15)
        self.assertEqual(r.returncode, 255)
        self.assertNotIn(b"survived", r.stdout)
        self.assertIn(b"bastion: your certificate expires in ", r.stderr)
        self.assertIn(b"bastion: your certificate has expired; session closed\n", r.stderr)
        rows = self.env.audit_eventually("SELECT end_reason FROM sessions WHERE identity='bob'",
                                         [("certificate expired",)])
        self.assertEqual(rows, [("certificate expired",)])


class IdleTest(BastionTest):
    bastion_options = {"limits": "login_grace_time = 5, idle_timeout = 3"}

    def test_idle_session_closed(self):
        r = self.env.ssh("web1", "sleep 20", timeout=30)
        self.assertEqual(r.returncode, 255)
        self.assertEqual(r.stderr, b"bastion: idle timeout; session closed\n")

    def test_active_session_not_idle(self):
        # Output every half second keeps a 3-second idle timer from firing
        # over a 4-second command.
        r = self.env.ssh("web1", "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.5; done", timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, b"1\n2\n3\n4\n5\n6\n7\n8\n"), r.stderr)


class ReloadShutdownTest(BastionTest):
    def test_reload_refuses_broken_config_then_accepts_good(self):
        b = self.env.bastion
        with open(b.conf) as f:
            good = f.read()
        # A session open across both reloads keeps working.
        p = subprocess.Popen(self.env.ssh_base() + ["web1@127.0.0.1", "sleep 3; echo still-here"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        with open(b.conf, "w") as f:
            f.write(good.replace("targets = {", "targets = {{ broken", 1))
        b.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        refused = [l for l in b.log_lines() if l.get("msg") == "reload refused; keeping the running config"]
        self.assertEqual(len(refused), 1)
        self.assertIn("bastion.conf:", refused[0]["error"])
        self.assertEqual(self.env.ssh("web1", "echo ok").stdout, b"ok\n")

        with open(b.conf, "w") as f:
            f.write(good.replace("targets = {", "targets = {\n  web2 = { type = \"ssh\", host = \"127.0.0.1\", "
                                 f"port = {self.env.target.port}, user = \"{self.env.user}\", "
                                 "identity = \"keys/target_key\", known_hosts = \"keys/known_hosts\", "
                                 "allow = { \"ops\" } },", 1))
        b.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertEqual(self.env.ssh("web2", "echo two").stdout, b"two\n")
        out, _ = p.communicate(timeout=20)
        self.assertEqual(out, b"still-here\n")
        with open(b.conf, "w") as f:
            f.write(good)

    def test_sigterm_tells_sessions_and_closes_recordings(self):
        env = Env()
        try:
            env.start_bastion()
            p = subprocess.Popen(env.ssh_base() + ["web1@127.0.0.1", "echo started; sleep 30"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(1.0)
            env.bastion.proc.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=20)
            self.assertEqual(out, b"started\n")
            self.assertEqual(err, b"bastion: the bastion is shutting down; session closed\n")
            self.assertEqual(p.returncode, 255)
            self.assertEqual(env.bastion.proc.wait(timeout=20), 0)
            path = env.audit("SELECT recording FROM commands WHERE text LIKE 'echo started%'")[0][0]
            events = recording_events(path)
            self.assertIn("started\r\n", [e[2] for e in events[1:] if e[1] == "o"])
            self.assertEqual(env.audit("SELECT end_reason FROM sessions"), [("server shutdown",)])
        finally:
            env.close()

    def test_login_grace_time_cuts_silent_client(self):
        t0 = time.time()
        with socket.create_connection(("127.0.0.1", self.env.bastion.port), timeout=15) as s:
            s.settimeout(15)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"SSH-2.0-"))
        self.assertLess(time.time() - t0, 10)  # login_grace_time = 5 in the harness

    def test_kill_9_leaves_valid_recording(self):
        env = Env()
        try:
            env.start_bastion()
            p = subprocess.Popen(env.ssh_base() + ["web1@127.0.0.1",
                                 "for i in $(seq 1 100); do echo line$i; sleep 0.02; done"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(1.2)
            env.bastion.proc.send_signal(signal.SIGKILL)
            env.bastion.proc.wait()
            p.communicate(timeout=20)
            path = env.audit("SELECT recording FROM commands WHERE kind = 'exec'")[0][0]
            with open(path) as f:
                lines = f.read().splitlines()
            self.assertGreater(len(lines), 2)
            for line in lines:
                json.loads(line)  # every line is whole
            r = run([BASTIONCTL, "recording", "verify", path])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"line1\n", run([BASTIONCTL, "recording", "cat", "--raw", path]).stdout)
        finally:
            env.close()


class SessionLimitTest(BastionTest):
    bastion_options = {"limits": "login_grace_time = 5, max_sessions = 3, max_sessions_per_identity = 2"}

    def hold(self, key=None):
        p = subprocess.Popen(self.env.ssh_base(key=key) + ["web1@127.0.0.1", "echo up; sleep 5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"up\n")
        return p

    def test_per_identity_and_global_limits(self):
        held = [self.hold(), self.hold()]  # alice at her limit of 2
        try:
            r = self.env.ssh("web1", "echo third")
            self.assertEqual(r.returncode, 255)
            self.assertIn(b"Permission denied", r.stderr)
            reasons = [l.get("reason") for l in self.env.bastion.log_lines() if l.get("msg") == "authentication refused"]
            self.assertIn("too many sessions for this identity", reasons)
            # Another identity still gets in, up to max_sessions = 3 sessions.
            bob = self.env.keys.cert(self.env.keys.keygen("limit_bob"), self.env.ca, "bob", "ops")
            held.append(self.hold(key=bob))
            r = self.env.ssh("web1", "echo fourth", key=bob)
            self.assertEqual(r.returncode, 255)
            self.assertTrue(any(l.get("msg") == "connections refused before authentication" and
                                l.get("max_sessions") == "1" for l in self.env.bastion.log_lines()))
        finally:
            for p in held:
                p.kill()
                p.wait()
        # Slots are released when sessions end.
        end = time.time() + 10
        while time.time() < end:
            r = self.env.ssh("web1", "echo again")
            if r.returncode == 0:
                break
            time.sleep(0.2)
        self.assertEqual(r.stdout, b"again\n")


class RecordingCapTest(BastionTest):
    bastion_options = {"limits": "login_grace_time = 5, recording_max_bytes = 4096"}

    def test_cap_ends_session(self):
        r = self.env.ssh("web1", "seq 1 200000", timeout=30)
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"bastion: recording size cap reached; session closed\n", r.stderr)
        # Cut well before the end (all of it is 1288895 bytes); how much got out
        # first depends on the machine's load (seen 217088 under ASan with a
        # busy neighbour), so the margin is generous.
        self.assertLess(len(r.stdout), 600000)
        path, state = self.env.audit("SELECT recording, recording_state FROM commands WHERE kind = 'exec'")[0]
        self.assertEqual(state, "capped")
        self.assertLessEqual(os.path.getsize(path), 4096)
        events = recording_events(path)
        self.assertEqual(events[-1][1:], ["m", "recording size cap reached"])


class RecordingCapContinueTest(BastionTest):
    bastion_options = {"extra": 'on_recording_failure = "continue"',
                       "limits": "login_grace_time = 5, recording_max_bytes = 4096"}

    def test_cap_continues_unrecorded_and_audited(self):
        r = self.env.ssh("web1", "seq 1 20000", timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "".join(f"{i}\n" for i in range(1, 20001)).encode())
        self.assertEqual(self.env.audit("SELECT recording_state FROM commands WHERE kind = 'exec'"), [("capped",)])


if __name__ == "__main__":
    main()
