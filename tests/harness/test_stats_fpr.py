"""Calibration of harness.stats under the null: false-positive rates of the one-sided tests, the
Jonckheere trend test and the two-stage sequential plan; the checker itself must flag broken tests.
Helpers in calibration.py; power is checked in test_stats_power.py. No torch import here."""
import numpy as np
import pytest
from scipy import stats as sps

from calibration import (CAL_ALPHA, false_positive_rate, halved_two_sided, lognormal, mc_limit, naive_z,
                         normal)
from bnclaims.harness.stats import core as S


CALIBRATION = [("welch", False, normal), ("mannwhitney", False, normal),
               ("mannwhitney", False, lognormal), ("wilcoxon", True, normal),
               ("wilcoxon", True, lognormal), ("signflip", True, normal),
               ("signflip", True, lognormal)]


@pytest.mark.parametrize("case", range(len(CALIBRATION)),
                         ids=[f"{t}-{s.__name__}" for t, _, s in CALIBRATION])
def test_null_false_positive_rate(case):
    test, paired, sampler = CALIBRATION[case]
    # one seed per case: rank tests are invariant to exp(), so shared draws would repeat a case
    rng = np.random.default_rng([2024, case])
    rate, limit = false_positive_rate(
        lambda x, y: S.one_sided_p(x, y, test, "greater", paired), 8, 1200, rng, sampler=sampler)
    assert rate <= limit, f"{test}: FPR {rate:.3f} > {limit:.3f}"


def test_calibration_helper_flags_broken_tests():
    rng = np.random.default_rng(11)
    # sanity: the correct one-sided Welch test passes the same check at the same settings
    ok, limit = false_positive_rate(
        lambda x, y: sps.ttest_ind(x, y, axis=-1, equal_var=False, alternative="greater").pvalue,
        3, 4000, rng, vectorized=True)
    assert ok <= limit
    z_rate, limit = false_positive_rate(naive_z, 3, 4000, rng, vectorized=True)
    assert z_rate > limit, f"naive z on n=3 not flagged: {z_rate:.3f} <= {limit:.3f}"
    half_rate, limit = false_positive_rate(halved_two_sided, 8, 4000, rng, vectorized=True)
    assert half_rate > limit, f"halved two-sided p not flagged: {half_rate:.3f} <= {limit:.3f}"


def test_trend_null_false_positive_rate():
    rng = np.random.default_rng(41)
    rate, limit = false_positive_rate(
        lambda *g: S.trend_test(list(g), "decreasing")["p"], 2, 800, rng, sampler=lognormal, groups=3)
    assert rate <= limit


def test_two_stage_obf_keeps_overall_alpha():
    reps, n = 20_000, 8
    rng = np.random.default_rng(51)
    x, y = rng.standard_normal((reps, n)), rng.standard_normal((reps, n))
    welch = dict(axis=1, equal_var=False, alternative="greater")
    p1 = sps.ttest_ind(x[:, :n // 2], y[:, :n // 2], **welch).pvalue     # interim look: half the seeds
    p2 = sps.ttest_ind(x, y, **welch).pvalue
    reject = [S.sequential_verdict(a, b, alpha=CAL_ALPHA)["reject"] for a, b in zip(p1, p2)]
    limit = mc_limit(CAL_ALPHA, reps)
    assert np.mean(reject) <= limit
    # negative control: testing both looks at the full alpha inflates the error and is caught
    naive = np.mean((p1 < CAL_ALPHA) | (p2 < CAL_ALPHA))
    assert naive > limit
