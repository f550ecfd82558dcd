"""The command line: usage errors exit 2 before anything runs; list shows the registry."""
import subprocess
import sys

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "claims.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("args, message", [
    (["run", "NO.SUCH"], "unknown claim or hypothesis id 'NO.SUCH'"),
    (["run", "--profile", "bogus"], "--profile: unknown profile 'bogus'"),
    (["run", "--seed-base", "x"], "--seed-base: expected an integer >= 0"),
    (["run", "C1..a"], "malformed id(s) 'C1..a'"),
    (["run", "--compare", "missing.json"], "--compare: no such report file"),
    (["run", "--packs", "nope"], "unknown claim pack(s) nope"),
    (["run", "--workers", "-1"], "expected an integer >= 0"),
])
def test_usage_errors_exit_2(args, message, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_list_shows_every_registered_hypothesis_and_its_controls():
    from harness import registry
    r = cli("list")
    assert r.returncode == 0, r.stderr
    for h in registry.all_hypotheses():
        assert f"  {h.id:<8} {h.title}" in r.stdout
    assert "controls: " in r.stdout
