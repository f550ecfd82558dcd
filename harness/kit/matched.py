"""Reading a per-probe measure where the arms have the same training loss, not after the same steps: a loss
index per probe, the probes in a loss band, and a log measure interpolated where the loss first reaches a level."""
from __future__ import annotations

import numpy as np


def loss_index(arrays, window: int) -> np.ndarray:
    """[P, K]: mean mini-batch training loss over the `window` steps ending at each probe step (the probe at t
    reads the parameters of step t, whose loss is train_loss[t]); NaN once a seed diverged."""
    tl = np.asarray(arrays["train_loss"], dtype=np.float64)
    return np.stack([tl[max(0, int(t) - window + 1):int(t) + 1].mean(0) for t in arrays["probe_step"]])


def in_band(arrays, band, window: int) -> np.ndarray:
    """[P, K]: the probes whose loss index (loss_index over `window` steps) lies in band = [lo, hi]."""
    li = loss_index(arrays, window)
    with np.errstate(invalid="ignore"):
        return (li >= band[0]) & (li <= band[1])


def read_at_loss(loss, q, level: float):
    """Per seed (columns of loss, q [P, K]): log q where the loss curve first reaches `level`, interpolated
    linearly in loss between the probes on either side (log q linear in loss); (values [K], ok [K]). A seed
    whose loss never reaches the level, or whose bracketing q is not finite and positive, is read at its
    last probe with a finite positive q (NaN if none) and ok False."""
    loss, q = np.asarray(loss, float), np.asarray(q, float)
    lq = np.log(np.where(q > 0, q, np.nan))
    vals, ok = np.full(loss.shape[1], np.nan), np.zeros(loss.shape[1], bool)
    for k in range(loss.shape[1]):
        hit = np.flatnonzero(loss[:, k] <= level)
        if hit.size:
            p = hit[0]
            if p == 0 and np.isfinite(lq[0, k]):
                vals[k], ok[k] = lq[0, k], True
                continue
            if p > 0 and np.isfinite(lq[p - 1, k]) and np.isfinite(lq[p, k]):
                w = (loss[p - 1, k] - level) / (loss[p - 1, k] - loss[p, k])
                vals[k], ok[k] = (1 - w) * lq[p - 1, k] + w * lq[p, k], True
                continue
        good = np.flatnonzero(np.isfinite(lq[:, k]))
        if good.size:
            vals[k] = lq[good[-1], k]
    return vals, ok


def band_steps(arrays, band, window: int) -> dict:
    """{first, last}: per seed the first and last probe step whose loss index lies in `band` (None: no probe)."""
    steps, inside = arrays["probe_step"], in_band(arrays, band, window).T
    return {"first": [int(steps[m].min()) if m.any() else None for m in inside],
            "last": [int(steps[m].max()) if m.any() else None for m in inside]}
