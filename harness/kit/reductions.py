"""Reductions claims share: a curve's last checkpoint or mean, the median over a run's probes, the step-to-step
change of per-unit moments, the spread and regret over a grid of cells. Each gives one number per seed (a diverged
seed gets a pre-declared fill); the claims register them under their own names (a name is declared data)."""
from __future__ import annotations

import warnings

import numpy as np

from bnclaims.harness.run.checks import CHANCE_ACC, CHANCE_LOSS, finite_or

LN10 = CHANCE_LOSS      # chance-level cross-entropy over 10 classes, ln 10: the fill of a diverged seed's loss
CHANCE = CHANCE_ACC     # chance accuracy over 10 classes: the fill of a diverged seed's accuracy


def final(arrays, key: str, fill: float) -> np.ndarray:
    """The last checkpoint of a curve [E, K]; a diverged seed counts as `fill`."""
    return finite_or(arrays[key][-1], fill)


def area(arrays, key: str, fill: float = LN10) -> np.ndarray:
    """[K]: the mean of a curve [T, K] over its points (its area per point); a non-finite point counts as `fill`."""
    return finite_or(arrays[key], fill).mean(0)


def probe_median(arrays, key: str, fill: float, dtype=float) -> np.ndarray:
    """[K]: the median over a run's probes [P, K] of a measure, non-finite probes skipped; a seed with no finite
    probe counts as `fill`. dtype: the precision the median is taken in; None keeps the array's own (P.probe_median
    was declared so: the midpoint of an even number of float32 probes rounds to float32 there)."""
    v = np.asarray(arrays[key]) if dtype is None else np.asarray(arrays[key], dtype)
    v = np.where(np.isfinite(v), v, np.nan)
    with warnings.catch_warnings():            # an all-NaN seed: NaN here, `fill` below
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(v, 0)
    return finite_or(med, fill)


def moment_steps(mean, var, relative: bool = False) -> np.ndarray:
    """Per unit, between consecutive probes [P, ...]: |d mu| + |d sigma^2| of its mean and variance; relative=True
    divides them by sigma and sigma^2 at the interval's start (a zero variance gives inf or NaN, the caller's
    business). Ioffe's distributional shift, as C1 and S read it: [P - 1, ...]."""
    mu, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    dmu, dvar = np.abs(np.diff(mu, axis=0)), np.abs(np.diff(var, axis=0))
    if relative:
        with np.errstate(all="ignore"):
            dmu, dvar = dmu / np.sqrt(var[:-1]), dvar / var[:-1]
    return dmu + dvar


def median_over_probes(v) -> np.ndarray:
    """[P, K, L] -> [K]: per layer the median over probes (NaN skipped), then the mean over layers; NaN where a
    seed has no finite value."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.nanmedian(v, 0), -1)


def spearman_rows(a, b) -> np.ndarray:
    """Spearman correlation per row (seed) of a, b [K, H]; undefined (a constant row) counts as 0."""
    from scipy.stats import spearmanr
    out = []
    for x, y in zip(a, b):
        r = spearmanr(x, y).statistic if np.ptp(x) > 0 and np.ptp(y) > 0 else 0.0
        out.append(0.0 if not np.isfinite(r) else float(r))
    return np.array(out)


def grid_spread(final) -> np.ndarray:
    """[cells..., K] final losses -> [K]: per seed, the standard deviation (ddof 0) over all grid cells."""
    v = np.asarray(final, float)
    if v.ndim < 2:
        raise ValueError(f"expected [cells..., K], got shape {v.shape}")
    return v.reshape(-1, v.shape[-1]).std(0)


def grid_regret(final) -> np.ndarray:
    """[cells..., K] -> [K]: per seed, the mean over cells of (loss - the seed's best cell): what not tuning costs."""
    v = np.asarray(final, float).reshape(-1, np.shape(final)[-1])
    return (v - v.min(0)).mean(0)


def best_rate_index(loss) -> int:
    """[R, K] -> the rate whose seed-mean is lowest (first on ties)."""
    return int(np.argmin(np.asarray(loss, float).mean(1)))


def value(arrays, key: str, fill: float = LN10) -> np.ndarray:
    """A per-seed array [K] as a routine records it (one number per seed); a diverged seed counts as `fill`."""
    return finite_or(arrays[key], fill)


def budget_steps(eval_steps, budgets) -> list:
    """The step budgets a run of checkpoints eval_steps reaches (<= its last checkpoint), and the last checkpoint
    itself when it is not one of them: where a reading 'at the step budgets' is taken."""
    last = eval_steps[-1]
    return [b for b in budgets if b <= last] + ([int(last)] if last not in budgets else [])


def at_budgets(arrays, key: str, budgets, fill: float = CHANCE) -> np.ndarray:
    """[K]: a curve [E, K] averaged over its checkpoints at budget_steps; a diverged checkpoint counts as `fill`."""
    keep = np.isin(arrays["eval_step"], budget_steps(arrays["eval_step"], budgets))
    return finite_or(arrays[key][keep], fill).mean(0)
