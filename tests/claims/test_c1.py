"""C1: the reductions behind gradient and distributional ICS, checked on tiny synthetic arrays, and the
declarations' controls (identical arms, the positive TOST control, one batch size for every arm).
The per-hypothesis checks and their controls are collected from the declarations by the plugin."""
import numpy as np
import pytest

from bnclaims.claims import c1
from bnclaims.harness import kit
from bnclaims.harness.declare import design as ds
from bnclaims.harness.declare import validate as dv
from bnclaims.harness.run.runner import Result


# ------------------------------------------------------------------ gradient ICS
def _ics_arrays():
    # 4 probes x 2 seeds x 2 layers; probes at t < 500 are the first two
    cos = np.array([[[0.9, 0.7], [0.5, 0.1]],
                    [[0.8, 0.5], [0.3, np.nan]],
                    [[0.0, 0.0], [0.0, 0.0]],
                    [[0.2, 0.2], [0.2, 0.2]]])
    return {"probe_step": np.array([0, 250, 500, 750]), "probe_ics_cos": cos, "probe_ics_rel": 1 - cos}


def test_gradient_ics_is_the_early_median_averaged_over_layers():
    got = c1.gradient_ics(_ics_arrays())
    # seed 0: layer medians 0.85 and 0.6; seed 1: 0.4 and 0.1 (the NaN probe is skipped)
    np.testing.assert_allclose(got, [(0.85 + 0.6) / 2, (0.4 + 0.1) / 2])


def test_gradient_ics_without_a_window_reads_every_probe_and_other_keys():
    a = _ics_arrays()
    np.testing.assert_allclose(c1.gradient_ics(a, until=None), [(0.5 + 0.35) / 2, (0.25 + 0.1) / 2])
    np.testing.assert_allclose(c1.gradient_ics(a, "probe_ics_rel"), 1 - c1.gradient_ics(a))


# ------------------------------------------------------------------ distributional drift
def _drift_arrays():
    # 3 probes x 1 seed x 4 layers x 2 units; layer l's mean moves by l + 1 per probe, its variance by 2
    steps = np.array([0, 25, 50])
    mu = np.zeros((3, 1, 4, 2))
    var = np.ones((3, 1, 4, 2))
    for l in range(4):
        mu[:, 0, l, :] = (l + 1) * np.arange(3)[:, None]
        var[:, 0, l, :] = 1 + 2 * np.arange(3)[:, None]
    return {"probe_step": steps, "probe_post_mean": mu.astype(np.float32), "probe_post_var": var.astype(np.float32)}


def test_drift_series_is_mean_abs_change_of_mean_plus_variance():
    steps, d = c1.drift_series(_drift_arrays())          # layers 2 and 4 (0-based 1 and 3)
    np.testing.assert_array_equal(steps, [25, 50])
    assert d.shape == (2, 1, 2)
    np.testing.assert_allclose(d[:, 0, :], [[2 + 2, 4 + 2], [2 + 2, 4 + 2]])


def test_drift_series_relative_divides_by_the_previous_sd_and_variance():
    _, d = c1.drift_series(_drift_arrays(), layers=(0,), relative=True)
    # interval 1: var 1 -> |d mu| / 1 + 2 / 1; interval 2: var 3 -> 1 / sqrt(3) + 2 / 3
    np.testing.assert_allclose(d[:, 0, 0], [1 + 2, 1 / np.sqrt(3) + 2 / 3], rtol=1e-6)


def test_distributional_drift_windows_and_layers():
    a = _drift_arrays()
    a["probe_post_mean"][2, 0, 1, :] += 10                # a jump in the second interval at layer 2
    np.testing.assert_allclose(c1.distributional_drift(a), [(np.median([4, 14]) + 6) / 2])
    np.testing.assert_allclose(c1.distributional_drift(a, window=(0, 25)), [(4 + 6) / 2])
    np.testing.assert_allclose(c1.distributional_drift(a, layers=(0,)), [3])


# ------------------------------------------------------------------ losses and accuracies
def test_diverged_runs_count_at_chance_or_at_their_start():
    a = {"eval_train_loss": np.array([[2.0, 2.0], [0.5, np.nan]]),
         "eval_train_acc": np.array([[0.1, 0.1], [0.9, np.inf]]),
         "train_loss": np.array([[4.0, 8.0], [1.0, 2.0], [np.e, np.nan]])}
    np.testing.assert_allclose(c1.final_train_loss(a), [0.5, c1.LN10])
    np.testing.assert_allclose(c1.final_train_acc(a), [0.9, 0.1])
    np.testing.assert_allclose(c1.dln_log_final_loss(a), [1.0, np.log(8.0)])   # no progress: step-0 loss


def test_reductions_are_registered_under_their_claim_names():
    for name, fn in {"C1.gradient_ics": c1.gradient_ics, "C1.distributional_drift": c1.distributional_drift,
                     "C1.final_train_loss": c1.final_train_loss, "C1.final_train_acc": c1.final_train_acc,
                     "C1.dln_log_final_loss": c1.dln_log_final_loss}.items():
        assert ds.REDUCTIONS[name] is fn


# ------------------------------------------------------------------ declarations and their controls
@pytest.mark.parametrize("hyp", c1.HYPOTHESES, ids=lambda h: h.id)
def test_declarations_validate(hyp):
    dv.validate(hyp)


@pytest.mark.parametrize("hyp", [c1.C1D, c1.C1D2, c1.C1E], ids=lambda h: h.id)
def test_noisy_bn_hypotheses_keep_clean_bn_as_a_context_arm(hyp):
    assert set(hyp.design.arms) == {"noisy_bn", "none", "bn"}
    assert list(hyp.design.arms)[:2] == list(hyp.arms)


@pytest.mark.parametrize("hyp", [h for h in c1.HYPOTHESES if h is not c1.C1F], ids=lambda h: h.id)
def test_negative_and_positive_controls_give_arm_x_arm_y_spec(hyp):
    """Each two-arm control runs arm x with arm y's spec: identical runs. The C1.e TOST must then pass
    (a positive control: the hypothesis itself is an expected failure); the others must not reproduce."""
    (control,) = hyp.design.controls
    x, y = hyp.arms
    d = hyp.design.with_control(control)
    assert d.arms[x] == hyp.design.arms[y]
    assert control.expect == ("reproduced" if hyp is c1.C1E else "no effect")


def test_batch_size_control_runs_every_arm_at_64():
    (control,) = c1.C1F.design.controls
    d = c1.C1F.design.with_control(control)
    assert [a.spec.batch_size for a in d.arms.values()] == [64, 64, 64]
    assert control.expect == "no effect"
    assert [a.spec.batch_size for a in c1.C1F.design.arms.values()] == list(c1.BATCH_SIZES)


def test_batch_extra_names_the_full_batch():
    r = Result(hyp=c1.C1F, ctx=None, design=c1.C1F.design, control=None, seeds=[], arms=dict(c1.C1F.design.arms))
    assert c1.batch_extra(r) == {"batch_sizes": [16, 64, "full (4000)"]}


# ------------------------------------------------------------------ issue 24: matched loss, next-layer input
def _match_arrays():
    """3 probes (steps 0, 10, 20) x 2 seeds x 2 layers; loss index = mean of the 10 losses ending at the probe."""
    tl = np.full((30, 2), 2.3)
    tl[1:11, 0] = 1.5            # seed 0: probe 10 in the band [1.3, 1.7]
    tl[11:21, 0] = 1.0           # probe 20 below it
    tl[1:21, 1] = 1.4            # seed 1: probes 10 and 20 in the band
    rel = np.array([[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6], [0.7, 0.8]], [[0.9, 1.0], [1.1, 1.2]]])
    move = np.full((3, 2, 2), 0.1)
    return {"probe_step": np.array([0, 10, 20]), "train_loss": tl, "probe_ics_rel": rel, "probe_ics_move": move,
            "probe_ics_cos": 1 - rel / 2}


def test_loss_index_is_the_mean_of_the_window_ending_at_the_probe():
    li = kit.loss_index(_match_arrays(), c1.LOSS_WINDOW)
    np.testing.assert_allclose(li[:, 0], [2.3, 1.5, 1.0])
    np.testing.assert_allclose(li[:, 1], [2.3, 1.4, 1.4])
    np.testing.assert_array_equal(c1.band_probes(_match_arrays()), [1, 2])


def test_matched_gradient_ics_reads_only_the_probes_in_the_band():
    a = _match_arrays()
    # seed 0: probe 10 only -> layers 0.5/0.1, 0.6/0.1; seed 1: median of probes 10, 20 -> (0.7+1.1)/2, (0.8+1.2)/2
    np.testing.assert_allclose(c1.matched_gradient_ics(a), [(5 + 6) / 2, (9 + 10) / 2])
    np.testing.assert_allclose(c1.matched_gradient_ics(a, what="rel"), [0.55, 0.95])
    np.testing.assert_allclose(c1.matched_gradient_ics(a, what="one_minus_cos"), [0.275, 0.475])
    np.testing.assert_allclose(c1.matched_gradient_ics(a, what="move"), [0.1, 0.1])
    assert np.isnan(c1.matched_gradient_ics(a, band=(0.0, 0.5))).all()          # no probe in the band
    with pytest.raises(ValueError, match="unknown quantity"):
        c1.ics_quantity(a, "cos")


def test_normalized_ics_is_unchanged_when_numerator_and_move_scale_together_and_zero_move_is_skipped():
    a = _match_arrays()
    b = {**a, "probe_ics_rel": 2 * a["probe_ics_rel"], "probe_ics_move": 2 * a["probe_ics_move"]}
    np.testing.assert_allclose(c1.matched_gradient_ics(b), c1.matched_gradient_ics(a))
    np.testing.assert_allclose(c1.matched_gradient_ics(b, what="rel"), 2 * c1.matched_gradient_ics(a, what="rel"))
    a["probe_ics_move"][2, 1, :] = 0.0                 # seed 1's probe 20: nothing moved -> left out
    np.testing.assert_allclose(c1.matched_gradient_ics(a)[1], (7 + 8) / 2)


def _next_arrays(scale=1.0):
    """3 probes x 1 seed x 1 layer x 2 units: unit means move by 1 and 3, variances by 2 and 0 (first interval)."""
    mu = np.array([[0.0, 0.0], [1.0, 3.0], [1.0, 3.0]]).reshape(3, 1, 1, 2)
    var = np.array([[4.0, 4.0], [6.0, 4.0], [6.0, 4.0]]).reshape(3, 1, 1, 2)
    return {"probe_step": np.array([0, 100, 200]), "probe_next_mean": scale * mu, "probe_next_var": scale ** 2 * var,
            "train_loss": np.full((201, 1), 1.5)}


def test_next_input_drift_is_scale_free_with_a_known_value():
    steps, d = c1.next_input_drift_series(_next_arrays())
    # interval 1: s^2 = 4: mean |d mu| / 2 = 2 / 2 = 1; mean |d var| / 4 = 1 / 4; interval 2: nothing moves
    np.testing.assert_array_equal(steps, [100, 200])
    np.testing.assert_allclose(d[:, 0, 0], [1.25, 0.0])
    _, d3 = c1.next_input_drift_series(_next_arrays(scale=3.0))
    np.testing.assert_allclose(d3, d)
    np.testing.assert_allclose(c1.next_input_drift(_next_arrays(), after=None), [0.625])
    np.testing.assert_allclose(c1.next_input_drift(_next_arrays(), after=100), [0.0])
    np.testing.assert_allclose(c1.next_input_drift(_next_arrays(), after=None, band=(0.0, 1.0)), [np.nan])


def test_next_input_drift_of_a_dead_layer_is_nan_not_inf():
    a = _next_arrays()
    a["probe_next_var"][:] = 0.0
    a["probe_next_mean"][:] = 0.0
    _, d = c1.next_input_drift_series(a)
    assert np.isnan(d).all()


def test_issue24_declarations():
    assert not c1.C1D.votes and c1.C1D.alpha == c1.C1_ALPHA
    assert [h.id for h in c1.HYPOTHESES if h.votes] == ["C1.a", "C1.b"]
    for h in (c1.C1A3, c1.C1C3):
        assert not h.confirmatory and h.role == "evidence" and h.group == "C1.match"
        assert h.design.arms["bn"].settings["lr"] == 0.2 == 10 * c1.MLP_LR
        assert {a.settings["norm"] for a in h.design.arms.values()} == {"bn", "none"}
    assert c1.PLATEAU_LOSS == 2.1 and c1.PLATEAU_LOSS < c1.LN10 - 0.2 + 1e-9


def test_c1a2_gate_passes_the_pilots_plain_losses_and_still_fails_a_plateau():
    """The amended gate (loss <= 2.1 at step 1000): the seed-base-0 plain losses at step 1000 (1.70-1.91) pass;
    a seed still on its plateau (2.25-2.31) fails."""
    from bnclaims.harness.run import runner
    (gate, _) = c1.C1A2.design.criteria
    assert gate.op == "<=" and gate.value == 2.1 and gate.on_fail == "inconclusive"
    for loss, ok in ((1.91, True), (2.25, False)):
        assert runner._holds(gate, loss) is ok
