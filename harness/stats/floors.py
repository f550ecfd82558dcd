"""Attainable p: the smallest one-sided p each test can return at given sizes, the smallest n below
alpha, and check_n, which refuses a design that cannot reach alpha whatever the data. No scipy."""
from __future__ import annotations

import math

from bnclaims.harness.stats.common import (EXACT_LIMIT, MC_RESAMPLES, PAGE_EXACT_GROUPS, PAGE_EXACT_SEEDS,
                                           SIGNFLIP_EXACT_N, TESTS, InsufficientSeeds, _check_alpha)


def _trend_count(sizes):
    """Number of distinct assignments of the pooled values to groups of these sizes."""
    total, count = 0, 1
    for n in sizes:
        total += n
        count *= math.comb(total, n)
    return count


def _trend_floor(sizes):
    """Smallest one-sided Jonckheere-Terpstra p for groups of these sizes: 1 / arrangements, or the
    Monte-Carlo floor beyond EXACT_LIMIT.
    """
    count = _trend_count(sizes)
    # scipy's Monte-Carlo p is (hits + 1) / (R + 1), so it never goes below 1/(R+1)
    return 1.0 / count if count <= EXACT_LIMIT else 1.0 / (MC_RESAMPLES + 1)


def _page_route(n, k, ties=False):
    """How the paired trend (Page's L) gets its p for n seeds (blocks) x k groups.

    "sign": 2 groups, exact sign test; "exact": scipy's exact L distribution (tie-free, within the size
    limits); "permutation": exact enumeration of the (k!)^n within-seed orders; "mc": Monte-Carlo.
    """
    if k == 2:
        return "sign"
    if not ties and 2 <= n <= PAGE_EXACT_SEEDS and k <= PAGE_EXACT_GROUPS:
        return "exact"
    if math.factorial(k) ** n <= EXACT_LIMIT:
        return "permutation"
    return "mc"


def _page_floor(n, k):
    """Smallest p of the paired trend for tie-free data: one within-seed order in (k!)^n, or the MC floor."""
    if _page_route(n, k) == "mc":
        return 1.0 / (MC_RESAMPLES + 1)
    return math.factorial(k) ** -float(n)


def min_attainable_p(test: str, n_x: int, n_y: int | None = None, *, paired: bool = False) -> float:
    """Smallest one-sided p the test can return for these sizes (tie-free data).

    mannwhitney: n_x, n_y per arm; wilcoxon/signflip: n_x pairs; welch/tost: 0.0 (1.0 below 2 per arm);
    trend: n_x seeds in each of n_y groups; paired=True: Page's L with seeds as blocks, (1/k!)^n
    (Monte-Carlo floor beyond the exact sizes). paired only changes the trend floor.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {TESTS}")
    if n_x < 0 or (n_y is not None and n_y < 0):
        raise ValueError("sample sizes must be >= 0")
    if test in ("welch", "tost"):
        n_y = n_x if n_y is None else n_y
        return 0.0 if min(n_x, n_y) >= 2 else 1.0
    if test == "mannwhitney":
        n_y = n_x if n_y is None else n_y
        return 1.0 / math.comb(n_x + n_y, n_x)
    if test in ("wilcoxon", "signflip"):
        if n_y is not None and n_y != n_x:
            raise ValueError(f"{test} is paired: n_x and n_y must match, got {n_x} and {n_y}")
        if test == "signflip" and n_x > SIGNFLIP_EXACT_N:
            return 1.0 / (MC_RESAMPLES + 1)
        return 2.0 ** -n_x
    if n_y is None or n_y < 2:
        raise ValueError("trend: pass n_x = seeds per group and n_y = number of groups (>= 2)")
    if paired:
        return _page_floor(n_x, n_y)
    return _trend_floor([n_x] * n_y)


def _smallest_n(test, alpha, n_groups=2, paired=False):
    """Smallest balanced n (per arm / pairs / per group) whose floor is below alpha; None if none.

    Monte-Carlo floors (1/10000) stop shrinking, so the search is bounded.
    """
    for n in range(1, 200):
        floor = (min_attainable_p(test, n, n_groups, paired=paired) if test == "trend"
                 else min_attainable_p(test, n, None))
        if floor < alpha:
            return n
    return None


_LABELS = {"welch": "Welch t", "mannwhitney": "exact Mann-Whitney",
           "wilcoxon": "exact Wilcoxon signed-rank", "signflip": "sign-flip permutation",
           "tost": "TOST (t)", "trend": "Jonckheere-Terpstra"}
_PAGE_LABEL = "Page L (paired trend)"


def check_n(test: str, n_x: int, n_y: int | None = None, alpha: float = 0.01, *,
            paired: bool = False) -> None:
    """Raise InsufficientSeeds when no data at these sizes can give p < alpha.

    paired only matters for trend (Page's L, seeds as blocks, instead of Jonckheere-Terpstra).
    """
    _check_alpha(alpha)
    if test in ("welch", "tost"):
        n_y = n_x if n_y is None else n_y
        if min(n_x, n_y) < 2:
            raise InsufficientSeeds(f"{_LABELS[test]} needs at least 2 seeds per arm, "
                                    f"got {n_x} and {n_y}")
        return
    floor = min_attainable_p(test, n_x, n_y, paired=paired)
    if floor < alpha:
        return
    label = _LABELS[test]
    if test == "mannwhitney":
        n_y = n_x if n_y is None else n_y
        what, unit = f"with {n_x} and {n_y} seeds", "per arm"
    elif test == "trend":
        what, unit = f"with {n_y} groups of {n_x} seeds", "per group"
        label = _PAGE_LABEL if paired else label
    else:
        what, unit = f"with {n_x} seed pairs", "pairs"
    need = (_smallest_n(test, alpha, n_y, paired) if test == "trend"
            else _smallest_n(test, alpha))
    advice = f"use at least {need} {unit}" if need else "no number of seeds reaches it with this test"
    raise InsufficientSeeds(f"{label} {what} cannot reach p < {alpha:g} "
                            f"(smallest attainable p = {floor:.3g}); {advice}")
