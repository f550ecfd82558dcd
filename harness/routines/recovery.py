"""Recovery after insertion (C3.c): train a plain MLP, insert BN after one hidden Linear layer with gamma = 1,
beta = 0 and running statistics = that layer's train-set moments, then train only gamma and beta.

The engine cannot start from another run's weights, so this routine chains two training phases built from
the engine's own pieces (StackedNet with its BN, StackedOptimizer, member_loss, evaluate); K seeds at once.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .. import data, engine, nets
from ..spec import ModelSpec, TrainSpec


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    """settings: data, data_seed, depth, width, insert_layer, batch_size, momentum, lr_plain, lr_affine,
    bn_eps, bn_momentum, and steps (SGD steps of EACH phase)."""
    s, seeds = settings, [int(x) for x in seeds]
    steps, li = int(s["steps"]), s["insert_layer"]
    ds = data.load(s["data"], s["data_seed"])
    plain_model = ModelSpec(depth=s["depth"], width=s["width"])          # plain: every layer has a bias
    plain = nets.StackedNet(plain_model, ds.x.shape[1], ds.n_out, seeds)
    # One data order runs on through both phases, as one long run would.
    order = data.StackedOrder(ds.x.shape[0], s["batch_size"], seeds)

    curve_plain = _sgd(plain, list(plain.params), s["lr_plain"], s["momentum"], steps, order, ds)
    plain_eval = engine.evaluate(plain, plain.params, ds)
    z_train, _ = _layer_io(plain, ds.x, li)
    z_test, _ = _layer_io(plain, ds.x_test, li)                           # [K, H, N]
    orig_mean, orig_var = z_train.mean(2), z_train.var(2)               # unbiased, as BN's running var

    # The same network with BN after hidden layer li (biases kept), its weights frozen at the trained ones.
    net = nets.StackedNet(dataclasses.replace(plain_model, norm="bn", norm_layers=(li,), bias=True,
                                              bn_eps=s["bn_eps"], bn_momentum=s["bn_momentum"]),
                          ds.x.shape[1], ds.n_out, seeds)
    for name, p in plain.params.items():
        net.params[name] = p.detach()
    state = net.states[li]
    state.mean, state.var = orig_mean.reshape(-1).clone(), orig_var.reshape(-1).clone()

    insert_eval = engine.evaluate(net, net.params, ds)
    _, y_insert = _layer_io(net, ds.x_test, li)
    curve_affine = _sgd(net, [f"g{li}", f"be{li}"], s["lr_affine"], s["momentum"], steps, order, ds)
    after_eval = engine.evaluate(net, net.params, ds)
    _, y_after = _layer_io(net, ds.x_test, li)

    k, h = orig_mean.shape
    orig_std = orig_var.sqrt()
    ks_before, w_before = distances(y_insert, z_test, orig_std)
    ks_after, w_after = distances(y_after, z_test, orig_std)
    return {"seeds": np.array(seeds), "curve_plain": curve_plain.numpy(), "curve_affine": curve_affine.numpy(),
            "loss_orig": plain_eval["train_loss"], "loss_insert": insert_eval["train_loss"],
            "loss_after": after_eval["train_loss"], "acc_orig": plain_eval["test_acc"],
            "acc_insert": insert_eval["test_acc"], "acc_after": after_eval["test_acc"],
            "ks_before": ks_before, "ks_after": ks_after, "w_before": w_before, "w_after": w_after,
            "gamma": net.params[f"g{li}"].detach().numpy(), "beta": net.params[f"be{li}"].detach().numpy(),
            "orig_mean": orig_mean.numpy(), "orig_std": orig_std.numpy(),
            "running_mean": state.mean.view(k, h).numpy(), "running_var": state.var.view(k, h).numpy()}


def _sgd(net, names, lr, momentum, steps, order, ds) -> torch.Tensor:
    """`steps` SGD steps (momentum) on the parameters `names`, the rest frozen, BN statistics updated as in
    training; returns the mini-batch loss [steps, K] (train mode)."""
    opt = engine.StackedOptimizer(TrainSpec(optimizer="sgd", lr=lr, momentum=momentum))
    lrs = torch.full((net.k,), float(lr))
    curve = torch.zeros(steps, net.k)
    for t in range(steps):
        idx = order.next()
        xb, yb = engine._gather(ds.x, idx), engine._gather(ds.y, idx)
        losses = engine.member_loss(ds.task, net.forward(net.params, xb, train=True, update=True), yb)
        grads = dict(zip(names, torch.autograd.grad(losses.sum(), [net.params[n] for n in names])))
        with torch.no_grad():
            curve[t] = losses
            for n, d in opt.deltas(net.params, grads, lrs, commit=True).items():
                net.params[n].add_(d)
    return curve


@torch.no_grad()
def _layer_io(net, x, layer: int):
    """(input to the norm, its output) of one hidden layer in eval mode over all of x, each [K, H, N]."""
    record: list = []
    net.forward(net.params, x.unsqueeze(0).expand(net.k, -1, -1), train=False, record=record)
    z, zn = record[layer]
    return z.transpose(1, 2), zn.transpose(1, 2)


def distances(y, z, std):
    """Per seed: mean over units of KS(y_j, z_j) and of Wasserstein(y_j, z_j) / std_j; y, z [K, H, N]."""
    from scipy.stats import ks_2samp, wasserstein_distance
    y, z, std = (np.asarray(a) for a in (y, z, std))
    k, h = y.shape[:2]
    ks = np.array([[ks_2samp(y[i, j], z[i, j]).statistic for j in range(h)] for i in range(k)])
    wd = np.array([[wasserstein_distance(y[i, j], z[i, j]) / max(std[i, j], 1e-12) for j in range(h)]
                   for i in range(k)])
    return ks.mean(1), wd.mean(1)
