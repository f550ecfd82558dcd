"""Where each seed draws its own data set (--data-draw per-seed) instead of every seed training on one sample.

With the default, "fixed", every run reads the data set its spec or settings name (MNIST-1D with data seed 42),
so a verdict speaks for that one sample of the data set. With "per-seed", seed s also draws its own generated
data set, data seed DRAW_OFFSET + s (Bouthillier et al. 2021, "Accounting for variance in machine learning
benchmarks"): the verdict then speaks for the process that generates the data. The arms of a paired comparison
share their seeds, so a pair shares its draw; disjoint seeds (A/A arms, tuning seeds) draw their own.

The engine trains an ensemble on one data tensor, so a per-seed arm trains one run per seed (no batching across
seeds: slower, the same numbers a one-member ensemble gives). Each run's store key carries its data seed and the
digest of its arrays (harness.run.checks.run_key), so nothing here touches a key of the fixed draw.

Only generated data can be drawn again. An arm keeps its fixed data, and the evidence says why, where it reads
a user's data set (CIFAR-10), a routine that does not take its data set from its settings, or no data at all.
No torch.
"""
from __future__ import annotations

import dataclasses

MODES = ("fixed", "per-seed")
DRAW_OFFSET = 10 ** 9           # seed s draws data seed DRAW_OFFSET + s (below 2**32 for seed bases up to 329,000)
GENERATED = ("mnist1d", "synthetic", "dln")    # harness.data's generated sets: any data seed draws a new sample


def data_seed(seed: int) -> int:
    """The data seed seed `seed` draws with --data-draw per-seed."""
    return DRAW_OFFSET + int(seed)


def why_fixed(arm) -> str | None:
    """None where the arm can draw its data per seed; else why it keeps its fixed data (or reads none)."""
    if arm.constant is not None:
        return "a fixed comparator: no data"
    if arm.spec is not None:
        return None if arm.spec.data in GENERATED else f"data set {arm.spec.data!r} is not generated"
    from bnclaims.harness import routines
    r = routines.get(arm.routine)
    if r.user_data:
        return f"reads the user's data set {r.user_data}"
    if r.data_sets is not routines.named_data:
        return f"routine {arm.routine} does not take its data set from its settings"
    if "data" not in arm.settings:
        return f"routine {arm.routine} reads no data set"
    if str(arm.settings["data"]) not in GENERATED:
        return f"data set {arm.settings['data']!r} is not generated"
    return None


def for_seed(arm, seed: int):
    """The arm as seed `seed` trains it with --data-draw per-seed (why_fixed(arm) must be None)."""
    if arm.spec is not None:
        return dataclasses.replace(arm, spec=arm.spec.replace(data_seed=data_seed(seed)))
    return dataclasses.replace(arm, settings={**dict(arm.settings), "data_seed": data_seed(seed)})


def describe(arms: dict) -> dict:
    """{arm: "per seed" or why it stays fixed} for the evidence of a --data-draw per-seed run."""
    return {str(name): (why_fixed(a) or f"per seed (data seed {DRAW_OFFSET} + seed)") for name, a in arms.items()}
