"""How often each verdict repeats on disjoint fresh seeds: the claim checks under several seed bases.

Usage:  python benchmarks/repeat_rates.py --bases 0 1 2 3 4 [-n 2] [--ids C1 C2] [--profile ci]
Prints a Markdown table: one row per hypothesis, one column per seed base, and the share of bases
whose verdict equals the seed-base-0 (or first) verdict.
"""
import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_base(base, args, outdir):
    report = outdir / f"base{base}"
    cmd = [sys.executable, "-m", "pytest", "--claims-only", "-q", "-p", "no:cacheprovider", "-n", str(args.n),
           "--dist", "loadfile", f"--claims-profile={args.profile}", f"--claims-seed-base={base}",
           f"--claims-report={report}"]
    if args.store:
        cmd.append(f"--claims-store={args.store}")
    if args.ids:
        cmd.append("--claims-ids=" + ",".join(args.ids))
    shutil.rmtree(report, ignore_errors=True)          # never read a stale report from an earlier run
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not (report / "report.json").exists():
        sys.exit(f"seed base {base}: pytest exited {proc.returncode} without a report\n{proc.stdout[-3000:]}")
    data = json.loads((report / "report.json").read_text())
    return {h["id"]: (h["verdict"], h["hypothesis"].get("confirmatory", True)) for h in data["hypotheses"]}, \
        time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bases", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("-n", type=int, default=2)
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--ids", nargs="*")
    ap.add_argument("--store", default=None)
    ap.add_argument("--out", default="repeat-rates")
    args = ap.parse_args()
    outdir = (ROOT / args.out).resolve()
    results = {}
    for b in args.bases:
        results[b], wall = run_base(b, args, outdir)
        print(f"seed base {b}: {len(results[b])} hypotheses in {wall:.0f} s", file=sys.stderr)
    ids = sorted({i for r in results.values() for i in r}, key=lambda s: [int(p) if p.isdigit() else p
                                                                           for p in s.replace(".", " ").split()])
    print("| hypothesis | role | " + " | ".join(f"base {b}" for b in args.bases) + " | repeat rate |")
    print("|---|---|" + "---|" * len(args.bases) + "---|")
    for i in ids:
        verdicts = [results[b].get(i, ("missing", True))[0] for b in args.bases]
        confirm = results[args.bases[0]].get(i, ("", True))[1]
        same = sum(v == verdicts[0] for v in verdicts)
        print(f"| {i} | {'confirmatory' if confirm else 'exploratory'} | " + " | ".join(verdicts)
              + f" | {same}/{len(verdicts)} |")


if __name__ == "__main__":
    main()
