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
    verdicts = {h["id"]: (h["verdict"], h["hypothesis"].get("confirmatory", True)) for h in data["hypotheses"]}
    nulls = [c for c in data.get("controls", []) if c.get("kind") == "null"]
    NULLS[base] = {"reproduced": [c["id"] for c in nulls if c["verdict"] == "reproduced"],
                   "gating": [c["id"] for c in nulls if c["verdict"] == "reproduced" and c.get("gating", True)],
                   "expected": (data.get("null_controls") or {}).get("expected_any"),
                   "expected_gating": (data.get("null_controls") or {}).get("gating_expected_any")}
    return verdicts, time.perf_counter() - t0


NULLS: dict = {}


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
    if NULLS:
        any_rep = sum(bool(v["reproduced"]) for v in NULLS.values())
        any_gate = sum(bool(v["gating"]) for v in NULLS.values())
        first = NULLS[args.bases[0]]
        print(f"\nnull (A/A) controls: at least one reproduced at {any_rep} of {len(NULLS)} seed bases "
              f"(expected about {first['expected']:.3f} per base); a gating one at {any_gate} of {len(NULLS)} "
              f"(expected about {first['expected_gating']:.3f})")
        for b, v in NULLS.items():
            if v["reproduced"]:
                print(f"  base {b}: {', '.join(v['reproduced'])}")


if __name__ == "__main__":
    main()
