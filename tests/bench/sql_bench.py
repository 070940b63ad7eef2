"""PostgreSQL through the bastion vs psql direct, in one run, against the same
real server (initdb'd here). Prints medians and ratios.

  one statement per connection: `ssh db@bastion "SELECT ..."` vs `psql -c`
  per statement in a session: N small SELECTs piped as a script (stdin), total / N
  marginal per statement: (N-statement session - median 1-statement session) / N,
    i.e. without the session setup (SSH handshake, psql connect) spread over N
  bulk: a 1,000,000-row SELECT as CSV
The bastion side includes what it adds per statement: parse, policy, two audit
writes, recording markers.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import pg_cluster  # noqa: E402
from harness import Env  # noqa: E402
from bench_results import record  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
STATEMENTS = int(os.environ.get("BENCH_SQL_STATEMENTS", "2000"))
ROWS = int(os.environ.get("BENCH_SQL_ROWS", "1000000"))
POLICY_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "policies")


def timed(cmd, env=None, input=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, input=input)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr.decode()}")
    return dt, r.stdout


def main():
    if not pg_cluster.available():
        print("sql bench: PostgreSQL server binaries not installed; skipped")
        return
    env = Env()
    env.pg = pg_cluster.PostgresCluster(os.path.join(env.d, "pg"))
    pw = os.path.join(env.keys.d, "pg_password")
    with open(pw, "w") as f:
        f.write(env.pg.password + "\n")
    os.chmod(pw, 0o600)
    for f in ("postgres.lua", "commands.lua"):
        shutil.copy(os.path.join(POLICY_DIR, f), os.path.join(env.d, f))
    env.start_bastion(targets=f"""  db = {{ type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "postgres",
         user = "postgres", password_file = "keys/pg_password", allow = {{ "ops" }},
         policy = "postgres.lua", row_limit = 0 }},""", limits="recording_max_bytes = 0")
    ssh = env.ssh_base() + ["db@127.0.0.1"]
    psql = ["psql", "-X", "-q", "-d", "postgres"]
    pgenv = env.pg.env()
    q = "SELECT 1 AS one"
    try:
        one = {"psql-direct": [], "bastiond": []}
        # One statement piped as a script: the same session shape as the
        # N-statement run, so the difference is the N-1 extra statements.
        one_script = f"{q};\n".encode()
        single = {"psql-direct": [], "bastiond": []}
        for _ in range(RUNS):
            one["psql-direct"].append(timed(psql + ["-c", q], env=pgenv)[0])
            one["bastiond"].append(timed(ssh + [q])[0])
            single["psql-direct"].append(timed(psql + ["-v", "ON_ERROR_STOP=1"], env=pgenv, input=one_script)[0])
            single["bastiond"].append(timed(ssh, input=one_script)[0])
        script = "".join(f"SELECT {i} AS n;\n" for i in range(STATEMENTS)).encode()
        per = {"psql-direct": [], "bastiond": []}
        for _ in range(5):
            per["psql-direct"].append(timed(psql + ["-v", "ON_ERROR_STOP=1"], env=pgenv, input=script)[0])
            per["bastiond"].append(timed(ssh, input=script)[0])
        big = f"SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g"
        bulk = {"psql-direct": [], "bastiond": []}
        for _ in range(3):
            bulk["psql-direct"].append(timed(psql + ["--csv", "-c", big], env=pgenv)[0])
            bulk["bastiond"].append(timed(ssh + ["--", "--csv " + big])[0])

        def report(title, data, unit, scale, per_item=1, key=None, figure=None, goal=None):
            base = statistics.median(data["psql-direct"]) / per_item
            print(title)
            for m, v in data.items():
                med = statistics.median(v) / per_item
                print(f"  {m:12s} {med * scale:9.3f} {unit}   ratio vs psql {med / base:5.2f}x")
            if key:
                record(key, figure, unit, "psql direct", base * scale,
                       statistics.median(data["bastiond"]) / per_item * scale, goal=goal)

        report(f"one statement per connection (`ssh db@bastion \"{q}\"` vs `psql -c`, {RUNS} runs, median)",
               one, "ms", 1000, key="sql_connection", figure="SQL, one statement per connection")
        report(f"per statement in one session ({STATEMENTS} small SELECTs from stdin, 5 runs, median / N)",
               per, "ms", 1000, STATEMENTS, key="sql_statement",
               figure=f"SQL, per statement in one session ({STATEMENTS} small SELECTs)", goal=("<=", 2.0))
        marginal = {m: [(t - statistics.median(single[m])) for t in v] for m, v in per.items()}
        report(f"marginal per statement in one session (({STATEMENTS}-statement session - median "
               f"1-statement session, {RUNS} runs) / N, median)",
               marginal, "ms", 1000, STATEMENTS, key="sql_statement_marginal",
               figure="SQL, marginal cost per statement in one session (session setup excluded)",
               goal=("<=", 2.0))
        report(f"bulk ({ROWS} rows as CSV, 3 runs, median)", bulk, "s", 1, key="sql_bulk",
               figure=f"SQL, {ROWS:,} rows as CSV", goal=("<=", 1.1))
    finally:
        env.close()
        env.pg.stop()


if __name__ == "__main__":
    main()
