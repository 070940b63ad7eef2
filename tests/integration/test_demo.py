#!/usr/bin/env python3
"""The README's demo, run as a new user would: scripts/demo.sh starts, prints
short lines that work as printed, keeps the previous run's data, and stops
everything it started even when nobody reads its output any more."""
import glob
import os
import re
import select
import signal
import subprocess
import tempfile
import time
import unittest

import harness

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
DEMO_SH = os.path.join(ROOT, "scripts/demo.sh")


class Demo:
    """One run of scripts/demo.sh in WORKDIR/demo, started from WORKDIR."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.dir = os.path.join(workdir, "demo")
        env = dict(os.environ, BASTION_DEMO_SKIP_SETUP="1", BASTION_DEMO_DIR=self.dir,
                   BASTION_BUILD=os.path.abspath(harness.BUILD))
        self.proc = subprocess.Popen([DEMO_SH], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.out = self._read_until(self.proc.stdout, "Log: ")
        self.err_fd = self.proc.stderr

    def _read_until(self, stream, marker, timeout=180):
        buf = b""
        end = time.time() + timeout
        while marker.encode() not in buf:
            if self.proc.poll() is not None:
                raise AssertionError("demo.sh exited early:\n" + buf.decode() +
                                     self.proc.stderr.read().decode())
            r, _, _ = select.select([stream], [], [], max(0.0, end - time.time()))
            if not r:
                raise AssertionError("demo.sh printed no 'Log:' line in time:\n" + buf.decode())
            chunk = os.read(stream.fileno(), 65536)
            buf += chunk
        # The rest of the last line.
        while not buf.endswith(b"\n"):
            buf += os.read(stream.fileno(), 65536)
        return buf.decode()

    def line(self, pattern):
        """The printed line matching PATTERN, as a shell would split it."""
        for l in self.out.splitlines():
            if re.search(pattern, l):
                return l.strip()
        raise AssertionError(f"no printed line matches {pattern!r}:\n{self.out}")

    def run(self, line):
        return subprocess.run(["/bin/sh", "-c", line], cwd=self.workdir, capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def processes(self):
        """Processes still running with the demo directory on their command line."""
        found = []
        for p in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(p, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if self.dir in cmd and "test_demo" not in cmd:
                found.append(cmd)
        return found

    def stop_with_output_closed(self):
        """The terminal is gone: stdout and stderr closed, then SIGHUP."""
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc.send_signal(signal.SIGHUP)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        for f in (self.proc.stdout, self.proc.stderr):
            if not f.closed:
                f.close()


class DemoTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bastion-demo-")
        os.chmod(self.tmp, 0o755)  # the demo's PostgreSQL runs as another user
        self.demos = []

    def tearDown(self):
        for d in self.demos:
            d.stop()
        subprocess.run(["rm", "-rf", self.tmp])

    def start(self):
        d = Demo(self.tmp)
        self.demos.append(d)
        return d

    def test_printed_lines_are_short_and_work_as_printed(self):
        d = self.start()
        long = [l for l in d.out.splitlines() if len(l) > 80]
        self.assertEqual(long, [], "printed lines longer than 80 columns")
        line = d.line(r"^\s*ssh -F demo/ssh_config demo-host@bastion uname -a$")
        r = d.run(line)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(r.stdout, subprocess.run(["uname", "-a"], capture_output=True).stdout)
        r = d.run(d.line(r"demo-host@bastion 'rm -rf /tmp/x'$"))
        self.assertEqual(r.returncode, 126)
        self.assertTrue(r.stderr.decode().startswith("bastion: denied: "), r.stderr.decode())
        r = d.run(d.line(r"demo-db@bastion-carol 'SELECT current_user'$"))
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(r.stdout.decode().split(), ["current_user", "--------------", "app_ro", "(1", "row)"])
        # Any PostgreSQL client through a forward: psql, no password, the
        # email column masked as in the console.
        r = d.run(d.line(r"-fN -L \d+:demo-db:5432 demo-db@bastion$"))
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = d.out.splitlines()
        i = next(n for n, l in enumerate(lines) if l.strip().startswith("psql \"host=127.0.0.1"))
        r = d.run(lines[i].strip().rstrip("\\").strip() + " " + lines[i + 1].strip() + " -X -A -t")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        rows = r.stdout.decode().splitlines()
        self.assertEqual([row.split("|")[0] for row in rows], ["Ada Lovelace", "Alan Turing", "Grace Hopper"])
        self.assertNotIn(b"@example", r.stdout)
        # The CI example: a 10-minute certificate, a tunnel, a push with skopeo
        # (the registry's password only the bastion holds), a one-off call.
        self.assertEqual(d.run(d.line(r"-I ci-job -n ci-push -V \+10m ")).returncode, 0)
        r = d.run(d.line(r"-fN -L \d+:registry:443 registry@bastion-ci$"))
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = d.out.splitlines()
        i = next(n for n, l in enumerate(lines) if l.strip().startswith("skopeo copy"))
        r = d.run(lines[i].strip() + "\n" + lines[i + 1].strip())
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        r = d.run(d.line(r"registry@bastion GET /v2/_catalog$"))
        self.assertEqual((r.returncode, r.stdout), (0, b'{"repositories":["app"]}\n'), r.stderr.decode())
        # The renew line renews: alice's certificate is replaced and still works.
        renew = d.line(r"^\s*ssh-keygen -s demo/keys/user_ca -I alice ")
        r = d.run(renew)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(d.run(line).returncode, 0)

    def test_rerun_keeps_previous_data_and_cleanup_survives_a_closed_terminal(self):
        first = self.start()
        self.assertEqual(first.run(first.line(r"demo-host@bastion uname -a$")).returncode, 0)
        first.stop_with_output_closed()
        deadline = time.time() + 15
        while first.processes() and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(first.processes(), [], "demo left processes running after SIGHUP")
        self.assertFalse(os.path.exists(os.path.join(first.dir, "demo.pid")))

        second = self.start()
        err = b""
        while b"[2/4]" not in err:
            r, _, _ = select.select([second.proc.stderr], [], [], 5)
            self.assertTrue(r, "no progress line on stderr")
            err += os.read(second.proc.stderr.fileno(), 65536)
        m = re.search(rb"demo: the previous run \(recordings, audit store, logs\) is kept in "
                      rb"demo/previous/(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)\n", err)
        self.assertIsNotNone(m, err.decode())
        kept = os.path.join(second.dir, "previous", m.group(1).decode())
        self.assertTrue(os.path.getsize(os.path.join(kept, "data/audit.db")) > 0)
        self.assertTrue(os.listdir(os.path.join(kept, "data/recordings")))
        # The old store still answers an auditor with the old configuration's data.
        r = subprocess.run([harness.BASTIONCTL, "audit", "commands", "--db", os.path.join(kept, "data/audit.db")],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("uname -a", r.stdout.decode())
        # A second demo on the same directory while this one runs is refused.
        third = subprocess.run([DEMO_SH], cwd=self.tmp, capture_output=True, timeout=60,
                               env=dict(os.environ, BASTION_DEMO_SKIP_SETUP="1", BASTION_DEMO_DIR=second.dir,
                                        BASTION_BUILD=os.path.abspath(harness.BUILD)))
        self.assertEqual(third.returncode, 1)
        self.assertIn(b"another demo is running from demo (pid", third.stderr)
        self.assertEqual(second.run(second.line(r"demo-host@bastion uname -a$")).returncode, 0)


if __name__ == "__main__":
    unittest.main()
