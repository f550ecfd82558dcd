"""Figure and extra builders over a runner.Result `r`: one band series per arm, seed bands, per-seed bars,
median-and-range series; for extra a secondary comparison and a table over a grid's rates."""
from __future__ import annotations

import numpy as np

from bnclaims.harness.declare.evidence import figure, series
from bnclaims.harness.run.checks import band, band_series


def _read(arrays, what):
    """what: a key of the arm's arrays, or a function of them."""
    return what(arrays) if callable(what) else arrays[what]


def arm_bands(r, x, y=None, *, arms=None, label=None) -> list:
    """One band series (median and 15-85% over seeds, thinned: checks.band_series) per arm of r.arrays, in their
    order, or of `arms`. x, y: keys of the arm's arrays or functions of them; with y None, x(arrays) returns the
    pair (x, curves [T, K]). label(arm): the series' label (default the arm's name)."""
    out = []
    for arm in (r.arrays if arms is None else arms):
        a = r.arrays[arm]
        xs, curves = _read(a, x) if y is None else (_read(a, x), _read(a, y))
        out.append(band_series(arm if label is None else label(arm), xs, curves))
    return out


def band_figure(r, fid: str, title: str, x, y=None, *, arms=None, label=None, **kw) -> dict:
    """A figure of arm_bands(r, x, y, ...); kw: figure's xlabel, ylabel, kind, logy."""
    return figure(fid, title, arm_bands(r, x, y, arms=arms, label=label), **kw)


def seed_band(label: str, x, curves) -> dict:
    """A series of the median and 15-85% band over seeds of curves [T, K] at every x: no thinning, and the
    curves' own dtype (checks.band_series thins and takes them in float64)."""
    med, lo, hi = band(curves)
    return series(label, x, med, lo, hi)


def strided_band(label: str, curves, points: int = 60) -> dict:
    """seed_band of a long per-step curve [T, K] at every max(1, T // points)-th step, x = the step index."""
    stride = max(1, curves.shape[0] // points)
    return seed_band(label, np.arange(curves.shape[0])[::stride], curves[::stride])


def seed_bars(fid: str, title: str, seeds, values: dict, **kw) -> dict:
    """A bar figure of one series per entry of values {label: per-seed values}, against the seeds."""
    return figure(fid, title, [series(k, seeds, v) for k, v in values.items()], xlabel="seed", kind="bar", **kw)


def spread_series(label: str, x, groups, centre=np.median) -> dict:
    """A series of centre (median by default), min and max of each group of per-seed values, one group per x."""
    return series(label, x, [float(centre(g)) for g in groups], [float(np.min(g)) for g in groups],
                  [float(np.max(g)) for g in groups])


def compared(r, values: dict, direction: str, x: str = "bn", y: str = "none") -> dict:
    """For extra: per-arm values and their secondary comparison (r.side_compare: the check's test and alpha,
    not gating), x against y in `direction`."""
    return {"values": values, "stats": r.side_compare(values[x], values[y], direction)}


def rate_table(r, measures: dict, lrs) -> dict:
    """For extra, over grid arms (r.runs[arm] = {lr: arrays}): {arm: {str(lr): {name: the seed-mean of
    measure(the arm's arrays at lr)}}} for each name, measure of `measures`."""
    return {arm: {str(lr): {k: float(np.mean(fn(r.runs[arm][lr]))) for k, fn in measures.items()} for lr in lrs}
            for arm in r.hyp.arms}
