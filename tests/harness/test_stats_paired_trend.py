"""Tests for the paired (within-seed) trend test, Page's L, and for pilot-based planning
(effect_lcb, plan_seeds) in harness.stats. Monte-Carlo checks use fixed numpy seeds. No torch here."""
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from bnclaims.harness.stats import core as S


def blocked(rng, reps, k, n, step, block_sd):
    """(reps, k, n) data: seed i of every group shares an offset (block effect), means rise by step."""
    return (step * np.arange(k)[None, :, None] + rng.standard_normal((reps, k, n))
            + block_sd * rng.standard_normal((reps, 1, n)))


# ---------------------------------------------------------------------------------------------
# Page's L

def test_page_p_matches_scipy():
    rng = np.random.default_rng(3)
    groups = [rng.normal(0.4 * i, 1.0, 6) for i in range(4)]
    table = np.column_stack(groups)                          # rows = seeds, columns = ordered groups
    ref = sps.page_trend_test(table, method="exact")
    up = S.trend_test(groups, "increasing", paired=True)
    assert up["statistic"] == ref.statistic and up["p"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert up["method"] == "exact Page L (blocks = seeds)"
    down = S.trend_test(groups, "decreasing", paired=True)
    assert down["statistic"] == ref.statistic                # L is reported for the increasing order
    assert down["p"] == pytest.approx(sps.page_trend_test(table[:, ::-1], method="exact").pvalue)
    # the same through predicted_ranks: a decreasing order predicts the first column largest
    assert down["p"] == pytest.approx(
        sps.page_trend_test(table, predicted_ranks=[4, 3, 2, 1], method="exact").pvalue)


def test_perfect_order_gives_the_floor_and_reversal_the_opposite():
    base = np.array([0.3, -1.2, 2.5, 0.0, 4.1])             # seed offsets far larger than the trend
    groups = [base + 0.1 * i for i in range(3)]
    floor = S.min_attainable_p("trend", 5, 3, paired=True)
    assert floor == pytest.approx((1 / 6) ** 5)
    r = json.loads(json.dumps(S.trend_compare(groups, direction="increasing", paired=True)))
    assert r["paired"] is True and r["method"] == "exact Page L (blocks = seeds)"
    assert r["p"] == pytest.approx(floor, rel=1e-9) and r["min_attainable_p"] == pytest.approx(floor)
    assert r["verdict"] == "reproduced" and r["p_opposite"] == pytest.approx(1.0)
    assert r["effect"] == pytest.approx(0.2) and r["ci"] == pytest.approx([0.2, 0.2])   # paired CI
    rev = S.trend_compare(groups[::-1], direction="increasing", paired=True)
    assert rev["p_opposite"] == pytest.approx(floor, rel=1e-9) and rev["verdict"] == "not reproduced"
    # unpaired, the same data look like noise: the seed offsets swamp the trend
    assert S.trend_compare(groups, direction="increasing", alpha=0.05)["verdict"] == "inconclusive"


def test_paired_trend_compare_keys_and_paired_ci():
    rng = np.random.default_rng(5)
    groups = list(blocked(rng, 1, 3, 8, 1.0, 3.0)[0])
    paired = S.trend_compare(groups, direction="increasing", paired=True, seed=4)
    plain = S.trend_compare(groups, direction="increasing", seed=4)
    assert plain["paired"] is False and set(paired) == set(plain)
    last, first = groups[-1], groups[0]
    assert paired["ci"] == pytest.approx(list(S.bca_ci(last, first, "mean_diff", True, 0.95, 4)))
    assert plain["ci"] == pytest.approx(list(S.bca_ci(last, first, "mean_diff", False, 0.95, 4)))
    assert paired["ci"][1] - paired["ci"][0] < plain["ci"][1] - plain["ci"][0]
    assert paired["p"] < plain["p"]


def test_paired_trend_validation_and_floors():
    with pytest.raises(ValueError, match="same seeds"):
        S.trend_compare([[1.0, 2, 3], [2.0, 3], [3.0, 4, 5]], paired=True)
    with pytest.raises(ValueError, match="same seeds"):
        S.trend_test([[1.0, 2, 3], [2.0, 3]], paired=True)
    with pytest.raises(S.InsufficientSeeds, match="Page L .* at least 3 per group"):
        S.trend_compare([[1.0, 2], [2.0, 3], [3.0, 4]], alpha=0.01, paired=True)
    with pytest.raises(S.InsufficientSeeds, match="Page L .*at least 3 per group"):
        S.check_n("trend", 2, 3, 0.01, paired=True)
    S.check_n("trend", 3, 3, 0.01, paired=True)              # (1/6)^3 = 0.0046
    with pytest.raises(S.InsufficientSeeds, match="Jonckheere"):
        S.check_n("trend", 2, 3, 0.01)                        # unpaired floor 1/90
    assert S.min_attainable_p("trend", 6, 2, paired=True) == pytest.approx(2.0 ** -6)   # sign test
    assert S.min_attainable_p("trend", 3, 4, paired=True) == pytest.approx(24.0 ** -3)
    assert S.min_attainable_p("trend", 8, 9, paired=True) == pytest.approx(1 / 10_000)  # Monte-Carlo
    assert S.min_attainable_p("trend", 3, 3) == pytest.approx(1 / 1680)                 # unchanged
    assert S._smallest_n("trend", 0.01, 3, paired=True) == 3
    assert S._smallest_n("trend", 0.01, 2, paired=True) == 7


def test_paired_trend_other_routes():
    # two groups: Page's L is the sign test; the equal pair drops out
    two = S.trend_test([[1.0, 2, 3, 4, 5, 6], [2.0, 3, 4, 5, 6, 6]], "increasing", paired=True)
    assert "sign test" in two["method"]
    assert two["p"] == pytest.approx(sps.binomtest(5, 5, 0.5, alternative="greater").pvalue)
    # ties within a seed: exact enumeration of the (3!)^3 within-seed orders, mid-ranks
    tied = S.trend_test([[1.0, 2, 3], [2.0, 2, 4], [3.0, 4, 5]], "increasing", paired=True)
    assert "permutation" in tied["method"] and "mid-ranked" in tied["method"]
    assert tied["p"] == pytest.approx(2 / 6 ** 3)            # 2 of 216 orders reach L = 41.5
    # beyond the exact sizes: Monte-Carlo with a fixed rng, reproducible
    rng = np.random.default_rng(8)
    big = [rng.normal(0.1 * i, 1.0, 10) for i in range(9)]
    a, b = S.trend_test(big, "increasing", paired=True), S.trend_test(big, "increasing", paired=True)
    assert a == b and "Monte-Carlo" in a["method"] and 1e-4 <= a["p"] <= 1


def test_paired_trend_keeps_alpha_with_block_effects():
    alpha, reps = 0.01, 2000
    data = blocked(np.random.default_rng(20240607), reps, 3, 8, 0.0, 2.0)
    p = np.array([S.trend_test(list(d), "increasing", paired=True)["p"] for d in data])
    hits = int(np.sum(p < alpha))
    ci = sps.binomtest(hits, reps).proportion_ci(confidence_level=0.99, method="exact")
    # Clopper-Pearson: a rate above alpha would put the whole interval above it
    assert ci.low <= alpha, (hits, reps, ci)
    assert hits > 0                                           # the test is not degenerate


def test_page_beats_jonckheere_under_block_effects():
    """Seed offsets inflate the spread JT sees but cancel within seeds, which is all Page ranks."""
    alpha, reps = 0.05, 40
    data = blocked(np.random.default_rng(11), reps, 3, 8, 0.75, 4.0)
    page = np.mean([S.trend_test(list(d), "increasing", paired=True)["p"] < alpha for d in data])
    jt = np.mean([S.trend_test(list(d), "increasing")["p"] < alpha for d in data])
    assert page > jt and page > 0.5 and jt < 0.2, (page, jt)


# ---------------------------------------------------------------------------------------------
# planning the paired trend

def test_paired_trend_plan_is_a_paired_end_to_end_plan():
    for d in (0.8, 1.5):
        assert S.seeds_needed("trend", d, 0.01, 0.8, paired=True) == S.seeds_needed(
            "signflip", d, 0.01, 0.8, paired=True)            # same paired model and 3/pi allowance
        assert S.seeds_needed("trend", d, 0.01, 0.8, paired=True) < S.seeds_needed("trend", d, 0.01, 0.8)
    n_t = S.seeds_needed("welch", 1.0, 0.01, 0.8, paired=True)
    assert S.seeds_needed("trend", 1.0, 0.01, 0.8, paired=True) == math.ceil(n_t * math.pi / 3)
    assert S.seeds_needed("trend", 1.0, 0.01, 0.8, paired=True, n_groups=2) == math.ceil(n_t * math.pi / 2)
    # a huge effect: the floor decides ((1/6)^3 < 0.01 with 3 groups, 2^-7 with 2)
    assert S.seeds_needed("trend", 100.0, 0.01, paired=True) == 3
    assert S.seeds_needed("trend", 100.0, 0.01, paired=True, n_groups=2) == 7
    assert S.predicted_power("trend", 1.5, 2, 0.01, paired=True) == 0.0
    assert S.predicted_power("trend", 1.5, 9, 0.01, paired=True) == pytest.approx(
        S._t_power(1.5, 9 * S.ARE_RANK, 0.01, True))
    with pytest.raises(ValueError, match="n_groups"):
        S.seeds_needed("welch", 1.0, n_groups=3)


def test_page_power_meets_the_plan():
    alpha, target, reps, k, d_z = 0.01, 0.8, 400, 4, 1.5
    n = S.seeds_needed("trend", d_z, alpha, target, paired=True, n_groups=k)
    step = d_z * math.sqrt(2) / (k - 1)                       # last - first: mean (k-1) step, sd sqrt(2)
    data = blocked(np.random.default_rng(9), reps, k, n, step, 3.0)
    power = np.mean([S.trend_test(list(d), "increasing", paired=True)["p"] < alpha for d in data])
    assert power >= target - 3 * math.sqrt(target * (1 - target) / reps), (n, power)


# ---------------------------------------------------------------------------------------------
# effect_lcb / plan_seeds

def test_effect_lcb_paired_inverts_the_noncentral_t():
    diff = np.array([0.9, 1.4, 0.2, 1.1, 0.7, 1.8, 0.4, 1.0])
    r = S.effect_lcb(diff, level=0.9)
    n, d_z = diff.size, diff.mean() / diff.std(ddof=1)
    assert r["d"] == pytest.approx(d_z) and r["sign"] == 1 and r["n"] == n and r["paired"] is True
    t_obs = d_z * math.sqrt(n)
    assert sps.nct.cdf(t_obs, n - 1, r["lcb"] * math.sqrt(n)) == pytest.approx(0.9, abs=1e-9)
    assert 0 < r["lcb"] < d_z
    # x, y pairs give the same as their differences; the mirrored pilot only flips the sign
    y = np.linspace(0.0, 3.0, n)
    assert S.effect_lcb(y + diff, y, level=0.9)["lcb"] == pytest.approx(r["lcb"])
    neg = S.effect_lcb(-diff, level=0.9)
    assert neg["sign"] == -1 and neg["d"] == pytest.approx(-d_z) and neg["lcb"] == pytest.approx(r["lcb"])
    json.dumps(r)


def test_effect_lcb_unpaired_uses_the_two_sample_ncp():
    x = np.array([2.1, 2.9, 3.4, 2.5, 3.8, 3.0])
    y = np.array([1.2, 2.0, 1.5, 2.6, 1.1])
    r = S.effect_lcb(x, y, paired=False, level=0.95)
    df = x.size + y.size - 2
    sp = math.sqrt((((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum()) / df)
    h = x.size * y.size / (x.size + y.size)
    t_obs = (x.mean() - y.mean()) / sp * math.sqrt(h)
    assert t_obs == pytest.approx(sps.ttest_ind(x, y).statistic)
    assert sps.nct.cdf(t_obs, df, r["lcb"] * math.sqrt(h)) == pytest.approx(0.95, abs=1e-9)
    assert r["d"] == pytest.approx(S.hedges_g(x, y)) and r["n"] == [6, 5]
    with pytest.raises(ValueError, match="both arms"):
        S.effect_lcb(x, paired=False)


def test_effect_lcb_monotone_in_level():
    diff = np.array([0.5, 1.2, -0.3, 0.9, 0.8, 1.5, 0.1, 0.6, 1.1, 0.4])
    levels = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99]
    lcbs = [S.effect_lcb(diff, level=lv)["lcb"] for lv in levels]
    assert all(a > b for a, b in zip(lcbs, lcbs[1:])), lcbs
    assert lcbs[0] <= S.effect_lcb(diff)["d"] * 1.05
    with pytest.raises(ValueError, match="level"):
        S.effect_lcb(diff, level=0.3)


def test_effect_lcb_degenerate_pilots():
    inf = S.effect_lcb([0.3, 0.3, 0.3, 0.3])
    assert inf["lcb"] == math.inf and inf["d"] == math.inf and "sd 0" in inf["note"]
    assert S.effect_lcb([1.3, 2.3, 3.3], [1.0, 2.0, 3.0])["lcb"] == math.inf   # rounding-level spread
    assert S.effect_lcb([-0.3, -0.3, -0.3])["d"] == -math.inf
    assert S.effect_lcb([2.0, 2, 2], [1.0, 1, 1], paired=False)["lcb"] == math.inf
    zero = S.effect_lcb([0.0, 0.0, 0.0])
    assert zero["d"] == 0.0 and zero["lcb"] == 0.0
    weak = S.effect_lcb([0.5, -0.4, 0.3, -0.2, 0.1])          # does not exclude 0 at 0.9
    assert weak["lcb"] == 0.0 and weak["d"] > 0 and "note" in weak
    with pytest.raises(ValueError, match="equal n"):
        S.effect_lcb([1.0, 2.0], [1.0])


def test_plan_seeds():
    rng = np.random.default_rng(4)
    first = rng.normal(0.0, 1.0, 6)
    last = first + rng.normal(1.5, 0.5, 6)
    r = S.plan_seeds(last, first, test="trend", alpha=0.01, paired=True, n_groups=3)
    lcb = S.effect_lcb(last, first, level=0.9)["lcb"]
    assert r["lcb"] == pytest.approx(lcb) and r["lcb"] < r["d"]
    assert r["n"] == S.seeds_needed("trend", lcb, 0.01, 0.8, paired=True, n_groups=3)
    assert r["floor_n"] == 3 and r["n"] >= r["floor_n"]
    point = S.seeds_needed("trend", r["d"], 0.01, 0.8, paired=True, n_groups=3)
    assert r["n"] >= point                                    # the bound plans more seeds than the point
    assert S.plan_seeds(last, first, test="trend", alpha=0.01, paired=True, level=0.95)["n"] >= r["n"]
    json.dumps(r)
    # zero spread: the floor alone
    flat = S.plan_seeds([0.3] * 4, None, test="wilcoxon", alpha=0.01, paired=True)
    assert flat["lcb"] == math.inf and flat["n"] == flat["floor_n"] == 7
    unp = S.plan_seeds(rng.normal(3, 1, 6), rng.normal(0, 1, 6), test="mannwhitney", alpha=0.01,
                       paired=False)
    assert unp["n"] == S.seeds_needed("mannwhitney", unp["lcb"], 0.01, 0.8) and unp["floor_n"] == 5
    with pytest.raises(ValueError, match="does not show an effect in either direction at the 0.9"):
        S.plan_seeds([0.5, -0.4, 0.3, -0.2, 0.1], test="signflip", alpha=0.01, paired=True)
    with pytest.raises(ValueError, match="paired"):
        S.plan_seeds([1.0, 2, 3], [0.0, 1, 1], test="wilcoxon", alpha=0.01, paired=False)
    with pytest.raises(ValueError, match="margin"):
        S.plan_seeds([1.0, 2, 3], [0.0, 1, 1], test="tost", alpha=0.01, paired=False)
