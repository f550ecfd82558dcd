"""Run each vote's knock-out (claims/knockouts.py) and say whether the vote died without its mechanism.

Usage:  python benchmarks/knockouts.py [--seed-base 0] [--profile ci] [--ids C1.a S.a:detach] [--out knockouts.json]
        [--store DIR]

Each knock-out is the vote's hypothesis with the arms that carry its mechanism replaced; the vote and its
knock-out both run through harness.run.runner.run_check and the run store at the same seeds (so every run is
cached, and the vote's own runs are free where the suite already made them). died = the knock-out's verdict is
not "reproduced" (null under the smoke profile, whose verdicts are all "smoke": a plumbing run only). Writes knockouts.json (schema 1):
  {"schema": 1, "seed_base", "profile", "commit", "declarations_sha256" (claims.knockouts.declarations_sha256),
   "rows": [{"key", "vote", "subclaim", "removes", "votes", "vote_verdict", "vote_effect", "knockout_id",
             "knockout_verdict", "knockout_effect", "knockout_ci", "knockout_p", "knockout_reason", "died"}]}
(rows in declaration order; no timings, so the file is the same on every rerun) and prints a table; the
CPU seconds of each row go to stderr.
"""
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCHEMA = 1


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def run_one(k, ctx) -> dict:
    from bnclaims.claims import knockouts as ko
    from bnclaims.harness.run import runner
    claim, hyp = ko.find_vote(k.vote)
    kh = ko.knocked_out(k, hyp)
    vote_ev = runner.run_check(hyp, claim, ctx)
    ko_ev = runner.run_check(kh, claim, ctx)
    st = ko_ev["stats"]
    return {"key": k.key, "vote": k.vote, "subclaim": k.subclaim, "removes": k.removes, "votes": bool(hyp.votes),
            "vote_verdict": vote_ev["verdict"], "vote_effect": _num(vote_ev["stats"].get("effect")),
            "knockout_id": kh.id, "knockout_verdict": ko_ev["verdict"], "knockout_effect": _num(st.get("effect")),
            "knockout_ci": [_num(c) for c in st.get("ci") or []] or None, "knockout_p": _num(st.get("p")),
            "knockout_reason": st.get("reason"),
            "died": None if ko_ev["verdict"] == "smoke" else ko_ev["verdict"] != "reproduced"}


def _fmt(x, nd=3):
    return "-" if x is None else f"{x:.{nd}g}"


def table(rows) -> str:
    out = ["| knock-out | sub-claim | vote | vote effect | knock-out | effect [95% CI] | p | died |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = r["knockout_ci"]
        ci_s = f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""
        out.append(f"| {r['key']} | {r['subclaim']} | {r['vote_verdict']} | {_fmt(r['vote_effect'])} | "
                   f"{r['knockout_verdict']} | {_fmt(r['knockout_effect'])}{ci_s} | {_fmt(r['knockout_p'])} | "
                   f"{'-' if r['died'] is None else 'yes' if r['died'] else 'NO: survives'} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--ids", nargs="*", help="knock-out keys (C1.a, S.a:detach) or vote ids (S.a: all of its)")
    ap.add_argument("--store", default=None, help="run store folder (default: the harness's own)")
    ap.add_argument("--out", default="knockouts.json")
    ap.add_argument("--list", action="store_true", help="print the declared knock-outs and exit (runs nothing)")
    args = ap.parse_args(argv)

    from bnclaims.claims import knockouts as ko
    from bnclaims.harness.run.context import RunContext
    table_ = ko.by_key()
    if args.list:
        for k in table_.values():
            print(f"{k.key} ({k.subclaim}): removes {k.removes}")
        for vote, why in ko.NO_KNOCKOUT.items():
            print(f"{vote}: no knock-out: {why}")
        return
    chosen = list(table_.values())
    if args.ids:
        unknown = [i for i in args.ids if i not in table_ and not any(k.vote == i for k in chosen)]
        if unknown:
            sys.exit(f"unknown knock-out ids {unknown}; declared: {', '.join(table_)}")
        chosen = [k for k in chosen if k.key in args.ids or k.vote in args.ids]
    ctx = RunContext(profile=args.profile, seed_base=args.seed_base, store=args.store)
    ko.validate_all()
    rows = []
    for k in chosen:
        t0, c0 = time.perf_counter(), time.process_time()
        rows.append(run_one(k, ctx))
        print(f"{k.key}: {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU "
              f"(vote and knock-out, store hits included)", file=sys.stderr, flush=True)
    doc = {"schema": SCHEMA, "seed_base": args.seed_base, "profile": args.profile, "commit": _commit(),
           "declarations_sha256": ko.declarations_sha256(), "rows": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(table(rows))
    print(f"\nwritten {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
