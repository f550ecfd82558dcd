"""Y: Yang et al. 2019 gradient explosion at initialization in BN networks without skips, with negative controls."""
import math

import pytest

from claims import yang as y


def test_lambda_g_limits():
    """The closed form reaches Yang et al.'s limit pi/(pi-1) as B grows and is undefined below B = 4."""
    assert abs(y.lambda_G(10 ** 7) - math.pi / (math.pi - 1)) < 1e-5
    assert y.lambda_G(16) > y.lambda_G(64) > y.lambda_G(256)
    with pytest.raises(ValueError):
        y.lambda_G(3)


@pytest.mark.claim("Y.a")
def test_explosion_rate_matches_theory(claims_run):
    claims_run(y.YA, y.CLAIM, y.check_rate)


@pytest.mark.claim("Y.a")
def test_explosion_rate_negative_control_without_bn(claims_ctx):
    """With BN removed the gradient does not grow at lambda_G(B): the check must fail."""
    ev = y.check_rate(y.YA, claims_ctx, perturb="no_bn")
    assert ev["stats"]["verdict"] == "not reproduced"


@pytest.mark.claim("Y.b")
def test_explosion_falls_with_batch_size(claims_run):
    claims_run(y.YB, y.CLAIM, y.check_batch_trend)


@pytest.mark.claim("Y.b")
def test_batch_trend_negative_control_fixed_batch(claims_ctx):
    """Every group measured at the same batch size (same seeds): no trend can be reproduced."""
    ev = y.check_batch_trend(y.YB, claims_ctx, perturb="fixed_batch")
    assert ev["stats"]["verdict"] != "reproduced"


@pytest.mark.claim("Y.c")
def test_tanh_explodes_less_than_relu(claims_run):
    claims_run(y.YC, y.CLAIM, y.check_tanh)


@pytest.mark.claim("Y.c")
def test_tanh_negative_control_swapped_arms(claims_ctx):
    """With the arms exchanged, H1 says ReLU explodes less: it must not be reproduced."""
    ev = y.check_tanh(y.YC, claims_ctx, perturb="swap")
    assert ev["stats"]["verdict"] != "reproduced"


@pytest.mark.claim("Y.d")
def test_depth_hurts_trainability(claims_run):
    claims_run(y.YD, y.CLAIM, y.check_depth)


@pytest.mark.claim("Y.d")
def test_depth_negative_control_fixed_depth(claims_ctx):
    """Every group is the same depth-8 network (identical runs): no depth trend can be reproduced."""
    ev = y.check_depth(y.YD, claims_ctx, perturb="fixed_depth")
    assert ev["stats"]["verdict"] != "reproduced"
