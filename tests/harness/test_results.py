"""The published round-2 results: results/report.json is the ci run at the registered seed base, and the README
opens with the findings table computed from it."""
import json
from pathlib import Path

import pytest

from bnclaims.harness.report import summary as sm

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "report.json"


@pytest.fixture(scope="module")
def report():
    if not RESULTS.exists():
        pytest.fail("results/report.json is missing: publish the round-2 report (bnclaims run, seed base 300)")
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def test_results_are_the_registered_round(report):
    from bnclaims.claims import round2
    run = report["run"]
    assert (run["profile"], run["seed_base"]) == ("ci", round2.SEED_BASE)
    r = report["round"]
    assert r["kind"] == "confirmatory" and r["registered_at"] == round2.REGISTERED_AT
    assert round2.REGISTERED_AT and round2.REGISTERED_AT[:12] in r["text"]


def test_readme_opens_with_the_findings_table_of_the_results(report):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sm.readme_findings(readme) == sm.findings_table(report), (
        "README's findings table differs from results/report.json; regenerate it with "
        "`python -c \"import json; from bnclaims.harness.report import summary as sm; "
        "print(sm.findings_table(json.load(open('results/report.json'))))\"`")
    first = readme.index(sm.FINDINGS_START)
    assert first < readme.index("Run the claims"), "the findings open the README, before the commands"
    shot = ROOT / "results" / "report-screenshot.png"
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "results/report-screenshot.png" in readme[:first + 20000]


def test_every_vote_of_the_round_is_in_the_results(report):
    from bnclaims.claims import round2
    recs = {r["id"]: r for r in report["hypotheses"]}
    for sid, vs in round2.VOTES.items():
        for v in vs:
            r = recs[v.id]
            assert r["hypothesis"]["confirmatory"] and r["verdict"] in ("reproduced", "not reproduced", "inconclusive")
            assert r["stats"].get("sesoi") == v.sesoi or v.sesoi is None, v.id
