"""How much mini-batch noise enters the cost, BN against the plain net (C4.h, C4.h2: the article's statement 11).

A stacked MLP (the engine's init, data order, norms and SGD) trains as the engine does; at every probe step each
member's training rows are split by a fresh random permutation into M = n // B disjoint mini-batches of the
training batch size B (the ragged tail left out), twice (two independent partitions). On every mini-batch, at
the same weights, the routine takes the train-mode loss and its gradient (BN normalizes with that batch's own
statistics, as in training; running statistics are not touched). From the M batch losses and gradients of each
partition it records, per member:

    tr C      the trace of the sample covariance of the batch gradients (ddof 1), averaged over the partitions:
              for a plain net it estimates tr(Sigma) / B without bias (Sigma: the per-example gradient
              covariance, n - 1 denominator), since the batch means of a partition are negatively correlated in
              just the way the ddof-1 denominator corrects;
    |G|^2     the inner product of the two partitions' mean gradients: for a plain net both are the full-set
              gradient (up to the left-out tail), for BN two independent draws of the expected batch gradient,
              so their inner product has no noise term (the squared norm of one mean would carry tr C / M);
    loss      the mean batch loss, and the sample variance of the batch losses (ddof 1, partitions averaged).

McCandlish et al. 2018 (Sec. 2.2, App. A) call B * tr(Sigma) / |G|^2 the simple noise scale B_simple; the
reductions in claims/c4.py form it, and the loss analogue B * var(L_B) / mean(L_B)^2, read where each member's
loss first reaches a common level. Both are also recorded over the weight matrices alone (the parameters the
two arms share). Training stops once every member's probed loss is at or below `stop_loss` (later probes NaN).
"""
from __future__ import annotations

import numpy as np
import torch

from .. import data, engine, nets
from . import steps
from ..spec import ModelSpec, TrainSpec

NORMS = ("bn", "none")
KEYS = ("loss_mean", "loss_var", "grad_trcov", "grad_sq", "grad_trcov_w", "grad_sq_w")


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    """settings: data, data_seed, depth, width, norm ("bn" | "none"), lr, momentum, batch_size, bn_eps, bn_momentum,
    steps (the cap), probe_every, stop_loss. Returns probe_step [P], n_batches, batch_size, minibatch_loss [T, K]
    (T: the steps trained), diverged_at [K], and per probe [P, K] the keys in KEYS (NaN after training stopped or
    for a diverged seed)."""
    s, seeds = settings, [int(sd) for sd in seeds]
    if s["norm"] not in NORMS:
        raise ValueError(f"unknown norm {s['norm']!r}; choose one of {', '.join(NORMS)}")
    if s["probe_every"] < 1:
        raise ValueError("probe_every must be >= 1")
    ds = data.load(s["data"], s["data_seed"])
    model = ModelSpec(depth=s["depth"], width=s["width"], norm=s["norm"], bn_eps=s["bn_eps"],
                      bn_momentum=s["bn_momentum"])
    net = nets.StackedNet(model, ds.x.shape[1], ds.n_out, seeds)
    opt = engine.StackedOptimizer(TrainSpec(model=model, optimizer="sgd", lr=s["lr"], momentum=s["momentum"]))
    k, n, b = net.k, ds.x.shape[0], int(s["batch_size"])
    if not 2 <= b <= n // 2:
        raise ValueError(f"batch size {b} must lie in [2, {n // 2}] (two batches per partition at least)")
    lr = torch.tensor([s["lr"]] * k, dtype=torch.float32)
    order = data.StackedOrder(n, b, seeds)
    gens = [data.generator(sd, "probe") for sd in seeds]
    probe_steps = list(range(0, s["steps"] + 1, s["probe_every"]))
    if probe_steps[-1] != s["steps"]:
        probe_steps.append(s["steps"])
    out = {key: np.full((len(probe_steps), k), np.nan) for key in KEYS}
    curve = torch.full((s["steps"], k), float("nan"))
    t_end = 0
    for p, t_probe in enumerate(probe_steps):
        t0 = probe_steps[p - 1] if p else 0
        for t in range(t0, t_probe):
            idx = order.next()
            losses = engine.member_loss(ds.task, net.forward(net.params, engine._gather(ds.x, idx), train=True,
                                                             update=True), engine._gather(ds.y, idx))
            curve[t] = losses.detach()
            steps.nan_safe_step(net, opt, losses, lr)
        t_end = t_probe
        got = partition_moments(net, ds, gens, b)
        for key in KEYS:
            out[key][p] = got[key]
        if np.all((got["loss_mean"] <= s["stop_loss"]) | ~np.isfinite(got["loss_mean"])):
            break
    curve = curve[:t_end].numpy()        # the steps trained (the cap, or the probe where every seed was done)
    div = steps.diverged_at(curve) if len(curve) else np.full(k, -1, np.int64)
    for key in KEYS:                       # a diverged seed has no noise scale
        out[key][:, div >= 0] = np.nan
    return {"seeds": np.array(seeds), "probe_step": np.array(probe_steps), "n_batches": np.array(n // b),
            "batch_size": np.array(b),
            "minibatch_loss": curve, "diverged_at": div, **out}


def partition_moments(net: nets.StackedNet, ds, gens, b: int, partitions: int = 2) -> dict:
    """Per member [K]: the moments in KEYS from `partitions` random partitions of the training rows into
    mini-batches of b (module docstring). The weights and running statistics are left as they are: the M
    batches of a partition run as M copies of each member in one train-mode forward (update=False), so each
    copy's gradient is one batch's gradient."""
    k, n = net.k, ds.x.shape[0]
    m = n // b
    names = list(net.params)
    is_w = [nm.startswith("w") for nm in names]
    rep = {nm: p.detach().repeat_interleave(m, 0).requires_grad_(True) for nm, p in net.params.items()}
    means, trcov, trcov_w, lmean, lvar = [], [], [], [], []
    for _ in range(partitions):
        idx = torch.stack([torch.randperm(n, generator=g)[:m * b] for g in gens]).view(k * m, b)
        out = net.forward(rep, engine._gather(ds.x, idx), train=True, update=False)
        losses = engine.member_loss(ds.task, out, engine._gather(ds.y, idx))          # [K * M]
        grads = torch.autograd.grad(losses.sum(), [rep[nm] for nm in names])
        mean, per = [], []
        for g in grads:
            g = g.detach().double().reshape(k, m, -1)
            mean.append(g.mean(1))                                                    # [K, P_i]
            per.append(g.var(1, unbiased=True).sum(1))                               # [K]
        trcov.append(sum(per))
        trcov_w.append(sum(c for c, w in zip(per, is_w) if w))
        means.append(mean)
        bl = losses.detach().double().view(k, m)
        lmean.append(bl.mean(1))
        lvar.append(bl.var(1, unbiased=True))

    def cross(ws):
        """Mean over partition pairs of <mean_a, mean_b> per member (over the flagged parameters)."""
        pairs = [(a, c) for a in range(partitions) for c in range(a + 1, partitions)]
        return sum(sum((means[a][i] * means[c][i]).sum(1) for i in range(len(names)) if ws[i])
                   for a, c in pairs) / len(pairs)

    avg = lambda xs: (sum(xs) / len(xs)).numpy()                    # noqa: E731
    return {"loss_mean": avg(lmean), "loss_var": avg(lvar), "grad_trcov": avg(trcov),
            "grad_sq": cross([True] * len(names)).numpy(), "grad_trcov_w": avg(trcov_w),
            "grad_sq_w": cross(is_w).numpy()}
