"""Normalization layers on a stacked layout: activations [K, H, B] (seed, unit, sample).

Standard BN runs through F.batch_norm on a [1, K*H, B] view of that contiguous tensor (no copy),
so each seed's running statistics are exact and the kernel is the one torch uses. Noisy BN (Santurkar et al. 2018, Alg. 1), ghost
BN (Hoffer et al. 2017) and lp normalization (Santurkar Sec. 3.3) are written out here. K = 1
gives the per-seed layer used by the reference engine. LayerNorm (Ba et al. 2016) normalizes each
sample over its units instead and keeps no running statistics; GroupNorm (Wu & He 2018) does so over
groups of units. Two arms separate BN's mechanisms: weight normalization with mean-only BN (Salimans &
Kingma 2016), which keeps the centring but scales by the weights instead of by batch statistics, and BN
with population statistics in training (`bn_pop`), which keeps the normalization but removes the batch
noise: every sample is normalized by the running statistics of earlier batches, so no sample's output
depends on the others in its batch, and the statistics are constants to the gradient.

Two knock-out arms remove one part of BN each, so a check can show that its effect needs that part:
`affine_only` keeps BN's parameters (gamma = 1, beta = 0 at init, no bias before it) and applies z gamma + beta
with no normalization at all; `bn_detach` normalizes with the batch's own statistics in the forward pass but
treats them as constants in the backward pass (no gradient through the mean and variance, the terms that
Santurkar et al. 2018, Thm. 4.1, credit for the smoother landscape).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


class NormState:
    """Running statistics of one normalized layer for K seeds, flat [K*H] as F.batch_norm wants."""

    def __init__(self, k: int, h: int):
        self.mean = torch.zeros(k * h)
        self.var = torch.ones(k * h)     # for lp norms: the running scale


def _flat(p):
    return None if p is None else p.reshape(-1)


def batch_norm(z, state, gamma, beta, *, train, update, momentum, eps):
    """z [K, H, B] -> normalized [K, H, B]; statistics per seed and unit over B."""
    k, h, b = z.shape
    z2 = z.view(1, k * h, b)
    if train:
        out = F.batch_norm(z2, state.mean if update else None, state.var if update else None,
                           _flat(gamma), _flat(beta), training=True, momentum=momentum, eps=eps)
    else:
        out = F.batch_norm(z2, state.mean, state.var, _flat(gamma), _flat(beta),
                           training=False, eps=eps)
    return out.view(k, h, b)


def ghost_batch_norm(z, state, gamma, beta, *, ghost, train, update, momentum, eps):
    """Statistics over consecutive sub-batches of size `ghost` within the optimizer batch."""
    k, h, b = z.shape
    if not train:
        return batch_norm(z, state, gamma, beta, train=False, update=False, momentum=momentum, eps=eps)
    if b % ghost:
        raise ValueError(f"batch {b} is not a multiple of the ghost batch size {ghost}")
    # Each ghost batch is a channel of a [1, K*H*(B/G), G] view (no copy), so F.batch_norm's kernel
    # computes every ghost batch's statistics at once. With update, the kernel also hands them back: buffers
    # updated with momentum 1 hold each ghost batch's mean and unbiased variance (torch.var_mean over the
    # size-G axis costs 5x the normalization itself).
    n = k * h * (b // ghost)
    mu, var = (torch.zeros(n, device=z.device), torch.ones(n, device=z.device)) if update else (None, None)
    out = F.batch_norm(z.reshape(1, n, ghost), mu, var, training=True, momentum=1.0, eps=eps).view(k, h, b)
    if update:
        with torch.no_grad():   # average of the ghost batches' statistics, unbiased variance as BN does
            state.mean.mul_(1 - momentum).add_(mu.view(k, h, -1).mean(2).reshape(-1), alpha=momentum)
            state.var.mul_(1 - momentum).add_(var.view(k, h, -1).mean(2).reshape(-1), alpha=momentum)
    return _affine(out, gamma, beta)


def lp_norm(z, state, gamma, beta, *, p, train, update, momentum, eps):
    """Subtract the batch mean, divide by the batch average lp magnitude (per unit)."""
    if train:
        mu = z.mean(2, keepdim=True)
        c = z - mu
        if p == 1:
            scale = c.abs().mean(2, keepdim=True)
        elif p == 2:
            scale = c.pow(2).mean(2, keepdim=True).sqrt()
        else:
            scale = c.abs().amax(2, keepdim=True)
        if update:
            with torch.no_grad():
                state.mean.mul_(1 - momentum).add_(mu.reshape(-1), alpha=momentum)
                state.var.mul_(1 - momentum).add_(scale.reshape(-1), alpha=momentum)
    else:
        k, h, _ = z.shape
        c = z - state.mean.view(k, h, 1)
        scale = state.var.view(k, h, 1)
    return _affine(c / (scale + eps), gamma, beta)


def layer_norm(z, gamma, beta, *, eps):
    """z [K, H, B] -> [K, H, B]; statistics per seed and sample over the H units, the same in train and eval."""
    # F.layer_norm normalizes the last axis: run it on the [K, B, H] view; gamma/beta differ per seed,
    # so the affine is applied after it rather than passed as its (shared) weight.
    out = F.layer_norm(z.transpose(1, 2), z.shape[1:2], eps=eps).transpose(1, 2)
    return _affine(out, gamma, beta)


def group_norm(z, gamma, beta, *, groups, eps):
    """z [K, H, B]; statistics per seed, sample and group of H/groups consecutive units (as nn.GroupNorm)."""
    k, h, b = z.shape
    out = F.group_norm(z.transpose(1, 2).reshape(k * b, h), groups, eps=eps).view(k, b, h).transpose(1, 2)
    return _affine(out, gamma, beta)


def population_batch_norm(z, state, gamma, beta, *, train, update, momentum, eps):
    """Normalize with the running statistics (those of earlier batches, constants to the gradient), in
    training as in eval; in training the batch's statistics then update them exactly as BN's would."""
    k, h, b = z.shape
    z2 = z.view(1, k * h, b)
    mean, var = state.mean, state.var
    out = F.batch_norm(z2, mean, var, _flat(gamma), _flat(beta), training=False, eps=eps)
    if train and update:
        with torch.no_grad():     # new tensors: the ones above are saved for the backward pass
            new_mean, new_var = mean.clone(), var.clone()
            F.batch_norm(z2.detach(), new_mean, new_var, training=True, momentum=momentum, eps=eps)
            state.mean, state.var = new_mean, new_var
    return out.view(k, h, b)


def detached_batch_norm(z, state, gamma, beta, *, train, update, momentum, eps):
    """BN whose batch statistics are constants to the gradient: the forward pass is BN's (biased variance over
    the batch, running statistics updated with the unbiased one), the backward pass sees (z - m) / s with m, s
    fixed. Eval normalizes with the running statistics, as BN does."""
    if not train:
        return batch_norm(z, state, gamma, beta, train=False, update=False, momentum=momentum, eps=eps)
    k, h, b = z.shape
    with torch.no_grad():
        var, mu = torch.var_mean(z, dim=2, keepdim=True, unbiased=False)
        if update:
            state.mean.mul_(1 - momentum).add_(mu.reshape(-1), alpha=momentum)
            state.var.mul_(1 - momentum).add_((var * (b / max(b - 1, 1))).reshape(-1), alpha=momentum)
        inv = torch.rsqrt(var + eps)
    return _affine((z - mu) * inv, gamma, beta)


def affine_only(z, gamma, beta):
    """z gamma + beta per unit: BN's learned scale and shift with the normalization skipped (train = eval)."""
    return _affine(z, gamma, beta)


def mean_only_batch_norm(t, state, beta, *, train, update, momentum):
    """Salimans & Kingma 2016, Sec. 2.2: subtract the batch mean (eval: the running mean), add a bias; no
    division. `t` [K, H, B] is the weight-normalized layer's output."""
    k, h, _ = t.shape
    if train:
        mu = t.mean(2, keepdim=True)
        if update:
            with torch.no_grad():
                state.mean = state.mean * (1 - momentum) + mu.detach().reshape(-1) * momentum
    else:
        mu = state.mean.view(k, h, 1)
    return t - mu + beta.unsqueeze(2)


def weight_norm_scale(w, g):
    """Per-unit factor g / |v| that turns v x into the weight-normalized layer's output ([K, H])."""
    return g / w.norm(dim=2)


def _affine(x, gamma, beta):
    if gamma is None:
        return x
    return x * gamma.unsqueeze(2) + beta.unsqueeze(2)


def draw_noise(gen: torch.Generator, n_layers: int, b: int, h: int, cfg) -> torch.Tensor:
    """Santurkar Alg. 1 noise for one seed and step: [n_layers, 2, B, H] (scale, shift).

    Per unit: mu_t ~ U(-n_mu, n_mu), sigma_t ~ U(1, n_sigma); per sample and unit:
    shift ~ U(mu_t - r_mu, mu_t + r_mu), scale ~ N(sigma_t, r_sigma) (r_sigma read as a std).
    """
    n_mu, n_sigma, r_mu, r_sigma = cfg
    u = torch.rand(n_layers, 2 + b, h, generator=gen)
    z = torch.randn(n_layers, b, h, generator=gen)
    mu_t = (2 * u[:, 0:1] - 1) * n_mu
    sigma_t = 1 + u[:, 1:2] * (n_sigma - 1)
    shift = mu_t + (2 * u[:, 2:] - 1) * r_mu
    scale = sigma_t + r_sigma * z
    return torch.stack([scale, shift], 1)


def apply_norm(kind, z, state, gamma, beta, *, train, update, momentum, eps, ghost=0, noise=None, groups=8,
               wscale=None):
    """Dispatch on the spec's norm name; z is [K, H, B]; `noise` is [K, 2, B, H] for noisy_bn in training;
    `wscale` [K, H] is wn_mobn's g / |v| (gamma is then that g and plays no further part)."""
    if kind in ("bn", "bn_noaffine", "noisy_bn"):
        out = batch_norm(z, state, gamma, beta, train=train, update=update, momentum=momentum, eps=eps)
        if kind == "noisy_bn" and train:
            out = out * noise[:, 0].transpose(1, 2) + noise[:, 1].transpose(1, 2)
        return out
    if kind == "noisy_none":      # Santurkar's noise in the plain net: no normalization at all
        return z * noise[:, 0].transpose(1, 2) + noise[:, 1].transpose(1, 2) if train else z
    if kind == "ghost_bn":
        return ghost_batch_norm(z, state, gamma, beta, ghost=ghost, train=train, update=update,
                                momentum=momentum, eps=eps)
    if kind in ("l1", "l2", "linf"):
        p = {"l1": 1, "l2": 2, "linf": float("inf")}[kind]
        return lp_norm(z, state, gamma, beta, p=p, train=train, update=update, momentum=momentum, eps=eps)
    if kind == "ln":
        return layer_norm(z, gamma, beta, eps=eps)
    if kind == "gn":
        return group_norm(z, gamma, beta, groups=groups, eps=eps)
    if kind == "bn_pop":
        return population_batch_norm(z, state, gamma, beta, train=train, update=update, momentum=momentum, eps=eps)
    if kind == "wn_mobn":
        return mean_only_batch_norm(z * wscale.unsqueeze(2), state, beta, train=train, update=update,
                                    momentum=momentum)
    if kind == "affine_only":
        return affine_only(z, gamma, beta)
    if kind == "bn_detach":
        return detached_batch_norm(z, state, gamma, beta, train=train, update=update, momentum=momentum, eps=eps)
    raise ValueError(f"unknown norm {kind!r}")
