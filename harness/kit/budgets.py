"""Budget tables several claims declare alike: one per profile from (seeds, steps) pairs, and the one-seed table
of an exact check that trains nothing (its seed count is the only thing a profile could change)."""
from __future__ import annotations

from bnclaims.harness.declare.hypothesis import Budget


def budgets(smoke: tuple, ci: tuple, full: tuple) -> dict:
    """{profile: Budget(seeds, steps)} from a (seeds, steps) pair per profile."""
    return {name: Budget(seeds=s, steps=t) for name, (s, t) in (("smoke", smoke), ("ci", ci), ("full", full))}


# an exact check: one seed in every profile, no steps
ONE_SEED = {"smoke": Budget(seeds=1), "ci": Budget(seeds=1), "full": Budget(seeds=1)}
