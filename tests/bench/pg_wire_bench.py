"""pgbench through the bastion's PostgreSQL wire proxy vs pgbench through a
plain OpenSSH `ssh -L` forward, in one run, against the same real server
(initdb'd here). Both legs are an SSH tunnel on loopback; the bastion's also
parses, decides (policy), audits (two audit writes per statement) and records
every statement, which is what the ratio prices.

  select-only (pgbench -S), simple protocol, 1 client and 4 clients
  select-only, prepared statements (-M prepared: Parse once, Bind/Execute each)
Rounds are interleaved (anchor, bastion, anchor, ...); medians are reported,
with the relay's CPU per transaction (the target's sshd and its children, or
bastiond): on a machine whose cores the client, relay and server share, the
TPS ratio follows that figure.
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import pg_cluster  # noqa: E402
from harness import Env, free_port  # noqa: E402
from bench_results import record  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_PGWIRE_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_PGWIRE_SECONDS", "5"))
POLICY_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "policies")


def wait_forward(port, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"forward on port {port} never opened")


def cpu_ticks(pids):
    """utime+stime, in clock ticks, of the processes PIDS and all their descendants."""
    ticks, children = {}, {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        ticks[int(d)] = int(fields[11]) + int(fields[12])
        children.setdefault(int(fields[1]), []).append(int(d))
    total, pending = 0, list(pids)
    while pending:
        pid = pending.pop()
        total += ticks.get(pid, 0)
        pending += children.get(pid, [])
    return total


def pgbench(port, clients, mode, env, cpu_of=()):
    cmd = ["pgbench", "-n", "-S", "-M", mode, "-T", str(SECONDS), "-c", str(clients), "-j", str(min(clients, 2)),
           "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "postgres"]
    before = cpu_ticks(cpu_of)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=SECONDS * 4 + 30)
    used = cpu_ticks(cpu_of) - before
    out = r.stdout.decode()
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if r.returncode != 0 or not m or (failed and failed.group(1) != "0"):
        raise SystemExit(f"pgbench failed on port {port}:\n{out}\n{r.stderr.decode()}")
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    us_per_tx = used * 1e6 / os.sysconf("SC_CLK_TCK") / max(1, int(done.group(1))) if done else 0.0
    return float(m.group(1)), us_per_tx


def main():
    env = Env()
    env.pg = pg_cluster.PostgresCluster(os.path.join(env.d, "pg"))
    pw = os.path.join(env.keys.d, "pg_password")
    with open(pw, "w") as f:
        f.write(env.pg.password + "\n")
    os.chmod(pw, 0o600)
    for f in ("postgres.lua", "commands.lua"):
        shutil.copy(os.path.join(POLICY_DIR, f), os.path.join(env.d, f))
    # The anchor: the same user's key reaches the sshd directly.
    with open(os.path.join(env.target.d, "authorized_keys"), "a") as f, open(env.alice + ".pub") as k:
        f.write(k.read())
    env.start_bastion(targets=f"""  db = {{ type = "postgres", host = "127.0.0.1", port = {env.pg.port}, dbname = "postgres",
         user = "postgres", password_file = "keys/pg_password", allow = {{ "ops" }},
         policy = "postgres.lua", row_limit = 0 }},""", limits="recording_max_bytes = 0")
    pgenv = env.pg.env()
    subprocess.run(["pgbench", "-q", "-i", "-s", "1", "postgres"], env=pgenv, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    common = ["ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
              "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "ExitOnForwardFailure=yes",
              "-i", env.alice, "-N"]
    ports = {"openssh-L": free_port(), "bastiond": free_port()}
    fwd = [
        subprocess.Popen(common + ["-L", f"{ports['openssh-L']}:127.0.0.1:{env.pg.port}", "-p", str(env.target.port),
                                   f"{env.user}@127.0.0.1"], stdin=subprocess.DEVNULL),
        subprocess.Popen(common + ["-L", f"{ports['bastiond']}:db:5432", "-p", str(env.bastion.port), "db@127.0.0.1"],
                         stdin=subprocess.DEVNULL),
    ]
    # The anchor authenticates to the server with the password; through the
    # bastion the certificate already did, and the password is never asked.
    envs = {"openssh-L": pgenv, "bastiond": {k: v for k, v in pgenv.items() if k != "PGPASSWORD"}}
    try:
        for p in ports.values():
            wait_forward(p)
        cases = [("select-only, 1 client", 1, "simple", "pg_wire_tps_1"),
                 ("select-only, 4 clients", 4, "simple", "pg_wire_tps_4"),
                 ("select-only, prepared, 1 client", 1, "prepared", "pg_wire_tps_prepared")]
        # Whose CPU each leg adds: bastiond, or the target's sshd (the
        # process serving the forward is a child of the listener).
        relays = {"openssh-L": [env.target.proc.pid], "bastiond": [env.bastion.proc.pid]}
        for title, clients, mode, key in cases:
            tps = {m: [] for m in ports}
            cpu = {m: [] for m in ports}
            for _ in range(ROUNDS):
                for m, p in ports.items():
                    t, c = pgbench(p, clients, mode, envs[m], relays[m])
                    tps[m].append(t)
                    cpu[m].append(c)
            base = statistics.median(tps["openssh-L"])
            print(f"pgbench -S -M {mode} -c {clients}, {SECONDS} s x {ROUNDS} rounds, median TPS"
                  " (and the relay's CPU per transaction: sshd or bastiond)")
            for m, v in tps.items():
                print(f"  {m:10s} {statistics.median(v):10.0f} TPS   ratio vs ssh -L {statistics.median(v) / base:5.2f}x"
                      f"   relay CPU {statistics.median(cpu[m]):6.0f} us/tx")
            record(key, f"pgbench {title} (TPS)", "TPS", "pgbench over OpenSSH ssh -L", base,
                   statistics.median(tps["bastiond"]), goal=(">=", 0.8), higher_is_better=True)
    finally:
        for p in fwd:
            p.terminate()
        env.close()
        env.pg.stop()


if __name__ == "__main__":
    main()
