"""C2 reductions on small synthetic arrays, and the declarations the plugin collects."""
import numpy as np

from claims import c2
from harness import design, routines, runner


def arrays(curves, steps=(100, 200, 300), test_acc=None):
    a = {"eval_train_loss": np.asarray(curves, float).T, "eval_step": np.asarray(steps)}
    if test_acc is not None:
        a["eval_test_acc"] = np.asarray(test_acc, float).T
    return a


def test_auc_final_loss_and_diverged_checkpoints_at_chance():
    a = arrays([[2.0, 1.0, np.nan], [1.5, 0.5, 0.25]])        # seed 0 diverged at the last checkpoint
    np.testing.assert_allclose(c2.final_loss(a), [c2.LN10, 0.25])
    np.testing.assert_allclose(c2.auc(a), [(3.0 + c2.LN10) / 3, 0.75])


def test_steps_to_loss_is_censored_at_the_run_length():
    a = arrays([[2.0, 1.5, 1.2], [1.5, 0.9, 0.5]])
    np.testing.assert_array_equal(c2.steps_to_loss(a), [300, 200])


def test_rates_trained_counts_grid_rates_below_the_target():
    good, bad = arrays([[2.0, 0.5], [2.0, 0.9]], steps=(100, 200)), arrays([[2.0, 1.5], [2.0, 0.5]], steps=(100, 200))
    grid = {lr: (good if lr < 1 else bad) for lr in c2.GRID_LRS}
    np.testing.assert_array_equal(c2.rates_trained(grid), [4, 6])


def test_budget_test_acc_reads_the_declared_step_budgets():
    steps = (100, 200, 300, 500)
    a = arrays([[1] * 4] * 2, steps=steps, test_acc=[[0.1, 0.2, 0.3, 0.5], [np.nan, 0.4, 0.4, 0.6]])
    np.testing.assert_allclose(c2.budget_test_acc(a), [(0.2 + 0.5) / 2, (0.4 + 0.6) / 2])


def test_best_rate_is_the_lowest_mean_auc():
    grid = {lr: arrays([[1.0 + abs(lr - 0.3)] * 3] * 2) for lr in c2.GRID_LRS}
    assert runner.best_rate(grid, c2.GRID_LRS, "C2.auc") == 0.3


def test_declarations_validate_and_controls_remove_the_effect():
    for h in c2.HYPOTHESES:
        design.validate(h, routines.ROUTINES)
        if h.id == "C2.f":          # an equivalence: its control puts the plain net at lr 3 in the BN arm
            ctl = h.design.with_control(h.design.control("none_at_high_lr"))
            assert ctl.arms["bn"] == ctl.arms["none"] and ctl.metric_of("bn").at_lr == c2.HIGH_LR
            continue
        ctl = h.design.with_control(h.design.control("control"))
        x = h.arms[0]
        assert ctl.arms[x] == ctl.arms["none"] == h.design.arms["none"]
