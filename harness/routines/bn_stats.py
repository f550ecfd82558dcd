"""BN whose training statistics come from another, larger batch (less noise; Ioffe 2017's r, d correction), and
Monte Carlo BN at test time (Teye et al. 2018): both need statistics from outside the mini-batch, which the engine
does not expose. Init, standard BN, batching, SGD and evaluation are the engine's own."""
from __future__ import annotations

import numpy as np
import torch

from .. import data, engine, nets
from . import steps
from ..spec import ModelSpec, TrainSpec

MODES = ("batch", "large")


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    """settings: data, data_seed, depth, width, batch_size, lr, momentum, bn_eps, bn_momentum, stats_batch,
    mc_passes, steps, and mode: "batch" (standard BN) or "large" (forward statistics of stats_batch fresh
    training rows each step). Returns per-seed arrays: minibatch_loss [T, K], diverged_at, eval-mode
    train/test loss and accuracy, and the Monte Carlo BN test NLL and accuracy."""
    s, seeds = settings, [int(sd) for sd in seeds]
    if s["mode"] not in MODES:
        raise ValueError(f"unknown mode {s['mode']!r}; choose one of {', '.join(MODES)}")
    ds = data.load(s["data"], s["data_seed"])
    model = ModelSpec(depth=s["depth"], width=s["width"], norm="bn", bn_eps=s["bn_eps"],
                      bn_momentum=s["bn_momentum"])
    net = nets.StackedNet(model, ds.x.shape[1], ds.n_out, seeds)
    opt = engine.StackedOptimizer(TrainSpec(model=model, optimizer="sgd", lr=s["lr"], momentum=s["momentum"]))
    k, n = net.k, ds.x.shape[0]
    lr = torch.tensor([s["lr"]] * k, dtype=torch.float32)
    order = data.StackedOrder(n, s["batch_size"], seeds)
    gens = [data.generator(sd, "noise") for sd in seeds]
    curve = torch.full((s["steps"], k), float("nan"))
    for t in range(s["steps"]):
        idx = order.next()
        xb, yb = engine._gather(ds.x, idx), engine._gather(ds.y, idx)
        if s["mode"] == "large":
            ridx = torch.stack([torch.randint(n, (s["stats_batch"],), generator=g) for g in gens])
            ref = batch_stats(net, engine._gather(ds.x, ridx))
            out = forward_with(net, xb, ref, renorm=True, update=True, ref_n=s["stats_batch"])
        else:
            out = net.forward(net.params, xb, train=True, update=True)
        losses = engine.member_loss(ds.task, out, yb)
        curve[t] = losses.detach()
        steps.nan_safe_step(net, opt, losses, lr)
    curve = curve.numpy()
    arrays = {"seeds": np.array(seeds), "minibatch_loss": curve, "diverged_at": steps.diverged_at(curve)}
    arrays.update(engine.evaluate(net, net.params, ds))          # eval mode: running statistics
    arrays.update(mc_bn(net, ds, seeds, s["batch_size"], s["mc_passes"]))
    return arrays


@torch.no_grad()
def batch_stats(net: nets.StackedNet, x: torch.Tensor) -> list:
    """Per hidden layer (mean, biased var) [K, H, 1] of batch x [K, B, D] forwarded in train mode; no update."""
    out, h = [], x.transpose(1, 2)
    for l in range(net.hidden):
        z = torch.bmm(net.params[f"w{l}"], h)             # no bias before BN
        mu, var = z.mean(2, keepdim=True), z.var(2, unbiased=False, keepdim=True)
        out.append((mu, var))
        zn = (z - mu) / torch.sqrt(var + net.m.bn_eps)
        h = torch.relu(net.params[f"g{l}"].unsqueeze(2) * zn + net.params[f"be{l}"].unsqueeze(2))
    return out


def forward_with(net: nets.StackedNet, x, ref, *, renorm: bool, update: bool = False, ref_n: int = 0):
    """x [K, B, D] -> logits [K, B, C], each BN layer normalized with the given statistics ref[l].

    renorm=False: ref used as constants (Monte Carlo BN). renorm=True: Batch Renormalization's r, d: the forward
    output is (z - mu_ref) / sd_ref, the gradient flows through the mini-batch moments; update=True moves the
    running statistics toward ref (variance made unbiased for ref_n rows, as BN does)."""
    p, h, eps, mom = net.params, x.transpose(1, 2), net.m.bn_eps, net.m.bn_momentum
    for l in range(net.n_layers):
        z = torch.bmm(p[f"w{l}"], h)
        if l == net.n_layers - 1:
            return (z + p[f"b{l}"]).transpose(1, 2)
        mu_l, var_l = ref[l]
        sd_l = torch.sqrt(var_l + eps)
        if not renorm:
            xhat = (z - mu_l) / sd_l
        else:
            mu, var = z.mean(2, keepdim=True), z.var(2, unbiased=False, keepdim=True)
            sd = torch.sqrt(var + eps)
            xhat = (z - mu) / sd * (sd / sd_l).detach() + ((mu - mu_l) / sd_l).detach()
            if update:
                with torch.no_grad():
                    st = net.states[l]
                    st.mean.mul_(1 - mom).add_(mom * mu_l.reshape(-1))
                    st.var.mul_(1 - mom).add_(mom * var_l.reshape(-1) * ref_n / (ref_n - 1))
        h = torch.relu(p[f"g{l}"].unsqueeze(2) * xhat + p[f"be{l}"].unsqueeze(2))


@torch.no_grad()
def mc_bn(net: nets.StackedNet, ds, seeds, batch_size: int, passes: int) -> dict:
    """Monte Carlo BN: every pass normalizes each BN layer with the statistics of one random training batch; the
    softmax is averaged over passes. Also the same average over passes that all use the running statistics
    (identical passes, so one suffices: the negative control), through the same softmax -> clamp -> log path."""
    k, n = net.k, ds.x.shape[0]
    gens = [data.generator(sd, "probe") for sd in seeds]
    xt = ds.x_test.unsqueeze(0).expand(k, -1, -1)
    yt = ds.y_test.unsqueeze(0).expand(k, -1)
    probs = torch.zeros(k, xt.shape[1], ds.n_out)
    for _ in range(passes):
        ridx = torch.stack([torch.randperm(n, generator=g)[:batch_size] for g in gens])
        probs += torch.softmax(forward_with(net, xt, batch_stats(net, engine._gather(ds.x, ridx)), renorm=False), -1)
    probs /= passes
    p_true = probs.gather(2, yt.unsqueeze(2)).squeeze(2).clamp_min(1e-12)
    run_probs = torch.softmax(net.forward(net.params, xt, train=False), -1)
    p_run = run_probs.gather(2, yt.unsqueeze(2)).squeeze(2).clamp_min(1e-12)
    return {"mc_test_nll": (-p_true.log()).mean(1).numpy(),
            "mc_test_acc": (probs.argmax(-1) == yt).float().mean(1).numpy(),
            "mc_running_test_nll": (-p_run.log()).mean(1).numpy()}
