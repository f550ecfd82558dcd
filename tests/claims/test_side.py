"""Reductions of the side checks (claims/side.py) and the spec_grid routine's validation, on synthetic arrays."""
import math

import numpy as np
import pytest
from scipy import stats

from bnclaims.claims import side
from bnclaims.harness import kit
from bnclaims.harness.declare.design import REDUCTIONS
from bnclaims.harness.routines import spec_grid

LN10 = math.log(10)


# ---------------------------------------------------------------------------------- failure flag
def test_failure_flag_threshold_and_divergence():
    loss = np.array([0.5, 1.99, 2.0, 2.01, 3.5, np.nan, np.inf])
    assert side.failure_flags(loss).tolist() == [0, 0, 0, 1, 1, 1, 1]      # "above 2": 2.0 itself trains
    assert side.failure_flags(loss, threshold=1.0).tolist() == [0, 1, 1, 1, 1, 1, 1]


def test_clipped_counts_divergence_and_above_chance_as_chance():
    out = side.clipped([0.3, np.nan, 7.0, LN10 - 0.1])
    assert out[0] == 0.3 and out[1] == out[2] == pytest.approx(LN10) and out[3] == pytest.approx(LN10 - 0.1)


# ---------------------------------------------------------------------------------- Clopper-Pearson
@pytest.mark.parametrize("x,n", [(0, 20), (1, 20), (3, 20), (10, 20), (19, 20), (20, 20), (0, 1), (1, 1), (7, 12)])
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_clopper_pearson_matches_scipy(x, n, level):
    ref = stats.binomtest(x, n).proportion_ci(confidence_level=level, method="exact")
    lo, hi = kit.clopper_pearson(x, n, level)
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)
    assert 0 <= lo <= x / n <= hi <= 1


def test_clopper_pearson_refuses_bad_input():
    for bad in [(-1, 5), (6, 5), (1, 0), (1.5, 5), (True, 5)]:
        with pytest.raises(ValueError):
            kit.clopper_pearson(*bad)
    with pytest.raises(ValueError):
        kit.clopper_pearson(1, 5, level=1.0)


def test_failure_summary():
    s = side.failure_summary([0, 1, 0, 0, 1])
    assert s["failures"] == 2 and s["n"] == 5 and s["rate"] == 0.4
    assert s["ci"] == list(kit.clopper_pearson(2, 5))


# ---------------------------------------------------------------------------------- spread
def test_grid_spread_and_regret_known_answers():
    # 2 init scales x 2 rates x 3 seeds; seed 0 constant (no spread), seed 1 two levels, seed 2 one bad cell
    f = np.zeros((2, 2, 3))
    f[..., 0] = 0.7
    f[..., 1] = [[0.0, 1.0], [0.0, 1.0]]
    f[..., 2] = [[0.2, 0.2], [0.2, 2.2]]
    sp = side.grid_spread(f)
    assert sp[0] == 0.0 and sp[1] == pytest.approx(0.5) and sp[2] == pytest.approx(np.std([0.2, 0.2, 0.2, 2.2]))
    assert side.grid_regret(f).tolist() == pytest.approx([0.0, 0.5, 0.5])
    with pytest.raises(ValueError):
        side.grid_spread(np.zeros(3))


def _spread_arrays(k=4, fill=0.5, bad=None):
    e = 3
    a = {"seeds": np.arange(k), "lrs": np.array(side.SPREAD_LRS), "eval_step": np.arange(e)}
    for s in side.INIT_STDS:
        v = np.full((e, len(side.SPREAD_LRS), k), fill)
        a[f"std{s:g}.eval_train_loss"] = v
    if bad is not None:                                                   # one cell diverged for seed 0
        a[f"std{side.INIT_STDS[0]:g}.eval_train_loss"][-1, 0, 0] = bad
    return a


def test_spread_reduction_reads_final_clipped_cells():
    fn = REDUCTIONS["side.grid_spread"]
    assert fn(_spread_arrays()).tolist() == [0.0] * 4                     # a flat grid has no spread
    got = fn(_spread_arrays(bad=np.nan))
    cells = np.full(len(side.INIT_STDS) * len(side.SPREAD_LRS), 0.5)
    cells[0] = LN10                                                        # diverged counts as chance
    assert got[0] == pytest.approx(cells.std()) and got[1:].tolist() == [0.0] * 3
    assert fn(_spread_arrays(bad=50.0))[0] == pytest.approx(got[0])       # above chance is clipped alike
    assert REDUCTIONS["side.grid_best"](_spread_arrays(bad=np.nan)).tolist() == [0.5] * 4


# ---------------------------------------------------------------------------------- depth reductions
def _depth_arrays(none, bn):
    """none, bn: [R, K] late losses."""
    none, bn = np.asarray(none, float), np.asarray(bn, float)
    return {"seeds": np.arange(none.shape[1]), "lrs": np.array(side.DEPTH_LRS),
            "none.late_train_loss": none, "bn.late_train_loss": bn}


def test_depth_reductions_pick_each_networks_better_rate():
    # plain: rate 0 better on average (0.9 vs 1.5); BN: rate 1 better (0.2 vs diverged)
    a = _depth_arrays(none=[[0.8, 1.0, 0.9], [1.5, 1.4, 1.6]], bn=[[np.nan, 2.5, 2.2], [0.2, 0.3, 2.1]])
    assert side.depth_cell(a, "none")[1] == side.DEPTH_LRS[0] and side.depth_cell(a, "bn")[1] == side.DEPTH_LRS[1]
    assert REDUCTIONS["side.depth_gap"](a).tolist() == pytest.approx([0.6, 0.7, 0.9 - 2.1])
    assert REDUCTIONS["side.depth_failed"](a, cell="bn").tolist() == [0, 0, 1]
    assert REDUCTIONS["side.depth_failed"](a, cell="none").tolist() == [0, 0, 0]


def test_depth_gap_counts_divergence_as_chance():
    a = _depth_arrays(none=[[np.nan, np.nan], [np.nan, 9.0]], bn=[[0.5, 0.4], [0.6, 0.7]])
    assert REDUCTIONS["side.depth_gap"](a).tolist() == pytest.approx([LN10 - 0.5, LN10 - 0.4])
    assert REDUCTIONS["side.depth_failed"](a, cell="none").tolist() == [1, 1]


def test_depth_failure_trend_can_say_no_and_yes():
    """The declared test on the declared reduction: flat failure rates give no trend, rising ones do."""
    from bnclaims.harness.stats import trend as st
    rng = np.random.default_rng(0)
    k = 20
    flat = [side.failure_flags(np.where(rng.random(k) < 0.1, 2.3, 0.5)) for _ in side.DEPTHS]
    rising = [side.failure_flags(np.where(rng.random(k) < p, 2.3, 0.5)) for p in (0.0, 0.05, 0.2, 0.6, 0.95)]
    assert st.trend_test(flat, "increasing", paired=True)["p"] > 0.05
    assert st.trend_test(rising, "increasing", paired=True)["p"] < 0.001


# ---------------------------------------------------------------------------------- the routine's settings
def test_spec_grid_validates_settings():
    good = side.depth_settings(4, 16) | {"steps": 5}
    specs = spec_grid.cell_specs(good)
    assert [c for c, _ in specs] == ["none", "bn"]
    assert specs[1][1].model.norm == "bn" and specs[0][1].model.init == "he" and specs[0][1].steps == 5
    for bad in ({**good, "cells": []}, {**good, "lrs": []}, {**good, "lrs": [0.1, -1]},
                {**good, "cells": [["a", {}], ["a", {}]]}, {**good, "cells": [["a b", {}]]},
                {**good, "cells": [["x", {"model_norm": "nope"}]]}, {k: v for k, v in good.items() if k != "lrs"}):
        with pytest.raises(ValueError, match="spec_grid"):
            spec_grid.cell_specs(bad)


def test_spec_grid_late_mean():
    t = np.arange(20, dtype=float).reshape(10, 2)
    assert spec_grid.late_mean(t).tolist() == [18.0, 19.0]               # last max(10 // 10, 1) = 1 step
    t = np.ones((30, 1))
    t[-1, 0] = np.nan
    assert np.isnan(spec_grid.late_mean(t)[0])


def test_side_checks_are_exploratory_and_join_their_claims():
    for cid, hyps in side.BY_CLAIM.items():
        for h in hyps:
            assert h.claim == cid and not h.confirmatory and h.id.startswith(cid + ".")
