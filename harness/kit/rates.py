"""How often something happened over seeds: a binomial rate with its exact (Clopper-Pearson) interval."""
from __future__ import annotations

import numpy as np


def clopper_pearson(failures: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval of a binomial proportion failures / n."""
    from scipy.stats import beta
    if isinstance(failures, bool) or isinstance(n, bool) or int(failures) != failures or int(n) != n:
        raise ValueError(f"failures and n must be integers, got {failures!r}, {n!r}")
    x, n = int(failures), int(n)
    if n < 1 or not 0 <= x <= n:
        raise ValueError(f"need 0 <= failures <= n and n >= 1, got failures={x}, n={n}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    a = 1 - level
    lo = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    hi = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return lo, hi


def failure_summary(flags, level: float = 0.95) -> dict:
    """{failures, n, rate, ci, level} of per-seed 0/1 flags, ci the Clopper-Pearson interval at `level`."""
    f = np.asarray(flags, float)
    x, n = int(f.sum()), int(f.size)
    lo, hi = clopper_pearson(x, n, level)
    return {"failures": x, "n": n, "rate": x / n, "ci": [lo, hi], "level": level}
