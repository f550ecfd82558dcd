"""What every family of tests shares: the test names and size limits, InsufficientSeeds, input checks,
JSON-safe conversion of results, and the pairwise U count that Mann-Whitney, P(X > Y) and JT all use.
numpy only, so that the floors and the verdict rules can import it without scipy."""
from __future__ import annotations

import math

import numpy as np


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
    """values as a float array; ValueError unless 1-D (one value per seed). name labels the message."""
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per seed), got shape {a.shape}")
    return a


def _check_finite(a, name):
    """Raise ValueError naming the positions of nan/inf in a (n,) array called name."""
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name} has non-finite values (nan/inf) at positions {bad.tolist()}; "
                         "convert diverged runs to a finite penalty value before comparing")


def _values(values, name):
    """_array, then _check_finite: the finite (n,) float array of values."""
    a = _array(values, name)
    _check_finite(a, name)
    return a


def _check_alpha(alpha):
    """Raise ValueError unless 0 < alpha < 1."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _check_alternative(alternative):
    """Raise ValueError unless alternative is "greater" or "less"."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def _check_pairing(test, paired, n_x, n_y):
    """Raise ValueError when test and paired disagree (wilcoxon/signflip need pairs, mannwhitney
    independent arms) or paired arms of n_x and n_y differ in size (n_y None: not checked).
    """
    if test in ("wilcoxon", "signflip") and not paired:
        raise ValueError(f"{test!r} is a paired test; pass paired=True (seeds matched across arms)")
    if test == "mannwhitney" and paired:
        raise ValueError("'mannwhitney' is for independent arms; "
                         "use 'wilcoxon' or 'signflip' for paired seeds")
    if paired and n_y is not None and n_x != n_y:
        raise ValueError(f"paired comparison needs equal n per arm, got {n_x} and {n_y}")


def _fmt_p(p):
    """p as text for a reason: scientific below 1e-4, else 4 decimals."""
    return f"{p:.2e}" if 0 < p < 1e-4 else f"{p:.4f}"


def _sd(a):
    """Sample sd (ddof 1) of a (n,) array as a float; None below 2 values."""
    return float(np.std(a, ddof=1)) if a.size >= 2 else None


def _u_stat(x, y, axis=-1):
    """Mann-Whitney U of x over y: pairs with x > y, ties counting 1/2; x: (..., n_x), y: (..., n_y) -> (...)."""
    # works on 1-D arrays and on the (batch, n) resamples permutation_test hands over
    gt = (x[..., :, None] > y[..., None, :]).sum(axis=(-2, -1))
    eq = (x[..., :, None] == y[..., None, :]).sum(axis=(-2, -1))
    return gt + 0.5 * eq
