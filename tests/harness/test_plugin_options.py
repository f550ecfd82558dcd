"""Plugin options on the fake claim files: claim selection, usage errors. See test_plugin.py."""
from __future__ import annotations

import json

import pytest

from plugin_fakes import run

pytest_plugins = ["pytester"]


def test_claims_ids_selects_a_claim(fake):
    r = run(fake, "--claims-ids", "C9", "--claims-report", "rep")
    r.assert_outcomes(failed=1, xfailed=2, deselected=4)
    j = json.loads((fake.path / "rep" / "report.json").read_text())
    assert [h["id"] for h in j["hypotheses"]] == ["C9.a", "C9.b", "C9.c"]
    assert j["run"]["ids"] == ["C9"]


def test_unknown_claims_ids_are_usage_errors(fake):
    r = run(fake, "--claims-ids", "C9,C77")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "--claims-ids: C77 matches no collected claim check" in r.stderr.str()


def test_bad_options_are_usage_errors(fake):
    r = run(fake, "--claims-profile", "bogus")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "--claims-profile: unknown profile 'bogus'; choose one of smoke, ci, full" in r.stderr.str()
    r = run(fake, "--claims-seed-base", "-3")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "--claims-seed-base: expected an integer >= 0" in r.stderr.str()
