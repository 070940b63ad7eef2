"""Regress harness: a real OpenSSH sshd as the target, a real bastiond, real
ssh/scp/sftp clients, all on free loopback ports in a temporary folder.

Like OpenSSH's regress/test-exec.sh: certificates are minted with
`ssh-keygen -s` per test, and the bastion's log is printed when a test fails.
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("BASTION_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
BASTIOND = os.path.abspath(os.path.join(BUILD, "bastion/bastiond"))
BASTIONCTL = os.path.abspath(os.path.join(BUILD, "bastion/bastionctl"))
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sanitized():
    """True when bastiond is a sanitizer build: ASan's allocator keeps freed
    memory in quarantine and TSan's allocations carry shadow memory, so
    memory bounds are not measurable there."""
    with open(BASTIOND, "rb") as f:
        data = f.read()
    return any(m in data for m in (b"AddressSanitizer", b"__asan_init", b"ThreadSanitizer", b"__tsan_init"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    """Waits until PORT accepts; gives up early when PROC (the server) exits."""
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server for port {port} exited ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


def stop_process(p, timeout=10):
    """Ends a helper process (an ssh -N tunnel, a kubectl): SIGTERM, then
    SIGKILL if it has not exited within `timeout` seconds."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(cmd, **kw)


class Keys:
    """Key material for one environment."""

    def __init__(self, d):
        self.d = d
        os.makedirs(d, exist_ok=True)

    def keygen(self, name, kind="ed25519", bits=None):
        path = os.path.join(self.d, name)
        if not os.path.exists(path):
            cmd = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", path]
            if bits:
                cmd += ["-b", str(bits)]
            run(cmd, check=True)
        return path

    def cert(self, key, ca, identity="alice", principals="ops", validity="-5m:+15m",
             options=(), serial=None, host=False, sig_alg=None):
        """Signs key.pub with ca; returns the private key path (cert beside it)."""
        cmd = ["ssh-keygen", "-q", "-s", ca, "-I", identity, "-V", validity]
        if principals is not None:
            cmd += ["-n", principals]
        if serial is not None:
            cmd += ["-z", str(serial)]
        if host:
            cmd += ["-h"]
        if sig_alg:
            cmd += ["-t", sig_alg]
        for o in options:
            cmd += ["-O", o]
        run(cmd + [key + ".pub"], check=True)
        return key


class Target:
    """A real sshd that trusts only the bastion's target key."""

    def __init__(self, d, authorized_pub=None, trusted_ca_pub=None):
        self.d = d
        os.makedirs(d, exist_ok=True)
        self.port = free_port()
        self.host_key = os.path.join(d, "sshd_host_key")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.host_key], check=True)
        keys_line = f"AuthorizedKeysFile {d}/authorized_keys"
        if authorized_pub:
            shutil.copy(authorized_pub, os.path.join(d, "authorized_keys"))
            os.chmod(os.path.join(d, "authorized_keys"), 0o600)
        if trusted_ca_pub:
            # Trust certificates from this CA only (the bastion holds a key + cert).
            keys_line = f"AuthorizedKeysFile none\nTrustedUserCAKeys {trusted_ca_pub}"
        self.config = os.path.join(d, "sshd_config")
        # An empty HOME for target sessions: the machine's own shell start-up
        # files (root's .bashrc runs pyenv-rehash here, which serialises on a
        # lock) must not be what a test or benchmark measures.
        self.home = os.path.join(d, "home")
        os.makedirs(self.home, exist_ok=True)
        with open(self.config, "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
{keys_line}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {d}/sshd.pid
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
PrintMotd no
PrintLastLog no
MaxStartups 1000
MaxSessions 100
SetEnv HOME={self.home}
""")
        os.makedirs("/run/sshd", exist_ok=True)
        self.log = os.path.join(d, "sshd.log")
        # Not on the test's stdout: a leftover sshd holding ctest's pipe makes
        # ctest wait forever.
        with open(self.log + ".out", "ab") as out:
            self.proc = subprocess.Popen([SSHD, "-D", "-f", self.config, "-E", self.log],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        wait_port(self.port)
        with open(self.host_key + ".pub") as f:
            self.known_hosts_line = f"[127.0.0.1]:{self.port} {f.read().strip()}\n"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Bastion:
    """A bastiond with a generated config; restartable with changes."""

    def __init__(self, env, extra="", targets=None, limits="login_grace_time = 5", binary=None, name="bastion"):
        self.env = env
        # What it was started with: env.start_bastion(**b.kw) starts it again.
        self.kw = dict(extra=extra, targets=targets, limits=limits, binary=binary, name=name)
        self.port = free_port()
        # `name`: several instances in one environment (test_scale_out).
        self.conf = os.path.join(env.d, f"{name}.conf")
        self.data = os.path.join(env.d, "data")
        tgt = targets if targets is not None else env.default_targets()
        # Tests log in from 127.0.0.1 and many are refused on purpose: keep
        # per-source penalties off that address (test_front_door covers them
        # from other loopback addresses).
        if "per_source_penalt" not in limits:
            limits = ", ".join(x for x in (limits.strip(), 'per_source_penalty_exempt = "127.0.0.1"') if x)
        # A key the suite sets in `extra` replaces the harness's default (a
        # key set twice is a config error).
        self.log = os.path.join(env.d, f"{name}d.log")
        self.logf = open(self.log, "ab")
        # The port was free when chosen; a suite running beside this one may
        # take it before bastiond binds: then once more on another port.
        for attempt in range(3):
            defaults = [("listen", f'"127.0.0.1:{self.port}"'), ("host_keys", '{ "keys/bastion_host_key" }'),
                        ("user_ca_keys", '{ "keys/user_ca.pub" }'), ("data_dir", '"data"'), ("log_format", '"json"')]
            base = "\n".join(f"{k} = {v}" for k, v in defaults if not re.search(rf"^\s*{k}\s*=", extra, re.M))
            with open(self.conf, "w") as f:
                f.write(f"""-- generated by the test harness
{base}
{extra}
limits = {{ {limits} }}
targets = {{
{tgt}
}}
""")
            start_offset = self.logf.tell()
            try:
                self.start_serving(binary, start_offset)
                break
            except RuntimeError:
                with open(self.log, "rb") as f:
                    f.seek(start_offset)
                    lost_race = f"127.0.0.1:{self.port}: Address already in use".encode() in f.read()
                if attempt == 2 or not lost_race or re.search(r"^\s*listen\s*=", extra, re.M):
                    raise
                self.port = free_port()

    def start_serving(self, binary, start_offset):
        self.proc = subprocess.Popen([binary or BASTIOND, "--config", self.conf], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        # Generous: under the sanitizers, with other suites running, a start
        # has taken more than 10 s (a readiness wait, not a measurement).
        wait_port(self.port, timeout=45, proc=self.proc)
        # The socket listens before the audit store is open (bastiond binds,
        # drops privileges, then opens its data): wait until it serves.
        end = time.time() + 45
        while True:
            with open(self.log, "rb") as f:
                f.seek(start_offset)
                if b"bastiond listening" in f.read():
                    break
            if self.proc.poll() is not None or time.time() > end:
                raise RuntimeError("bastiond did not start serving")
            time.sleep(0.02)

    def log_lines(self):
        out = []
        with open(self.log, "rb") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def rewrite_config_and_reload(self, text, timeout=10):
        """Writes TEXT as the config, sends SIGHUP, and waits for the "config
        reloaded" log line. False when it does not come (a refused reload)."""
        before = sum(1 for l in self.log_lines() if l.get("msg") == "config reloaded")
        with open(self.conf, "w") as f:
            f.write(text)
        self.proc.send_signal(signal.SIGHUP)
        end = time.time() + timeout
        while time.time() < end:
            if sum(1 for l in self.log_lines() if l.get("msg") == "config reloaded") > before:
                return True
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def policy_decision(policy, line, labels="env=prod"):
    """(decision, reason) that `bastionctl policy test` gives `line` for
    principal ops on a target with `labels`."""
    r = run([BASTIONCTL, "policy", "test", policy, "--principals", "ops", "--labels", labels, "--", line])
    fields = dict(l.split(":", 1) for l in r.stdout.decode().splitlines() if ":" in l and not l.startswith(" "))
    return fields.get("decision", "").strip(), fields.get("reason", "").strip()


class Env:
    """Everything one test class needs."""

    def __init__(self):
        self.d = tempfile.mkdtemp(prefix="bastion-it-")
        os.chmod(self.d, 0o755)
        self.keys = Keys(os.path.join(self.d, "keys"))
        self.ca = self.keys.keygen("user_ca")
        self.keys.keygen("bastion_host_key")
        self.target_key = self.keys.keygen("target_key")
        self.target = Target(os.path.join(self.d, "target"), self.target_key + ".pub")
        with open(os.path.join(self.keys.d, "known_hosts"), "w") as f:
            f.write(self.target.known_hosts_line)
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.bastion = None
        self.alice = self.keys.cert(self.keys.keygen("alice"), self.ca, "alice", "ops")

    def default_targets(self):
        return f"""  web1 = {{ type = "ssh", host = "127.0.0.1", port = {self.target.port}, user = "{self.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           labels = {{ env = "test" }} }},
  db1 = {{ type = "ssh", host = "127.0.0.1", port = {self.target.port}, user = "{self.user}",
          identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "dba" }} }},
  dead = {{ type = "ssh", host = "127.0.0.1", port = {free_port()}, user = "{self.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           connect_timeout = 3 }},"""

    def policy_key(self, name="policy_key"):
        """An admin's policy signing key (`bastionctl policy keygen`), made on
        first use: its path and the line that makes instances trust it."""
        path = os.path.join(self.keys.d, name)
        if not os.path.exists(path):
            r = run([BASTIONCTL, "policy", "keygen", path])
            assert r.returncode == 0, r.stderr
            with open(path + ".line", "w") as f:
                f.write(r.stdout.decode().splitlines()[-1].strip() + "\n")
        with open(path + ".line") as f:
            return path, f.read()

    def start_bastion(self, **kw):
        if self.bastion:
            self.bastion.stop()
        self.bastion = Bastion(self, **kw)
        return self.bastion

    def start_shipped_policy(self, env_label):
        """A bastion whose only target web1 (principal ops) is labelled
        env=`env_label` and judged by the shipped policies/default.lua with
        commands.lua, copied as scripts/demo.sh uses them. Returns the
        policy file's path (for `bastionctl policy test`)."""
        shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "policies")
        for name in ("default.lua", "commands.lua"):
            shutil.copy(os.path.join(shipped, name), os.path.join(self.d, name))
        targets = f"""
  web1 = {{ type = "ssh", host = "127.0.0.1", port = {self.target.port}, user = "{self.user}",
           identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
           labels = {{ env = "{env_label}" }} }},"""
        self.start_bastion(targets=targets, extra='policy = "default.lua"')
        return os.path.join(self.d, "default.lua")

    def ssh_base(self, key=None, tty=False, extra=()):
        b = self.bastion
        cmd = ["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR",
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
               "-i", key or self.alice, "-p", str(b.port)]
        cmd += ["-tt"] if tty else ["-T"]
        return cmd + list(extra)

    def ssh(self, target, command=None, key=None, input=None, timeout=60, extra=(), env=None):
        cmd = self.ssh_base(key, extra=extra) + [f"{target}@127.0.0.1"]
        if isinstance(command, (list, tuple)):
            cmd += list(command)
        elif command is not None:
            cmd.append(command)
        return run(cmd, input=input, timeout=timeout, env=env)

    def audit(self, sql, args=()):
        db = sqlite3.connect(os.path.join(self.d, "data", "audit.db"))
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def audit_eventually(self, sql, expected, args=(), timeout=10.0):
        """Session rows are finished when the connection ends, which may be
        just after the client exits: poll until they match."""
        end = time.time() + timeout
        rows = None
        while time.time() < end:
            rows = self.audit(sql, args)
            if rows == expected:
                return rows
            time.sleep(0.05)
        return rows

    def close(self):
        if self.bastion:
            self.bastion.stop()
        self.target.stop()

    def dump_logs(self):
        for path in (self.bastion.log if self.bastion else None, self.target.log):
            if path and os.path.exists(path):
                sys.stderr.write(f"---- {path} (tail)\n")
                with open(path, errors="replace") as f:
                    lines = f.readlines()
                # A sanitizer report is printed whole (its top says what and where).
                start = next((i for i, l in enumerate(lines) if "ERROR: AddressSanitizer" in l
                              or "runtime error:" in l), max(0, len(lines) - 40))
                sys.stderr.write("".join(lines[start:start + 200]))


class BastionTest(unittest.TestCase):
    """One environment per class; logs printed for failing tests."""

    env = None
    bastion_options = {}  # keyword arguments for Bastion (extra=, limits=, targets=)

    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        try:
            cls.env.start_bastion(**cls.bastion_options)
        except BaseException:
            cls.env.close()  # tearDownClass does not run when setUpClass fails
            raise

    @classmethod
    def tearDownClass(cls):
        cls.env.close()
        if os.environ.get("BASTION_KEEP_TMP") is None:
            shutil.rmtree(cls.env.d, ignore_errors=True)

    def run(self, result=None):
        return run_showing_failure(self, super().run, result, self.env.dump_logs)


def run_showing_failure(test, run, result, dump_logs):
    """Runs a test; when it fails, prints the failure and then the logs."""
    seen = (len(result.failures), len(result.errors)) if result else (0, 0)
    r = run(result)
    if result and (len(result.failures), len(result.errors)) != seen:
        # The failure first: CI shows only the start of a long output, and
        # the logs after it would push unittest's summary out of it.
        for _, text in result.failures[seen[0]:] + result.errors[seen[1]:]:
            sys.stderr.write(f"---- failure of {test.id()}\n{text}\n")
        dump_logs()
    return r


def main():
    unittest.main(verbosity=2)
