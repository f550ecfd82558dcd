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


def test_two_shards_merged_give_the_unsharded_report(fake):
    """--claims-shard 1/2 and 2/2 split the checks by whole ensembles (each run trains in one shard only), and
    `bnclaims merge` of their reports equals the unsharded report, timing and environment aside."""
    import subprocess
    import sys
    from plugin_fakes import PACK, install_pack, strip_volatile
    # C9's arms differ from C8's, so the two claims share no run and can go to different shards
    install_pack(fake.path, source=PACK.replace(
        'CLAIMS = [Claim("C8"',
        'C9 = [__import__("dataclasses").replace(h, design=__import__("dataclasses").replace(h.design, arms={'
        '"bn": Arm(routine="fake_values", settings={**h.design.arms["bn"].settings, "spread": 0.31}, budget=False), '
        '"plain": Arm(routine="fake_values", settings={"center": 1.0, "spread": 0.31}, budget=False)})) '
        'for h in C9]\nCLAIMS = [Claim("C8"'))
    run(fake, "--claims-report", "whole")
    one = run(fake, "--claims-report", "s1", "--claims-shard", "1/2")
    two = run(fake, "--claims-report", "s2", "--claims-shard", "2/2")
    j1, j2 = (json.loads((fake.path / d / "report.json").read_text()) for d in ("s1", "s2"))
    ids1, ids2 = {h["id"] for h in j1["hypotheses"]}, {h["id"] for h in j2["hypotheses"]}
    assert ids1 and ids2 and not ids1 & ids2 and j1["run"]["shard"] == "1/2"
    assert {i[:2] for i in ids1} != {i[:2] for i in ids2}          # whole claims (their shared ensembles) per shard
    r = subprocess.run([sys.executable, "-m", "bnclaims.harness.cli", "merge", "s1/report.json", "s2/report.json", "--out", "m"],
                       cwd=fake.path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    whole = json.loads((fake.path / "whole" / "report.json").read_text())
    merged = json.loads((fake.path / "m" / "report.json").read_text())
    assert strip_volatile(merged) == strip_volatile(whole)
    r = subprocess.run([sys.executable, "-m", "bnclaims.harness.cli", "merge", "s1/report.json", "s1/report.json"],
                       cwd=fake.path, capture_output=True, text=True)
    assert r.returncode == 2 and "give each of 1/N ... N/N exactly once" in r.stderr
    assert one.ret == two.ret == 1                                  # the fake pack fails on purpose


def test_progress_lines_count_checks_and_runs_and_the_store_keeps_wall_times(fake, tmp_path):
    store = tmp_path / "progress-store"
    r = run(fake, "--claims-progress", "--claims-store", str(store), "--claims-report", "rep")
    out = r.stdout.str()
    assert "bnclaims: 18/18 checks done; runs trained" in out and "; done" in out
    timings = json.loads((store / "timings.json").read_text())
    assert set(timings["ci"]) == {"C8.a", "C8.b", "C8.c", "C9.a", "C9.b", "C9.c"}
    r = run(fake, "--claims-progress", "--claims-store", str(store), "--claims-report", "rep")
    assert "runs trained 0, reused" in r.stdout.str()          # the second run reuses every stored run


def test_an_empty_shard_still_reports_and_a_lost_shard_fails_the_merge(fake):
    """The fake pack's claims share runs, so of 3 shards one holds them all; the others still write a report,
    and a merge without one of the three is refused. An id outside the shard is no error."""
    import subprocess
    import sys
    for k in (1, 2, 3):
        run(fake, "--claims-report", f"s{k}", "--claims-shard", f"{k}/3")
    counts = [len(json.loads((fake.path / f"s{k}" / "report.json").read_text())["hypotheses"]) for k in (1, 2, 3)]
    assert sorted(counts) == [0, 0, 6]
    merge = [sys.executable, "-m", "bnclaims.harness.cli", "merge", "--out", "m"]
    ok = subprocess.run(merge + [f"s{k}/report.json" for k in (1, 2, 3)], cwd=fake.path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    lost = subprocess.run(merge + ["s1/report.json", "s2/report.json"], cwd=fake.path, capture_output=True, text=True)
    assert lost.returncode == 2 and "do not make up one run" in lost.stderr
    empty = next(k for k in (1, 2, 3) if counts[k - 1] == 0)
    r = run(fake, "--claims-report", "x", "--claims-shard", f"{empty}/3", "--claims-ids", "C8.a")
    assert r.ret in (0, 5) and "matches no collected" not in r.stdout.str() + r.stderr.str()   # 5: nothing to run
