"""Ioffe & Szegedy 2015, Sec. 4.1 / Fig. 1 at its own scale: 3 hidden layers of 100 sigmoid units on MNIST from the
user's folder (28 x 28 pixels scaled to [0, 1], flattened), batch 60, with or without BN. The stacked MLP, its
initialization, batching, SGD and normalization are the engine's (harness.nets, harness.engine); only the data
come from outside (harness.userdata), so this is a routine.

Every eval_every steps: test loss and accuracy (eval mode), and the 15th, 50th and 85th percentiles, over a fixed
batch of probe_rows test images, of every unit's sigmoid input in the last hidden layer (train-mode forward on
that batch, no running-statistics update): Ioffe's Fig. 1(b, c) follows one such unit.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import data, engine, nets, userdata
from . import steps
from ..spec import ModelSpec, TrainSpec

QUANTILES = (0.15, 0.5, 0.85)


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    """settings: norm (none | bn), lr, steps, batch_size, init, eval_every, probe_rows, data_sha256, _data_dir.
    Returns train_loss [T, K], diverged_at [K], eval_step [E], eval_test_loss/acc [E, K], and sigmoid-input
    quantiles q15/q50/q85 [E, K, 100] of the last hidden layer."""
    s, seeds = settings, [int(sd) for sd in seeds]
    ds = _data(s["_data_dir"], s["data_sha256"])
    model = ModelSpec(depth=3, width=100, activation="sigmoid", init=s["init"], norm=s["norm"])
    spec = TrainSpec(model=model, optimizer="sgd", lr=float(s["lr"]), batch_size=int(s["batch_size"]))
    net = nets.StackedNet(model, ds.x.shape[1], ds.n_out, seeds)
    opt = engine.StackedOptimizer(spec)
    k, n_steps = net.k, int(s["steps"])
    lr = torch.tensor([float(s["lr"])] * k, dtype=torch.float32)
    order = data.StackedOrder(ds.x.shape[0], int(s["batch_size"]), seeds)
    probe = ds.x_test[:int(s["probe_rows"])].unsqueeze(0).expand(k, -1, -1)
    curve = torch.full((n_steps, k), float("nan"))
    evals = []
    for t in range(n_steps + 1):
        if t % int(s["eval_every"]) == 0 or t == n_steps:
            evals.append((t, _evaluate(net, ds, probe)))
        if t == n_steps:
            break
        idx = order.next()
        out = net.forward(net.params, engine._gather(ds.x, idx), train=True, update=True)
        losses = engine.member_loss(ds.task, out, engine._gather(ds.y, idx))
        curve[t] = losses.detach()
        steps.nan_safe_step(net, opt, losses, lr)
    c = curve.numpy()
    arrays = {"seeds": np.array(seeds), "train_loss": c, "diverged_at": steps.diverged_at(c),
              "eval_step": np.array([e[0] for e in evals], dtype=np.int64)}
    for name in evals[0][1]:
        arrays[name] = np.stack([e[1][name] for e in evals])
    return arrays


@torch.no_grad()
def _evaluate(net, ds, probe) -> dict:
    o = net.forward(net.params, ds.x_test.unsqueeze(0).expand(net.k, -1, -1), train=False)
    y = ds.y_test.unsqueeze(0).expand(net.k, -1)
    rec: list = []
    net.forward(net.params, probe, train=True, update=False, record=rec)
    z = rec[-1][1]                                          # [K, B, 100]: the last hidden layer's sigmoid input
    q = torch.quantile(z, torch.tensor(QUANTILES), dim=1)   # [3, K, 100]
    return {"eval_test_loss": engine._np(engine.member_loss(ds.task, o, y)),
            "eval_test_acc": engine._np((o.argmax(-1) == y).float().mean(1)),
            "q15": engine._np(q[0]), "q50": engine._np(q[1]), "q85": engine._np(q[2])}


_DATA: dict = {}


def _data(folder: str, sha: str) -> data.Dataset:
    if (folder, sha) not in _DATA:
        xtr, ytr, xte, yte = userdata.load_keyed(userdata.MNIST, folder, sha)
        flat = lambda x: torch.as_tensor(x.reshape(len(x), -1)).float().div_(255.0)   # noqa: E731
        _DATA.clear()
        _DATA[(folder, sha)] = data.Dataset(flat(xtr), torch.as_tensor(ytr), flat(xte), torch.as_tensor(yte),
                                            10, "classification")
    return _DATA[(folder, sha)]
