"""User data folders (harness/userdata.py): CIFAR-10's binary version and MNIST's idx files are read from a
folder the user gives, checked by size, SHA-256 and format; nothing is downloaded. Tested on tiny synthetic
folders in the real formats."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bnclaims.harness import userdata as ud


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bnclaims.harness.cli", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("ds", [ud.CIFAR10, ud.MNIST], ids=lambda d: d.name)
def test_synthetic_folder_round_trips_in_the_real_format(tmp_path, ds):
    ud.write_synthetic(ds, tmp_path, records=20)
    xtr, ytr, xte, yte, hashes = ud.load(ds, tmp_path, allow_synthetic=True)
    assert len(hashes) == len(ds.files)
    shape = (3, 32, 32) if ds is ud.CIFAR10 else (28, 28)
    n_train = 5 * 20 if ds is ud.CIFAR10 else 20
    assert xtr.shape == (n_train, *shape) and xte.shape == (20, *shape) and xtr.dtype == np.uint8
    assert ytr.shape == (n_train,) and set(np.unique(ytr)) <= set(range(10))
    if ds is ud.CIFAR10:                 # record layout: label byte, then red, green, blue planes of 32x32
        raw = (tmp_path / ds.subdir / "test_batch.bin").read_bytes()
        assert yte[1] == raw[3073] and xte[1, 2, 31, 31] == raw[2 * 3073 - 1] and xte[0, 1, 0, 0] == raw[1 + 1024]


def test_a_real_files_run_refuses_a_synthetic_folder(tmp_path):
    ud.write_synthetic(ud.CIFAR10, tmp_path, records=4)
    with pytest.raises(ud.DataError, match="synthetic cifar10"):
        ud.verify(ud.CIFAR10, tmp_path)


def test_missing_wrong_size_and_corrupt_files_are_named(tmp_path):
    ud.write_synthetic(ud.CIFAR10, tmp_path, records=4)
    folder = tmp_path / "cifar-10-batches-bin"
    (folder / "data_batch_3.bin").unlink()
    with (folder / "data_batch_2.bin").open("ab") as f:
        f.write(b"x")
    blob = bytearray((folder / "test_batch.bin").read_bytes())
    blob[100] ^= 1
    (folder / "test_batch.bin").write_bytes(bytes(blob))
    with pytest.raises(ud.DataError) as e:
        ud.verify(ud.CIFAR10, tmp_path, allow_synthetic=True)
    msg = str(e.value)
    assert "missing data_batch_3.bin" in msg
    assert "data_batch_2.bin: 12293 bytes, expected 12292" in msg
    assert "test_batch.bin: SHA-256" in msg and "corrupt" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in msg and "data_batch_1.bin" in msg


def test_real_sizes_and_formats():
    assert ud.CIFAR10.size("data_batch_1.bin") == 30730000
    assert [ud.MNIST.size(f) for f, _ in ud.MNIST.files] == [47040016, 60008, 7840016, 10008]


def test_gzipped_or_foreign_idx_files_are_refused(tmp_path):
    ud.write_synthetic(ud.MNIST, tmp_path, records=3)
    p = tmp_path / "t10k-labels-idx1-ubyte"
    p.write_bytes(np.array([2051, 3], ">u4").tobytes() + bytes(3))       # an images magic on a labels file
    manifest = tmp_path / ud.SYNTHETIC_MANIFEST
    m = __import__("json").loads(manifest.read_text())
    m["sha256"]["t10k-labels-idx1-ubyte"] = ud.sha256_of(p)
    manifest.write_text(__import__("json").dumps(m))
    with pytest.raises(ud.DataError, match="idx header .* expected magic 2049"):
        ud.verify(ud.MNIST, tmp_path, allow_synthetic=True)


def test_bnclaims_data_exits_2_without_a_folder_or_with_a_bad_one(tmp_path):
    import os
    env = {k: v for k, v in os.environ.items() if k != "BNCLAIMS_DATA"}
    r = cli("data", env=env)
    assert r.returncode == 2 and "no data folder given: pass --data-dir DIR or set BNCLAIMS_DATA" in r.stderr
    r = cli("data", "--data-dir", str(tmp_path), env=env)
    assert r.returncode == 2 and "missing data_batch_1.bin" in r.stderr and "cifar-10-batches-bin" in r.stderr
    ud.write_synthetic(ud.CIFAR10, tmp_path, records=4)
    r = cli("data", "--data-dir", str(tmp_path), "--allow-synthetic", env=env)
    assert r.returncode == 0 and "cifar10: 6 files OK" in r.stdout
