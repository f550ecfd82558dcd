"""One-sided tests of two arms by their means or ranks: the Welch t (paired t with paired=True, one code
path for both) and the exact / permutation Mann-Whitney test. Inputs are validated by the caller."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from bnclaims.harness.stats.common import EXACT_LIMIT, MC_RESAMPLES, _u_stat


def _mannwhitney(x, y, alternative, seed):
    """(p, method label) of the one-sided Mann-Whitney test of x against y; x: (n_x,), y: (n_y,).

    Tie-free: scipy's exact null; ties: the permutation null of U, exact up to EXACT_LIMIT arrangements,
    else Monte-Carlo with rng seed.
    """
    pooled = np.concatenate([x, y])
    if np.unique(pooled).size == pooled.size:
        res = stats.mannwhitneyu(x, y, alternative=alternative, method="exact")
        return float(res.pvalue), "exact Mann-Whitney"
    # ties: scipy's exact null assumes none, so permute the U statistic itself
    count = math.comb(x.size + y.size, x.size)
    exact = count <= EXACT_LIMIT
    res = stats.permutation_test((x, y), _u_stat, vectorized=True,
                                 n_resamples=count if exact else MC_RESAMPLES,
                                 alternative=alternative, rng=np.random.default_rng(seed))
    kind = "exact" if exact else f"Monte-Carlo ({MC_RESAMPLES} resamples)"
    return float(res.pvalue), f"{kind} permutation Mann-Whitney (ties)"


def _t_p(x, y, alternative, paired, shift=0.0):
    """One-sided Welch (or paired) t p for H1: mean diff - shift > 0 ('greater') or < 0 ('less')."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # zero-variance arms give t = +-inf (p 0/1) or 0/0; the latter is mapped to "no evidence" below
        warnings.simplefilter("ignore", RuntimeWarning)
        if paired:
            res = stats.ttest_rel(x - shift, y, alternative=alternative)
        else:   # Welch's test from the arms' means and sds: same p as ttest_ind, about 10x faster per call
            xs = x - shift
            res = stats.ttest_ind_from_stats(xs.mean(), xs.std(ddof=1), xs.size, y.mean(), y.std(ddof=1), y.size,
                                             equal_var=False, alternative=alternative)
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else p
