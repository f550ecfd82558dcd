"""The runner's building blocks: runs through the run store (engine ensembles, learning-rate grids,
routines) with their keys, the profile's step budget, pre-registered comparisons and the sequential
stage, arm records, and small reductions shared by claim modules (bands, penalties).
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from bnclaims.harness.stats import common, compare as st_compare, floors, multiplicity
from bnclaims.harness.spec import spec_dict, spec_hash
from bnclaims.harness.store import RunStore, environment_key

RUN_FORMAT = 1      # bump when the engine's numbers change, so stale store entries are not reused
CHANCE_LOSS = math.log(10)   # cross-entropy of a uniform guess over MNIST-1D's 10 classes (diverged-run penalty)
CHANCE_ACC = 0.1             # accuracy of a uniform guess over 10 classes


def with_budget(spec, hyp, ctx):
    """The spec with the profile's step budget (a budget of 0 steps keeps the spec's own)."""
    steps = hyp.budget(ctx.budget_profile).steps
    if not steps or steps == spec.steps:
        return spec
    kw = {"steps": steps}
    if getattr(spec, "probe_until", 0) and spec.probe_until > steps:
        kw["probe_until"] = steps
    return dataclasses.replace(spec, **kw)


# ---------------------------------------------------------------------------------- planning (harness.run.executor)
@dataclasses.dataclass(frozen=True)
class Job:
    """One store entry a selection needs: its key spec (the store key is key_of(key)), and what computes it:
    ("engine", spec, seeds, engine, lrs) or ("routine", name, settings, seeds). Plain data for a cluster task."""
    key: dict
    kind: str
    args: tuple

    @property
    def store_key(self) -> str:
        from bnclaims.harness.store import key_of
        return key_of(self.key)


class Missing(Exception):
    """Raised while planning (see planning()): the runs a check needs that the store lacks."""

    def __init__(self, jobs):
        super().__init__(f"{len(jobs)} run(s) missing from the store")
        self.jobs = list(jobs)


_PLANNING: list = []


class planning:
    """Within this context, a store miss raises Missing(job) instead of training (the runner gathers the
    misses of all arms of a stage); hits are read as usual. The executor plans waves of runs with it."""

    def __enter__(self):
        _PLANNING.append(True)
        return self

    def __exit__(self, *exc):
        _PLANNING.pop()
        return False


def is_planning() -> bool:
    return bool(_PLANNING)


def compute_job(job: Job):
    """(arrays, info) of a job: what get_or_compute would store for it."""
    if job.kind == "engine":
        from bnclaims.harness import engine as eng
        spec, seeds, engine, lrs = job.args
        return eng.train(spec, list(seeds), engine, lrs=None if lrs is None else list(lrs))
    if job.kind == "routine":
        from bnclaims.harness import routines
        name, settings, seeds = job.args
        routine = routines.get(name)
        fn = routine.load()
        if routine.torch:
            from bnclaims.harness import engine  # noqa: F401  (one torch thread, as for every run)
        t0 = time.perf_counter()
        arrays = fn(dict(settings), [int(s) for s in seeds])
        return arrays, {"wall_s": round(time.perf_counter() - t0, 3)}
    raise ValueError(f"unknown job kind {job.kind!r}")


def _through_store(ctx, job: Job):
    store = RunStore(ctx.store if ctx is not None else None)
    if _PLANNING:
        got = store.get(job.key)
        if got is None:
            raise Missing([job])
        return got[0]
    arrays, _info, _status = store.get_or_compute(job.key, lambda: compute_job(job))
    return arrays


def run(spec, seeds, *, ctx=None, engine="batched", lrs=None) -> dict:
    """Arrays of one ensemble run, from the store when present (shared safely across xdist workers)."""
    seeds = [int(s) for s in seeds]
    job = Job(run_key(spec, seeds, engine, lrs), "engine",
              (spec, tuple(seeds), engine, None if lrs is None else tuple(float(x) for x in lrs)))
    return _through_store(ctx, job)


def run_key(spec, seeds, engine="batched", lrs=None) -> dict:
    """The run-store key of an engine run: spec, seeds, engine, device, rates, the digest of the data set it trains
    and evaluates on (data_key), and environment_key (torch, threads and the hash of every numeric harness module)."""
    from bnclaims.harness.store import device_setting
    return {"run": spec_dict(spec), "seeds": [int(s) for s in seeds], "engine": engine,
            "device": device_setting() if engine == "batched" else "cpu",
            "lrs": None if lrs is None else [float(x) for x in lrs], "format": RUN_FORMAT,
            "data": data_key(((spec.data, spec.data_seed),)), **environment_key()}


def data_key(sets) -> dict:
    """{"name/seed": SHA-256 of its arrays} of the generated data sets a run reads (harness.datacache.digest, once
    per process), so a run on other arrays (another mnist1d, a damaged cache) never reuses an entry."""
    from bnclaims.harness.datacache import digest
    return {f"{name}/{int(seed)}": digest(name, int(seed)) for name, seed in sets}


def job_data_key(job: Job) -> dict:
    """data_key of the data sets this job reads, from its own arguments (a Dask worker checks it against the key)."""
    if job.kind == "engine":
        spec = job.args[0]
        return data_key(((spec.data, spec.data_seed),))
    from bnclaims.harness import routines
    name, settings, _seeds = job.args
    return data_key(routines.get(name).data_sets(dict(settings)))


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
        return st_compare.compare(np.asarray(x, float), np.asarray(y, float), direction=hyp.direction, test=hyp.test,
                          alpha=hyp.alpha, paired=hyp.paired, margin=hyp.margin, sesoi=hyp.sesoi, seed=seed)
    except common.InsufficientSeeds as e:
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
        kw = {"paired": True} if hyp.paired else {}
        if hyp.sesoi is not None:
            kw["sesoi"] = hyp.sesoi
        return st_compare.trend_compare(groups, direction=hyp.direction, alpha=hyp.alpha,
                                labels=list(labels or hyp.arms), seed=seed, **kw)
    except common.InsufficientSeeds as e:
        if not ctx.smoke:
            raise
        return {"test": "trend", "direction": hyp.direction, "alpha": hyp.alpha, "verdict": "inconclusive",
                "reason": f"smoke profile: {e}", "effect": float(np.mean(groups[-1]) - np.mean(groups[0])),
                "ci": None, "p": None}


def arm_record(spec, seeds, values, arrays=None) -> dict:
    rec = {"seeds": list(seeds), "values": [float(v) for v in values]}
    if spec is not None:
        rec.update(spec=spec_dict(spec), spec_hash=spec_hash(spec))
    if arrays is not None and "diverged_at" in arrays:
        rec["diverged"] = [None if d < 0 else int(d) for d in np.atleast_1d(arrays["diverged_at"])]
    return rec


def sequential_stage(hyp, x, y, stage: int):
    """Stage `stage` (0 or 1) of the two-stage plan: (stats, plan, decided)."""
    p1, p2 = multiplicity.obf_two_stage(hyp.alpha)
    level = p1 if stage == 0 else p2
    plan = {"looks": 2, "boundaries_p": [p1, p2], "stopped_at": stage + 1, "n_per_arm": [len(x), len(y)]}
    if stage == 0 and floors.min_attainable_p(hyp.test, len(x), len(y)) >= p1:
        plan["note"] = "stage 1 cannot reach its boundary with this test and n; went straight to stage 2"
        return None, plan, False
    stats = st_compare.compare(x, y, direction=hyp.direction, test=hyp.test, alpha=level, paired=hyp.paired,
                       margin=hyp.margin, sesoi=hyp.sesoi)
    decided = stats["verdict"] != "inconclusive" or stage == 1
    stats["alpha_overall"] = hyp.alpha
    return stats, plan, decided


def seed_axis(key: str, v: np.ndarray, n: int):
    """The axis of a result array that holds its n members: the engine's (member_axis) where it has n, else the
    first axis of length n (a routine keeps per-seed arrays on axis 0 even where the name reads like an engine
    curve); None for an array without one (the same for every member, e.g. probe steps)."""
    axis = member_axis(key, v)
    if axis is not None and (v.ndim <= axis or v.shape[axis] != n):
        axis = next((i for i, m in enumerate(v.shape) if m == n), None)
    return axis


def concat_members(runs: list) -> dict:
    """Join ensemble results along the seed axis (probe/eval arrays: axis 1; per-seed arrays: axis 0)."""
    if len(runs) == 1:
        return runs[0]
    out = {}
    for key, v in runs[0].items():
        axis = member_axis(key, v)
        out[key] = v if axis is None else np.concatenate([r[key] for r in runs], axis)
    return out


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
    from bnclaims.harness.declare.evidence import series
    idx = thin(len(x), limit)
    med, lo, hi = band(np.asarray(curves, float)[idx])
    return series(label, np.asarray(x)[idx], med, lo, hi)


def finite_or(values, fill):
    """Diverged seeds become a pre-declared finite penalty (e.g. chance-level loss)."""
    v = np.asarray(values, float)
    return np.where(np.isfinite(v), v, fill)


def final_val_error(arrays) -> np.ndarray:
    """1 - final validation-split accuracy (eval mode; TrainSpec.val_rows), per seed; a diverged seed counts as
    chance. The selection measure of checks that choose a rate by validation accuracy."""
    return 1.0 - finite_or(arrays["eval_val_acc"][-1], CHANCE_ACC)


def run_routine(name: str, settings: dict, seeds, *, ctx=None) -> dict:
    """Arrays of a registered routine (harness.routines) for these seeds, through the run store. The key
    covers the routine's name, settings and seeds, its own module's source and the numeric harness."""
    seeds = [int(s) for s in seeds]
    job = Job(routine_key(name, settings, seeds), "routine", (name, dict(settings), tuple(seeds)))
    return _through_store(ctx, job)


def routine_key(name: str, settings: dict, seeds) -> dict:
    """The run-store key of a routine's entry (the hash of the routine's module and of the modules it declares it
    uses, beside environment_key's; the digests of the generated data sets it declares it reads, Routine.data_sets).
    Settings named with a leading underscore say where an input lies, not what it is (its digest is another
    setting), and stay out of the key."""
    from bnclaims.harness import routines
    from bnclaims.harness.store import module_code_hash
    r = routines.get(name)
    keyed = {k: v for k, v in dict(settings).items() if not k.startswith("_")}   # "_data_dir": where, not what
    return {"routine": name, "settings": keyed, "seeds": [int(s) for s in seeds], "format": RUN_FORMAT,
            "routine_code": module_code_hash(r.module, *r.uses), "data": data_key(r.data_sets(dict(settings))),
            **environment_key()}
