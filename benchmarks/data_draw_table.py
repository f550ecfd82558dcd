"""How much the draw of the data set adds: the round-2 votes on one sample of MNIST-1D (every seed on data seed 42,
as registered) beside the same declarations where each seed draws its own data set (--data-draw per-seed), on the
same seeds.

Per vote: the effect [95% CI] and verdict of each run, whether the verdicts agree, and the spread of the per-seed
effect (paired: the SD of the per-seed differences; unpaired: the pooled SD of the two arms) in each run, with the
ratio of the variances (per-seed draw over fixed) and its 95% interval from the F distribution. A ratio above 1 is
spread the data draw adds; the share of the variance it adds is 1 - 1/ratio. The two runs share the model seeds,
so the F interval (for independent samples) is a rough guide, not a test. A vote whose arms cannot draw their
data (no data set, or a routine that fixes its own) is listed with why.

Usage:  python benchmarks/data_draw_table.py results/report.json results/data-draw-300/report.json [--out FILE.md]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bnclaims.harness.report import summary as sm  # noqa: E402


def spread(rec: dict) -> tuple[float, int] | None:
    """(SD of the per-seed effect, its degrees of freedom) of one record: paired, the SD of the differences of
    the compared arms' values; unpaired, their pooled SD. None without both arms' values."""
    st, h = rec.get("stats", {}), rec.get("hypothesis", {})
    x, y = st.get("values_x"), st.get("values_y")
    if x is None or y is None:
        arms = list(h.get("arms") or [])
        if len(arms) < 2 or any(a not in rec.get("arms", {}) for a in arms[:2]):
            return None
        x, y = rec["arms"][arms[0]]["values"], rec["arms"][arms[1]]["values"]
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if h.get("paired") and len(x) == len(y) and len(x) > 1:
        return float(np.std(x - y, ddof=1)), len(x) - 1
    if len(x) < 2 or len(y) < 2:
        return None
    pooled = ((len(x) - 1) * np.var(x, ddof=1) + (len(y) - 1) * np.var(y, ddof=1)) / (len(x) + len(y) - 2)
    return float(np.sqrt(pooled)), len(x) + len(y) - 2


def ratio_ci(sd_new: float, df_new: int, sd_old: float, df_old: int, level: float = 0.95) -> tuple:
    """The variance ratio (new over old) and its F interval."""
    if not (sd_old > 0) or not np.isfinite(sd_new):
        return float("nan"), (float("nan"), float("nan"))
    r = (sd_new / sd_old) ** 2
    a = (1 - level) / 2
    return r, (r / sps.f.ppf(1 - a, df_new, df_old), r / sps.f.ppf(a, df_new, df_old))


def _fmt(v, digits=3):
    return sm._num(v, digits)


def _effect(rec: dict) -> str:
    st = rec.get("stats", {})
    ci = st.get("ci") or [None, None]
    return f"{_fmt(st.get('effect'))} [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _why_fixed(rec: dict) -> str:
    d = (rec.get("extra") or {}).get("data_draw") or {}
    fixed = sorted({v for v in (d.get("arms") or {}).values() if not str(v).startswith("per seed")})
    return "; ".join(fixed)


def _cannot_draw(hid: str) -> str | None:
    """Why no arm of this hypothesis can draw its data per seed (harness.run.datadraw), or None where one can."""
    from bnclaims.harness.run import datadraw
    from bnclaims.harness.declare import registry
    h = next(iter(registry.find([hid])), None)
    if h is None or h.design is None:
        return None
    whys = [datadraw.why_fixed(a) for a in h.design.arms.values()]
    if any(w is None for w in whys):
        return None
    return "no arm can draw its data: " + "; ".join(sorted(set(whys)))


def table(fixed: dict, drawn: dict) -> tuple[str, dict]:
    from bnclaims.claims import round2
    a = {r["id"]: r for r in fixed.get("hypotheses", [])}
    b = {r["id"]: r for r in drawn.get("hypotheses", [])}
    head = ["sub-claim", "vote", "one sample: effect [95% CI]", "verdict", "own draw per seed: effect [95% CI]",
            "verdict", "agrees", "SD of the per-seed effect: one sample", "own draw", "variance ratio [95% CI]",
            "share of the variance from the draw"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tally = {"votes": 0, "compared": 0, "agree": 0, "not_drawn": []}
    for sid, votes in round2.VOTES.items():
        for v in votes:
            tally["votes"] += 1
            r, s = a.get(v.id), b.get(v.id)
            if r is None or s is None:
                why = "not in the one-sample report" if r is None else _cannot_draw(v.id) or "not run with a per-seed draw"
                tally["not_drawn"].append(f"{v.id} ({why})")
                continue
            why = _why_fixed(s)
            if why and not any(str(x).startswith("per seed") for x in
                               ((s.get("extra") or {}).get("data_draw") or {}).get("arms", {}).values()):
                tally["not_drawn"].append(f"{v.id} ({why})")
                continue
            tally["compared"] += 1
            agree = r.get("verdict") == s.get("verdict")
            tally["agree"] += agree
            sp_a, sp_b = spread(r), spread(s)
            if sp_a and sp_b:
                ratio, (lo, hi) = ratio_ci(sp_b[0], sp_b[1], sp_a[0], sp_a[1])
                share = f"{max(0.0, 1 - 1 / ratio):.0%}" if ratio > 0 else "-"
                sds = (_fmt(sp_a[0]), _fmt(sp_b[0]), f"{_fmt(ratio)} [{_fmt(lo)}, {_fmt(hi)}]", share)
            else:
                sds = ("-", "-", "-", "-")
            lines.append(f"| {sid} | {v.id} | {_effect(r)} | {r.get('verdict')} | {_effect(s)} | {s.get('verdict')} "
                         f"| {'yes' if agree else '**no**'} | " + " | ".join(sds) + " |")
    return "\n".join(lines), tally


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fixed", help="report.json of the registered run (one sample of the data set)")
    ap.add_argument("drawn", help="report.json of the same profile and seed base with --data-draw per-seed")
    ap.add_argument("--out", help="write the Markdown here as well")
    args = ap.parse_args(argv)
    fixed, drawn = (json.loads(Path(p).read_text()) for p in (args.fixed, args.drawn))
    ra, rb = fixed.get("run", {}), drawn.get("run", {})
    if (ra.get("profile"), ra.get("seed_base")) != (rb.get("profile"), rb.get("seed_base")):
        print(f"error: the reports are of different runs: profile {ra.get('profile')}, seed base {ra.get('seed_base')} "
              f"against profile {rb.get('profile')}, seed base {rb.get('seed_base')}", file=sys.stderr)
        return 2
    if rb.get("data_draw") != "per-seed" or ra.get("data_draw", "fixed") != "fixed":
        print("error: give the one-sample report first and the --data-draw per-seed report second", file=sys.stderr)
        return 2
    body, t = table(fixed, drawn)
    text = "\n".join([
        f"# One sample of the data set against a draw per seed (profile {ra.get('profile')}, seed base "
        f"{ra.get('seed_base')})", "",
        f"{t['agree']} of {t['compared']} votes give the same verdict when each seed draws its own MNIST-1D data set.",
        "", body, "",
        ("Not compared: " + "; ".join(t["not_drawn"]) + "." if t["not_drawn"] else ""),
        "", "The per-seed run is a secondary analysis of the registered declarations; it does not vote. "
            "Spread: paired votes, the SD of the per-seed differences; unpaired, the pooled SD. The variance ratio's "
            "F interval treats the runs as independent samples, which they are not quite (they share the model "
            "seeds); read it as a rough guide.", ""])
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
