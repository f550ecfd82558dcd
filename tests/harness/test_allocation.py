"""Multiplicity inside the verdict, roles and the power plan: the rules the declarations must satisfy."""
import dataclasses
import json
from pathlib import Path

import pytest

from bnclaims import claims
from bnclaims.harness.declare import registry
from bnclaims.harness.declare.design import (
    AA,
    SEED_OFFSET,
    DeclarationError,
    control_kind,
    controls_of,
    null_control,
)
from bnclaims.harness.declare.validate import validate, validate_claim
from bnclaims.harness.declare.hypothesis import FWER, Budget, Hypothesis


def builtin():
    return registry.claims(("builtin",))


def test_every_claim_spends_at_most_its_family_wise_alpha_and_one_vote_per_ensemble_and_sub_claim():
    """Without sub-claims one ensemble casts one vote; with them (round 2) an ensemble may inform several
    sub-claims, each vote belonging to exactly one (Bonferroni needs no independence)."""
    for c in builtin():
        votes = [h for h in c.hypotheses if h.votes]
        assert c.fwer == FWER and sum(h.alpha for h in votes) <= c.fwer * (1 + 1e-9), c.id
        assert all(h.role == "evidence" for h in votes)
        if c.subclaims:
            for h in votes:
                assert sum(h.id in s.ids() for s in c.subclaims) == 1, h.id
        else:
            groups = [h.group for h in votes if h.group]
            assert len(groups) == len(set(groups)), c.id


def test_identities_and_manipulation_checks_do_not_vote():
    hyps = {h.id: h for h in registry.all_hypotheses(("builtin",))}
    for hid in ("C1.c", "C3.a", "C3.b", "S.f"):
        assert hyps[hid].role == "identity" and not hyps[hid].votes
    # Y.a became evidence within a band of the theory (issue 24); round 2 makes it Y.1's vote (a TOST)
    assert hyps["Y.a"].role == "evidence" and hyps["Y.a"].votes and hyps["Y.a"].test == "tost"
    assert hyps["C1.d2"].role == "manipulation" and not hyps["C1.d2"].votes


def test_seeds_follow_the_power_plan():
    plan = json.loads((Path(claims.__file__).parent / "power_plan.json").read_text())["plans"]
    hyps = {h.id: h for h in registry.all_hypotheses(("builtin",))}
    from bnclaims.harness.declare import prereg
    amended = prereg.load_amendments()
    for hid, p in plan.items():
        if not hyps[hid].votes:          # lost its vote by a recorded amendment (issue 24: C1.d, C2.c, C3.d1)
            assert any("vot" in a["change"] for a in amended.get(hid, [])), hid
            continue
        assert hyps[hid].budget("ci").seeds >= p["n"], f"{hid}: {hyps[hid].budget('ci').seeds} < planned {p['n']}"
        assert abs(hyps[hid].alpha - p["alpha"]) < 1e-12, hid


def test_a_design_whose_floor_exceeds_its_alpha_is_refused():
    h = next(h for h in registry.all_hypotheses(("builtin",)) if h.id == "C1.a")
    low = dataclasses.replace(h, budgets={**h.budgets, "ci": Budget(seeds=5, steps=2000)})
    with pytest.raises(DeclarationError, match=r"C1.a: alpha: wilcoxon \(paired\) with 5 seeds per arm in profile "
                                                r"'ci' cannot reach p < 0.00333"):
        validate(low)


def test_a_claim_that_overspends_its_alpha_is_refused():
    c = next(c for c in builtin() if c.id == "C2")
    over = dataclasses.replace(c, hypotheses=tuple(dataclasses.replace(h, alpha=0.01) if h.votes else h
                                                   for h in c.hypotheses))
    with pytest.raises(DeclarationError, match="C2: alpha: the voting hypotheses' alphas sum to 0.03"):
        validate_claim(over)
    two = dataclasses.replace(c, hypotheses=tuple(dataclasses.replace(h, confirmatory=True) if h.id == "C2.a2" else h
                                                  for h in c.hypotheses))
    # with sub-claims a vote belongs to exactly one of them (C2.a2 is C2.1's, beside the vote C2.a: allowed)
    validate_claim(dataclasses.replace(two, fwer=1.0))
    stray = dataclasses.replace(c, hypotheses=tuple(dataclasses.replace(h, confirmatory=True, profiles=()) if h.id == "C2.e" else h
                                                    for h in c.hypotheses))
    with pytest.raises(DeclarationError, match="C2.e: a vote belongs to exactly one sub-claim"):
        validate_claim(dataclasses.replace(stray, fwer=1.0))
    # without sub-claims one ensemble casts one vote
    with pytest.raises(DeclarationError, match="C2.a2: group: 'C2.grid' already votes through C2.a"):
        validate_claim(dataclasses.replace(two, fwer=1.0, subclaims=()))


def test_every_statistical_hypothesis_has_a_null_control_on_disjoint_seeds():
    for h in registry.all_hypotheses(("builtin",)):
        ctl = controls_of(h)
        if not h.statistical:
            assert null_control(h) is None
            continue
        nulls = [c for c in ctl if control_kind(h, c) == "null"]
        assert len(nulls) == 1, h.id
        aa = null_control(h)
        if aa is None:              # a fixed comparator: a declared null control stands in
            assert any(h.design.arms[a].constant is not None for a in h.arms), h.id
            continue
        assert aa.name == AA and set(aa.seeds.values()) == {SEED_OFFSET * (j + 1) for j in range(len(aa.seeds))}
        ref = h.arms[0] if h.direction in ("decreasing", "increasing") else h.arms[1]
        assert ref not in aa.seeds and all(v == ref for v in aa.arms.values())


def test_identical_run_controls_are_called_plumbing():
    h = next(h for h in registry.all_hypotheses(("builtin",)) if h.id == "C2.a")
    kinds = {c.name: control_kind(h, c) for c in controls_of(h)}
    assert kinds == {"control": "plumbing", AA: "null"}


def test_exploratory_checks_are_non_gating_whatever_they_find():
    """An exploratory check's unexpected verdict is xfailed with the finding as its reason (never a pass);
    a confirmatory one fails."""
    from bnclaims.harness.stats import verdict as vd
    out = lambda v, e, c: vd.outcome(v, expect=e, confirmatory=c, profile="ci")[0]
    assert out("not reproduced", "reproduced", False) == vd.XFAILED
    assert out("reproduced", "not reproduced", False) == vd.XFAILED
    assert out("reproduced", "reproduced", False) == vd.PASSED
    assert out("not reproduced", "reproduced", True) == vd.FAILED
    assert out("reproduced", "not reproduced", True) == vd.FAILED
    assert "NOT REPRODUCED" in vd.outcome("not reproduced", expect="reproduced", confirmatory=False, profile="ci")[1]


def test_an_underpowered_vote_xfails_only_when_inconclusive():
    """A vote registered as underpowered (Hypothesis.planned_power below 0.8) cannot gate: only an expected
    reproduction passes, anything else is xfailed with the finding (never a pass)."""
    from bnclaims.harness.stats import verdict as vd
    out = lambda v, e: vd.outcome(v, expect=e, confirmatory=True, profile="ci", underpowered=True)
    assert out("inconclusive", "reproduced")[0] == vd.XFAILED and "plan" in out("inconclusive", "reproduced")[1]
    assert vd.outcome("inconclusive", expect="reproduced", confirmatory=True, profile="ci")[0] == vd.FAILED
    assert out("reproduced", "reproduced")[0] == vd.PASSED
    assert out("not reproduced", "reproduced")[0] == vd.XFAILED and "underpowered" in out("not reproduced", "reproduced")[1]
    assert out("not reproduced", "not reproduced")[0] == vd.XFAILED
    assert out("reproduced", "not reproduced")[0] == vd.XFAILED
    # a powered vote still gates on a surprise
    assert vd.outcome("not reproduced", expect="reproduced", confirmatory=True, profile="ci")[0] == vd.FAILED
    h = Hypothesis("X.a", "X", "t", "s", "src", "supports", "m", ("a", "b"), "greater", "wilcoxon",
                   planned_power=0.3, confirmatory=False)
    assert h.underpowered and h.declaration()["planned_power"] == 0.3
    assert "planned_power" not in dataclasses.replace(h, planned_power=None).declaration()
