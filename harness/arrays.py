"""The run-array schema: every array a standard engine run returns, with its shape, unit and producer.
docs/authoring.md's table is generated from RUN_ARRAYS, and tests validate engine output against it.

Shape letters: K seeds (members), T training steps, E evaluation checkpoints, P probe steps, Lg probed
layers (spec.probe_layers), L hidden layers, H hidden width, F landscape step factors; {l} a hidden layer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RunArray:
    name: str            # may contain {l}
    shape: str           # e.g. "[E, K]"
    unit: str
    producer: str        # what fills it, and when it is present
    meaning: str


RUN_ARRAYS = (
    RunArray("seeds", "[K]", "seed", "engine", "the seed of each member"),
    RunArray("lr", "[K]", "learning rate", "engine", "each member's learning rate (a grid gives one per member)"),
    RunArray("diverged_at", "[K]", "step", "engine", "first step with a non-finite loss; -1 = never"),
    RunArray("train_loss", "[T, K]", "nats (cross-entropy) or squared error", "engine",
             "mini-batch training loss at every step, train mode; NaN after divergence"),
    RunArray("eval_step", "[E]", "step", "engine", "the evaluation checkpoints (every eval_every steps, and the end)"),
    RunArray("eval_train_loss", "[E, K]", "nats", "engine", "full-train-set loss, eval mode"),
    RunArray("eval_train_acc", "[E, K]", "fraction", "engine", "full-train-set accuracy, eval mode"),
    RunArray("eval_test_loss", "[E, K]", "nats", "engine", "test-set loss, eval mode"),
    RunArray("eval_test_acc", "[E, K]", "fraction", "engine", "test-set accuracy, eval mode"),
    RunArray("eval_val_loss", "[E, K]", "nats", "engine, val_rows > 0", "validation-split loss, eval mode"),
    RunArray("eval_val_acc", "[E, K]", "fraction", "engine, val_rows > 0", "validation-split accuracy, eval mode"),
    RunArray("final_val_logits", "[K, Nv, C]", "logit", "engine, val_rows > 0",
             "eval-mode outputs on the validation split at the end (calibration)"),
    RunArray("final_test_logits", "[K, Nt, C]", "logit", "engine, val_rows > 0", "eval-mode outputs on the test set at the end"),
    RunArray("final_val_labels", "[K, Nv]", "class", "engine, val_rows > 0", "the validation labels (the same row per member)"),
    RunArray("final_test_labels", "[K, Nt]", "class", "engine, val_rows > 0", "the test labels (the same row per member)"),
    RunArray("running_mean{l}", "[K, H]", "activation", "engine, norms with running statistics",
             "BN running mean of hidden layer l at the end"),
    RunArray("running_var{l}", "[K, H]", "activation^2", "engine, norms with running statistics",
             "BN running variance of hidden layer l at the end"),
    RunArray("gamma{l}", "[K, H]", "scale", "engine, affine norms", "final gamma of hidden layer l"),
    RunArray("beta{l}", "[K, H]", "shift", "engine, affine norms", "final beta of hidden layer l"),
    RunArray("probe_step", "[P]", "step", "probes", "the steps at which probes ran"),
    RunArray("probe_ics_cos", "[P, K, Lg]", "cosine", "probe ics", "cos(G, G'): layer gradient before and after "
             "the earlier layers' update (Santurkar Def. 2.1)"),
    RunArray("probe_ics_rel", "[P, K, Lg]", "ratio", "probe ics", "|G - G'| / |G|"),
    RunArray("probe_ics_move", "[P, K, Lg]", "ratio", "probe ics", "|d theta_<i| / |theta_<i|: relative size of the "
             "earlier layers' step that G' sees"),
    RunArray("probe_pre_mean", "[P, K, L, H]", "activation", "probe drift", "per-unit mean of the pre-norm input "
             "on the fixed probe batch"),
    RunArray("probe_pre_var", "[P, K, L, H]", "activation^2", "probe drift", "per-unit variance, pre-norm"),
    RunArray("probe_post_mean", "[P, K, L, H]", "activation", "probe drift", "per-unit mean of the nonlinearity's "
             "input (after the norm)"),
    RunArray("probe_post_var", "[P, K, L, H]", "activation^2", "probe drift", "per-unit variance, after the norm"),
    RunArray("probe_pct_last_unit0", "[P, K, 3]", "activation", "probe drift", "15th/50th/85th percentile of unit 0 "
             "of the last hidden layer (Ioffe Fig. 1b,c)"),
    RunArray("probe_land_loss", "[P, K, F]", "nats", "probe landscape", "loss at theta - eta g for each step factor"),
    RunArray("probe_land_loss_range", "[P, K]", "nats", "probe landscape", "max - min of probe_land_loss "
             "(Santurkar Fig. 4a)"),
    RunArray("probe_land_fo_range", "[P, K]", "nats", "probe landscape", "the same range after removing the "
             "first-order term eta |g|^2"),
    RunArray("probe_land_grad_pred", "[P, K]", "ratio", "probe landscape", "max |g(theta - eta g) - g| / |g| "
             "(gradient predictiveness, Fig. 4b)"),
    RunArray("probe_land_beta_eff", "[P, K]", "1 / step", "probe landscape", "max |g(theta - eta g) - g| / |eta g| "
             "(effective beta-smoothness, Fig. 4c)"),
    RunArray("probe_land_eff_loss_range", "[P, K]", "nats", "probe landscape_eff", "loss range along g with steps "
             "in effective-learning-rate units: each scale-invariant weight matrix (followed by a normalizer, "
             "spec.SCALE_INVARIANT_NORMS) steps by eta (|W_t| / |W_0|)^2, every other parameter by eta"),
    RunArray("probe_land_eff_fo_range", "[P, K]", "nats", "probe landscape_eff", "the same range after removing "
             "the first-order term <g, delta>"),
    RunArray("probe_land_eff_grad_pred", "[P, K]", "ratio", "probe landscape_eff", "max |g(theta - delta) - g| / |g| "
             "at those steps"),
    RunArray("probe_land_eff_scale", "[P, K]", "ratio", "probe landscape_eff", "mean over scale-invariant layers "
             "of (|W_t| / |W_0|)^2, the step multiplier (1 without any)"),
)

_DIMS = ("K", "T", "E", "P", "Lg", "L", "H", "F")


def _pattern(name: str) -> re.Pattern:
    return re.compile("^" + re.escape(name).replace(r"\{l\}", r"\d+") + "$")


def schema_of(key: str) -> RunArray | None:
    return next((a for a in RUN_ARRAYS if _pattern(a.name).match(key)), None)


def validate_run(arrays: dict, spec, k: int) -> None:
    """Raise ValueError when an engine run's arrays leave the schema: an unknown key, or a shape that
    disagrees with the spec (K members, T steps, Lg probed layers, L hidden layers, H width)."""
    m = spec.model
    hidden = m.depth - 1 if m.arch == "dln" else m.depth
    dims = {"K": k, "T": spec.steps, "E": len(arrays.get("eval_step", [])), "P": len(arrays.get("probe_step", [])),
            "Lg": len(spec.probe_layers) or hidden, "L": hidden, "H": m.width, "F": len(spec.landscape_factors)}
    for key, v in arrays.items():
        a = schema_of(key)
        if a is None:
            raise ValueError(f"run array {key!r} is not in the schema (harness/arrays.py)")
        want = [dims[d] if d in dims else int(d) for d in a.shape.strip("[]").replace(" ", "").split(",")]
        got = list(np.shape(v))
        if a.shape.count("H") and m.arch == "cnn":
            continue                                    # CNN channels: width is not the unit count
        if got != want:
            raise ValueError(f"run array {key!r}: shape {got}, schema {a.shape} = {want} for this spec")


def markdown_table() -> str:
    rows = ["| key | shape | unit | producer | meaning |", "|---|---|---|---|---|"]
    rows += [f"| `{a.name}` | {a.shape} | {a.unit} | {a.producer} | {a.meaning} |" for a in RUN_ARRAYS]
    return "\n".join(rows)
