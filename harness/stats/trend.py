"""Monotone trend across ordered groups: Jonckheere-Terpstra for independent groups, Page's L with seeds as
blocks for paired groups (sign test, exact L, or within-seed permutations), and the Spearman rho reported."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from bnclaims.harness.stats.common import EXACT_LIMIT, MC_RESAMPLES, TRENDS, _clean, _u_stat, _values
from bnclaims.harness.stats.floors import _page_route, _trend_count


def _jt_stat(*groups, axis=-1):
    """Jonckheere-Terpstra: pairs (a in earlier group, b in later group) with b > a, ties count 1/2."""
    s = 0.0
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            s = s + _u_stat(groups[j], groups[i])
    return s


def _groups(groups):
    """The groups as finite 1-D float arrays; ValueError below 2 groups or for an empty one."""
    if len(groups) < 2:
        raise ValueError("a trend needs at least 2 ordered groups")
    out = [_values(g, f"group {i}") for i, g in enumerate(groups)]
    if any(g.size == 0 for g in out):
        raise ValueError("every group needs at least one value")
    return out


def _trend(gs, alternative, seed):
    """(JT statistic, p, method) of Jonckheere-Terpstra; gs: list of (n_i,) arrays, alternative in TRENDS.

    Exact up to EXACT_LIMIT arrangements, else Monte-Carlo with rng seed.
    """
    count = _trend_count([g.size for g in gs])
    exact = count <= EXACT_LIMIT
    res = stats.permutation_test(gs, _jt_stat, vectorized=True,
                                 n_resamples=count if exact else MC_RESAMPLES,
                                 alternative="less" if alternative == "decreasing" else "greater",
                                 rng=np.random.default_rng(seed))
    method = ("exact Jonckheere-Terpstra" if exact
              else f"Monte-Carlo Jonckheere-Terpstra ({MC_RESAMPLES} resamples)")
    return float(res.statistic), float(res.pvalue), method


def _page_stat(*groups, axis=-1):
    """Page's L for an increasing order: sum over seeds of (group position 1..k) x within-seed rank.

    groups: k arrays (..., n), seed i of every group in position i; ties get mid-ranks. Works on the
    (batch, n) resamples permutation_test hands over.
    """
    ranks = stats.rankdata(np.stack(groups, axis=-1), axis=-1)        # (..., n, k)
    return (ranks * np.arange(1, len(groups) + 1)).sum(axis=(-2, -1))


def _page_p(table, seed):
    """(p, route) of Page's L against an increasing order of the columns; table: (n seeds, k groups)."""
    n, k = table.shape
    ties = bool(np.any(np.diff(np.sort(table, axis=1), axis=1) == 0))
    route = _page_route(n, k, ties)
    if route == "sign":
        # with 2 groups L only counts the seeds where the second value is larger; equal pairs drop out
        up, down = int(np.sum(table[:, 1] > table[:, 0])), int(np.sum(table[:, 1] < table[:, 0]))
        p = stats.binomtest(up, up + down, 0.5, alternative="greater").pvalue if up + down else 1.0
    elif route == "exact":
        p = stats.page_trend_test(table, method="exact").pvalue
    else:
        count = math.factorial(k) ** n
        res = stats.permutation_test(list(table.T), _page_stat, permutation_type="samples",
                                     vectorized=True, alternative="greater",
                                     n_resamples=count if route == "permutation" else MC_RESAMPLES,
                                     rng=np.random.default_rng(seed))
        p = res.pvalue
    # the exact recursion sums floats: keep p a probability
    return min(float(p), 1.0), route, ties


_PAGE_METHODS = {"sign": "exact Page L (2 groups: sign test; blocks = seeds)",
                 "exact": "exact Page L (blocks = seeds)",
                 "permutation": "exact within-seed permutation Page L (blocks = seeds)",
                 "mc": f"Monte-Carlo within-seed permutation Page L ({MC_RESAMPLES} resamples; "
                       "blocks = seeds)"}


def _page(gs, alternative, seed):
    """(L, p, method) of the paired trend; gs: k equal-size arrays, seed i of each forms block i.

    L is for the increasing order (high = increasing); a decreasing alternative reverses the columns.
    """
    table = np.column_stack(gs)
    stat = float(_page_stat(*gs))
    p, route, ties = _page_p(table if alternative == "increasing" else table[:, ::-1], seed)
    method = _PAGE_METHODS[route] + (" with tied values mid-ranked" if ties and route != "sign" else "")
    return stat, p, method


def _paired_groups(gs):
    """Raise ValueError unless every group has the same size (seed i of each group is block i)."""
    sizes = [g.size for g in gs]
    if len(set(sizes)) > 1:
        raise ValueError(f"a paired trend needs the same seeds in every group, got sizes {sizes}")


def trend_test(groups: list, alternative: str = "decreasing", seed: int = 0, *,
               paired: bool = False) -> dict:
    """Test of a monotone trend across ordered groups (list of 1-D arrays).

    paired=False: Jonckheere-Terpstra for independent groups; statistic counts (earlier, later) pairs
    where the later value is larger (high = increasing); p exact by enumeration up to EXACT_LIMIT
    arrangements, else Monte-Carlo with a fixed rng.
    paired=True: Page's L with seed i of every group as block i (equal sizes); ranks within each seed,
    statistic L for the increasing order (high = increasing); p exact (scipy's L distribution, the sign
    test for 2 groups, or enumeration), else Monte-Carlo within-seed permutations with a fixed rng.
    Returns {"statistic", "p", "spearman_rho", "method"}.
    """
    if alternative not in TRENDS:
        raise ValueError(f"alternative must be one of {TRENDS}, got {alternative!r}")
    gs = _groups(groups)
    if paired:
        _paired_groups(gs)
    stat, p, method = (_page if paired else _trend)(gs, alternative, seed)
    return _clean({"statistic": stat, "p": p, "spearman_rho": _spearman(gs), "method": method})


def _spearman(gs):
    """Spearman rho between group position and value; nan when all values are equal."""
    idx = np.concatenate([np.full(g.size, i) for i, g in enumerate(gs)])
    vals = np.concatenate(gs)
    return stats.spearmanr(idx, vals).statistic if np.ptp(vals) > 0 else math.nan
