"""Pre-registered hypotheses as data, and the evidence record a check produces.

A Hypothesis is declared before anything runs (statement, source, metric, arms, direction,
test, alpha, seeds). Evidence is a JSON-safe dict so it can ride on pytest reports across
xdist workers and be written to report.json unchanged. No torch import here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bnclaims.harness.declare.vocabulary import (DIRECTIONS, FWER, PLANNED_POWER, PROFILES,  # noqa: F401
    ROLES, RUN_PROFILES, STANCES, VERDICTS)

@dataclass(frozen=True)
class Budget:
    """Seeds per arm and training steps for one profile."""
    seeds: int
    steps: int = 0


@dataclass(frozen=True)
class Hypothesis:
    id: str                      # stable id, e.g. "C1.a"
    claim: str                   # article claim id, e.g. "C1"
    title: str                   # a few words
    statement: str               # H1 in our words
    source: str                  # paper, section, figure
    stance: str                  # stance of H1 (if reproduced) toward the article claim
    metric: str                  # what is measured, and the unit of analysis (one number per seed)
    arms: tuple[str, ...]        # arm names; for two arms H1 compares arms[0] (x) against arms[1] (y)
    direction: str               # see DIRECTIONS
    test: str                    # harness.stats test name, or "deterministic"
    budgets: dict = field(default_factory=dict)   # profile -> Budget
    alpha: float = 0.01
    confirmatory: bool = True
    paired: bool = False         # arms paired by seed (same init stream and data order)
    margin: float | None = None  # equivalence margin (direction "equivalent")
    sesoi: float | None = None   # smallest effect of interest: TOST inside it means "not reproduced"
    sequential: bool = False     # two-stage group-sequential plan (O'Brien-Fleming): half the seeds first
    expect: str = "reproduced"   # pre-registered expectation; "not reproduced" = strict expected failure
    expect_reason: str = ""      # why (pilot evidence), shown when the expected failure happens
    notes: str = ""
    role: str = "evidence"       # see ROLES; only confirmatory evidence votes on the claim verdict
    group: str = ""              # hypotheses read from one ensemble share a group: one of them votes
    design: object = field(default=None, compare=False, repr=False)   # harness.declare.design.Design: what runs
    profiles: tuple = ()         # () every profile runs it; else only these do by default (a check whose CPU cost
                                 # the ci budget cannot carry); selected by its own id it runs in any profile
    retired: str = ""            # why the measure is invalid as built: it still runs and is shown, never as evidence
    planned_power: float | None = None   # a vote's power by simulating its exact test at the pilot's conservative
                                 # effect (harness.stats.power.plan); below PLANNED_POWER it is registered as underpowered:
                                 # an inconclusive verdict is then the expected outcome of the plan (xfailed, shown)

    def __post_init__(self):
        if self.stance not in STANCES:
            raise ValueError(f"{self.id}: stance must be one of {STANCES}, got {self.stance!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"{self.id}: direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.expect not in VERDICTS:
            raise ValueError(f"{self.id}: expect must be one of {VERDICTS}")
        if self.direction == "equivalent" and self.margin is None:
            raise ValueError(f"{self.id}: an equivalence hypothesis needs a margin")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"{self.id}: alpha must be in (0, 0.5)")
        if self.role not in ROLES:
            raise ValueError(f"{self.id}: role must be one of {ROLES}, got {self.role!r}")
        if self.direction == "deterministic" and self.role == "evidence":
            raise ValueError(f"{self.id}: a deterministic check is an identity or manipulation check, "
                             "not statistical evidence; declare role='identity'")
        for p in self.budgets:
            if p not in PROFILES:
                raise ValueError(f"{self.id}: unknown profile {p!r} in budgets")
        for p in self.profiles:
            if p not in RUN_PROFILES:
                raise ValueError(f"{self.id}: unknown profile {p!r} in profiles")
        if self.retired and self.confirmatory:
            raise ValueError(f"{self.id}: a retired check cannot vote; declare confirmatory=False")
        if self.planned_power is not None and not 0 <= self.planned_power <= 1:
            raise ValueError(f"{self.id}: planned_power must be in [0, 1]")
        if self.profiles and self.confirmatory:
            raise ValueError(f"{self.id}: a check that some profiles skip cannot vote; declare confirmatory=False")

    @property
    def underpowered(self) -> bool:
        """Registered as underpowered: its planned power at the pilot's conservative effect is below PLANNED_POWER."""
        return self.planned_power is not None and self.planned_power < PLANNED_POWER

    @property
    def votes(self) -> bool:
        """Does this hypothesis vote on its claim's verdict? Only confirmatory evidence does."""
        return self.confirmatory and self.role == "evidence"

    @property
    def statistical(self) -> bool:
        return self.direction != "deterministic"

    def runs_in(self, profile: str) -> bool:
        """Does the default selection of this profile run it (see profiles)? The paper profile runs only the
        checks that name it: the MLP suite has its own profiles."""
        if profile == "paper":
            return profile in self.profiles
        return not self.profiles or profile in self.profiles

    def budget(self, profile: str) -> Budget:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        if profile in self.budgets:
            return self.budgets[profile]
        if "ci" in self.budgets:
            return self.budgets["ci"]
        # a check declared for other profiles only (the paper checks) runs at its own budget when named elsewhere
        return next((b for p, b in self.budgets.items() if p != "smoke"), Budget(seeds=0))

    def seeds(self, profile: str, seed_base: int = 0) -> list[int]:
        """Seeds for this profile; disjoint across seed bases (base b uses b*10000 + i)."""
        return seed_list(self.budget(profile).seeds, seed_base)

    def declaration(self) -> dict:
        """JSON-safe pre-registration, printed/stored before results exist (declare/lockform.py: the lock contract)."""
        from bnclaims.harness.declare.lockform import declaration
        return declaration(self)


@dataclass(frozen=True)
class Claim:
    id: str                      # "C1"
    article_text: str            # the article's claim, in our words
    source: str                  # primary sources the article leans on
    hypotheses: tuple[Hypothesis, ...] = ()
    article_side: bool = True    # False for checks beyond the article (Santurkar S, Yang Y)
    fwer: float = FWER           # family-wise alpha over the claim's voting hypotheses (Bonferroni)
    maps: tuple = ()             # harness.declare.maps.RobustnessMap: where the primary evidence holds
    subclaims: tuple = ()        # harness.declare.subclaims.SubClaim: the statements the claim makes, each with a verdict

    def summary(self) -> dict:
        votes = [h for h in self.hypotheses if h.votes]
        out = {"id": self.id, "text": self.article_text, "source": self.source,
               "article": self.article_side, "fwer": self.fwer, "allocation": "Bonferroni",
               "alpha_allocated": {h.id: h.alpha for h in votes}}
        if self.maps:
            out["maps"] = [m.declaration() for m in self.maps]
        if self.subclaims:
            out["subclaims"] = [s.declaration() for s in self.subclaims]
        return out


def seed_list(n: int, seed_base: int = 0) -> list[int]:
    if seed_base < 0:
        raise ValueError("seed base must be >= 0")
    return [10_000 * seed_base + i for i in range(n)]
