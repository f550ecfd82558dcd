"""Y: Yang et al. 2019 - lambda_G, the growth-factor reduction, Y.a's error function, the arms and controls.
The hypotheses and their controls themselves run as plugin items; the routine has its own tests."""
import math

import numpy as np
import pytest

from bnclaims.claims import yang as y
from bnclaims.harness import routines
from bnclaims.harness.run import runner
from bnclaims.harness.run.context import RunContext


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


# ------------------------------------------------------------------ issue 24: Y.a as equivalence, Y.d2, notes
def test_rate_deviation_is_factor_over_theory_minus_one():
    runs = geometric([y.lambda_G(64) * 1.02, y.lambda_G(64) * 0.97])
    np.testing.assert_allclose(y.rate_deviation(runs, 64), [0.02, -0.03], atol=1e-12)


def test_ya_is_an_equivalence_test_within_the_band_with_a_null_control_on_the_margin():
    assert (y.YA.role, y.YA.direction, y.YA.test, y.YA.margin, y.YA.confirmatory) == (
        "evidence", "equivalent", "tost", y.RATE_TOL, False)
    d = y.YA.design
    assert d.arms["theory"].constant == 0.0 and y.YA.arms == ("bn_relu_B64", "theory")
    assert d.metric_of("bn_relu_B64").params == {"batch": 64}
    null = d.control("other_seeds")
    assert null.null and null.shift == {"bn_relu_B64": y.RATE_TOL} and null.seeds == {"theory": y.SEED_OFFSET}
    dn = d.with_control(null)
    assert dn.arms["theory"] == d.arms["bn_relu_B64"]
    # the negative control puts a plain net in place of BN: its deviation (factor ~1 vs 1.49) is far outside
    runs = geometric([1.0] * 3)
    assert (np.abs(y.rate_deviation(runs, 64)) > 0.3).all()


def test_yd2_gap_and_arms():
    loss_bn, loss_plain = np.ones((10, 2)), np.full((10, 2), 1.5)
    loss_plain[-1, 1] = np.nan
    got = y.late_loss_gap({"bn.train_loss": loss_bn, "plain.train_loss": loss_plain})
    np.testing.assert_allclose(got, [-0.5, 1.0 - (1.5 + math.log(10.0)) / 2])
    for d in y.YD_DEPTHS:
        arm = y.YD2.design.arms[f"depth={d}"]
        assert arm.routine == "depth_pair" and arm.settings["depth"] == d and arm.settings["lr"] == y.YD_LR
        assert {p: v["width"] for p, v in arm.by_profile.items()} == y.YD_WIDTH
    assert y.YD2.profiles == ("full", "survey") and not y.YD2.confirmatory
    c = y.YD2.design.with_control(y.YD2.design.control("fixed_depth"))
    assert {a.settings["depth"] for a in c.arms.values()} == {8}


def test_depth_pair_bn_half_is_the_yd_spec():
    from bnclaims.harness.routines import depth_pair
    sp = depth_pair.specs({**y.YD2.design.arms["depth=16"].settings, "steps": 100})
    assert sp["bn"] == y.depth_spec(16, y.YD_WIDTH["ci"], 100)


def test_yb_notes_name_pages_l():
    assert "Page's L" in y.YB.notes and y.YB.test == "trend" and y.YB.paired
