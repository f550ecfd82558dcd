"""Minimum-effect tests and the simulated power of the exact test (harness.stats.power), where the answer is known."""
import math

import numpy as np
import pytest
from scipy import stats

from bnclaims.harness.stats import power as P
from bnclaims.harness.stats import core as S


# ---------------------------------------------------------------- minimum-effect tests
def test_a_tiny_consistent_difference_no_longer_reproduces():
    """The sceptic's case from the issue: every seed agrees, but the effect is 270x below real BN's."""
    rng = np.random.default_rng(0)
    y = rng.normal(0.99, 0.002, 12)
    x = y - 0.00008 - np.abs(rng.normal(0, 1e-5, 12))           # all 12 pairs lower, by ~8e-5
    zero = S.compare(x, y, direction="less", test="wilcoxon", paired=True, alpha=0.0025)
    assert zero["verdict"] == "reproduced"                          # the old unanimity test takes it
    r = S.compare(x, y, direction="less", test="wilcoxon", paired=True, alpha=0.0025, sesoi=0.05)
    assert r["verdict"] == "not reproduced" and r["form"] == "minimum effect"
    assert "falls short" in r["reason"] and r["p_zero"] == zero["p"]


def test_minimum_effect_reproduces_an_effect_beyond_the_sesoi():
    rng = np.random.default_rng(1)
    y = rng.normal(1.0, 0.05, 12)
    x = y - 0.3 + rng.normal(0, 0.02, 12)
    r = S.compare(x, y, direction="less", test="wilcoxon", paired=True, alpha=0.0025, sesoi=0.1)
    assert r["verdict"] == "reproduced" and r["p"] < 0.0025
    # the same data against a SESOI larger than the effect: not reproduced (the effect falls short)
    r = S.compare(x, y, direction="less", test="wilcoxon", paired=True, alpha=0.0025, sesoi=0.5)
    assert r["verdict"] == "not reproduced"


@pytest.mark.parametrize("test,paired", [("wilcoxon", True), ("signflip", True), ("welch", False),
                                         ("mannwhitney", False)])
def test_minimum_effect_is_the_test_on_x_moved_by_the_sesoi(test, paired):
    """A pure shift: the minimum-effect p equals the zero-effect p of x moved by the SESOI, both directions."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(1.0, 1, 9), rng.normal(0, 1, 9)
    for direction, moved in (("greater", x - 0.4), ("less", x + 0.4)):
        r = S.compare(x, y, direction=direction, test=test, paired=paired, sesoi=0.4)
        plain = S.compare(moved, y, direction=direction, test=test, paired=paired)
        assert r["p"] == plain["p"] and r["p_opposite"] == plain["p_opposite"]


def test_minimum_effect_trend_takes_out_a_linear_trend():
    """Three groups falling by exactly the SESOI (no noise beyond tiny jitter) cannot reproduce; falling by 3x it do."""
    rng = np.random.default_rng(3)
    base = rng.normal(1, 0.01, 8)
    exact = [base, base - 0.05 + rng.normal(0, 1e-4, 8), base - 0.1 + rng.normal(0, 1e-4, 8)]
    assert S.trend_compare(exact, direction="decreasing", paired=True, alpha=0.005)["verdict"] == "reproduced"
    r = S.trend_compare(exact, direction="decreasing", paired=True, alpha=0.005, sesoi=0.1)
    assert r["verdict"] != "reproduced" and r["form"] == "minimum effect" and r["p_zero"] < 0.005
    steep = [base, base - 0.15, base - 0.3]
    assert S.trend_compare(steep, direction="decreasing", paired=True, alpha=0.005, sesoi=0.1)["verdict"] == "reproduced"
    with pytest.raises(ValueError, match="sesoi"):
        S.trend_compare(steep, direction="decreasing", paired=True, sesoi=0.0)


def test_an_aa_control_at_zero_effect_rarely_passes_a_minimum_effect_test():
    """The null-control decision: under no effect, a minimum-effect test at SESOI = 1 sd rejects far below alpha."""
    rng = np.random.default_rng(4)
    hits = 0
    for _ in range(400):
        x, y = rng.normal(0, 1, 12), rng.normal(0, 1, 12)
        hits += S.compare(x, y, direction="less", test="wilcoxon", paired=True, alpha=0.05, sesoi=1.0)["verdict"] \
            == "reproduced"
    assert hits / 400 < 0.01


# ---------------------------------------------------------------- exact nulls
@pytest.mark.parametrize("n", [5, 9, 12])
def test_signed_rank_null_matches_scipy(n):
    rng = np.random.default_rng(n)
    v = rng.normal(0.3, 1, (60, n))
    ours = P._signed_rank_p(v)
    ref = [stats.wilcoxon(row, alternative="greater", method="exact").pvalue for row in v]
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


def test_signflip_and_page_nulls_match_the_suite():
    rng = np.random.default_rng(7)
    v = rng.normal(0.3, 1, (30, 9))
    np.testing.assert_allclose(P._signflip_p(v), [S._signflip(row, "greater", 0)[0] for row in v])
    t = rng.normal(0, 1, (30, 6, 3)) + np.array([0, 0.3, 0.6])
    np.testing.assert_allclose(P._page_p(t), [stats.page_trend_test(x, method="exact").pvalue for x in t],
                               atol=1e-12)


# ---------------------------------------------------------------- power and tolerance
def test_power_of_a_unanimity_test_is_the_chance_of_unanimity():
    """The issue's case: at n 9 and alpha 0.0033 the signed-rank test needs all 9 seeds to agree; at d = 1.86
    that chance is Phi(1.86)^9 = 0.75, while the noncentral-t model says about 0.9."""
    big = np.random.default_rng(0).normal(1.86, 1, 20000)
    r = P.simulated_power(big, test="wilcoxon", alpha=0.0033, n=9, direction="greater", level=0.5, smooth=0.0,
                          reps=4000)
    assert r["power"] == pytest.approx(stats.norm.cdf(1.86) ** 9, abs=0.03)
    assert S.predicted_power("wilcoxon", 1.86, 9, 0.0033, paired=True) > 0.88


def test_discordant_seeds_tolerated():
    assert P.discordant_tolerated("wilcoxon", 9, 0.0033) == 0            # unanimity
    assert P.discordant_tolerated("wilcoxon", 12, 0.0025) == 2
    assert P.discordant_tolerated("wilcoxon", 12, 0.0025) == P.discordant_tolerated("signflip", 12, 0.0025)
    assert P.discordant_tolerated("trend", 5, 0.0033, 3) == 0
    assert P.discordant_tolerated("tost", 8, 0.01) is None
    # the definition, checked on the exact test: 2 discordant seeds on the smallest ranks reject, 3 do not
    d = np.arange(1, 13, dtype=float)
    d[:2] *= -1
    assert stats.wilcoxon(d, alternative="greater", method="exact").pvalue < 0.0025
    d[:3] = -np.abs(d[:3])
    assert stats.wilcoxon(d, alternative="greater", method="exact").pvalue >= 0.0025


def test_floor_rule_asks_for_alpha_over_ten_and_a_discordant_seed():
    n = P.floor_rule_n("wilcoxon", 0.0025)
    assert n == 12 and 2.0 ** -n <= 0.00025 and P.discordant_tolerated("wilcoxon", n, 0.0025) >= 1
    assert P.floor_rule_n("trend", 0.0033, 3) >= 6


def test_plan_is_underpowered_when_the_pilot_bound_sits_below_the_sesoi():
    rng = np.random.default_rng(5)
    strong = rng.normal(-0.5, 0.1, 9)
    p = P.plan(strong, test="wilcoxon", alpha=0.0025, direction="less", sesoi=0.1)
    assert not p["underpowered"] and p["power"] >= 0.8 and p["n"] == 12
    weak = rng.normal(-0.05, 0.1, 9)
    p = P.plan(weak, test="wilcoxon", alpha=0.0025, direction="less", sesoi=0.1)
    assert p["underpowered"] and p["n"] == 12 and p["power"] < 0.1


def test_simulation_is_deterministic_and_heavy_tails_cost_power():
    rng = np.random.default_rng(6)
    clean = rng.normal(1.0, 0.3, 12)
    a = P.simulated_power(clean, test="wilcoxon", alpha=0.0025, n=12, direction="greater", seed=3)
    assert a == P.simulated_power(clean, test="wilcoxon", alpha=0.0025, n=12, direction="greater", seed=3)
    tailed = clean.copy()
    tailed[:2] = [-2.5, -3.0]                     # two seeds far the wrong way (like C1.b's seed 1003)
    b = P.simulated_power(tailed, test="wilcoxon", alpha=0.0025, n=12, direction="greater", seed=3)
    assert b["power"] < a["power"]
    assert math.isfinite(b["mu_plan"]) and b["mu_plan"] < b["mu_pilot"]
