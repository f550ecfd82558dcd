"""Calibration of a classifier's logits: NLL at a temperature, temperature scaling (Guo et al. 2017) and the
expected calibration error; calibration(arrays) reads them per seed from a run that kept its final logits on the
validation split and the test set."""
from __future__ import annotations

import numpy as np

from bnclaims.harness.kit.reductions import LN10


def nll(logits, y, t: float) -> float:
    """Mean negative log-likelihood of softmax(logits / t) at the labels y."""
    z = logits / t
    z = z - z.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))


def fit_temperature(logits, y) -> float:
    """The temperature T > 0 minimizing the NLL of softmax(logits / T) (Guo et al. 2017), on log T in [-4, 4]."""
    from scipy.optimize import minimize_scalar
    return float(np.exp(minimize_scalar(lambda lt: nll(logits, y, np.exp(lt)), bounds=(-4, 4),
                                        method="bounded", options={"xatol": 1e-4}).x))


def ece(logits, y, t: float = 1.0, bins: int = 15) -> float:
    """Expected calibration error of softmax(logits / T): |accuracy - confidence| over 15 equal-width bins."""
    z = logits / t
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    conf, hit = p.max(1), (p.argmax(1) == y).astype(float)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(hit[idx == b].mean() - conf[idx == b].mean()) * np.mean(idx == b)
                     for b in range(bins) if np.any(idx == b)))


def calibration(arrays) -> dict:
    """Per seed: temperature (fit on the validation split), test NLL at T = 1 and at T, ECE at both."""
    out = {"T": [], "nll": [], "nll_T": [], "ece": [], "ece_T": []}
    for lv, yv, lt, yt in zip(arrays["final_val_logits"], arrays["final_val_labels"], arrays["final_test_logits"],
                              arrays["final_test_labels"]):
        lv, lt = lv.astype(np.float64), lt.astype(np.float64)
        if not (np.all(np.isfinite(lv)) and np.all(np.isfinite(lt))):     # diverged: chance, uncalibrated
            for k, v in (("T", np.nan), ("nll", LN10), ("nll_T", LN10), ("ece", np.nan), ("ece_T", np.nan)):
                out[k].append(v)
            continue
        t = fit_temperature(lv, yv.astype(int))
        yt = yt.astype(int)
        out["T"].append(t)
        out["nll"].append(nll(lt, yt, 1.0))
        out["nll_T"].append(nll(lt, yt, t))
        out["ece"].append(ece(lt, yt))
        out["ece_T"].append(ece(lt, yt, t))
    return {k: np.asarray(v, float) for k, v in out.items()}
