"""Registered experiments that the standard engine cannot express, by name.

A routine is fn(settings: dict, seeds: list[int]) -> {name: np.ndarray}; settings are JSON-safe and
include "steps" when the arm takes the profile's step budget. Routines share the engine's optimizer,
evaluation, batching and normalization code. The registry maps names to "module:function" so the
plugin can validate declarations without importing torch; the module is imported only to run.

Run-store key rule: a routine's entries are keyed by its name, settings and seeds, plus the hash of its
own module's source and of every harness module that produces numbers (harness.store.code_key), and the digest
of each generated data set it reads (Routine.data_sets; harness.datacache.digest).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..spec import TrainSpec


def named_data(settings: dict) -> tuple:
    """The generated data set named by settings "data" and "data_seed" (TrainSpec's default seed when absent);
    none when the settings name no data set. The default of Routine.data_sets."""
    if "data" not in settings:
        return ()
    return ((str(settings["data"]), int(settings.get("data_seed", TrainSpec.data_seed))),)


def default_data(settings: dict) -> tuple:
    """TrainSpec's default data set, for a routine whose specs always use it."""
    return ((TrainSpec.data, TrainSpec.data_seed),)


def cell_data(settings: dict) -> tuple:
    """The data sets of spec_grid's cells (each cell's fields over the base, over TrainSpec's defaults)."""
    sets = []
    for _label, kw in settings.get("cells", ()):
        fields = {**dict(settings.get("base", {})), **dict(kw)}
        sets.append((str(fields.get("data", TrainSpec.data)), int(fields.get("data_seed", TrainSpec.data_seed))))
    return tuple(sorted(set(sets)))


@dataclass(frozen=True)
class Routine:
    name: str
    target: str                  # "package.module:function"
    engine: str = "private"      # evidence label: private (trains) | analytic (no training)
    doc: str = ""
    torch: bool = True           # uses torch: one torch thread is pinned before it runs
    uses: tuple = ()             # further modules whose source its numbers depend on (folded into its key)
    user_data: str = ""          # a data set from the user's folder it reads (harness.userdata name, e.g. cifar10):
                                 # the runner adds its digest (keyed) and the folder (settings "_data_dir", not keyed)
    data_sets: Callable = named_data     # settings -> ((name, seed), ...): the generated data sets (harness.data) it
                                         # reads; their digests are part of its run-store key

    @property
    def module(self) -> str:
        return self.target.split(":", 1)[0]

    def load(self):
        mod, fn = self.target.split(":", 1)
        return getattr(importlib.import_module(mod), fn)


ROUTINES: dict[str, Routine] = {}


def register(name: str, target: str, *, engine: str = "private", doc: str = "", torch: bool = True,
             uses: tuple = (), user_data: str = "", data_sets: Callable = named_data) -> Routine:
    if engine not in ("private", "analytic"):
        raise ValueError(f"routine {name!r}: engine must be 'private' or 'analytic', got {engine!r}")
    if ":" not in target:
        raise ValueError(f"routine {name!r}: target must be 'module:function', got {target!r}")
    old = ROUTINES.get(name)
    if old is not None and old.target != target:
        raise ValueError(f"routine {name!r} is registered twice ({old.target} and {target})")
    ROUTINES[name] = Routine(name, target, engine, doc, bool(torch), tuple(uses), user_data, data_sets)
    return ROUTINES[name]


def get(name: str) -> Routine:
    try:
        return ROUTINES[name]
    except KeyError:
        raise KeyError(f"unknown routine {name!r}; registered: {', '.join(sorted(ROUTINES)) or 'none'}") from None


# The harness's own routines (each module holds one, with its tests in tests/harness/test_routine_*.py).
register("recovery_after_insertion", "bnclaims.harness.routines.recovery:run",
         doc="train a plain MLP, insert BN (gamma=1, beta=0) after one layer, train only gamma/beta (C3.c)")
register("bn_other_batch_stats", "bnclaims.harness.routines.bn_stats:run", uses=("bnclaims.harness.routines.steps",),
         doc="BN MLP whose training statistics come from another (large) batch; Monte Carlo BN at test (C4.d, C4.e)")
register("paper_vgg", "bnclaims.harness.routines.paper_vgg:run", uses=("bnclaims.harness.vgg", "bnclaims.harness.userdata", "bnclaims.harness.routines.steps"),
         user_data="cifar10",
         doc="VGG-11 on CIFAR-10 from the user's folder, seeds batched; curves, landscape and ICS probes (paper profile)")
register("paper_ioffe_mnist", "bnclaims.harness.routines.paper_mnist:run", uses=("bnclaims.harness.userdata", "bnclaims.harness.routines.steps"),
         user_data="mnist",
         doc="Ioffe's 3x100 sigmoid MLP on MNIST from the user's folder, 50,000 steps; sigmoid-input quantiles")
register("grad_norms_at_init", "bnclaims.harness.routines.grad_norms:run", engine="analytic",
         doc="squared gradient norms per layer of a deep BN MLP at initialization (Yang et al. 2019)")
register("spec_grid", "bnclaims.harness.routines.spec_grid:run", data_sets=cell_data, doc="several engine specs over one rate grid on the same seeds, side by side (issue 24 side checks: depth pair, init x rate spread)")
register("mlp_ics_next_input", "bnclaims.harness.routines.ics:run", doc="the engine's MLP run with its ICS probe, plus the moments of each probed layer's next-layer input (C1.a3, C1.c3)")
register("curvature_along_gradient", "bnclaims.harness.routines.curvature:run", uses=("bnclaims.harness.routines.steps",),
         doc="S.a's MLP trained with the engine's pieces; curvature along g by Hessian-vector products, per-unit effective-rate units (S.h)")
register("ghost_to_fit", "bnclaims.harness.routines.fit_matched:run", uses=("bnclaims.harness.routines.steps",),
         doc="ghost-batch BN MLP read when each seed's train accuracy first reaches a target (C4.g, C4.g2)")
register("minibatch_noise", "bnclaims.harness.routines.noise_scale:run", uses=("bnclaims.harness.routines.steps",),
         doc="BN or plain MLP: mini-batch gradient and loss noise at fixed weights along training (C4.h, C4.h2)")
register("depth_pair", "bnclaims.harness.routines.depth_pair:run", data_sets=default_data, doc="a BN net (default init) and a plain He-init net of one depth, side by side on the same seeds (Y.d2)")
