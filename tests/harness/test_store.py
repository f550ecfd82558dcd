"""Tests for harness.store: round trips, keys, corruption recovery, cross-process locking."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bnclaims.harness import store as store_mod
from bnclaims.harness.store import RunStore, environment_key, key_of

REPO = Path(__file__).resolve().parents[2]
SPEC = {
    "claim": "bn-speedup",
    "lr": 0.1,
    "seeds": [0, 1, 2],
    "engine": "torch",
    "env": {"threads": 1},
}


def sample_arrays():
    return {
        "loss": np.linspace(0, 1, 7, dtype=np.float32),
        "steps": np.arange(5, dtype=np.int64).reshape(1, 5),
        "diverged": np.array([True, False, True]),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 3), dtype=np.float64),
    }


def assert_same(a, b):
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        np.testing.assert_array_equal(a[name], b[name])


class Counter:
    """compute() stand-in that records how often it ran."""

    def __init__(self, arrays=None, info=None):
        self.calls = 0
        self.arrays = arrays if arrays is not None else sample_arrays()
        self.info = info if info is not None else {"wall_s": 1.25, "diverged_steps": [3, 9]}

    def __call__(self):
        self.calls += 1
        return self.arrays, self.info


def test_round_trip(tmp_path):
    st = RunStore(tmp_path)
    assert st.get(SPEC) is None
    assert SPEC not in st
    arrays = sample_arrays()
    st.put(SPEC, arrays, {"wall_s": 2.0, "diverged": [1, 2]})
    assert SPEC in st and key_of(SPEC) in st
    got, meta = st.get(SPEC)
    assert_same(got, arrays)
    assert meta["info"] == {"wall_s": 2.0, "diverged": [1, 2]}
    assert meta["spec"] == SPEC
    assert list(st.entries()) == [key_of(SPEC)]
    entry = tmp_path / key_of(SPEC)[:2] / key_of(SPEC)
    assert sorted(p.name for p in entry.iterdir()) == ["arrays.npz", "meta.json"]
    # No temp directories left next to the entry.
    assert [p.name for p in entry.parent.iterdir()] == [key_of(SPEC)]


def test_get_or_compute_hit_after_compute(tmp_path):
    st = RunStore(tmp_path)
    comp = Counter()
    a1, info1, s1 = st.get_or_compute(SPEC, comp)
    a2, info2, s2 = RunStore(tmp_path).get_or_compute(SPEC, comp)
    assert (s1, s2) == ("computed", "hit")
    assert comp.calls == 1
    assert_same(a1, a2)
    assert info1 == info2 == {"wall_s": 1.25, "diverged_steps": [3, 9]}


def test_put_replaces_existing(tmp_path):
    st = RunStore(tmp_path)
    st.put(SPEC, {"x": np.ones(3)})
    st.put(SPEC, {"x": np.zeros(2)}, {"v": 2})
    got, meta = st.get(SPEC)
    np.testing.assert_array_equal(got["x"], np.zeros(2))
    assert meta["info"] == {"v": 2}
    assert list(st.entries()) == [key_of(SPEC)]


def test_key_stable_and_sensitive():
    a = {"a": 1, "b": {"x": [1, 2], "y": "z"}}
    b = {"b": {"y": "z", "x": [1, 2]}, "a": 1}
    assert key_of(a) == key_of(b)
    assert len(key_of(a)) == 20 and int(key_of(a), 16) >= 0
    assert key_of(a) != key_of({**a, "a": 2})
    assert key_of(a) != key_of({**a, "b": {"x": [2, 1], "y": "z"}})
    assert key_of({"lr": 1}) != key_of({"lr": 1.0})
    with pytest.raises(ValueError):
        key_of({"lr": float("nan")})
    with pytest.raises(TypeError):
        key_of({"arr": np.zeros(2)})


def test_environment_key():
    import torch

    from bnclaims.harness.store import harness_code_hash
    env = environment_key()
    assert env == {"torch": torch.__version__, "threads": 1, "code": harness_code_hash()}
    assert len(env["code"]) == 16
    key_of({"spec": 1, **env})  # JSON-safe


def test_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("BNCLAIMS_STORE", str(tmp_path / "from_env"))
    assert RunStore().root == tmp_path / "from_env"
    assert RunStore(tmp_path / "explicit").root == tmp_path / "explicit"
    monkeypatch.delenv("BNCLAIMS_STORE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert RunStore().root == tmp_path / "home" / ".cache" / "bnclaims" / "store"     # a user cache folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    st = RunStore()
    assert st.root == tmp_path / "xdg" / "bnclaims" / "store"
    assert not st.root.exists()  # created lazily
    st.put({"a": 1}, {"x": np.ones(1)})
    assert st.root.is_dir()


def test_env_store_used(tmp_path, monkeypatch):
    monkeypatch.setenv("BNCLAIMS_STORE", str(tmp_path / "env"))
    RunStore().put(SPEC, {"x": np.arange(3)})
    assert RunStore(tmp_path / "env").get(SPEC) is not None


def test_refuses_object_and_string_arrays(tmp_path):
    st = RunStore(tmp_path)
    with pytest.raises(TypeError, match="object"):
        st.put(SPEC, {"x": np.array([{"a": 1}, None], dtype=object)})
    with pytest.raises(TypeError, match="numeric"):
        st.put(SPEC, {"x": np.array(["a", "b"])})
    with pytest.raises(TypeError):
        st.get_or_compute(SPEC, lambda: ({"x": np.array([1, None], dtype=object)}, {}))
    with pytest.raises(ValueError):
        st.put(SPEC, {"file": np.ones(2)})
    with pytest.raises(ValueError):
        st.put(SPEC, {"x": np.ones(2)}, {"loss": float("nan")})
    assert SPEC not in st


def test_failed_write_leaves_nothing_visible(tmp_path, monkeypatch):
    st = RunStore(tmp_path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(store_mod.os, "rename", boom)
    with pytest.raises(OSError, match="disk full"):
        st.put(SPEC, sample_arrays())
    monkeypatch.undo()
    assert SPEC not in st
    assert st.get(SPEC) is None
    shard = tmp_path / key_of(SPEC)[:2]
    assert list(shard.iterdir()) == []


def _truncate(entry):
    p = entry / "arrays.npz"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garbage_meta(entry):
    (entry / "meta.json").write_text("{not json")


def _flip_byte(entry):
    p = entry / "arrays.npz"
    data = bytearray(p.read_bytes())
    data[-30] ^= 0xFF
    p.write_bytes(bytes(data))


def _delete_arrays(entry):
    (entry / "arrays.npz").unlink()


def _other_spec(entry):
    p = entry / "meta.json"
    meta = json.loads(p.read_text())
    meta["spec"] = {**meta["spec"], "lr": 999}
    p.write_text(json.dumps(meta))


CORRUPTIONS = {
    "truncate": (_truncate, "checksum mismatch"),
    "garbage_meta": (_garbage_meta, "bad meta.json"),
    "flip_byte": (_flip_byte, "checksum mismatch"),
    "delete_arrays": (_delete_arrays, "missing arrays.npz"),
    "other_spec": (_other_spec, "spec mismatch"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_entry_recovery(tmp_path, kind):
    corrupt, reason = CORRUPTIONS[kind]
    st = RunStore(tmp_path)
    good = sample_arrays()
    st.put(SPEC, {"stale": np.ones(4)}, {"old": True})
    key = key_of(SPEC)
    corrupt(st.path_of(key))

    comp = Counter(arrays=good, info={"new": True})
    pattern = rf"bnclaims store: corrupt entry {key} \(.*{reason}.*\); recomputing"
    with pytest.warns(RuntimeWarning, match=pattern):
        arrays, info, status = st.get_or_compute(SPEC, comp)
    assert status == "recomputed"
    assert comp.calls == 1
    assert_same(arrays, good)
    assert info == {"new": True}

    # The bad entry was moved aside, not deleted, and logged.
    quarantined = list((tmp_path / "quarantine").iterdir())
    assert len(quarantined) == 1 and quarantined[0].name.startswith(f"{key}-")
    assert (quarantined[0] / "meta.json").exists()
    log = (tmp_path / "corrupt.log").read_text().splitlines()
    assert len(log) == 1 and key in log[0] and reason in log[0]

    # The fresh entry is good: a new store reads it as a hit, no compute.
    arrays2, info2, status2 = RunStore(tmp_path).get_or_compute(SPEC, comp)
    assert status2 == "hit" and comp.calls == 1
    assert_same(arrays2, good)


def test_get_on_corrupt_entry_returns_none(tmp_path):
    st = RunStore(tmp_path)
    st.put(SPEC, sample_arrays())
    _flip_byte(st.path_of(key_of(SPEC)))
    with pytest.warns(RuntimeWarning, match="bnclaims store: corrupt entry"):
        assert st.get(SPEC) is None
    assert SPEC not in st
    assert len(list((tmp_path / "quarantine").iterdir())) == 1


def test_clear_and_entries(tmp_path):
    st = RunStore(tmp_path)
    assert list(st.entries()) == [] and st.clear() == 0
    specs = [{"i": i} for i in range(4)]
    for s in specs:
        st.put(s, {"x": np.full(2, s["i"])})
    assert sorted(st.entries()) == sorted(key_of(s) for s in specs)
    assert st.clear() == 4
    assert list(st.entries()) == []
    assert all(s not in st for s in specs)


WORKER = textwrap.dedent(
    """
    import hashlib, json, os, sys, time
    import numpy as np
    from bnclaims.harness.store import RunStore

    root, counter, barrier, idx = sys.argv[1:5]
    spec = {"claim": "concurrency", "seed": 7}

    def compute():
        time.sleep(1.0)
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\\n")
        # Unseeded randomness: identical results across processes prove they share one run.
        rng = np.random.default_rng()
        w = rng.standard_normal((4, 3)).astype(np.float32)
        return {"w": w, "n": np.arange(3)}, {"pid": os.getpid()}

    open(os.path.join(barrier, f"ready-{idx}"), "w").close()
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(barrier, "go")) and time.time() < deadline:
        time.sleep(0.005)
    arrays, info, status = RunStore(root).get_or_compute(spec, compute)
    digest = hashlib.sha256(b"".join(arrays[k].tobytes() for k in sorted(arrays))).hexdigest()
    print(json.dumps({"status": status, "digest": digest, "info": info}))
    """
)


def test_processes_share_one_computation(tmp_path):
    n = 3
    root, counter, barrier = tmp_path / "store", tmp_path / "counter.txt", tmp_path / "barrier"
    barrier.mkdir()
    pythonpath = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    env.pop("BNCLAIMS_STORE", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), str(counter), str(barrier), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for i in range(n)
    ]
    try:
        # Release all workers at once so they really ask for the key concurrently.
        deadline = time.time() + 60
        while len(list(barrier.glob("ready-*"))) < n:
            assert time.time() < deadline, "workers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        (barrier / "go").touch()
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]

    assert len(counter.read_text().splitlines()) == 1
    assert sorted(r["status"] for r in results) == ["computed"] + ["hit"] * (n - 1)
    assert len({r["digest"] for r in results}) == 1
    assert len({r["info"]["pid"] for r in results}) == 1


def test_environment_key_is_the_same_with_and_without_torch_loaded():
    """The key read from the installed distribution (torch not imported) equals the one read from torch
    after harness.engine pinned its threads, so a numpy-only check keys its entries as a torch one would."""
    import subprocess
    import sys
    code = ("import json, sys; from bnclaims.harness.store import environment_key as k; a = k(); "
            "assert 'torch' not in sys.modules; from bnclaims.harness.store import device_setting as d; dev = d(); "
            "import bnclaims.harness.engine as e; b = k(); assert dev == e.DEVICE; print(json.dumps([a, b]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    a, b = json.loads(out)
    assert a == b
