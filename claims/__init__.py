"""bnclaims' own claim pack (the "builtin" entry point: claims/registry.py). The framework reads a pack's files
through bnclaims.harness.declare.registry.pack(); it never imports this package's modules by name:

    LOCK        the pre-registration lock of this pack's declarations (bnclaims lock)
    AMENDMENTS  the amendment log the report shows beside each amended declaration
    ROUND       the module holding the registered confirmatory round (ROUND, SEED_BASE, REPLICATION_BASE, VOTES,
                banner(seed_base))
    KNOCKOUTS   the module declaring the knock-outs of the votes (knockout_results_path(), BY_HYPOTHESIS, ...)
"""
from pathlib import Path

_HERE = Path(__file__).resolve().parent
LOCK = _HERE / "prereg.lock.json"
AMENDMENTS = _HERE / "amendments.json"
ROUND = "bnclaims.claims.round2"
KNOCKOUTS = "bnclaims.claims.knockouts"
