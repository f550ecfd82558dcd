"""The paper profile (claims/paper.py, harness/routines/paper_vgg.py) on CPU: a synthetic CIFAR-10 folder in the
real binary format stands in for the user's; what a real folder needs is a usage error (exit 2)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from bnclaims.harness import userdata as ud

SMOKE = {"batch": 8, "width": 0.0625, "probe_every": 2, "eval_every": 2, "eval_rows": 0, "lr": 0.1, "steps": 4,
         "probe_factors": [0.5, 2.0], "probe_layers": [2, 8]}


def cli(*args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "BNCLAIMS_DATA"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "bnclaims.harness.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return ud.synthetic_folder(ud.CIFAR10, tmp_path_factory.mktemp("cache"))


def settings(folder, **kw):
    return {**SMOKE, "norm": "bn", "data_sha256": ud.verified_digest(ud.CIFAR10, folder, allow_synthetic=True),
            "_data_dir": str(folder), **kw}


def test_probes_move_nothing_and_members_are_independent(folder):
    from bnclaims.harness.routines import paper_vgg
    probed = paper_vgg.run(settings(folder), [0, 1])
    plain = paper_vgg.run(settings(folder, probe_every=0), [0, 1])
    np.testing.assert_array_equal(probed["train_loss"], plain["train_loss"])     # weights and BN stats restored
    np.testing.assert_array_equal(probed["eval_test_acc"], plain["eval_test_acc"])
    alone = paper_vgg.run(settings(folder), [1])                                  # member 1 trained by itself
    for key in ("train_loss", "probe_land_loss_range", "probe_beta_eff", "probe_ics_cos8", "probe_ics_l22"):
        np.testing.assert_allclose(probed[key][:, 1], alone[key][:, 0], rtol=2e-3, atol=2e-4, err_msg=key)
    assert probed["probe_step"].tolist() == [0, 2] and probed["eval_step"].tolist() == [0, 2, 4]
    assert np.all(np.abs(probed["probe_ics_cos2"]) <= 1 + 1e-6)


def test_the_key_names_the_bytes_not_the_folder(folder, tmp_path):
    import shutil
    from bnclaims.harness.run import checks
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    a = checks.routine_key("paper_vgg", settings(folder), [0])
    b = checks.routine_key("paper_vgg", settings(copy), [0])
    assert a == b and "_data_dir" not in a["settings"] and len(a["settings"]["data_sha256"]) == 64
    with open(copy / ud.CIFAR10.subdir / "test_batch.bin", "r+b") as f:     # other bytes: another key, and the
        f.seek(5)                                                            # manifest catches the change
        f.write(b"\x07")
    with pytest.raises(ud.DataError, match="SHA-256"):
        ud.verified_digest(ud.CIFAR10, copy, allow_synthetic=True)


def test_the_paper_profile_runs_only_the_paper_checks():
    from bnclaims.harness.declare import registry
    hyps = registry.all_hypotheses()
    assert {h.id for h in hyps if h.runs_in("paper")} == {f"P.{c}" for c in "abcdefgh"}
    assert not any(h.runs_in("ci") for h in hyps if h.claim == "P")
    assert all(h.runs_in("smoke") for h in hyps if h.claim == "P")


def test_smoke_runs_the_paper_checks_on_a_synthetic_folder(tmp_path):
    r = cli("run", "P.a", "P.f", "--profile", "smoke", "--workers", "0", "--store", str(tmp_path / "store"),
            "--report", str(tmp_path / "rep"), cwd=tmp_path, env_extra={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert (tmp_path / "cache" / "bnclaims" / "synthetic" / "cifar10" / ud.CIFAR10.subdir / ud.SYNTHETIC_MANIFEST).is_file()
    assert "P.f" in r.stdout


def test_paper_profile_usage_errors_exit_2(tmp_path, folder):
    r = cli("run", "--profile", "paper", cwd=tmp_path)
    assert r.returncode == 2 and "no data folder given: pass --data-dir DIR" in r.stderr
    r = cli("run", "--profile", "paper", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and "missing data_batch_1.bin" in r.stderr and "cs.toronto.edu" in r.stderr
    r = cli("run", "--profile", "paper", "--data-dir", str(folder), cwd=tmp_path)
    assert r.returncode == 2 and "holds a synthetic cifar10" in r.stderr
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    (bad / ud.CIFAR10.subdir / "data_batch_3.bin").write_bytes(b"\0" * 10)
    r = cli("run", "P", "--profile", "smoke", "--data-dir", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and "data_batch_3.bin: 10 bytes, expected" in r.stderr


def test_ioffe_mnist_routine_on_a_synthetic_folder(tmp_path):
    from bnclaims.harness.routines import paper_mnist
    root = ud.synthetic_folder(ud.MNIST, tmp_path)
    s = {"lr": 1.0, "batch_size": 8, "init": "glorot", "eval_every": 2, "probe_rows": 16, "steps": 4, "norm": "bn",
         "data_sha256": ud.verified_digest(ud.MNIST, root, allow_synthetic=True), "_data_dir": str(root)}
    a = paper_mnist.run(s, [0, 1])
    assert a["eval_step"].tolist() == [0, 2, 4] and a["q50"].shape == (3, 2, 100)
    assert np.all(a["q15"] <= a["q50"]) and np.all(a["q50"] <= a["q85"])
    one = paper_mnist.run(s, [1])
    np.testing.assert_allclose(a["train_loss"][:, 1], one["train_loss"][:, 0], rtol=1e-5, atol=1e-6)


def test_an_optional_data_set_the_folder_lacks_is_not_run_with_the_reason(tmp_path):
    with pytest.raises(ud.DataAbsent, match="no mnist files"):
        ud.for_run("mnist", str(tmp_path), False, tmp_path / "cache")
    r = cli("run", "P.g", "--data-dir", str(tmp_path), "--workers", "0", "--store", str(tmp_path / "store"),
            "--report", str(tmp_path / "rep"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "not run: P.g needs data the folder does not hold: no mnist files" in r.stdout
    import json
    assert [n["id"] for n in json.loads((tmp_path / "rep" / "report.json").read_text())["not_run"]] == ["P.g"]
