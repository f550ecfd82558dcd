"""bnclaims' own claims, in id order: the "builtin" entry of the bnclaims.claims entry-point group
(pyproject.toml). harness.registry reads this group, so third-party claim packs sit beside it."""
from __future__ import annotations

from harness.hypothesis import Claim

from claims import c1, c2, c3, c4, layernorm, paper, santurkar, yang

CLAIMS: list[Claim] = [c1.CLAIM, c2.CLAIM, c3.CLAIM, c4.CLAIM, santurkar.CLAIM, yang.CLAIM, layernorm.CLAIM, paper.CLAIM]
