"""Curvature along the gradient (claim S, issue 24): a landscape measure that can say no.

S.a's loss range and S.a3/S.a4's "first-order-corrected" range are dominated by eta |g|^2 at the step
factors they use (dossier sec. 12). This routine trains the MLP setting of S.a (the engine's StackedNet,
StackedOptimizer, data order, train step and evaluation; plain SGD) and, at checkpoints, measures on the
current mini-batch (train-mode batch statistics, running statistics untouched):

  kappa      = g'Hg / |g|^2, the curvature along the gradient g, by one Hessian-vector product (double backward);
  kappa_eff  = the same in effective-rate units: with D the per-parameter scale that is |w_r| / |w_r(0)| on each
               row r of a weight matrix followed by BN (BN is invariant to scaling one unit's incoming weights,
               so its effective rate is lr / |w_r|^2, row by row) and 1 elsewhere, kappa_eff =
               (D^2 g)' H (D^2 g) / |D g|^2: the curvature along the gradient of the same loss in the coordinates
               phi = theta / D, i.e. of the same network with each BN row rescaled to its initial norm (an exact
               symmetry of the loss up to BN's eps). It does not change when a BN row is rescaled; kappa does;
  rho(eta)   = (L(theta) - L(theta - eta g)) / (eta |g|^2): the fraction of the predicted first-order decrease a
               step realizes (1 on a flat-curvature path; 1 - eta kappa / 2 on a quadratic), and rho_eff with the
               effective step eta D^2 g and prediction eta |D g|^2, at small step factors.

The training step is the engine's (no probe changes parameters, optimizer state or running statistics); the
measures are taken before the step, on the step's own mini-batch, as the engine's landscape probe does.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import data, engine, nets
from . import steps as steps_mod
from ..spec import ModelSpec, TrainSpec

# Norms whose scale invariance is per unit (per row of the preceding weight matrix): each unit is normalized over
# the batch by its own statistics. LayerNorm / GroupNorm are invariant only to scaling a whole layer or group and
# are refused rather than measured with the wrong symmetry.
PER_UNIT_INVARIANT = ("bn", "bn_noaffine")
NORMS = ("none",) + PER_UNIT_INVARIANT


# ---------------------------------------------------------------------------------------------- the measure
def unit_norms(w: torch.Tensor) -> torch.Tensor:
    """[K, out, in] stacked weight matrices -> [K, out]: the norm of each row (one unit's incoming weights)."""
    if w.dim() != 3:
        raise ValueError(f"unit_norms wants stacked weights [K, out, in], got shape {tuple(w.shape)}")
    return w.detach().norm(dim=2)


def frobenius_norms(w: torch.Tensor) -> torch.Tensor:
    """[K, out, in] -> [K]: the whole matrix's norm (the engine's landscape_eff scale; not BN's symmetry)."""
    return w.detach().flatten(1).norm(dim=1)


def _bcast(s: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-member [K] or per-row [K, out] scale broadcast onto a stacked parameter [K, out, ...]."""
    return s.reshape(*s.shape, *([1] * (like.dim() - s.dim())))


def _dot(a: dict, b: dict, names) -> torch.Tensor:
    """Per-member inner product [K] of two dicts of stacked tensors."""
    return torch.stack([(a[n] * b[n]).flatten(1).sum(1) for n in names]).sum(0)


def along_gradient(loss_fn, params: dict, names, scales: dict | None = None, factors=()) -> dict:
    """Curvature along the gradient and the realized-decrease ratio, per member (stacked ensembles).

    loss_fn(params) -> per-member losses [K]; params: name -> stacked tensor [K, ...] (left unchanged);
    names: the parameters differentiated (the rest are held fixed); scales: name -> D as [K] or [K, out] (per
    row), 1 where absent; factors: step sizes eta at which rho and rho_eff are read (absolute, not lr multiples).
    Returns [K] tensors g2 = |g|^2, gHg, kappa = gHg / g2, g2_eff = |D g|^2, vHv_eff (v = D^2 g), kappa_eff =
    vHv_eff / g2_eff, loss, and [K, F] rho, rho_eff."""
    names, scales = list(names), dict(scales or {})
    unknown = set(scales) - set(names)
    if unknown:
        raise ValueError(f"scales given for parameters that are not differentiated: {sorted(unknown)}")
    leaf = {n: p.detach().requires_grad_(n in names) for n, p in params.items()}
    with torch.enable_grad():
        losses = loss_fn(leaf)
        if losses.dim() != 1:
            raise ValueError(f"loss_fn must return one loss per member [K], got shape {tuple(losses.shape)}")
        gs = dict(zip(names, torch.autograd.grad(losses.sum(), [leaf[n] for n in names], create_graph=True)))
        g = {n: t.detach() for n, t in gs.items()}
        d = {n: (_bcast(scales[n].to(g[n]), g[n]) if n in scales else None) for n in names}
        dg = {n: g[n] if d[n] is None else d[n] * g[n] for n in names}              # D g
        v = {n: g[n] if d[n] is None else d[n] * dg[n] for n in names}              # D^2 g
        hv_g = torch.autograd.grad(_dot(gs, g, names).sum(), [leaf[n] for n in names],
                                   retain_graph=bool(scales))
        hv_v = (torch.autograd.grad(_dot(gs, v, names).sum(), [leaf[n] for n in names]) if scales else hv_g)
    hv_g, hv_v = dict(zip(names, hv_g)), dict(zip(names, hv_v))
    loss0 = losses.detach()
    g2, g2_eff = _dot(g, g, names), _dot(dg, dg, names)
    gHg, vHv = _dot(g, hv_g, names), _dot(v, hv_v, names)
    out = {"loss": loss0, "g2": g2, "gHg": gHg, "kappa": gHg / g2, "g2_eff": g2_eff, "vHv_eff": vHv,
           "kappa_eff": vHv / g2_eff}
    rho, rho_eff = [], []
    with torch.no_grad():
        for eta in factors:
            for direction, pred, acc in ((g, g2, rho), (v, g2_eff, rho_eff)):
                moved = {n: (p.detach() - eta * direction[n] if n in direction else p.detach())
                         for n, p in params.items()}
                acc.append((loss0 - loss_fn(moved)) / (eta * pred))
    k = loss0.shape[0]
    out["rho"] = torch.stack(rho, 1) if rho else loss0.new_zeros(k, 0)
    out["rho_eff"] = torch.stack(rho_eff, 1) if rho_eff else loss0.new_zeros(k, 0)
    return out


def unit_scales(net: nets.StackedNet, params: dict, w0: dict) -> dict:
    """{w{l}: |w_r| / |w_r(0)| [K, out]} for every weight matrix followed by a per-unit scale-invariant norm."""
    return {n: unit_norms(params[n]) / r0 for n, r0 in w0.items()}


# ---------------------------------------------------------------------------------------------- the routine
def model_spec(settings: dict) -> ModelSpec:
    norm = settings["norm"]
    if norm not in NORMS:
        raise ValueError(f"curvature routine: norm {norm!r} is not supported; choose one of {', '.join(NORMS)} "
                         "(its effective rate uses BN's per-unit scale invariance)")
    return ModelSpec(depth=int(settings["depth"]), width=int(settings["width"]), norm=norm,
                     bn_eps=float(settings["bn_eps"]), bn_momentum=float(settings["bn_momentum"]))


def schedule(settings: dict) -> tuple[int, int, int]:
    """(steps, probe_every, eval_every): probes and evaluations spread evenly over the profile's steps."""
    steps = int(settings["steps"])
    if steps < 1 or int(settings["probes"]) < 1 or int(settings["evals"]) < 1:
        raise ValueError("curvature routine: steps, probes and evals must be >= 1")
    return steps, max(steps // int(settings["probes"]), 1), max(steps // int(settings["evals"]), 1)


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    """settings: data, data_seed, depth, width, norm ("none" or a per-unit invariant BN), bn_eps, bn_momentum,
    batch_size, lr (plain SGD), steps, probes (checkpoints: every steps // probes steps from step 0), evals
    (full evaluations: every steps // evals steps and at the end), rho_factors (multiples of lr).

    Returns per seed: train_loss [T, K], diverged_at [K], eval_step [E] and eval_{train,test}_{loss,acc} [E, K]
    (as the engine's), and at the checkpoints probe_step [P] and, each [P, K]: curv_loss (mini-batch loss),
    curv_g2, curv_gHg, curv_kappa, curv_g2_eff, curv_vHv_eff, curv_kappa_eff, curv_unit_scale (median over BN rows
    of (|w_r| / |w_r(0)|)^2, the effective step multiplier; 1 without BN), curv_frob_scale (mean over BN layers of
    (|W| / |W(0)|)^2, the engine's per-matrix multiplier); curv_rho, curv_rho_eff [P, K, F]; rho_factors [F]."""
    s, seeds = settings, [int(x) for x in seeds]
    model = model_spec(s)
    n_steps, probe_every, eval_every = schedule(s)
    lr_value = float(s["lr"])
    factors = [float(f) for f in s["rho_factors"]]
    spec = TrainSpec(model=model, data=s["data"], data_seed=int(s["data_seed"]), optimizer="sgd", lr=lr_value,
                     batch_size=int(s["batch_size"]), steps=n_steps, eval_every=eval_every)
    ds = data.load(spec.data, spec.data_seed)
    net = nets.StackedNet(model, ds.x.shape[1], ds.n_out, seeds)
    opt = engine.StackedOptimizer(spec)
    lr = torch.tensor([lr_value] * net.k, dtype=torch.float32)
    order = data.StackedOrder(ds.x.shape[0], spec.batch_size, seeds)
    names = list(net.params)
    w0 = {f"w{l}": unit_norms(net.params[f"w{l}"]).clamp_min(1e-30) for l in net.states} \
        if model.norm in PER_UNIT_INVARIANT else {}
    f0 = {n: frobenius_norms(net.params[n]).clamp_min(1e-30) for n in w0}

    train_loss = torch.full((n_steps, net.k), float("nan"))
    evals, rows, probe_steps = [], {}, []
    for t in range(n_steps):
        if t % eval_every == 0:
            evals.append((t, engine.evaluate(net, net.params, ds)))
        idx = order.next()
        xb, yb = engine._gather(ds.x, idx), engine._gather(ds.y, idx)
        if t % probe_every == 0:
            probe_steps.append(t)
            _probe(net, names, xb, yb, ds.task, w0, f0, [lr_value * f for f in factors], rows)
        losses = engine.train_step_losses(net, net.params, xb, yb, None, ds.task)
        train_loss[t] = losses.detach()
        steps_mod.nan_safe_step(net, opt, losses, lr)
    evals.append((n_steps, engine.evaluate(net, net.params, ds)))

    curve = train_loss.numpy()
    div = steps_mod.diverged_at(curve)
    alive = np.array([[(d < 0) or (st <= d) for d in div] for st, _ in evals])
    out = {"seeds": np.array(seeds), "lr": np.full(net.k, lr_value), "train_loss": curve, "diverged_at": div,
           "eval_step": np.array([st for st, _ in evals]), "probe_step": np.array(probe_steps, dtype=np.int64),
           "rho_factors": np.array(factors)}
    for key in evals[0][1]:
        v = np.stack([e[key] for _, e in evals]).astype(np.float64)
        v[~alive] = np.nan
        out["eval_" + key] = v
    for key, vals in rows.items():
        out["curv_" + key] = np.stack(vals)
    return out


def _probe(net, names, xb, yb, task, w0, f0, etas, rows) -> None:
    """One checkpoint's measures, appended to rows (float64 numpy, [K] or [K, F] each)."""
    def loss_fn(p):
        return engine.member_loss(task, net.forward(p, xb, train=True, update=False), yb)

    scales = unit_scales(net, net.params, w0)
    m = along_gradient(loss_fn, net.params, names, scales, etas)
    k = net.k
    unit = (torch.cat([sc.pow(2) for sc in scales.values()], 1).median(1).values if scales
            else torch.ones(k))
    frob = (torch.stack([(frobenius_norms(net.params[n]) / f0[n]).pow(2) for n in f0]).mean(0) if f0
            else torch.ones(k))
    got = {"loss": m["loss"], "g2": m["g2"], "gHg": m["gHg"], "kappa": m["kappa"], "g2_eff": m["g2_eff"],
           "vHv_eff": m["vHv_eff"], "kappa_eff": m["kappa_eff"], "unit_scale": unit, "frob_scale": frob,
           "rho": m["rho"], "rho_eff": m["rho_eff"]}
    for key, val in got.items():
        rows.setdefault(key, []).append(val.detach().double().numpy().copy())
