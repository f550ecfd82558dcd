"""The engine's MLP training run with its gradient-ICS probe (Santurkar Def. 2.1, harness.engine.Prober), plus the
moments of each probed layer's NEXT-layer input: the post-activation h_i = act(norm(z_i)) that feeds layer i + 1,
on the engine's fixed probe batch. The engine records the pre-norm z_i and the nonlinearity's input norm(z_i),
which BN pins; h_i it does not record (issue 24, C1.c3).

The loop is train_batched's for a plain SGD MLP (no noise, no masks, no validation split, eager, CPU): same
init, data order, step and evaluation, so every array the engine would give for the same spec comes out
identical (tests/harness/test_routine_ics.py checks it bit for bit).

settings: depth, width, activation, norm, lr, batch_size, steps, eval_every, probe_every, probe_layers (list),
data, data_seed. Returns the engine's arrays (seeds, lr, diverged_at, train_loss, eval_*, probe_step,
probe_ics_cos/rel/move, running statistics, gamma/beta) and probe_next_mean, probe_next_var
[P, K, len(probe_layers), H] (biased variance).
"""
from __future__ import annotations

import numpy as np
import torch

from .. import data, engine, nets
from ..spec import STATELESS_NORMS, ModelSpec, TrainSpec

# norms without injected noise whose arrays the engine writes the same way (wn_mobn keeps no running variance)
NOISE_FREE_NORMS = ("none", "bn", "bn_noaffine", "ln", "gn", "bn_detach", "affine_only", "bn_pop", "ghost_bn")
KEYS = ("depth", "width", "activation", "norm", "lr", "batch_size", "steps", "eval_every", "probe_every",
        "probe_layers", "data", "data_seed")


def train_spec(settings: dict) -> TrainSpec:
    """The engine spec these settings describe (probes: ics only; the next-input moments are this routine's)."""
    missing = [k for k in KEYS if k not in settings]
    if missing:
        raise ValueError(f"ics routine: settings lack {', '.join(missing)}")
    s = settings
    if s["norm"] not in NOISE_FREE_NORMS:
        raise ValueError(f"ics routine: norm {s['norm']!r} is not supported (noise-free norms only: "
                         f"{', '.join(NOISE_FREE_NORMS)})")
    model = ModelSpec(depth=int(s["depth"]), width=int(s["width"]), activation=s["activation"], norm=s["norm"])
    return TrainSpec(model=model, data=s["data"], data_seed=int(s["data_seed"]), lr=float(s["lr"]),
                     batch_size=int(s["batch_size"]), steps=int(s["steps"]), eval_every=int(s["eval_every"]),
                     probes=("ics",), probe_every=int(s["probe_every"]), probe_until=0,
                     probe_layers=tuple(int(i) for i in s["probe_layers"]))


@torch.no_grad()
def next_input_moments(net: nets.StackedNet, xp: torch.Tensor, layers) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, biased variance) [K, len(layers), H] over the probe batch xp [K, P, D] of act(norm(z_l)), the input
    of layer l + 1, in training mode (batch statistics) without updating running statistics."""
    rec = []
    net.forward(net.params, xp, train=True, update=False, record=rec)
    act = nets.ACT[net.m.activation]
    return engine.layer_moments(act(rec[l][1]).transpose(1, 2) for l in layers)    # each over P of [K, H, P]


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    spec = train_spec(settings)
    seeds = [int(s) for s in seeds]
    ds = data.load(spec.data, spec.data_seed)
    m, k = spec.model, len(seeds)
    net = nets.StackedNet(m, ds.x.shape[1], ds.n_out, seeds)
    names = list(net.params)
    opt = engine.StackedOptimizer(spec)
    lr = torch.tensor([spec.lr] * k, dtype=torch.float32)
    order = data.StackedOrder(ds.x.shape[0], spec.batch_size, seeds)
    probe = engine.Prober(spec, net, ds, seeds)
    layers = list(spec.probe_layers)
    nxt_mean, nxt_var = [], []

    train_loss = torch.full((spec.steps, k), float("nan"))
    diverged = torch.full((k,), -1, dtype=torch.long)
    alive = torch.ones(k, dtype=torch.bool)
    evals = []
    for t in range(spec.steps):
        if t % spec.eval_every == 0:
            evals.append((t, engine.evaluate(net, net.params, ds)))
        idx = order.next()
        xb, yb = engine._gather(ds.x, idx), engine._gather(ds.y, idx)
        losses = engine.train_step_losses(net, net.params, xb, yb, None, ds.task)
        grads = dict(zip(names, torch.autograd.grad(losses.sum(), [net.params[n] for n in names])))
        with torch.no_grad():
            train_loss[t] = losses.detach()
            finite = torch.isfinite(losses)
            if not bool(finite.all()) and bool((alive & ~finite).any()):
                diverged[alive & ~finite] = t
                alive &= finite
                lr = torch.where(alive, lr, torch.zeros_like(lr))
            if not bool(alive.all()):
                for n in names:
                    grads[n] = torch.nan_to_num(grads[n], nan=0.0, posinf=0.0, neginf=0.0)
        if probe.due(t):
            probe.at_step(t, xb, yb, None, losses.detach(), grads, opt, lr)
            mu, var = next_input_moments(net, probe.xp, layers)
            nxt_mean.append(engine._np(mu).astype(np.float32))
            nxt_var.append(engine._np(var).astype(np.float32))
        with torch.no_grad():
            for n, d in opt.deltas(net.params, grads, lr, commit=True).items():
                net.params[n].add_(d)
    evals.append((spec.steps, engine.evaluate(net, net.params, ds)))

    arrays = engine._eval_arrays(evals, alive_mask=engine._alive_after(diverged, [e[0] for e in evals]))
    arrays.update(seeds=np.array(seeds), lr=engine.lr_array(spec, None, k), train_loss=engine._np(train_loss),
                  diverged_at=diverged.numpy())
    for l, st in net.states.items():       # running statistics and final affine parameters, as the engine
        if m.norm not in STATELESS_NORMS:
            arrays[f"running_mean{l}"] = engine._np(st.mean.view(k, -1))
            arrays[f"running_var{l}"] = engine._np(st.var.view(k, -1))
        if f"g{l}" in net.params:
            arrays[f"gamma{l}"] = engine._np(net.params[f"g{l}"])
            arrays[f"beta{l}"] = engine._np(net.params[f"be{l}"])
    arrays.update(probe.arrays())
    arrays["probe_next_mean"] = np.stack(nxt_mean)
    arrays["probe_next_var"] = np.stack(nxt_var)
    return arrays
