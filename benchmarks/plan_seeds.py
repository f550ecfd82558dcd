"""Seeds per arm from a power analysis at each hypothesis's allocated alpha, on a pilot report.

The effect planned for is conservative: the one-sided lower confidence bound (level 0.9) of the pilot's
standardized effect (paired by seed: d_z of the within-seed differences), not its point estimate. The
planned n is at least the smallest n whose exact floor lies below alpha.

Usage:  python benchmarks/plan_seeds.py PILOT_REPORT.json [--power 0.8] [--level 0.9]

The declarations record the plan they adopted (Hypothesis.power); this script reproduces it.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import registry, stats as st  # noqa: E402


def pilot_pairs(rec, hyp):
    """(x, y) per-seed values of the pilot, paired by seed position; trend: (last, first)."""
    arms = rec["arms"]
    names = list(hyp.arms)
    if hyp.direction in ("decreasing", "increasing"):
        a, b = names[-1], names[0]
    else:
        a, b = names[0], names[1]
    x = np.asarray(arms[a]["values"], float)
    y = np.asarray(arms[b]["values"], float)
    n = min(x.size, y.size)
    return x[:n], y[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("report")
    ap.add_argument("--power", type=float, default=0.8)
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--write", metavar="JSON", help="save the plans of the voting hypotheses here "
                                                    "(claims/power_plan.json; a test holds the declarations to it)")
    a = ap.parse_args()
    saved = {}
    pilot = {r["id"]: r for r in json.loads(Path(a.report).read_text())["hypotheses"]}
    print(f"{'id':<16}{'test':<10}{'alpha':>8}{'pilot n':>8}{'d':>9}{'lcb':>9}{'floor n':>8}{'plan n':>7}"
          f"{'declared':>9}")
    for hyp in registry.all_hypotheses():
        if not hyp.statistical or hyp.id not in pilot:
            continue
        x, y = pilot_pairs(pilot[hyp.id], hyp)
        test = hyp.test
        extra = {"n_groups": len(hyp.arms)} if test == "trend" else {}
        try:
            if hyp.test == "tost":
                # equivalence: plan for the margin in sd units of the paired differences at the observed sd
                d = np.asarray(x - y)
                sd = float(np.std(d, ddof=1)) or 1e-12
                m = hyp.margin if not isinstance(hyp.margin, (tuple, list)) else min(abs(v) for v in hyp.margin)
                n = st.seeds_needed("tost", max(m - abs(d.mean()), 1e-9) / sd, alpha=hyp.alpha, power=a.power,
                                    paired=True)
                plan = {"d": float(d.mean() / sd), "lcb": float("nan"), "n": n, "floor_n": 2}
            else:
                plan = st.plan_seeds(x, y, test=test, alpha=hyp.alpha, paired=hyp.paired, power=a.power,
                                     level=a.level, **extra)
        except ValueError as e:
            print(f"{hyp.id:<16}{hyp.test:<10}{hyp.alpha:>8.4f}{x.size:>8}  cannot plan: {e}")
            continue
        print(f"{hyp.id:<16}{hyp.test:<10}{hyp.alpha:>8.4f}{x.size:>8}{plan['d']:>9.2f}{plan['lcb']:>9.2f}"
              f"{plan['floor_n']:>8}{plan['n']:>7}{hyp.budget('ci').seeds:>9}")
        if hyp.votes:
            saved[hyp.id] = {"test": hyp.test, "alpha": hyp.alpha, "pilot_n": int(x.size),
                             "d": round(float(plan["d"]), 3), "lcb": round(float(plan["lcb"]), 3),
                             "level": a.level, "power": a.power, "n": int(plan["n"]),
                             "floor_n": int(plan["floor_n"])}
    if a.write:
        doc = {"pilot": f"{Path(a.report).name}: ci profile, seed base 0, the design before the A/A amendment",
               "method": "one-sided lower confidence bound of the pilot's paired standardized effect; seeds "
                         "from harness.stats.plan_seeds at the allocated alpha", "plans": saved}
        Path(a.write).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
