"""Run keys cover the data a run trained on (harness/datacache.py, issue 25): a run on other MNIST-1D arrays gets
another key and is trained again, never served from the store; a cache that disagrees with its sidecar or with the
installed generator is regenerated. The generator is replaced by a small, fast one (same shapes' kinds, 10
classes), so no test here waits on mnist1d."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnclaims.harness.run import checks
from bnclaims.harness import data, datacache, store
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.spec import TrainSpec

SPEC = TrainSpec(steps=4, eval_every=4, batch_size=50).replace(model_depth=1, model_width=8)
ROOT = Path(__file__).resolve().parents[2]
INSTALLED_GENERATOR = datacache.generator         # before any test replaces it


def small_mnist1d(seed: int, shift: float = 0.0):
    """A stand-in for mnist1d's make_dataset: arrays of MNIST-1D's dtypes and width, 200/50 rows, 10 classes."""
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.normal(size=(200, 40)).astype(np.float32) + np.float32(shift),
              "y": rng.integers(0, 10, 200).astype(np.int64),
              "x_test": rng.normal(size=(50, 40)).astype(np.float32),
              "y_test": rng.integers(0, 10, 50).astype(np.int64)}
    return arrays, {"seed": seed, "stand_in": True}


class Generator:
    """The installed generator as datacache sees it: its identity and its arrays, both replaceable by a test."""

    def __init__(self, monkeypatch):
        self.identity = {"mnist1d": "0.0.2.post1", "numpy": "2", "scipy": "1", "recipe": datacache.RECIPE}
        self.shift, self.calls = 0.0, 0
        self.monkeypatch = monkeypatch
        monkeypatch.setattr(datacache, "generator", lambda: dict(self.identity))
        monkeypatch.setattr(datacache, "_make", self.make)

    def make(self, seed):
        self.calls += 1
        return small_mnist1d(seed, self.shift)

    def new_process(self):
        """Forget what this process read (a fresh process reads the cache again)."""
        self.monkeypatch.setattr(datacache, "_MEMO", {})
        self.monkeypatch.setattr(data, "_MEMO", {})


@pytest.fixture
def gen(tmp_path, monkeypatch):
    monkeypatch.setenv("BNCLAIMS_DATA_CACHE", str(tmp_path / "data"))
    monkeypatch.setenv("BNCLAIMS_STORE", str(tmp_path / "store"))
    g = Generator(monkeypatch)
    g.new_process()
    return g


def cache_file(tmp_path) -> Path:
    return tmp_path / "data" / "mnist1d-seed42.npz"


def train(tmp_path) -> tuple[str, dict, dict]:
    """(store key, arrays, run counts of this call) of SPEC on seeds 0 and 1, through a store in tmp_path."""
    before = dict(store.RUN_COUNTS)
    arrays = checks.run(SPEC, [0, 1], ctx=RunContext(store=str(tmp_path / "store")))
    counts = {k: store.RUN_COUNTS[k] - before[k] for k in before}
    return store.key_of(checks.run_key(SPEC, [0, 1])), arrays, counts


def rewrite(path: Path, arrays: dict, sidecar: dict | None) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    if sidecar is not None:
        datacache.sidecar_path(path).write_text(json.dumps(sidecar))


def test_the_key_carries_the_digest_of_the_arrays_read(gen, tmp_path):
    key = checks.run_key(SPEC, [0, 1])
    arrays, _ = small_mnist1d(42)
    assert key["data"] == {"mnist1d/42": datacache.arrays_digest(arrays)}
    side = json.loads(datacache.sidecar_path(cache_file(tmp_path)).read_text())
    assert side["sha256"] == key["data"]["mnist1d/42"] and side["generator"] == gen.identity
    assert side["args"]["seed"] == 42 and gen.calls == 1
    gen.new_process()
    assert checks.run_key(SPEC, [0, 1]) == key and gen.calls == 1          # verified, not made again
    ds = data.load("mnist1d", 42)                                            # trains on exactly those arrays
    assert np.array_equal(ds.x.numpy(), arrays["x"]) and ds.x.dtype.is_floating_point


def test_other_cached_arrays_get_another_key_and_are_trained_again(gen, tmp_path):
    """A cache holding a slightly different x (with a sidecar that agrees with it, as another generator would
    leave) is read as it is: the run key changes with it, and the run is trained, not served from the store."""
    key, first, counts = train(tmp_path)
    assert counts == {"trained": 1, "reused": 0}
    gen.new_process()
    assert train(tmp_path)[0] == key and train(tmp_path)[2] == {"trained": 0, "reused": 1}

    arrays, args = small_mnist1d(42)
    arrays["x"] = arrays["x"] + np.float32(1e-3)
    side = json.loads(datacache.sidecar_path(cache_file(tmp_path)).read_text())
    rewrite(cache_file(tmp_path), arrays, {**side, "sha256": datacache.arrays_digest(arrays)})
    gen.new_process()
    other, second, counts = train(tmp_path)
    assert other != key and counts == {"trained": 1, "reused": 0} and gen.calls == 1
    assert not np.array_equal(first["eval_train_loss"], second["eval_train_loss"])


def test_a_new_generator_regenerates_the_cache_and_rekeys(gen, tmp_path):
    """Another installed mnist1d (or numpy, scipy) makes the cache again; when its arrays differ, so does the key."""
    key, _, _ = train(tmp_path)
    gen.identity["mnist1d"] = "0.0.3"
    gen.new_process()
    assert train(tmp_path)[0] == key and gen.calls == 2          # same arrays made again: the entry is reused
    gen.identity["mnist1d"], gen.shift = "0.0.4", 1e-3
    gen.new_process()
    other, _, counts = train(tmp_path)
    assert gen.calls == 3 and other != key and counts == {"trained": 1, "reused": 0}
    assert json.loads(datacache.sidecar_path(cache_file(tmp_path)).read_text())["generator"]["mnist1d"] == "0.0.4"


@pytest.mark.parametrize("damage", ["arrays", "sidecar sha", "no sidecar", "other generator", "other seed",
                                    "garbage", "missing array"])
def test_a_cache_that_disagrees_is_regenerated(gen, tmp_path, damage):
    good = checks.run_key(SPEC, [0, 1])["data"]
    path = cache_file(tmp_path)
    side_path = datacache.sidecar_path(path)
    side = json.loads(side_path.read_text())
    arrays, _ = small_mnist1d(42)
    if damage == "arrays":                                    # the file changed behind its sidecar
        rewrite(path, {**arrays, "x": arrays["x"] * 2}, None)
    elif damage == "sidecar sha":
        side_path.write_text(json.dumps({**side, "sha256": "0" * 64}))
    elif damage == "no sidecar":                              # a cache written before sidecars existed
        side_path.unlink()
    elif damage == "other generator":                         # made by an mnist1d that is not the installed one
        side_path.write_text(json.dumps({**side, "generator": {**side["generator"], "mnist1d": "0.0.1"}}))
    elif damage == "other seed":
        side_path.write_text(json.dumps({**side, "args": {**side["args"], "seed": 7}}))
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04 not a zip")
    else:
        rewrite(path, {k: v for k, v in arrays.items() if k != "y_test"}, None)
    gen.new_process()
    assert checks.run_key(SPEC, [0, 1])["data"] == good and gen.calls == 2
    assert json.loads(side_path.read_text())["sha256"] == good["mnist1d/42"]
    gen.new_process()
    assert checks.run_key(SPEC, [0, 1])["data"] == good and gen.calls == 2      # now it verifies


def test_routine_keys_carry_the_data_their_settings_read(gen):
    digest = checks.run_key(SPEC, [0])["data"]["mnist1d/42"]
    assert checks.routine_key("recovery_after_insertion", {"data": "mnist1d", "data_seed": 42}, [0])["data"] == \
        {"mnist1d/42": digest}
    assert checks.routine_key("grad_norms_at_init", {"depth": 3}, [0])["data"] == {}        # reads no data set
    assert checks.routine_key("depth_pair", {"depth": 3}, [0])["data"] == {"mnist1d/42": digest}
    grid = {"base": {"data": "dln", "model_arch": "dln"}, "cells": [["a", {}], ["b", {"data": "mnist1d"}]]}
    got = checks.routine_key("spec_grid", grid, [0])["data"]
    assert set(got) == {"dln/42", "mnist1d/42"} and got["mnist1d/42"] == digest
    ds = data.load("dln", 42)
    assert got["dln/42"] == datacache.arrays_digest({k: getattr(ds, k).numpy() for k in ("x", "y", "x_test",
                                                                                           "y_test")})


def test_a_worker_with_other_data_refuses_the_job_before_training(gen):
    from bnclaims.harness.run import executor
    job = checks.Job({**checks.run_key(SPEC, [0]), "data": {"mnist1d/42": "0" * 64}}, "engine",
                     (SPEC, (0,), "batched", None))
    with pytest.raises(executor.ExecutorError, match="worker data sets .* differ from the client's"):
        executor.run_task(job, {})


def test_the_mnist1d_key_is_read_without_torch(gen, tmp_path):
    """A warm run reads its entries without importing torch; the data digest keeps it so (and mnist1d unimported)."""
    key = checks.run_key(SPEC, [0, 1])
    code = ("import json, sys; from bnclaims.harness.run import checks; from bnclaims.harness.spec import TrainSpec; "
            "spec = TrainSpec(steps=4, eval_every=4, batch_size=50).replace(model_depth=1, model_width=8); "
            "k = checks.run_key(spec, [0, 1]); assert 'torch' not in sys.modules and 'mnist1d' not in sys.modules; "
            "print(json.dumps(k['data']))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # the real generator identity, so the stand-in cache verifies in the child
    side_path = datacache.sidecar_path(cache_file(tmp_path))
    side = json.loads(side_path.read_text())
    side_path.write_text(json.dumps({**side, "generator": INSTALLED_GENERATOR()}))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == key["data"]
