"""The bnclaims pytest plugin, run on a fake claim pack (declared hypotheses over a numpy routine, no
training), collected from its entry point as a third-party pack would be.

Runs pytest in subprocesses via pytester, so xdist works and the repo conftest is not involved. The
fake pack is in plugin_fakes.py; the other plugin tests are in test_plugin_options.py and
test_plugin_profiles.py (separate files, so pytest-xdist can spread these slow tests over workers).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

from plugin_fakes import run, strip_volatile

pytest_plugins = ["pytester"]


def test_plugin_does_not_import_torch():
    code = ("import sys, bnclaims.harness.plugin.hooks, bnclaims.harness.report.build, bnclaims.harness.declare.evidence, "
            "bnclaims.harness.run.context, bnclaims.harness.declare.registry as registry; registry.claims(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_same_report_under_xdist(fake):
    """-n 0 and -n 2 write the same report; the -n 0 run's outcomes and report content are checked too."""
    # the fake pack's expected numbers were written at seed base 0 (the default is round 2's base 300)
    r0 = run(fake, "-n", "0", "-rA", "--claims-report", "rep0", "--claims-seed-base", "0")
    r2 = run(fake, "-n", "2", "--dist", "loadfile", "--claims-report", "rep2", "--junitxml", "out.xml",
             "--claims-seed-base", "0")
    for r in (r0, r2):
        r.assert_outcomes(passed=14, failed=3, xfailed=2)      # 6 hypotheses, 12 controls (6 A/A), 1 plain test
    j0 = json.loads((fake.path / "rep0" / "report.json").read_text())
    j2 = json.loads((fake.path / "rep2" / "report.json").read_text())
    assert j2["timing"]["workers"] == 2 and set(j2["timing"]["wall_s"]) == set(j0["timing"]["wall_s"])
    assert strip_volatile(j0) == strip_volatile(j2)
    for name in ("report.md", "figures/c8a_lines.png", "figures/c8a_side.png"):
        assert (fake.path / "rep0" / name).read_bytes() == (fake.path / "rep2" / name).read_bytes(), name
    assert [r["id"] for r in j2["hypotheses"]] == ["C8.a", "C8.b", "C8.c", "C9.a", "C9.b", "C9.c"]
    extra = j2["hypotheses"][0]["extra"]
    assert extra["control"] is None
    assert [(c["id"], c["control"], c["outcome"]) for c in j2["controls"] if c["kind"] == "plumbing"][:2] == [
        ("C8.a", "same", "passed"), ("C8.b", "same", "passed")]
    # every statistical hypothesis carries its A/A null control: both arms the plain spec, disjoint seeds
    aa = {c["id"]: c for c in j2["controls"] if c["control"] == "aa"}
    assert sorted(aa) == ["C8.a", "C8.b", "C8.c", "C9.a", "C9.b", "C9.c"]
    for r in j2["hypotheses"]:
        nc = r["null_control"]
        assert nc == aa[r["id"]] and nc["kind"] == "null" and nc["alpha"] == r["hypothesis"]["alpha"]
        assert set(nc["seeds"]) == {"bn", "plain"} and not set(nc["seeds"]["bn"]) & set(nc["seeds"]["plain"])
        assert nc["seeds"]["plain"] == r["arms"]["plain"]["seeds"]          # the control arm's runs are reused
    assert j2["hypotheses"][0]["hypothesis"]["design"]["arms"]["bn"]["routine"] == "fake_values"
    check_outcomes_and_report(r0.stdout.str(), fake.path / "rep0")
    check_junit_properties(fake.path / "out.xml")


def check_junit_properties(path):
    """--junitxml under -n 2: every claim item (hypotheses and controls) has its properties in the XML."""
    import xml.etree.ElementTree as ET
    cases = ET.parse(path).getroot().iter("testcase")
    props = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")} for c in cases}
    claims = {k: v for k, v in props.items() if v}
    assert len(claims) == 18 and "test_not_a_claim" in props and not props["test_not_a_claim"]
    a = claims["C8.a"]
    assert a["verdict"] == "reproduced" and a["role"] == "evidence" and a["votes"] == "true"
    assert float(a["ci_low"]) < float(a["effect"]) < float(a["ci_high"]) and float(a["p"]) < float(a["alpha"])
    assert a["n"] == "bn=4,plain=4" and a["claim"] == "C8" and a["profile"] == "ci"
    assert claims["C8.a[aa]"]["control"] == "aa"


def check_outcomes_and_report(out, rep):
    """What the terminal and report.md/html say for the fake pack's verdicts."""
    # not reproduced where reproduced was expected: fails with the evidence table
    assert "C8.b: NOT REPRODUCED: statement of C8.b" in out
    assert "expected  : reproduced   measured: not reproduced" in out
    assert "effect -0.5 95% CI [-0.625, -0.325]" in out and "alpha 0.01" in out
    assert "  plain     4         1.15       0.1291         1  0..3" in out   # arm row: n, mean, sd, diverged, seeds
    # inconclusive never passes; strict expected failure
    assert "C8.c: INCONCLUSIVE" in out
    # items that share runs share a scope named by the group's first id (run.scheduling.run_groups)
    assert re.search(r"XFAIL bnclaims/C[89]\.[a-c]::C9\.a - pre-registered expected failure: pilot: 3/3 seeds", out)
    assert "C9.b: unexpected pass" in out
    # an exploratory check is non-gating: inconclusive is an expected failure with its reason, never a pass
    assert re.search(r"XFAIL bnclaims/C[89]\.[a-c]::C9\.c - exploratory, non-gating: INCONCLUSIVE", out)
    # every declared control is an item of its own; a plain test file is still collected
    assert re.search(r"PASSED bnclaims/C8\.a::C8\.a\[same\]", out) and "PASSED test_plain.py::test_not_a_claim" in out
    # terminal section: one line per hypothesis, then the claims and the controls
    sec = out[out.index("= bnclaims ="):]
    assert "C8.a  reproduced" in out and "[passed]" in sec and "[xfailed]" in sec and "n bn=4, plain=4" in sec
    assert "C8: mixed" in sec and "C9: contradicted" in sec and "controls: 12 of 12 as declared" in sec

    md = (rep / "report.md").read_text()
    assert "## C8" in md and "**Overall verdict: mixed**" in md
    assert "for: C8.a (title C8.a); against: C8.b (title C8.b); not decisive: C8.c" in md
    assert "**Overall verdict: contradicted**" in md and "beyond the article" in md
    assert ("| hypothesis | statement | stance | test | n per arm | effect [95% CI] | g or d_z | p | verdict | role |"
            in md)
    assert "BN &lt;lowers&gt; loss & \\| pipes" in md and "not reproduced (expected)" in md and "exploratory" in md
    assert "![loss](figures/c8a_lines.png)" in md and "![side by side](figures/c8a_side.png)" in md
    assert (rep / "figures" / "c8a_side.png").stat().st_size > 1000
    assert "## Suite-level multiplicity" in md
    page = (rep / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3          # the summary's forest plot and the two figures
    assert "BN &lt;lowers&gt; loss &amp; | pipes" in page and "<lowers>" not in page
    assert 'src="figures/' not in page
