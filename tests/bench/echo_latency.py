"""Keystroke echo latency through a pty, on loopback: bastiond vs OpenSSH
direct vs OpenSSH ProxyJump, against the same real sshd and the same bash.

Each client runs as `ssh -tt` on its own pseudo-terminal, at a bash prompt.
One keystroke at a time (a letter, then DEL to erase it), the time from
writing the byte to reading its echo is measured; the three sessions take
turns keystroke by keystroke, so load on the machine hits them alike.
Prints p50/p99 per path and ratios. ECHO_KEYS sets the number of keystrokes
per path (default 2000).
"""
import os
import select
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Env  # noqa: E402
from pty_driver import PtySession  # noqa: E402
from bench_results import record  # noqa: E402

KEYS = int(os.environ.get("ECHO_KEYS", "2000"))
# Bulk output on the same pty after the keystrokes: what the shell line
# tracker's screen model costs when a command prints a lot (PTY_MIB).
PTY_MIB = int(os.environ.get("PTY_MIB", "64"))
WARMUP = 50
READY = b"rdy42> "


def read_for(s, needle, timeout=5.0):
    """Reads s until `needle` shows up in what arrived after the call; returns
    the time it showed up."""
    got = b""
    end = time.perf_counter() + timeout
    while True:
        now = time.perf_counter()
        if now > end:
            raise SystemExit(f"no echo {needle!r} within {timeout}s; got {got[-200:]!r}")
        r, _, _ = select.select([s.fd], [], [], end - now)
        if not r:
            continue
        chunk = os.read(s.fd, 65536)
        if not chunk:
            raise SystemExit(f"session closed while waiting for {needle!r}")
        got += chunk
        if needle in got:
            return time.perf_counter()


def read_until_marker(s, needle, timeout):
    """Like read_for, for bulk output: keeps only a tail, so the reader
    itself stays linear in the bytes read."""
    tail = b""
    end = time.perf_counter() + timeout
    while True:
        now = time.perf_counter()
        if now > end:
            raise SystemExit(f"no {needle!r} within {timeout}s")
        r, _, _ = select.select([s.fd], [], [], end - now)
        if not r:
            continue
        chunk = os.read(s.fd, 1 << 20)
        if not chunk:
            raise SystemExit(f"session closed while waiting for {needle!r}")
        tail = tail[-len(needle):] + chunk
        if needle in tail:
            return time.perf_counter()
        tail = tail[-len(needle):]


def drain(s, quiet=0.2):
    while True:
        r, _, _ = select.select([s.fd], [], [], quiet)
        if not r or not os.read(s.fd, 65536):
            return


def open_session(argv):
    s = PtySession(argv, env={"TERM": "xterm"})
    # A prompt that appears only when bash draws it, not in the echo of the
    # assignment: $((6*7)) is expanded at display time.
    read_for(s, b"# " if os.getuid() == 0 else b"$ ", timeout=30)
    s.send(b"PS1='rdy$((6*7))> '\r")
    read_for(s, READY, timeout=10)
    drain(s)
    return s


def one_key(s, key):
    """Sends one keystroke and returns the seconds until its echo."""
    echo = b"\x08" if key == b"\x7f" else key  # readline erases with BS
    t = time.perf_counter()
    os.write(s.fd, key)
    return read_for(s, echo) - t


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    env = Env()
    with open(os.path.join(env.target.d, "authorized_keys"), "a") as f, open(env.alice + ".pub") as k:
        f.write(k.read())
    env.start_bastion()
    common = ["-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
              "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-i", env.alice, "-tt"]
    tp = str(env.target.port)
    user = env.user
    modes = {
        "openssh-direct": ["ssh"] + common + ["-p", tp, f"{user}@127.0.0.1"],
        # ProxyJump through a plain sshd on loopback (the target's own), as in e2e_bench.py.
        "openssh-proxyjump": ["ssh"] + common + [
            "-o", f"ProxyCommand=ssh {' '.join(c for c in common if c != '-tt')} -p {tp} -W %h:%p {user}@127.0.0.1",
            "-p", tp, f"{user}@127.0.0.1"],
        "bastiond": ["ssh"] + common + ["-p", str(env.bastion.port), "web1@127.0.0.1"],
    }
    sessions = {}
    try:
        for m, argv in modes.items():
            sessions[m] = open_session(argv)
        lat = {m: [] for m in modes}
        letters = b"abcdefghijklmnopqrstuvwxyz"
        started = time.perf_counter()
        for i in range(WARMUP + KEYS):
            key = b"\x7f" if i % 2 else letters[(i // 2) % 26:(i // 2) % 26 + 1]
            for m, s in sessions.items():
                dt = one_key(s, key)
                if i >= WARMUP:
                    lat[m].append(dt)
        elapsed = time.perf_counter() - started
        bulk = {}
        for m, s in sessions.items():
            # The marker's echo reads "do$((1+1))ne": only the shell's output matches.
            cmd = (f"head -c {PTY_MIB << 20} /dev/zero | tr '\\0' a | fold -w 120; echo do$((1+1))ne\r").encode()
            t = time.perf_counter()
            os.write(s.fd, cmd)
            bulk[m] = read_until_marker(s, b"do2ne", timeout=600) - t
            drain(s)
        for s in sessions.values():
            s.send(b"exit\r")
        for s in sessions.values():
            s.wait()
        sessions.clear()

        p = {m: (statistics.median(v) * 1000, percentile(v, 99) * 1000) for m, v in lat.items()}
        d50, d99 = p["openssh-direct"]
        j50, j99 = p["openssh-proxyjump"]
        print(f"keystroke echo latency ({KEYS} keystrokes per path, letters and DEL at a bash prompt, "
              f"one at a time, paths taking turns; {elapsed:.1f} s)")
        print(f"  {'path':18s} {'p50 ms':>8s} {'p99 ms':>8s}   {'p50/direct':>10s} {'p99/direct':>10s}"
              f"   {'p50/jump':>8s} {'p99/jump':>8s}")
        for m in modes:
            a, b = p[m]
            print(f"  {m:18s} {a:8.3f} {b:8.3f}   {a / d50:9.2f}x {b / d99:9.2f}x   {a / j50:7.2f}x {b / j99:7.2f}x")
        b50, b99 = p["bastiond"]
        print(f"  bastiond - proxyjump: p50 {b50 - j50:+.3f} ms, p99 {b99 - j99:+.3f} ms")
        record("echo_p50", "keystroke echo, pty, p50", "ms", "OpenSSH ProxyJump", j50, b50)
        # "On par": at most 1.25x ProxyJump's p99.
        record("echo_p99", "keystroke echo, pty, p99", "ms", "OpenSSH ProxyJump", j99, b99, goal=("<=", 1.25))
        print(f"pty bulk output ({PTY_MIB} MiB of 120-column lines printed by the shell's command)")
        for m in modes:
            print(f"  {m:18s} {bulk[m]:7.2f} s  {PTY_MIB / bulk[m]:7.1f} MiB/s   "
                  f"{bulk[m] / bulk['openssh-direct']:5.2f}x direct  {bulk[m] / bulk['openssh-proxyjump']:5.2f}x jump")
    finally:
        for s in sessions.values():
            try:
                os.kill(s.pid, 9)
            except OSError:
                pass
        env.close()


if __name__ == "__main__":
    main()
