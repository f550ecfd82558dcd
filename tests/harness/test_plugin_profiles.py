"""Plugin profiles and report comparison on the fake claim files. See test_plugin.py."""
from __future__ import annotations

import json

from plugin_fakes import HELPERS, run

pytest_plugins = ["pytester"]


def test_smoke_profile_asserts_no_verdict(fake):
    r = run(fake, "--claims-profile", "smoke", "--claims-report", "rep")
    r.assert_outcomes(passed=7)
    j = json.loads((fake.path / "rep" / "report.json").read_text())
    assert {h["verdict"] for h in j["hypotheses"]} == {"smoke"}
    assert {c["verdict"] for c in j["claims"]} == {"smoke run: no verdict"}


def test_compare_gates_on_verdict_change(fake):
    # the old report, built in-process from the same fake hypotheses but a different verdict
    from harness.context import RunContext
    from harness.report import build_report

    ns = {}
    exec(HELPERS, ns)
    hyp = ns["C8"][0]
    ev = ns["make_run_fn"]("not reproduced")(hyp, RunContext())
    old = build_report([ev], run_info={"profile": "ci", "seed_base": 0})
    (fake.path / "old.json").write_text(json.dumps(old))
    # hypothesis-level selection (C8.a) passes on its own; the verdict change fails the session
    r = run(fake, "--claims-ids", "C8.a", "--claims-report", "new", "--claims-compare", "old.json")
    r.assert_outcomes(passed=1, deselected=6)
    assert r.ret == 1
    out = r.stdout.str()
    assert "verdict changes (1):" in out and "C8.a: not reproduced -> reproduced" in out
    assert "C8.a: effect -0.4 [-0.6, -0.2] -> 0.5 [0.3, 0.7]" in out      # drift is reported too
