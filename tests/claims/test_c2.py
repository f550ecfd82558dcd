"""C2 reductions on small synthetic arrays, and the declarations the plugin collects."""
import numpy as np

from bnclaims.claims import c2
from bnclaims.harness.declare import design
from bnclaims.harness.declare import validate as dv
from bnclaims.harness import routines
from bnclaims.harness.run import runner


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
        dv.validate(h, routines.ROUTINES)
        if h.id == "C2.f":          # an equivalence: its control puts the plain net at lr 3 in the BN arm
            ctl = h.design.with_control(h.design.control("none_at_high_lr"))
            assert ctl.arms["bn"] == ctl.arms["none"] and ctl.metric_of("bn").at_lr == c2.HIGH_LR
            continue
        ctl = h.design.with_control(h.design.control("control"))
        x = h.arms[0]
        assert ctl.arms[x] == ctl.arms["none"] == h.design.arms["none"]


# ---- issue 24: who votes, what runs in ci, and constants read where each check is declared ----

def test_careless_vs_careless_no_longer_votes_and_the_tuned_comparison_runs_in_ci():
    dv.validate_claim(c2.CLAIM)
    assert not c2.C2C.votes and c2.C2C.alpha == c2.C2_ALPHA          # its test is unchanged; it just does not vote
    assert {h.id for h in c2.HYPOTHESES if h.votes} == {"C2.a", "C2.d"}
    assert c2.C2C3.runs_in("ci") and c2.C2C3.runs_in("full") and not c2.C2C3.confirmatory
    m = c2.C2C3.design.metric
    assert m.tune_seeds == c2.C2C3_TUNE_SEEDS == 1 and m.tune_val_rows == c2.VAL_ROWS
    assert len(c2.C2C3.design.arms["none"].variants) == len(c2.INIT_STDS)   # the grid is unchanged
    assert "1 seed disjoint" in c2.C2C3.notes and "3 seeds" not in c2.C2C3.notes


def test_val_note_states_the_numbers_it_is_given():
    assert c2.VAL_NOTE == c2.val_note(c2.VAL_TUNE_SEEDS, c2.VAL_ROWS)
    assert c2.VAL_NOTE.startswith("Tuning runs: 3 seeds disjoint") and "last 800 training rows" in c2.VAL_NOTE
    one = c2.val_note(1, 500)
    assert one.startswith("Tuning runs: 1 seed disjoint") and "last 500 training rows" in one


def test_each_grid_check_reports_the_selection_it_declared():
    sel = {h.id: h.design.extra.keywords["selection"] for h in c2.HYPOTHESES
           if getattr(h.design.extra, "func", None) is c2.best_rate_extra}
    assert sel["C2.a"] == sel["C2.a2"] == sel["C2.e"] == c2.SELECTION_NOTE
    assert sel["C2.a3"] == c2.VAL_NOTE          # chosen on a validation split, not on the compared seeds
    assert str(c2.SHARED_LR) in sel["C2.f"] and "no selection" in sel["C2.f"]


def test_rates_trained_reads_the_grid_and_target_it_is_given():
    a = arrays([[2.0, 0.5], [2.0, 0.9]], steps=(100, 200))
    grid = {0.1: a, 1.0: arrays([[2.0, 0.95], [2.0, 1.5]], steps=(100, 200))}
    np.testing.assert_array_equal(c2.rates_trained(grid, lrs=(0.1, 1.0)), [2, 1])
    np.testing.assert_array_equal(c2.rates_trained(grid, lrs=(0.1, 1.0), target=0.6), [1, 0])


def test_no_module_level_name_is_assigned_twice():
    """A constant redefined later in claims/c2.py would silently reach the extras and notes declared before it."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(c2))
    names = [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
             for t in (t.elts if isinstance(t, ast.Tuple) else [t]) if isinstance(t, ast.Name)]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
