"""Plugin profiles and report comparison on the fake claim files. See test_plugin.py."""
from __future__ import annotations

import json

from plugin_fakes import run

pytest_plugins = ["pytester"]


def test_smoke_profile_asserts_no_verdict(fake):
    r = run(fake, "--claims-profile", "smoke", "--claims-report", "rep")
    r.assert_outcomes(passed=19)
    j = json.loads((fake.path / "rep" / "report.json").read_text())
    assert {h["verdict"] for h in j["hypotheses"]} == {"smoke"}
    assert {c["verdict"] for c in j["claims"]} == {"smoke run: no verdict"}


def test_compare_gates_on_verdict_change(fake):
    # the old report: C8.b's evidence filed under C8.a (a different verdict and effect)
    r = run(fake, "--claims-ids", "C8.b", "--claims-report", "old")
    old = json.loads((fake.path / "old" / "report.json").read_text())
    old["hypotheses"][0]["id"] = "C8.a"
    (fake.path / "old.json").write_text(json.dumps(old))
    # hypothesis-level selection (C8.a) passes on its own; the verdict change fails the session
    r = run(fake, "--claims-ids", "C8.a", "--claims-report", "new", "--claims-compare", "old.json")
    r.assert_outcomes(passed=3, deselected=16)
    assert r.ret == 1
    out = r.stdout.str()
    assert "verdict changes (1):" in out and "C8.a: not reproduced -> reproduced" in out
    assert "C8.a: effect -0.5 [-0.625, -0.325] -> 0.5 [0.35, 0.65]" in out      # drift is reported too


def test_a_check_declared_for_other_profiles_is_skipped_with_its_reason_and_runs_when_named(fake):
    """Hypothesis.profiles: the ci run skips C9.c (and its controls) with the reason, the report lists it under
    not_run and in its claim section; selected by its own id it runs in ci."""
    from plugin_fakes import PACK, install_pack
    install_pack(fake.path, source=PACK + (
        "\nimport dataclasses\n"
        "_c = dataclasses.replace(CLAIMS[1].hypotheses[2], profiles=('full', 'survey'))\n"
        "CLAIMS[1] = dataclasses.replace(CLAIMS[1], hypotheses=CLAIMS[1].hypotheses[:2] + (_c,))\n"))
    r = run(fake, "--claims-report", "rep", "-rs")
    r.assert_outcomes(passed=12, failed=3, xfailed=1, skipped=3)     # the fake pack fails on purpose (C9.b)
    out = r.stdout.str()
    assert "C9.c runs in the full, survey profile(s) only" in out and "not run in profile ci" in out
    j = json.loads((fake.path / "rep" / "report.json").read_text())
    assert [n["id"] for n in j["not_run"]] == ["C9.c"] and j["not_run"][0]["profiles"] == ["full", "survey"]
    assert "C9.c" not in {h["id"] for h in j["hypotheses"]} and not j["missing"]
    assert "C9.c (title C9.c): not run in this profile" in (fake.path / "rep" / "report.md").read_text()
    r = run(fake, "--claims-ids", "C9.c", "--claims-report", "rep2")
    r.assert_outcomes(passed=2, xfailed=1, deselected=16)          # the check and its two controls ran
    j = json.loads((fake.path / "rep2" / "report.json").read_text())
    assert [h["id"] for h in j["hypotheses"]] == ["C9.c"] and j["not_run"] == []
