"""The bnclaims pytest plugin, run on fake claim checks (hand-made stats, no torch, no training).

Runs pytest in subprocesses via pytester, so xdist works and the repo conftest is not involved.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

# Hypotheses and a run_fn shared by the fake claim files. make_evidence gets a fixed env so the
# fake runs need not import torch.
HELPERS = '''
import os
import pytest
from harness.hypothesis import Budget, Claim, Hypothesis
from harness.evidence import figure, make_evidence, panels, series

ENV = {"python": "3", "platform": "test", "numpy": "2", "scipy": "1", "torch": None,
       "torch_threads": None, "device": "cpu"}


def H(hid, stance="supports", expect="reproduced", confirmatory=True, statement=None):
    return Hypothesis(id=hid, claim=hid.split(".")[0], title=f"title {hid}",
                      statement=statement or f"statement of {hid}", source="Ioffe & Szegedy 2015, sec. 3",
                      stance=stance, metric="loss at step 100, one value per seed", arms=("bn", "plain"),
                      direction="greater", test="welch", budgets={"ci": Budget(seeds=4, steps=10)},
                      alpha=0.01, confirmatory=confirmatory, expect=expect,
                      expect_reason="pilot: 3/3 seeds" if expect != "reproduced" else "")


def make_run_fn(verdict, figs=()):
    def run_fn(hyp, ctx):
        seeds = ctx.seeds(hyp)
        xs = [1.0 + 0.1 * i for i in range(len(seeds))]
        ys = [0.5 + 0.1 * i for i in range(len(seeds) - 1)] + [None]   # the last seed diverged
        effect = {"reproduced": 0.5, "not reproduced": -0.4, "inconclusive": 0.05}[verdict]
        p = {"reproduced": 0.001, "not reproduced": 0.9, "inconclusive": 0.3}[verdict]
        stats = {"n_x": 4, "n_y": 3, "mean_x": 1.15, "mean_y": 0.65, "sd_x": 0.13, "sd_y": 0.13,
                 "effect": effect, "ci": [effect - 0.2, effect + 0.2], "ratio": 1.77, "ratio_ci": [1.4, 2.2],
                 "hedges_g": 3.5, "p_superiority": 1.0, "p": p, "p_opposite": 1 - p, "test": "welch",
                 "direction": "greater", "alpha": 0.01, "verdict": verdict,
                 "reason": f"fake {verdict} (p={p})", "values_x": xs, "values_y": ys[:-1]}
        arms = {"bn": {"seeds": seeds, "values": xs, "spec": {"norm": "bn"}, "spec_hash": "aa11"},
                "plain": {"seeds": seeds, "values": ys, "spec": {"norm": None}, "spec_hash": "bb22",
                          "diverged": [None, None, None, 7]}}
        extra = {"store": ctx.store, "store_env_ok": os.environ.get("BNCLAIMS_STORE") == ctx.store,
                 "omp": os.environ.get("OMP_NUM_THREADS")}
        return make_evidence(hyp, CLAIMS[hyp.claim], ctx, arms=arms, stats=stats, engine="analytic",
                             figures=figs, extra=extra, wall_s=0.01, env=ENV)
    return run_fn


LINES = figure("c8a_lines", "loss", [series("BN", [0, 1, 2], [1.0, 0.5, 0.3], [0.9, 0.4, 0.2], [1.1, 0.6, 0.4]),
                                     series("plain", [0, 1, 2], [1.0, 0.8, 0.7])],
               xlabel="step", ylabel="loss", logy=True)
SIDE = panels("c8a_side", "side by side", [
    figure("c8a_sc", "scatter", [series("seeds", [1, 2, 3], [2, 3, 1])], kind="scatter"),
    figure("c8a_bar", "bar", [series("BN", ["a", "b"], [1, 2], [0.5, 1.5], [1.5, 2.5]),
                              series("plain", ["a", "b"], [2, 1])], kind="bar")])

C8 = [H("C8.a", statement="BN <lowers> loss & | pipes"), H("C8.b"), H("C8.c")]
C9 = [H("C9.a", expect="not reproduced"), H("C9.b", stance="contradicts", expect="not reproduced"),
      H("C9.c", confirmatory=False)]
CLAIMS = {"C8": Claim("C8", "BN helps optimisation", "Ioffe & Szegedy 2015", tuple(C8)),
          "C9": Claim("C9", "BN reduces ICS", "Santurkar et al. 2018", tuple(C9), article_side=False)}
'''

TEST_C8 = '''
import pytest
from fakeclaims import C8, CLAIMS, LINES, SIDE, make_run_fn

CASES = {"C8.a": ("reproduced", (LINES, SIDE)), "C8.b": ("not reproduced", ()), "C8.c": ("inconclusive", ())}


@pytest.mark.parametrize("hyp", [pytest.param(h, marks=pytest.mark.claim(h.id), id=h.id) for h in C8])
def test_c8(hyp, claims_run):
    verdict, figs = CASES[hyp.id]
    claims_run(hyp, CLAIMS["C8"], make_run_fn(verdict, figs))


def test_not_a_claim():
    pass
'''

TEST_C9 = '''
import pytest
from fakeclaims import C9, CLAIMS, make_run_fn

pytestmark = pytest.mark.claim("C9")
CASES = {"C9.a": "not reproduced", "C9.b": "reproduced", "C9.c": "inconclusive"}


@pytest.mark.parametrize("hyp", C9, ids=[h.id for h in C9])
def test_c9(hyp, claims_run):
    claims_run(hyp, CLAIMS["C9"], make_run_fn(CASES[hyp.id]))
'''


@pytest.fixture
def fake(pytester, monkeypatch):
    monkeypatch.setenv("BNCLAIMS_STORE", str(pytester.path / "store"))
    pytester.makepyfile(fakeclaims=HELPERS, test_c8=TEST_C8, test_c9=TEST_C9)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "harness.plugin", "-p", "no:cacheprovider", *args)


def _strip(obj):
    """Drop timing and environment fields, which may differ between otherwise identical runs."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in ("timing", "env", "wall_s", "worker_id")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def test_plugin_does_not_import_torch():
    code = ("import sys, harness.plugin, harness.report, harness.evidence, harness.context; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_same_report_under_xdist(fake):
    r0 = run(fake, "-n", "0", "--claims-report", "rep0")
    r2 = run(fake, "-n", "2", "--dist", "loadfile", "--claims-report", "rep2")
    for r in (r0, r2):
        r.assert_outcomes(passed=2, failed=3, xfailed=2)
    j0 = json.loads((fake.path / "rep0" / "report.json").read_text())
    j2 = json.loads((fake.path / "rep2" / "report.json").read_text())
    assert j2["timing"]["workers"] == 2 and set(j2["timing"]["wall_s"]) == set(j0["timing"]["wall_s"])
    assert _strip(j0) == _strip(j2)
    for name in ("report.md", "figures/c8a_lines.png", "figures/c8a_side.png"):
        assert (fake.path / "rep0" / name).read_bytes() == (fake.path / "rep2" / name).read_bytes(), name
    assert [r["id"] for r in j2["hypotheses"]] == ["C8.a", "C8.b", "C8.c", "C9.a", "C9.b", "C9.c"]
    extra = j2["hypotheses"][0]["extra"]
    assert extra["store_env_ok"] and extra["omp"] is not None      # store exported to workers


def test_verdicts_map_to_outcomes_and_report(fake):
    r = run(fake, "-rA", "--claims-report", "rep")
    r.assert_outcomes(passed=2, failed=3, xfailed=2)
    out = r.stdout.str()
    # not reproduced where reproduced was expected: fails with the evidence table
    assert "C8.b: NOT REPRODUCED: statement of C8.b" in out
    assert "expected  : reproduced   measured: not reproduced" in out
    assert "effect -0.4 95% CI [-0.6, -0.2]" in out and "alpha 0.01" in out
    assert "  plain     3         0.65         0.13         1  0..3" in out   # arm row: n, mean, sd, diverged, seeds
    # inconclusive never passes; strict expected failure
    assert "C8.c: INCONCLUSIVE" in out
    assert "XFAIL test_c9.py::test_c9[C9.a] - pre-registered expected failure: pilot: 3/3 seeds" in out
    assert "C9.b: unexpected pass" in out
    # an exploratory check is non-gating: inconclusive is an expected failure with its reason, never a pass
    assert "XFAIL test_c9.py::test_c9[C9.c] - exploratory, non-gating: INCONCLUSIVE" in out
    # terminal section: one line per hypothesis, then the claims
    sec = out[out.index("= bnclaims ="):]
    assert "C8.a  reproduced" in out and "[passed]" in sec and "[xfailed]" in sec and "n bn=4, plain=3" in sec
    assert "C8: mixed" in sec and "C9: contradicted" in sec

    md = (fake.path / "rep" / "report.md").read_text()
    assert "## C8" in md and "**Overall verdict: mixed**" in md
    assert "for: C8.a (title C8.a); against: C8.b (title C8.b); not decisive: C8.c" in md
    assert "**Overall verdict: contradicted**" in md and "beyond the article" in md
    assert ("| hypothesis | statement | stance | test | n per arm | effect [95% CI] | g or d_z | p | verdict | role |"
            in md)
    assert "BN &lt;lowers&gt; loss & \\| pipes" in md and "not reproduced (expected)" in md and "exploratory" in md
    assert "![loss](figures/c8a_lines.png)" in md and "![side by side](figures/c8a_side.png)" in md
    assert (fake.path / "rep" / "figures" / "c8a_side.png").stat().st_size > 1000
    assert "## Suite-level multiplicity" in md
    page = (fake.path / "rep" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "BN &lt;lowers&gt; loss &amp; | pipes" in page and "<lowers>" not in page
    assert 'src="figures/' not in page


def test_smoke_profile_asserts_no_verdict(fake):
    r = run(fake, "--claims-profile", "smoke", "--claims-report", "rep")
    r.assert_outcomes(passed=7)
    j = json.loads((fake.path / "rep" / "report.json").read_text())
    assert {h["verdict"] for h in j["hypotheses"]} == {"smoke"}
    assert {c["verdict"] for c in j["claims"]} == {"smoke run: no verdict"}


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
