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
