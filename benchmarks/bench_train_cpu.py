"""Training CPU-seconds of a cold ci run, a base revision against the working tree, in one sitting.

Each tree runs the ci profile's checks (`bnclaims run --profile ci`, the claim checks the README's test command runs)
on an empty temporary store, and the benchmark sums the store entries' compute time (`wall_s` in each entry's
info: the seconds a run or routine took to compute, one torch thread each). The base revision is checked out in
a temporary git worktree and run with this checkout's virtual environment (its own `harness` and `claims` packages
first on the path), so both trees see the same machine, torch and load. Also printed: each run's wall time, and
the entries whose compute time moved the most.

Usage:  python benchmarks/bench_train_cpu.py --base cd65475 [--workers 2] [--keep DIR] [C4 C2.a ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_suite import worktree  # noqa: E402


def run_tree(tree: Path, tmp: Path, label: str, workers: int, ids) -> tuple[float, dict, float, str]:
    """(summed compute seconds, {key: (what, seconds)}, wall seconds, last output line) of one cold ci run."""
    store, report = tmp / f"{label}-store", tmp / f"{label}-report"
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("BNCLAIMS_STORE", None)
    cmd = [sys.executable, "-m", "bnclaims.harness.cli", "run", "--profile", "ci", "--store", str(store), "--report", str(report),
           "--workers", str(workers), *ids]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    tail = ([ln for ln in proc.stdout.splitlines() if ln.strip()] or ["(no output)"])[-1]
    entries = {}
    for meta in store.glob("*/*/meta.json"):
        m = json.loads(meta.read_text())
        spec = m["spec"]
        model = spec.get("run", {}).get("model", {})
        what = spec.get("routine") or f"engine {model.get('norm', '?')} {model.get('activation', '')} d{model.get('depth', '')}"
        entries[m["key"]] = (f"{what} K={len(spec.get('seeds', []))}", float(m["info"].get("wall_s", 0.0)))
    return sum(s for _, s in entries.values()), entries, wall, tail


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="git revision to compare against (e.g. the previous head)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", metavar="DIR", help="keep both runs' stores and reports here (for bnclaims compare "
                    "DIR/base-report/report.json DIR/tree-report/report.json)")
    ap.add_argument("ids", nargs="*", help="claim or hypothesis ids (default: the whole ci profile)")
    a = ap.parse_args()
    if a.keep and Path(a.keep).exists() and any(Path(a.keep).iterdir()):
        ap.error(f"--keep {a.keep}: the folder exists and is not empty")
    with tempfile.TemporaryDirectory(prefix="bnclaims-bench-") as scratch:
        tmp = Path(a.keep or scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        with worktree(a.base, Path(scratch) / "base-tree") as base:
            rev = subprocess.run(["git", "rev-parse", "--short", a.base], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.strip()
            results = {}
            for label, tree in (("base", base), ("tree", ROOT)):
                results[label] = run_tree(tree, tmp, label, a.workers, a.ids)
                total, entries, wall, tail = results[label]
                print(f"{label:4s} ({rev if label == 'base' else 'working tree'}): training CPU-s {total:7.1f} over "
                      f"{len(entries)} store entries; wall {wall:6.1f} s  | {tail}", flush=True)
    (b_tot, b_ent, b_wall, _), (t_tot, t_ent, t_wall, _) = results["base"], results["tree"]
    print(f"cold ci training CPU-seconds: base {b_tot:.1f}, working tree {t_tot:.1f}: {b_tot / t_tot:.2f}x less "
          f"({100 * (1 - t_tot / b_tot):.0f} % saved); wall of the runs {b_wall:.0f} s -> {t_wall:.0f} s")
    by_what: dict = {}
    for ent, label in ((b_ent, 0), (t_ent, 1)):
        for what, s in ent.values():
            by_what.setdefault(what, [0.0, 0.0])[label] += s
    print("largest parts (summed over entries of one kind): base s -> tree s")
    for what, (b, t) in sorted(by_what.items(), key=lambda kv: -kv[1][0])[:12]:
        print(f"  {what:40s} {b:7.1f} -> {t:7.1f}" + (f"  {b / t:.2f}x" if t else ""))


if __name__ == "__main__":
    main()
