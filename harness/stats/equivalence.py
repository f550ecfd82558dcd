"""Equivalence: the TOST p of a mean difference inside (low, upp), Welch or paired t, and the parsing of an
equivalence margin."""
from __future__ import annotations

import numpy as np

from bnclaims.harness.stats.common import _check_pairing, _values
from bnclaims.harness.stats.twosample import _t_p


def tost(x, y, low: float, upp: float, paired: bool = False) -> float:
    """TOST p for H1: low < mean(x) - mean(y) < upp (Welch, or paired t); x: (n_x,), y: (n_y,)."""
    if not low < upp:
        raise ValueError(f"tost needs low < upp, got {low!r}, {upp!r}")
    x, y = _values(x, "x"), _values(y, "y")
    _check_pairing("tost", paired, x.size, y.size)
    return max(_t_p(x, y, "greater", paired, low), _t_p(x, y, "less", paired, upp))


def _margin(margin):
    """(low, upp) of an equivalence margin: m > 0 gives (-m, m), a pair needs low < upp; ValueError otherwise."""
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
