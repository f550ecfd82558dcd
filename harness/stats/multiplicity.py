"""Error control over several p-values: Holm and Benjamini-Hochberg adjustment across hypotheses, and the
two-look O'Brien-Fleming plan across stages of one hypothesis."""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import optimize, stats


def _pvals(pvals):
    """p-values as a flat float array; ValueError unless finite and in [0, 1]."""
    p = np.asarray(pvals, dtype=float).ravel()
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError("p-values must be finite and in [0, 1]")
    return p


def holm(pvals) -> list[float]:
    """Holm step-down adjusted p-values, in the input order; pvals: (m,) in [0, 1] -> list of m floats."""
    p = _pvals(pvals)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return [float(v) for v in out]


def bh(pvals) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order; pvals: (m,) in [0, 1] -> m floats."""
    p = _pvals(pvals)
    if p.size == 0:
        return []
    return [float(v) for v in stats.false_discovery_control(p, method="bh")]


@functools.lru_cache(maxsize=32)
def _obf_two_stage(alpha):
    """(p1, p2) nominal one-sided thresholds of the 2-look O'Brien-Fleming plan at alpha (see obf_two_stage)."""
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
    alpha in (0, 0.5); returns (p1, p2), the thresholds at the interim and the final look.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    return _obf_two_stage(float(alpha))


def sequential_verdict(p_stage1: float, p_stage2: float | None = None, alpha: float = 0.01) -> dict:
    """Two-stage OBF decision on one-sided p-values.

    stop_at 1: rejected at the interim look; 2: decided at the final look; None: run stage 2.
    Returns {"stop_at", "reject", "thresholds": [p1, p2]} (thresholds from obf_two_stage(alpha)).
    """
    t1, t2 = obf_two_stage(alpha)
    if p_stage1 < t1:
        return {"stop_at": 1, "reject": True, "thresholds": [t1, t2]}
    if p_stage2 is None:
        return {"stop_at": None, "reject": False, "thresholds": [t1, t2]}
    return {"stop_at": 2, "reject": bool(p_stage2 < t2), "thresholds": [t1, t2]}
