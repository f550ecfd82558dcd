"""Evidence records, claim reports, report comparison and the bnclaims command line (in-process)."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from bnclaims.harness import cli
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.declare.evidence import (
    environment,
    figure,
    make_evidence,
    panels,
    series,
    to_builtin,
    validate_evidence,
)
from bnclaims.harness.declare.hypothesis import Budget, Claim, Hypothesis
from bnclaims.harness.report import (
    build_report,
    compare_reports,
    format_comparison,
    load_report,
    multiplicity,
    write_reports,
)
from bnclaims.harness.stats.verdict import claim_verdict, id_key

pytest_plugins = ["pytester"]

ENV = {"python": "3", "platform": "test", "numpy": "2", "scipy": "1", "torch": None,
       "torch_threads": None, "device": "cpu"}


def hyp(hid, stance="supports", confirmatory=True, expect="reproduced"):
    return Hypothesis(id=hid, claim=hid.split(".")[0], title=f"t{hid}", statement=f"s{hid}",
                      source="paper, fig. 1", stance=stance, metric="m", arms=("bn", "plain"),
                      direction="greater", test="welch", budgets={"ci": Budget(seeds=3)},
                      confirmatory=confirmatory, expect=expect)


def claim(cid, *hyps):
    return Claim(cid, f"claim {cid} text", f"source of {cid}", tuple(hyps))


def stats(verdict, effect=0.5, p=0.001):
    return {"n_x": 3, "n_y": 3, "mean_x": 1.0, "mean_y": 0.5, "sd_x": 0.1, "sd_y": 0.1, "effect": effect,
            "ci": [effect - 0.1, effect + 0.1], "ratio": 2.0, "ratio_ci": [1.5, 2.5], "hedges_g": 4.0,
            "p_superiority": 1.0, "p": p, "p_opposite": 1 - p, "test": "welch", "direction": "greater",
            "alpha": 0.01, "verdict": verdict, "reason": "because", "values_x": [1, 1, 1],
            "values_y": [0.5, 0.5, 0.5]}


def evidence(h, c, verdict, ctx=RunContext(), figures=(), **kw):
    arms = {"bn": {"seeds": [0, 1, 2], "values": np.array([1.0, 1.1, 0.9])},
            "plain": {"seeds": (0, 1, 2), "values": [np.float64(0.5), 0.6, 0.4]}}
    return make_evidence(h, c, ctx, arms=arms, stats=stats(verdict, **kw), engine="batched",
                         figures=figures, wall_s=1.5, env=ENV)


FIG = figure("a1_curve", "curve <1>", [series("BN", [0, 1, 2], [3, 2, 1], [2, 1, 0], [4, 3, 2])],
             xlabel="step", ylabel="loss")
SIDE = panels("a1_side", "two", [figure("p1", "p1", [series("x", [1, 2], [1, 2])], kind="scatter"),
                                 figure("p2", "p2", [series("y", ["u", "v"], [1, 2])], kind="bar", logy=True)])


@pytest.fixture
def records():
    a1, a2, b1, b2 = hyp("A1.a"), hyp("A1.b", confirmatory=False), hyp("B2.a"), hyp("B2.b", stance="contradicts")
    ca, cb = claim("A1", a1, a2), claim("B2", b1, b2)
    return [evidence(b2, cb, "reproduced", effect=0.3, p=0.008),
            evidence(a1, ca, "reproduced", figures=(FIG, SIDE)),
            evidence(a2, ca, "not reproduced"),
            evidence(b1, cb, "reproduced", p=0.004)]


# ---- context and evidence -------------------------------------------------------------------

def test_run_context_validates():
    assert RunContext().profile == "ci"
    assert RunContext(profile="smoke", seed_base=2).seeds(hyp("A1.a")) == [20000, 20001, 20002]
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        RunContext(profile="huge")
    with pytest.raises(ValueError, match="seed_base must be >= 0"):
        RunContext(seed_base=-1)
    with pytest.raises(ValueError, match="seed_base must be an int"):
        RunContext(seed_base=1.5)


def test_to_builtin():
    got = to_builtin({"a": np.float32(1.5), "b": np.arange(3), "c": (1, np.nan, math.inf), 3: np.bool_(True),
                      "d": np.array([[1.0, np.nan]])})
    assert got == {"a": 1.5, "b": [0, 1, 2], "c": [1, None, None], "3": True, "d": [[1.0, None]]}
    assert type(got["b"][0]) is int and type(got["3"]) is bool
    json.dumps(got, allow_nan=False)
    with pytest.raises(TypeError, match=r"object at \$.x"):
        to_builtin({"x": object()})


def test_make_and_validate_evidence(records):
    ev = records[1]
    assert ev["verdict"] == "reproduced" and ev["engine"] == "batched" and ev["schema"] == 1
    assert ev["arms"]["bn"]["diverged"] == [None, None, None] and ev["arms"]["plain"]["seeds"] == [0, 1, 2]
    assert ev["hypothesis"] == to_builtin(hyp("A1.a").declaration())
    json.dumps(ev, allow_nan=False)
    smoke = evidence(hyp("A1.a"), claim("A1"), "reproduced", ctx=RunContext(profile="smoke"))
    assert smoke["verdict"] == "smoke" and smoke["stats"]["verdict"] == "reproduced"
    bad = dict(ev)
    del bad["stats"]
    with pytest.raises(ValueError, match="missing keys stats"):
        validate_evidence(bad)
    with pytest.raises(ValueError, match="verdict must be one of"):
        validate_evidence({**ev, "verdict": "probably"})
    with pytest.raises(ValueError, match="engine must be one of"):
        validate_evidence({**ev, "engine": "gpu"})
    with pytest.raises(ValueError, match="belongs to claim"):
        evidence(hyp("A1.a"), claim("B2"), "reproduced")
    with pytest.raises(ValueError, match="2 x but 3 y"):
        figure("f", "f", [series("s", [1, 2], [1, 2, 3])])


def test_environment_never_fails():
    env = environment(import_torch=False)
    assert {"python", "platform", "numpy", "scipy", "torch", "torch_threads", "device"} <= env.keys()
    assert env["device"] == "cpu" and env["numpy"] == np.__version__
    json.dumps(env, allow_nan=False)


# ---- verdicts, multiplicity, report files ---------------------------------------------------

def test_claim_verdicts(records):
    a1, a2, b1, b2 = records[1], records[2], records[3], records[0]
    assert claim_verdict([a1, a2], "ci")["verdict"] == "supported"        # exploratory a2 ignored
    mixed = claim_verdict([b1, b2], "ci")
    assert mixed["verdict"] == "mixed" and mixed["for"] == ["B2.a"] and mixed["against"] == ["B2.b"]
    assert claim_verdict([b2 | {"verdict": "not reproduced"}], "ci")["verdict"] == "supported"  # contradicts
    assert claim_verdict([b1 | {"verdict": "not reproduced"}], "ci")["verdict"] == "contradicted"
    assert claim_verdict([b1 | {"verdict": "inconclusive"}], "ci")["verdict"] == "inconclusive"
    assert claim_verdict([a2], "ci")["verdict"] == "inconclusive"         # exploratory only
    assert claim_verdict([a1], "smoke")["verdict"] == "smoke run: no verdict"
    assert sorted(["C10", "C2.b", "C2.a", "C1"], key=id_key) == ["C1", "C2.a", "C2.b", "C10"]


def test_multiplicity_matches_reference_values(records):
    m = multiplicity(records)
    assert m["ids"] == ["A1.a", "B2.a", "B2.b"] and m["p"] == [0.001, 0.004, 0.008]
    # by hand: Holm 3 x 0.001, max(0.003, 2 x 0.004), max(0.008, 1 x 0.008); BH 0.003, 0.006, 0.008
    assert np.allclose(m["holm"], [0.003, 0.008, 0.008]) and np.allclose(m["bh"], [0.003, 0.006, 0.008])


def test_write_reports(records, tmp_path):
    paths = write_reports(records, tmp_path / "rep", run_info={"profile": "ci", "seed_base": 0, "env": ENV})
    rep = load_report(paths["json"])
    assert [h["id"] for h in rep["hypotheses"]] == ["A1.a", "A1.b", "B2.a", "B2.b"]
    assert rep["timing"]["wall_s"] == {"A1.a": 1.5, "A1.b": 1.5, "B2.a": 1.5, "B2.b": 1.5}
    assert all("wall_s" not in h for h in rep["hypotheses"])
    assert [(c["id"], c["verdict"]) for c in rep["claims"]] == [("A1", "supported"), ("B2", "mixed")]
    md = paths["md"].read_text()
    assert "## A1" in md and "**Overall verdict: supported**" in md and "**Overall verdict: mixed**" in md
    assert "for: B2.a (tB2.a); against: B2.b (tB2.b)" in md
    assert "| A1.a tA1.a | sA1.a | supports | welch (greater) | bn=3, plain=3 | 0.5 [0.4, 0.6] | 4 | 0.001 | reproduced | evidence, votes at alpha 0.01 |" in md
    assert "![curve &lt;1&gt;](figures/a1_curve.png)" in md and "](figures/a1_side.png)" in md
    for name in ("a1_curve.png", "a1_side.png"):
        assert (tmp_path / "rep" / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = paths["html"].read_text()
    assert page.count('src="data:image/png;base64,') == 3 and "curve &lt;1&gt;" in page
    assert "http" not in page and "<script" not in page


def test_report_cli_rerenders(records, tmp_path):
    paths = write_reports(records[:1], tmp_path / "rep", run_info={"profile": "ci", "seed_base": 0})
    assert cli.main(["report", str(paths["json"]), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "report.md").read_text() == paths["md"].read_text()
    assert cli.main(["report", str(tmp_path / "missing.json")]) == 2


# ---- comparison -------------------------------------------------------------------------------

def test_compare_reports_and_cli(records, tmp_path, capsys):
    old = build_report(records, run_info={"profile": "ci", "seed_base": 0})
    changed = [r | {"verdict": "not reproduced", "stats": r["stats"] | {"verdict": "not reproduced"}}
               if r["id"] == "A1.a" else r for r in records]
    changed = [r | {"stats": r["stats"] | {"effect": 2.0, "ci": [1.9, 2.1]}} if r["id"] == "B2.a" else r
               for r in changed if r["id"] != "A1.b"]
    c = claim("C3", hyp("C3.a"))
    new = build_report(changed + [evidence(hyp("C3.a"), c, "reproduced")], run_info={"profile": "ci"})
    cmp = compare_reports(old, new)
    assert [{k: c[k] for k in ("id", "old", "new")} for c in cmp["verdict_changes"]] == [
        {"id": "A1.a", "old": "reproduced", "new": "not reproduced"}]
    assert cmp["verdict_changes"][0]["old_ci"] == [0.4, 0.6]          # both intervals travel with the change
    assert [d["id"] for d in cmp["effect_drift"]] == ["B2.a"]
    assert "95% CIs no longer overlap" in cmp["effect_drift"][0]["reason"]
    assert cmp["added"] == ["C3.a"] and cmp["removed"] == ["A1.b"]
    text = format_comparison(cmp)
    assert "A1.a: reproduced -> not reproduced" in text and "added: C3.a" in text
    same = compare_reports(old, old)
    assert not any(same[k] for k in ("verdict_changes", "effect_drift", "added", "removed"))
    assert "no verdict changes" in format_comparison(same)

    # drift against the old interval's width: A1.a's effect (CI [0.4, 0.6]) moves by 0.03 = 0.15 of the width
    nudged = build_report([r | {"stats": r["stats"] | {"effect": r["stats"]["effect"] + 0.03}} if r["id"] == "A1.a"
                           else r for r in records], run_info={"profile": "ci"})
    assert not compare_reports(old, nudged)["effect_drift"]               # 6 % relative: inside the default 25 %
    width = compare_reports(old, nudged, width_tol=0.1)
    assert [d["id"] for d in width["effect_drift"]] == ["A1.a"]
    assert "0.15 of the interval's width (tolerance 0.1)" in width["effect_drift"][0]["reason"]
    assert not compare_reports(old, nudged, width_tol=0.2)["effect_drift"]

    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    capsys.readouterr()
    assert cli.main(["compare", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 1
    assert "A1.a: reproduced -> not reproduced" in capsys.readouterr().out
    assert cli.main(["compare", str(tmp_path / "old.json"), str(tmp_path / "old.json")]) == 0
    (tmp_path / "nudged.json").write_text(json.dumps(nudged))
    capsys.readouterr()
    assert cli.main(["compare", "--width-tol", "0.1", str(tmp_path / "old.json"), str(tmp_path / "nudged.json")]) == 0
    assert "A1.a: effect" in capsys.readouterr().out          # drift is shown; only a verdict change fails
    assert cli.main(["compare", "--width-tol", "-1", str(tmp_path / "old.json"), str(tmp_path / "old.json")]) == 2


# ---- command line -----------------------------------------------------------------------------

def test_cli_run_rejects_unknown_ids(capsys):
    assert cli.main(["run", "UNKNOWN.x"]) == 2
    err = capsys.readouterr().err
    assert "unknown claim or hypothesis id 'UNKNOWN.x'" in err and "bnclaims list" in err


def test_cli_list():
    assert cli.main(["list"]) == 0


def test_cli_bad_options_exit_2():
    assert cli.main(["run", "--profile", "bogus"]) == 2
    assert cli.main(["run", "--seed-base", "-1"]) == 2
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--workers", "-1"])
    assert e.value.code == 2


def test_cli_run_builds_the_pytest_command(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BNCLAIMS_STORE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd) or 5)
    assert cli.main(["run", "--profile", "smoke", "--workers", "2", "--seed-base", "3"]) == 2
    assert "no claim checks were collected" in capsys.readouterr().err
    cmd = calls[0]
    assert cmd[1:3] == ["-m", "pytest"] and "--claims-only" in cmd      # no test files, from any folder
    assert cmd[cmd.index("--rootdir") + 1] == str(tmp_path) and cmd[cmd.index("-c") + 1] == os.devnull
    assert cmd[cmd.index("--claims-report") + 1] == str(tmp_path / "claims-report")
    assert cmd[cmd.index("--claims-store") + 1] == str(tmp_path / "cache" / "bnclaims" / "store")
    assert cmd[cmd.index("--claims-profile") + 1] == "smoke" and cmd[cmd.index("--claims-seed-base") + 1] == "3"
    assert cmd[cmd.index("-n") + 1] == "2" and cmd[cmd.index("--dist") + 1] == "loadfile"
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    assert cli.main(["run", "--workers", "0"]) == 0
    assert "-n" not in calls[1] and "--claims-ids" not in calls[1]


def test_a_reproduced_null_control_voids_its_checks_verdict():
    """The decision for null controls: the check reads inconclusive (its measured verdict kept beside it), and a
    vote's control fails the run while a secondary check's is xfailed (harness.stats.verdict.control_outcome)."""
    from bnclaims.harness.stats import verdict as vd
    from bnclaims.harness.report.build import void_on_null
    r = {"verdict": "reproduced", "stats": {"reason": "p=0.001"},
         "null_control": {"control": "aa", "verdict": "reproduced", "p": 0.001}}
    void_on_null(r)
    assert r["verdict"] == "inconclusive" and r["verdict_before_null"] == "reproduced"
    assert "void" in r["stats"]["reason"] and "p=0.001" in r["stats"]["reason"]
    ok = {"verdict": "reproduced", "stats": {}, "null_control": {"control": "aa", "verdict": "inconclusive"}}
    void_on_null(ok)
    assert ok["verdict"] == "reproduced" and "verdict_before_null" not in ok
    assert vd.control_outcome("reproduced", expect="no effect", profile="ci", gating=True)[0] == vd.FAILED
    assert vd.control_outcome("reproduced", expect="no effect", profile="ci", gating=False)[0] == vd.XFAILED
    assert vd.control_outcome("not reproduced", expect="no effect", profile="ci", gating=True)[0] == vd.PASSED


def _mini_report(base, verdict, effect, ci):
    h = {"id": "X.a", "verdict": verdict, "hypothesis": {"confirmatory": True, "role": "evidence", "title": "t",
                                                         "sesoi": 0.1, "alpha": 0.005},
         "stats": {"effect": effect, "ci": ci, "p": 0.001, "n_x": 12}}
    sub = {"id": "X.1", "title": "statement", "verdict": "supported", "vote": {"ids": ["X.a"]}}
    return {"run": {"seed_base": base}, "hypotheses": [h],
            "claims": [{"id": "X", "headline": {"word": "supported"}, "subclaims": [sub]}]}


def test_findings_and_replication_tables():
    from bnclaims.harness.report import summary as sm
    a, b = _mini_report(300, "reproduced", -0.5, [-0.6, -0.4]), _mini_report(400, "reproduced", -0.45, [-0.5, -0.4])
    t = sm.findings_table(a)
    assert "| **X**: supported | X.1 statement | **supported** | X.a: t | 0.1 | 12 | 0.005 | -0.5 [-0.6, -0.4] |" in t
    table, counts = sm.replication_table(a, b)
    assert counts == {"votes": 1, "same_verdict": 1, "effect_inside": 1} and "| X.a | reproduced |" in table
    c = _mini_report(400, "inconclusive", -0.1, [-0.3, 0.1])
    assert sm.replication_table(a, c)[1] == {"votes": 1, "same_verdict": 0, "effect_inside": 0}
    readme = f"intro\n{sm.FINDINGS_START}\n{t}\n{sm.FINDINGS_END}\nrest"
    assert sm.readme_findings(readme) == t


def test_a_run_of_selected_ids_says_its_headlines_come_from_them_alone(records, tmp_path):
    from bnclaims.harness.report import render_markdown
    picked = build_report(records, run_info={"profile": "ci", "seed_base": 0, "ids": ["A1.a", "B2"]})
    files = {"a1_curve": "a1_curve.png", "a1_side": "a1_side.png"}
    md = render_markdown(picked, files)
    glance = md.split("## At a glance", 1)[1]
    assert "**Selected checks.** This run ran only the checks selected by id (A1.a, B2)" in glance
    whole = build_report(records, run_info={"profile": "ci", "seed_base": 0})
    assert "Selected checks" not in render_markdown(whole, files)
