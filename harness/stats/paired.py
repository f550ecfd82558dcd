"""One-sided tests of paired differences (seeds matched across arms): the sign-flip permutation test and
the Wilcoxon signed-rank test (exact, or the sign-flip null of mid-ranks). The paired t is twosample._t_p."""
from __future__ import annotations

import numpy as np
from scipy import stats

from bnclaims.harness.stats.common import MC_RESAMPLES, SIGNFLIP_EXACT_N


def _signflip(v, alternative, seed):
    """(p, exact?) of sum(v) under independent sign flips; v: (n,). Exact up to SIGNFLIP_EXACT_N."""
    v = v[v != 0]                                 # a zero flips to itself
    if v.size == 0:
        return 1.0, True
    if v.size > SIGNFLIP_EXACT_N:
        res = stats.permutation_test((v,), lambda a, axis=-1: np.sum(a, axis=axis),
                                     permutation_type="samples", vectorized=True,
                                     n_resamples=MC_RESAMPLES, alternative=alternative,
                                     rng=np.random.default_rng(seed))
        return float(res.pvalue), False
    n = v.size
    signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
    null = signs @ v
    obs = v.sum()
    # sums of the same terms in another order can differ in the last bits; count those as ties
    tol = 1e-10 * np.abs(v).sum()
    hits = null >= obs - tol if alternative == "greater" else null <= obs + tol
    return float(hits.mean()), True


def _wilcoxon(d, alternative, seed):
    """(p, method label) of the one-sided Wilcoxon signed-rank test of the paired differences d: (n,).

    No zeros or tied |d|: scipy's exact null; else zeros dropped, |d| mid-ranked and the signed ranks
    sign-flipped (_signflip; seed for its Monte-Carlo).
    """
    nz = d[d != 0]
    if nz.size == 0:
        return 1.0, "Wilcoxon signed-rank (all differences zero)"
    if nz.size == d.size and np.unique(np.abs(d)).size == d.size:
        res = stats.wilcoxon(d, alternative=alternative, method="exact")
        return float(res.pvalue), "exact Wilcoxon signed-rank"
    # zeros or tied |d|: the exact null is the sign-flip distribution of the mid-rank signed-rank sum
    ranks = stats.rankdata(np.abs(nz))
    p, exact = _signflip(np.sign(nz) * ranks, alternative, seed)
    kind = "exact" if exact else "Monte-Carlo"
    return p, f"{kind} sign-flip Wilcoxon signed-rank (zeros/ties dropped/mid-ranked)"
