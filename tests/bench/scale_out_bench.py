"""Scale-out figures (issue 20), measured not asserted:
 - approvals latency across instances: a command held on one bastiond,
   approved through the other (two instances on one PostgreSQL behind
   HAProxy), from the approval's answer to the command's output; anchor:
   the same through the instance that holds it;
 - session setup cost (`ssh web1 true`, connect to exit) on one bastiond
   with the PostgreSQL store vs the SQLite store in data_dir.
BENCH_RUNS (default 10) sets the repetitions."""
import os
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Env, run  # noqa: E402
from test_scale_out import ScaleOutTest  # noqa: E402
from bench_results import record  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "10"))


def setup_ms(env, port):
    cmd = ["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
           "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", env.alice,
           "-p", str(port), "-T", "web1@127.0.0.1", "true"]
    times = []
    for _ in range(RUNS + 1):
        t = time.monotonic()
        r = run(cmd, timeout=60)
        assert r.returncode == 0, r.stderr
        times.append((time.monotonic() - t) * 1000)
    return statistics.median(times[1:])  # the first warms caches


def main():
    ScaleOutTest.setUpClass()
    try:
        t = ScaleOutTest("test_held_command_approved_on_the_other_instance_runs_within_a_second")
        across = [t.held_then_approved_across(f"echo held-x{i}") * 1000 for i in range(RUNS)]
        same = [t.held_then_approved_across(f"echo held-s{i}", same=True) * 1000 for i in range(RUNS)]
        a, s = statistics.median(across), statistics.median(same)
        print(f"approval to output: across instances {a:.1f} ms, same instance {s:.1f} ms (median of {RUNS})")
        record("scale_out.approval_across", "held command: approval to output, across instances", "ms",
               "same instance", s, a, detail=f"median of {RUNS}; PostgreSQL LISTEN/NOTIFY; 2 s poll fallback")
        pg_ms = setup_ms(t.env, ScaleOutTest.instances[0].port)
    finally:
        ScaleOutTest.tearDownClass()
    env = Env()
    try:
        env.start_bastion()
        lite_ms = setup_ms(env, env.bastion.port)
    finally:
        env.close()
    print(f"session setup (ssh web1 true): PostgreSQL store {pg_ms:.1f} ms, SQLite store {lite_ms:.1f} ms")
    record("scale_out.session_setup_pg", "session setup, PostgreSQL store", "ms", "SQLite store", lite_ms, pg_ms,
           detail=f"median of {RUNS}; connect to exit, one bastiond, loopback")


if __name__ == "__main__":
    main()
