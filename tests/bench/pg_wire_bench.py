"""pgbench select-only through the bastion's PostgreSQL wire proxy
(`ssh -N -L P:db:5432 db@bastion`) against pgbench over a plain OpenSSH
`ssh -N -L` (the harness's sshd) to the same server, in one run. Both legs
are SSH tunnels on loopback; the bastion's adds a statement parse, a policy
decision, two audit writes and a recording event per statement. The goal
(issue 18): at least 0.8x the plain tunnel's TPS.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import pg_cluster  # noqa: E402
from harness import Env, free_port, wait_port  # noqa: E402
from bench_results import record  # noqa: E402

SECONDS = int(os.environ.get("BENCH_PGBENCH_SECONDS", "10"))
RUNS = int(os.environ.get("BENCH_PGBENCH_RUNS", "3"))
CLIENTS = int(os.environ.get("BENCH_PGBENCH_CLIENTS", "1"))
POLICY_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "policies")


def tunnel(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


def pgbench(port, user, password=None):
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if password:
        env["PGPASSWORD"] = password
    r = subprocess.run(["pgbench", "-n", "-S", "-c", str(CLIENTS), "-T", str(SECONDS), "-h", "127.0.0.1",
                        "-p", str(port), "-U", user, "postgres"], capture_output=True, env=env, timeout=SECONDS + 60)
    out = r.stdout.decode()
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if r.returncode != 0 or not m or "number of failed transactions: 0 " not in out:
        raise SystemExit("pgbench failed:\n" + out + r.stderr.decode())
    return float(m.group(1))


def main():
    env = Env()
    env.pg = pg_cluster.PostgresCluster(os.path.join(env.d, "pg"))
    pw = os.path.join(env.keys.d, "pg_password")
    with open(pw, "w") as f:
        f.write(env.pg.password + "\n")
    os.chmod(pw, 0o600)
    for f in ("postgres.lua", "commands.lua"):
        shutil.copy(os.path.join(POLICY_DIR, f), os.path.join(env.d, f))
    # pii-reader: no mask applies to pgbench's tables; dba-admin: its catalog query (opaque functions) runs unheld.
    key = env.keys.cert(env.keys.keygen("bench"), env.ca, "bench", "ops,dba-admin,pii-reader")
    env.start_bastion(targets=f"""  db = {{ type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "postgres",
         user = "postgres", password_file = "keys/pg_password", allow = {{ "ops" }},
         policy = "postgres.lua", row_limit = 0 }},""", limits="recording_max_bytes = 0")
    procs = []
    try:
        r = subprocess.run(["pgbench", "-i", "-q", "-s", "1", "postgres"], env=env.pg.env(), capture_output=True)
        if r.returncode != 0:
            raise SystemExit(r.stderr.decode())
        bport, oport = free_port(), free_port()
        procs.append(tunnel(env.ssh_base(key, extra=["-N", "-L", f"127.0.0.1:{bport}:db:5432"]) + ["db@127.0.0.1"]))
        procs.append(tunnel(["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null",
                             "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
                             "-i", env.target_key, "-p", str(env.target.port), "-N",
                             "-L", f"127.0.0.1:{oport}:127.0.0.1:{env.pg.port}", f"{env.user}@127.0.0.1"]))
        wait_port(bport)
        wait_port(oport)
        tps = {"openssh -L": [], "bastiond": []}
        for _ in range(RUNS):
            tps["openssh -L"].append(pgbench(oport, "postgres", env.pg.password))
            tps["bastiond"].append(pgbench(bport, "anything"))
        base = statistics.median(tps["openssh -L"])
        print(f"pgbench -S, {CLIENTS} client(s), {SECONDS} s, {RUNS} runs (median TPS)")
        for m, v in tps.items():
            med = statistics.median(v)
            print(f"  {m:12s} {med:10.1f} TPS   ratio vs OpenSSH -L {med / base:5.2f}x   runs {', '.join(f'{x:.0f}' for x in v)}")
        record("pg_wire_tps", f"PostgreSQL wire proxy, pgbench -S TPS ({CLIENTS} client)", "TPS", "OpenSSH ssh -L",
               base, statistics.median(tps["bastiond"]), goal=(">=", 0.8), higher_is_better=True)
    except BaseException:
        env.dump_logs()
        raise
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        env.close()
        env.pg.stop()


if __name__ == "__main__":
    main()
