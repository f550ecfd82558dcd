"""Designed robustness maps (issue 27): a covering design instead of the full factorial, held-out cells, null
cells, the training budget as a factor, and the fitted model of the effect in the report, tested where the answer
is known (an additive effect the model must recover, and a sign it must predict on cells it never saw)."""
import json
import math

import numpy as np
import pytest

from bnclaims.harness.stats import mapmodel
from bnclaims.harness.declare import maps as rb
from bnclaims.harness.declare.hypothesis import Budget

from bnclaims.claims import c1, c4

FACTORS = (("lr", rb.LR_FACTORS), ("depth", (2, 3, 4, 8)), ("activation", rb.ACTIVATIONS), ("budget", rb.BUDGET_LEVELS))
BASE = (("lr", 1.0), ("depth", 3), ("activation", "relu"), ("budget", "ci"))


def _map(**kw):
    args = dict(hypothesis="C4.a", factors=FACTORS, base=BASE, design="covering", min_cells=24, holdout=6,
                null_cells=4)
    args.update(kw)
    return rb.RobustnessMap(**args)


def test_a_covering_map_runs_a_design_that_covers_every_pair_of_levels():
    m = _map()
    design = [{**dict(BASE), **dict(c)} for c in m.design_cells()]
    assert m.design_cells()[0] == () and len(design) >= 24 and len(design) < len(m.grid()) == 120
    assert mapmodel.covers_all_pairs(design, FACTORS)
    held = m.holdout_cells()
    assert len(held) == 6 and not set(held) & set(m.design_cells())
    nulls = m.null_cell_set()
    assert len(nulls) == 4 and () not in nulls and set(nulls) <= set(m.design_cells())
    assert m.cells("survey") == [c for c in m.design_cells() if c] + held
    assert m.cells("ci") == [] and rb.null_cell_ids(type("C", (), {"maps": (m,)})(), "ci") == set()
    d = m.declaration()["design"]
    assert d["kind"] == "covering" and len(d["cells"]) == len(design) and len(d["null"]) == 4
    assert m.declaration() == _map().declaration()          # deterministic (seeded greedy choices)


def test_a_full_map_declared_before_keeps_its_declaration():
    full = rb.RobustnessMap("C1.a", factors=c1.MAP.factors, base=c1.MAP.base, norm_arm="bn")
    assert "design" not in full.declaration() and "survey_budget" not in full.declaration()
    assert c1.MAP.declaration()["design"]["kind"] == "covering"
    with pytest.raises(rb.MapError, match="need design='covering'"):
        rb.RobustnessMap("C4.a", factors=FACTORS, base=BASE, holdout=3)
    with pytest.raises(rb.MapError, match="budget levels"):
        rb.RobustnessMap("C4.a", factors=(("budget", ("ci", "huge")),), base=(("budget", "ci"),))
    with pytest.raises(rb.MapError, match="unknown design"):
        _map(design="latin")


def test_the_budget_factor_trains_a_cell_at_the_full_profile_steps_on_its_own_seeds():
    h = c4.HYPOTHESES[0] if c4.HYPOTHESES[0].id == "C4.a" else next(x for x in c4.HYPOTHESES if x.id == "C4.a")
    m = _map()
    ci = rb.cell_hypothesis(h, m, (("depth", 2),), survey=True)
    full = rb.cell_hypothesis(h, m, (("depth", 2), ("budget", "full")), survey=True)
    assert full.id == "C4.a@depth=2+budget=full"
    assert full.budget("ci") == Budget(seeds=ci.budget("ci").seeds, steps=h.budget("full").steps)
    for name, arm in full.design.arms.items():
        if arm.by_profile.get("full"):
            assert arm.by_profile["ci"] == arm.by_profile["full"]


def test_the_standardized_effect_is_the_effect_over_the_per_seed_sd():
    n, sd, eff = 16, 2.0, 1.0
    se = sd / math.sqrt(n)
    st = {"effect": eff, "ci": [eff - 1.959964 * se, eff + 1.959964 * se], "n_x": n, "ci_level": 0.95}
    d, d_se = rb.standardized(st)
    assert d == pytest.approx(0.5, rel=1e-4) and d_se == pytest.approx(math.sqrt(1 / n + 0.25 / (2 * n)), rel=1e-4)
    assert rb.standardized({"effect": 1.0, "ci": [None, 1.0], "n_x": 5}) is None
    trend = {"effect": eff, "ci": st["ci"], "ci_level": 0.95, "groups": [{"n": n}, {"n": n + 2}, {"n": n}]}
    assert rb.standardized(trend) == pytest.approx((d, d_se))


def _records(m, truth, noise=0.02, seed=0):
    """Evidence-like records of every designed and held-out cell, with a known standardized effect."""
    rng = np.random.default_rng(seed)
    base = dict(m.base)
    recs = {}
    for cell in m.design_cells() + m.holdout_cells():
        levels = {**base, **dict(cell)}
        d = truth(levels) + rng.normal(0, noise)
        n = 12
        se = 1 / math.sqrt(n)                       # per-seed SD 1: the effect is d
        rid = m.hypothesis if not cell else rb.cell_id(m.hypothesis, cell)
        recs[rid] = {"id": rid, "verdict": "reproduced" if d < -0.5 else "not reproduced",
                     "hypothesis": {"direction": "less"},
                     "extra": {} if not cell else {"map_of": m.hypothesis, "cell": dict(cell)},
                     "stats": {"effect": d, "ci": [d - 1.96 * se, d + 1.96 * se], "n_x": n, "n_y": n,
                               "p": 0.001 if d < -0.5 else 0.9, "p_opposite": 0.9 if d < -0.5 else 0.001,
                               "test": "wilcoxon", "min_attainable_p": 0.000244}}
    return recs


def test_the_model_recovers_a_known_effect_and_predicts_held_out_signs():
    m = _map()

    def truth(lv):        # negative (the claim holds) except at depth 8 with sigmoid, where the sign flips
        return -1.0 + (2.5 if (lv["depth"] == 8 and lv["activation"] == "sigmoid") else 0.0) \
            + {0.1: 0.3, 0.316: 0.1, 1.0: 0.0, 3.16: -0.1, 10.0: -0.2}[lv["lr"]]

    recs = _records(m, truth)
    nulls = [{"id": rb.cell_id("C4.a", c), "control": "aa", "verdict": "not reproduced"} for c in m.null_cell_set()]
    out = rb.build_map(m.declaration(), recs, nulls)
    # a report read back from JSON has its keys sorted: the held-out cells are still found by their levels
    sorted_decl = json.loads(json.dumps(m.declaration(), sort_keys=True))
    again = rb.build_map(sorted_decl, json.loads(json.dumps(recs, sort_keys=True)), nulls)
    assert again["model"]["holdout"]["n"] == 6 and again["model"]["counts"] == out["model"]["counts"]
    model = out["model"]
    json.dumps(out)
    assert model["fitted_on"] == len(m.design_cells()) and model["holdout_cells"] == 6
    counts = model["counts"]
    assert counts["holds"] + counts["fails"] + counts["unknown"] == 120
    assert counts["fails"] >= 1 and counts["holds"] > 60          # the flip is local: most of the grid holds
    assert model["holdout"]["n"] == 6 and model["holdout"]["hits"] == 6
    assert {x["factor"] for x in model["importance"][:2]} == {"depth", "activation"}
    surf = model["surface"]
    assert set(surf["factors"]) == {"depth", "activation"} and len(surf["run"]) == len(recs)
    i, j = surf["rows"].index(8 if surf["factors"][0] == "depth" else "sigmoid"), \
        surf["cols"].index("sigmoid" if surf["factors"][0] == "depth" else 8)
    assert surf["status"][i][j] == "fails" and surf["mean"][i][j] > 1
    assert model["null_cells"] == {"run": 4, "reproduced": 0, "rate": 0.0, "ci": pytest.approx([0.0, 0.6024], abs=1e-3),
                                   "alpha": 0.01}
    assert "unknown in" in out["words"] and "held-out sign hit rate 6 of 6" in out["words"]


def test_a_full_map_gets_no_model():
    m = rb.RobustnessMap("C4.a", factors=FACTORS[:2], base=BASE[:2])
    recs = {"C4.a": {"id": "C4.a", "verdict": "reproduced", "hypothesis": {"direction": "less"}, "extra": {},
                     "stats": {"effect": -1.0, "ci": [-1.5, -0.5], "n_x": 8, "p": 0.001}}}
    assert "model" not in rb.build_map(m.declaration(), recs)


def designed_report(tmp_path):
    """A report with one designed map (records made as the runner would), written to tmp_path/rep."""
    import dataclasses
    from bnclaims.harness.run.context import RunContext
    from bnclaims.harness.declare.evidence import make_evidence
    from bnclaims.harness.declare.hypothesis import Claim, Hypothesis
    from bnclaims.harness.report import write_reports

    m = _map(hypothesis="M9.a")
    h = Hypothesis(id="M9.a", claim="M9", title="BN lowers the loss", statement="s", source="paper, fig. 1",
                   stance="supports", metric="m", arms=("bn", "plain"), direction="less", test="wilcoxon",
                   paired=True, budgets={"ci": Budget(seeds=12)})
    claim = Claim("M9", "claim text", "source", (h,), maps=(m,))
    env = {"python": "3", "platform": "test", "numpy": "2", "scipy": "1", "torch": None, "torch_threads": None,
           "device": "cpu"}
    records = []
    for rid, r in _records(m, lambda lv: -1.0 + (2.5 if (lv["depth"] == 8 and lv["activation"] == "sigmoid")
                                                 else 0.0)).items():
        hh = h if rid == "M9.a" else dataclasses.replace(h, id=rid, confirmatory=False)
        st = {**r["stats"], "direction": "less", "alpha": 0.01, "verdict": r["verdict"], "reason": "r",
              "paired": True}
        arms = {"bn": {"seeds": list(range(12)), "values": [0.0] * 12},
                "plain": {"seeds": list(range(12)), "values": [0.0] * 12}}
        records.append(make_evidence(hh, claim, RunContext(profile="survey"), arms=arms, stats=st, engine="batched",
                                     extra=r["extra"], wall_s=1.0, env=env))
    nulls = [{"id": rb.cell_id("M9.a", c), "control": "aa", "kind": "null", "verdict": "not reproduced",
              "alpha": 0.01, "gating": False, "expect": "no effect", "outcome": "passed"} for c in m.null_cell_set()]
    return write_reports(records, tmp_path / "rep", run_info={"profile": "survey", "seed_base": 300}, controls=nulls)


def test_the_report_shows_the_heat_map_on_the_first_screen_and_the_model_under_the_map(tmp_path):
    paths = designed_report(tmp_path)
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    model = rep["claims"][0]["robustness"][0]["model"]
    assert model["counts"]["holds"] + model["counts"]["fails"] + model["counts"]["unknown"] == 120
    assert model["null_cells"]["run"] == 4 and rep["null_controls"]["controls"] == 0   # counted by the map only
    png = tmp_path / "rep" / "figures" / "map-M9.a.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["md"].read_text()
    glance = md.split("## At a glance", 1)[1].split("\n## ", 1)[0]
    assert "figures/map-M9.a.png" in glance and "holds in" in glance
    assert "Held-out cells: the predicted sign matched" in md and "Null cells (A/A" in md
    page = paths["html"].read_text()
    summary = page.split('<section id="summary">', 1)[1].split("</section>", 1)[0]
    assert 'class="mapthumb"' in summary
    assert 'id="map-M9.a"' in page.split("</section>", 1)[1]          # full size under the map's strips
