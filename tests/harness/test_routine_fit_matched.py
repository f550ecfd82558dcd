"""Routine ghost_to_fit (C4.g, C4.g2): equal to the engine up to the read, reads each seed at its first check at
or above the target, flags a seed that never gets there, and stops once every seed is read."""
import numpy as np
import pytest

from bnclaims.harness import engine, routines
from bnclaims.harness.routines import fit_matched as fm
from bnclaims.harness.spec import ModelSpec, TrainSpec

SEEDS = [1, 2]
SETTINGS = {"data": "mnist1d", "data_seed": 42, "depth": 3, "width": 32, "batch_size": 128, "lr": 0.1,
            "momentum": 0.9, "bn_eps": 1e-5, "bn_momentum": 0.1, "val_rows": 500, "check_every": 10, "steps": 30}


def test_registered():
    assert routines.get("ghost_to_fit").load() is fm.run


@pytest.mark.parametrize("ghost", [8, 128])
def test_unreached_target_reads_the_cap_as_the_engine_does(ghost):
    """Target 1.0 is out of reach in 30 steps: every seed is read at the cap, flagged, and its logits, losses and
    accuracies are the engine's (same spec with val_rows) bit for bit."""
    a = fm.run({**SETTINGS, "ghost": ghost, "target_acc": 1.0}, SEEDS)
    model = ModelSpec(depth=3, width=32, norm="bn") if ghost == 128 else ModelSpec(depth=3, width=32,
                                                                                   norm="ghost_bn", ghost_size=8)
    b, _ = engine.train_batched(TrainSpec(model=model, optimizer="sgd", lr=0.1, momentum=0.9, batch_size=128,
                                          steps=30, eval_every=10, val_rows=500), SEEDS)
    for split in ("val", "test"):
        np.testing.assert_array_equal(a[f"final_{split}_logits"], b[f"final_{split}_logits"])
        np.testing.assert_array_equal(a[f"final_{split}_labels"], b[f"final_{split}_labels"])
    np.testing.assert_array_equal(a["test_acc"], b["eval_test_acc"][-1])
    np.testing.assert_array_equal(a["check_train_acc"], b["eval_train_acc"][1:])
    np.testing.assert_array_equal(a["minibatch_loss"], b["train_loss"])
    assert list(a["fit_step"]) == [30, 30] and list(a["fit_reached"]) == [0, 0]


def test_reached_target_reads_the_first_check_and_stops():
    a = fm.run({**SETTINGS, "ghost": 32, "target_acc": 0.05}, SEEDS)
    assert list(a["fit_step"]) == [10, 10] and list(a["fit_reached"]) == [1, 1]
    assert a["minibatch_loss"].shape == (10, 2)                       # stopped at the first check
    assert np.all(np.isnan(a["check_train_acc"][1:]))
    assert np.all(a["train_acc"] >= 0.05) and np.all(np.isfinite(a["final_test_logits"]))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="target_acc"):
        fm.run({**SETTINGS, "ghost": 8, "target_acc": 1.5}, SEEDS)
    with pytest.raises(ValueError, match="check_every"):
        fm.run({**SETTINGS, "ghost": 8, "target_acc": 0.9, "check_every": 0}, SEEDS)
