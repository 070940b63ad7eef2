"""sftp throughput on loopback: put and get of SIZE bytes with OpenSSH's
sftp, through bastiond (each file operation decided, bytes counted by the
SftpGate), through OpenSSH ProxyJump, and directly, against the same real
sshd (internal-sftp). Prints medians, MiB/s and ratios; checks every copy
byte for byte.

  BENCH_SFTP_BYTES (default 256 MiB), BENCH_SFTP_RUNS (default 3)
"""
import hashlib
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Env  # noqa: E402
from bench_results import record  # noqa: E402

SIZE = int(os.environ.get("BENCH_SFTP_BYTES", str(256 << 20)))
RUNS = int(os.environ.get("BENCH_SFTP_RUNS", "3"))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def timed_batch(cmd, batch):
    t = time.perf_counter()
    r = subprocess.run(cmd, input=batch.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr.decode()}")
    return dt


def main():
    env = Env()
    # The benchmark user may reach the sshd directly too (the baseline).
    with open(os.path.join(env.target.d, "authorized_keys"), "a") as f, open(env.alice + ".pub") as k:
        f.write(k.read())
    env.start_bastion()
    common = ["-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
              "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-i", env.alice]
    tp = str(env.target.port)
    user = env.user
    jump = f"ProxyCommand=ssh {' '.join(common)} -p {tp} -W %h:%p {user}@127.0.0.1"
    modes = {
        "openssh-direct": ["sftp", "-b", "-"] + common + ["-P", tp, f"{user}@127.0.0.1"],
        "openssh-proxyjump": ["sftp", "-b", "-"] + common + ["-o", jump, "-P", tp, f"{user}@127.0.0.1"],
        "bastiond": ["sftp", "-b", "-"] + common + ["-P", str(env.bastion.port), "web1@127.0.0.1"],
    }
    src = os.path.join(env.d, "bench.src")
    with open(src, "wb") as f:
        for _ in range(SIZE >> 20):
            f.write(os.urandom(1 << 20))
        f.write(os.urandom(SIZE & ((1 << 20) - 1)))
    want = sha256_file(src)
    remote = os.path.join(env.d, "bench.remote")
    back = os.path.join(env.d, "bench.back")
    try:
        put = {m: [] for m in modes}
        get = {m: [] for m in modes}
        for _ in range(RUNS):
            for m, cmd in modes.items():
                put[m].append(timed_batch(cmd, f"put {src} {remote}\n"))
                if sha256_file(remote) != want:
                    raise SystemExit(f"{m}: put is not byte-exact")
                get[m].append(timed_batch(cmd, f"get {remote} {back}\n"))
                if sha256_file(back) != want:
                    raise SystemExit(f"{m}: get is not byte-exact")
                os.unlink(remote)
                os.unlink(back)
        mib = SIZE / (1 << 20)
        for name, res in (("put", put), ("get", get)):
            direct = statistics.median(res["openssh-direct"])
            jumped = statistics.median(res["openssh-proxyjump"])
            print(f"sftp {name} of {mib:.0f} MiB ({RUNS} runs each, median, sha256 checked)")
            for m in modes:
                med = statistics.median(res[m])
                print(f"  {m:18s} {med:7.2f} s {mib / med:8.1f} MiB/s   vs direct {med / direct:5.2f}x"
                      f"   vs proxyjump {med / jumped:5.2f}x")
            record(f"sftp_{name}", f"sftp {name} of {mib:.0f} MiB (each file operation decided)", "MiB/s",
                   "OpenSSH ProxyJump", mib / jumped, mib / statistics.median(res["bastiond"]), higher_is_better=True,
                   detail=f"OpenSSH direct {mib / direct:.0f} MiB/s; {RUNS} runs each")
    finally:
        for p in (src, remote, back):
            if os.path.exists(p):
                os.unlink(p)
        env.close()


if __name__ == "__main__":
    main()
