"""The article's side statements as exploratory checks (issue 24), registered before they ran.

Depth (sub-claim C2.4; article statement 9): BN's benefit is said to hold mainly in shallow networks, and deep
networks may fail to train with a small probability. The article's "about 20 layers" has no primary source we could
find (dossier 5.7 (i)): no depth threshold is hard-coded here, only directions over depths 4-64.

gamma/beta as a check-point (sub-claim C3.3; article statement 10, after Goodfellow, Bengio & Courville, Deep Learning,
Sec. 8.7.1): with BN's scale and shift, two parameters carry the effect of the earlier layers' weight changes, which
is said to make convergence much faster and careful initialization and tuning unnecessary. The construct that
isolates gamma/beta is BN with them (bn) against BN without them (bn_noaffine); the plain network (none) says how
much normalization alone already gives.

Nothing here votes (confirmatory=False). The lead merges BY_CLAIM into the C2 and C3 claims (see `merged`).
The runs of the depth grid and of the init x rate grid come from the routine spec_grid (harness/routines/spec_grid.py),
which trains several engine specs on the same seeds and keeps them side by side.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from bnclaims.claims import c2
from bnclaims.harness.kit import (LN10, Arm, Control, Criterion, Design, Hypothesis, Metric, best_rate_index,
                                  budgets, failure_summary, figure, finite_or, grid_regret, grid_spread, rate_table,
                                  reduction, seed_band, series)

FAIL_LOSS = 2.0                # a seed "failed to train": loss above 2 at the step budget (chance is ln 10 = 2.303)
CI_LEVEL = 0.95                # Clopper-Pearson intervals of the failure rates (two-sided)
GOODFELLOW = "Goodfellow, Bengio & Courville 2016, Deep Learning, Sec. 8.7.1 (batch normalization)"
EXPENSIVE = ("full", "survey")


# ================================================================================== failures (tested)
def clipped(loss) -> np.ndarray:
    """Losses with a diverged (non-finite) value or anything at or above chance counted as chance (ln 10): a net at
    chance has not trained, whatever its exact loss."""
    return np.minimum(finite_or(loss, LN10), LN10)


def failure_flags(loss, threshold: float = FAIL_LOSS) -> np.ndarray:
    """1.0 where a seed failed to train (loss above threshold, or diverged = non-finite), else 0.0."""
    v = np.asarray(loss, float)
    return (~np.isfinite(v) | (v > threshold)).astype(float)


# ================================================================================== depth (C2.4)
DEPTHS = (4, 8, 16, 32, 64)
DEPTH_LRS = (0.01, 0.1)          # each network at the better of two rates, chosen per depth
DEPTH_WIDTH = {"smoke": 16, "ci": 32, "full": 128}
DEPTH_BUDGETS = budgets(smoke=(3, 10), ci=(6, 200), full=(20, 1000))
DEPTH_CELLS = (("none", {"model_norm": "none"}), ("bn", {"model_norm": "bn"}))


def depth_settings(depth: int, width: int) -> dict:
    base = {"model_depth": depth, "model_width": width, "model_activation": "relu", "model_init": "he",
            "batch_size": 64, "eval_every": 100}
    return {"base": base, "cells": [[c, dict(kw)] for c, kw in DEPTH_CELLS], "lrs": list(DEPTH_LRS)}


def depth_arm(depth: int) -> Arm:
    """Both networks (plain He-init ReLU MLP, the same with BN) at one depth on the same seeds; the width follows
    the profile (the full profile is the check; smoke and ci only exercise it)."""
    return Arm(routine="spec_grid", settings=depth_settings(depth, DEPTH_WIDTH["full"]),
               by_profile={p: {"base": depth_settings(depth, w)["base"]} for p, w in DEPTH_WIDTH.items()
                           if p != "full"})


DEPTH_ARMS = {f"depth={d}": depth_arm(d) for d in DEPTHS}


def depth_cell(arrays, cell: str) -> tuple[np.ndarray, float]:
    """(late mini-batch loss [K] of one network at its better rate, that rate): the rate whose seed-mean of the
    clipped loss is lowest, the same rate for every seed."""
    loss = np.asarray(arrays[f"{cell}.late_train_loss"], float)           # [R, K]
    j = best_rate_index(clipped(loss))
    return loss[j], float(np.asarray(arrays["lrs"])[j])


@reduction("side.depth_gap")
def depth_gap(arrays) -> np.ndarray:
    """Per seed: plain loss - BN loss (late mini-batch loss, clipped at chance), each at its better rate:
    BN's advantage (> 0: BN lower)."""
    return clipped(depth_cell(arrays, "none")[0]) - clipped(depth_cell(arrays, "bn")[0])


@reduction("side.depth_failed")
def depth_failed(arrays, cell: str = "bn") -> np.ndarray:
    """Per seed: 1 if the network failed to train (late loss > 2 or diverged) at its better rate, else 0."""
    return failure_flags(depth_cell(arrays, cell)[0])


@reduction("side.depth_loss")
def depth_loss(arrays, cell: str = "bn") -> np.ndarray:
    return clipped(depth_cell(arrays, cell)[0])


def _depth_of(r, arm: str) -> int:
    return int(r.arms[arm].settings["base"]["model_depth"])


def depth_table(r) -> dict:
    """Per depth and network: the rate read, failures with the Clopper-Pearson interval, per-seed losses."""
    out = {}
    for arm in r.hyp.arms:
        a = r.runs[arm]
        row = {"depth": _depth_of(r, arm), "seeds": [int(s) for s in a["seeds"]],
               "gap_per_seed": depth_gap(a).tolist()}
        for cell, _ in DEPTH_CELLS:
            loss, lr = depth_cell(a, cell)
            j = list(np.asarray(a["lrs"], float)).index(lr)
            final_eval = np.asarray(a[f"{cell}.eval_train_loss"], float)[-1, j]
            row[cell] = {"lr": lr, **failure_summary(failure_flags(loss), CI_LEVEL),
                         "late_loss_per_seed": [None if not np.isfinite(v) else float(v) for v in loss],
                         "final_eval_train_loss_per_seed": [None if not np.isfinite(v) else float(v)
                                                            for v in final_eval],
                         "diverged_per_seed": np.asarray(a[f"{cell}.diverged_at"])[j].tolist(),
                         "failures_by_rate": {str(lr_): int(failure_flags(l_).sum()) for lr_, l_ in
                                              zip(np.asarray(a["lrs"], float), np.asarray(a[f"{cell}.late_train_loss"]))},
                         "mean_clipped_late_loss_by_rate": {str(lr_): float(clipped(l_).mean()) for lr_, l_ in
                                                            zip(np.asarray(a["lrs"], float),
                                                                np.asarray(a[f"{cell}.late_train_loss"]))}}
        out[arm] = row
    return out


def depth_extra(r):
    return {"fail_threshold": FAIL_LOSS, "ci_level": CI_LEVEL, "lrs": list(DEPTH_LRS),
            "width": int(r.arms[r.hyp.arms[0]].settings["base"]["model_width"]),
            "steps": int(r.arms[r.hyp.arms[0]].settings.get("steps", 0)), "by_depth": depth_table(r),
            "note": "failure: late mini-batch loss (mean over the last tenth of the steps, train mode) above "
                    f"{FAIL_LOSS:g}, or diverged; each network at the better of its rates {list(DEPTH_LRS)}"}


def depth_figures(r):
    table = depth_table(r)
    depths = [table[a]["depth"] for a in r.hyp.arms]
    fail = figure(f"{r.hyp.id}-failure", f"failure rate (late loss > {FAIL_LOSS:g}) vs depth, "
                                         f"{int(CI_LEVEL * 100)}% Clopper-Pearson interval",
                  [series(cell, depths, [table[a][cell]["rate"] for a in r.hyp.arms],
                          [table[a][cell]["ci"][0] for a in r.hyp.arms],
                          [table[a][cell]["ci"][1] for a in r.hyp.arms]) for cell, _ in DEPTH_CELLS],
                  xlabel="hidden layers", ylabel="fraction of seeds that failed")
    gap = figure(f"{r.hyp.id}-gap", "BN's advantage vs depth: plain loss - BN loss (late, clipped at ln 10)",
                 [seed_band(f"plain - BN ({len(r.seeds)} seeds)", depths,
                            np.stack([np.asarray(table[a]["gap_per_seed"]) for a in r.hyp.arms]))],
                 xlabel="hidden layers", ylabel="loss difference (median, 15-85%)")
    return [fail, gap]


DEPTH_SOURCE = ("the article's statement 9 (dossier Sec. 13); dossier 5.7 (i): no primary source for '20 layers'; "
                "Yang et al. 2019 (BN without skips untrainable at large depth)")
DEPTH_SETUP = ("MNIST-1D ReLU MLP, He-initialized weights in both networks (BN after every hidden Linear layer in "
               "one), SGD batch 64, widths 128, 1000 steps in the full profile; each network at the better of "
               f"the rates {list(DEPTH_LRS)} per depth (lowest seed-mean late loss, chosen on the compared seeds, "
               "optimistic for both alike)")
LATE = ("late loss = mean mini-batch training loss (train mode) over the last tenth of the steps, diverged or at/above "
        "chance counted as ln 10")
FIXED_DEPTH = Control("fixed_depth", "every depth replaced by depth 4 (identical runs): no depth trend",
                      arms={f"depth={d}": "depth=4" for d in DEPTHS[1:]})
DEPTH_NOTE = ("Exploratory (issue 24), registered before it ran. Costly: full and survey profiles only (the ci and "
              "smoke budgets, narrow and short, only exercise the pipeline). No depth threshold is tested: the "
              "article's 'about 20 layers' has no primary source. Per depth the report's extra lists each network's "
              "failure rate with its Clopper-Pearson interval and the per-seed losses.")

DP1 = Hypothesis(
    id="C2.dp1", claim="C2", role="evidence", group="C2.depth", confirmatory=False, profiles=EXPENSIVE,
    title="BN's advantage shrinks with depth",
    statement=f"BN's advantage in late training loss over the same He-initialized plain network shrinks as the "
              f"network deepens from {DEPTHS[0]} to {DEPTHS[-1]} hidden layers.",
    source=DEPTH_SOURCE, stance="supports",
    metric=f"per seed and depth: plain late loss - BN late loss ({LATE}); {DEPTH_SETUP}. Gate: BN's mean "
           "advantage at depth 4 is positive (without a shallow benefit there is nothing to shrink)",
    arms=tuple(DEPTH_ARMS), direction="decreasing", test="trend", paired=True, budgets=DEPTH_BUDGETS,
    notes=DEPTH_NOTE + " Dossier 5.7 (i) expects BN without skips to degrade beyond about 32 layers.",
    design=Design(DEPTH_ARMS, Metric("side.depth_gap"),
                  criteria=(Criterion("BN helps at depth 4", "depth=4", ">", 0.0, on_fail="inconclusive"),),
                  controls=(FIXED_DEPTH,), figures=depth_figures, extra=depth_extra))

DP2 = Hypothesis(
    id="C2.dp2", claim="C2", role="evidence", group="C2.depth", confirmatory=False, profiles=EXPENSIVE,
    title="BN nets fail to train more often as depth grows",
    statement=f"The fraction of BN networks that fail to train (late loss above {FAIL_LOSS:g}) rises with depth "
              f"from {DEPTHS[0]} to {DEPTHS[-1]} hidden layers.",
    source=DEPTH_SOURCE, stance="supports",
    metric=f"per seed and depth: 1 if the BN network's late loss > {FAIL_LOSS:g} or it diverged, else 0 ({LATE}); "
           f"{DEPTH_SETUP}; Page's trend test on the 0/1 flags (blocks = seeds)",
    arms=tuple(DEPTH_ARMS), direction="increasing", test="trend", paired=True, budgets=DEPTH_BUDGETS,
    notes=DEPTH_NOTE + " 'Small probability' is read as a rate well below 1; the rates and intervals are in extra.",
    design=Design(DEPTH_ARMS, Metric("side.depth_failed", {"cell": "bn"}), controls=(FIXED_DEPTH,),
                  figures=depth_figures, extra=depth_extra))

DP3 = Hypothesis(
    id="C2.dp3", claim="C2", role="evidence", group="C2.depth", confirmatory=False, profiles=EXPENSIVE,
    title="control: the plain He-init net also fails more often with depth",
    statement=f"The fraction of plain He-initialized networks that fail to train (late loss above {FAIL_LOSS:g}) "
              f"rises with depth from {DEPTHS[0]} to {DEPTHS[-1]} hidden layers.",
    source=DEPTH_SOURCE + "; He et al. 2015 (init that keeps the forward variance)", stance="contradicts",
    metric=f"as C2.dp2, for the plain network of the same runs",
    arms=tuple(DEPTH_ARMS), direction="increasing", test="trend", paired=True, budgets=DEPTH_BUDGETS,
    notes=DEPTH_NOTE + " Control for C2.dp2: reproduced here means failure with depth is not BN's alone, and a "
                       "shrinking BN advantage (C2.dp1) cannot come from plain nets failing more.",
    design=Design(DEPTH_ARMS, Metric("side.depth_failed", {"cell": "none"}), controls=(FIXED_DEPTH,),
                  extra=depth_extra))

# ================================================================================== gamma/beta (C3.3)
SHARED_LR = c2.SHARED_LR          # 0.1: C2.f's shared rate
NOAFFINE_AT_SHARED = Arm(c2.grid_spec("bn_noaffine").replace(lr=SHARED_LR))
GB_SHARED_NOTE = (f"Exploratory (issue 24), registered before it ran. lr {SHARED_LR:g} is C2.f's pre-declared shared "
                  "rate (the grid's middle rate); it is also the BN arm's best grid rate by AUC in C2.a's ci run at "
                  "seed base 0, which was seen before this was declared. The BN and plain arms are C2.a's grid "
                  "ensembles read at that rate (same seeds, no new runs); only bn_noaffine trains.")
AUC_AT_SHARED = Metric("C2.auc", at_lr=SHARED_LR)
AUC_SESOI = 0.02                  # nats of AUC (~2.5% of BN's 0.77 at lr 0.1): a smaller gap is not "much faster"
SESOI_NOTE = (f" Smallest effect of interest {AUC_SESOI:g} nats of AUC, from the claim's words ('much faster'); it was "
              "set after the scratch-base (77) sizing run showed a gamma/beta gap of 0.004, so a verdict 'reproduced' "
              "whose reason notes the effect lies inside the SESOI reads as a real but negligible difference.")

GB1 = Hypothesis(
    id="C3.gb1", claim="C3", role="evidence", group="C3.gb_shared", confirmatory=False,
    title="gamma/beta speed up convergence (shared rate)",
    statement=f"At learning rate {SHARED_LR:g}, BN with its scale and shift (gamma, beta) converges faster than the "
              "same BN network without them: the area under its training-loss curve is smaller.",
    source=f"{GOODFELLOW}; the article's statement 10", stance="supports",
    metric=f"per seed: C2.a's AUC (mean full-train-set loss over the checkpoints every 100 steps, diverged = ln 10) "
           f"at lr {SHARED_LR:g}; MNIST-1D MLP 4x128 ReLU, SGD batch 64 (C2.a's network)",
    arms=("bn", "bn_noaffine"), direction="less", test="wilcoxon", paired=True, budgets=c2.GRID_BUDGETS,
    sesoi=AUC_SESOI, notes=GB_SHARED_NOTE + " Construct: gamma/beta are the only difference between the arms." + SESOI_NOTE,
    design=Design({"bn": c2.GRID_ARMS["bn"], "bn_noaffine": NOAFFINE_AT_SHARED},
                  {"bn": AUC_AT_SHARED, "bn_noaffine": Metric("C2.auc")},
                  controls=(Control("control", "the gamma/beta arm replaced by BN without them", arms={"bn": "bn_noaffine"},
                                    metrics={"bn": Metric("C2.auc")}),),
                  extra=lambda r: {"lr": SHARED_LR}))

GB2 = Hypothesis(
    id="C3.gb2", claim="C3", role="evidence", group="C3.gb_shared", confirmatory=False,
    title="control: normalization without gamma/beta already speeds up convergence",
    statement=f"At learning rate {SHARED_LR:g}, BN without gamma and beta converges faster than the plain network "
              "(smaller area under the training-loss curve): the speed-up does not need the two parameters.",
    source=f"{GOODFELLOW}; dossier Sec. 11 (BN without affine as a mechanism-separating arm)", stance="contradicts",
    metric=f"as C3.gb1, bn_noaffine against the plain network (C2.a's plain ensemble at lr {SHARED_LR:g})",
    arms=("bn_noaffine", "none"), direction="less", test="wilcoxon", paired=True, budgets=c2.GRID_BUDGETS,
    sesoi=AUC_SESOI, notes=GB_SHARED_NOTE + " Reproduced: most of BN's speed-up at this rate comes from normalizing, "
                                            "not from gamma/beta (read with C3.gb1)." + SESOI_NOTE,
    design=Design({"bn_noaffine": NOAFFINE_AT_SHARED, "none": c2.GRID_ARMS["none"]},
                  {"bn_noaffine": Metric("C2.auc"), "none": AUC_AT_SHARED},
                  controls=(Control("control", "BN without gamma/beta replaced by the plain network",
                                    arms={"bn_noaffine": "none"}, metrics={"bn_noaffine": AUC_AT_SHARED}),),
                  extra=lambda r: {"lr": SHARED_LR}))

NOAFFINE_GRID = Arm(c2.grid_spec("bn_noaffine"), lrs=c2.GRID_LRS)
GB_GRID_ARMS = {"bn": c2.GRID_ARMS["bn"], "bn_noaffine": NOAFFINE_GRID}
SELECTION = ("Each arm is read at its own best grid rate (lowest seed-mean AUC), chosen on the same seeds that are then "
             "compared, which is optimistic for both arms alike.")
GB_GRID_NOTE = ("Exploratory (issue 24), registered before it ran. The BN arm is C2.a's grid ensemble; the no-affine "
                "grid (the same six rates and seeds) is new, about 50 CPU-s at the ci budget, so these run in the "
                "full and survey profiles. " + SELECTION)
def grid_extra(r):
    """Per arm and grid rate: seed-mean AUC, final loss and fraction trained (final loss < 1); the rates read."""
    measures = {"auc": c2.auc, "final_loss": c2.final_loss,
                "trained_fraction": lambda a: c2.final_loss(a) < c2.LOSS_TARGET}
    return {"lr_read": {arm: r.lr.get(arm) for arm in r.hyp.arms}, "selection": SELECTION,
            "grid": rate_table(r, measures, c2.GRID_LRS)}


GB_NO_AFFINE_CTL = Control("control", "the gamma/beta arm replaced by BN without them", arms={"bn": "bn_noaffine"})

GB3 = Hypothesis(
    id="C3.gb3", claim="C3", role="evidence", group="C3.gb_grid", confirmatory=False, profiles=EXPENSIVE,
    title="gamma/beta speed up convergence (each at its best rate)",
    statement="With each network at its own best grid rate, BN with gamma and beta has a smaller area under its "
              "training-loss curve than BN without them.",
    source=f"{GOODFELLOW}; the article's statement 10", stance="supports",
    metric="per seed: C2.a's AUC at the arm's best grid rate (grid 0.01-3, lowest seed-mean AUC)",
    arms=("bn", "bn_noaffine"), direction="less", test="wilcoxon", paired=True, budgets=c2.GRID_BUDGETS,
    sesoi=AUC_SESOI, notes=GB_GRID_NOTE + SESOI_NOTE,
    design=Design(GB_GRID_ARMS, Metric("C2.auc", select="C2.auc"), controls=(GB_NO_AFFINE_CTL,), extra=grid_extra))

GB4 = Hypothesis(
    id="C3.gb4", claim="C3", role="evidence", group="C3.gb_grid", confirmatory=False, profiles=EXPENSIVE,
    title="gamma/beta widen the usable learning-rate range",
    statement="On the same rate grid, BN with gamma and beta trains (final loss < 1) at more rates than BN without "
              "them.",
    source=f"{GOODFELLOW}; the article's statement 10 ('no need for careful tuning')", stance="supports",
    metric="per seed: number of the six grid rates (0.01-3) with final full-train-set loss < 1 (C2.b2's measure)",
    arms=("bn", "bn_noaffine"), direction="greater", test="wilcoxon", paired=True, budgets=c2.GRID_BUDGETS,
    notes=GB_GRID_NOTE,
    design=Design(GB_GRID_ARMS, Metric("C2.rates_trained"), controls=(GB_NO_AFFINE_CTL,), extra=grid_extra))

# ---------------------------------------------------------------------------------- init-scale x rate spread
INIT_STDS = (0.01, 0.03, 0.1, 0.3)       # C2.c3's scales: careless to larger than Glorot's ~0.09 at width 128
SPREAD_LRS = (0.01, 0.1, 1.0)            # three of C2.a's grid rates, two decades
SPREAD_BUDGETS = budgets(smoke=(3, 40), ci=(7, 800), full=(12, 2000))


def spread_arm(norm: str) -> Arm:
    base = {"model_depth": 4, "model_width": 128, "model_activation": "relu", "model_norm": norm,
            "model_init": "small_gaussian", "batch_size": 64, "eval_every": 100}
    return Arm(routine="spec_grid", settings={"base": base, "lrs": list(SPREAD_LRS),
                                              "cells": [[f"std{s:g}", {"model_init_std": s}] for s in INIT_STDS]})


SPREAD_ARMS = {n: spread_arm(n) for n in ("bn", "bn_noaffine", "none")}


def spread_final(arrays) -> np.ndarray:
    """[S, R, K]: final full-train-set loss (eval mode) of every init scale x rate cell, clipped at chance."""
    return np.stack([clipped(np.asarray(arrays[f"std{s:g}.eval_train_loss"], float)[-1]) for s in INIT_STDS])


@reduction("side.grid_spread")
def spread(arrays) -> np.ndarray:
    return grid_spread(spread_final(arrays))


@reduction("side.grid_best")
def grid_best(arrays) -> np.ndarray:
    """Per seed: the lowest final loss over the grid cells (the gate: the network trains somewhere)."""
    return spread_final(arrays).reshape(-1, len(arrays["seeds"])).min(0)


def spread_extra(r):
    out = {"init_stds": list(INIT_STDS), "lrs": list(SPREAD_LRS)}
    for arm in r.hyp.arms:
        f = spread_final(r.runs[arm])
        out[arm] = {"mean_final_by_cell": {f"std {s:g}": {str(lr): float(f[i, j].mean()) for j, lr in enumerate(SPREAD_LRS)}
                                           for i, s in enumerate(INIT_STDS)},
                    "spread_per_seed": grid_spread(f).tolist(), "regret_per_seed": grid_regret(f).tolist(),
                    "trained_cells_fraction": float((f < c2.LOSS_TARGET).mean())}
    return out


def spread_figure(r):
    ser = []
    for arm in r.hyp.arms:
        f = spread_final(r.runs[arm])                                         # [S, R, K]
        ser += [seed_band(f"{arm}, lr {lr:g}", list(INIT_STDS), f[:, j, :]) for j, lr in enumerate(SPREAD_LRS)]
    return [figure(f"{r.hyp.id}-grid", "final train loss over init scale x rate (chance ln 10 = 2.30)", ser,
                   xlabel="init std (every layer, N(0, std^2))", ylabel="final train loss (median, 15-85%)")]


SPREAD_GATES = lambda arms: tuple(Criterion(f"{a} trains somewhere on the grid", a, "<", c2.LOSS_TARGET,  # noqa: E731
                                            metric=Metric("side.grid_best"), on_fail="inconclusive") for a in arms)
SPREAD_METRIC_TEXT = (f"per seed: standard deviation over the {len(INIT_STDS) * len(SPREAD_LRS)} cells of an init "
                      f"std {list(INIT_STDS)} (every layer N(0, std^2)) x rate {list(SPREAD_LRS)} grid of the final "
                      "full-train-set loss (eval mode; diverged or at/above chance = ln 10); C2.a's network (4x128 "
                      "ReLU, SGD batch 64). Gate: each arm's mean best cell < 1 (a net that trains nowhere has no "
                      "spread either)")
SPREAD_NOTE = ("Exploratory (issue 24), registered before it ran. Smaller spread = less need for careful "
               "initialization and tuning. The spread alone cannot tell a robust net from one that fails everywhere, "
               "hence the gate; extra also gives the regret (mean loss above the seed's best cell). About 4 CPU-min "
               "of runs per arm at the ci budget: full and survey profiles only.")

GB5 = Hypothesis(
    id="C3.gb5", claim="C3", role="evidence", group="C3.gb_spread", confirmatory=False, profiles=EXPENSIVE,
    title="gamma/beta make the final loss less sensitive to init and rate",
    statement="Over an init-scale x learning-rate grid, the final training loss of BN with gamma and beta varies less "
              "than that of BN without them.",
    source=f"{GOODFELLOW}; the article's statement 10 ('no need for careful initialization and tuning')",
    stance="supports", metric=SPREAD_METRIC_TEXT,
    arms=("bn", "bn_noaffine"), direction="less", test="wilcoxon", paired=True, budgets=SPREAD_BUDGETS,
    notes=SPREAD_NOTE,
    design=Design({"bn": SPREAD_ARMS["bn"], "bn_noaffine": SPREAD_ARMS["bn_noaffine"]}, Metric("side.grid_spread"),
                  criteria=SPREAD_GATES(("bn", "bn_noaffine")),
                  controls=(Control("control", "the gamma/beta arm replaced by BN without them",
                                    arms={"bn": "bn_noaffine"}),), figures=spread_figure, extra=spread_extra))

GB6 = Hypothesis(
    id="C3.gb6", claim="C3", role="evidence", group="C3.gb_spread", confirmatory=False, profiles=EXPENSIVE,
    title="control: normalization without gamma/beta already reduces the sensitivity",
    statement="Over the same init-scale x learning-rate grid, the final training loss of BN without gamma and beta "
              "varies less than that of the plain network.",
    source=f"{GOODFELLOW}; dossier Sec. 11 (BN without affine)", stance="contradicts", metric=SPREAD_METRIC_TEXT,
    arms=("bn_noaffine", "none"), direction="less", test="wilcoxon", paired=True, budgets=SPREAD_BUDGETS,
    notes=SPREAD_NOTE + " Reproduced: the insensitivity comes from normalizing (scale invariance), not from "
                        "gamma/beta (read with C3.gb5).",
    design=Design({"bn_noaffine": SPREAD_ARMS["bn_noaffine"], "none": SPREAD_ARMS["none"]},
                  Metric("side.grid_spread"), criteria=SPREAD_GATES(("bn_noaffine", "none")),
                  controls=(Control("control", "BN without gamma/beta replaced by the plain network",
                                    arms={"bn_noaffine": "none"}),), figures=spread_figure, extra=spread_extra))

# ================================================================================== export
BY_CLAIM = {"C2": (DP1, DP2, DP3), "C3": (GB1, GB2, GB3, GB4, GB5, GB6)}


def merged(claim):
    """The claim with its side checks appended (claims/__init__.py applies this to every claim)."""
    extra = BY_CLAIM.get(claim.id, ())
    return dataclasses.replace(claim, hypotheses=tuple(claim.hypotheses) + tuple(extra)) if extra else claim
