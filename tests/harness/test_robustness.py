"""Robustness maps (harness/declare/maps.py): declarations, cells as hypotheses, the map in the report, the lock."""
import json

import pytest

from bnclaims.harness.declare import prereg, registry, maps as rb
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.declare.hypothesis import Budget
from bnclaims.harness.plugin.options import OptionError, settings

from bnclaims.claims import c1, c2, c3, c4


def _map(**kw):
    base = dict(hypothesis="C1.a", factors=(("lr", rb.LR_FACTORS), ("depth", rb.DEPTHS)),
                base=(("lr", 1.0), ("depth", 4)))
    base.update(kw)
    return rb.RobustnessMap(**base)


def test_declarations_are_checked():
    with pytest.raises(rb.MapError, match="unknown factor"):
        _map(factors=(("width", (64, 128)),), base=(("width", 128),))
    with pytest.raises(rb.MapError, match="one level of every factor"):
        _map(base=(("lr", 1.0),))
    with pytest.raises(rb.MapError, match="not among the levels"):
        _map(base=(("lr", 2.0), ("depth", 4)))
    with pytest.raises(rb.MapError, match="non-base levels"):
        _map(ci_slice=((("depth", 4),),))
    with pytest.raises(rb.MapError, match="norm_arm"):
        _map(factors=(("norm", rb.NORM_FAMILY),), base=(("norm", "bn"),))


def test_grid_is_full_factorial_and_profiles_pick_cells():
    m = _map(ci_slice=((("lr", 10.0),),))
    assert len(m.grid()) == 15 and () in m.grid()
    assert len(m.cells("survey")) == 14 and m.cells("ci") == [(("lr", 10.0),)] == m.cells("smoke")
    assert rb.cell_id("C1.a", (("lr", 10.0), ("depth", 2))) == "C1.a@lr=x10+depth=2"
    assert c1.MAP.declaration()["grid_cells"] == 675


def test_a_cell_applies_its_levels_to_every_arm():
    h = c1.C1A
    cell = rb.cell_hypothesis(h, c1.MAP, (("lr", 10.0), ("depth", 2), ("norm", "gn")))
    bn, none = cell.design.arms["bn"].spec, cell.design.arms["none"].spec
    assert bn.lr == none.lr == pytest.approx(10 * c1.MLP_LR)
    assert bn.model.depth == none.model.depth == 2 and bn.probe_layers == (1,)     # layer 3 dropped
    assert bn.model.norm == "gn" and none.model.norm == "none"                      # only the norm arm
    assert not cell.confirmatory and not cell.votes and cell.alpha == 0.01 and cell.design.controls == ()
    assert cell.budget("ci") == Budget(seeds=7, steps=600)                           # the slice budget
    assert rb.cell_hypothesis(h, c1.MAP, (("lr", 10.0),), survey=True).budget("ci") == c1.MAP.survey_budget
    assert rb.cell_hypothesis(h, _map(), (("lr", 10.0),), survey=True).budget("ci") == h.budget("ci")
    # a grid arm scales its whole grid and the rate its metric and gates read
    from bnclaims.claims import santurkar as s
    smap = rb.RobustnessMap("S.a", factors=(("lr", rb.LR_FACTORS),), base=(("lr", 1.0),))
    sc = rb.cell_hypothesis(s.SA, smap, (("lr", 0.1),))
    assert sc.design.arms["bn"].lrs == pytest.approx((0.03, 0.003))
    assert sc.design.metric_of("bn").at_lr == pytest.approx(0.03)
    assert all(cr.metric.at_lr == pytest.approx(0.03) for cr in sc.design.criteria)


def test_routine_arms_take_the_levels_they_have_settings_for():
    cell = rb.cell_hypothesis(c3.C3C1, c3.MAP, (("lr", 0.1), ("depth", 4)))
    st = cell.design.arms["after_recovery"].settings
    assert st["depth"] == 4 and st["lr_plain"] == pytest.approx(0.005) and st["lr_affine"] == pytest.approx(0.01)
    bad = rb.RobustnessMap("C3.c1", factors=(("activation", rb.ACTIVATIONS),), base=(("activation", "relu"),))
    with pytest.raises(rb.MapError, match="does not apply"):
        rb.cell_hypothesis(c3.C3C1, bad, (("activation", "tanh"),))


def test_every_declared_map_builds_its_cells():
    survey = {m.hypothesis: len(m.design_cells()) - 1 + len(m.holdout_cells()) for m in c4.CLAIM.maps}
    assert survey == {"C4.a": 25, "C4.a2": 23}          # designed cells (less the base) and held-out cells
    for claim, profile, n in ((c1.CLAIM, "ci", 0), (c2.CLAIM, "ci", 0), (c3.CLAIM, "ci", 1), (c4.CLAIM, "ci", 1),
                              (c4.CLAIM, "survey", 48), (c2.CLAIM, "survey", 19)):
        cells = rb.map_hypotheses(claim, profile)
        assert len(cells) == n and all(rb.is_cell(h.id) and not h.votes for h in cells)
    cell = rb.map_hypotheses(c1.CLAIM, "survey")[0]
    assert registry.matches(cell, "C1.a@") and registry.matches(cell, "C1") and registry.matches(cell, cell.id)
    assert not registry.matches(cell, "C1.a")       # the hypothesis alone (the survey has 675 cells)


def test_the_survey_profile_runs_at_the_ci_budgets():
    ctx = RunContext(profile="survey")
    assert ctx.budget_profile == "ci" and ctx.seeds(c1.C1A) == RunContext().seeds(c1.C1A)
    assert settings({"claims_profile": "survey"}, ".").ctx.profile == "survey"
    with pytest.raises(OptionError):
        settings({"claims_profile": "huge"}, ".")


def _rec(rid, effect, p, verdict, cell=None, p_opposite=None):
    r = {"id": rid, "verdict": verdict, "stats": {"effect": effect, "ci": [effect - 1, effect + 1], "p": p,
                                                   "n_x": 7, "n_y": 7}}
    if p_opposite is not None:
        r["stats"]["p_opposite"] = p_opposite
    if cell is not None:
        r["extra"] = {"map_of": "C1.a", "cell": cell}
    return r


def test_build_map_counts_cells_with_bh_and_finds_sign_flips():
    m = _map(ci_slice=((("lr", 10.0),), (("depth", 2),), (("lr", 0.1),)))
    recs = {"C1.a": _rec("C1.a", -2.0, 0.001, "reproduced"),
            "C1.a@lr=x10": _rec("C1.a@lr=x10", 1.5, 0.99, "not reproduced", {"lr": 10.0}, p_opposite=0.001),
            "C1.a@depth=2": _rec("C1.a@depth=2", -1.0, 0.008, "reproduced", {"depth": 2}),
            "C1.a@lr=x0.1": _rec("C1.a@lr=x0.1", -0.5, 0.2, "inconclusive", {"lr": 0.1}),
            "C2.a": _rec("C2.a", -1, 0.001, "reproduced")}
    out = rb.build_map(m.declaration(), recs)
    assert out["run"] == 4 and out["summary"] == "holds in 1 of 4 cells"          # depth=2: BH q 0.016 > 0.01
    q = {c["id"]: c["q_bh"] for c in out["cells"]}
    assert q["C1.a"] == pytest.approx(0.004) and q["C1.a@depth=2"] == pytest.approx(0.016)
    # "fails" is corrected like "holds": BH over the opposite one-sided p of the eligible cells (one here)
    assert {c["id"]: c["q_bh_opposite"] for c in out["cells"]}["C1.a@lr=x10"] == pytest.approx(0.001)
    assert "fails at lr=x10" in out["words"] and "sign flips at lr=x10" in out["words"]
    lr = {row["level"]: row for row in out["main_effects"]["lr"]}
    assert lr[10.0]["flips"] and not lr[1.0]["flips"] and lr[1.0]["cells"] == 2
    json.dumps(out)


def test_maps_are_in_the_lock():
    lock = json.loads(prereg.builtin_lock_path().read_text())
    for hid in ("C1.a", "C2.a", "C3.c1", "C4.a"):
        assert f"{hid}@map" in lock["hypotheses"]


def test_cell_ids_are_valid_selections():
    assert settings({"claims_ids": "C1.a@lr=x10,C1.a@,C4.a@depth=2+activation=tanh"}, ".").ids
    with pytest.raises(OptionError, match="malformed"):
        settings({"claims_ids": "C1.a@nonsense"}, ".")
    assert [h.id for h in registry.find(["C1.a@lr=x10"])] == ["C1.a"]      # through its hypothesis
