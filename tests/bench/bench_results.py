"""One place where the end-to-end benchmarks put their headline figures.

Each bench script prints its own detail and calls `record()` for the figures
the performance goals are about. When BENCH_RESULTS names a file, each call
appends one JSON line to it; `report.py` turns those lines into the table
scripts/bench.sh prints and writes to docs/benchmarks.md.
"""
import json
import os


def record(key, figure, unit, anchor_label, anchor, bastion, goal=None, higher_is_better=False, detail=""):
    """key: stable id; figure: the row's text; unit: e.g. "ms", "MiB/s";
    anchor_label/anchor: what bastiond is compared with and its value;
    goal: ("<=", 0.6) or (">=", 1.0) on the ratio bastion/anchor, or None."""
    row = {"key": key, "figure": figure, "unit": unit, "anchor_label": anchor_label, "anchor": anchor,
           "bastion": bastion, "higher_is_better": higher_is_better, "detail": detail}
    if anchor:
        row["ratio"] = bastion / anchor
    if goal is not None:
        row["goal"] = [goal[0], goal[1]]
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
    return row
