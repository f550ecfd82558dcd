"""The one runner: executes any declared hypothesis (harness.declare.design) and returns its evidence record.

    seeds (profile, seed base) -> arms resolved for the profile -> runs (store, engine or routine)
    -> one number per seed (named reductions) -> test (two arms, trend, deterministic; two-stage plan)
    -> criteria and gates (harness.stats.verdict) -> evidence (harness.declare.evidence.make_evidence)

A control is the same pipeline on its declared replacement arms or metrics. Claim modules declare;
this module trains (through harness.run.checks.run and the run store), reduces, tests and records.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from bnclaims.harness.run import checks, datadraw
from bnclaims.harness.declare import design as ds
from bnclaims.harness.stats import verdict as vd
from bnclaims.harness.declare.evidence import make_evidence
from bnclaims.harness.declare.hypothesis import seed_list


@dataclass
class Result:
    """What figures(result) and extra(result) see: runs, the arrays each metric read, the values."""
    hyp: object
    ctx: object
    design: ds.Design
    control: str | None
    seeds: list                                  # the hypothesis's seeds (each arm may run others: arm_seeds)
    arms: dict = field(default_factory=dict)     # arm -> resolved Arm (profile applied)
    arm_seeds: dict = field(default_factory=dict)  # arm -> the seeds that arm ran
    runs: dict = field(default_factory=dict)     # arm -> arrays, or {lr: arrays} for a grid arm
    arrays: dict = field(default_factory=dict)   # arm -> arrays the metric read (grid: the chosen rate)
    lr: dict = field(default_factory=dict)       # grid arm -> the rate read (None: the whole grid)
    values: dict = field(default_factory=dict)   # arm -> np.ndarray, one number per seed
    errors: dict = field(default_factory=dict)   # deterministic checks: case -> error
    tuning: dict = field(default_factory=dict)   # arm -> {"seeds", "lr", "by"}: rates chosen on tuning seeds

    def spec(self, arm: str):
        """The arm's spec as it ran (a grid arm's spec at the rate read)."""
        a = self.arms[arm]
        if a.spec is None:
            return None
        lr = self.lr.get(arm)
        return a.spec.replace(lr=lr) if lr is not None else a.spec

    def side_compare(self, x, y, direction: str) -> dict:
        """A secondary comparison for extra (same test and alpha, not gating)."""
        return checks.compare_arms(dataclasses.replace(self.hyp, direction=direction), self.ctx, x, y)


# ---------------------------------------------------------------------------------- arms and runs
def resolve_arm(arm: ds.Arm, hyp, ctx) -> ds.Arm:
    """The arm for this profile: by_profile overrides, then the profile's step budget, then --compile."""
    over = dict(arm.by_profile.get(ctx.budget_profile, {}))
    steps = hyp.budget(ctx.budget_profile).steps
    if arm.spec is not None:
        spec = arm.spec.replace(**over) if over else arm.spec
        if arm.budget:
            spec = checks.with_budget(spec, hyp, ctx)
        if ctx.compile != "off" and arm.engine == "batched":    # the reference engine is the eager check
            spec = spec.replace(compile=ctx.compile)
        return dataclasses.replace(arm, spec=spec)
    if arm.routine is not None:
        settings = {**dict(arm.settings), **over}
        if arm.budget and steps:
            settings["steps"] = steps
        return dataclasses.replace(arm, settings=settings)
    return arm


def _user_data(routine: str, ctx) -> dict:
    """A routine that reads the user's data gets its digest (keyed) and folder (not keyed; harness.userdata)."""
    from bnclaims.harness import paths, routines, userdata
    name = routines.get(routine).user_data
    if not name:
        return {}
    folder, digest = userdata.for_run(name, ctx.data_dir, ctx.smoke, paths.cache_root())
    return {"data_sha256": digest, "_data_dir": str(folder)}


def _run_arm(arm: ds.Arm, seeds, ctx, memo: dict):
    """The runs of one arm on these seeds; with --data-draw per-seed (harness.run.datadraw), one run per seed, each on
    its own draw of the data set, joined along the seed axis."""
    if ctx.data_draw == "per-seed" and datadraw.why_fixed(arm) is None:
        parts = _all_runs(lambda s=s: _run_fixed(datadraw.for_seed(arm, s), [s], ctx, memo) for s in seeds)
        return join_seeds(parts, bool(arm.lrs)) if parts else None
    return _run_fixed(arm, seeds, ctx, memo)


def join_seeds(parts: list, grid: bool, n: int = 1):
    """Join runs of n members each along their seed axes (checks.seed_axis; a grid arm: per rate); an array
    without one (the same for every seed, e.g. probe steps) is taken from the first run."""
    if grid:
        return {lr: join_seeds([p[lr] for p in parts], False, n) for lr in parts[0]}
    out = {}
    for key, v in parts[0].items():
        v = np.asarray(v)
        axis = checks.seed_axis(key, v, n)
        out[key] = v if axis is None else np.concatenate([np.asarray(p[key]) for p in parts], axis)
    return out


def _run_fixed(arm: ds.Arm, seeds, ctx, memo: dict):
    from bnclaims.harness.spec import spec_dict
    from bnclaims.harness.store import canonical_json
    if arm.constant is not None:
        return None
    if arm.spec is not None:
        key = ("spec", canonical_json(spec_dict(arm.spec)), tuple(arm.lrs), arm.engine, tuple(seeds))
        if key not in memo:
            memo[key] = (checks.lr_grid_run(arm.spec, list(arm.lrs), seeds, ctx=ctx) if arm.lrs
                         else checks.run(arm.spec, seeds, ctx=ctx, engine=arm.engine))
        return memo[key]
    key = ("routine", arm.routine, canonical_json(dict(arm.settings)), tuple(seeds))
    if key not in memo:
        memo[key] = checks.run_routine(arm.routine, {**arm.settings, **_user_data(arm.routine, ctx)}, seeds, ctx=ctx)
    return memo[key]


def _all_runs(calls) -> list:
    """The result of each call, in order. While planning (checks.planning) a call may raise checks.Missing: the
    misses of all calls are gathered and raised together, so one planning wave sees every run of a stage."""
    out, jobs = [], []
    for call in calls:
        try:
            out.append(call())
        except checks.Missing as m:
            jobs.extend(m.jobs)
    if jobs:
        raise checks.Missing(jobs)
    return out


def _reduce(arm: ds.Arm, run, metric: ds.Metric | None, n: int):
    """(values [n], arrays read, rate read) of one arm."""
    if arm.constant is not None:
        return np.full(n, float(arm.constant)), None, None
    lr = None
    arrays = run
    if arm.lrs:
        if metric.at_lr is not None:
            lr = metric.at_lr
        elif metric.select is not None:
            lr = best_rate(run, arm.lrs, metric.select)
        arrays = run[lr] if lr is not None else run
    return np.asarray(ds.REDUCTIONS[metric.name](arrays, **dict(metric.params)), float), arrays, lr


def rate_means(grid: Mapping, lrs, reduction: str) -> list:
    """The seed-mean of `reduction` at each grid rate."""
    fn = ds.REDUCTIONS[reduction]
    return [float(np.mean(fn(grid[lr]))) for lr in lrs]


def best_rate(grid: Mapping, lrs, reduction: str) -> float:
    """The grid rate whose seed-mean of `reduction` is lowest (first on ties)."""
    return lrs[int(np.argmin(rate_means(grid, lrs, reduction)))]


def _concat(parts: list, grid: bool):
    """Join the stages' runs of one arm along the seed axis (a grid arm: per rate)."""
    if grid:
        return {lr: checks.concat_members([p[lr] for p in parts]) for lr in parts[0]}
    return checks.concat_members(parts)


# ---------------------------------------------------------------------------------- the check
def run_check(hyp, claim, ctx, control: str | None = None) -> dict:
    """Evidence of one hypothesis (or of one of its controls, the A/A control included)."""
    t0 = time.perf_counter()
    design = hyp.design
    ctl = None
    if control is not None:
        ctl = design.control(control, hyp)
        design = design.with_control(ctl)
    res = Result(hyp=hyp, ctx=ctx, design=design, control=control, seeds=ctx.seeds(hyp))
    res.arms = {name: resolve_arm(a, hyp, ctx) for name, a in design.arms.items()}
    if _uses_torch(res.arms.values()):
        from bnclaims.harness import engine  # noqa: F401  (pins one torch thread first: reductions round differently with two)
    offsets = dict(ctl.seeds) if ctl is not None else {}
    shifts = dict(ctl.shift) if ctl is not None else {}
    res.arm_seeds = {name: [s + int(offsets.get(name, 0)) for s in res.seeds] for name in res.arms}
    if hyp.test == "deterministic":
        return _deterministic(res, claim, t0)

    memo: dict = {}
    design = res.design = _tuned(res, design, memo)
    n_all = len(res.seeds)
    cuts = [0, n_all]
    if hyp.sequential and not ctx.smoke:
        cuts = [0, n_all // 2, n_all]
    parts = {name: [] for name in res.arms}
    stats = plan = None
    n_now = n_all
    for i in range(len(cuts) - 1):
        got = _all_runs(lambda name=name, arm=arm: _run_arm(arm, res.arm_seeds[name][cuts[i]:cuts[i + 1]], ctx, memo)
                        for name, arm in res.arms.items())
        for name, run in zip(res.arms, got):
            parts[name].append(run)
        n_now = cuts[i + 1]
        for name, arm in res.arms.items():
            res.runs[name] = None if arm.constant is not None else _concat(parts[name], bool(arm.lrs))
            res.values[name], res.arrays[name], res.lr[name] = _reduce(
                arm, res.runs[name], design.metric_of(name), n_now)
            if name in shifts:
                res.values[name] = res.values[name] + shifts[name]
        if len(cuts) == 2:
            stats = _test(res)
            break
        x, y = res.values[hyp.arms[0]], res.values[hyp.arms[1]]
        stats, plan, decided = checks.sequential_stage(hyp, x, y, i)
        if decided:
            break
    if checks.is_planning():         # every run this check reads is in the store: nothing left to plan
        return None
    res.seeds = res.seeds[:n_now]
    res.arm_seeds = {name: s[:n_now] for name, s in res.arm_seeds.items()}
    if plan is not None:
        stats["sequential"] = plan
    stats = vd.apply_criteria(stats, [_criterion(c, res) for c in design.criteria])
    arms = {name: checks.arm_record(res.spec(name), res.arm_seeds[name], res.values[name],
                                    res.arrays[name] if _records_divergence(res, name) else None)
            for name in _ordered(hyp, res.arms)}
    for name, v in shifts.items():
        arms[name]["shift"] = float(v)
    return _evidence(res, claim, arms, stats, t0)


def _tuned(res: Result, design: ds.Design, memo: dict) -> ds.Design:
    """A grid arm whose metric declares tune_seeds: its rate (and, where the arm declares variants, its
    variant) is chosen by the metric's select reduction on tuning seeds disjoint from the compared ones
    (harness.declare.design.TUNE_OFFSET), on a validation split where the metric declares tune_val_rows; the
    compared seeds are then read at that choice."""
    metrics, tuning = {}, {}
    for name, arm in list(res.arms.items()):
        m = design.metric_of(name)
        if not (arm.lrs and m is not None and m.select is not None and m.tune_seeds):
            continue
        seeds = [s + ds.TUNE_OFFSET for s in seed_list(m.tune_seeds, res.ctx.seed_base)]
        choices = []                                  # (mean score, variant index, lr, {lr: mean})
        specs = [arm.spec.replace(**dict(kw)) if kw else arm.spec for _, kw in arm.variants or ((None, {}),)]
        if m.tune_val_rows:
            specs = [spec.replace(val_rows=m.tune_val_rows) for spec in specs]
        grids = _all_runs(lambda spec=spec: _run_arm(dataclasses.replace(arm, spec=spec, variants=()), seeds, res.ctx,
                                                     memo) for spec in specs)
        for i, grid in enumerate(grids):
            raw = rate_means(grid, arm.lrs, m.select)
            means = [x if np.isfinite(x) else np.inf for x in raw]          # a non-finite score never wins
            j = int(np.argmin(means))
            choices.append((means[j], i, arm.lrs[j], {r: (x if np.isfinite(x) else None) for r, x in zip(arm.lrs, raw)}))
        score, i, lr, _ = min(choices, key=lambda c: (c[0], c[1]))     # first variant on ties
        metrics[name] = dataclasses.replace(m, at_lr=lr, select=None, tune_seeds=0, tune_val_rows=0)
        tuning[name] = {"seeds": seeds, "lr": lr, "by": m.select}
        if m.tune_val_rows:
            tuning[name]["val_rows"] = m.tune_val_rows
        if arm.variants or m.tune_val_rows:      # the tuning table (only for these: earlier records stay as they were)
            tuning[name]["scores"] = {(str(arm.variants[c[1]][0]) if arm.variants else "mean by rate"):
                                      {str(r): x for r, x in c[3].items()} for c in choices}
        if arm.variants:
            tuning[name]["variant"] = arm.variants[i][0]
            arm = dataclasses.replace(arm, spec=arm.spec.replace(**dict(arm.variants[i][1])), variants=())
        if arm.tuned_only:
            arm = dataclasses.replace(arm, lrs=(lr,), tuned_only=False)
        res.arms[name] = arm
    if not metrics:
        return design
    res.tuning = tuning
    return dataclasses.replace(design, metric={k: metrics.get(k, design.metric_of(k)) for k in res.arms})


def _uses_torch(arms) -> bool:
    """Any engine run, or a routine that uses torch (a numpy-only check never imports torch)."""
    from bnclaims.harness import routines
    return any(a.spec is not None or (a.routine is not None and routines.get(a.routine).torch) for a in arms)


def _records_divergence(res, name) -> bool:
    a = res.arrays[name]
    return isinstance(a, Mapping) and "diverged_at" in a and isinstance(a["diverged_at"], np.ndarray)


def _ordered(hyp, arms) -> list:
    return [a for a in hyp.arms if a in arms] + [a for a in arms if a not in hyp.arms]


def _test(res: Result) -> dict:
    hyp = res.hyp
    values = [np.asarray(res.values[a], float) for a in hyp.arms]
    if not all(np.isfinite(v).all() for v in values):
        return _undefined(res, values)
    if hyp.direction in ("decreasing", "increasing"):
        return checks.compare_trend(hyp, res.ctx, [res.values[a] for a in hyp.arms])
    return checks.compare_arms(hyp, res.ctx, res.values[hyp.arms[0]], res.values[hyp.arms[1]])


def _undefined(res: Result, values: list) -> dict:
    """Where a metric is undefined (NaN or inf: a run that diverged, and a reduction with no penalty for it) the
    check is a measured outcome, not a crash: inconclusive, with the seeds it lost per arm. The test on the seeds
    left (paired: the pairs with every arm finite) is recorded beside it for reading only: dropping diverged seeds
    selects the runs that trained, so it never gives a verdict."""
    hyp = res.hyp
    finite = [np.isfinite(v) for v in values]
    if hyp.paired and len({len(v) for v in values}) == 1:
        keep = np.logical_and.reduce(finite)
        kept = [v[keep] for v in values]
    else:
        kept = [v[f] for v, f in zip(values, finite)]
    lost = {a: int((~f).sum()) for a, f in zip(hyp.arms, finite)}
    why = (f"the metric is undefined (NaN or inf: diverged) for {', '.join(f'{n} of {len(v)} seeds of {a}' for (a, n), v in zip(lost.items(), values) if n)}"
           f"; a test on the {min(len(k) for k in kept)} seeds left would select the runs that trained, so no verdict")
    try:
        if hyp.direction in ("decreasing", "increasing"):
            st = checks.compare_trend(hyp, res.ctx, kept)
        else:
            st = checks.compare_arms(hyp, res.ctx, kept[0], kept[1])
        st = {**st, "reason": f"{why} (on the seeds left: {st.get('verdict')}, p {st.get('p')})"}
    except ValueError as e:          # too few seeds left for the test (harness.stats.InsufficientSeeds included)
        st = {"test": hyp.test, "direction": hyp.direction, "alpha": hyp.alpha, "effect": None, "ci": None,
              "p": None, "reason": f"{why} ({e})"}
        if len(kept) == 2:
            st.update(n_x=int(len(kept[0])), n_y=int(len(kept[1])))
    return {**st, "verdict": "inconclusive", "undefined": lost}


_OPS = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}


def _criterion(c: ds.Criterion, res: Result) -> tuple:
    """(criterion, passed, detail)."""
    if c.metric is None:
        v = res.values[c.arm]
    else:
        v, _, _ = _reduce(res.arms[c.arm], res.runs[c.arm], c.metric, len(res.seeds))
    v = np.asarray(v, float)
    if c.stat == "each":
        bad = [i for i, a in enumerate(v) if not (np.isfinite(a) and _holds(c, a))]
        return c, not bad, (f"{c.arm}: every seed {c.op} {c.value:g}" + (f"; fails at seed positions {bad}"
                                                                          if bad else ""))
    m = float(np.mean(v))
    text = (f"{c.arm} mean {m:.3f}, needs within {c.tol:g} of {c.value:.3f}" if c.op == "within"
            else f"{c.arm} mean {m:.3f}, needs {c.op} {c.value:.3f}")
    return c, bool(np.isfinite(m) and _holds(c, m)), text


def _holds(c, v) -> bool:
    if c.op == "within":
        return abs(v - c.value) < c.tol
    return bool(_OPS[c.op](v, c.value))


def _deterministic(res: Result, claim, t0) -> dict:
    d = res.design
    memo: dict = {}
    got = _all_runs(lambda name=name, arm=arm: _run_arm(arm, res.arm_seeds[name], res.ctx, memo)
                    for name, arm in res.arms.items())
    res.runs = dict(zip(res.arms, got))
    res.arrays = dict(res.runs)
    if checks.is_planning():
        return None
    out = ds.ERRORS[d.errors](res.runs, **dict(d.error_params))
    errors, tol = out if isinstance(out, tuple) else (out, d.tolerance)
    res.errors = dict(errors)
    tol = tol if isinstance(tol, Mapping) else {c: tol for c in errors}
    vals = np.asarray([errors[c] / tol[c] for c in errors], float)
    vals = np.where(np.isfinite(vals), vals, np.inf)      # a NaN error is a failure, and names its case
    worst = float(vals.max()) if vals.size else float("nan")
    ok = bool(vals.size) and worst <= 1.0
    worst_case = list(errors)[int(vals.argmax())] if vals.size else "-"
    stats = {"test": "deterministic", "direction": "deterministic", "alpha": None, "n_x": int(vals.size),
             "n_y": None, "effect": worst, "ci": None, "p": None,
             "verdict": "reproduced" if ok else "not reproduced",
             "reason": f"worst {d.what} / tolerance over {vals.size} cases = {worst:.3g} ({worst_case}: "
                       f"{errors[worst_case]:.3g} vs {tol[worst_case]:.3g})" if vals.size else "no cases",
             "values_x": [float(v) if np.isfinite(v) else None for v in vals]}
    res.values = {"cases": vals}
    arms = {"cases": {"seeds": list(range(len(vals))), "values": [float(v) if np.isfinite(v) else None
                                                                  for v in vals]}}
    return _evidence(res, claim, arms, stats, t0, extra0={"cases": list(errors.keys()), "errors": errors,
                                                          "tolerance": tol})


def _engine(res: Result) -> str:
    from bnclaims.harness import routines
    kinds = [a for a in res.arms.values() if a.constant is None]
    for a in kinds:
        if a.routine is not None:
            return routines.get(a.routine).engine
    if not kinds:
        return "analytic"
    return kinds[0].engine


def _evidence(res: Result, claim, arms, stats, t0, extra0=None) -> dict:
    d = res.design
    figs = d.figures(res) if d.figures else []
    extra = {**(extra0 or {}), **(d.extra(res) if d.extra else {}), "control": res.control}
    if res.ctx.data_draw != "fixed":
        extra["data_draw"] = {"mode": res.ctx.data_draw, "arms": datadraw.describe(res.arms)}
    if res.tuning:
        extra["tuning"] = res.tuning
    if res.control is not None:
        c = res.hyp.design.control(res.control, res.hyp)
        extra["control_kind"] = ds.control_kind(res.hyp, c)
        extra["control_seeds"] = {a: list(s) for a, s in res.arm_seeds.items() if res.arms[a].constant is None}
    return make_evidence(res.hyp, claim, res.ctx, arms=arms, stats=stats, engine=_engine(res), figures=figs,
                         extra=extra, wall_s=time.perf_counter() - t0)
