"""Effect sizes of two arms and their intervals: Hedges g, P(X > Y), and the BCa bootstrap CI of the mean
difference or log ratio (percentile fallback)."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special, stats

from bnclaims.harness.stats.common import _num, _u_stat, _values


def hedges_g(x, y) -> float | None:
    """Bias-corrected standardized mean difference (x - y) / pooled sd; x: (n_x,), y: (n_y,).

    None when undefined (fewer than 2 residual df, or zero spread with a non-zero difference).
    """
    x, y = _values(x, "x"), _values(y, "y")
    df = x.size + y.size - 2
    if df < 2:
        return None
    ss = ((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum()
    diff = x.mean() - y.mean()
    if ss == 0:
        return 0.0 if diff == 0 else None
    # exact small-sample correction J(df) rather than the 1 - 3/(4df-1) approximation
    j = math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)
    return _num(j * diff / math.sqrt(ss / df))


def prob_superiority(x, y) -> float:
    """P(X > Y) + 0.5 P(X = Y) = U / (n_x n_y); x: (n_x,), y: (n_y,)."""
    x, y = _values(x, "x"), _values(y, "y")
    if x.size == 0 or y.size == 0:
        raise ValueError("prob_superiority needs at least one value per arm")
    return float(_u_stat(x, y)) / (x.size * y.size)


def _mean_diff(x, y, axis=-1):
    """mean(x) - mean(y) along axis: the bootstrap statistic "mean_diff"."""
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _log_ratio(x, y, axis=-1):
    """log(mean x / mean y) along axis: the bootstrap statistic "log_ratio" (positive data)."""
    return np.log(np.mean(x, axis=axis) / np.mean(y, axis=axis))


_STATISTICS = {"mean_diff": _mean_diff, "log_ratio": _log_ratio}


def _percentile_ci(x, y, fn, paired, level, rng, n_resamples):
    """Percentile bootstrap interval (lo, hi) of fn(x, y) at level from n_resamples draws of rng;
    pairs are resampled together when paired.
    """
    # own resampling so that arms with a single value (where scipy refuses) still get an interval
    if paired:
        idx = rng.integers(0, x.size, (n_resamples, x.size))
        boot = fn(x[idx], y[idx])
    else:
        boot = fn(x[rng.integers(0, x.size, (n_resamples, x.size))],
                  y[rng.integers(0, y.size, (n_resamples, y.size))])
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bca_ci(x, y, statistic: str = "mean_diff", paired: bool = False, level: float = 0.95,
           seed: int = 0, n_resamples: int = 9999) -> tuple[float, float]:
    """BCa bootstrap CI of mean(x) - mean(y) ("mean_diff") or log(mean x / mean y) ("log_ratio").

    x: (n_x,), y: (n_y,) (equal n when paired: pairs are resampled together). Falls back to the
    percentile interval where BCa is undefined; constant data give (d, d).
    """
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {tuple(_STATISTICS)}, got {statistic!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    x, y = _values(x, "x"), _values(y, "y")
    if x.size == 0 or y.size == 0:
        raise ValueError("bca_ci needs at least one value per arm")
    if paired and x.size != y.size:
        raise ValueError(f"paired CI needs equal n per arm, got {x.size} and {y.size}")
    if statistic == "log_ratio" and (x.min() <= 0 or y.min() <= 0):
        raise ValueError("log_ratio needs strictly positive values in both arms")
    fn = _STATISTICS[statistic]
    d = float(fn(x, y))
    # nothing to resample: every bootstrap replicate equals d
    constant_diffs = paired and statistic == "mean_diff" and np.ptp(x - y) == 0
    if (np.ptp(x) == 0 and np.ptp(y) == 0) or constant_diffs:
        return d, d
    lo = hi = math.nan
    if min(x.size, y.size) >= 2:
        with warnings.catch_warnings():
            # BCa's degenerate-data and divide warnings are handled by the fallback below
            warnings.simplefilter("ignore")
            try:
                res = stats.bootstrap((x, y), fn, n_resamples=n_resamples, paired=paired,
                                      vectorized=True, confidence_level=level, method="BCa",
                                      rng=np.random.default_rng(seed))
                lo, hi = res.confidence_interval
            except (ValueError, FloatingPointError):
                pass
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = _percentile_ci(x, y, fn, paired, level, np.random.default_rng(seed), n_resamples)
    return float(lo), float(hi)
