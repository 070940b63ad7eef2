"""kubectl through the bastion vs kubectl direct, in one run, against the same
fake API server (tests/integration/fake_kube_api.py). Prints medians and
ratios. Each bastion run is a full `ssh k8s@bastion get pods` (connect,
certificate auth, policy, audit, recording, kubectl). "own-kubectl" is the
user's own kubectl through one long-lived `ssh -N -L` tunnel (each API
request a channel, decided and audited)."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from fake_kube_api import FakeKube  # noqa: E402
from harness import BASTIONCTL, Env, free_port, wait_port  # noqa: E402
from bench_results import record  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
POLICY_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "policies")


def timed(cmd, env=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr.decode()}")
    return time.perf_counter() - t


def main():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print("kubectl bench: kubectl not installed; skipped")
        return
    env = Env()
    kube = FakeKube("bench-token")
    kc = os.path.join(env.keys.d, "kubeconfig")
    kube.kubeconfig(kc)
    os.chmod(kc, 0o600)
    for f in ("kubernetes.lua", "commands.lua"):
        shutil.copy(os.path.join(POLICY_DIR, f), os.path.join(env.d, f))
    env.start_bastion(targets=f"""  k8s = {{ type = "kubectl", kubeconfig = "keys/kubeconfig", namespace = "web",
          allow = {{ "ops" }}, policy = "kubernetes.lua", kubectl = "{kubectl}" }},""")
    home = tempfile.mkdtemp()
    port = free_port()
    own_kc = os.path.join(env.d, "own.kubeconfig")
    subprocess.run([BASTIONCTL, "kubeconfig", "k8s", "--bastion", "127.0.0.1", "--port", str(env.bastion.port),
                    "--local-port", str(port), "--output", own_kc, "--"] + env.ssh_base()[1:-3],
                   check=True, stderr=subprocess.DEVNULL)
    tunnel = subprocess.Popen(env.ssh_base(extra=["-N", "-L", f"127.0.0.1:{port}:k8s:443"]) + ["k8s@127.0.0.1"])
    wait_port(port)
    # Direct: a fresh HOME each run too, as the bastion gives each session (no discovery cache).
    try:
        direct, bastion, own = [], [], []
        for _ in range(RUNS):
            shutil.rmtree(os.path.join(home, ".kube"), ignore_errors=True)
            direct.append(timed([kubectl, "get", "pods", "-n", "web"],
                                env={"KUBECONFIG": kc, "HOME": home, "PATH": "/usr/bin:/bin"}))
            bastion.append(timed(env.ssh_base() + ["k8s@127.0.0.1", "get", "pods", "-n", "web"]))
            shutil.rmtree(os.path.join(home, ".kube"), ignore_errors=True)
            own.append(timed([kubectl, "get", "pods", "-n", "web"],
                             env={"KUBECONFIG": own_kc, "HOME": home, "PATH": "/usr/bin:/bin"}))
        base = statistics.median(direct)
        print(f"`get pods` ({RUNS} runs each, median)")
        for name, v in (("kubectl-direct", direct), ("bastiond", bastion), ("own-kubectl", own)):
            med = statistics.median(v)
            print(f"  {name:15s} {med * 1000:8.1f} ms   ratio vs direct {med / base:5.2f}x")
        record("kubectl_get_pods", "kubectl `get pods` (fake API server)", "ms", "kubectl direct", base * 1000,
               statistics.median(bastion) * 1000,
               detail=f"the user's own kubectl through the bastion's tunnel: {statistics.median(own) * 1000:.0f} ms")
    finally:
        tunnel.terminate()
        tunnel.wait(10)
        env.close()
        kube.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
