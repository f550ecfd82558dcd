"""Tests for harness.stats: known values, edge cases, brute-force enumeration. No torch import here.

The Monte-Carlo calibration (false-positive rates, power) is in test_stats_calibration.py.
"""
import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from bnclaims.harness.stats import core as S


# ---------------------------------------------------------------------------------------------
# attainable p, sample sizes

def test_min_attainable_p_known_values():
    assert S.min_attainable_p("mannwhitney", 5, 5) == pytest.approx(1 / 252)
    assert S.min_attainable_p("mannwhitney", 3, 3) == pytest.approx(0.05)
    assert S.min_attainable_p("mannwhitney", 4, 4) == pytest.approx(1 / 70)
    assert S.min_attainable_p("wilcoxon", 6) == pytest.approx(1 / 64)
    assert S.min_attainable_p("signflip", 7, 7) == pytest.approx(1 / 128)
    assert S.min_attainable_p("welch", 2, 2) == 0.0
    assert S.min_attainable_p("welch", 1, 5) == 1.0
    assert S.min_attainable_p("trend", 3, 3) == pytest.approx(1 / 1680)      # 9! / (3!)^3
    assert S.min_attainable_p("trend", 5, 4) == pytest.approx(1 / 10_000)    # Monte-Carlo floor
    with pytest.raises(ValueError):
        S.min_attainable_p("wilcoxon", 6, 5)


def test_check_n_messages():
    with pytest.raises(S.InsufficientSeeds) as err:
        S.check_n("mannwhitney", 3, 3, 0.01)
    msg = str(err.value)
    assert "3 and 3" in msg and "p < 0.01" in msg and "0.05" in msg and "at least 5 per arm" in msg
    assert isinstance(err.value, ValueError)
    S.check_n("mannwhitney", 5, 5, 0.01)
    S.check_n("mannwhitney", 3, 3, 0.1)
    with pytest.raises(S.InsufficientSeeds, match="at least 7 pairs"):
        S.check_n("wilcoxon", 6, 6, 0.01)
    with pytest.raises(S.InsufficientSeeds, match="at least 2 seeds per arm"):
        S.check_n("welch", 1, 8, 0.01)
    with pytest.raises(S.InsufficientSeeds, match="per group"):
        S.check_n("trend", 2, 3, 0.001)


def test_seeds_needed_matches_power_table():
    # one-sided t, alpha 0.05, power 0.8 (table in the ecosystem notes, section 2.4)
    table = {0.5: 51, 0.8: 21, 1.0: 14, 1.5: 7, 2.0: 4, 3.0: 3}
    for d, n in table.items():
        assert S.seeds_needed("welch", d, alpha=0.05, power=0.8) == n
    # rank tests: the t answer inflated by pi/3, never below the n that can reach alpha
    n_t = S.seeds_needed("welch", 1.0, alpha=0.01, power=0.95)
    assert S.seeds_needed("mannwhitney", 1.0, alpha=0.01, power=0.95) == math.ceil(n_t * math.pi / 3)
    assert S.seeds_needed("mannwhitney", 5.0, alpha=0.01) == 5          # floor 1/252 < 0.01
    assert S.seeds_needed("wilcoxon", 5.0, alpha=0.01) == 7             # floor 1/128 < 0.01
    assert S.seeds_needed("welch", 1.0, paired=True) < S.seeds_needed("welch", 1.0)
    assert S.seeds_needed("tost", 1.0) > S.seeds_needed("welch", 1.0)
    with pytest.raises(ValueError):
        S.seeds_needed("welch", 0.0)
    with pytest.raises(ValueError):
        S.seeds_needed("mannwhitney", 1.0, paired=True)


# ---------------------------------------------------------------------------------------------
# effect sizes and intervals

def test_hedges_g_and_prob_superiority():
    x, y = np.array([1.0, 2, 3, 4]), np.array([0.0, 1, 2, 3])
    df = 6
    j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    assert S.hedges_g(x, y) == pytest.approx(j * 1.0 / np.std(x, ddof=1))
    assert S.hedges_g(y, x) == pytest.approx(-S.hedges_g(x, y))
    assert S.hedges_g([1.0, 1, 1], [1.0, 1, 1]) == 0.0
    assert S.hedges_g([2.0, 2, 2], [1.0, 1, 1]) is None
    assert S.prob_superiority([1.0, 2, 3], [2.0, 2]) == pytest.approx(0.5)
    assert S.prob_superiority([5.0, 6], [1.0, 2, 3]) == 1.0
    u = sps.mannwhitneyu(x, y).statistic
    assert S.prob_superiority(x, y) == pytest.approx(u / 16)


def test_bca_ci_basic_and_degenerate():
    rng = np.random.default_rng(3)
    x, y = rng.normal(1.0, 1.0, 10), rng.normal(0.0, 1.0, 10)
    lo, hi = S.bca_ci(x, y)
    assert lo < x.mean() - y.mean() < hi
    assert (lo, hi) == S.bca_ci(x, y)                                   # fixed rng
    assert (lo, hi) != S.bca_ci(x, y, seed=1)
    plo, phi = S.bca_ci(x, y, paired=True)
    assert plo < x.mean() - y.mean() < phi
    llo, lhi = S.bca_ci(x + 5, y + 5, statistic="log_ratio")
    assert llo < math.log((x + 5).mean() / (y + 5).mean()) < lhi
    assert S.bca_ci([2.0] * 5, [1.0] * 5) == (1.0, 1.0)
    assert S.bca_ci([2.0] * 5, [1.0] * 5, statistic="log_ratio") == (math.log(2), math.log(2))
    assert S.bca_ci([3.0, 4, 5], [1.0, 2, 3], paired=True) == (2.0, 2.0)  # constant differences
    lo1, hi1 = S.bca_ci([5.0], [0.0, 1, 2, 3])                           # one-value arm: percentile
    assert lo1 <= 3.5 <= hi1
    with pytest.raises(ValueError, match="positive"):
        S.bca_ci([1.0, -1], [1.0, 2], statistic="log_ratio")
    with pytest.raises(ValueError, match="non-finite"):
        S.bca_ci([1.0, np.nan], [1.0, 2])


# ---------------------------------------------------------------------------------------------
# one-sided tests against brute-force enumeration

def brute_mannwhitney(x, y, alternative):
    pooled = np.concatenate([x, y])
    obs = S.prob_superiority(x, y)
    hits = total = 0
    for idx in itertools.combinations(range(pooled.size), x.size):
        mask = np.zeros(pooled.size, bool)
        mask[list(idx)] = True
        u = S.prob_superiority(pooled[mask], pooled[~mask])
        hits += (u >= obs - 1e-12) if alternative == "greater" else (u <= obs + 1e-12)
        total += 1
    return hits / total


def brute_signflip(v, alternative):
    obs = v.sum()
    null = [np.dot(s, v) for s in itertools.product([1, -1], repeat=v.size)]
    null = np.array(null)
    hits = null >= obs - 1e-9 if alternative == "greater" else null <= obs + 1e-9
    return hits.mean()


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_mannwhitney_exact_and_ties(alternative):
    x, y = np.array([3.1, 4.2, 5.3, 6.4]), np.array([1.0, 2.5, 3.6, 0.2])
    p = S.one_sided_p(x, y, "mannwhitney", alternative)
    assert p == pytest.approx(sps.mannwhitneyu(x, y, alternative=alternative, method="exact").pvalue)
    assert p == pytest.approx(brute_mannwhitney(x, y, alternative))
    xt, yt = np.array([3.0, 4, 5, 5]), np.array([1.0, 3, 3, 5])                 # ties
    assert S.one_sided_p(xt, yt, "mannwhitney", alternative) == pytest.approx(
        brute_mannwhitney(xt, yt, alternative))


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_wilcoxon_and_signflip_against_enumeration(alternative):
    rng = np.random.default_rng(7)
    y = rng.normal(size=8)
    x = y + rng.normal(0.5, 1.0, 8)
    d = x - y
    p = S.one_sided_p(x, y, "wilcoxon", alternative, paired=True)
    assert p == pytest.approx(sps.wilcoxon(d, alternative=alternative, method="exact").pvalue)
    ranks = sps.rankdata(np.abs(d)) * np.sign(d)
    assert p == pytest.approx(brute_signflip(ranks, alternative))
    # zeros and tied |d|: exact sign-flip of mid-ranked signed ranks, zeros dropped
    xz, yz = np.array([1.0, 2, 3, 4, 5, 6, 7]), np.array([1.0, 1, 1, 5, 2, 3, 1])
    dz = (xz - yz)[xz != yz]
    rz = sps.rankdata(np.abs(dz)) * np.sign(dz)
    assert S.one_sided_p(xz, yz, "wilcoxon", alternative, paired=True) == pytest.approx(
        brute_signflip(rz, alternative))
    assert S.one_sided_p(x, y, "signflip", alternative, paired=True) == pytest.approx(
        brute_signflip(d, alternative))


def test_signflip_large_n_is_seeded_monte_carlo():
    rng = np.random.default_rng(0)
    y = rng.normal(size=20)
    x = y + rng.normal(0.3, 1.0, 20)
    p = S.one_sided_p(x, y, "signflip", "greater", paired=True)
    assert p == S.one_sided_p(x, y, "signflip", "greater", paired=True)
    assert 1 / 10_000 <= p <= 1


def test_direction_and_pairing_rules():
    x, y = np.arange(10.0, 18.0), np.arange(8.0)
    for test, paired in [("welch", False), ("welch", True), ("mannwhitney", False),
                         ("wilcoxon", True), ("signflip", True)]:
        assert S.one_sided_p(x, y, test, "greater", paired) < 0.01
        assert S.one_sided_p(x, y, test, "less", paired) > 0.5
    with pytest.raises(ValueError, match="paired"):
        S.one_sided_p(x, y, "wilcoxon", "greater")
    with pytest.raises(ValueError, match="independent"):
        S.one_sided_p(x, y, "mannwhitney", "greater", paired=True)
    with pytest.raises(ValueError, match="alternative"):
        S.one_sided_p(x, y, "welch", "two-sided")


def test_tost_matches_two_shifted_welch_tests():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.0, 1.0, 12), rng.normal(0.1, 1.0, 12)
    p1 = sps.ttest_ind(x + 1.0, y, equal_var=False, alternative="greater").pvalue
    p2 = sps.ttest_ind(x - 1.0, y, equal_var=False, alternative="less").pvalue
    assert S.tost(x, y, -1.0, 1.0) == pytest.approx(max(p1, p2))
    assert S.tost(x, y, -1.0, 1.0) < 0.05
    assert S.tost(x + 5, y, -1.0, 1.0) > 0.99
    assert S.tost([1.0] * 4, [1.0] * 4, -0.1, 0.1) < 1e-6                   # zero spread, inside
    with pytest.raises(ValueError):
        S.tost(x, y, 1.0, -1.0)


# ---------------------------------------------------------------------------------------------
# trend, multiplicity, sequential

def test_trend_test_known_values():
    res = S.trend_test([[7.0, 8, 9], [4.0, 5, 6], [1.0, 2, 3]], "decreasing")
    assert res["statistic"] == 0.0
    assert res["p"] == pytest.approx(1 / 1680)
    assert res["spearman_rho"] < -0.9
    assert S.trend_test([[7.0, 8, 9], [4.0, 5, 6], [1.0, 2, 3]], "increasing")["p"] == 1.0
    tied = S.trend_test([[3.0, 3, 2], [2.0, 1, 1], [0.0, 0, 1]])
    assert tied["statistic"] == 1.5                # hand count: one (2,2) tie and two (1,1) ties
    flat = S.trend_test([[1.0, 1], [1.0, 1]])
    assert flat["p"] == 1.0 and flat["spearman_rho"] is None
    rng = np.random.default_rng(2)
    groups = [rng.normal(-3.0 * i, 1.0, 4) for i in range(3)]            # 34650 > limit: Monte-Carlo
    a, b = S.trend_test(groups), S.trend_test(groups)
    assert a == b and "Monte-Carlo" in a["method"] and 1e-4 <= a["p"] < 0.05


def test_holm_and_bh_hand_values():
    p = [0.01, 0.04, 0.03, 0.005]
    assert S.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.bh(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert S.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert S.holm([]) == [] and S.bh([]) == []
    with pytest.raises(ValueError):
        S.bh([0.1, 1.5])


def test_obf_boundaries_reproduce_classic_table():
    # two-sided 0.05 plan = one-sided 0.025 per tail: z = 2.797 then 1.977
    p1, p2 = S.obf_two_stage(0.025)
    assert round(sps.norm.isf(p1), 2) == 2.80
    assert round(sps.norm.isf(p2), 2) == 1.98
    q1, q2 = S.obf_two_stage(0.01)
    assert q1 < q2 < 0.01
    v = S.sequential_verdict(q1 / 2, alpha=0.01)
    assert v == {"stop_at": 1, "reject": True, "thresholds": [q1, q2]}
    assert S.sequential_verdict(0.02, alpha=0.01)["stop_at"] is None
    assert S.sequential_verdict(0.02, q2 / 2, alpha=0.01) == {"stop_at": 2, "reject": True,
                                                              "thresholds": [q1, q2]}
    assert S.sequential_verdict(0.02, 0.0099, alpha=0.01)["reject"] is False   # 0.0099 > q2


# ---------------------------------------------------------------------------------------------
# compare / trend_compare

def assert_builtin(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            assert_builtin(v)
    elif isinstance(obj, list):
        for v in obj:
            assert_builtin(v)
    else:
        assert obj is None or type(obj) in (bool, int, float, str), type(obj)


def roundtrip(res):
    assert_builtin(res)
    return json.loads(json.dumps(res, allow_nan=False))


def test_compare_verdicts():
    hi, lo = np.arange(10.0, 16.0), np.arange(6.0)
    r = S.compare(hi, lo, direction="greater", test="mannwhitney")
    assert r["verdict"] == "reproduced" and r["p"] == pytest.approx(1 / 924)
    assert r["reason"] == ("one-sided exact Mann-Whitney p=0.0011 < alpha=0.01 in the "
                           "pre-registered direction (x > y)")
    assert r["effect"] == 10.0 and r["ci"][0] <= 10.0 <= r["ci"][1]
    assert r["ratio"] is None and r["p_superiority"] == 1.0
    r = S.compare(hi, lo, direction="less", test="welch")
    assert r["verdict"] == "not reproduced" and "opposite direction" in r["reason"]
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 8), rng.normal(0, 1, 8)
    r = S.compare(a, b, direction="greater", test="welch")
    assert r["verdict"] == "inconclusive" and r["p_tost_sesoi"] is None
    r = S.compare(a, b + 0.05, direction="greater", test="welch", sesoi=3.0)
    assert r["verdict"] == "not reproduced" and "smallest effect of interest" in r["reason"]
    r = S.compare(a, b + 0.05, direction="equivalent", test="tost", margin=3.0)
    assert r["verdict"] == "reproduced" and "within (-3, 3)" in r["reason"]
    r = S.compare(a + 10, b, direction="equivalent", test="tost", margin=1.0)
    assert r["verdict"] == "not reproduced" and "outside" in r["reason"]
    r = S.compare(a + 10, b + 10, direction="greater", test="wilcoxon", paired=True)
    assert r["ratio"] > 0 and r["ratio_ci"][0] <= r["ratio"] <= r["ratio_ci"][1]


def test_compare_json_safe_and_complete():
    keys = {"test", "method", "direction", "alpha", "paired", "margin", "sesoi", "n_x", "n_y",
            "mean_x", "mean_y", "sd_x", "sd_y", "median_x", "median_y", "effect", "ci", "ratio",
            "ratio_ci", "hedges_g", "p_superiority", "p", "p_opposite", "p_tost_sesoi", "verdict",
            "reason", "values_x", "values_y"}
    rng = np.random.default_rng(9)
    x, y = rng.lognormal(0, 0.3, 7), rng.lognormal(0, 0.3, 7)
    for kw in [dict(test="welch", direction="greater"),
               dict(test="welch", direction="less", paired=True, sesoi=0.5),
               dict(test="mannwhitney", direction="greater"),
               dict(test="wilcoxon", direction="less", paired=True),
               dict(test="signflip", direction="greater", paired=True),
               dict(test="tost", direction="equivalent", margin=0.3)]:
        res = S.compare(x, y, **kw)
        assert keys <= set(res)
        assert roundtrip(res) == res
        assert res["values_x"] == x.tolist()


@pytest.mark.parametrize("test,paired", [("welch", False), ("welch", True), ("mannwhitney", False),
                                         ("wilcoxon", True), ("signflip", True), ("tost", False)])
def test_compare_constant_data_does_not_crash(test, paired):
    direction = "equivalent" if test == "tost" else "greater"
    margin = 0.5 if test == "tost" else None
    for x, y in [([1.0] * 7, [1.0] * 7), ([2.0] * 7, [1.0] * 7), ([0.0] * 7, [0.0] * 7)]:
        res = roundtrip(S.compare(x, y, direction=direction, test=test, paired=paired, margin=margin))
        assert res["verdict"] in ("reproduced", "not reproduced", "inconclusive")
        assert res["ci"] == [res["effect"], res["effect"]]


def test_compare_input_errors():
    with pytest.raises(ValueError, match="non-finite"):
        S.compare([1.0, np.nan, 2, 3, 4], [1.0, 2, 3, 4, 5], direction="greater", test="welch")
    with pytest.raises(ValueError, match="non-finite"):
        S.compare([1.0, 2, 3, 4, 5], [1.0, np.inf, 3, 4, 5], direction="greater", test="mannwhitney")
    with pytest.raises(S.InsufficientSeeds, match="at least 5 per arm"):
        S.compare([1.0, 2, 3], [4.0, 5, 6], direction="less", test="mannwhitney")
    with pytest.raises(ValueError, match="margin"):
        S.compare([1.0, 2, 3], [4.0, 5, 6], direction="equivalent", test="tost")
    with pytest.raises(ValueError, match="tost"):
        S.compare([1.0, 2, 3], [4.0, 5, 6], direction="equivalent", test="welch", margin=1.0)
    with pytest.raises(ValueError, match="trend_compare"):
        S.compare([1.0, 2, 3], [4.0, 5, 6], direction="greater", test="trend")


def test_trend_compare():
    groups = [[9.0, 8.5, 9.5], [7.0, 6.5, 7.2], [4.0, 5.0, 4.5], [1.0, 2.0, 1.5]]
    r = roundtrip(S.trend_compare(groups, labels=["a", "b", "c", "d"]))
    assert r["verdict"] == "reproduced" and r["p"] < 0.01
    assert [g["label"] for g in r["groups"]] == ["a", "b", "c", "d"]
    assert r["effect"] == pytest.approx(1.5 - 9.0) and r["ci"][0] <= r["effect"] <= r["ci"][1]
    r = S.trend_compare(groups[::-1])
    assert r["verdict"] == "not reproduced" and "opposite" in r["reason"]
    r = S.trend_compare([[1.0, 2, 3], [2.0, 1, 3], [3.0, 2, 1]])
    assert r["verdict"] == "inconclusive"
    with pytest.raises(S.InsufficientSeeds):
        S.trend_compare([[1.0], [0.0]], alpha=0.01)


def test_paired_comparisons_report_d_z():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    y = x - np.array([0.5, 0.7, 0.4, 0.6, 0.5, 0.8, 0.3, 0.6])
    r = S.compare(x, y, direction="greater", test="signflip", paired=True)
    d = x - y
    assert r["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert S.compare(x, y, direction="greater", test="welch")["d_z"] is None
