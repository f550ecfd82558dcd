"""Wall time and peak memory of the README's test command: cold store, then warm store.

Usage:  python benchmarks/bench_suite.py [-n 2] [--profile ci]     (runs the whole suite twice)
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_suite(store, workers, profile, report):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers), "--dist", "loadfile",
           f"--claims-profile={profile}", f"--claims-store={store}", f"--claims-report={report}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or ["(no output)"]
    return wall, proc.returncode, tail[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=2)
    ap.add_argument("--profile", default="ci")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, report = os.path.join(tmp, "store"), os.path.join(tmp, "report")
        for label in ("cold", "warm"):
            wall, rc, tail = run_suite(store, a.n, a.profile, report)
            print(f"{label}: -n {a.n} profile={a.profile} wall {wall:6.1f} s  exit {rc}  | {tail}")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest process (controller or worker): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
