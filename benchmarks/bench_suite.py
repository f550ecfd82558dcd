"""Wall time and peak memory of the README's test command: cold store, then warm store; with --base, the same for
a base revision first (a temporary git worktree run with this checkout's virtual environment), so before and after
are measured in one sitting on one machine.

Usage:  python benchmarks/bench_suite.py [-n 2] [--profile ci] [--base REV] [--keep DIR]   (the whole suite twice per tree)

--keep DIR keeps each tree's store and its cold and warm reports there (store-I, report-I-cold, report-I-warm).
"""
import argparse
import contextlib
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


@contextlib.contextmanager
def worktree(rev: str, where: Path):
    """A detached git worktree of rev at `where` (this checkout's repository), removed on the way out."""
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(where), rev], cwd=ROOT, check=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2)
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--base", metavar="REV", help="also time this git revision, first")
    ap.add_argument("--keep", metavar="DIR", help="keep the stores and reports in DIR (created if absent)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        keep = Path(a.keep).resolve() if a.keep else Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        trees = [("working tree", ROOT)]
        if a.base:
            trees.insert(0, (f"base {a.base}", stack.enter_context(worktree(a.base, Path(tmp) / "base-tree"))))
        for i, (name, tree) in enumerate(trees):
            store = os.path.join(keep, f"store-{i}")
            for label in ("cold", "warm"):
                wall, rc, tail = run_suite(tree, store, a.n, a.profile, os.path.join(keep, f"report-{i}-{label}"))
                print(f"{name}: {label}: -n {a.n} profile={a.profile} wall {wall:6.1f} s  exit {rc}  | {tail}",
                      flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest process (controller or worker): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
