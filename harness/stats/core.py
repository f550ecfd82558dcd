"""Small-sample statistics for claim checks: one-sided tests, effect sizes, CIs, verdicts.

Inputs are 1-D arrays with one value per seed; every public result is made of JSON-safe builtins
(float/int/str/bool/list/None) so it can travel between pytest-xdist processes. No torch here.
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import optimize, special, stats

from bnclaims.harness.stats.verdict import from_p

TESTS = ("welch", "mannwhitney", "wilcoxon", "signflip", "tost", "trend")
ALTERNATIVES = ("greater", "less")
TRENDS = ("decreasing", "increasing")

# Exact enumeration beyond ~20k arrangements costs seconds per call in scipy (measured), so larger
# problems use a fixed-seed Monte-Carlo null of this many resamples (p floor 1/10000).
EXACT_LIMIT = 20_000
MC_RESAMPLES = 9_999
SIGNFLIP_EXACT_N = 16          # 2**16 sign vectors still enumerate in a few ms
ARE_RANK = 3 / math.pi         # Pitman efficiency of rank tests vs t under normality
ARE_SIGN = 2 / math.pi         # ... and of the sign test (Page's L with 2 groups)
# scipy's exact Page L recursion: cold cost ~2 s at 8 groups x 50 seeds, ~5 s at 10 groups (10! rows);
# beyond these sizes the within-seed permutation null is used instead (exact or Monte-Carlo)
PAGE_EXACT_GROUPS = 8
PAGE_EXACT_SEEDS = 50


class InsufficientSeeds(ValueError):
    """The test cannot produce p < alpha with this many seeds, whatever the data."""


# ---------------------------------------------------------------------------------------------
# helpers

def _num(v):
    """Builtin float, or None for nan/inf (JSON has neither)."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _clean(obj):
    """Recursively convert numpy scalars/arrays and tuples to JSON-safe builtins."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _num(obj)
    return obj


def _array(values, name):
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per seed), got shape {a.shape}")
    return a


def _check_finite(a, name):
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name} has non-finite values (nan/inf) at positions {bad.tolist()}; "
                         "convert diverged runs to a finite penalty value before comparing")


def _values(values, name):
    a = _array(values, name)
    _check_finite(a, name)
    return a


def _check_alpha(alpha):
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _check_alternative(alternative):
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def _check_pairing(test, paired, n_x, n_y):
    if test in ("wilcoxon", "signflip") and not paired:
        raise ValueError(f"{test!r} is a paired test; pass paired=True (seeds matched across arms)")
    if test == "mannwhitney" and paired:
        raise ValueError("'mannwhitney' is for independent arms; "
                         "use 'wilcoxon' or 'signflip' for paired seeds")
    if paired and n_y is not None and n_x != n_y:
        raise ValueError(f"paired comparison needs equal n per arm, got {n_x} and {n_y}")


def _fmt_p(p):
    return f"{p:.2e}" if 0 < p < 1e-4 else f"{p:.4f}"


def _sd(a):
    return float(np.std(a, ddof=1)) if a.size >= 2 else None


# ---------------------------------------------------------------------------------------------
# attainable p and sample size

def _trend_count(sizes):
    """Number of distinct assignments of the pooled values to groups of these sizes."""
    total, count = 0, 1
    for n in sizes:
        total += n
        count *= math.comb(total, n)
    return count


def _trend_floor(sizes):
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


# ---------------------------------------------------------------------------------------------
# effect sizes and intervals

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


def _u_stat(x, y, axis=-1):
    # works on 1-D arrays and on the (batch, n) resamples permutation_test hands over
    gt = (x[..., :, None] > y[..., None, :]).sum(axis=(-2, -1))
    eq = (x[..., :, None] == y[..., None, :]).sum(axis=(-2, -1))
    return gt + 0.5 * eq


def prob_superiority(x, y) -> float:
    """P(X > Y) + 0.5 P(X = Y) = U / (n_x n_y); x: (n_x,), y: (n_y,)."""
    x, y = _values(x, "x"), _values(y, "y")
    if x.size == 0 or y.size == 0:
        raise ValueError("prob_superiority needs at least one value per arm")
    return float(_u_stat(x, y)) / (x.size * y.size)


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _log_ratio(x, y, axis=-1):
    return np.log(np.mean(x, axis=axis) / np.mean(y, axis=axis))


_STATISTICS = {"mean_diff": _mean_diff, "log_ratio": _log_ratio}


def _percentile_ci(x, y, fn, paired, level, rng, n_resamples):
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


# ---------------------------------------------------------------------------------------------
# conservative pilot effects for planning

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


# ---------------------------------------------------------------------------------------------
# one-sided tests

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


def _mannwhitney(x, y, alternative, seed):
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


def _wilcoxon(d, alternative, seed):
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


def _one_sided(x, y, test, alternative, paired, seed):
    """(p, method label) of the one-sided test; inputs already validated."""
    if test == "welch":
        return _t_p(x, y, alternative, paired), ("paired t" if paired else "Welch t")
    if test == "mannwhitney":
        return _mannwhitney(x, y, alternative, seed)
    if test == "wilcoxon":
        return _wilcoxon(x - y, alternative, seed)
    if test == "signflip":
        p, exact = _signflip(x - y, alternative, seed)
        return p, ("exact sign-flip permutation" if exact
                   else f"Monte-Carlo sign-flip permutation ({MC_RESAMPLES} resamples)")
    if test in ("tost", "trend"):
        raise ValueError(f"{test!r} is not a one-sided two-arm test; use "
                         f"{'tost()' if test == 'tost' else 'trend_test()'}")
    raise ValueError(f"unknown test {test!r}; choose one of {TESTS}")


def one_sided_p(x, y, test: str, alternative: str, paired: bool = False, *, seed: int = 0) -> float:
    """One-sided p of `test` for H1: x > y ("greater") or x < y ("less"); x: (n_x,), y: (n_y,).

    seed only matters for the Monte-Carlo fallbacks (large tied Mann-Whitney, sign-flip with n > 16).
    """
    _check_alternative(alternative)
    x, y = _values(x, "x"), _values(y, "y")
    _check_pairing(test, paired, x.size, y.size)
    return _one_sided(x, y, test, alternative, paired, seed)[0]


def tost(x, y, low: float, upp: float, paired: bool = False) -> float:
    """TOST p for H1: low < mean(x) - mean(y) < upp (Welch, or paired t); x: (n_x,), y: (n_y,)."""
    if not low < upp:
        raise ValueError(f"tost needs low < upp, got {low!r}, {upp!r}")
    x, y = _values(x, "x"), _values(y, "y")
    _check_pairing("tost", paired, x.size, y.size)
    return max(_t_p(x, y, "greater", paired, low), _t_p(x, y, "less", paired, upp))


# ---------------------------------------------------------------------------------------------
# ordered groups

def _jt_stat(*groups, axis=-1):
    """Jonckheere-Terpstra: pairs (a in earlier group, b in later group) with b > a, ties count 1/2."""
    s = 0.0
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            s = s + _u_stat(groups[j], groups[i])
    return s


def _groups(groups):
    if len(groups) < 2:
        raise ValueError("a trend needs at least 2 ordered groups")
    out = [_values(g, f"group {i}") for i, g in enumerate(groups)]
    if any(g.size == 0 for g in out):
        raise ValueError("every group needs at least one value")
    return out


def _trend(gs, alternative, seed):
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


# ---------------------------------------------------------------------------------------------
# multiplicity and sequential plans

def _pvals(pvals):
    p = np.asarray(pvals, dtype=float).ravel()
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError("p-values must be finite and in [0, 1]")
    return p


def holm(pvals) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    p = _pvals(pvals)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return [float(v) for v in out]


def bh(pvals) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    p = _pvals(pvals)
    if p.size == 0:
        return []
    return [float(v) for v in stats.false_discovery_control(p, method="bh")]


@functools.lru_cache(maxsize=32)
def _obf_two_stage(alpha):
    # looks at information 1/2 and 1: corr(Z1, Z2) = sqrt(1/2); OBF bounds are C*sqrt(2) and C
    r = math.sqrt(0.5)
    cov = [[1.0, r], [r, 1.0]]

    def excess(c):
        inside = stats.multivariate_normal.cdf([c * math.sqrt(2), c], mean=[0.0, 0.0], cov=cov,
                                               abseps=1e-10, releps=1e-10, rng=np.random.default_rng(0))
        return (1 - inside) - alpha

    c = optimize.brentq(excess, stats.norm.isf(alpha), stats.norm.isf(alpha / 2) + 1, xtol=1e-12)
    return float(stats.norm.sf(c * math.sqrt(2))), float(stats.norm.sf(c))


def obf_two_stage(alpha: float = 0.01) -> tuple[float, float]:
    """One-sided O'Brien-Fleming plan with 2 equally spaced looks, as nominal one-sided p thresholds.

    Solved so that P(Z1 > z1 or Z2 > z2) = alpha under H0 (bivariate normal, corr sqrt(1/2)).
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    return _obf_two_stage(float(alpha))


def sequential_verdict(p_stage1: float, p_stage2: float | None = None, alpha: float = 0.01) -> dict:
    """Two-stage OBF decision on one-sided p-values.

    stop_at 1: rejected at the interim look; 2: decided at the final look; None: run stage 2.
    """
    t1, t2 = obf_two_stage(alpha)
    if p_stage1 < t1:
        return {"stop_at": 1, "reject": True, "thresholds": [t1, t2]}
    if p_stage2 is None:
        return {"stop_at": None, "reject": False, "thresholds": [t1, t2]}
    return {"stop_at": 2, "reject": bool(p_stage2 < t2), "thresholds": [t1, t2]}


# ---------------------------------------------------------------------------------------------
# verdicts

def _margin(margin):
    if margin is None:
        raise ValueError("direction='equivalent' needs a margin")
    if np.ndim(margin) == 0:
        m = float(margin)
        if not m > 0:
            raise ValueError(f"margin must be > 0, got {margin!r}")
        return -m, m
    low, upp = (float(v) for v in margin)
    if not low < upp:
        raise ValueError(f"margin (low, upp) needs low < upp, got {margin!r}")
    return low, upp


def _summary(x, y, paired, seed):
    """Per-arm summaries and effect sizes shared by compare()."""
    out = {"n_x": x.size, "n_y": y.size,
           "mean_x": x.mean(), "mean_y": y.mean(), "sd_x": _sd(x), "sd_y": _sd(y),
           "median_x": np.median(x), "median_y": np.median(y),
           "effect": x.mean() - y.mean(), "ci": list(bca_ci(x, y, "mean_diff", paired, 0.95, seed)),
           "ci_level": 0.95, "ratio": None, "ratio_ci": None, "log_ratio": None, "log_ratio_ci": None,
           "hedges_g": hedges_g(x, y), "p_superiority": prob_superiority(x, y), "d_z": None}
    if paired:      # the standardized mean of the paired differences: the effect size a paired test sees
        d = x - y
        sd = _sd(d)
        out["d_z"] = float(d.mean() / sd) if sd and np.isfinite(sd) and sd > 0 else None
    if x.min() > 0 and y.min() > 0:
        lo, hi = bca_ci(x, y, "log_ratio", paired, 0.95, seed)
        out["log_ratio"] = float(_log_ratio(x, y))
        out["log_ratio_ci"] = [lo, hi]
        out["ratio"] = x.mean() / y.mean()
        out["ratio_ci"] = [math.exp(lo), math.exp(hi)]
    return out


def compare(x, y, *, direction: str, test: str, alpha: float = 0.01, paired: bool = False,
            margin=None, sesoi: float | None = None, seed: int = 0) -> dict:
    """Pre-registered comparison of arm x against arm y (1-D, one value per seed) with a verdict.

    direction: "greater" (H1 x > y), "less" (H1 x < y) or "equivalent" (H1 |diff| < margin, test "tost";
    margin m or (low, upp)). sesoi (> 0, in the metric's units): a minimum-effect test. H1 is then "x - y > sesoi"
    ("greater") or "x - y < -sesoi" ("less"): the same test runs on x moved by the SESOI, so a tiny but consistent
    difference no longer reproduces; significance the other way (the effect falls short of the SESOI, or
    points the opposite way) is "not reproduced". p_zero keeps the test against zero; p_tost_sesoi (TOST
    within +-sesoi) is reported beside it.
    Returns a flat JSON-safe dict: per-arm n/mean/sd/median, effect + BCa ci, ratio (+ci, positive
    data), hedges_g, p_superiority, p, p_opposite, p_tost_sesoi, verdict, reason, values_x/values_y.
    """
    if direction not in ("greater", "less", "equivalent"):
        raise ValueError(f"direction must be 'greater', 'less' or 'equivalent', got {direction!r}")
    if test == "trend":
        raise ValueError("use trend_compare() for ordered groups")
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {TESTS}")
    if (direction == "equivalent") != (test == "tost"):
        raise ValueError("direction='equivalent' goes with test='tost' (and only then)")
    if direction != "equivalent" and margin is not None:
        raise ValueError("margin is only for direction='equivalent'; use sesoi for directional claims")
    if direction == "equivalent" and sesoi is not None:
        raise ValueError("sesoi is for directional claims; an equivalence claim uses its margin")
    if sesoi is not None and not sesoi > 0:
        raise ValueError(f"sesoi must be > 0, got {sesoi!r}")
    _check_alpha(alpha)
    x, y = _array(x, "x"), _array(y, "y")
    _check_pairing(test, paired, x.size, y.size)
    check_n(test, x.size, y.size, alpha)
    _check_finite(x, "x")
    _check_finite(y, "y")

    out = {"test": test, "direction": direction, "alpha": alpha, "paired": paired,
           "margin": margin, "sesoi": sesoi, "seed": seed,
           "form": "minimum effect" if sesoi is not None else ("equivalence" if direction == "equivalent"
                                                               else "zero effect"),
           "min_attainable_p": min_attainable_p(test, x.size, y.size)}
    out.update(_summary(x, y, paired, seed))
    p_sesoi = tost(x, y, -sesoi, sesoi, paired) if sesoi is not None else None

    if direction == "equivalent":
        low, upp = _margin(margin)
        method = "TOST (paired t)" if paired else "TOST (Welch t)"
        p = tost(x, y, low, upp, paired)
        # evidence that the difference lies outside the margin, on whichever side it leans
        p_opp = min(_t_p(x, y, "greater", paired, upp), _t_p(x, y, "less", paired, low))
        band = f"({low:g}, {upp:g})"
        verdict = from_p(p, p_opp, alpha)
        if verdict == "reproduced":
            reason = f"{method} p={_fmt_p(p)} < alpha={alpha:g}: the mean difference lies within {band}"
        elif verdict == "not reproduced":
            reason = (f"one-sided {'paired' if paired else 'Welch'} t p={_fmt_p(p_opp)} "
                      f"< alpha={alpha:g}: the mean difference lies outside {band}")
        else:
            reason = (f"{method} p={_fmt_p(p)} and outside-margin p={_fmt_p(p_opp)}, "
                      f"both >= alpha={alpha:g}")
    elif sesoi is not None:
        # minimum-effect test: H0 "the effect falls short of the smallest effect of interest" against
        # H1 "it exceeds it in the pre-registered direction"; the test runs on x moved by the SESOI
        opposite = "less" if direction == "greater" else "greater"
        moved = x - sesoi if direction == "greater" else x + sesoi
        p, method = _one_sided(moved, y, test, direction, paired, seed)
        p_opp, _ = _one_sided(moved, y, test, opposite, paired, seed)
        out["p_zero"], _ = _one_sided(x, y, test, direction, paired, seed)
        bound = f"x - y {'>' if direction == 'greater' else '<'} {'' if direction == 'greater' else '-'}{sesoi:g}"
        verdict = from_p(p, p_opp, alpha)
        if verdict == "reproduced":
            reason = (f"minimum-effect {method} p={_fmt_p(p)} < alpha={alpha:g}: the effect exceeds the smallest "
                      f"effect of interest in the pre-registered direction ({bound})")
        elif verdict == "not reproduced":
            reason = (f"minimum-effect {method} p={_fmt_p(p_opp)} < alpha={alpha:g} the other way: the effect "
                      f"falls short of the smallest effect of interest {sesoi:g} (or points the opposite way; "
                      f"against zero p={_fmt_p(out['p_zero'])})")
        else:
            reason = (f"minimum-effect {method}: p={_fmt_p(p)} for {bound} and p={_fmt_p(p_opp)} for falling "
                      f"short of it, both >= alpha={alpha:g} (against zero p={_fmt_p(out['p_zero'])})")
        method = f"minimum-effect {method} (x moved by the SESOI {sesoi:g})"
    else:
        opposite = "less" if direction == "greater" else "greater"
        p, method = _one_sided(x, y, test, direction, paired, seed)
        p_opp, _ = _one_sided(x, y, test, opposite, paired, seed)
        sign = {"greater": "x > y", "less": "x < y"}
        verdict = from_p(p, p_opp, alpha)
        if verdict == "reproduced":
            reason = (f"one-sided {method} p={_fmt_p(p)} < alpha={alpha:g} in the pre-registered "
                      f"direction ({sign[direction]})")
        elif p_opp < alpha:
            reason = (f"one-sided {method} p={_fmt_p(p_opp)} < alpha={alpha:g} in the opposite "
                      f"direction ({sign[opposite]})")
        else:
            reason = (f"one-sided {method} p={_fmt_p(p)} in the pre-registered direction and "
                      f"p={_fmt_p(p_opp)} in the opposite one, both >= alpha={alpha:g}")
    out.update({"method": method, "p": p, "p_opposite": p_opp, "p_tost_sesoi": p_sesoi,
                "verdict": verdict, "reason": reason,
                "values_x": x.tolist(), "values_y": y.tolist()})
    return _clean(out)


def _trend_moved(arrays, direction, sesoi):
    """Groups with a linear trend of total size sesoi in the pre-registered direction taken out: group j of k
    moves by +-j/(k-1) x sesoi, so a trend test on them asks for a first-to-last change beyond the SESOI."""
    k = len(arrays)
    sign = 1.0 if direction == "decreasing" else -1.0
    return [a + sign * sesoi * j / (k - 1) for j, a in enumerate(arrays)]


def trend_compare(groups, *, direction: str = "decreasing", alpha: float = 0.01, labels=None,
                  seed: int = 0, paired: bool = False, sesoi: float | None = None) -> dict:
    """Pre-registered monotone trend across ordered groups (list of 1-D arrays), with a verdict.

    paired=False: Jonckheere-Terpstra (independent groups). paired=True: Page's L with seeds as blocks
    (seed i of every group shares its init stream and data order; equal sizes required).
    effect = mean(last group) - mean(first group) with a BCa 95% CI (paired bootstrap when paired).
    Returns a flat JSON-safe dict.
    """
    if direction not in TRENDS:
        raise ValueError(f"direction must be one of {TRENDS}, got {direction!r}")
    _check_alpha(alpha)
    arrays = [_array(g, f"group {i}") for i, g in enumerate(groups)]
    if len(arrays) < 2:
        raise ValueError("a trend needs at least 2 ordered groups")
    labels = [str(i) for i in range(len(arrays))] if labels is None else [str(s) for s in labels]
    if len(labels) != len(arrays):
        raise ValueError(f"got {len(labels)} labels for {len(arrays)} groups")
    sizes = [a.size for a in arrays]
    if paired:
        _paired_groups(arrays)
    floor = _page_floor(sizes[0], len(sizes)) if paired else _trend_floor(sizes)
    if floor >= alpha:
        k, n = len(sizes), min(sizes)
        need = _smallest_n("trend", alpha, k, paired)
        advice = (f"use at least {max(n, need)} per group" if need
                  else "no number of seeds reaches it with this test")
        raise InsufficientSeeds(f"{_PAGE_LABEL if paired else 'Jonckheere-Terpstra'} with {k} groups of "
                                f"{'/'.join(map(str, sizes))} seeds cannot reach "
                                f"p < {alpha:g} (smallest attainable p = {floor:.3g}); {advice}")
    if sesoi is not None and not sesoi > 0:
        raise ValueError(f"sesoi must be > 0, got {sesoi!r}")
    gs = _groups(arrays)
    opposite = "increasing" if direction == "decreasing" else "decreasing"
    test_fn = _page if paired else _trend
    tested = gs if sesoi is None else _groups(_trend_moved(arrays, direction, sesoi))
    stat, p, method = test_fn(tested, direction, seed)
    _, p_opp, _ = test_fn(tested, opposite, seed)
    p_zero = None if sesoi is None else test_fn(gs, direction, seed)[1]
    first, last = gs[0], gs[-1]
    verdict = from_p(p, p_opp, alpha)
    if sesoi is not None:
        method = f"minimum-effect {method} (a linear {direction} trend of total size {sesoi:g} taken out)"
        if verdict == "reproduced":
            reason = (f"one-sided {method} p={_fmt_p(p)} < alpha={alpha:g}: the {direction} trend exceeds the "
                      f"smallest effect of interest")
        elif verdict == "not reproduced":
            reason = (f"one-sided {method} p={_fmt_p(p_opp)} < alpha={alpha:g} the other way: the trend falls "
                      f"short of the smallest effect of interest (against no trend p={_fmt_p(p_zero)})")
        else:
            reason = (f"one-sided {method} p={_fmt_p(p)} and p={_fmt_p(p_opp)} for falling short, both >= "
                      f"alpha={alpha:g} (against no trend p={_fmt_p(p_zero)})")
    elif verdict == "reproduced":
        reason = (f"one-sided {method} p={_fmt_p(p)} < alpha={alpha:g} for the pre-registered "
                  f"{direction} trend")
    elif verdict == "not reproduced":
        reason = (f"one-sided {method} p={_fmt_p(p_opp)} < alpha={alpha:g} for the opposite "
                  f"({opposite}) trend")
    else:
        reason = (f"one-sided {method} p={_fmt_p(p)} for the pre-registered {direction} trend and "
                  f"p={_fmt_p(p_opp)} for the opposite one, both >= alpha={alpha:g}")
    out = {"test": "trend", "method": method, "direction": direction, "alpha": alpha, "seed": seed,
           "paired": paired, "labels": labels, "n_groups": len(gs), "sesoi": sesoi, "p_zero": p_zero,
           "form": "zero effect" if sesoi is None else "minimum effect",
           "groups": [{"label": lab, "n": g.size, "mean": g.mean(), "sd": _sd(g),
                       "median": np.median(g), "values": g.tolist()} for lab, g in zip(labels, gs)],
           "min_attainable_p": floor, "statistic": stat, "spearman_rho": _spearman(gs),
           "effect": last.mean() - first.mean(),
           "ci": list(bca_ci(last, first, "mean_diff", paired, 0.95, seed)), "ci_level": 0.95,
           "p": p, "p_opposite": p_opp, "verdict": verdict, "reason": reason}
    return _clean(out)
