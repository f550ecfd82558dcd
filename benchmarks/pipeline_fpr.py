"""False-positive rates of the whole pipeline under A/A (no effect), per check, with Clopper-Pearson intervals.

Three estimates, each printed as a Markdown table:

1. resampled A/A (every statistical hypothesis with an A/A control): the control arm's runs on all the
   seeds the suite trained for it (the hypothesis's seeds and the A/A arms' disjoint seeds) are split at
   random into arms of the declared size, then pushed through the same code as a real check: rate
   selection on a grid, the reduction, the margin shift of an equivalence null, the paired test at the
   allocated alpha, pre-declared criteria and gates. A realisation counts when its verdict is "reproduced".
   The splits are exchangeable under no effect, so the rate estimates the pipeline's type-I error given
   those runs. Needs the runs in the store (run the suite first; nothing is trained here).
2. real A/A (checks whose realisation costs under about a CPU-second: the analytic routines, Yang's
   gradient norms at initialization):
   the A/A control run end to end by harness.runner on many disjoint seed bases, training included, in a
   temporary store.
3. the bare tests at the (test, n, alpha, pairing) combinations the declarations use, on normal,
   lognormal and tied (rounded) data.

Target: every estimate at or below its alpha ("within noise": above it, with the 95% interval reaching it;
"NO": the whole interval above it). Usage:
    python benchmarks/pipeline_fpr.py --store STORE [--splits 2000] [--real-bases 200] [--bare 4000]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import checks, design as ds, registry, routines, runner, stats as st, verdict as vd  # noqa: E402
from harness.context import RunContext  # noqa: E402


def judged(rate: float, lo: float, alpha: float) -> str:
    """yes: at or below alpha; within noise: above it, but the interval reaches alpha; NO: the interval is above."""
    return "yes" if rate <= alpha else ("within noise" if lo <= alpha else "NO")


def cp(k: int, n: int, level: float = 0.95):
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return ci.low, ci.high


def _no_interval(*a, **k):
    return (float("nan"), float("nan"))


def subset(run, idx, grid: bool, total: int):
    """The members idx of one arm's runs (a grid arm: per rate). The seed axis is the engine's convention
    (harness.checks.member_axis) where its length is the pool's, else the first axis of that length
    (routines keep per-seed arrays on axis 0)."""
    if grid:
        return {lr: subset(r, idx, False, total) for lr, r in run.items()}
    out = {}
    for key, v in run.items():
        axis = seed_axis(key, np.asarray(v), total)
        out[key] = v if axis is None else np.take(v, idx, axis)
    return out


def seed_axis(key, v, n: int):
    """The engine's seed axis (harness.checks.member_axis) where it has n members, else the first axis that
    has (a routine's per-seed arrays, [K] even where the name reads like an engine curve)."""
    axis = checks.member_axis(key, v)
    if axis is not None and (v.ndim <= axis or v.shape[axis] != n):
        axis = next((i for i, m in enumerate(v.shape) if m == n), None)
    return axis


def concat(parts: list, grid: bool, n: int):
    """Join runs of n members each along their seed axes (a grid arm: per rate)."""
    if grid:
        return {lr: concat([p[lr] for p in parts], False, n) for lr in parts[0]}
    out = {}
    for key, v in parts[0].items():
        axis = seed_axis(key, np.asarray(v), n)
        out[key] = v if axis is None else np.concatenate([np.asarray(p[key]) for p in parts], axis)
    return out


def resampled(hyp, ctx, splits: int, rng) -> dict | None:
    """Rate of "reproduced" over random splits of the control arm's pooled runs."""
    aa = ds.null_control(hyp)
    if aa is None:
        return None
    d = hyp.design.with_control(aa)
    res = runner.Result(hyp=hyp, ctx=ctx, design=d, control=aa.name, seeds=ctx.seeds(hyp))
    res.arms = {name: runner.resolve_arm(a, hyp, ctx) for name, a in d.arms.items()}
    compared = list(hyp.arms)
    ref = compared[0] if hyp.direction in ("decreasing", "increasing") else compared[1]
    arm = res.arms[ref]
    grid = bool(arm.lrs)
    n = len(res.seeds)
    memo: dict = {}
    d = res.design = runner._tuned(res, d, memo)      # a rate tuned on other seeds is tuned as in the check
    offsets = [0] + [aa.seeds[a] for a in compared if a in aa.seeds]
    pool = [runner._run_arm(arm, [s + o for s in res.seeds], ctx, memo) for o in offsets]
    pool = concat(pool, grid, n)
    total = n * len(offsets)
    hits = 0
    for _ in range(splits):
        perm = rng.permutation(total)
        for j, name in enumerate(compared):
            res.runs[name] = subset(pool, perm[j * n:(j + 1) * n], grid, total)
        for name, a in res.arms.items():
            if name not in compared and a.constant is None:
                continue
            if name not in res.runs:
                res.runs[name] = None
            res.values[name], res.arrays[name], res.lr[name] = runner._reduce(a, res.runs[name], d.metric_of(name), n)
            if name in aa.shift:
                res.values[name] = res.values[name] + aa.shift[name]
        stats = runner._test(res)
        stats = vd.apply_criteria(stats, [runner._criterion(c, res) for c in d.criteria])
        hits += stats["verdict"] == "reproduced"
    return {"hits": hits, "n": splits, "pool": total}


def real(hyp, claim, bases: int) -> dict:
    """Rate of "reproduced" of the A/A control run end to end on disjoint seed bases 1..bases."""
    hits = 0
    with tempfile.TemporaryDirectory() as tmp:
        for b in range(1, bases + 1):
            ctx = RunContext(profile="ci", seed_base=b, store=tmp)
            ev = runner.run_check(hyp, claim, ctx, control=ds.AA)
            hits += ev["verdict"] == "reproduced"
    return {"hits": hits, "n": bases}


def bare(combos, draws: int, rng) -> list:
    rows = []
    for (test, n, alpha, paired, k) in sorted(combos):
        for dist in ("normal", "lognormal", "tied"):
            hits = 0
            for _ in range(draws):
                shape = (k, n) if test == "trend" else (2, n)
                v = rng.standard_normal(shape)
                if dist == "lognormal":
                    v = np.exp(v)
                elif dist == "tied":
                    v = np.round(v)
                if paired:
                    v = v + 3 * rng.standard_normal(n)          # a seed (block) effect shared by the arms
                if test == "trend":
                    p = st.trend_test(list(v), "decreasing", paired=paired)["p"]
                else:
                    p = st.one_sided_p(v[0], v[1], test, "greater", paired=paired)
                hits += p < alpha
            rows.append((test, n, alpha, paired, k, dist, hits, draws))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", required=True, help="the run store the suite filled (ci profile, seed base 0)")
    ap.add_argument("--splits", type=int, default=2000)
    ap.add_argument("--real-bases", type=int, default=200)
    ap.add_argument("--bare", type=int, default=4000)
    ap.add_argument("--ids", nargs="*")
    a = ap.parse_args()
    from harness import engine  # noqa: F401  (one torch thread)
    st.bca_ci = _no_interval        # intervals do not enter a verdict; skipping them makes splits cheap
    rng = np.random.default_rng(20261201)
    ctx = RunContext(profile="ci", seed_base=0, store=a.store)
    claims = {c.id: c for c in registry.claims()}
    hyps = [h for h in registry.all_hypotheses() if h.statistical and (not a.ids or any(registry.matches(h, i)
                                                                                        for i in a.ids))]
    print("## 1. Resampled A/A through the whole pipeline\n")
    print("| hypothesis | votes | test | n per arm | alpha | pool seeds | splits | reproduced | rate | 95% CI | "
          "at or below alpha |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for h in hyps:
        t0 = time.perf_counter()
        try:
            r = resampled(h, ctx, a.splits, rng)
        except Exception as e:      # a missing or odd run: say so, go on
            print(f"| {h.id} | | {h.test} | | {h.alpha:.4g} | | | error: {type(e).__name__}: {e} | | | |")
            continue
        if r is None:
            print(f"| {h.id} | {'yes' if h.votes else 'no'} | {h.test} | {h.budget('ci').seeds} | {h.alpha:.4g} | "
                  "| | declared null control (fixed comparator): not resampled | | | |")
            continue
        lo, hi = cp(r["hits"], r["n"])
        rate = r["hits"] / r["n"]
        print(f"| {h.id} | {'yes' if h.votes else 'no'} | {h.test}{' paired' if h.paired else ''} | "
              f"{h.budget('ci').seeds} | {h.alpha:.4g} | {r['pool']} | {r['n']} | {r['hits']} | {rate:.4f} | "
              f"[{lo:.4f}, {hi:.4f}] | {judged(rate, lo, h.alpha)} |", flush=True)
        print(f"  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    if a.real_bases:
        print("\n## 2. Real A/A on disjoint seed bases (training included)\n")
        print("| hypothesis | alpha | seed bases | reproduced | rate | 95% CI | at or below alpha |")
        print("|---|---|---|---|---|---|---|")
        for h in hyps:
            arms = [x for x in h.design.arms.values() if x.constant is None]
            cheap = arms and all(x.routine is not None and routines.get(x.routine).engine == "analytic" for x in arms)
            if not cheap or ds.null_control(h) is None:      # realisations that train cost seconds: resampled only
                continue
            t0 = time.perf_counter()
            r = real(h, claims[h.claim], a.real_bases)
            lo, hi = cp(r["hits"], r["n"])
            rate = r["hits"] / r["n"]
            print(f"| {h.id} | {h.alpha:.4g} | {r['n']} | {r['hits']} | {rate:.4f} | [{lo:.4f}, {hi:.4f}] | "
                  f"{judged(rate, lo, h.alpha)} |", flush=True)
            print(f"  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    if a.bare:
        combos = set()
        for h in hyps:
            if h.test == "tost":
                continue
            combos.add((h.test, h.budget("ci").seeds, round(h.alpha, 6), bool(h.paired),
                        len(h.arms) if h.test == "trend" else 2))
        print("\n## 3. The bare tests at the combinations in use (seed effect shared by paired arms)\n")
        print("| test | n | alpha | paired | groups | data | rejections | draws | rate | 95% CI | at or below alpha |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for (test, n, alpha, paired, k, dist, hits, draws) in bare(combos, a.bare, rng):
            lo, hi = cp(hits, draws)
            print(f"| {test} | {n} | {alpha:.4g} | {paired} | {k} | {dist} | {hits} | {draws} | {hits / draws:.4f} | "
                  f"[{lo:.4f}, {hi:.4f}] | {judged(hits / draws, lo, alpha)} |", flush=True)


if __name__ == "__main__":
    main()
