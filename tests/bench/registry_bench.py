"""An OCI image push and pull through the bastion's HTTP target (skopeo via
`ssh -N -L PORT:registry:443`, every request decided, audited, summarised
in the recording, the held credential added upstream) against skopeo
straight to the same registry (docker-registry, TLS, htpasswd). One layer of
REGISTRY_BENCH_MIB (256) MiB; runs interleaved, medians, ratios. Also the
bastiond peak RSS growth over the bastion pushes (VmHWM)."""
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Env, free_port, wait_port  # noqa: E402
from registry_fixture import Registry, make_image, skopeo  # noqa: E402
from bench_results import record  # noqa: E402

RUNS = int(os.environ.get("REGISTRY_BENCH_RUNS", "3"))
MIB = int(os.environ.get("REGISTRY_BENCH_MIB", "256"))
POLICY_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "policies")


def timed(args):
    t = time.perf_counter()
    r = skopeo(args, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"failed: skopeo {' '.join(args)}\n{r.stderr.decode()}")
    return time.perf_counter() - t


def hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024


def main():
    env = Env()
    reg = Registry(env.d)
    tunnel = None
    try:
        pw = os.path.join(env.keys.d, "registry.pass")
        with open(pw, "w") as f:
            f.write(reg.password + "\n")
        os.chmod(pw, 0o600)
        for name in ("commands.lua", "registry.lua"):
            shutil.copy(os.path.join(POLICY_DIR, name), os.path.join(env.d, name))
        ci = env.keys.cert(env.keys.keygen("cibot"), env.ca, "cibot", "ci-push")
        env.start_bastion(targets=f"""
  registry = {{ type = "http", url = "{reg.url}", ca_file = "{reg.cert}", registry = true,
               basic = {{ user = "{reg.user}", password_file = "keys/registry.pass" }},
               allow = {{ "ci-push" }}, policy = "registry.lua" }},""")
        port = free_port()
        tunnel = subprocess.Popen(env.ssh_base(ci, extra=["-N", "-L", f"127.0.0.1:{port}:registry:443",
                                                          "-o", "ExitOnForwardFailure=yes"]) + ["registry@127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        creds = f"{reg.user}:{reg.password}"
        pid = env.bastion.proc.pid
        push_b, push_d, pull_b, pull_d = [], [], [], []
        rss_before = hwm(pid)
        for i in range(RUNS):
            # A layer of its own for each push: every blob is uploaded, none mounted from another repository.
            layouts = []
            for mode in ("d", "b"):
                layouts.append(os.path.join(env.d, f"image-{mode}{i}"))
                make_image(layouts[-1], "1", layer_bytes=MIB << 20, seed=f"{mode}{i}".encode())
            push_d.append(timed(["copy", "--preserve-digests", "--dest-tls-verify=false", f"--dest-creds={creds}",
                                 f"oci:{layouts[0]}:1", f"docker://127.0.0.1:{reg.port}/direct{i}/app:1"]))
            push_b.append(timed(["copy", "--preserve-digests", "--dest-tls-verify=false", f"oci:{layouts[1]}:1",
                                 f"docker://127.0.0.1:{port}/ci/bench{i}:1"]))
            for d in layouts:
                shutil.rmtree(d)
            for d in ("pd", "pb"):
                shutil.rmtree(os.path.join(env.d, d), ignore_errors=True)
            pull_d.append(timed(["copy", "--src-tls-verify=false", f"--src-creds={creds}",
                                 f"docker://127.0.0.1:{reg.port}/direct{i}/app:1", f"dir:{env.d}/pd"]))
            pull_b.append(timed(["copy", "--src-tls-verify=false", f"docker://127.0.0.1:{port}/ci/bench{i}:1",
                                 f"dir:{env.d}/pb"]))
        rss_growth = hwm(pid) - rss_before
        for name, b, d in (("push", push_b, push_d), ("pull", pull_b, pull_d)):
            mb, md = MIB / statistics.median(b), MIB / statistics.median(d)
            print(f"{name} {MIB} MiB: bastion {mb:.0f} MiB/s, direct {md:.0f} MiB/s, ratio {mb / md:.2f} "
                  f"(runs {RUNS}; bastion s {[round(x, 2) for x in b]}, direct s {[round(x, 2) for x in d]})")
            record(f"registry_{name}", f"skopeo {name} of a {MIB} MiB image (each request decided)", "MiB/s",
                   "skopeo direct", md, mb, higher_is_better=True,
                   detail=f"median of {RUNS}; bastiond VmHWM +{rss_growth:.0f} MiB over the runs")
        print(f"bastiond VmHWM growth over the runs: {rss_growth:.0f} MiB")
    finally:
        if tunnel:
            tunnel.terminate()
            tunnel.wait(10)
        reg.stop()
        env.close()


if __name__ == "__main__":
    main()
