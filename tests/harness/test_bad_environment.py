"""A bad environment stops a run before any check runs (issue 25): `bnclaims run` exits 2 with one line naming the
setting and what it accepts; the pytest plugin stops with a usage error. One subprocess per case, no training."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from plugin_fakes import run

pytest_plugins = ["pytester"]


def bnclaims_run(tmp_path, *args, **env):
    """`bnclaims run` on one cheap check, in tmp_path, with these environment settings (and no store variable)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BNCLAIMS_")}
    environ.update(XDG_CACHE_HOME=str(tmp_path / "cache"), **env)
    return subprocess.run([sys.executable, "-m", "bnclaims.harness.cli", "run", "C1.a", "--profile", "smoke", "--workers", "0",
                           *args], capture_output=True, text=True, cwd=tmp_path, env=environ, timeout=120)


def assert_stopped(r, tmp_path, message):
    """Exit 2, one line on stderr holding the message, nothing run: pytest never started, nothing was written."""
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnclaims: ") and message in lines[0], r.stderr
    assert r.stdout == ""
    assert not (tmp_path / "cache").exists() and not (tmp_path / "claims-report").exists()


def _has_cuda() -> bool:
    import torch
    return torch.cuda.is_available()


@pytest.mark.parametrize("env, message", [
    ({"BNCLAIMS_DEVICE": "tpu"}, "BNCLAIMS_DEVICE='tpu': unknown device; accepts cpu, cuda, cuda:N or mps"),
    ({"BNCLAIMS_DEVICE": "cuda:99"}, "BNCLAIMS_DEVICE='cuda:99': not available on this machine"),
    ({"BNCLAIMS_THREADS": "abc"}, "BNCLAIMS_THREADS='abc': accepts a positive integer"),
    ({"BNCLAIMS_THREADS": "0"}, "BNCLAIMS_THREADS='0': accepts a positive integer"),
])
def test_bad_settings_stop_bnclaims_run(tmp_path, env, message):
    assert_stopped(bnclaims_run(tmp_path, **env), tmp_path, message)


@pytest.mark.skipif("_has_cuda()", reason="this machine has CUDA")
def test_cuda_without_cuda_stops_bnclaims_run(tmp_path):
    r = bnclaims_run(tmp_path, BNCLAIMS_DEVICE="cuda")
    assert_stopped(r, tmp_path, "BNCLAIMS_DEVICE='cuda': not available on this machine")
    assert "accepts cpu" in r.stderr


def test_store_and_report_that_are_files_stop_bnclaims_run(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    assert_stopped(bnclaims_run(tmp_path, "--store", "afile"), tmp_path,
                   f"--store: {tmp_path / 'afile'} is a file; accepts a folder")
    assert_stopped(bnclaims_run(tmp_path, "--report", "afile/sub"), tmp_path,
                   f"--report: {tmp_path / 'afile'} is a file (in {tmp_path / 'afile' / 'sub'}); accepts a folder")
    assert_stopped(bnclaims_run(tmp_path, BNCLAIMS_STORE=str(tmp_path / "afile")), tmp_path,
                   f"BNCLAIMS_STORE: {tmp_path / 'afile'} is a file")
    assert (tmp_path / "afile").read_text() == "not a folder"


def test_the_plugin_stops_on_a_bad_setting_before_collecting(fake, monkeypatch):
    monkeypatch.setenv("BNCLAIMS_THREADS", "abc")
    r = run(fake, "--claims-report", "rep")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "BNCLAIMS_THREADS='abc': accepts a positive integer" in r.stderr.str()
    assert "passed" not in r.stdout.str() and not (fake.path / "rep").exists()


def test_the_plugin_stops_on_a_report_file_before_running(fake):
    (fake.path / "rep").write_text("a file")
    r = run(fake, "--claims-report", "rep")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--claims-report: {fake.path / 'rep'} is a file; accepts a folder" in r.stderr.str()
    assert "passed" not in r.stdout.str()


def test_a_bad_setting_leaves_other_pytest_runs_alone(fake, monkeypatch):
    """Without claim collection the plugin reads no BNCLAIMS_ setting: another project's tests still run."""
    monkeypatch.setenv("BNCLAIMS_DEVICE", "tpu")
    fake.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
