"""Recordings off the host: how fast bastiond ships a closed recording of
about SIZE bytes to an S3-compatible store (s3rver on loopback, from
tests/s3) against `curl --aws-sigv4 -T` of the same file.

bastiond's time runs from the recording's location turning "uploading" to
"stored": MD5 and SHA-256 of the file, the multipart upload (8 MiB parts,
each with Content-MD5 and its SHA-256), the completion and the HEAD that
reads the size back. curl's is one signed PUT with an unsigned payload.

  BENCH_S3_BYTES (default 256 MiB of recording), BENCH_S3_RUNS (default 3)
"""
import hashlib
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Env  # noqa: E402
from test_recordings_s3 import S3Server, store_config, ACCESS, SECRET  # noqa: E402
from bench_results import record  # noqa: E402

SIZE = int(os.environ.get("BENCH_S3_BYTES", str(256 << 20)))
RUNS = int(os.environ.get("BENCH_S3_RUNS", "3"))


def wait_location(env, rid, state, timeout=600):
    end = time.time() + timeout
    while time.time() < end:
        rows = env.audit("SELECT state FROM recording_locations WHERE recording_id=?", (rid,))
        if rows and rows[0][0] == state:
            return time.perf_counter()
        time.sleep(0.005)
    raise SystemExit(f"recording {rid} never reached {state}")


def main():
    env = Env()
    s3 = S3Server(env.d)
    try:
        env.start_bastion(extra=store_config(env, s3), limits="login_grace_time = 5, recording_max_bytes = 4294967296")
        ours, theirs, size = [], [], 0
        for run in range(RUNS):
            # Output in lines of 200 base64 characters: ~SIZE bytes of recording.
            raw = SIZE * 3 // 4 * 200 // 206
            r = env.ssh("web1", f"head -c {raw} /dev/zero | base64 -w 200; echo bench-run-{run}", timeout=900)
            if r.returncode != 0:
                raise SystemExit(f"session failed: {r.stderr.decode()}")
            end = time.time() + 30
            rows = []
            while not rows and time.time() < end:
                rows = env.audit("SELECT r.id, r.path, r.bytes FROM recordings r JOIN commands c ON c.recording = r.path "
                                 "WHERE c.text LIKE ? AND r.state = 'closed'", (f"%bench-run-{run}%",))
            rid, path, size = rows[0]
            copy = os.path.join(env.d, "copy.cast")
            subprocess.run(["cp", path, copy], check=True)  # before the shipper removes it
            t0 = wait_location(env, rid, "uploading")
            t1 = wait_location(env, rid, "stored")
            ours.append(t1 - t0)
            # The anchor: curl's own SigV4 PUT of the same bytes.
            t = time.perf_counter()
            c = subprocess.run(["curl", "-sS", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                                f"{ACCESS}:{SECRET}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", copy,
                                s3.url(f"anchor/run-{run}.cast")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            theirs.append(time.perf_counter() - t)
            if c.returncode != 0:
                raise SystemExit(f"curl failed: {c.stderr.decode()}")
            with open(copy, "rb") as f:
                if hashlib.md5(f.read()).hexdigest() != hashlib.md5(s3.get(f"anchor/run-{run}.cast")).hexdigest():
                    raise SystemExit("curl's object differs")
            os.unlink(copy)
        mib = size / (1 << 20)
        b, a = mib / statistics.median(ours), mib / statistics.median(theirs)
        print(f"recording of {mib:.0f} MiB: bastiond ships at {b:.1f} MiB/s (median of {RUNS}), "
              f"curl --aws-sigv4 -T at {a:.1f} MiB/s; ratio {b / a:.2f}")
        record("s3_upload", f"recording of {mib:.0f} MiB shipped to S3 (s3rver, loopback)", "MiB/s",
               "curl --aws-sigv4 -T", a, b, higher_is_better=True,
               detail="bastiond: MD5+SHA-256, 8 MiB parts each checked, completion, HEAD")
    finally:
        s3.close()
        env.close()


if __name__ == "__main__":
    main()
