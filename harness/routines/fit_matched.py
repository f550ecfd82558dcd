"""Ghost-batch BN trained to a common fit (C4.g, C4.g2): each seed is read when its train accuracy first reaches a
target, so ghost sizes are compared at the same fit rather than after the same number of steps.

The stacked MLP, init, data order, ghost BN and SGD are the engine's (harness.nets, harness.data, harness.norms,
harness.routines.steps); the last `val_rows` training rows are held out as a validation split (as
TrainSpec.val_rows). Every `check_every` steps the whole ensemble is evaluated in eval mode (running statistics)
on the training rows; a seed whose train accuracy is at or above `target_acc` for the first time is read there:
its eval-mode logits on the validation split and the test set, and its train/test loss and accuracy. A seed that
never reaches the target is read at the cap (`steps`) and flagged (fit_reached 0). Training stops once every
seed has been read. Seeds keep training after their read (one stacked model), which does not touch the reads.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import data, engine, nets
from . import steps
from ..spec import ModelSpec, TrainSpec


def model_spec(s: dict) -> ModelSpec:
    """ghost == batch_size: standard BN over the batch (norm "bn"), as claims.c4.ghost_spec does."""
    kw = dict(depth=s["depth"], width=s["width"], bn_eps=s["bn_eps"], bn_momentum=s["bn_momentum"])
    if int(s["ghost"]) == int(s["batch_size"]):
        return ModelSpec(norm="bn", **kw)
    return ModelSpec(norm="ghost_bn", ghost_size=int(s["ghost"]), **kw)


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    """settings: data, data_seed, depth, width, ghost, batch_size, lr, momentum, bn_eps, bn_momentum, val_rows,
    target_acc, check_every, steps (the cap). Returns per seed: fit_step, fit_reached (1/0), train/test/val
    loss and accuracy at the read, final_{val,test}_{logits,labels} at the read (as the engine's), and the
    checks' history check_step [C], check_train_acc [C, K] (NaN after training stopped)."""
    s, seeds = settings, [int(sd) for sd in seeds]
    if s["check_every"] < 1 or s["steps"] < 1:
        raise ValueError("check_every and steps must be >= 1")
    if not 0 < s["target_acc"] <= 1:
        raise ValueError(f"target_acc {s['target_acc']} must lie in (0, 1]")
    ds = data.with_validation(data.load(s["data"], s["data_seed"]), int(s["val_rows"]))
    model = model_spec(s)
    spec = TrainSpec(model=model, optimizer="sgd", lr=s["lr"], momentum=s["momentum"], batch_size=s["batch_size"])
    net = nets.StackedNet(model, ds.x.shape[1], ds.n_out, seeds)
    opt = engine.StackedOptimizer(spec)
    k, n = net.k, ds.x.shape[0]
    lr = torch.tensor([s["lr"]] * k, dtype=torch.float32)
    order = data.StackedOrder(n, s["batch_size"], seeds)
    checks = list(range(s["check_every"], s["steps"], s["check_every"])) + [s["steps"]]
    read = np.zeros(k, bool)
    out = {"fit_step": np.full(k, -1, np.int64), "fit_reached": np.zeros(k, np.int64)}
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc"):
        out[key] = np.full(k, np.nan)
    logits = {}
    hist = np.full((len(checks), k), np.nan)
    curve = torch.full((s["steps"], k), float("nan"))
    t = 0
    for c, t_check in enumerate(checks):
        for t in range(t, t_check):
            idx = order.next()
            losses = engine.member_loss(ds.task, net.forward(net.params, engine._gather(ds.x, idx), train=True,
                                                             update=True), engine._gather(ds.y, idx))
            curve[t] = losses.detach()
            steps.nan_safe_step(net, opt, losses, lr)
        t = t_check
        ev = engine.evaluate(net, net.params, ds)
        hist[c] = ev["train_acc"]
        now = ~read & ((ev["train_acc"] >= s["target_acc"]) | (t_check == s["steps"]))
        if now.any():
            with torch.no_grad():
                for split, x in (("val", ds.x_val), ("test", ds.x_test)):
                    z = net.forward(net.params, x.unsqueeze(0).expand(k, -1, -1), train=False).numpy()
                    logits.setdefault(split, np.full(z.shape, np.nan, np.float32))[now] = z[now]
            for key in out:
                if key in ev:
                    out[key][now] = ev[key][now]
            out["fit_step"][now] = t_check
            out["fit_reached"][now] = (ev["train_acc"][now] >= s["target_acc"]).astype(np.int64)
            read |= now
        if read.all():
            break
    curve = curve[:t].numpy()
    out.update(seeds=np.array(seeds), check_step=np.array(checks), check_train_acc=hist, minibatch_loss=curve,
               diverged_at=steps.diverged_at(curve))
    for split, y in (("val", ds.y_val), ("test", ds.y_test)):
        out[f"final_{split}_logits"] = logits[split]
        out[f"final_{split}_labels"] = y.numpy().reshape(1, -1).repeat(k, 0)
    return out
