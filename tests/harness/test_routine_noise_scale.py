"""Routine minibatch_noise (C4.h, C4.h2): the partition moments against a linear model whose per-example gradients
are known, against a plain loop over the batches (BN included), a zero-noise case, and the routine's training
against the engine."""
import types

import numpy as np
import pytest
import torch

from bnclaims.harness import data, engine, nets, routines
from bnclaims.harness.routines import noise_scale as ns
from bnclaims.harness.spec import ModelSpec, TrainSpec

SETTINGS = {"data": "mnist1d", "data_seed": 42, "depth": 3, "width": 32, "batch_size": 128, "momentum": 0.9,
            "bn_eps": 1e-5, "bn_momentum": 0.1, "steps": 20, "probe_every": 10, "stop_loss": 0.0}


class LinearNet:
    """K copies of a linear regression model y = w x (one output): per-example gradient 2 (w x - y) x."""

    def __init__(self, w: torch.Tensor, k: int):
        self.k = k
        self.params = {"w0": w.reshape(1, 1, -1).repeat(k, 1, 1).clone().requires_grad_(True)}

    def forward(self, params, x, *, train=True, update=False):
        return torch.bmm(x, params["w0"].transpose(1, 2))


def _linear_case(n=512, d=5, rows_identical=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64).float()
    if rows_identical:
        x = x[:1].repeat(n, 1)
    w_true = torch.randn(d, generator=g)
    y = (x @ w_true + (0.0 if rows_identical else 0.5) * torch.randn(n, generator=g)).unsqueeze(1)
    w = torch.zeros(d)
    return types.SimpleNamespace(x=x, y=y, task="regression"), w


def test_registered():
    assert routines.get("minibatch_noise").load() is ns.run


def test_linear_model_known_noise_scale():
    """tr C * B estimates tr(S^2) (S^2: per-example gradient covariance, n - 1 denominator) without bias; |G|^2 is
    exact for a model without batch coupling (both partitions cover every row); the loss mean is the full mean."""
    ds, w = _linear_case()
    b, k = 32, 400
    net = LinearNet(w, k)
    got = ns.partition_moments(net, ds, [torch.Generator().manual_seed(i) for i in range(k)], b)
    resid = (ds.x.double() @ w.double() - ds.y[:, 0].double())
    per = 2 * resid.unsqueeze(1) * ds.x.double()                     # [n, d] per-example gradients
    tr_s2 = per.var(0, unbiased=True).sum().item()
    g2 = per.mean(0).pow(2).sum().item()
    np.testing.assert_allclose(got["grad_sq"], g2, rtol=1e-5)
    np.testing.assert_allclose(got["grad_sq_w"], g2, rtol=1e-5)
    assert abs(np.mean(got["grad_trcov"]) * b / tr_s2 - 1) < 0.03
    np.testing.assert_allclose(got["loss_mean"], resid.pow(2).mean().item(), rtol=1e-5)
    assert abs(np.mean(got["loss_var"]) * b / resid.pow(2).var().item() - 1) < 0.03
    # the simple noise scale the reduction forms: B tr(C) / |G|^2 ~ tr(S^2) / |G|^2
    from bnclaims.claims import c4
    arrays = {"batch_size": np.array(b), **{key: got[key][None] for key in ns.KEYS}}
    assert abs(np.mean(c4.noise_curve(arrays, "grad")) / (tr_s2 / g2) - 1) < 0.03


def test_zero_noise_reads_zero():
    """Every row the same: every batch has the same loss and gradient, so no noise can be measured."""
    ds, w = _linear_case(rows_identical=True)
    got = ns.partition_moments(LinearNet(w, 3), ds, [torch.Generator().manual_seed(i) for i in range(3)], 32)
    assert np.all(got["grad_trcov"] < 1e-8 * got["grad_sq"]) and np.all(got["loss_var"] < 1e-8)


@pytest.mark.parametrize("norm", ["bn", "none"])
def test_moments_equal_a_loop_over_the_batches(norm):
    """The M copies of each member in one forward give each batch's own train-mode loss and gradient."""
    ds = data.load("mnist1d", 42)
    net = nets.StackedNet(ModelSpec(depth=2, width=16, norm=norm), ds.x.shape[1], ds.n_out, [5, 6])
    b = 1000
    got = ns.partition_moments(net, ds, [data.generator(s, "probe") for s in (5, 6)], b)
    gens = [data.generator(s, "probe") for s in (5, 6)]
    m = ds.x.shape[0] // b
    means, trc, lv = [], np.zeros(2), np.zeros(2)
    for _ in range(2):
        perm = torch.stack([torch.randperm(ds.x.shape[0], generator=g)[:m * b] for g in gens]).view(2, m, b)
        gs, ls = [], []
        for j in range(m):
            idx = perm[:, j]
            loss = engine.member_loss(ds.task, net.forward(net.params, engine._gather(ds.x, idx), train=True),
                                      engine._gather(ds.y, idx))
            grads = torch.autograd.grad(loss.sum(), list(net.params.values()))
            gs.append(torch.cat([gr.reshape(2, -1) for gr in grads], 1).double())
            ls.append(loss.detach().double())
        gs, ls = torch.stack(gs, 1), torch.stack(ls, 1)                 # [K, M, P], [K, M]
        means.append(gs.mean(1))
        trc += gs.var(1, unbiased=True).sum(1).numpy() / 2
        lv += ls.var(1, unbiased=True).numpy() / 2
    np.testing.assert_allclose(got["grad_trcov"], trc, rtol=1e-4)
    np.testing.assert_allclose(got["grad_sq"], (means[0] * means[1]).sum(1).numpy(), rtol=1e-4)
    np.testing.assert_allclose(got["loss_var"], lv, rtol=1e-4)


def test_training_is_the_engines_and_probes_leave_it_alone():
    spec = TrainSpec(model=ModelSpec(depth=3, width=32, norm="bn"), optimizer="sgd", lr=0.1, momentum=0.9,
                     batch_size=128, steps=20, eval_every=20)
    a = ns.run({**SETTINGS, "norm": "bn", "lr": 0.1}, [3, 4])
    b, _ = engine.train_batched(spec, [3, 4])
    np.testing.assert_array_equal(a["minibatch_loss"], b["train_loss"])
    assert list(a["probe_step"]) == [0, 10, 20] and np.all(np.isfinite(a["grad_trcov"]))
    assert list(a["diverged_at"]) == [-1, -1] and int(a["batch_size"]) == 128 and int(a["n_batches"]) == 31


def test_stops_once_every_seed_is_below_stop_loss():
    a = ns.run({**SETTINGS, "norm": "none", "lr": 0.05, "stop_loss": 10.0}, [3, 4])
    assert a["minibatch_loss"].shape == (0, 2)
    assert np.all(np.isfinite(a["loss_mean"][0])) and np.all(np.isnan(a["loss_mean"][1:]))
    with pytest.raises(ValueError, match="norm"):
        ns.run({**SETTINGS, "norm": "ln", "lr": 0.1}, [3])
