"""Seeds per vote for round 2, by simulating the exact test on the pilot (harness.stats.power.plan).

For each round-2 vote (claims/round2.py) the pilot's paired differences (a trend: its seeds x groups table) are
resampled, moved to the one-sided 0.9 lower confidence bound of the pilot's effect, and tested exactly as the
suite tests them (minimum-effect form, exact null) at the vote's allocated alpha. n is the smallest number of
seeds whose floor is at most alpha/10 and that tolerates a discordant seed, raised until the power reaches 0.8
where the pilot allows it (up to 40); otherwise the vote is planned at the floor rule and marked underpowered.

Usage:  python benchmarks/plan_seeds.py PILOT_REPORT.json [--write claims/power_plan.json]
        (the pilot: results/pilot-seedbase0/report.json)

A test holds claims/round2.py's n to the saved plan.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnclaims.harness.stats import power
from bnclaims.harness.declare import registry  # noqa: E402


def pilot_data(rec, hyp):
    """The pilot's paired differences x - y, or for a trend its [seeds, groups] table in declared order."""
    arms = rec["arms"]
    cols = [np.asarray(arms[a]["values"], float) for a in hyp.arms]
    n = min(c.size for c in cols)
    if hyp.test == "trend":
        return np.column_stack([c[:n] for c in cols])
    return cols[0][:n] - cols[1][:n]


def plans(pilot_report: str):
    from bnclaims.claims import round2
    pilot = {r["id"]: r for r in json.loads(Path(pilot_report).read_text())["hypotheses"]}
    hyps = {h.id: h for h in registry.all_hypotheses()}
    claims = {c.id: c for c in registry.claims()}
    out = {}
    for sid, votes in round2.VOTES.items():
        claim = claims[sid.split(".")[0]]
        alloc = round2.allocation(claim)
        for v in votes:
            hid, sesoi = v.id, v.sesoi
            hyp = hyps[hid]
            data = pilot_data(pilot[hid], hyp)
            k = len(hyp.arms) if hyp.test == "trend" else 2
            pl = power.plan(data, test=hyp.test, alpha=alloc[hid], direction=hyp.direction, sesoi=sesoi,
                            margin=hyp.margin, n_groups=k)
            out[hid] = {"subclaim": sid, "test": hyp.test, "direction": hyp.direction, "alpha": alloc[hid],
                        "sesoi": sesoi, "margin": hyp.margin, "pilot_n": int(data.shape[0]),
                        "mu_pilot": round(pl["mu_pilot"], 6), "mu_plan": round(pl["mu_plan"], 6),
                        "n": pl["n"], "floor_rule_n": pl["floor_rule_n"], "floor_p": pl["floor_p"],
                        "power": pl["power"], "discordant_tolerated": pl["discordant_tolerated"],
                        "underpowered": pl["underpowered"]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", help="the pilot's report.json (seed base 0)")
    ap.add_argument("--write", metavar="JSON", help="save the plans here (claims/power_plan.json)")
    a = ap.parse_args()
    out = plans(a.report)
    print(f"{'sub-claim':<10}{'vote':<8}{'test':<10}{'alpha':>9}{'SESOI':>8}{'pilot':>6}{'effect':>10}{'planned':>10}"
          f"{'n':>4}{'floor p':>10}{'power':>7}{'discordant ok':>14}")
    for hid, p in out.items():
        ses = "margin" if p["sesoi"] is None else f"{p['sesoi']:g}"
        tol = "-" if p["discordant_tolerated"] is None else str(p["discordant_tolerated"])
        print(f"{p['subclaim']:<10}{hid:<8}{p['test']:<10}{p['alpha']:>9.5f}{ses:>8}{p['pilot_n']:>6}"
              f"{p['mu_pilot']:>10.4g}{p['mu_plan']:>10.4g}{p['n']:>4}{p['floor_p']:>10.2e}{p['power']:>7.2f}"
              f"{tol:>14}" + ("  underpowered at the pilot's bound" if p["underpowered"] else ""))
    if a.write:
        doc = {"pilot": f"{a.report}: ci profile, seed base 0 (the pilot round)",
               "method": "harness.stats.power.plan: smoothed bootstrap of the pilot's paired differences (trend: rows), "
                         "moved to the one-sided 0.9 lower bound of its effect in the direction of H1; the exact "
                         "test in its minimum-effect form at the allocated alpha, 2000 simulated sets per n; n is "
                         "the smallest with floor <= alpha/10, one discordant seed tolerated, and power >= 0.8",
               "plans": out}
        Path(a.write).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
