"""S: Santurkar et al. 2018 - the landscape reductions and gate, the lp arms and controls, Theorem 4.1's
error function. The hypotheses and their controls themselves run as plugin items."""
import math

import numpy as np
import pytest

from bnclaims.claims import santurkar as s
from bnclaims.harness.run import runner
from bnclaims.harness.stats import verdict
from bnclaims.harness.run.context import RunContext

LANDSCAPE = (s.SA, s.SB, s.SC, s.SD)
LP = (*s.SE_SPEED.values(), *s.SE_DRIFT.values())


# ---- the gate: both arms must train --------------------------------------------------------------
def _gate_result(hyp, accs):
    """A runner.Result holding synthetic grids whose only array is the final train accuracy."""
    lr = hyp.design.criteria[0].metric.at_lr
    res = runner.Result(hyp=hyp, ctx=None, design=hyp.design, control=None, seeds=[0, 1])
    res.arms = dict(hyp.design.arms)
    res.runs = {arm: {lr: {"eval_train_acc": np.array([acc], float)}} for arm, acc in accs.items()}
    return res


@pytest.mark.parametrize("hyp", LANDSCAPE, ids=lambda h: h.id)
def test_both_arms_are_gated_at_the_rate_read(hyp):
    lr = hyp.design.metric_of("bn").at_lr
    gates = hyp.design.criteria
    assert [c.arm for c in gates] == ["bn", "none"]
    for c in gates:
        assert (c.stat, c.op, c.value, c.on_fail) == ("each", ">=", s.GATE_ACC, "inconclusive")
        assert c.metric.name == "S.final_train_acc" and c.metric.at_lr == lr


def test_gate_fails_on_any_seed_below_threshold_or_diverged():
    res = _gate_result(s.SA, {"bn": [0.99, 0.98], "none": [0.11, np.nan]})
    bn, none = (runner._criterion(c, res) for c in s.SA.design.criteria)
    assert bn[1] and not none[1]
    assert "fails at seed positions [0, 1]" in none[2]
    res = _gate_result(s.SA, {"bn": [0.99, 0.98], "none": [0.9, 0.5]})
    assert all(runner._criterion(c, res)[1] for c in s.SA.design.criteria)


def test_gate_makes_a_dead_arm_inconclusive():
    """apply_criteria: a failed gate overrides a significant comparison and keeps the ungated verdict."""
    stats = {"verdict": "reproduced", "reason": "p small"}
    bn_gate, none_gate = s.SA.design.criteria
    ok = verdict.apply_criteria(stats, [(bn_gate, True, "ok"), (none_gate, True, "ok")])
    assert ok["verdict"] == "reproduced" and ok["gate"]["passed"] and "verdict_ungated" not in ok
    dead = verdict.apply_criteria(stats, [(bn_gate, True, "ok"), (none_gate, False, "none: fails at [0, 1]")])
    assert dead["verdict"] == "inconclusive" and dead["verdict_ungated"] == "reproduced"
    assert dead["gate"]["gates"] == {"bn trains": True, "none trains": False}
    assert "gate failed" in dead["reason"] and "p small" in dead["reason"]
    assert "criteria" not in dead            # a gate is not a claim criterion: it never says "not reproduced"


# ---- landscape reductions ------------------------------------------------------------------------
def test_probe_median_skips_diverged_probes_and_fills_dead_seeds():
    v = np.array([[1.0, np.nan], [3.0, np.inf], [np.nan, np.nan]])        # [P, K]
    assert s.probe_median({"k": v}, "k", fill=7.0).tolist() == [2.0, 7.0]


def test_beta_smoothness_shifts_the_bn_arm_by_its_margin_on_a_log_scale():
    arrays = {"probe_land_beta_eff": np.array([[2.0, 4.0], [2.0, 4.0]])}
    bn, none = (s.SC.design.metric_of(a) for a in ("bn", "none"))
    got_bn = s.landscape_measure(arrays, **bn.params)
    got_none = s.landscape_measure(arrays, **none.params)
    np.testing.assert_allclose(got_bn, np.log(s.BETA_MARGIN * np.array([2.0, 4.0])))
    np.testing.assert_allclose(got_bn - got_none, math.log(s.BETA_MARGIN))


def test_landscape_metrics_read_the_declared_rate():
    assert {h.id: h.design.metric_of("none").at_lr for h in LANDSCAPE} == {
        "S.a": s.LR_EDGE, "S.b": s.LR_EDGE, "S.c": s.LR_EDGE, "S.d": s.LR_MODERATE}
    assert s.SD.design.metric_of("none").params["key"] == s.SA.design.metric_of("none").params["key"]


@pytest.mark.parametrize("profile", ["smoke", "ci", "full"])
def test_landscape_intervals_follow_the_profile_steps(profile, tmp_path):
    """Eval every steps/4 and probe every steps/20 at each profile's own step count."""
    ctx = RunContext(profile=profile, store=str(tmp_path))
    steps = s.BUDGETS[profile].steps
    for norm, arm in s.LANDSCAPE_ARMS.items():
        assert runner.resolve_arm(arm, s.SA, ctx).spec == s.landscape_spec(norm, steps, probes=s.LANDSCAPE_PROBES)
    lp = s.SE_SPEED["l1"].design.arms["l1"]
    assert runner.resolve_arm(lp, s.SE_SPEED["l1"], ctx).spec == s.landscape_spec("l1", steps, probes=("drift",))


@pytest.mark.parametrize("hyp", LANDSCAPE, ids=lambda h: h.id)
def test_bn_is_none_control_compares_identical_runs(hyp):
    """Both arms become the plain network on the same seeds, so the values are identical, except for S.c,
    whose BN arm keeps its log 1.25 shift by design."""
    d = hyp.design.with_control(hyp.design.control("bn_is_none"))
    assert d.arms["bn"] == d.arms["none"] == hyp.design.arms["none"]
    bn, none = d.metric_of("bn"), d.metric_of("none")
    if hyp.id == "S.c":
        assert dict(bn.params) == {**none.params, "scale": s.BETA_MARGIN} and bn.at_lr == none.at_lr
    else:
        assert bn == none


# ---- S.e -----------------------------------------------------------------------------------------
def test_loss_area_counts_diverged_steps_as_chance():
    loss = np.array([[1.0, np.nan], [3.0, np.inf]])                       # [T, K]
    np.testing.assert_allclose(s.loss_area({"train_loss": loss}), np.log([2.0, s.LN10]))


def test_relative_drift():
    """|d mean| / std + |d var| / var per interval, averaged over intervals, layers and units; log."""
    mean = np.zeros((3, 2, 1, 2))
    var = np.ones((3, 2, 1, 2))
    mean[1:, 0] = 1.0                     # seed 0: the mean moves by one std once, the variance never
    var[2, 1] = 3.0                       # seed 1: the variance triples once
    got = s.relative_drift({"probe_post_mean": mean, "probe_post_var": var})
    np.testing.assert_allclose(got, np.log([0.5, 1.0]))
    dead = s.relative_drift({"probe_post_mean": np.full((3, 1, 1, 1), np.nan), "probe_post_var": var[:, :1, :, :1]})
    assert dead.tolist() == [0.0]         # no finite interval counts as log 1


@pytest.mark.parametrize("hyp", LP, ids=lambda h: h.id)
def test_lp_arms_read_bn_from_the_landscape_ensemble_at_the_edge_rate(hyp):
    norm = hyp.arms[0]
    assert hyp.arms == (norm, "bn")
    assert hyp.design.arms["bn"] is s.LANDSCAPE_ARMS["bn"] and hyp.design.metric_of("bn").at_lr == s.LR_EDGE
    assert not hyp.design.arms[norm].lrs and hyp.design.arms[norm].spec.model.norm == norm


@pytest.mark.parametrize("hyp", list(s.SE_DRIFT.values()), ids=lambda h: h.id)
def test_lp_is_bn_control_compares_bn_with_itself(hyp):
    norm = hyp.arms[0]
    d = hyp.design.with_control(hyp.design.control("lp_is_bn"))
    assert d.arms[norm] == d.arms["bn"] and d.metric_of(norm) == d.metric_of("bn")


@pytest.mark.parametrize("hyp", list(s.SE_SPEED.values()), ids=lambda h: h.id)
def test_lp_is_none_control_puts_the_plain_network_in_place(hyp):
    norm = hyp.arms[0]
    d = hyp.design.with_control(hyp.design.control("lp_is_none"))
    assert d.arms[norm] is s.LANDSCAPE_ARMS["none"] and d.metric_of(norm).at_lr == s.LR_EDGE


# ---- S.f: Theorem 4.1 ----------------------------------------------------------------------------
def test_theorem41_bound_holds_with_c_1_over_m():
    errs = s.theorem41_errors({}, "1/m")
    assert len(errs) == len(s.BATCHES) * len(s.LOSSES) * 4
    assert max(errs.values()) <= s.THEOREM_TOL
    assert set(s.worst_by_batch_size(errs)) == set(s.BATCHES)


def test_theorem41_as_printed_in_v3_is_violated():
    assert max(s.theorem41_errors({}, "1/sqrt(m)").values()) > s.THEOREM_TOL


def test_theorem41_without_bn_fails_by_orders_of_magnitude():
    """Without BN the pre-activation gradient is not shrunk by gamma^2/sigma^2: the bound must fail."""
    params = {**s.SF.design.error_params, **s.SF.design.control("no_bn").params}
    assert max(s.theorem41_errors({}, **params).values()) / s.THEOREM_TOL > 1e6


# ---- S.h, S.h2: curvature along the gradient (issue 24); S.a3, S.a4 retired ----------------------------------
CURVATURE = (s.SH, s.SH2)


def test_curvature_reduction_is_lr_times_the_median_over_checkpoints():
    kappa = np.array([[1.0, np.nan, 4.0], [3.0, np.inf, 6.0], [5.0, np.nan, -2.0]])     # [P, K]
    got = s.curvature_measure({"curv_kappa": kappa, "lr": np.full(3, 0.3)}, "curv_kappa")
    np.testing.assert_allclose(got, [0.9, s.CURV_FILL, 1.2])      # a seed with no finite checkpoint: the fill


@pytest.mark.parametrize("hyp", CURVATURE, ids=lambda h: h.id)
def test_curvature_checks_are_registered_exploratory_beside_s_a(hyp):
    assert not hyp.confirmatory and hyp.role == "evidence" and hyp.profiles == ("full", "survey")
    assert (hyp.arms, hyp.direction, hyp.test, hyp.paired, hyp.stance) == (("bn", "none"), "less", "wilcoxon",
                                                                           True, "supports")
    assert hyp.budgets == s.SA.budgets and hyp.group == "S.curvature"
    assert [c.arm for c in hyp.design.criteria] == ["bn", "none"]
    assert all(c.metric.name == "S.final_train_acc" and c.on_fail == "inconclusive" for c in hyp.design.criteria)
    assert hyp.design.metric_of("bn").params["key"] == {"S.h": "curv_kappa_eff", "S.h2": "curv_kappa"}[hyp.id]
    d = hyp.design.with_control(hyp.design.control("bn_is_none"))
    assert d.arms["bn"] == d.arms["none"] == hyp.design.arms["none"]


@pytest.mark.parametrize("profile", ["smoke", "ci", "full"])
def test_curvature_arms_train_s_a_setting(profile, tmp_path):
    """The routine's network, data, rate, batch and probe count are S.a's; steps follow the profile."""
    ctx = RunContext(profile=profile, store=str(tmp_path))
    for norm, arm in s.CURV_ARMS.items():
        got = runner.resolve_arm(arm, s.SH, ctx).settings
        sp = s.landscape_spec(norm, s.BUDGETS[profile].steps)
        assert got["steps"] == sp.steps and got["norm"] == sp.model.norm == norm
        assert (got["depth"], got["width"], got["lr"], got["batch_size"], got["data"], got["data_seed"],
                got["bn_eps"]) == (sp.model.depth, sp.model.width, sp.lr, sp.batch_size, sp.data, sp.data_seed,
                                   sp.model.bn_eps)
        assert got["steps"] // got["probes"] == sp.probe_every and got["steps"] // got["evals"] == sp.eval_every


def test_curvature_extra_reports_the_parts():
    p, k = 4, 2
    ones = np.ones((p, k))
    arrays = {"lr": np.full(k, 0.3), "eval_train_acc": np.array([[0.5, 0.6]]),
              "curv_rho": np.ones((p, k, len(s.CURV_FACTORS))), "curv_rho_eff": np.ones((p, k, len(s.CURV_FACTORS))),
              **{f"curv_{n}": ones * 2 for n in ("kappa", "kappa_eff", "g2", "gHg", "g2_eff", "vHv_eff",
                                                  "unit_scale", "frob_scale", "loss")}}

    class R:
        pass
    r = R()
    r.arrays = {"bn": arrays, "none": arrays}
    out = s.curvature_extra(r)
    assert out["bn"]["lr_x_kappa_eff"] == pytest.approx([0.6, 0.6]) and out["none"]["gHg"] == [2.0, 2.0]
    assert set(out["bn"]["rho"]) == {f"{f:g}" for f in s.CURV_FACTORS}


@pytest.mark.parametrize("hyp", (s.SA3, s.SA4), ids=lambda h: h.id)
def test_first_order_corrected_ranges_are_retired(hyp):
    assert hyp.title.startswith("RETIRED") and hyp.notes.startswith("RETIRED") and "S.h" in hyp.notes
    assert not hyp.confirmatory and not hyp.votes and not hyp.profiles        # runs shared with S.a: kept in ci
    assert hyp.design.arms == s.SA.design.arms
