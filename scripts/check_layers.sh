#!/bin/sh
# Fails when the folders of bastion/ include each other in a cycle.
# The graph: folder A -> folder B when a file under bastion/A/ includes
# "B/...". Folders are the first level under bastion/ (targets/ssh/ and
# targets/kubectl/ are both "targets"). Prints each cycle with the include
# lines that make it.
#
# usage: scripts/check_layers.sh [BASTION_DIR]   (default: bastion/ next to scripts/)
#
# KNOWN lists include lines that close a cycle today and are being removed
# (issue 13); each must still exist, so the list shrinks as they go. Never
# add a line to hide a new cycle.
set -eu
dir=${1:-$(dirname "$0")/../bastion}
exec /usr/bin/python3 - "$dir" <<'PY'
import os, re, sys

KNOWN = {
}

root = sys.argv[1]
folders = {d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))}
inc = re.compile(r'^\s*#\s*include\s+"([^"/]+)/')
edges = {}  # (a, b) -> ["file: include line"]
for dirpath, _, files in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    if rel == ".":
        continue  # the mains sit on top of everything
    a = rel.split(os.sep)[0]
    for f in sorted(files):
        if not f.endswith((".h", ".cpp")):
            continue
        path = os.path.join(dirpath, f)
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = inc.match(line)
                if m and m.group(1) in folders and m.group(1) != a:
                    edges.setdefault((a, m.group(1)), []).append(
                        os.path.join(rel, f) + ": " + line.strip())

present = {l for ls in edges.values() for l in ls}
graph = {}
for (a, b), ls in edges.items():
    if any(l not in KNOWN for l in ls):
        graph.setdefault(a, set()).add(b)

def sccs(nodes):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v); on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out

status = 0
for comp in sccs(folders):
    members = set(comp)
    print("include cycle between folders: " + " <-> ".join(comp))
    for (a, b), ls in sorted(edges.items()):
        if a in members and b in members:
            for l in ls:
                if l not in KNOWN:
                    print("  " + l)
    status = 1
for l in sorted(set(KNOWN) - present):
    print("stale KNOWN entry (that include is gone; remove it): " + l)
    status = 1
if status == 0:
    print("no include cycles between the folders of " + root)
sys.exit(status)
PY
