"""C1: the reductions behind gradient and distributional ICS, checked on tiny synthetic arrays, and the
declarations' controls (identical arms, the positive TOST control, one batch size for every arm).
The per-hypothesis checks and their controls are collected from the declarations by the plugin."""
import numpy as np
import pytest

from claims import c1
from harness import design as ds
from harness.runner import Result


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
    ds.validate(hyp)


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
