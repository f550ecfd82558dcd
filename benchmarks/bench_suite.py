"""Wall time and peak memory of the README's test command: cold store, then warm store; with --base, the same for
a base revision first (a temporary git worktree run with this checkout's virtual environment), so before and after
are measured in one sitting on one machine.

Usage:  python benchmarks/bench_suite.py [-n 2] [--profile ci] [--base REV]     (runs the whole suite twice per tree)
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


def run_suite(tree, store, workers, profile, report):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers), "--dist", "loadfile",
           f"--claims-profile={profile}", f"--claims-store={store}", f"--claims-report={report}"]
    env = dict(os.environ, PYTHONPATH=str(tree))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or ["(no output)"]
    return wall, proc.returncode, tail[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2)
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--base", metavar="REV", help="also time this git revision, first")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = [("working tree", ROOT)]
        if a.base:
            base = Path(tmp) / "base-tree"
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), a.base], cwd=ROOT, check=True)
            trees.insert(0, (f"base {a.base}", base))
        try:
            for i, (name, tree) in enumerate(trees):
                store, report = os.path.join(tmp, f"store-{i}"), os.path.join(tmp, f"report-{i}")
                for label in ("cold", "warm"):
                    wall, rc, tail = run_suite(tree, store, a.n, a.profile, report)
                    print(f"{name}: {label}: -n {a.n} profile={a.profile} wall {wall:6.1f} s  exit {rc}  | {tail}",
                          flush=True)
        finally:
            if a.base:
                subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest process (controller or worker): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
