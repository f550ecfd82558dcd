"""The generated data sets' arrays and their digests, which every run's store key carries (no torch for MNIST-1D).

MNIST-1D is made by the installed `mnist1d` (make_dataset with its default arguments and our seed) and cached in
paths.data_cache_dir() as mnist1d-seed{S}.npz beside mnist1d-seed{S}.json: the generator (the versions of mnist1d
and of the numpy and scipy it draws with), the arguments and the SHA-256 of the arrays. A load checks both and
regenerates the pair (atomically, under a file lock) when the sidecar is missing, names another generator, or its
digest does not match the file's; a corrupt file is regenerated, never trusted.

    arrays, sha = mnist1d(42)        # {"x", "y", "x_test", "y_test": np.ndarray}, verified; memoised per process
    digest("mnist1d", 42)            # the same sha; "synthetic" and "dln" (made by torch in harness.data) too
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bnclaims.harness.paths import data_cache_dir

SIDECAR_FORMAT = 1
RECIPE = 1            # how make_dataset is called (default arguments, args.seed = seed, float32/int64 casts); bump on change
_NAMES = ("x", "y", "x_test", "y_test")
_MEMO: dict = {}      # (name, seed) -> (arrays, sha256): a process trains on the arrays it read first


def arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of named arrays: each name, dtype (with byte order), shape and C-order bytes, names sorted."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode() + b"\0")
        h.update(a.tobytes())
    return h.hexdigest()


def digest(name: str, seed: int) -> str:
    """SHA-256 of the arrays data set `name` gives runs in this process (what a run's store key carries). MNIST-1D:
    from its verified cache, without torch; the torch-made sets ("synthetic", "dln"): from harness.data.load."""
    key = (name, int(seed))
    if key not in _MEMO:
        if name == "mnist1d":
            return mnist1d(seed)[1]
        from bnclaims.harness import data  # torch: these sets are drawn from torch generators
        ds = data.load(name, int(seed))
        _MEMO[key] = (None, arrays_digest({k: getattr(ds, k).numpy() for k in _NAMES}))
    return _MEMO[key][1]


def mnist1d(seed: int) -> tuple[dict, str]:
    """({x [4000, 40] float32, y [4000] int64, x_test [1000, 40] float32, y_test [1000] int64}, their SHA-256): the
    cached MNIST-1D of this data seed, verified against its sidecar and the installed generator (see the module)."""
    key = ("mnist1d", int(seed))
    if key not in _MEMO:
        path = data_cache_dir() / f"mnist1d-seed{int(seed)}.npz"
        got = _verified(path, int(seed))
        if got is None:
            from filelock import FileLock
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(path.with_suffix(".lock"))):      # one process regenerates; the others then read it
                got = _verified(path, int(seed)) or _regenerate(path, int(seed))
        _MEMO[key] = got
    return _MEMO[key]


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def generator() -> dict:
    """What makes MNIST-1D here, read without importing mnist1d (which costs a second): the installed versions of
    mnist1d and of numpy and scipy, whose random draws and interpolation it uses, and our recipe's version."""
    from importlib.metadata import version
    return {"mnist1d": version("mnist1d"), "numpy": version("numpy"), "scipy": version("scipy"), "recipe": RECIPE}


def _verified(path: Path, seed: int) -> tuple[dict, str] | None:
    """(arrays, sha256) when the file, its sidecar and the installed generator agree; None otherwise."""
    try:
        side = json.loads(sidecar_path(path).read_text())
        if (not isinstance(side, dict) or side.get("format") != SIDECAR_FORMAT or side.get("generator") != generator()
                or not isinstance(side.get("args"), dict) or side["args"].get("seed") != seed):
            return None
        with np.load(path, allow_pickle=False) as z:
            if sorted(z.files) != sorted(_NAMES):
                return None
            arrays = {k: z[k] for k in _NAMES}
    except Exception:          # absent, unreadable or corrupt (a damaged zip raises many kinds): regenerated
        return None
    sha = arrays_digest(arrays)
    return (arrays, sha) if sha == side.get("sha256") else None


def _make(seed: int) -> tuple[dict, dict]:
    """(arrays, make_dataset's arguments) of MNIST-1D with the installed generator."""
    from mnist1d.data import get_dataset_args, make_dataset
    args = get_dataset_args()
    args.seed = seed
    state = np.random.get_state()      # make_dataset seeds numpy's global RNG; leave it as we found it
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    arrays = {"x": d["x"].astype(np.float32), "y": d["y"].astype(np.int64),
              "x_test": d["x_test"].astype(np.float32), "y_test": d["y_test"].astype(np.int64)}
    return arrays, json.loads(json.dumps(dict(vars(args))))


def _regenerate(path: Path, seed: int) -> tuple[dict, str]:
    """Make the arrays, then write the .npz and its sidecar, each by an atomic replace (the sidecar last: a reader
    between the two sees a mismatch and waits on the lock)."""
    arrays, args = _make(seed)
    sha = arrays_digest(arrays)
    side = {"format": SIDECAR_FORMAT, "generator": generator(), "args": args, "sha256": sha,
            "arrays": {k: [arrays[k].dtype.str, list(arrays[k].shape)] for k in _NAMES}}
    _atomic_write(path, lambda f: np.savez(f, **arrays))
    _atomic_write(sidecar_path(path), lambda f: f.write(json.dumps(side, indent=1, sort_keys=True).encode()))
    return arrays, sha


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix + ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
