"""End-to-end benchmark on loopback: bastiond vs OpenSSH direct vs OpenSSH
ProxyJump, in one run, against the same real sshd. Prints medians and ratios.

  connect+exec latency: `ssh ... true`, N runs each, interleaved
  bulk output: a command printing SIZE bytes of text, R runs each (recording
  on; and bastiond once more through a second target on the same host with
  `recording = "off"`, for what recording costs)
  BENCH_CLIENT_GCM=1 adds rows where every ssh client asks for
  aes128-gcm@openssh.com (OpenSSH's own first choice is chacha20-poly1305):
  printed, clearly labelled, not recorded as headline figures.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))
from harness import Env  # noqa: E402
from bench_results import record  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
BULK_RUNS = int(os.environ.get("BENCH_BULK_RUNS", "3"))
BULK_BYTES = int(os.environ.get("BENCH_BULK_BYTES", str(1 << 30)))


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr.decode()}")
    return dt, r.stdout


def main():
    env = Env()
    # Let the benchmark user reach the sshd directly too (the baseline).
    with open(os.path.join(env.target.d, "authorized_keys"), "a") as f, open(env.alice + ".pub") as k:
        f.write(k.read())
    # The same host again, unrecorded: what recording costs, in one bastiond.
    norec = f"""
  web1norec = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
                identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
                recording = "off" }},"""
    env.start_bastion(limits=f"recording_max_bytes = {4 * BULK_BYTES}", targets=env.default_targets() + norec)
    common = ["-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
              "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-i", env.alice, "-T"]
    tp = str(env.target.port)
    user = env.user
    modes = {
        "openssh-direct": ["ssh"] + common + ["-p", tp, f"{user}@127.0.0.1"],
        "openssh-proxyjump": ["ssh"] + common + ["-o", f"ProxyCommand=ssh {' '.join(common)} -p {tp} -W %h:%p {user}@127.0.0.1",
                                                 "-p", tp, f"{user}@127.0.0.1"],
        "bastiond": ["ssh"] + common + ["-p", str(env.bastion.port), "web1@127.0.0.1"],
    }
    bulk_modes = dict(modes)
    bulk_modes["bastiond-norec"] = ["ssh"] + common + ["-p", str(env.bastion.port), "web1norec@127.0.0.1"]
    if os.environ.get("BENCH_CLIENT_GCM"):
        gcm = ["-c", "aes128-gcm@openssh.com"]
        inner = ["ssh"] + common + gcm
        bulk_modes["openssh-direct+gcm"] = inner + ["-p", tp, f"{user}@127.0.0.1"]
        bulk_modes["openssh-jump+gcm"] = inner + [
            "-o", f"ProxyCommand=ssh {' '.join(common + gcm)} -p {tp} -W %h:%p {user}@127.0.0.1",
            "-p", tp, f"{user}@127.0.0.1"]
        bulk_modes["bastiond+gcm"] = inner + ["-p", str(env.bastion.port), "web1@127.0.0.1"]
    try:
        lat = {m: [] for m in modes}
        for _ in range(RUNS):
            for m, base in modes.items():
                lat[m].append(timed(base + ["true"])[0])
        bulk = {m: [] for m in bulk_modes}
        gen = f"yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c {BULK_BYTES}"
        for _ in range(BULK_RUNS):
            for m, base in bulk_modes.items():
                cmd = base + [gen]
                t = time.perf_counter()
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
                n = 0
                while True:
                    chunk = p.stdout.read(1 << 20)
                    if not chunk:
                        break
                    n += len(chunk)
                p.wait()
                dt = time.perf_counter() - t
                if n != BULK_BYTES:
                    raise SystemExit(f"{m}: got {n} bytes, expected {BULK_BYTES}")
                bulk[m].append(dt)
        base_lat = statistics.median(lat["openssh-direct"])
        base_bulk = statistics.median(bulk["openssh-direct"])
        print(f"connect+exec latency (`ssh ... true`, {RUNS} runs each, median)")
        for m in modes:
            med = statistics.median(lat[m])
            print(f"  {m:18s} {med * 1000:8.1f} ms   ratio vs direct {med / base_lat:5.2f}x")
        mib = BULK_BYTES / (1 << 20)
        print(f"bulk output ({mib:.0f} MiB of text, {BULK_RUNS} runs each, median; bastiond records it, "
              "bastiond-norec is the same host with recording = \"off\"; +gcm: the client asks for aes128-gcm)")
        for m in bulk_modes:
            med = statistics.median(bulk[m])
            print(f"  {m:18s} {med:8.2f} s  {mib / med:8.1f} MiB/s   ratio vs direct {med / base_bulk:5.2f}x")
        jump_lat = statistics.median(lat["openssh-proxyjump"])
        record("connect_exec", "connect + `exec true`", "ms", "OpenSSH ProxyJump", jump_lat * 1000,
               statistics.median(lat["bastiond"]) * 1000, goal=("<=", 0.6),
               detail=f"OpenSSH direct {base_lat * 1000:.0f} ms; {RUNS} runs each")
        jump_bulk = statistics.median(bulk["openssh-proxyjump"])
        record("bulk_output", f"{mib:.0f} MiB of text output, recording on", "MiB/s", "OpenSSH ProxyJump",
               mib / jump_bulk, mib / statistics.median(bulk["bastiond"]), goal=(">=", 1.0), higher_is_better=True,
               detail=f"OpenSSH direct {mib / base_bulk:.0f} MiB/s; {BULK_RUNS} runs each")
        rec, norec_t = statistics.median(bulk["bastiond"]), statistics.median(bulk["bastiond-norec"])
        record("bulk_output_norec", f"{mib:.0f} MiB of text output, recording off", "MiB/s", "OpenSSH ProxyJump",
               mib / jump_bulk, mib / norec_t, higher_is_better=True,
               detail=f"a target with recording = \"off\" on the same host and bastiond; {BULK_RUNS} runs each")
        record("recording_cost", f"{mib:.0f} MiB of text output: recording on vs off (time)", "s",
               "bastiond, recording off", norec_t, rec, goal=("<=", 1.10),
               detail=f"recording on {mib / rec:.0f} MiB/s, off {mib / norec_t:.0f} MiB/s")
    finally:
        env.close()
        # Each run leaves GiBs of recordings: a shared disk filled up with them.
        if os.environ.get("BASTION_KEEP_TMP") is None:
            shutil.rmtree(env.d, ignore_errors=True)


if __name__ == "__main__":
    main()
