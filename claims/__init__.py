"""bnclaims' own claim pack, the "builtin" entry point of the group bnclaims.claims (pyproject.toml):

    CLAIMS      every claim, in id order, each with its sub-claims (subclaims.py), the checks of the article's side
                statements (side.py) and round 2's confirmatory votes (round2.py)

and what the framework reads beside the claims, through bnclaims.harness.declare.registry.pack() (it never
imports this package's modules by name):

    LOCK        the pre-registration lock of this pack's declarations (bnclaims lock)
    AMENDMENTS  the amendment log the report shows beside each amended declaration
    ROUND       the module holding the registered confirmatory round (ROUND, SEED_BASE, REPLICATION_BASE, VOTES,
                banner(seed_base))
    KNOCKOUTS   the module declaring the knock-outs of the votes (knockout_results_path(), BY_HYPOTHESIS, ...)
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from bnclaims.harness.kit import Claim

_HERE = Path(__file__).resolve().parent
LOCK = _HERE / "prereg.lock.json"
AMENDMENTS = _HERE / "amendments.json"
ROUND = "bnclaims.claims.round2"
KNOCKOUTS = "bnclaims.claims.knockouts"

# The claim modules come after the names above: they are this package's submodules, and LOCK and the rest must be
# readable while they load.
from bnclaims.claims import c1, c2, c3, c4, layernorm, paper, round2, santurkar, side, subclaims, yang  # noqa: E402


def _with_subclaims(claim: Claim) -> Claim:
    """The claim with its sub-claims and the checks of the article's side statements (claims/side.py)."""
    merged = dataclasses.replace(side.merged(claim), subclaims=subclaims.BY_CLAIM.get(claim.id, ()))
    return round2.apply(merged)


CLAIMS: list[Claim] = [_with_subclaims(c) for c in (c1.CLAIM, c2.CLAIM, c3.CLAIM, c4.CLAIM, santurkar.CLAIM,
                                                    yang.CLAIM, layernorm.CLAIM, paper.CLAIM)]
