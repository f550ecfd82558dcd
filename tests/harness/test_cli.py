"""The command line: usage errors exit 2 before anything runs; list shows the registry."""
import subprocess
import sys

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "bnclaims.harness.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("args, message", [
    (["run", "NO.SUCH"], "unknown claim or hypothesis id 'NO.SUCH'"),
    (["run", "--profile", "bogus"], "--profile: unknown profile 'bogus'"),
    (["run", "--seed-base", "x"], "--seed-base: expected an integer >= 0"),
    (["run", "C1..a"], "malformed id(s) 'C1..a'"),
    (["run", "--compare", "missing.json"], "--compare: no such report file"),
    (["run", "--packs", "nope"], "unknown claim pack(s) nope"),
    (["run", "--workers", "-1"], "expected an integer >= 0"),
    (["run", "--executor", "ray"], "--executor: unknown executor 'ray'; choose one of inprocess, dask"),
    (["run", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler: only with --executor dask"),
    (["run", "--executor", "dask", "--dask-workers", "0"], "--dask-workers: expected an integer >= 1"),
    (["run", "--compile", "fast"], "--compile: unknown mode 'fast'; choose one of off, default, reduce-overhead"),
])
def test_usage_errors_exit_2(args, message, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_list_shows_every_registered_hypothesis_and_its_controls():
    from bnclaims.harness.declare import registry
    r = cli("list")
    assert r.returncode == 0, r.stderr
    for h in registry.all_hypotheses():
        assert f"  {h.id:<8} {h.title}" in r.stdout
    assert "controls: " in r.stdout


def _report(path, base, effect, verdict):
    import json
    hyp = lambda hid, e, v: {"id": hid, "verdict": v, "stats": {"effect": e, "ci": [e - 0.1, e + 0.1]}}
    path.write_text(json.dumps({"schema": 1, "run": {"profile": "ci", "seed_base": base}, "claims": [],
                                "hypotheses": [hyp("C1.a", effect, verdict), hyp("C1.b", 0.5, "reproduced")]}))


def test_compare_markdown_and_the_saved_history(tmp_path):
    """compare --markdown writes a pull-request comment with old and new intervals side by side; without
    arguments compare reads the last two reports that `run --save` numbered in the history."""
    from bnclaims.harness.cli import save_report, saved_reports
    rep = tmp_path / "claims-report"
    rep.mkdir()
    _report(rep / "report.json", 0, -0.6, "reproduced")
    assert save_report(rep).name == "0001.json"
    r = cli("compare", cwd=tmp_path)
    assert r.returncode == 2 and "fewer than two saved reports" in r.stderr
    _report(rep / "report.json", 1, 0.2, "inconclusive")
    assert save_report(rep).name == "0002.json" and [p.name for p in saved_reports(rep)] == ["0001.json", "0002.json"]
    r = cli("compare", "--markdown", "-", cwd=tmp_path)
    assert r.returncode == 1, r.stderr                  # a verdict changed
    md = r.stdout
    assert md.startswith("### bnclaims: **1 verdict change**, 1 effect drift")
    assert "| C1.a | reproduced | **inconclusive** | -0.6 [-0.7, -0.5] | 0.2 [0.1, 0.3] |" in md
    assert "profile ci, seed base 0" in md and "profile ci, seed base 1" in md
    r = cli("compare", str(rep / "history" / "0001.json"), cwd=tmp_path)
    assert r.returncode == 2 and "give OLD.json and NEW.json, or neither" in r.stderr


def test_a_reader_that_leaves_early_ends_list_quietly():
    """`bnclaims list | head -1`: the listing stops without a traceback when its reader closes the pipe."""
    proc = subprocess.Popen([sys.executable, "-m", "bnclaims.harness.cli", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()           # gone before the listing starts (40 KB would otherwise fit in the pipe's buffer)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err, err
