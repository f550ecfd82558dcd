"""Several engine specs over one learning-rate grid, on the same seeds, kept in one run (issue 24 side checks).

The standard engine runs one spec per arm, and a reduction sees one arm; a per-seed quantity that needs several
specs at once (the paired BN-minus-plain gap at one depth; the spread of the final loss over an init-scale x rate
grid) needs them side by side. This routine builds each cell's TrainSpec from declared fields and trains it with
harness.engine.train (the batched engine itself: same init, data order, SGD and evaluation as any spec arm), one
ensemble of rates x seeds per cell, as harness.checks.lr_grid_run does. Nothing here changes a number the engine
computes; it only chooses which specs run and keeps the arrays the side checks read.

settings:
  base:  {TrainSpec field or model_<ModelSpec field>: value} shared by every cell (JSON-safe)
  cells: [[label, {field: value}], ...]; labels are distinct names of letters, digits, '_', '.' and '-'
  lrs:   [rate, ...] the grid every cell runs (one rate is a grid of one)
  steps: SGD steps (the profile's step budget)
returns, with C cells, R rates, K seeds, E checkpoints:
  seeds [K], lrs [R], eval_step [E], and per cell c: "c.eval_train_loss" [E, R, K] (full-train-set loss in eval
  mode; NaN after divergence), "c.eval_train_acc" [E, R, K], "c.final_test_acc" [R, K], "c.diverged_at" [R, K]
  (first step with a non-finite loss, -1 = never), "c.late_train_loss" [R, K] (mean mini-batch training loss, train
  mode, over the last tenth of the steps; NaN for a member that diverged).
"""
from __future__ import annotations

import re

import numpy as np

from .. import engine
from ..spec import TrainSpec

LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def cell_specs(settings: dict) -> list[tuple[str, TrainSpec]]:
    """[(label, TrainSpec)] of the declared cells, validated (a clear error names the bad cell)."""
    for key in ("base", "cells", "lrs", "steps"):
        if key not in settings:
            raise ValueError(f"spec_grid: settings need {key!r}")
    cells, lrs = settings["cells"], settings["lrs"]
    if not cells:
        raise ValueError("spec_grid: declare at least one cell")
    if not lrs or any(not float(r) > 0 for r in lrs):
        raise ValueError(f"spec_grid: lrs must be a non-empty list of positive rates, got {lrs!r}")
    labels = [c[0] for c in cells]
    if len(set(labels)) != len(labels) or not all(isinstance(x, str) and LABEL.fullmatch(x) for x in labels):
        raise ValueError(f"spec_grid: cell labels must be distinct names ([A-Za-z0-9_.-]), got {labels!r}")
    out = []
    for label, kw in cells:
        fields = {**dict(settings["base"]), **dict(kw), "steps": int(settings["steps"])}
        try:
            out.append((label, TrainSpec().replace(**fields)))
        except (TypeError, ValueError) as e:
            raise ValueError(f"spec_grid: cell {label!r}: {e}") from None
    return out


def late_mean(train_loss: np.ndarray) -> np.ndarray:
    """[T, M] mini-batch losses -> [M]: the mean over the last max(T // 10, 1) steps (NaN stays NaN)."""
    t = train_loss.shape[0]
    if t == 0:
        return np.full(train_loss.shape[1], np.nan)
    return train_loss[-max(t // 10, 1):].astype(np.float64).mean(0)


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    seeds = [int(s) for s in seeds]
    lrs = [float(r) for r in settings["lrs"]]
    k, r = len(seeds), len(lrs)
    members_seed = [s for _ in lrs for s in seeds]          # rate-major, as harness.checks.lr_grid_run
    members_lr = [lr for lr in lrs for _ in seeds]
    out: dict[str, np.ndarray] = {"seeds": np.array(seeds), "lrs": np.array(lrs, dtype=np.float64)}
    for label, spec in cell_specs(settings):
        arrays, _ = engine.train(spec, members_seed, lrs=members_lr)
        e = len(arrays["eval_step"])
        out["eval_step"] = arrays["eval_step"]
        out[f"{label}.eval_train_loss"] = arrays["eval_train_loss"].reshape(e, r, k)
        out[f"{label}.eval_train_acc"] = arrays["eval_train_acc"].reshape(e, r, k)
        out[f"{label}.final_test_acc"] = arrays["eval_test_acc"][-1].reshape(r, k)
        out[f"{label}.diverged_at"] = arrays["diverged_at"].reshape(r, k)
        out[f"{label}.late_train_loss"] = late_mean(arrays["train_loss"]).reshape(r, k)
    return out
