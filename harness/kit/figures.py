"""Figure and extra pieces over a runner.Result `r` (band series per arm, seed bands and bars, scatters, tables
over a grid's rates), and builders that return a hypothesis's figures(r) or extra(r) from a declaration of what
to draw (bands_figure, layer_figure, matched_figure, rate_figure, arm_extra), so a claim need not write one out."""
from __future__ import annotations

import numpy as np

from bnclaims.harness.declare.evidence import figure, panels, series
from bnclaims.harness.kit.matched import loss_index
from bnclaims.harness.run.checks import CHANCE_LOSS, band, band_series, finite_or


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


def _arms_of(r, arms):
    """arms: None (every arm of r.arrays), "declared" (the hypothesis's own arms, without context arms) or a tuple."""
    return r.hyp.arms if arms == "declared" else arms


def bands_figure(fid: str, title: str, x, y=None, *, arms=None, label=None, **kw):
    """The figures(r) of a hypothesis whose one figure is band_figure(r, fid, title, x, y, ...): declared, not
    written out. arms: as _arms_of; label(r, arm): the series' label; kw: xlabel, ylabel, kind, logy."""
    def figures(r):
        lab = None if label is None else (lambda arm: label(r, arm))
        return [band_figure(r, fid, title, x, y, arms=_arms_of(r, arms), label=lab, **kw)]
    return figures


def layer_panels(r, fid: str, title: str, layers, xy, ylabel: str, *, arms=None, logy: bool = False) -> dict:
    """Panels, one per probed layer j: per arm the band over seeds of xy(arrays) = (x, curves [T, K, layers]) at
    layer j. layers: the probed layers' 0-based indices (the panels say 'hidden layer i + 1')."""
    def at(j):
        def read(a):
            x, c = xy(a)
            return x, c[:, :, j]
        return read
    return panels(fid, title, [band_figure(r, f"{fid}-l{layer}", f"hidden layer {layer + 1}", at(j),
                                           arms=_arms_of(r, arms), xlabel="step", ylabel=ylabel, logy=logy)
                               for j, layer in enumerate(layers)])


def layer_figure(fid: str, title: str, layers, xy, ylabel: str, *, arms=None, logy: bool = False):
    """The figures(r) of one layer_panels: declared, not written out."""
    def figures(r):
        return [layer_panels(r, fid, title, layers, xy, ylabel, arms=arms, logy=logy)]
    return figures


def per_arm(r, measure, **params) -> dict:
    """{arm: measure(arrays, **params)} over the arms of r.arrays (context arms included)."""
    return {arm: measure(a, **params) for arm, a in r.arrays.items()}


def arm_extra(**measures):
    """The extra(r) of per-seed values per arm: {name: per_arm(r, measure)} for each name=measure given."""
    def extra(r):
        return {name: per_arm(r, fn) for name, fn in measures.items()}
    return extra


def by_rate_figure(r, measure, fid: str, title: str, ylabel: str, lrs) -> dict:
    """Over grid arms (r.runs[arm] = {lr: arrays}, the hypothesis's arms): per arm the band over seeds of
    measure(arrays at lr) against log10 of the rate."""
    ser = [seed_band(arm, np.log10(lrs), np.stack([measure(r.runs[arm][lr]) for lr in lrs])) for arm in r.hyp.arms]
    return figure(fid, title, ser, xlabel="log10 learning rate", ylabel=ylabel)


def value_bars(r, fid: str, title: str, seeds=None, **kw) -> dict:
    """seed_bars of the check's own per-seed values (r.values) for each of the hypothesis's arms. seeds: the bars'
    labels (default str of r.seeds); kw: ylabel, logy."""
    labels = [str(s) for s in r.seeds] if seeds is None else seeds
    return seed_bars(fid, title, labels, {a: r.values[a] for a in r.hyp.arms}, **kw)


def block_band(label: str, curves, blocks: int = 50, fill: float = CHANCE_LOSS) -> dict:
    """seed_band of a long per-step curve [T, K] averaged over about `blocks` equal blocks of steps (the tail
    that does not fill a block is dropped), x = each block's centre step; a non-finite step counts as `fill`."""
    t = curves.shape[0]
    w = max(t // blocks, 1)
    n = t // w
    means = finite_or(curves[: n * w], fill).reshape(n, w, -1).mean(1)
    return seed_band(label, (np.arange(n) * w + w / 2).tolist(), means)


def unit_scatter(fid: str, title: str, x, y, lines=(), *, points: int = 60, **kw) -> dict:
    """A scatter of one seed's per-unit values y against x [H], every max(1, H // points)-th unit (a readable
    cloud), plus reference lines given as (label, xs, ys) through their end points. kw: xlabel, ylabel."""
    step = max(1, len(x) // points)
    ref = [series(label, xs, ys) for label, xs, ys in lines]
    return figure(fid, title, [series("units", x[::step], y[::step]), *ref], kind="scatter", **kw)


def level_scatter(fid: str, title: str, levels: dict, values: dict, **kw) -> dict:
    """Every seed's value against its arm's numeric level (e.g. a batch size), and the median per level: levels
    {arm: x}, values {arm: per-seed values}, in the order of levels. kw: xlabel, ylabel."""
    xs = [levels[arm] for arm in levels for _ in values[arm]]
    ys = [v for arm in levels for v in values[arm]]
    med = [float(np.median(values[arm])) for arm in levels]
    return figure(fid, title, [series("seeds", xs, ys), series("median", list(levels.values()), med)],
                  kind="scatter", **kw)


def matched_figure(fid: str, title: str, ylabel: str, values_of, band, window: int):
    """The figures(r) of a read at matched training loss: per arm the band over seeds of a per-probe quantity,
    values_of(arrays) = (steps, values [P, K]), on a log scale, beside the loss index (kit.matched.loss_index over
    `window` steps) that picks the probes in `band`."""
    def figures(r):
        figs = [band_figure(r, f"{fid}-q", title, values_of, xlabel="step", ylabel=ylabel, logy=True),
                band_figure(r, f"{fid}-loss", f"loss index (mean mini-batch loss, {window} steps); band {list(band)}",
                            "probe_step", lambda a: loss_index(a, window), xlabel="step",
                            ylabel="training loss (nats)")]
        return [panels(fid, title, figs)]
    return figures


def rate_figure(fid: str, title: str, ylabel: str, measure, lrs):
    """The figures(r) of one by_rate_figure over grid arms: declared, not written out."""
    def figures(r):
        return [by_rate_figure(r, measure, fid, title, ylabel, lrs)]
    return figures
