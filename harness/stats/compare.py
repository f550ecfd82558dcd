"""The dispatchers the checks call: one_sided_p (test name -> family), compare (two arms) and trend_compare
(ordered groups), which add the effect summaries, the minimum-effect (SESOI) form and the verdict."""
from __future__ import annotations

import math

import numpy as np

from bnclaims.harness.stats.common import (MC_RESAMPLES, TESTS, TRENDS, InsufficientSeeds, _array, _check_alpha,
                                           _check_alternative, _check_finite, _check_pairing, _clean, _fmt_p,
                                           _sd, _values)
from bnclaims.harness.stats.effsize import _log_ratio, bca_ci, hedges_g, prob_superiority
from bnclaims.harness.stats.equivalence import _margin, tost
from bnclaims.harness.stats.floors import (_PAGE_LABEL, _page_floor, _smallest_n, _trend_floor, check_n,
                                           min_attainable_p)
from bnclaims.harness.stats.paired import _signflip, _wilcoxon
from bnclaims.harness.stats.trend import _groups, _page, _paired_groups, _spearman, _trend
from bnclaims.harness.stats.twosample import _mannwhitney, _t_p
from bnclaims.harness.stats.verdict import from_p


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
