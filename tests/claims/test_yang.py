"""Y: Yang et al. 2019 - lambda_G, the growth-factor reduction, Y.a's error function, the arms and controls.
The hypotheses and their controls themselves run as plugin items; the routine has its own tests."""
import math

import numpy as np
import pytest

from claims import yang as y
from harness import routines, runner
from harness.context import RunContext


def geometric(factors, depth=y.DEPTH):
    """Squared norms growing by `factor` per layer going backward: sq[l] = factor^(depth - 1 - l), per seed."""
    layers = np.arange(depth)
    return {"sq_norms": np.stack([f ** (depth - 1 - layers) for f in factors])}


def test_lambda_g_limits():
    """The closed form reaches Yang et al.'s limit pi/(pi-1) as B grows and is undefined below B = 4."""
    assert abs(y.lambda_G(10 ** 7) - math.pi / (math.pi - 1)) < 1e-5
    assert y.lambda_G(16) > y.lambda_G(64) > y.lambda_G(256)
    with pytest.raises(ValueError):
        y.lambda_G(3)


def test_lambda_g_values_in_the_statement():
    assert [round(y.lambda_G(b), 3) for b in y.BATCH_SIZES] == [1.590, 1.493, 1.473]


def test_linear_rate():
    assert y.linear_rate(4) == 2.0 and y.linear_rate(64) == 62 / 61


def test_growth_factor_recovers_a_geometric_rate_per_seed():
    np.testing.assert_allclose(y.growth_factor(geometric([1.5, 1.0, 0.8])), [1.5, 1.0, 0.8], rtol=1e-12)


def test_growth_factor_fits_only_the_inner_layers():
    """The first FIT_FIRST and last layers (outside FIT_FIRST..FIT_LAST) do not enter the slope."""
    arrays = geometric([1.4])
    arrays["sq_norms"][0, :y.FIT_FIRST] *= 100.0
    arrays["sq_norms"][0, y.FIT_LAST + 1:] *= 0.01
    np.testing.assert_allclose(y.growth_factor(arrays), [1.4], rtol=1e-12)


def _rate_runs(bn_relu_factor):
    runs = {}
    for b in y.BATCH_SIZES:
        runs[f"bn_relu_B{b}"] = geometric([bn_relu_factor(b)] * 3)
        runs[f"plain_he_relu_B{b}"] = geometric([1.0] * 3)
    return runs


def test_rate_errors_at_the_theory():
    errs, tol = y.rate_errors(_rate_runs(y.lambda_G))
    assert len(errs) == 2 * len(y.BATCH_SIZES) and set(errs) == set(tol)
    for case, e in errs.items():
        if case.startswith("bn_relu"):
            assert e < 1e-9 and tol[case] == y.RATE_TOL
        else:                                   # factor 1 sits 0.025 from the middle of the band (0.9, 1.05)
            assert abs(e - 0.025) < 1e-9 and abs(tol[case] - 0.075) < 1e-12


def test_rate_errors_without_explosion_exceed_the_tolerance():
    errs, tol = y.rate_errors(_rate_runs(lambda b: 1.0))
    assert all(errs[c] > tol[c] for c in errs if c.startswith("bn_relu"))


def test_net_arms_are_named_by_network_and_batch():
    assert routines.get("grad_norms_at_init").engine == "analytic"
    for net in y.NETWORKS:
        for b in y.BATCH_SIZES:
            arm = y.NET_ARMS[f"{net}_B{b}"]
            assert arm.routine == "grad_norms_at_init" and not arm.budget
            assert arm.settings["batch"] == b and y.network(arm) == net
    assert set(y.NET_ARMS["bn_relu_B16"].settings) == {"activation", "bn", "init", "batch", "depth", "width",
                                                       "d_in", "classes", "bn_eps"}


def test_no_bn_control_puts_plain_default_relu_in_place_of_bn_relu():
    d = y.YA.design.with_control(y.YA.design.control("no_bn"))
    for b in y.BATCH_SIZES:
        assert y.network(d.arms[f"bn_relu_B{b}"]) == "plain_default_relu"
        assert d.arms[f"plain_he_relu_B{b}"] == y.YA.design.arms[f"plain_he_relu_B{b}"]
    assert y.YA.design.control("no_bn").expect == "not reproduced"


def test_fixed_batch_control_measures_every_group_at_64():
    d = y.YB.design.with_control(y.YB.design.control("fixed_batch"))
    assert [d.arms[a].settings["batch"] for a in y.YB.arms] == [64, 64, 64]
    assert [y.YB.design.arms[a].settings["batch"] for a in y.YB.arms] == list(y.BATCH_SIZES)


def test_swap_control_exchanges_the_arms():
    d = y.YC.design.with_control(y.YC.design.control("swap"))
    assert [y.network(d.arms[a]) for a in y.YC.arms] == ["bn_relu", "bn_tanh"]
    assert [y.network(y.YC.design.arms[a]) for a in y.YC.arms] == ["bn_tanh", "bn_relu"]
    assert all(y.YC.design.arms[a].settings["batch"] == 64 for a in y.YC.arms)


@pytest.mark.parametrize("profile", ["smoke", "ci", "full"])
def test_depth_arms_follow_the_profile(profile, tmp_path):
    """Width and the one evaluation at the end follow each profile's own step count."""
    ctx = RunContext(profile=profile, store=str(tmp_path))
    steps = y.YD_BUDGETS[profile].steps
    for d in y.YD_DEPTHS:
        spec = runner.resolve_arm(y.YD.design.arms[f"depth={d}"], y.YD, ctx).spec
        assert spec == y.depth_spec(d, y.YD_WIDTH[profile], steps)
        assert spec.eval_every == spec.steps == steps


def test_fixed_depth_control_is_the_depth_8_network_everywhere():
    d = y.YD.design.with_control(y.YD.design.control("fixed_depth"))
    assert [d.arms[a].spec.model.depth for a in y.YD.arms] == [8, 8, 8, 8]


def test_late_loss_reads_the_last_fifth_and_counts_divergence_as_chance():
    loss = np.ones((10, 2))
    loss[-2:, 0] = 3.0
    loss[-1, 1] = np.nan
    np.testing.assert_allclose(y.late_loss({"train_loss": loss}), [3.0, (1.0 + math.log(10.0)) / 2])
