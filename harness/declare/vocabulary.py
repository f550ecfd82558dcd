"""The words of a declaration: budget profiles, verdicts, stances, directions, roles, and the default
family-wise alpha and planned power. Plain constants; every other declare/ module imports them from here."""
from __future__ import annotations

PROFILES = ("smoke", "ci", "full", "paper")   # budget profiles a hypothesis declares (paper: the paper-scale checks)
# profiles a run can use: survey runs every robustness-map cell (harness.declare.maps) at the ci budgets
RUN_PROFILES = PROFILES + ("survey",)
VERDICTS = ("reproduced", "not reproduced", "inconclusive")
STANCES = ("supports", "contradicts")
DIRECTIONS = ("greater", "less", "equivalent", "decreasing", "increasing", "deterministic")
# evidence votes on the claim; a manipulation check shows the intervention did what it should (e.g. the
# noise was injected); an identity check tests an algebraic or analytic fact of the implementation
ROLES = ("evidence", "manipulation", "identity")
FWER = 0.01                  # family-wise alpha of every article claim
PLANNED_POWER = 0.8          # the power a vote's plan aims for (harness.stats.power.plan)
