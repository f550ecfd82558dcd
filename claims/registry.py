"""bnclaims' own claims, in id order: the "builtin" entry of the bnclaims.claims entry-point group
(pyproject.toml). harness.registry reads this group, so third-party claim packs sit beside it.
Each claim gets its sub-claims (claims/subclaims.py), its side-statement checks (claims/side.py) and round 2's
confirmatory votes (claims/round2.py) here."""
from __future__ import annotations

import dataclasses

from bnclaims.harness.declare.hypothesis import Claim

from bnclaims.claims import c1, c2, c3, c4, layernorm, paper, round2, santurkar, side, subclaims, yang


def _with_subclaims(claim: Claim) -> Claim:
    """The claim with its sub-claims and the checks of the article's side statements (claims/side.py)."""
    merged = dataclasses.replace(side.merged(claim), subclaims=subclaims.BY_CLAIM.get(claim.id, ()))
    return round2.apply(merged)


CLAIMS: list[Claim] = [_with_subclaims(c) for c in (c1.CLAIM, c2.CLAIM, c3.CLAIM, c4.CLAIM, santurkar.CLAIM,
                                                    yang.CLAIM, layernorm.CLAIM, paper.CLAIM)]
