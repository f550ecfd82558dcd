"""Calibration of harness.stats at a true effect: power at the planned n, Welch power against the
noncentral t, and TOST's size exactly at the equivalence margin. Helpers in calibration.py. No torch."""
import math

import numpy as np
import pytest

from calibration import false_positive_rate
from bnclaims.harness.stats import core as S


POWER = [("welch", False, 2.0), ("mannwhitney", False, 2.0), ("wilcoxon", True, 1.5),
         ("signflip", True, 1.5)]


@pytest.mark.parametrize("test,paired,d", POWER, ids=[t for t, _, _ in POWER])
def test_power_meets_seeds_needed_plan(test, paired, d):
    """At the n that seeds_needed plans for 80 % power at alpha 0.01, the test delivers it."""
    reps, target = 400, 0.8
    n = S.seeds_needed(test, d, alpha=0.01, power=target, paired=paired)
    rng = np.random.default_rng(77)
    y = rng.standard_normal((reps, n))
    # the claim direction is "less" here, so x sits below y by d (paired: mean difference d, sd 1)
    x = (y if paired else rng.standard_normal((reps, n))) - d
    if paired:
        x = x + rng.standard_normal((reps, n))
    p = np.array([S.one_sided_p(x[i], y[i], test, "less", paired) for i in range(reps)])
    power = float(np.mean(p < 0.01))
    assert power >= target - 3 * math.sqrt(target * (1 - target) / reps), (test, n, power)


def test_welch_power_matches_noncentral_t():
    reps, d, n = 600, 2.0, 8
    rng = np.random.default_rng(78)
    x, y = rng.normal(d, 1.0, (reps, n)), rng.standard_normal((reps, n))
    p = np.array([S.one_sided_p(x[i], y[i], "welch", "greater") for i in range(reps)])
    predicted = S.predicted_power("welch", d, n, alpha=0.01)
    se = math.sqrt(predicted * (1 - predicted) / reps)
    assert abs(np.mean(p < 0.01) - predicted) <= 3 * se


@pytest.mark.parametrize("paired", [False, True])
def test_tost_at_the_margin_keeps_alpha(paired):
    # a margin of 3 sd keeps the far side's test sure to reject, so the rate sits near alpha, not near 0
    margin = 3.0
    rng = np.random.default_rng(31 + paired)
    # true difference sits exactly on the margin (upper for unpaired, lower for paired)
    shift = margin if not paired else -margin
    rate, limit = false_positive_rate(
        lambda x, y: S.tost(x + shift, y, -margin, margin, paired=paired), 8, 1500, rng)
    assert rate <= limit
