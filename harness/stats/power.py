"""Power of a vote by simulating the exact test as it is used, and how many discordant seeds it survives.

The noncentral-t model (harness.stats.predicted_power) treats a rank test as a t test times its Pitman
efficiency. At the sizes the suite uses that is wrong in the way that matters: a signed-rank test at n 9 and
alpha 0.0033 rejects only when every seed agrees, so its power is the chance of unanimity. Here the test
itself is run on simulated pilots:

    the pilot's paired differences (or, for a paired trend, its seeds x groups table) are centred and resampled
    with a little Gaussian smoothing (a smoothed bootstrap, so heavy tails in the pilot stay heavy), rescaled to
    the pilot's spread, and moved so that their mean effect sits at the one-sided lower confidence bound
    (level 0.9) of the pilot's effect in the pre-registered direction;
    each simulated set of n seeds is tested exactly as the suite tests it: the minimum-effect form (x moved by
    the SESOI), the exact signed-rank null, the exact sign-flip null, the exact null of Page's L, or the paired
    t tests of TOST; power is the share of sets with p < alpha.

    simulated_power(pilot, test=..., alpha=..., n=..., direction=..., sesoi=...) -> {"power", "mu_plan", ...}
    discordant_tolerated(test, n, alpha, n_groups=2)  -> seeds that may point the wrong way, at best placed
    floor_rule_n(test, alpha, n_groups=2, factor=10)  -> smallest n whose floor is <= alpha / factor
    plan(pilot, ...)                                  -> the n a vote needs, with its power and tolerance

No torch. Deterministic for a given seed.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

REPS = 2000          # simulated pilots per power estimate (binomial sd of a power near 0.8: 0.009)
LEVEL = 0.9          # one-sided level of the conservative effect bound
SMOOTH = 0.3         # bandwidth of the smoothed bootstrap, in units of the pilot's sd
FLOOR_FACTOR = 10    # the design's smallest attainable p must be at most alpha / FLOOR_FACTOR
POWER_TESTS = ("wilcoxon", "signflip", "trend", "tost")
N_MAX = 40


# ---------------------------------------------------------------------------------------------- exact nulls
@lru_cache(maxsize=None)
def _signed_rank_sf(n: int) -> np.ndarray:
    """sf[t] = P(T+ >= t) under the null for n tie-free pairs (T+ the sum of the positive ranks)."""
    top = n * (n + 1) // 2
    counts = np.zeros(top + 1)
    counts[0] = 1.0
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    pmf = counts / counts.sum()
    return np.cumsum(pmf[::-1])[::-1]


@lru_cache(maxsize=None)
def _page_sf(n: int, k: int) -> tuple:
    """(L values, P(L >= value)) of Page's L under the null for n tie-free blocks of k groups."""
    from itertools import permutations
    w = np.arange(1, k + 1)
    block = np.array([int(np.dot(w, p)) for p in permutations(range(1, k + 1))])
    lo = int(block.min())
    one = np.bincount(block - lo).astype(float)
    one /= one.sum()
    pmf = np.array([1.0])
    for _ in range(n):
        pmf = np.convolve(pmf, one)
    values = np.arange(pmf.size) + n * lo
    return values, np.cumsum(pmf[::-1])[::-1]


def floor_p(test: str, n: int, n_groups: int = 2) -> float:
    """Smallest one-sided p the exact test reaches with n seeds (tie-free); TOST: 0."""
    if test in ("wilcoxon", "signflip"):
        return 2.0 ** -n
    if test == "trend":
        return math.factorial(n_groups) ** -float(n) if n_groups > 2 else 2.0 ** -n
    if test == "tost":
        return 0.0
    raise ValueError(f"no exact floor for test {test!r}; choose one of {POWER_TESTS}")


def floor_rule_n(test: str, alpha: float, n_groups: int = 2, factor: float = FLOOR_FACTOR,
                 tolerate: int = 1) -> int:
    """Smallest n whose smallest attainable p is at most alpha / factor and that still rejects with `tolerate`
    discordant seeds (TOST: 6 pairs, the fewest whose t test has a usable spread estimate)."""
    if test == "tost":
        return 6
    for n in range(2, 200):
        if floor_p(test, n, n_groups) <= alpha / factor and discordant_tolerated(test, n, alpha, n_groups) >= tolerate:
            return n
    raise ValueError(f"{test} cannot reach alpha/{factor:g} = {alpha / factor:g}")


def discordant_tolerated(test: str, n: int, alpha: float, n_groups: int = 2) -> int | None:
    """How many seeds may point the wrong way while the test still rejects at alpha, when they are the
    least extreme ones (the smallest ranks; for a trend, whole seeds reversed). Signed-rank and sign-flip
    are counted on ranks (the sign-flip of values equal to their ranks). None for TOST (no ranks)."""
    if test == "tost":
        return None
    if test in ("wilcoxon", "signflip"):
        sf = _signed_rank_sf(n)
        top = n * (n + 1) // 2
        best = -1
        for k in range(n + 1):
            if sf[top - k * (k + 1) // 2] < alpha:
                best = k
        return best
    if test == "trend":
        values, sf = _page_sf(n, n_groups)
        w = np.arange(1, n_groups + 1)
        lmax, lmin = int(np.dot(w, w)), int(np.dot(w, w[::-1]))
        best = -1
        for r in range(n + 1):
            L = (n - r) * lmax + r * lmin
            if sf[L - values[0]] < alpha:
                best = r
        return best
    raise ValueError(f"unknown test {test!r}")


# ---------------------------------------------------------------------------------------------- simulation
def _lower_bound(e: np.ndarray, level: float) -> float:
    """One-sided level lower bound of the mean of e (paired t)."""
    n = e.size
    sd = float(e.std(ddof=1))
    return float(e.mean() - stats.t.ppf(level, n - 1) * sd / math.sqrt(n))


def _draw_rows(rng, resid: np.ndarray, n: int, reps: int, smooth: float) -> np.ndarray:
    """Smoothed bootstrap of the centred rows resid [m, c] -> [reps, n, c], with resid's spread per column."""
    m = resid.shape[0]
    sd = resid.std(axis=0, ddof=0)
    sd = np.where(sd > 0, sd, 1e-12)
    idx = rng.integers(0, m, size=(reps, n))
    draws = resid[idx] + rng.normal(0.0, 1.0, size=(reps, n, resid.shape[1])) * smooth * sd
    return draws / math.sqrt(1.0 + smooth ** 2)


def _signed_rank_p(v: np.ndarray) -> np.ndarray:
    """Exact one-sided ('greater') signed-rank p per row of v [reps, n] (tie-free, no zeros assumed)."""
    n = v.shape[1]
    ranks = np.argsort(np.argsort(np.abs(v), axis=1), axis=1) + 1
    t = np.where(v > 0, ranks, 0).sum(axis=1)
    return _signed_rank_sf(n)[t]


def _signflip_p(v: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Exact one-sided ('greater') sign-flip p of the sum, per row of v [reps, n] (n <= 16)."""
    n = v.shape[1]
    if n > 16:
        return _signed_rank_p(v)             # beyond exact enumeration: the rank version of the same test
    signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
    out = np.empty(v.shape[0])
    for s in range(0, v.shape[0], chunk):
        block = v[s:s + chunk]
        null = signs @ block.T                                   # [2^n, chunk]
        obs = block.sum(axis=1)
        tol = 1e-10 * np.abs(block).sum(axis=1)
        out[s:s + chunk] = (null >= obs - tol).mean(axis=0)
    return out


def _page_p(tables: np.ndarray) -> np.ndarray:
    """Exact one-sided p of Page's L for an increasing order, per table [reps, n, k] (tie-free)."""
    n, k = tables.shape[1], tables.shape[2]
    ranks = np.argsort(np.argsort(tables, axis=2), axis=2) + 1
    L = (ranks * np.arange(1, k + 1)).sum(axis=(1, 2))
    values, sf = _page_sf(n, k)
    return sf[L - values[0]]


def _t_sf(mean, sd, n, shift):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (mean - shift) / (sd / math.sqrt(n))
    return stats.t.sf(t, n - 1)


def simulated_power(pilot, *, test: str, alpha: float, n: int, direction: str, sesoi: float | None = None,
                    margin=None, level: float = LEVEL, reps: int = REPS, seed: int = 0,
                    smooth: float = SMOOTH) -> dict:
    """Power of the exact test at n seeds, on differences drawn as the module says.

    pilot: the pilot's paired differences x - y (wilcoxon, signflip, tost) or its table [seeds, groups]
    (trend, groups in the declared order). direction: "greater"/"less" (two arms), "increasing"/"decreasing"
    (trend), "equivalent" (tost with margin m or (low, upp)). sesoi: the minimum-effect form.
    Returns {"power", "mu_pilot", "mu_plan", "reps", "n", "level"} (mu in the direction of H1: positive
    favours it; for TOST the planned mean is the bound nearer a margin)."""
    rng = np.random.default_rng(seed)
    a = np.asarray(pilot, float)
    if test == "trend":
        if a.ndim != 2 or a.shape[1] < 2 or a.shape[0] < 2:
            raise ValueError("a trend pilot is a [seeds, groups] table with at least 2 of each")
        if direction not in ("increasing", "decreasing"):
            raise ValueError(f"a trend goes 'increasing' or 'decreasing', got {direction!r}")
        sign = 1.0 if direction == "increasing" else -1.0
        k = a.shape[1]
        e = sign * (a[:, -1] - a[:, 0])
        mu_pilot, mu_plan = float(e.mean()), _lower_bound(e, level)
        means = a.mean(axis=0)
        shape = means - means.mean()
        slope = sign * (shape[-1] - shape[0])
        factor = mu_plan / slope if slope != 0 else 0.0
        resid = (a - means) * math.sqrt(a.shape[0] / (a.shape[0] - 1))
        tables = means.mean() + factor * shape + _draw_rows(rng, resid, n, reps, smooth)
        if sesoi is not None:          # take out a linear trend of total size sesoi in the direction of H1
            tables = tables - sign * sesoi * np.arange(k) / (k - 1)
        if sign < 0:
            tables = tables[:, :, ::-1]
        p = _page_p(tables) if k > 2 else _sign_p(tables[:, :, 1] - tables[:, :, 0])
        return _result(p, alpha, mu_pilot, mu_plan, reps, n, level)
    if a.ndim != 1 or a.size < 3:
        raise ValueError("a two-arm pilot is a vector of at least 3 paired differences")
    resid = (a - a.mean())[:, None] * math.sqrt(a.size / (a.size - 1))
    if test == "tost":
        low, upp = (-float(margin), float(margin)) if np.ndim(margin) == 0 else (float(margin[0]), float(margin[1]))
        centre = (low + upp) / 2
        # conservative: the one-sided level bound of the mean on the side nearer a margin
        half = stats.t.ppf(level, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size)
        mu_plan = float(a.mean() + half if a.mean() >= centre else a.mean() - half)
        d = mu_plan + _draw_rows(rng, resid, n, reps, smooth)[:, :, 0]
        m, sd = d.mean(axis=1), d.std(axis=1, ddof=1)
        p = np.maximum(_t_sf(m, sd, n, low), _t_sf(-m, sd, n, -upp))
        return _result(p, alpha, float(a.mean()), mu_plan, reps, n, level)
    if direction not in ("greater", "less"):
        raise ValueError(f"a two-arm vote goes 'greater' or 'less', got {direction!r}")
    sign = 1.0 if direction == "greater" else -1.0
    e = sign * a
    mu_pilot, mu_plan = float(e.mean()), _lower_bound(e, level)
    v = mu_plan + _draw_rows(rng, sign * resid, n, reps, smooth)[:, :, 0]
    if sesoi is not None:
        v = v - sesoi
    if test == "wilcoxon":
        p = _signed_rank_p(v)
    elif test == "signflip":
        p = _signflip_p(v)
    else:
        raise ValueError(f"no simulated power for test {test!r}; choose one of {POWER_TESTS}")
    return _result(p, alpha, mu_pilot, mu_plan, reps, n, level)


def _sign_p(diff: np.ndarray) -> np.ndarray:
    up = (diff > 0).sum(axis=1)
    n = diff.shape[1]
    return stats.binom.sf(up - 1, n, 0.5)


def _result(p, alpha, mu_pilot, mu_plan, reps, n, level):
    return {"power": float(np.mean(p < alpha)), "mu_pilot": mu_pilot, "mu_plan": mu_plan, "reps": reps,
            "n": int(n), "level": level}


def plan(pilot, *, test: str, alpha: float, direction: str, sesoi: float | None = None, margin=None,
         n_groups: int = 2, target: float = 0.8, n_max: int = N_MAX, seed: int = 0, reps: int = REPS) -> dict:
    """The n a vote needs: at least floor_rule_n, then the smallest n up to n_max whose simulated power
    reaches target. When none does, n stays at the floor rule and the plan says "underpowered"."""
    n0 = floor_rule_n(test, alpha, n_groups)
    chosen, sim = None, None
    for n in range(n0, n_max + 1):
        sim = simulated_power(pilot, test=test, alpha=alpha, n=n, direction=direction, sesoi=sesoi,
                              margin=margin, seed=seed, reps=reps)
        if sim["power"] >= target:
            chosen = n
            break
        if n == n0 and sim["mu_plan"] <= (sesoi or 0.0) and test != "tost":
            break                      # the bound sits at or below the SESOI: more seeds do not help
    if chosen is None:
        sim = simulated_power(pilot, test=test, alpha=alpha, n=n0, direction=direction, sesoi=sesoi,
                              margin=margin, seed=seed, reps=reps)
    n = chosen or n0
    return {"n": n, "floor_rule_n": n0, "floor_p": floor_p(test, n, n_groups), "power": sim["power"],
            "mu_pilot": sim["mu_pilot"], "mu_plan": sim["mu_plan"], "target": target,
            "discordant_tolerated": discordant_tolerated(test, n, alpha, n_groups),
            "underpowered": chosen is None}
