"""Plugin options on the fake claim files: claim selection, usage errors. See test_plugin.py."""
from __future__ import annotations

import json

import pytest

from plugin_fakes import run

pytest_plugins = ["pytester"]


def test_claims_ids_selects_a_claim(fake):
    r = run(fake, "--claims-ids", "C9", "--claims-report", "rep")
    r.assert_outcomes(passed=6, failed=1, xfailed=2, deselected=10)    # C9's 3 hypotheses and 6 controls
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


def test_dask_executor_refuses_xdist_in_the_same_call(fake):
    r = run(fake, "--claims-executor", "dask", "-n", "2")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "--claims-executor dask trains on the cluster before any check runs, in a pytest call without -n" in r.stderr.str()


def test_installed_plugin_adds_no_tests_without_opt_in(fake):
    """Installing bnclaims must never add tests to another project's pytest run."""
    r = fake.runpytest_subprocess("-p", "no:cacheprovider")
    r.assert_outcomes(passed=1)
    assert "bnclaims:" not in r.stdout.str() and "= bnclaims =" not in r.stdout.str()
    assert not (fake.path / "claims-report").exists()


def test_claims_only_skips_test_files(fake):
    r = run(fake, "--claims-only", "--claims-ids", "C8.a")
    r.assert_outcomes(passed=3)                      # C8.a and its two controls; test_plain.py is not collected


def test_malformed_declarations_fail_at_collection(fake):
    """Each malformed field is named with its hypothesis; pytest stops with a usage error."""
    from plugin_fakes import PACK, install_pack
    cases = {
        'Metric("fake.values"), figures': ('Metric("fake.nope"), figures', "C8.a: design.metric['bn']: unknown "
                                                                         "reduction 'fake.nope'"),
        'alpha=0.003):': ("alpha=0.7):", "alpha must be in (0, 0.5)"),
        'test="welch"': ('test="t-test"', "C8.a: test: unknown test 't-test'"),
        'arms={"bn": "plain"}': ('arms={"bn": "nobody"}', "C8.a: control 'same': takes arm 'nobody', which is not "
                                                          "declared"),
        'Control("same", "the BN arm replaced by the plain one",\n                                                      arms={"bn": "plain"})':
            ('Control("same", "nothing")', "C8.a: control 'same': names no arm, metric, seed or parameter to change"),
    }
    for old, (new, message) in cases.items():
        assert old in PACK, old
        install_pack(fake.path, source=PACK.replace(old, new, 1))
        r = run(fake)
        assert r.ret == pytest.ExitCode.USAGE_ERROR, (new, r.stdout.str()[-2000:])
        assert message in r.stderr.str(), (message, r.stderr.str()[-2000:])


def test_duplicate_ids_across_packs_fail(fake):
    from plugin_fakes import install_pack
    install_pack(fake.path, name="otherclaims", source="from fakeclaims import CLAIMS\n", dist="otherpack",
                 entry="[bnclaims.claims]\nother = otherclaims:CLAIMS\n")
    r = fake.runpytest_subprocess("-p", "no:cacheprovider", "--claims-collect", "--claims-packs", "fake,other")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "C8: duplicate id, declared by fake (fakeclaims:CLAIMS) and by other (otherclaims:CLAIMS)" in r.stderr.str()
