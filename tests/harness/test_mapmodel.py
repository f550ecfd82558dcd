"""Tests for harness.stats.mapmodel: covering designs, the weighted interaction model, classification and hit rates.

Each measure is checked where the answer is known: exact recovery from noise-free data, interval coverage
and the overdispersion factor under seeded simulated noise, Clopper-Pearson against scipy.
"""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats as sps

from bnclaims.harness.stats import mapmodel as M

LR = ("lr", (0.1, 0.316, 1.0, 3.16, 10.0))
NORM = ("norm", ("bn", "gn", "ln", "wn_mobn", "bn_pop"))
DEPTH = ("depth", (2, 4, 8))
ACT = ("activation", ("relu", "tanh", "sigmoid"))
BATCH = ("batch_size", (16, 64, 256))
BUDGET = ("budget", ("ci", "full"))
F55333 = [LR, NORM, DEPTH, ACT, BATCH]
F53333 = [LR, DEPTH, ACT, BATCH, ("wd", (0, 1e-4, 1e-3))]
F332 = [("a", (0, 1, 2)), ("b", ("x", "y", "z")), ("c", ("p", "q"))]


def base_of(factors):
    return {f: levels[0] for f, levels in factors}


def true_means(cells, factors, base, beta):
    """Cell means of a model with coefficients beta over model_terms(factors, base)."""
    return M.design_matrix(cells, M.model_terms(factors, base)) @ beta


# ---------------------------------------------------------------------------------------------
# grids and designs

def test_full_grid_size_and_order():
    grid = M.full_grid(F332)
    assert len(grid) == 18
    assert grid[0] == {"a": 0, "b": "x", "c": "p"}
    assert grid[1] == {"a": 0, "b": "x", "c": "q"}
    assert grid == [dict(zip("abc", combo)) for combo in itertools.product((0, 1, 2), "xyz", "pq")]


@pytest.mark.parametrize("factors, bound", [
    (F55333, 35), (F53333, 22), (F55333 + [BUDGET], 35), ([("u", (0, 1)), ("v", (0, 1)), ("w", (0, 1))], 6),
    ([DEPTH], 3), ([(f"f{i}", (0, 1, 2)) for i in range(10)], 24),   # 3^10 > 20000: the sampled path
])
def test_covering_design_covers_pairs(factors, bound):
    base = base_of(factors)
    base[factors[0][0]] = factors[0][1][-1]                 # a base that is not the first grid cell
    design = M.covering_design(factors, base, seed=3)
    assert M.covers_all_pairs(design, factors)
    assert design[0] == base
    assert len({tuple(c.items()) for c in design}) == len(design)
    assert len(design) <= bound
    assert design == M.covering_design(factors, base, seed=3)


def test_covering_design_single_factor_and_min_cells():
    single = M.covering_design([DEPTH], {"depth": 4})
    assert single[0] == {"depth": 4} and sorted(c["depth"] for c in single) == [2, 4, 8]
    design = M.covering_design(F332, base_of(F332), min_cells=14)
    assert len(design) == 14 and M.covers_all_pairs(design, F332)
    assert len({tuple(c.items()) for c in design}) == 14
    assert len(M.covering_design(F332, base_of(F332), min_cells=100)) == 18     # capped at the grid


def test_covers_all_pairs_detects_a_gap():
    grid = M.full_grid(F332)
    assert M.covers_all_pairs(grid, F332)
    assert not M.covers_all_pairs([c for c in grid if not (c["a"] == 2 and c["c"] == "q")], F332)
    assert not M.covers_all_pairs([{"depth": 2}, {"depth": 4}], [DEPTH])


def test_holdout_cells_disjoint_and_deterministic():
    base = base_of(F55333)
    design = M.covering_design(F55333, base)
    held = M.holdout_cells(F55333, design, 12, seed=1)
    assert len(held) == 12
    keys = {tuple(c.items()) for c in design}
    assert not keys & {tuple(c.items()) for c in held}
    assert len({tuple(c.items()) for c in held}) == 12
    assert held == M.holdout_cells(F55333, design, 12, seed=1)
    with pytest.raises(ValueError, match="left to choose"):
        M.holdout_cells(F332, M.full_grid(F332)[:10], 9)


# ---------------------------------------------------------------------------------------------
# terms and fitting

def test_model_terms_and_names():
    terms = M.model_terms(F332, base_of(F332))
    assert terms[:6] == [("intercept",), ("main", "a", 1), ("main", "a", 2), ("main", "b", "y"),
                         ("main", "b", "z"), ("main", "c", "q")]
    assert len(terms) == 1 + 5 + 4 + 2 + 2
    assert ("pair", "b", "z", "c", "q") in terms
    assert len(M.model_terms(F332, base_of(F332), interactions=False)) == 6
    X = M.design_matrix([{"a": 2, "b": "z", "c": "q"}], terms)
    assert X[0].tolist() == [1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 1]


def test_fit_recovers_known_coefficients_exactly():
    base = base_of(F332)
    grid = M.full_grid(F332)
    beta = np.random.default_rng(0).normal(size=14)
    model = M.fit(grid, true_means(grid, F332, base, beta), np.ones(18), F332, base)
    assert model["dropped"] == [] and model["dropped_main"] == []
    np.testing.assert_allclose(model["coef"], beta, atol=1e-9)
    assert model["chi2"] < 1e-18 and model["phi"] == 1.0 and model["df"] == 4
    assert model["quantile_dist"] == "normal"
    assert model["names"][-1] == "b=z:c=q"
    json.loads(json.dumps(model))


def coverage_setup():
    factors = [LR, DEPTH, ACT]
    base = base_of(factors)
    design = M.covering_design(factors, base, min_cells=24)
    beta = np.zeros(len(M.model_terms(factors, base)))
    beta[:9] = np.linspace(-1.0, 1.0, 9)                    # main effects only; interactions estimated as ~0
    return factors, base, design, beta


def test_intervals_cover_true_means_at_nominal_rate():
    factors, base, design, beta = coverage_setup()
    grid = M.full_grid(factors)
    truth = true_means(grid, factors, base, beta)
    mu = true_means(design, factors, base, beta)
    se = np.linspace(0.2, 0.6, len(design))
    rng = np.random.default_rng(11)
    hits = []
    for _ in range(200):
        model = M.fit(design, mu + rng.normal(size=len(design)) * se, se, factors, base)
        pred = M.predict(model, grid)
        hits.append(np.mean([p["lo"] <= t <= p["hi"] for p, t in zip(pred, truth)]))
    assert model["df"] >= 2
    assert 0.88 <= np.mean(hits) <= 0.99


def test_overdispersion_is_estimated_and_widens_intervals():
    factors = [LR, DEPTH, ACT]
    base = base_of(factors)
    grid = M.full_grid(factors)
    beta = np.zeros(len(M.model_terms(factors, base)))
    beta[:9] = np.linspace(-1.0, 1.0, 9)
    mu = true_means(grid, factors, base, beta)
    se = np.full(len(grid), 0.3)
    noisy = mu + np.random.default_rng(5).normal(size=len(grid)) * 3 * se
    over = M.fit(grid, noisy, se, factors, base, interactions=False)
    clean = M.fit(grid, mu, se, factors, base, interactions=False)
    assert over["df"] == 45 - 9 and 4 < over["phi"] < 20 and over["quantile_dist"] == "t"
    assert clean["phi"] == 1.0
    p_over, p_clean = M.predict(over, grid[:5]), M.predict(clean, grid[:5])
    for a, b in zip(p_over, p_clean):
        assert a["se"] == pytest.approx(b["se"] * np.sqrt(over["phi"]), rel=1e-9)
        assert a["hi"] - a["lo"] > 2 * (b["hi"] - b["lo"])


def test_small_design_drops_named_interactions_and_keeps_df():
    factors = [("a", (0, 1, 2)), ("b", (0, 1, 2)), ("c", (0, 1, 2))]
    base = base_of(factors)
    design = [{"a": i, "b": j, "c": (i + j) % 3} for i in range(3) for j in range(3)]   # a 9-run Latin square
    assert M.covers_all_pairs(design, factors)
    model = M.fit(design, np.arange(9.0), np.ones(9), factors, base, min_df=2)
    assert model["df"] == 2 and model["dropped_main"] == []
    assert len(model["dropped"]) == 12 and "a=1:b=2" in model["dropped"] and "b=2:c=1" in model["dropped"]
    bigger = M.fit(design + M.holdout_cells(factors, design, 5), np.arange(14.0), np.ones(14), factors, base)
    assert bigger["df"] == 2 and len(bigger["dropped"]) == 12 - 5 and len(bigger["terms"]) == 12


def test_non_estimable_main_effects_are_dropped():
    factors = [("a", (0, 1, 2)), ("b", ("x", "y"))]
    cells = [{"a": 0, "b": "x"}, {"a": 1, "b": "x"}, {"a": 0, "b": "y"}, {"a": 1, "b": "y"}]
    model = M.fit(cells, [0.0, 1.0, 2.0, 3.0], [1.0] * 4, factors, {"a": 0, "b": "x"})
    assert model["dropped_main"] == ["a=2"]
    np.testing.assert_allclose(model["coef"][:3], [0.0, 1.0, 2.0], atol=1e-12)


@pytest.mark.parametrize("cells, y, se, match", [
    ([{"a": 0, "b": "w", "c": "p"}], [1.0], [1.0], "unknown level"),
    ([{"a": 0, "b": "x", "c": "p", "d": 1}], [1.0], [1.0], "unknown factor"),
    ([{"a": 0, "b": "x"}], [1.0], [1.0], "lacks factor"),
    ([{"a": 0, "b": "x", "c": "p"}], [1.0], [0.0], "se must be"),
    ([{"a": 0, "b": "x", "c": "p"}], [float("nan")], [1.0], "y must be finite"),
    ([{"a": 0, "b": "x", "c": "p"}], [1.0, 2.0], [1.0, 1.0], "same length|one entry each"),
])
def test_bad_input_raises(cells, y, se, match):
    with pytest.raises(ValueError, match=match):
        M.fit(cells, y, se, F332, base_of(F332))


def test_predict_rejects_unknown_levels_and_survives_json():
    base = base_of(F332)
    grid = M.full_grid(F332)
    model = json.loads(json.dumps(M.fit(grid, np.arange(18.0), np.ones(18), F332, base)))
    assert [p["mean"] for p in M.predict(model, grid[:3])] == pytest.approx([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="unknown level"):
        M.predict(model, [{"a": 3, "b": "x", "c": "p"}])


# ---------------------------------------------------------------------------------------------
# classification, maps, hit rate

def test_classify_both_directions_and_margin():
    p = lambda lo, hi: {"lo": lo, "hi": hi}
    assert M.classify(p(0.1, 0.5), "greater") == "holds"
    assert M.classify(p(-0.5, -0.1), "greater") == "fails"
    assert M.classify(p(-0.1, 0.5), "greater") == "unknown"
    assert M.classify(p(0.1, 0.5), "greater", margin=0.2) == "unknown"
    assert M.classify(p(0.05, 0.15), "greater", margin=0.2) == "fails"
    assert M.classify(p(-0.5, -0.1), "less") == "holds"
    assert M.classify(p(0.1, 0.5), "less") == "fails"
    assert M.classify(p(-0.5, -0.1), "less", margin=0.2) == "unknown"
    assert M.classify(p(-0.15, 0.3), "less", margin=0.2) == "fails"
    with pytest.raises(ValueError, match="direction"):
        M.classify(p(0, 1), "two-sided")


def test_importance_surface_and_summarize():
    factors = [LR, DEPTH, ACT]
    base = base_of(factors)
    grid = M.full_grid(factors)
    beta = np.zeros(len(M.model_terms(factors, base)))
    beta[0] = 0.5
    beta[5:7] = [3.0, 6.0]                                  # depth: big main effect
    beta[1:5] = [0.1, 0.2, 0.3, 0.4]                        # lr: small
    y = true_means(grid, factors, base, beta) + np.random.default_rng(2).normal(size=45) * 0.05
    model = M.fit(grid, y, np.full(45, 0.05), factors, base)
    ranked = M.importance(model)
    assert [f for f, _ in ranked][0] == "depth" and ranked[0][1] == pytest.approx(6.0, abs=0.2)
    surf = M.surface(model, "lr", "depth", direction="greater")
    assert surf["rows"] == list(LR[1]) and surf["cols"] == list(DEPTH[1])
    assert np.shape(surf["mean"]) == (5, 3) and np.shape(surf["status"]) == (5, 3)
    cell = {**base, "lr": 3.16, "depth": 8}
    (p,) = M.predict(model, [cell])
    assert surf["mean"][3][2] == pytest.approx(p["mean"]) and surf["lo"][3][2] == pytest.approx(p["lo"])
    assert surf["status"][3][2] == "holds" and M.surface(model, "lr", "depth")["status"] is None
    summary = M.summarize(model, "greater")
    assert summary["grid_cells"] == 45 and summary["holds"] + summary["fails"] + summary["unknown"] == 45
    assert summary["holds"] >= 30


def test_sign_hit_rate_known_values():
    pred = [1, 2, 3, 4, 5, 6, 7, 8, -1, -2, 0, 3]
    obs = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 0]                # 8 hits of 10; two zeros skipped
    out = M.sign_hit_rate(pred, obs)
    ci = sps.binomtest(8, 10).proportion_ci(confidence_level=0.95, method="exact")
    assert out["n"] == 10 and out["hits"] == 8 and out["rate"] == 0.8 and out["skipped"] == 2
    assert out["ci"] == pytest.approx([ci.low, ci.high])
    assert out["ci"][0] == pytest.approx(0.4439045376923585)
    assert M.sign_hit_rate([0.0, float("nan")], [1.0, 1.0])["rate"] is None
    with pytest.raises(ValueError):
        M.sign_hit_rate([1.0], [1.0, 2.0])


def test_select_adds_the_interaction_the_data_hold_and_no_other():
    factors = [("a", (0, 1, 2, 3)), ("b", ("x", "y", "z")), ("c", ("p", "q", "r")), ("d", ("u", "v"))]
    base = {"a": 0, "b": "x", "c": "p", "d": "u"}
    cells = M.covering_design(factors, base, seed=1, min_cells=22)
    rng = np.random.default_rng(3)

    def truth(c, inter):
        return 0.5 * c["a"] - (0.4 if c["d"] == "v" else 0.0) + (inter if (c["b"] == "z" and c["c"] == "r") else 0.0)

    se = np.full(len(cells), 0.1)
    y = np.array([truth(c, 2.0) for c in cells]) + rng.normal(0, 0.1, len(cells))
    m = M.select(cells, y, se, factors, base)
    assert m["pairs"] == [["b", "c"]] and m["selection"]["steps"][0]["p"] < 1e-6 and m["df"] >= 2
    y0 = np.array([truth(c, 0.0) for c in cells]) + rng.normal(0, 0.1, len(cells))
    m0 = M.select(cells, y0, se, factors, base)
    assert m0["pairs"] == [] and m0["names"] == M.fit(cells, y0, se, factors, base, interactions=False)["names"]
