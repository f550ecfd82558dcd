"""Squared weight-gradient norms per hidden layer of a deep MLP at initialization: one freshly drawn network,
one Gaussian batch with random labels, one forward/backward in training mode (Yang et al. 2019's setting).

settings: activation (relu | tanh | linear), bn (bool), init (he | default), batch, depth, width, d_in,
classes, bn_eps. No training, so no steps.
"""
from __future__ import annotations

import math

import numpy as np

ACTIVATIONS = ("relu", "tanh", "linear")


def draw(settings: dict, seed: int):
    """(inputs, labels, hidden weights, output weights) of one network, from one generator per seed.
    Linear layers have no bias; default init is torch.nn.Linear's U(+-1/sqrt(fan_in)), he is N(0, 2/fan_in)."""
    import torch
    g = torch.Generator().manual_seed(int(seed))
    d_in, width = int(settings["d_in"]), int(settings["width"])
    x = torch.randn(int(settings["batch"]), d_in, generator=g)
    labels = torch.randint(0, int(settings["classes"]), (int(settings["batch"]),), generator=g)
    ws, fan_in = [], d_in
    for _ in range(int(settings["depth"])):
        if settings["init"] == "he":
            w = torch.randn(width, fan_in, generator=g) * math.sqrt(2.0 / fan_in)
        else:
            w = (torch.rand(width, fan_in, generator=g) * 2 - 1) / math.sqrt(fan_in)
        ws.append(w)
        fan_in = width
    w_out = (torch.rand(int(settings["classes"]), width, generator=g) * 2 - 1) / math.sqrt(width)
    return x, labels, ws, w_out


def sq_norms(settings: dict, seed: int) -> np.ndarray:
    """|dL/dW_l|_F^2 for every hidden layer l (first to last), cross-entropy loss; BN without gamma/beta."""
    import torch
    import torch.nn.functional as F

    from .. import engine  # noqa: F401  (sets one torch thread per process)
    if settings["activation"] not in ACTIVATIONS:
        raise ValueError(f"unknown activation {settings['activation']!r}; choose one of {', '.join(ACTIVATIONS)}")
    act = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}[settings["activation"]]
    x, labels, ws, w_out = draw(settings, seed)
    ws = [w.requires_grad_(True) for w in ws]
    h = x
    for w in ws:
        z = h @ w.T
        if settings["bn"]:
            z = F.batch_norm(z, None, None, training=True, eps=float(settings["bn_eps"]))
        h = act(z)
    loss = F.cross_entropy(h @ w_out.T, labels)
    grads = torch.autograd.grad(loss, ws)
    return np.array([float(gr.double().pow(2).sum()) for gr in grads])


def run(settings: dict, seeds: list[int]) -> dict:
    """{"sq_norms": [seeds, depth]}."""
    return {"sq_norms": np.stack([sq_norms(settings, s) for s in seeds])}
