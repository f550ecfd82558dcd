"""What the routines that train a stacked MLP outside the engine share: one SGD step that a diverged seed cannot
spoil, and where each seed's loss curve first stopped being finite. (Their store keys hash this module too.)"""
from __future__ import annotations

import numpy as np
import torch


def nan_safe_step(net, opt, losses: torch.Tensor, lr: torch.Tensor) -> None:
    """One optimizer step of every member on the gradient of its loss; a diverged member's NaN or inf gradient
    counts as zero, so its loss stays NaN while the others go on (the engine instead sets its rate to 0)."""
    names = list(net.params)
    grads = torch.autograd.grad(losses.sum(), [net.params[n] for n in names])
    with torch.no_grad():
        grads = {n: torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) for n, g in zip(names, grads)}
        for n, d in opt.deltas(net.params, grads, lr, commit=True).items():
            net.params[n].add_(d)


def diverged_at(curve: np.ndarray) -> np.ndarray:
    """[K] first step whose loss (curve [T, K]) is not finite, -1 for a seed that never diverged."""
    finite = np.isfinite(curve)
    return np.where(finite.all(0), -1, np.argmin(finite, 0)).astype(np.int64)
