"""All article claims and their hypotheses, in id order; ids are stable.

    find(["C1", "C3.a"]) -> the hypotheses of claim C1 and hypothesis C3.a
"""
from __future__ import annotations

from harness.hypothesis import Claim, Hypothesis

from claims import c1, c2, c3, c4, santurkar, yang

CLAIMS: list[Claim] = [c1.CLAIM, c2.CLAIM, c3.CLAIM, c4.CLAIM, santurkar.CLAIM, yang.CLAIM]


def all_hypotheses() -> list[Hypothesis]:
    return [h for c in CLAIMS for h in c.hypotheses]


def find(ids: list[str]) -> list[Hypothesis]:
    """Hypotheses selected by claim or hypothesis ids (C1 selects C1.a, C1.b, ...), in registry
    order, without repeats. Raises KeyError with the first id that matches nothing."""
    hyps = all_hypotheses()
    chosen: list[Hypothesis] = []
    for i in ids:
        hits = [h for h in hyps if h.id == i or h.id.startswith(i + ".") or h.claim == i]
        if not hits:
            raise KeyError(i)
        chosen += [h for h in hits if h not in chosen]
    return chosen
