"""Declaration pieces several claims build the same way: a gate on every seed of each arm, a null control on
other seeds, and the one-thread torch set-up of a claim's own exact checks."""
from __future__ import annotations

from bnclaims.harness.declare.design import SEED_OFFSET, Control, Criterion, Metric


def each_seed(arms, op: str, value: float, metric, name: str = "{arm} trains") -> tuple:
    """Gates, one per arm: every seed's `metric` must satisfy `op value`, else the verdict is inconclusive (the
    data cannot speak, e.g. a network that did not train). name: a format string of {arm}."""
    return tuple(Criterion(name.format(arm=arm), arm, op, value, stat="each", metric=metric, on_fail="inconclusive")
                 for arm in arms)


def torch_as_in_runs() -> None:
    """Import the engine, which sets torch to the one thread every run uses: a claim's own torch arithmetic (its
    exact checks) then rounds as the runs do. Call it before the first torch operation."""
    from bnclaims.harness import engine  # noqa: F401


def other_seeds(arm: str, comparator: str, reduction_name: str, what: str, shift: dict | None = None) -> Control:
    """The null control of a check against a fixed comparator (a constant or a margin): the comparator becomes
    `arm`'s own measure (reduction_name) on disjoint seeds (SEED_OFFSET, those of an A/A control), so the two
    differ by sampling noise only; shift moves them onto a margin where the comparator is one."""
    return Control("other_seeds", what, arms={comparator: arm}, metrics={comparator: Metric(reduction_name)},
                   seeds={comparator: SEED_OFFSET}, shift=shift or {}, null=True)
