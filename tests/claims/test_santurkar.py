"""S: Santurkar et al. 2018's landscape explanation, lp normalization and Theorem 4.1, with negative controls."""
import numpy as np
import pytest

from claims import santurkar as s



def marked(hyps):
    """One parameter per hypothesis, marked with its id so --claims-ids selects it."""
    return [pytest.param(h, id=h.id, marks=pytest.mark.claim(h.id)) for h in hyps]


LANDSCAPE = marked([s.SA, s.SB, s.SC, s.SD])


@pytest.mark.parametrize("hyp", LANDSCAPE)
def test_landscape(claims_run, hyp):
    claims_run(hyp, s.CLAIM, s.check_landscape)


@pytest.mark.parametrize("hyp", LANDSCAPE)
def test_landscape_negative_control_bn_arm_is_plain(claims_ctx, hyp):
    """Both arms are the plain network (same seeds, so identical runs): no difference can be reproduced."""
    ev = s.check_landscape(hyp, claims_ctx, perturb="bn_is_none")
    assert ev["stats"]["verdict"] != "reproduced"
    assert ev["arms"]["bn"]["values"][0] is not None
    if hyp.id != "S.c":          # S.c shifts the BN arm, so its arms differ by log 1.25 by design
        assert ev["arms"]["bn"]["values"] == ev["arms"]["none"]["values"]


def test_gate_makes_a_dead_arm_inconclusive():
    """The gate overrides a significant comparison when a seed of either arm did not train (or diverged)."""
    stats = {"verdict": "reproduced", "reason": "p small"}
    ok = s.apply_gate(stats, {"bn": [0.99, 0.98], "none": [0.9, 0.5]})
    assert ok["verdict"] == "reproduced" and ok["gate"]["passed"]
    dead = s.apply_gate(stats, {"bn": [0.99, 0.98], "none": [0.11, np.nan]})
    assert dead["verdict"] == "inconclusive" and dead["verdict_ungated"] == "reproduced"
    assert dead["gate"]["failing_seed_positions"] == {"none": [0, 1]}
    assert "gate failed" in dead["reason"]


@pytest.mark.parametrize("hyp", marked([*s.SE_SPEED.values(), *s.SE_DRIFT.values()]))
def test_lp_normalization(claims_run, hyp):
    claims_run(hyp, s.CLAIM, s.check_lp)


@pytest.mark.claim("S.e")
def test_lp_speed_negative_control_plain_network(claims_ctx):
    """The plain network in place of the lp arm is not as fast as BN at lr 0.3: equivalence must fail."""
    ev = s.check_lp(s.SE_SPEED["l1"], claims_ctx, perturb="lp_is_none")
    assert ev["stats"]["verdict"] != "reproduced"


@pytest.mark.claim("S.e")
def test_lp_drift_negative_control_bn_against_itself(claims_ctx):
    """BN in place of the lp arm: identical runs cannot drift more."""
    ev = s.check_lp(s.SE_DRIFT["l1"], claims_ctx, perturb="lp_is_bn")
    assert ev["stats"]["verdict"] != "reproduced"
    assert ev["arms"]["l1"]["values"] == ev["arms"]["bn"]["values"]


@pytest.mark.claim("S.f")
def test_theorem41_bound(claims_run):
    claims_run(s.SF, s.CLAIM, s.check_theorem41)


@pytest.mark.claim("S.f.v3")
def test_theorem41_v3_print(claims_run):
    claims_run(s.SF_V3, s.CLAIM, s.check_theorem41)


@pytest.mark.claim("S.f")
def test_theorem41_negative_control_without_bn(claims_ctx):
    """Without BN the pre-activation gradient is not shrunk by gamma^2/sigma^2: the bound must fail."""
    ev = s.check_theorem41(s.SF, claims_ctx, perturb="no_bn")
    assert ev["stats"]["verdict"] == "not reproduced"
    assert ev["stats"]["effect"] > 1e6
