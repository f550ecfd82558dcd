"""A BN network and a plain He-initialized network of the same depth and width, trained side by side on the same
seeds by the batched engine (harness.engine.train_batched: same data order, SGD and evaluation as any spec arm),
so a reduction can read the per-seed gap between them (Y.d2: Yang et al.'s depth effect read against a plain net).

settings: depth, width, lr, batch_size, steps; optional activation (relu). The BN net is Y.d's: default
(torch.nn.Linear) init, BN after every hidden layer; the plain net has no norm and He init. eval_every = steps (one
evaluation at the end, as Y.d). Returns seeds and, per net n in (bn, plain): "n.train_loss" [T, K],
"n.diverged_at" [K], "n.eval_train_loss" and "n.eval_train_acc" [E, K].
"""
from __future__ import annotations

import numpy as np

from .. import engine
from ..spec import TrainSpec

NETS = {"bn": {"model_norm": "bn", "model_init": "default"}, "plain": {"model_norm": "none", "model_init": "he"}}
KEYS = ("train_loss", "diverged_at", "eval_train_loss", "eval_train_acc")


def specs(settings: dict) -> dict:
    """{net: TrainSpec} of the pair these settings describe."""
    for key in ("depth", "width", "lr", "batch_size", "steps"):
        if key not in settings:
            raise ValueError(f"depth_pair: settings need {key!r}")
    steps = int(settings["steps"])
    base = TrainSpec(lr=float(settings["lr"]), steps=steps, batch_size=int(settings["batch_size"]), eval_every=steps)
    return {net: base.replace(model_depth=int(settings["depth"]), model_width=int(settings["width"]),
                              model_activation=settings.get("activation", "relu"), **kw) for net, kw in NETS.items()}


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    seeds = [int(s) for s in seeds]
    out = {"seeds": np.array(seeds)}
    for net, spec in specs(settings).items():
        arrays, _ = engine.train_batched(spec, seeds)
        out.update({f"{net}.{k}": arrays[k] for k in KEYS})
    return out
