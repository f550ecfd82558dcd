"""Seed planning with the noncentral-t model: predicted power, seeds needed at an effect, and plans from a
pilot's lower confidence bound on its effect. (power.py simulates the exact tests instead.)"""
from __future__ import annotations

import math

from scipy import optimize, stats

from bnclaims.harness.stats.common import ARE_RANK, ARE_SIGN, TESTS, _check_alpha, _clean, _values
from bnclaims.harness.stats.effsize import hedges_g
from bnclaims.harness.stats.floors import _smallest_n


def _t_power(d, n, alpha, paired):
    """One-sided power of the equal-n t test (Welch-equivalent) at standardized effect d.

    n (per arm, or pairs) may be fractional, as the rank-test allowance produces.
    """
    if paired:
        df, ncp = n - 1, d * math.sqrt(n)
    else:
        df, ncp = 2 * n - 2, d * math.sqrt(n / 2)
    if df <= 0:
        return 0.0
    return float(stats.nct.sf(stats.t.isf(alpha, df), df, ncp))


# the planning model treats a trend as a comparison of its end groups: Mann-Whitney for independent
# groups, a paired (within-seed) comparison of last - first for Page's L
_FLOOR_TEST = {"trend": "mannwhitney"}


def _power_model(test, paired, n_groups=None):
    """(uses a paired design?, efficiency relative to the t test) for the planning model."""
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {TESTS}")
    if test == "mannwhitney" and paired:
        raise ValueError("'mannwhitney' is for independent arms")
    if n_groups is not None and (test != "trend" or n_groups < 2):
        raise ValueError("n_groups is the number of ordered groups (>= 2) of a trend")
    paired = paired or test in ("wilcoxon", "signflip")
    # signflip is asymptotically as efficient as t, but at n ~ 8 its coarse exact null costs about as
    # much power as a rank test's 3/pi (simulated), so it gets the same allowance
    discounted = test in ("mannwhitney", "wilcoxon", "signflip", "trend")
    # Page's L with 2 groups is the sign test (2/pi); with 3+ groups its end-to-end plan at 3/pi was
    # simulated to reach the planned power (linear trend, block effects)
    eff = (ARE_SIGN if test == "trend" and paired and n_groups == 2
           else ARE_RANK if discounted else 1.0)
    return paired, eff


def _plan_floor_n(test, alpha, paired, n_groups):
    """Smallest n the planning model accepts: the n whose floor is below alpha (None if none).

    Paired trend without n_groups is planned for 3+ groups (3 groups have the largest floor of those).
    """
    if test == "trend" and paired:
        return _smallest_n("trend", alpha, n_groups or 3, paired=True)
    if test == "trend" and n_groups is not None:
        return _smallest_n("trend", alpha, n_groups)
    return _smallest_n(_FLOOR_TEST.get(test, test), alpha)


def predicted_power(test: str, effect_size_d: float, n: int, alpha: float = 0.01,
                    paired: bool = False, *, n_groups: int | None = None) -> float:
    """Planning-model power of the one-sided test with n per arm (or pairs) at standardized effect d.

    t model (noncentral t); rank and sign-flip tests use n * 3/pi effective seeds; 0 when n cannot
    reach alpha.
    tost: d is the margin in sd units at a true difference of 0 (Bonferroni bound on the two sides).
    trend: treated as a Mann-Whitney comparison of the end groups (d = end-to-end effect); paired=True
    (Page's L): a paired comparison of the end groups (d = mean/sd of the within-seed last - first
    differences), n * 3/pi effective pairs (2/pi with n_groups=2: the sign test). n_groups (trend only)
    sets the floor; None: 2 groups unpaired, 3 groups paired.
    """
    _check_alpha(alpha)
    is_paired, eff = _power_model(test, paired, n_groups)
    need = _plan_floor_n(test, alpha, is_paired, n_groups)
    if need is None or n < need:
        return 0.0
    if test == "tost":
        return max(0.0, 1 - 2 * (1 - _t_power(effect_size_d, n, alpha, is_paired)))
    return _t_power(effect_size_d, n * eff, alpha, is_paired)


def seeds_needed(test: str, effect_size_d: float, alpha: float = 0.01, power: float = 0.95,
                 paired: bool = False, *, n_groups: int | None = None) -> int:
    """Seeds per arm (pairs for paired designs, per group for trend) for a one-sided test.

    d is Cohen's d (paired: mean/sd of the differences). t tests: smallest n whose noncentral-t power
    reaches `power`; rank and sign-flip tests: that n inflated by 1/ARE = pi/3, then at least the n that
    can reach alpha. wilcoxon/signflip are always planned as paired. trend with paired=True (Page's L)
    is planned as a paired end-to-end comparison (d_z of last - first); see predicted_power for n_groups.
    """
    _check_alpha(alpha)
    if not effect_size_d > 0:
        raise ValueError(f"effect_size_d must be > 0, got {effect_size_d!r}")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    is_paired, eff = _power_model(test, paired, n_groups)
    # tost must pass both one-sided tests: ask each for half the miss rate (Bonferroni)
    side_power = 1 - (1 - power) / 2 if test == "tost" else power

    def enough(n):
        return _t_power(effect_size_d, n, alpha, is_paired) >= side_power

    # power grows with n: double until enough, then bisect for the smallest such n
    lo, hi = 1, 2
    while not enough(hi):
        lo, hi = hi, hi * 2
        if hi > 2 ** 30:
            raise ValueError(f"effect size {effect_size_d!r} is too small to plan for")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    need = _plan_floor_n(test, alpha, is_paired, n_groups)
    if need is None:
        raise ValueError(f"{test} cannot reach alpha={alpha:g} at any number of seeds")
    return max(math.ceil(hi / eff - 1e-9), need)


def _ncp_lower(t_obs, df, level):
    """Noncentrality delta >= 0 with P(T_df,delta <= t_obs) = level: the level lower bound of delta.

    0 when even delta = 0 leaves P(T <= t_obs) <= level (the pilot does not exclude no effect).
    """
    def excess(ncp):
        return float(stats.nct.cdf(t_obs, df, ncp)) - level      # falls as ncp grows

    if excess(0.0) <= 0:
        return 0.0
    hi = t_obs + 1.0
    for _ in range(60):                     # bounded bracket search: T_df,ncp sits near ncp
        if excess(hi) < 0:
            return float(optimize.brentq(excess, 0.0, hi, xtol=1e-12, maxiter=200))
        hi = 2 * hi + 1.0
    raise ValueError(f"no noncentrality bound found for t={t_obs!r} with df={df}")


def effect_lcb(x, y=None, *, paired: bool = True, level: float = 0.9) -> dict:
    """Point standardized effect of a pilot and a one-sided lower confidence bound on its size.

    paired: x - y per seed (or x already the differences when y is None); d = d_z = mean/sd of the
    differences, t = |d_z| sqrt(n), df n - 1. Unpaired (y needed): d = Hedges g; the bound uses the
    pooled two-sample t = |Cohen d| sqrt(n_x n_y / (n_x + n_y)), df n_x + n_y - 2. lcb is the delta
    with P(T <= t_obs | ncp(delta)) = level (noncentral t inverted); it bounds the size |delta| in the
    observed direction "sign" (+1 when d is 0). level in [0.5, 1).
    Returns {"d", "lcb", "sign", "n", "level", "paired"} (+ "note"): zero spread with a non-zero
    difference gives d and lcb = +-inf / +inf (the only non-finite values; json writes them as
    Infinity); no difference gives d = lcb = 0; n is pairs, or [n_x, n_y] when unpaired.
    """
    if not 0.5 <= level < 1:
        raise ValueError(f"level must be in [0.5, 1), got {level!r}")
    x = _values(x, "x")
    if paired:
        if y is not None:
            y = _values(y, "y")
            if x.size != y.size:
                raise ValueError(f"paired effect needs equal n per arm, got {x.size} and {y.size}")
        diff = x if y is None else x - y
        if diff.size < 2:
            raise ValueError(f"a paired effect bound needs at least 2 pairs, got {diff.size}")
        n, df, scale = diff.size, diff.size - 1, math.sqrt(diff.size)
        mean, sd = float(diff.mean()), float(diff.std(ddof=1))
        out = {"d": None, "n": n}
    else:
        if y is None:
            raise ValueError("an unpaired effect needs both arms (y)")
        y = _values(y, "y")
        df = x.size + y.size - 2
        if min(x.size, y.size) < 1 or df < 2:
            raise ValueError(f"an unpaired effect bound needs n_x + n_y >= 4, got {x.size} and {y.size}")
        scale = math.sqrt(x.size * y.size / (x.size + y.size))
        mean = float(x.mean() - y.mean())
        sd = math.sqrt((((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum()) / df)
        out = {"d": hedges_g(x, y), "n": [x.size, y.size]}
    sign = -1 if mean < 0 else 1
    out.update({"sign": sign, "level": level, "paired": paired})
    # spread at rounding level (x - y of shifted copies) counts as none
    if mean == 0 or sd <= 1e-12 * abs(mean):
        if mean == 0:
            out.update({"d": 0.0, "lcb": 0.0, "note": "no difference in the pilot"})
            return _clean(out)
        out = _clean(out)
        out.update({"d": sign * math.inf, "lcb": math.inf,
                    "note": "every pilot difference is the same non-zero value (sd 0): "
                            "the effect is unbounded; plan at the smallest n that can reach alpha"})
        return out
    if paired:
        out["d"] = mean / sd
    ncp = _ncp_lower(abs(mean) / sd * scale, df, level)
    out["lcb"] = ncp / scale
    if ncp == 0:
        out["note"] = f"the pilot does not exclude a zero effect at the {level:g} lower bound"
    return _clean(out)


def plan_seeds(x, y=None, *, test: str, alpha: float, paired: bool, power: float = 0.8,
               level: float = 0.9, n_groups: int | None = None) -> dict:
    """Seeds to plan from a pilot: seeds_needed at the pilot's effect_lcb instead of its point effect.

    x, y: pilot values per seed (trend: last and first group). n respects the floor: at least floor_n,
    the smallest n whose attainable p is below alpha (all n_groups for trend; see predicted_power).
    Returns {"d", "lcb", "sign", "level", "power", "alpha", "test", "paired", "n_groups", "n", "floor_n"};
    an unbounded lcb (zero spread) gives n = floor_n.
    Raises ValueError when lcb is 0 (no effect in either direction at the lower bound).
    """
    _check_alpha(alpha)
    if test == "tost":
        raise ValueError("an equivalence plan starts from its margin (seeds_needed('tost', margin)), "
                         "not from a pilot effect")
    if test in ("wilcoxon", "signflip") and not paired:
        raise ValueError(f"{test!r} is a paired test; pass paired=True")
    _power_model(test, paired, n_groups)                  # validates test, pairing and n_groups
    eff = effect_lcb(x, y, paired=paired, level=level)
    floor_n = _plan_floor_n(test, alpha, paired, n_groups)
    if floor_n is None:
        raise ValueError(f"{test} cannot reach alpha={alpha:g} at any number of seeds")
    lcb = eff["lcb"]
    if lcb == math.inf:
        n = floor_n
    elif not lcb > 0:
        raise ValueError(f"the pilot does not show an effect in either direction at the {level:g} "
                         f"lower bound (point d = {eff['d']:.3g}); cannot plan")
    else:
        n = seeds_needed(test, lcb, alpha, power, paired, n_groups=n_groups)
    return {"d": eff["d"], "lcb": lcb, "sign": eff["sign"], "level": level, "power": power,
            "alpha": alpha, "test": test, "paired": paired, "n_groups": n_groups, "n": n,
            "floor_n": floor_n}
