"""Model families: the stacked K-seed MLP / deep linear net, and per-seed nn.Module references.

Initial weights come from `init_params(model, d_in, d_out, seed)`, one generator per seed,
drawn in a fixed order (a bias is drawn even where a norm layer drops it), so a BN arm and a
no-BN arm with the same seed start from the same Linear weights and can be paired.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import norms
from .data import generator
from .spec import NOISY_NORMS, ModelSpec

ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "linear": lambda x: x}
ACT_MODULE = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}


def layer_dims(m: ModelSpec, d_in: int, d_out: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every linear layer, output layer last."""
    if m.arch == "dln":      # depth square layers; all but the last count as hidden
        return [(d_in, d_in)] * m.depth
    dims = [d_in] + [m.width] * m.depth + [d_out]
    return list(zip(dims[:-1], dims[1:]))


def init_params(m: ModelSpec, d_in: int, d_out: int, seed: int) -> list[dict]:
    """One seed's weights: per layer {"w": [fan_out, fan_in], "b": [fan_out]} (nn.Linear layout)."""
    g = generator(seed, "init")
    out = []
    for fi, fo in layer_dims(m, d_in, d_out):
        if m.init == "default":
            bound = 1 / math.sqrt(fi)
            w = (torch.rand(fo, fi, generator=g) * 2 - 1) * bound
            b = (torch.rand(fo, generator=g) * 2 - 1) * bound
        else:
            std = {"he": math.sqrt(2 / fi), "glorot": math.sqrt(2 / (fi + fo)),
                   "small_gaussian": m.init_std}[m.init]
            w = torch.randn(fo, fi, generator=g) * std
            b = torch.randn(fo, generator=g) * 0.0
        out.append({"w": w, "b": b})
    return out


def n_hidden(m: ModelSpec) -> int:
    return m.depth - 1 if m.arch == "dln" else m.depth


def layer_has_bias(m: ModelSpec, l: int) -> bool:
    if l < n_hidden(m):
        return m.has_bias(l)
    return m.bias if m.bias is not None else m.arch != "dln"   # output layer


class StackedNet:
    """K seeds of one MLP/DLN spec as stacked tensors: W [K, out, in], b [K, out, 1], gamma/beta [K, H].

    Activations are kept as [K, H, B], so every matmul, norm and nonlinearity runs on contiguous memory.

    `params` is an ordered dict of leaf tensors; `forward` is functional in the parameters so probes
    can evaluate the loss at modified parameters without touching the training state.
    """

    def __init__(self, m: ModelSpec, d_in: int, d_out: int, seeds: list[int]):
        if m.arch == "cnn":
            raise ValueError("the batched engine covers MLP and deep linear specs; use the reference engine for the CNN")
        self.m, self.k = m, len(seeds)
        per_seed = [init_params(m, d_in, d_out, s) for s in seeds]
        self.n_layers = len(per_seed[0])
        self.hidden = n_hidden(m)
        self.params: dict[str, torch.Tensor] = {}
        self.states: dict[int, norms.NormState] = {}
        for l in range(self.n_layers):
            self.params[f"w{l}"] = torch.stack([p[l]["w"] for p in per_seed])
            if self._bias(l):
                self.params[f"b{l}"] = torch.stack([p[l]["b"] for p in per_seed]).unsqueeze(2)
            if l < self.hidden and m.normed(l):
                h = per_seed[0][l]["w"].shape[0]
                self.states[l] = norms.NormState(self.k, h)
                if m.norm == "wn_mobn":     # g = |v| per unit: the initial weights are the plain net's
                    self.params[f"g{l}"] = self.params[f"w{l}"].norm(dim=2).clone()
                    self.params[f"be{l}"] = torch.zeros(self.k, h)
                elif m.norm not in ("bn_noaffine", "noisy_none"):
                    self.params[f"g{l}"] = torch.ones(self.k, h)
                    self.params[f"be{l}"] = torch.zeros(self.k, h)
        for p in self.params.values():
            p.requires_grad_(True)

    def _bias(self, l: int) -> bool:
        return layer_has_bias(self.m, l)

    def to(self, device) -> "StackedNet":
        if torch.device(device).type != "cpu":
            self.params = {n: p.detach().to(device).requires_grad_(True) for n, p in self.params.items()}
            for st in self.states.values():
                st.mean, st.var = st.mean.to(device), st.var.to(device)
        return self

    def layer_of(self, name: str) -> int:
        return int(name.lstrip("wbge"))

    def forward(self, params, x, *, train=True, update=False, noise=None, record=None):
        """x [K, B, D] -> output [K, B, d_out]. `record` (a list) receives (pre-norm, post-norm) per
        hidden layer, each [K, B, H]."""
        m, h = self.m, x.transpose(1, 2)
        act = ACT[m.activation]
        for l in range(self.n_layers):
            b = params.get(f"b{l}")
            z = torch.baddbmm(b, params[f"w{l}"], h) if b is not None else torch.bmm(params[f"w{l}"], h)
            if l == self.n_layers - 1:
                return z.transpose(1, 2)
            zn = z
            if l in self.states:
                wscale = norms.weight_norm_scale(params[f"w{l}"], params[f"g{l}"]) if m.norm == "wn_mobn" else None
                zn = norms.apply_norm(m.norm, z, self.states[l], params.get(f"g{l}"), params.get(f"be{l}"),
                                      train=train, update=update, momentum=m.bn_momentum, eps=m.bn_eps,
                                      ghost=m.ghost_size, noise=None if noise is None else noise[l],
                                      groups=m.n_groups, wscale=wscale)
            if record is not None:
                record.append((z.transpose(1, 2), zn.transpose(1, 2)))
            h = act(zn)

    def noise_layers(self) -> list[int]:
        return [l for l in self.states] if self.m.norm in NOISY_NORMS else []


# ---------------------------------------------------------------- per-seed reference modules

class _StackedNormModule(nn.Module):
    """A norm layer for one seed reusing the stacked functions with K = 1 (noisy, ghost, lp)."""

    def __init__(self, m: ModelSpec, h: int):
        super().__init__()
        self.m, self.state = m, norms.NormState(1, h)
        self.weight = nn.Parameter(torch.ones(h))
        self.bias = nn.Parameter(torch.zeros(h))
        self.noise = None        # set by the trainer each step for noisy_bn

    def forward(self, z):
        m = self.m
        out = norms.apply_norm(m.norm, z.T.unsqueeze(0), self.state, self.weight.unsqueeze(0),
                               self.bias.unsqueeze(0), train=self.training, update=self.training,
                               momentum=m.bn_momentum, eps=m.bn_eps, ghost=m.ghost_size,
                               noise=None if self.noise is None else self.noise.unsqueeze(0))
        return out.squeeze(0).T


class PopulationBatchNorm1d(nn.BatchNorm1d):
    """nn.BatchNorm1d that normalizes with its running statistics in training too (eval-mode BN), while each
    training batch updates them as BN does: the reference for the `bn_pop` arm."""

    def forward(self, x):
        out = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False,
                           eps=self.eps)
        if self.training:
            with torch.no_grad():
                rm, rv = self.running_mean.clone(), self.running_var.clone()
                F.batch_norm(x.detach(), rm, rv, training=True, momentum=self.momentum, eps=self.eps)
                self.running_mean, self.running_var = rm, rv
        return out


class MeanOnlyBatchNorm1d(nn.Module):
    """Salimans & Kingma 2016: subtract the batch mean (eval: a running mean), add a learned bias."""

    def __init__(self, h: int, momentum: float):
        super().__init__()
        self.momentum = momentum
        self.bias = nn.Parameter(torch.zeros(h))
        self.register_buffer("running_mean", torch.zeros(h))

    def forward(self, t):
        if self.training:
            mu = t.mean(0)
            with torch.no_grad():
                self.running_mean = self.running_mean * (1 - self.momentum) + mu.detach() * self.momentum
        else:
            mu = self.running_mean
        return t - mu + self.bias


def reference_mlp(m: ModelSpec, d_in: int, d_out: int, seed: int) -> nn.Sequential:
    """nn.Linear / nn.BatchNorm1d, nn.LayerNorm or nn.GroupNorm / activation, weights from init_params
    (the same as the stacked net); wn_mobn: torch's weight_norm parametrization of the Linear."""
    per = init_params(m, d_in, d_out, seed)
    layers: list[nn.Module] = []
    for l, p in enumerate(per):
        fo, fi = p["w"].shape
        lin = nn.Linear(fi, fo, bias=layer_has_bias(m, l))
        with torch.no_grad():
            lin.weight.copy_(p["w"])
            if lin.bias is not None:
                lin.bias.copy_(p["b"])
        wn = l < n_hidden(m) and m.normed(l) and m.norm == "wn_mobn"
        layers.append(nn.utils.parametrizations.weight_norm(lin, dim=0) if wn else lin)
        if l < n_hidden(m):
            if m.normed(l):
                if m.norm in ("bn", "bn_noaffine"):
                    layers.append(nn.BatchNorm1d(fo, eps=m.bn_eps, momentum=m.bn_momentum,
                                                 affine=m.norm == "bn"))
                elif m.norm == "bn_pop":
                    layers.append(PopulationBatchNorm1d(fo, eps=m.bn_eps, momentum=m.bn_momentum))
                elif m.norm == "wn_mobn":
                    layers.append(MeanOnlyBatchNorm1d(fo, m.bn_momentum))
                elif m.norm == "ln":
                    layers.append(nn.LayerNorm(fo, eps=m.bn_eps))
                elif m.norm == "gn":
                    layers.append(nn.GroupNorm(m.n_groups, fo, eps=m.bn_eps))
                else:
                    layers.append(_StackedNormModule(m, fo))
            layers.append(ACT_MODULE[m.activation]())
    return nn.Sequential(*layers)


class MNIST1DCNN(nn.Module):
    """The small 1D CNN of the MNIST-1D paper: 3 conv layers of 25 channels, ReLU, Linear(125, 10)."""

    def __init__(self, m: ModelSpec, d_out: int = 10):
        super().__init__()
        bn = m.norm in ("bn", "bn_noaffine")
        self.convs = nn.ModuleList([nn.Conv1d(1, 25, 5, 2, 1), nn.Conv1d(25, 25, 3, 2, 1), nn.Conv1d(25, 25, 3, 2, 1)])
        self.norms = nn.ModuleList([nn.BatchNorm1d(25, affine=m.norm == "bn") if bn else nn.Identity()
                                    for _ in self.convs])
        self.act = ACT_MODULE[m.activation]()
        self.linear = nn.Linear(125, d_out)

    def forward(self, x):
        h = x.unsqueeze(1)
        for conv, nm in zip(self.convs, self.norms):
            h = self.act(nm(conv(h)))
        return self.linear(h.flatten(1))


def reference_model(m: ModelSpec, d_in: int, d_out: int, seed: int) -> nn.Module:
    if m.arch == "cnn":
        with torch.random.fork_rng():      # torch's own default init, seeded, global RNG left untouched
            torch.manual_seed(seed)
            return MNIST1DCNN(m, d_out)
    return reference_mlp(m, d_in, d_out, seed)


def loss_fn(task: str):
    if task == "regression":   # squared error summed over outputs, mean over samples (Santurkar App. A.1)
        return lambda out, y: (out - y).pow(2).sum(-1).mean()
    return F.cross_entropy
