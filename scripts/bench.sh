#!/usr/bin/env bash
# Benchmarks, measured not asserted:
#  1. end to end on loopback: bastiond vs OpenSSH direct vs OpenSSH ProxyJump
#     (connect+exec latency; 1 GiB of text output with recording on;
#     sftp put/get of 256 MiB, each file operation decided);
#     PostgreSQL: bastiond vs psql direct (per connection, per statement, bulk);
#     Kubernetes: bastiond vs kubectl direct (`get pods` against a fake API server);
#     OCI registry: skopeo push/pull of a 256 MiB image through the HTTP target vs direct;
#     idle interactive sessions: memory per session, CPU and wakeups while idle;
#     recordings off the host: a 256 MiB recording shipped to S3 vs curl -T;
#  2. Google Benchmark programs for in-process pieces (tests/bench/).
# BENCH_RUNS, BENCH_BULK_RUNS, BENCH_BULK_BYTES tune the end-to-end part;
# ECHO_KEYS the number of keystrokes per path for the echo latency;
# IDLE_STEPS (100,200,500) and IDLE_SECONDS (10) the idle-sessions bench.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
# Each end-to-end script records its headline figures here; report.py makes
# the table at the end and writes docs/benchmarks.md.
export BENCH_RESULTS="${BENCH_RESULTS:-$(mktemp /tmp/bastion-bench.XXXXXX.jsonl)}"
: > "$BENCH_RESULTS"
echo "== end to end"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/e2e_bench.py
echo
echo "== sftp: bastiond vs OpenSSH ProxyJump vs direct"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/sftp_bench.py
echo "== keystroke echo: bastiond vs OpenSSH direct vs OpenSSH ProxyJump"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/echo_latency.py
echo
echo "== idle interactive sessions: bastiond memory, CPU and wakeups at 100/200/500 (IDLE_STEPS)"
BASTION_BUILD="$PWD/build" IDLE_JUMP="${IDLE_JUMP:-1}" /usr/bin/python3 tests/bench/idle_sessions.py
echo
echo "== PostgreSQL: bastiond vs psql direct"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/sql_bench.py
echo
echo "== PostgreSQL clients through a forward: pgbench via the bastion's wire proxy vs via OpenSSH ssh -L"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/pg_wire_bench.py
echo
echo "== scale out: approvals across instances, session setup on PostgreSQL vs SQLite"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/scale_out_bench.py
echo
echo "== Kubernetes: bastiond vs kubectl direct (fake API server)"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/kubectl_bench.py
echo
echo "== OCI registry: skopeo push/pull through the bastion's HTTP target vs skopeo direct"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/registry_bench.py
echo
echo "== recordings off the host: bastiond's shipper vs curl --aws-sigv4 -T (s3rver on loopback)"
BASTION_BUILD="$PWD/build" /usr/bin/python3 tests/bench/s3_upload_bench.py
echo
echo "== in-process (Google Benchmark)"
for b in build/tests/bench/bench_*; do
  "$b" --benchmark_min_time=0.2
done
echo
echo "== summary (also written to docs/benchmarks.md)"
/usr/bin/python3 tests/bench/report.py "$BENCH_RESULTS" --markdown docs/benchmarks.md
