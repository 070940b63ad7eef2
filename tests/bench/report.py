"""Builds the benchmark table from the JSON lines bench_results.record() wrote.

  report.py RESULTS.jsonl [--markdown OUT.md]

Prints the table; with --markdown also writes it, with the date and the
machine it ran on, to OUT.md (scripts/bench.sh: docs/benchmarks.md).
"""
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys


def fmt(v, unit):
    if v is None:
        return "-"
    if abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    elif abs(v) >= 1:
        s = f"{v:.2f}"
    else:
        s = f"{v:.3f}"
    return f"{s} {unit}"


def goal_text(row):
    g = row.get("goal")
    if not g:
        return "-", ""
    op, target = g
    r = row.get("ratio")
    met = r is not None and (r <= target if op == "<=" else r >= target)
    return f"{'≤' if op == '<=' else '≥'} {target:g}x", "met" if met else "NOT met"


def table(rows):
    out = ["| figure | anchor | anchor value | bastiond | ratio | goal | |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        g, met = goal_text(r)
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") is not None else "-"
        out.append(f"| {r['figure']} | {r['anchor_label']} | {fmt(r['anchor'], r['unit'])} | "
                   f"{fmt(r['bastion'], r['unit'])} | {ratio} | {g} | {met} |")
    return "\n".join(out)


def first_line(cmd):
    if not shutil.which(cmd[0]):
        return f"{cmd[0]}: not installed"
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return (r.stdout.strip().splitlines() or ["?"])[0]


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / (1 << 20):.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return [
        f"host: {platform.node()}, {platform.system()} {platform.release()} {platform.machine()}",
        f"cpu: {cpu}, {os.cpu_count()} cores; memory {mem}",
        f"OpenSSH: {first_line(['ssh', '-V'])}",
        f"psql: {first_line(['psql', '--version'])}",
        f"kubectl: {first_line(['kubectl', 'version', '--client'])}",
    ]


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: report.py RESULTS.jsonl [--markdown OUT.md]")
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    t = table(rows)
    print(t)
    if "--markdown" in sys.argv:
        out = sys.argv[sys.argv.index("--markdown") + 1]
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        details = [f"- {r['figure']}: {r['detail']}" for r in rows if r.get("detail")]
        text = ["# Benchmarks", "",
                f"Measured by `scripts/bench.sh` on {now}, every path in the same run on the same machine "
                "(loopback; medians). The ratio is bastiond's figure over the anchor's; the goals are issue 17's. "
                "Where the time goes, and what stands in the way of a goal not met: ARCHITECTURE.md, "
                "\"Performance: where the time goes\".", "",
                "Machine:", ""] + [f"- {m}" for m in machine()] + ["", t, ""]
        if details:
            text += ["Notes:", ""] + details + [""]
        with open(out, "w") as f:
            f.write("\n".join(text))
        print(f"written to {out}")


if __name__ == "__main__":
    main()
