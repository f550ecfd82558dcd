"""Routine bn_other_batch_stats: standard BN ("batch") against the engine and the per-seed nn.BatchNorm1d
reference; large-batch statistics ("large") and Monte Carlo BN differ from it where they should."""
import numpy as np
import pytest
import torch

from bnclaims.harness import engine, routines
from bnclaims.harness.routines import bn_stats
from bnclaims.harness.spec import ModelSpec, TrainSpec

SEEDS = [3, 4]
SETTINGS = {"data": "mnist1d", "data_seed": 42, "depth": 3, "width": 32, "batch_size": 128, "lr": 0.1,
            "momentum": 0.9, "bn_eps": 1e-5, "bn_momentum": 0.1, "stats_batch": 256, "mc_passes": 2, "steps": 10}
SPEC = TrainSpec(model=ModelSpec(depth=3, width=32, norm="bn"), optimizer="sgd", lr=0.1, momentum=0.9,
                 batch_size=128, steps=10, eval_every=10)


@pytest.fixture(scope="module")
def runs():
    return {mode: bn_stats.run({**SETTINGS, "mode": mode}, SEEDS) for mode in bn_stats.MODES}


def test_registered():
    assert routines.get("bn_other_batch_stats").load() is bn_stats.run


@pytest.mark.parametrize("which", ["batched", "reference"])
def test_batch_mode_is_standard_bn(runs, which):
    a, (b, _) = runs["batch"], engine.train(SPEC, SEEDS, which)
    assert a["minibatch_loss"].shape == (SETTINGS["steps"], len(SEEDS))
    assert np.max(np.abs(a["minibatch_loss"] - b["train_loss"])) <= 1e-5
    for split in ("train", "test"):
        assert np.max(np.abs(a[f"{split}_loss"] - b[f"eval_{split}_loss"][-1])) <= 1e-5
    assert list(a["diverged_at"]) == [-1, -1]


def test_large_mode_differs_from_batch_mode(runs):
    a, b = runs["batch"], runs["large"]
    assert np.all(np.isfinite(b["minibatch_loss"]))
    assert np.max(np.abs(a["minibatch_loss"] - b["minibatch_loss"])) > 1e-3
    assert np.max(np.abs(a["test_loss"] - b["test_loss"])) > 1e-4


def test_running_statistics_passes_are_eval_mode(runs):
    """Monte Carlo passes that all use the running statistics average to eval mode itself."""
    for a in runs.values():
        assert np.max(np.abs(a["mc_running_test_nll"] - a["test_loss"])) < 1e-4
        assert np.max(np.abs(a["mc_test_nll"] - a["test_loss"])) > 1e-4      # random batches' statistics do move it


def test_renorm_forward_is_the_given_statistics_with_batch_gradients():
    """Batch Renormalization's r, d: the forward value is normalization by the given statistics, while the
    gradient still flows through the mini-batch moments (unlike constants)."""
    from bnclaims.harness import nets
    net = nets.StackedNet(ModelSpec(depth=2, width=8, norm="bn"), 5, 3, SEEDS)
    g = torch.Generator().manual_seed(0)
    x, ref_x = torch.randn(2, 16, 5, generator=g), torch.randn(2, 64, 5, generator=g) * 2 + 1
    ref = bn_stats.batch_stats(net, ref_x)
    outs, grads = [], []
    for renorm in (True, False):
        out = bn_stats.forward_with(net, x, ref, renorm=renorm)
        outs.append(out)
        grads.append(torch.autograd.grad(out.square().sum(), net.params["w0"])[0])
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
    assert (grads[0] - grads[1]).abs().max() > 1e-4


def test_unknown_mode_refused():
    with pytest.raises(ValueError, match="mode"):
        bn_stats.run({**SETTINGS, "mode": "population"}, SEEDS)
