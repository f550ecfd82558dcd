"""C4: the reductions (final checkpoint, per-seed routine values, the C4.d2 generalization gap) on tiny synthetic
arrays, the ghost and routine arms each profile resolves to, and the controls' replaced arms and metrics.
The per-hypothesis checks and their controls are collected from the declarations by the plugin."""
import numpy as np
import pytest

from bnclaims.claims import c4
from bnclaims.harness import kit
from bnclaims.harness.run import checks
from bnclaims.harness import routines
from bnclaims.harness.declare import design as ds
from bnclaims.harness.declare import validate as dv
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.run.runner import resolve_arm


# ------------------------------------------------------------------ reductions
def test_final_reads_the_last_checkpoint_and_fills_a_diverged_seed():
    curve = np.array([[2.3, 2.3, 2.3], [1.0, 0.5, np.nan]])               # [E, K]
    np.testing.assert_array_equal(c4.final({"eval_test_loss": curve}, "eval_test_loss", c4.LN10),
                                  [1.0, 0.5, c4.LN10])
    acc = np.array([[0.1, 0.1], [0.7, np.inf]])
    np.testing.assert_array_equal(c4.final({"eval_test_acc": acc}, "eval_test_acc", c4.CHANCE), [0.7, c4.CHANCE])


def test_value_fills_a_non_finite_seed():
    got = c4.value({"mc_test_nll": np.array([1.1, np.nan, 0.9], np.float32)}, "mc_test_nll")
    np.testing.assert_allclose(got, [1.1, c4.LN10, 0.9], rtol=1e-6)


def test_gap_is_train_minus_test_accuracy_and_zero_for_a_diverged_seed():
    arrays = {"train_acc": np.array([0.99, 0.98, np.nan, 0.97]), "test_acc": np.array([0.70, 0.71, 0.5, np.nan]),
              "diverged_at": np.array([-1, 12, -1, -1])}
    np.testing.assert_allclose(c4.gap(arrays), [0.29, 0.0, 0.0, 0.0])


def test_reductions_registered_and_declarations_valid():
    for name in ("C4.final", "C4.value", "C4.gap"):
        assert name in ds.REDUCTIONS
    for hyp in c4.HYPOTHESES:
        dv.validate(hyp, routines.ROUTINES)


# ------------------------------------------------------------------ arms by profile
@pytest.mark.parametrize("profile", ["smoke", "ci", "full"])
def test_ghost_and_no_bn_arms_are_the_profiles_specs(profile, tmp_path):
    ctx = RunContext(profile=profile, store=str(tmp_path))
    for g in c4.GHOST_SIZES:
        for hyp in (c4.C4A, c4.C4B):
            got = resolve_arm(hyp.design.arms[f"G{g}"], hyp, ctx).spec
            assert got == checks.with_budget(c4.ghost_spec(g, profile), hyp, ctx)
            assert got.model.width == c4.C4_WIDTH[profile]
            assert got.model.ghost_size == (0 if g == got.batch_size else g)
    arms = c4.C4C.design.arms
    assert resolve_arm(arms["bn"], c4.C4C, ctx).spec == checks.with_budget(c4.ghost_spec(128, profile), c4.C4C, ctx)
    assert resolve_arm(arms["no_bn"], c4.C4C, ctx).spec == checks.with_budget(c4.no_bn_spec(profile), c4.C4C, ctx)


@pytest.mark.parametrize("profile", ["smoke", "ci", "full"])
def test_routine_arms_take_the_private_settings_and_budget(profile, tmp_path):
    ctx = RunContext(profile=profile, store=str(tmp_path))
    steps = c4.PRIVATE_BUDGETS[profile].steps
    for hyp, arm_modes in ((c4.C4D1, ("batch", "large")), (c4.C4D2, ("batch", "large")), (c4.C4E, ("batch", "batch"))):
        for arm, mode in zip(hyp.arms, arm_modes):
            a = resolve_arm(hyp.design.arms[arm], hyp, ctx)
            assert a.routine == "bn_other_batch_stats"
            assert dict(a.settings) == {**c4.PRIVATE, "mode": mode, "steps": steps}


# ------------------------------------------------------------------ controls
@pytest.mark.parametrize("hyp", [c4.C4A, c4.C4B], ids=["C4.a", "C4.b"])
def test_all_g128_makes_every_ghost_arm_the_g128_spec(hyp):
    d = hyp.design.with_control(hyp.design.control("all_g128"))
    assert d.arms["G128"] == d.arms["G32"] == d.arms["G8"] == hyp.design.arms["G128"]
    assert d.metric_of("G8") == d.metric_of("G128")


def test_no_bn_as_bn_runs_the_no_bn_spec_in_both_arms():
    d = c4.C4C.design.with_control(c4.C4C.design.control("no_bn_as_bn"))
    assert d.arms["bn"] == d.arms["no_bn"] == c4.C4C.design.arms["no_bn"]
    assert d.arms["bn"].spec.model.norm == "none"


@pytest.mark.parametrize("hyp", [c4.C4D1, c4.C4D2], ids=["C4.d1", "C4.d2"])
def test_batch_as_large_runs_standard_bn_in_both_arms(hyp):
    d = hyp.design.with_control(hyp.design.control("batch_as_large"))
    assert d.arms["large_batch_stats"] == d.arms["batch_stats"]
    assert d.arms["batch_stats"].settings["mode"] == "batch"


def test_running_stats_passes_reads_eval_mode_in_both_arms():
    """Every Monte Carlo pass with the running statistics is eval mode itself: both arms read the same array of
    the same run, so their values are identical (the routine test checks that array against eval mode)."""
    d = c4.C4E.design.with_control(c4.C4E.design.control("running_stats_passes"))
    assert d.arms["mc_bn"] == d.arms["eval_mode"]
    assert d.metric_of("mc_bn") == d.metric_of("eval_mode")
    arrays = {"mc_test_nll": np.array([1.0, 1.1]), "mc_running_test_nll": np.array([1.2, np.nan])}
    x, y = (ds.REDUCTIONS[d.metric_of(a).name](arrays, **d.metric_of(a).params) for a in ("mc_bn", "eval_mode"))
    np.testing.assert_array_equal(x, y)


def test_every_control_expects_no_effect():
    for hyp in c4.HYPOTHESES:
        assert [c.expect for c in hyp.design.controls] == ["no effect"]


def test_temperature_scaling_and_ece():
    """A temperature fitted on data drawn from softmax(z / 2) comes out near 2; ECE falls after scaling."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (4000, 10))
    p = np.exp(z / 2 - (z / 2).max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(10, p=row) for row in p])
    t = kit.fit_temperature(z, y)
    assert 1.8 < t < 2.2
    assert kit.ece(z, y, t) < kit.ece(z, y, 1.0)
    assert kit.nll(z, y, t) < kit.nll(z, y, 1.0)
    arrays = {"final_val_logits": z[None, :2000], "final_val_labels": y[None, :2000],
              "final_test_logits": np.stack([z[2000:], np.full_like(z[2000:], np.nan)]),
              "final_test_labels": np.stack([y[2000:], y[2000:]])}
    arrays["final_val_logits"] = np.concatenate([arrays["final_val_logits"]] * 2)
    arrays["final_val_labels"] = np.concatenate([arrays["final_val_labels"]] * 2)
    out = c4.calibrated_nll(arrays)
    assert out[1] == c4.LN10 and out[0] < kit.nll(z[2000:], y[2000:], 1.0)


# ------------------------------------------------------------------ issue 24: matched fit, noise in the cost
def test_read_at_loss_interpolates_where_the_loss_first_reaches_the_level():
    loss = np.array([[2.0, 2.0, 2.0, 0.3], [1.0, 1.0, 1.0, 0.2], [0.4, 0.8, 0.4, 0.1], [0.2, 0.7, 0.2, 0.05]])
    q = np.exp(np.array([[1.0, 1.0, 1.0, 5.0], [2.0, 2.0, 2.0, 6.0], [3.0, 3.0, -np.inf, 7.0],
                         [4.0, 4.0, 4.0, 8.0]]))
    q[2, 2] = -1.0                                    # a non-positive reading at the bracket
    vals, ok = c4.read_at_loss(loss, q, 0.5)
    np.testing.assert_allclose(vals[0], 2 + (1.0 - 0.5) / (1.0 - 0.4))     # log q linear in loss
    assert ok.tolist() == [True, False, False, True]
    assert vals[1] == pytest.approx(4.0)              # never reached: its last finite reading, flagged
    assert vals[2] == pytest.approx(4.0)              # bracket not positive: flagged
    assert vals[3] == pytest.approx(5.0)              # already below at the first probe
    got = c4.noise_read({"loss_mean": loss, "loss_var": q * loss ** 2 / 4, "batch_size": np.array(4)},
                        "loss", 0.5)
    np.testing.assert_array_equal(got, [1.0, 0.0, 0.0, 1.0])


def test_noise_curve_and_the_matched_read():
    arrays = {"batch_size": np.array(128), "loss_mean": np.array([[2.0], [0.5], [0.25]]),
              "loss_var": np.array([[0.04], [0.01], [0.01]]), "grad_trcov": np.array([[1.0], [2.0], [4.0]]),
              "grad_sq": np.array([[4.0], [2.0], [0.0]]), "grad_trcov_w": np.array([[1.0], [1.0], [1.0]]),
              "grad_sq_w": np.array([[1.0], [1.0], [1.0]])}
    np.testing.assert_allclose(c4.noise_curve(arrays, "grad")[:2, 0], [32.0, 128.0])
    assert np.isnan(c4.noise_curve(arrays, "grad")[2, 0])                 # |G|^2 <= 0: undefined
    np.testing.assert_allclose(c4.noise_curve(arrays, "loss")[:, 0], [128 * 0.01, 128 * 0.04, 128 * 0.16])
    np.testing.assert_allclose(c4.noise_curve(arrays, "grad_w")[:, 0], 128.0)
    np.testing.assert_allclose(c4.noise_at_loss(arrays, "grad", 0.5), [np.log(128.0)])
    np.testing.assert_allclose(c4.noise_at_loss(arrays, "grad", 0.1), [np.log(128.0)])   # flagged, last finite
    assert c4.noise_read(arrays, "grad", 0.1).tolist() == [0.0]
    nothing = {**arrays, "grad_sq": np.zeros((3, 1))}
    np.testing.assert_array_equal(c4.noise_at_loss(nothing, "grad", 0.5, fill=-7.0), [-7.0])


def test_noise_checks_declare_the_articles_direction_and_gate_every_seed():
    for hyp in (c4.C4H, c4.C4H2):
        assert hyp.arms == ("bn", "none") and hyp.direction == "less" and hyp.paired and not hyp.confirmatory
        assert [c.on_fail for c in hyp.design.criteria] == ["inconclusive"] * 2
        assert {c.stat for c in hyp.design.criteria} == {"each"}
    assert c4.NOISE_ARMS["bn"].settings["lr"] == c4.C4_BASE.lr and c4.NOISE_ARMS["none"].settings["lr"] == c4.NO_BN_LR


@pytest.mark.parametrize("profile", ["smoke", "ci", "full"])
def test_fit_matched_arms_take_the_profile_width_and_cap(profile, tmp_path):
    ctx = RunContext(profile=profile, store=str(tmp_path))
    for hyp in (c4.C4G, c4.C4G2):
        assert hyp.profiles == ("full", "survey") and not hyp.confirmatory
        for g in c4.GHOST_SIZES:
            a = resolve_arm(hyp.design.arms[f"G{g}"], hyp, ctx)
            assert a.routine == "ghost_to_fit"
            assert dict(a.settings) == {**c4.FIT, "ghost": g, "width": c4.C4_WIDTH[profile],
                                        "steps": c4.FIT_BUDGETS[profile].steps}
        assert [c.name for c in hyp.design.criteria] == ["fit_G128", "fit_G32", "fit_G8"]


def test_each_declaration_reads_its_own_validation_rows():
    """C4.a2 holds out 500 rows and reports 500; C4.c2's tuning split is 800 (issue 24: one name was reused)."""
    import types
    assert c4.VAL_ROWS == 500 and c4.TUNE_VAL_ROWS == 800
    assert c4.calibration_extra(types.SimpleNamespace(hyp=types.SimpleNamespace(arms=())))["val_rows"] == 500
    assert "last 500 training rows" in c4.C4A2.metric and "last 800 training rows" in c4.C4C2.metric
    assert c4.C4C2.design.metric.tune_val_rows == 800
    assert "Page's L" in c4.C4A.notes and "Jonckheere" not in c4.C4A.notes
    assert "overconfident" in c4.C4A2.notes


def test_c4f_runs_in_every_profile():
    assert c4.C4F.profiles == () and c4.C4F.runs_in("ci")
