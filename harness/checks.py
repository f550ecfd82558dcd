"""Running one pre-registered check: seeds from the profile, training through the run store,
per-seed metric values, statistics, and the evidence record.

Data flows one way: spec -> store (run or reuse) -> engine -> per-seed values -> stats -> evidence.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from . import stats as st
from .evidence import make_evidence
from .spec import spec_dict, spec_hash
from .store import RunStore, environment_key

RUN_FORMAT = 1      # bump when the engine's numbers change, so stale store entries are not reused
CHANCE_LOSS = math.log(10)   # cross-entropy of a uniform guess over MNIST-1D's 10 classes (diverged-run penalty)
CHANCE_ACC = 0.1             # accuracy of a uniform guess over 10 classes


def with_budget(spec, hyp, ctx):
    """The spec with the profile's step budget (a budget of 0 steps keeps the spec's own)."""
    steps = hyp.budget(ctx.profile).steps
    if not steps or steps == spec.steps:
        return spec
    kw = {"steps": steps}
    if getattr(spec, "probe_until", 0) and spec.probe_until > steps:
        kw["probe_until"] = steps
    return dataclasses.replace(spec, **kw)


def run(spec, seeds, *, ctx=None, engine="batched", lrs=None) -> dict:
    """Arrays of one ensemble run, from the store when present (shared safely across xdist workers)."""
    from . import engine as eng          # torch is imported only when something actually trains
    seeds = [int(s) for s in seeds]
    key = {"run": spec_dict(spec), "seeds": seeds, "engine": engine, "device": eng.DEVICE if engine == "batched"
           else "cpu", "lrs": None if lrs is None else [float(x) for x in lrs], "format": RUN_FORMAT,
           **environment_key()}
    store = RunStore(ctx.store if ctx is not None else None)
    arrays, _info, _status = store.get_or_compute(key, lambda: eng.train(spec, seeds, engine, lrs=lrs))
    return arrays


def lr_grid_run(spec, lrs, seeds, *, ctx=None) -> dict:
    """One ensemble for a learning-rate grid x seeds; returns {lr: arrays restricted to that lr's seeds}."""
    members_lr = [lr for lr in lrs for _ in seeds]
    members_seed = [s for _ in lrs for s in seeds]
    arrays = run(spec, members_seed, ctx=ctx, lrs=members_lr)
    n = len(seeds)
    out = {}
    for j, lr in enumerate(lrs):
        sl = slice(j * n, (j + 1) * n)
        out[lr] = {k: v if member_axis(k, v) is None else np.take(v, range(sl.start, sl.stop), member_axis(k, v))
                   for k, v in arrays.items()}
    return out


def member_axis(key: str, v: np.ndarray):
    """The seed (member) axis of a result array: 1 for curves and probes, 0 for per-seed arrays."""
    if key in ("eval_step", "probe_step") or v.ndim == 0:
        return None
    return 1 if key.startswith(("eval_", "train_loss", "probe_")) else 0


def compare_arms(hyp, ctx, x, y, seed=0) -> dict:
    """Stats for two arms as pre-registered; under smoke, too few seeds give a descriptive record."""
    try:
        return st.compare(np.asarray(x, float), np.asarray(y, float), direction=hyp.direction, test=hyp.test,
                          alpha=hyp.alpha, paired=hyp.paired, margin=hyp.margin, sesoi=hyp.sesoi, seed=seed)
    except st.InsufficientSeeds as e:
        if not ctx.smoke:
            raise
        return {"test": hyp.test, "direction": hyp.direction, "alpha": hyp.alpha, "verdict": "inconclusive",
                "reason": f"smoke profile: {e}", "n_x": len(x), "n_y": len(y),
                "mean_x": float(np.mean(x)), "mean_y": float(np.mean(y)),
                "effect": float(np.mean(x) - np.mean(y)), "ci": None, "p": None,
                "values_x": [float(v) for v in x], "values_y": [float(v) for v in y]}


def compare_trend(hyp, ctx, groups, labels=None, seed=0) -> dict:
    """Trend stats over ordered arms as pre-registered; under smoke, too few seeds give a descriptive record."""
    try:
        return st.trend_compare(groups, direction=hyp.direction, alpha=hyp.alpha,
                                labels=list(labels or hyp.arms), seed=seed)
    except st.InsufficientSeeds as e:
        if not ctx.smoke:
            raise
        return {"test": "trend", "direction": hyp.direction, "alpha": hyp.alpha, "verdict": "inconclusive",
                "reason": f"smoke profile: {e}", "effect": float(np.mean(groups[-1]) - np.mean(groups[0])),
                "ci": None, "p": None}


def ordered_arms(hyp, specs: dict, perturb=None) -> dict:
    """Specs in the order the evidence expects (x, y, then context arms). perturb="control" gives arm x the
    control arm's spec (the negative control: identical runs, so the check must not come out reproduced)."""
    ordered = {a: specs[a] for a in hyp.arms if a in specs}
    ordered.update({a: sp for a, sp in specs.items() if a not in ordered})
    if perturb == "control":
        ordered[hyp.arms[0]] = ordered[hyp.arms[1]]
    elif perturb is not None:
        raise ValueError(f"unknown perturbation {perturb!r}")
    return ordered


def arm_record(spec, seeds, values, arrays=None) -> dict:
    rec = {"seeds": list(seeds), "values": [float(v) for v in values]}
    if spec is not None:
        rec.update(spec=spec_dict(spec), spec_hash=spec_hash(spec))
    if arrays is not None and "diverged_at" in arrays:
        rec["diverged"] = [None if d < 0 else int(d) for d in np.atleast_1d(arrays["diverged_at"])]
    return rec


def two_arm(hyp, claim, ctx, specs: dict, metric, *, figures=None, extra=None, engine="batched"):
    """The common check: train each arm's spec on the profile's seeds, reduce each run to one number
    per seed with `metric(arrays, arm)`, and compare arms[0] against arms[1] as pre-registered.
    With `hyp.sequential`, the first half of the seeds is run and tested first (O'Brien-Fleming
    two-stage plan, overall alpha kept); the second half is trained only when stage 1 is not decisive."""
    t0 = time.perf_counter()
    seeds = ctx.seeds(hyp)
    specs = {arm: with_budget(s, hyp, ctx) for arm, s in specs.items()}
    stages = [seeds[:len(seeds) // 2], seeds[len(seeds) // 2:]] if hyp.sequential and not ctx.smoke else [seeds]
    parts = {arm: [] for arm in specs}
    stats, plan = None, None
    for i, stage_seeds in enumerate(stages):
        for arm, s in specs.items():
            parts[arm].append(run(s, stage_seeds, ctx=ctx, engine=engine))
        arrays = {arm: concat_members(parts[arm]) for arm in specs}
        values = {arm: np.asarray(metric(arrays[arm], arm), float) for arm in specs}
        x, y = values[hyp.arms[0]], values[hyp.arms[1]]
        if len(stages) == 1:
            stats = compare_arms(hyp, ctx, x, y)
            break
        stats, plan, decided = sequential_stage(hyp, x, y, i)
        if decided:
            break
    seeds = [int(v) for v in arrays[hyp.arms[0]]["seeds"]]
    if plan is not None:
        stats["sequential"] = plan
    arms = {arm: arm_record(specs[arm], seeds, values[arm], arrays[arm]) for arm in specs}
    figs = figures(arrays, values) if figures else []
    ex = extra(arrays, values) if callable(extra) else (extra or {})
    return make_evidence(hyp, claim, ctx, arms=arms, stats=stats, engine=engine, figures=figs, extra=ex,
                         wall_s=time.perf_counter() - t0)


def sequential_stage(hyp, x, y, stage: int):
    """Stage `stage` (0 or 1) of the two-stage plan: (stats, plan, decided)."""
    p1, p2 = st.obf_two_stage(hyp.alpha)
    level = p1 if stage == 0 else p2
    plan = {"looks": 2, "boundaries_p": [p1, p2], "stopped_at": stage + 1, "n_per_arm": [len(x), len(y)]}
    if stage == 0 and st.min_attainable_p(hyp.test, len(x), len(y)) >= p1:
        plan["note"] = "stage 1 cannot reach its boundary with this test and n; went straight to stage 2"
        return None, plan, False
    stats = st.compare(x, y, direction=hyp.direction, test=hyp.test, alpha=level, paired=hyp.paired,
                       margin=hyp.margin, sesoi=hyp.sesoi)
    decided = stats["verdict"] != "inconclusive" or stage == 1
    stats["alpha_overall"] = hyp.alpha
    return stats, plan, decided


def concat_members(runs: list) -> dict:
    """Join ensemble results along the seed axis (probe/eval arrays: axis 1; per-seed arrays: axis 0)."""
    if len(runs) == 1:
        return runs[0]
    out = {}
    for key, v in runs[0].items():
        axis = member_axis(key, v)
        out[key] = v if axis is None else np.concatenate([r[key] for r in runs], axis)
    return out


def deterministic(hyp, claim, ctx, errors: dict, tolerance, *, what: str, figures=(), extra=None):
    """A check with no sampling error: every case's error must be within its tolerance.

    errors: {case label: error}; tolerance: one number, or {case label: tolerance}. The values
    reported are error / tolerance, so the verdict is reproduced when the worst ratio is <= 1.
    """
    tol = tolerance if isinstance(tolerance, dict) else {c: tolerance for c in errors}
    vals = np.asarray([errors[c] / tol[c] for c in errors], float)
    vals = np.where(np.isfinite(vals), vals, np.inf)      # a NaN error is a failure, and names its case
    worst = float(vals.max()) if vals.size else float("nan")
    ok = bool(vals.size) and worst <= 1.0
    worst_case = list(errors)[int(vals.argmax())] if vals.size else "-"
    stats = {"test": "deterministic", "direction": "deterministic", "alpha": None, "n_x": int(vals.size),
             "n_y": None, "effect": worst, "ci": None, "p": None,
             "verdict": "reproduced" if ok else "not reproduced",
             "reason": f"worst {what} / tolerance over {vals.size} cases = {worst:.3g} ({worst_case}: "
                       f"{errors[worst_case]:.3g} vs {tol[worst_case]:.3g})" if vals.size else "no cases",
             "values_x": [float(v) if np.isfinite(v) else None for v in vals]}
    arms = {"cases": {"seeds": list(range(len(vals))), "values": [float(v) if np.isfinite(v) else None
                                                                  for v in vals]}}
    ex = {"cases": list(errors.keys()), **(extra or {})}
    return make_evidence(hyp, claim, ctx, arms=arms, stats=stats, engine="analytic", figures=list(figures),
                         extra=ex)


# ---------------------------------------------------------------------------- reductions
def band(curves: np.ndarray):
    """[T, K] -> (median, 15th, 85th percentile) over seeds, for figure bands; NaN-safe."""
    with np.errstate(all="ignore"):
        return (np.nanmedian(curves, 1), np.nanpercentile(curves, 15, 1), np.nanpercentile(curves, 85, 1))


def thin(n: int, limit: int = 60) -> np.ndarray:
    """At most `limit` evenly spaced indices into n points (figures stay small)."""
    return np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(int)) if n else np.arange(0)


def band_series(label, x, curves, limit: int = 60) -> dict:
    """A figure series: median and 15-85th percentile band over seeds of curves [T, K], thinned to <= limit points."""
    from .evidence import series
    idx = thin(len(x), limit)
    med, lo, hi = band(np.asarray(curves, float)[idx])
    return series(label, np.asarray(x)[idx], med, lo, hi)


def finite_or(values, fill):
    """Diverged seeds become a pre-declared finite penalty (e.g. chance-level loss)."""
    v = np.asarray(values, float)
    return np.where(np.isfinite(v), v, fill)
