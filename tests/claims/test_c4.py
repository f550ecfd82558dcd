"""C4: BN regularizes through mini-batch noise (ghost-batch trend, BN against no BN, less noise, MC BN)."""
import pytest

from claims import c4


@pytest.mark.claim("C4.a")
def test_c4a_more_noise_lower_test_nll(claims_run):
    claims_run(c4.C4A, c4.CLAIM, c4.check_ghost_trend)


@pytest.mark.claim("C4.b")
def test_c4b_more_noise_higher_test_accuracy(claims_run):
    claims_run(c4.C4B, c4.CLAIM, c4.check_ghost_trend)


@pytest.mark.parametrize("hyp", [pytest.param(c4.C4A, marks=pytest.mark.claim("C4.a"), id="C4.a"),
                                 pytest.param(c4.C4B, marks=pytest.mark.claim("C4.b"), id="C4.b")])
def test_c4ab_negative_control_all_g128(claims_ctx, hyp):
    """Every arm at G = 128 (the same runs from the store): no trend can be found."""
    ev = c4.check_ghost_trend(hyp, claims_ctx, perturb="all_g128")
    values = [arm["values"] for arm in ev["arms"].values()]
    assert values[0] == values[1] == values[2]
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] != "reproduced"


@pytest.mark.claim("C4.c")
def test_c4c_bn_beats_no_bn(claims_run):
    claims_run(c4.C4C, c4.CLAIM, c4.check_bn_vs_none)


@pytest.mark.claim("C4.c")
def test_c4c_negative_control_no_bn_in_both_arms(claims_ctx):
    ev = c4.check_bn_vs_none(c4.C4C, claims_ctx, perturb="no_bn_as_bn")
    assert ev["arms"]["bn"]["values"] == ev["arms"]["no_bn"]["values"]
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] != "reproduced"


@pytest.mark.claim("C4.d1")
def test_c4d1_less_noise_higher_test_nll(claims_run):
    claims_run(c4.C4D1, c4.CLAIM, c4.check_private)


@pytest.mark.claim("C4.d2")
def test_c4d2_less_noise_wider_gap(claims_run):
    claims_run(c4.C4D2, c4.CLAIM, c4.check_private)


@pytest.mark.parametrize("hyp", [pytest.param(c4.C4D1, marks=pytest.mark.claim("C4.d1"), id="C4.d1"),
                                 pytest.param(c4.C4D2, marks=pytest.mark.claim("C4.d2"), id="C4.d2")])
def test_c4d_negative_control_standard_bn_in_both_arms(claims_ctx, hyp):
    ev = c4.check_private(hyp, claims_ctx, perturb="batch_as_large")
    assert ev["arms"]["batch_stats"]["values"] == ev["arms"]["large_batch_stats"]["values"]
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] != "reproduced"


@pytest.mark.claim("C4.e")
def test_c4e_monte_carlo_bn_lower_nll(claims_run):
    claims_run(c4.C4E, c4.CLAIM, c4.check_private)


@pytest.mark.claim("C4.e")
def test_c4e_negative_control_running_statistics_passes(claims_ctx):
    """Every Monte Carlo pass with the running statistics is eval mode itself: nothing to gain."""
    ev = c4.check_private(c4.C4E, claims_ctx, perturb="running_stats_passes")
    x, y = ev["arms"]["mc_bn"]["values"], ev["arms"]["eval_mode"]["values"]
    assert max(abs(a - b) for a, b in zip(x, y)) < 1e-4
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] != "reproduced"
