"""Monte-Carlo helpers for the calibration tests of harness.stats (test_stats_fpr.py, test_stats_power.py).

Calibration runs at alpha = 0.05 (more replicates per second than at 0.01) with fixed numpy seeds, and
checks rates against the nominal level plus 3 Monte-Carlo standard errors.
"""
import math

import numpy as np
from scipy import stats as sps

CAL_ALPHA = 0.05


def normal(rng, size):
    return rng.standard_normal(size)


def lognormal(rng, size):
    # strongly right-skewed: a Welch-style test would not be exact here, rank/sign-flip tests must be
    return rng.lognormal(0.0, 1.0, size)


def mc_limit(rate, reps):
    """rate + 3 binomial standard errors at `reps` replicates."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / reps)


def false_positive_rate(testfn, n, reps, rng, *, sampler=normal, alpha=CAL_ALPHA, groups=2,
                        vectorized=False):
    """Share of null replicates where testfn gives p < alpha, and the most a calibrated test may show.

    Each replicate draws `groups` iid samples of n values from `sampler`, so H0 holds for any
    comparison of them. testfn(*samples) -> p on 1-D arrays, or on (reps, n) arrays with vectorized.
    Returns (rate, limit) with limit = alpha + 3 MC standard errors under H0.
    """
    data = sampler(rng, (reps, groups, n))
    samples = [data[:, g] for g in range(groups)]
    if vectorized:
        p = np.asarray(testfn(*samples))
    else:
        p = np.array([testfn(*(s[i] for s in samples)) for i in range(reps)])
    return float(np.mean(p < alpha)), mc_limit(alpha, reps)


def naive_z(x, y):
    """Anti-conservative on purpose: treats the sample variances as known (normal, not t)."""
    se = np.sqrt(x.var(axis=-1, ddof=1) / x.shape[-1] + y.var(axis=-1, ddof=1) / y.shape[-1])
    return sps.norm.sf((x.mean(axis=-1) - y.mean(axis=-1)) / se)


def halved_two_sided(x, y):
    """Broken on purpose: two-sided p halved without checking the sign of the effect."""
    return sps.ttest_ind(x, y, axis=-1).pvalue / 2
