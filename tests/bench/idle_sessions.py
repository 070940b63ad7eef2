"""Idle interactive sessions: what each costs bastiond while nothing flows.

Opens `ssh -tt web1@bastion` sessions (a bash on the harness's sshd
target, each on its own pseudo-terminal) in steps (IDLE_STEPS, default
100,200,500). At each step, once every prompt is up:
  * bastiond's memory: VmRSS (/proc/PID/status) and PSS (smaps_rollup),
    and the increment per session over the baseline (bastiond after one
    warm-up session came and went: what is loaded once is not per session);
  * bastiond's CPU over IDLE_SECONDS (default 10) of idleness: utime+stime
    ticks from /proc/PID/stat, and wakeups/s as the growth of every thread's
    voluntary + involuntary context switches;
  * responsiveness: keystroke echo (a letter, then DEL) on a sample of
    IDLE_SAMPLE sessions (default 20), p50/p99;
  * liveness: a command in every session, each must answer.
Records idle_rss_<N> (MiB per session; anchor 2 MiB, the goal, so the
ratio must be <= 1.0) and idle_cpu (CPU ms per second of idleness at the
largest step; anchor 10 ms/s = 1% of one core, standing for "about zero").
With IDLE_JUMP=1 it also measures OpenSSH's sshd as a jump host
(ProxyJump -W through the target's own sshd) at the first step: the PSS of
the sshd processes each idle jump costs.
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

STEPS = [int(x) for x in os.environ.get("IDLE_STEPS", "100,200,500").split(",")]
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "10"))
SAMPLE = int(os.environ.get("IDLE_SAMPLE", "20"))
OPEN_PARALLEL = int(os.environ.get("IDLE_OPEN_PARALLEL", "16"))
JUMP = os.environ.get("IDLE_JUMP", "0") == "1"
# After the steps: this many KiB printed by each of the first 100 sessions,
# then idle again: what a session keeps holding once a burst has passed.
BURST_KIB = int(os.environ.get("IDLE_BURST_KIB", "1024"))
TICK = os.sysconf("SC_CLK_TCK")
GOAL_MIB = 2.0
IDLE_CPU_ANCHOR_MS = 10.0  # per second of idleness: 1% of one core


def kib_field(path, name):
    with open(path) as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def memory(pid):
    """(RSS KiB, PSS KiB, threads)."""
    return (kib_field(f"/proc/{pid}/status", "VmRSS"), kib_field(f"/proc/{pid}/smaps_rollup", "Pss"),
            kib_field(f"/proc/{pid}/status", "Threads"))


def rss_breakdown(pid):
    """RSS KiB by kind of mapping: thread stacks (glibc's 8 MiB stacks less
    their guard page), the main heap, other anonymous memory (malloc's
    per-thread arenas, libssh/libvterm/OpenSSL allocations land there or in
    the heap), and files (code, the audit store's maps)."""
    out = {"stacks": 0, "heap": 0, "anon": 0, "files": 0}
    kind, size = None, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's first line
                name = head[5] if len(head) > 5 else ""
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                size = (hi - lo) // 1024
                kind = ("heap" if name == "[heap]" else "files" if name.startswith("/") else
                        "stacks" if name == "" and size in (8188, 8192) and head[1].startswith("rw") else
                        "anon" if name in ("", "[stack]") else "files")
            elif head[0] == "Rss:":
                out[kind] += int(head[1])
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def switches(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += kib_field(f"/proc/{pid}/task/{tid}/status", "voluntary_ctxt_switches")
            total += kib_field(f"/proc/{pid}/task/{tid}/status", "nonvoluntary_ctxt_switches")
        except OSError:
            pass  # a thread that ended meanwhile
    return total


class Reader:
    """Reads many pty sessions at once (poll: no FD_SETSIZE limit)."""

    def __init__(self):
        self.poll = select.poll()
        self.by_fd = {}

    def add(self, s):
        s.buf = b""
        self.by_fd[s.fd] = s
        self.poll.register(s.fd, select.POLLIN)

    def remove(self, s):
        self.poll.unregister(s.fd)
        del self.by_fd[s.fd]

    def pump(self, timeout_s):
        for fd, _ in self.poll.poll(max(0, int(timeout_s * 1000))):
            s = self.by_fd[fd]
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise SystemExit(f"session on fd {fd} closed; last output {s.buf[-300:]!r}")
            s.buf += chunk

    def wait_all(self, sessions, needle, timeout):
        """Waits until every session's output since its mark holds needle."""
        end = time.time() + timeout
        waiting = [s for s in sessions if needle not in s.buf]
        while waiting:
            if time.time() > end:
                s = waiting[0]
                raise SystemExit(f"{len(waiting)} sessions without {needle!r} after {timeout}s; "
                                 f"one shows {s.buf[-300:]!r}")
            self.pump(0.2)
            waiting = [s for s in waiting if needle not in s.buf]


def prompt_of(argv_user_root):
    return b"# " if argv_user_root else b"$ "


def open_sessions(reader, argv, n, prompt):
    """Opens n sessions, OPEN_PARALLEL logins in flight at a time; each
    ends at a prompt whose PS1 carries a marker only bash's expansion makes."""
    out = []
    pending = []
    while len(out) < n or pending:
        while len(pending) < OPEN_PARALLEL and len(out) + len(pending) < n:
            s = PtySession(argv, env={"TERM": "xterm"})
            reader.add(s)
            s.opened = time.time()
            pending.append(s)
        reader.pump(0.1)
        for s in list(pending):
            if prompt in s.buf:
                pending.remove(s)
                out.append(s)
            elif time.time() - s.opened > 60:
                raise SystemExit(f"no prompt within 60 s; got {s.buf[-300:]!r}")
    for s in out:
        s.buf = b""
        s.send(b"PS1='idl$((6*7))> '\r")
    reader.wait_all(out, b"idl42> ", 60)
    settle(reader)
    return out


def settle(reader, quiet=0.5):
    end = time.time() + quiet
    while time.time() < end:
        reader.pump(end - time.time())
    for s in reader.by_fd.values():
        s.buf = b""


def echo_latency(reader, sample, keys=10):
    lat = []
    for s in sample:
        for i in range(keys):
            key = b"\x7f" if i % 2 else b"x"
            echo = b"\x08" if key == b"\x7f" else key
            s.buf = b""
            t = time.perf_counter()
            os.write(s.fd, key)
            end = t + 10
            while echo not in s.buf:
                if time.perf_counter() > end:
                    raise SystemExit(f"no echo within 10 s; got {s.buf[-200:]!r}")
                reader.pump(0.5)
            lat.append(time.perf_counter() - t)
    return lat


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def all_alive(reader, sessions):
    for s in sessions:
        s.buf = b""
        s.send(b"echo al$((6*7))ive\r")
    t = time.perf_counter()
    reader.wait_all(sessions, b"al42ive", 120)
    reader.wait_all(sessions, b"idl42> ", 30)
    return time.perf_counter() - t


def idle_window(pid, seconds):
    t0, c0, w0 = time.perf_counter(), cpu_ticks(pid), switches(pid)
    time.sleep(seconds)
    t1, c1, w1 = time.perf_counter(), cpu_ticks(pid), switches(pid)
    return c1 - c0, (w1 - w0) / (t1 - t0), t1 - t0


def sshd_jump_pss(env, common, n):
    """PSS (KiB) of the sshd processes n idle ProxyJump sessions add."""
    tp = str(env.target.port)

    def sshd_pss():
        total = 0
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmd = f.read()
                if b"sshd" not in cmd.split(b"\0")[0]:
                    continue
                total += kib_field(f"/proc/{p}/smaps_rollup", "Pss")
            except OSError:
                pass
        return total
    # Only the jump connections are counted: the final sessions go to the
    # same sshd, so the direct sessions' own cost is measured and taken off.
    reader = Reader()
    before = sshd_pss()
    direct = open_sessions(reader, ["ssh"] + common + ["-p", tp, f"{env.user}@127.0.0.1"], n,
                           prompt_of(os.getuid() == 0))
    with_direct = sshd_pss()
    jump_cmd = f"ssh {' '.join(c for c in common if c != '-tt')} -p {tp} -W %h:%p {env.user}@127.0.0.1"
    jumped = open_sessions(reader, ["ssh"] + common + ["-o", f"ProxyCommand={jump_cmd}", "-p", tp,
                                                      f"{env.user}@127.0.0.1"], n, prompt_of(os.getuid() == 0))
    with_jump = sshd_pss()
    for s in direct + jumped:
        s.send(b"exit\r")
    for s in direct + jumped:
        try:
            s.wait(timeout=20)
        except AssertionError:
            pass
    # with_jump - with_direct = n final sessions + n jump connections;
    # with_direct - before = n final sessions.
    return ((with_jump - with_direct) - (with_direct - before)) / n


def main():
    env = Env()
    with open(os.path.join(env.target.d, "authorized_keys"), "a") as f, open(env.alice + ".pub") as k:
        f.write(k.read())
    top = max(STEPS)
    # The defaults (max_sessions 500, 50 per identity, 10 logins in flight per
    # source) are set past what the bench opens, so they are not what it measures.
    env.start_bastion(limits=f"login_grace_time = 60, max_sessions = {top + 100}, "
                             f"max_sessions_per_identity = {top + 100}, per_source_max_startups = 100, "
                             f"max_startups = 200")
    pid = env.bastion.proc.pid
    common = ["-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
              "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-i", env.alice, "-tt"]
    argv = ["ssh"] + common + ["-p", str(env.bastion.port), "web1@127.0.0.1"]
    prompt = prompt_of(os.getuid() == 0)
    reader = Reader()
    sessions = []
    rows = []
    try:
        warm = open_sessions(reader, argv, 1, prompt)
        warm[0].send(b"exit\r")
        reader.remove(warm[0])
        warm[0].wait()
        time.sleep(1.0)
        base_rss, base_pss, base_threads = memory(pid)
        base_parts = rss_breakdown(pid)
        ticks0, wake0, secs0 = idle_window(pid, IDLE_SECONDS)
        print(f"baseline (after one warm-up session): RSS {base_rss / 1024:.1f} MiB, PSS {base_pss / 1024:.1f} MiB, "
              f"{base_threads} threads; idle {ticks0} ticks, {wake0:.1f} wakeups/s over {secs0:.1f} s")
        for n in STEPS:
            t = time.time()
            sessions += open_sessions(reader, argv, n - len(sessions), prompt)
            opened = time.time() - t
            settle(reader, 1.0)
            rss, pss, threads = memory(pid)
            parts = rss_breakdown(pid)
            ticks, wake, secs = idle_window(pid, IDLE_SECONDS)
            # Anything printed while idle would mean a session was not idle.
            reader.pump(0)
            lat = echo_latency(reader, sessions[:: max(1, len(sessions) // SAMPLE)][:SAMPLE])
            alive = all_alive(reader, sessions)
            settle(reader)
            row = {"n": n, "rss": rss, "pss": pss, "threads": threads,
                   "rss_per": (rss - base_rss) / n / 1024, "pss_per": (pss - base_pss) / n / 1024,
                   "ticks": ticks, "cpu_ms_per_s": ticks * 1000.0 / TICK / secs, "wakeups": wake,
                   "p50": statistics.median(lat) * 1000, "p99": percentile(lat, 99) * 1000, "alive": alive,
                   "opened": opened}
            rows.append(row)
            print(f"{n:4d} sessions (opened in {opened:.0f} s): RSS {rss / 1024:7.1f} MiB "
                  f"(+{row['rss_per']:.2f} MiB/session), PSS {pss / 1024:7.1f} MiB (+{row['pss_per']:.2f}), "
                  f"{threads} threads; idle {IDLE_SECONDS:.0f} s: {ticks} ticks "
                  f"({row['cpu_ms_per_s']:.1f} ms CPU/s), {wake:.1f} wakeups/s; echo p50 {row['p50']:.2f} ms "
                  f"p99 {row['p99']:.2f} ms; all {n} answered a command within {alive:.1f} s", flush=True)
            print("       RSS per session by kind: " + ", ".join(
                f"{k} {(parts[k] - base_parts[k]) / n:.0f} KiB" for k in parts), flush=True)
        burst = None
        if BURST_KIB:
            some = sessions[:100]
            rss0 = memory(pid)[0]
            for s in some:
                s.buf = b""
                s.send(f"head -c {BURST_KIB << 10} /dev/zero | tr '\\0' a | fold -w 100; echo bu$((1+1))rst\r".encode())
            reader.wait_all(some, b"bu2rst", 300)
            reader.wait_all(some, b"idl42> ", 30)
            settle(reader, 2.0)
            rss1 = memory(pid)[0]
            ticks, wake, secs = idle_window(pid, IDLE_SECONDS)
            burst = (rss1 - rss0) / len(some) / 1024
            print(f"after {BURST_KIB} KiB of output in each of {len(some)} sessions, idle again: "
                  f"+{burst:.2f} MiB RSS per such session; idle {ticks} ticks, {wake:.1f} wakeups/s", flush=True)
        for s in sessions:
            s.send(b"exit\r")
        for s in sessions:
            try:
                s.wait(timeout=30)
            except AssertionError:
                pass
        sessions.clear()
        jump = None
        if JUMP:
            jump = sshd_jump_pss(env, common, STEPS[0]) / 1024
            print(f"OpenSSH sshd as a jump host: {jump:.2f} MiB PSS per idle jump connection "
                  f"({STEPS[0]} sessions)")
        for r in rows:
            record(f"idle_rss_{r['n']}", f"bastiond RSS per idle interactive session, {r['n']} sessions", "MiB",
                   "goal (2 MiB per session)", GOAL_MIB, r["rss_per"], goal=("<=", 1.0),
                   detail=f"PSS {r['pss_per']:.2f} MiB/session; {r['threads']} threads; echo p50 {r['p50']:.2f} ms "
                          f"p99 {r['p99']:.2f} ms" + (f"; sshd jump host {jump:.2f} MiB/session" if jump else "")
                          + (f"; +{burst:.2f} MiB kept after {BURST_KIB} KiB of output" if burst is not None else ""))
        last = rows[-1]
        record("idle_cpu", f"bastiond CPU while {last['n']} sessions idle", "ms/s",
               "about zero (1% of a core)", IDLE_CPU_ANCHOR_MS, last["cpu_ms_per_s"], goal=("<=", 1.0),
               detail=f"{last['ticks']} ticks in {IDLE_SECONDS:.0f} s; {last['wakeups']:.1f} wakeups/s")
    finally:
        for s in sessions:
            try:
                os.kill(s.pid, 9)
            except OSError:
                pass
        env.close()


if __name__ == "__main__":
    main()
