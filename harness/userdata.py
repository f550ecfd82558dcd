"""Data sets read from a folder the user gives (never downloaded): CIFAR-10's binary version and MNIST's idx files.

    folder = user_folder(explicit)            # --data-dir DIR, else $BNCLAIMS_DATA; DataError if neither
    hashes = verify(CIFAR10, folder)          # every expected file: present, right size and SHA-256, sane format
    x_train, y_train, x_test, y_test = load(CIFAR10, folder)

Formats (plain bytes; the pickled "python version" of CIFAR-10 is never read):
- CIFAR-10 `cifar-10-batches-bin/`: data_batch_1..5.bin and test_batch.bin, each 10000 records of one label
  byte (0-9) and 3072 pixel bytes (1024 red, 1024 green, 1024 blue; rows of 32).
- MNIST (`train-images-idx3-ubyte` etc., uncompressed): a big-endian header (magic 2051 for images, 2049 for
  labels; then the dimensions), then the bytes.

Checks: a missing file, a file of the wrong size, a wrong SHA-256 and a malformed header or label are each
a DataError that names the expected files and where they come from. SHA-256: where the official digest is
pinned in EXPECTED_SHA256 it must match. Digests not pinned there (none could be taken from a copy of the
files on the machine this was written on) are computed, returned and folded into run keys, so a store entry
always names the exact bytes it was trained on. A synthetic folder (write_synthetic, for tests and the smoke
profile) carries its own digests in SYNTHETIC_MANIFEST and is refused wherever the real files are required.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SYNTHETIC_MANIFEST = "bnclaims-synthetic.json"


class DataError(ValueError):
    """A data folder that cannot be used; the message names what is expected and where it comes from."""


class DataAbsent(DataError):
    """An optional data set (MNIST beside CIFAR-10) of which the folder holds no file: its checks are not run."""


@dataclass(frozen=True)
class DataSet:
    name: str
    subdir: str                  # the files' folder inside the user's folder ("" : the folder itself)
    files: tuple                 # ((file name, records), ...)
    record_bytes: int            # bytes per record after the header
    header: dict                 # file name -> header bytes (0: none)
    source: str

    def size(self, fname: str, records: int | None = None) -> int:
        n = dict(self.files)[fname] if records is None else records
        return self.header.get(fname, 0) + n * self.record_size(fname)

    def record_size(self, fname: str) -> int:
        return 1 if "labels" in fname else self.record_bytes      # an idx label file: one byte per label


CIFAR10 = DataSet(
    "cifar10", "cifar-10-batches-bin",
    tuple((f"data_batch_{i}.bin", 10000) for i in range(1, 6)) + (("test_batch.bin", 10000),),
    3073, {},
    "the CIFAR-10 binary version (cifar-10-binary.tar.gz, 'CIFAR-10 binary version (suitable for C programs)') "
    "from https://www.cs.toronto.edu/~kriz/cifar.html, unpacked: DIR/cifar-10-batches-bin/")

MNIST = DataSet(
    "mnist", "",
    (("train-images-idx3-ubyte", 60000), ("train-labels-idx1-ubyte", 60000),
     ("t10k-images-idx3-ubyte", 10000), ("t10k-labels-idx1-ubyte", 10000)),
    784, {"train-images-idx3-ubyte": 16, "t10k-images-idx3-ubyte": 16,
          "train-labels-idx1-ubyte": 8, "t10k-labels-idx1-ubyte": 8},
    "MNIST's four idx files, uncompressed (gunzip the .gz files of the MNIST database, Y. LeCun, C. Cortes and "
    "C. Burges), directly in DIR")

DATASETS = {d.name: d for d in (CIFAR10, MNIST)}

# Official SHA-256 digests of the uncompressed files. Empty: none is pinned yet (see the module docstring);
# fill in from a verified copy as {"cifar10": {"data_batch_1.bin": "<64 hex>", ...}}.
EXPECTED_SHA256: dict = {}


def user_folder(explicit: str | os.PathLike | None = None) -> Path:
    """The user's data folder: the explicit one (--data-dir), else $BNCLAIMS_DATA."""
    raw = explicit if explicit is not None else os.environ.get("BNCLAIMS_DATA")
    if not raw:
        raise DataError("no data folder given: pass --data-dir DIR or set BNCLAIMS_DATA=DIR "
                        f"(nothing is downloaded; expected: {_expected_text(CIFAR10)})")
    folder = Path(raw).expanduser().resolve()
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    return folder


def _expected_text(ds: DataSet) -> str:
    where = f"{ds.subdir}/" if ds.subdir else ""
    return f"{where}{{{', '.join(f for f, _ in ds.files)}}}: {ds.source}"


def _synthetic(folder: Path) -> dict | None:
    p = folder / SYNTHETIC_MANIFEST
    if not p.is_file():
        return None
    try:
        m = json.loads(p.read_text())
        return {"records": {str(k): int(v) for k, v in m["records"].items()},
                "sha256": {str(k): str(v) for k, v in m["sha256"].items()}}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(f"{p}: malformed synthetic manifest ({e})") from None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verify(ds: DataSet, root, *, allow_synthetic: bool = False) -> dict:
    """{file name: SHA-256} of the data set's files under root, checked (DataError lists every problem)."""
    return _checked(ds, root, allow_synthetic)[1]


def _folder(ds: DataSet, root) -> Path:
    return Path(root) / ds.subdir if ds.subdir else Path(root)


def _checked(ds: DataSet, root, allow_synthetic: bool) -> tuple[dict, dict]:
    """({file name: its bytes}, {file name: SHA-256}), each file read once and checked: size, SHA-256, format."""
    folder = _folder(ds, root)
    synth = _synthetic(folder) if folder.is_dir() else None
    if synth is not None and not allow_synthetic:
        raise DataError(f"{folder} holds a synthetic {ds.name} (written by bnclaims for tests): this run needs the "
                        f"real files, {_expected_text(ds)}")
    pinned = {} if synth is not None else EXPECTED_SHA256.get(ds.name, {})
    problems, data, hashes = [], {}, {}
    for fname, records in ds.files:
        path = folder / fname
        if synth is not None:
            records = synth["records"].get(fname, records)
        if not path.is_file():
            problems.append(f"missing {fname}")
            continue
        size = path.stat().st_size
        want = ds.size(fname, records)
        if size != want:
            problems.append(f"{fname}: {size} bytes, expected {want}")
            continue
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        expected = synth["sha256"].get(fname) if synth is not None else pinned.get(fname)
        if expected is not None and digest != expected:
            problems.append(f"{fname}: SHA-256 {digest}, expected {expected} (corrupt or another version)")
            continue
        bad = _format_problem(ds, fname, raw, records)
        if bad:
            problems.append(f"{fname}: {bad}")
            continue
        data[fname], hashes[fname] = raw, digest
    if problems:
        raise DataError(f"{ds.name} in {folder}: " + "; ".join(problems) + f". Expected {_expected_text(ds)}")
    return data, hashes


def _format_problem(ds: DataSet, fname: str, raw: bytes, records: int) -> str | None:
    if ds is CIFAR10:
        labels = np.frombuffer(raw, dtype=np.uint8).reshape(records, 3073)[:, 0]
        return None if int(labels.max(initial=0)) <= 9 else f"label byte {int(labels.max())} > 9 (not the binary version?)"
    head = np.frombuffer(raw, dtype=">u4", count=ds.header[fname] // 4)
    magic = 2051 if "images" in fname else 2049
    if int(head[0]) != magic or int(head[1]) != records:
        return f"idx header {head.tolist()}, expected magic {magic} and {records} items (still gzipped?)"
    if magic == 2051 and (int(head[2]), int(head[3])) != (28, 28):
        return f"images of {int(head[2])}x{int(head[3])}, expected 28x28"
    if magic == 2049:
        labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
        if int(labels.max(initial=0)) > 9:
            return f"label {int(labels.max())} > 9"
    return None


def load(ds: DataSet, root, *, allow_synthetic: bool = False):
    """(x_train uint8, y_train int64, x_test, y_test, {file: SHA-256}), from the bytes verify checked (each file
    is read once). CIFAR-10 images are [n, 3, 32, 32]; MNIST images [n, 28, 28]."""
    data, hashes = _checked(ds, root, allow_synthetic)
    if ds is CIFAR10:
        def read(names):
            raw = np.concatenate([np.frombuffer(data[n], dtype=np.uint8).reshape(-1, 3073) for n in names])
            return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)
        xtr, ytr = read([f"data_batch_{i}.bin" for i in range(1, 6)])
        xte, yte = read(["test_batch.bin"])
        return xtr, ytr, xte, yte, hashes

    def images(n):
        return np.frombuffer(data[n], dtype=np.uint8, offset=16).reshape(-1, 28, 28).copy()

    def labels(n):
        return np.frombuffer(data[n], dtype=np.uint8, offset=8).astype(np.int64)
    return (images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte"),
            images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte"), hashes)


def write_synthetic(ds: DataSet, root, records: int = 64, seed: int = 0) -> Path:
    """A tiny folder in the data set's real format (random pixels, labels cycling 0-9), with its own digests in
    SYNTHETIC_MANIFEST; returns root. For tests and the smoke profile: refused where real files are required."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    folder = _folder(ds, root)
    folder.mkdir(parents=True, exist_ok=True)
    sizes, digests = {}, {}
    for i, (fname, _) in enumerate(ds.files):
        labels = (np.arange(records) + i) % 10
        if ds is CIFAR10:
            px = rng.integers(0, 256, size=(records, 3072), dtype=np.uint8)
            data = np.concatenate([labels[:, None].astype(np.uint8), px], axis=1).tobytes()
        elif "images" in fname:
            data = np.array([2051, records, 28, 28], ">u4").tobytes() + \
                rng.integers(0, 256, size=(records, 784), dtype=np.uint8).tobytes()
        else:
            data = np.array([2049, records], ">u4").tobytes() + labels.astype(np.uint8).tobytes()
        (folder / fname).write_bytes(data)
        sizes[fname] = records
        digests[fname] = hashlib.sha256(data).hexdigest()
    (folder / SYNTHETIC_MANIFEST).write_text(json.dumps({"records": sizes, "sha256": digests}, indent=1,
                                                        sort_keys=True))
    return root


def digest(hashes: dict) -> str:
    """One SHA-256 over a data set's {file: SHA-256}: what a run key records of the bytes it trained on."""
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


_VERIFIED: dict = {}      # (folder, name, synthetic ok, ((file, size, mtime), ...)) -> digest, per process


def load_keyed(ds: DataSet, root, sha: str):
    """load(ds, root) (synthetic allowed: the run's key already says which) where the files' digest is still the
    one the run was keyed by; otherwise a DataError (the files changed after the key was made)."""
    *arrays, hashes = load(ds, root, allow_synthetic=True)
    if digest(hashes) != sha:
        raise DataError(f"{_folder(ds, root)}: the {ds.name} files changed since the run was keyed "
                        f"({digest(hashes)[:12]} != {sha[:12]})")
    return arrays


def verified_digest(ds: DataSet, root, *, allow_synthetic: bool = False) -> str:
    """digest(verify(...)), computed once per process for files that have not changed since (size, mtime)."""
    folder = _folder(ds, root)
    stamp = tuple((f, p.stat().st_size, p.stat().st_mtime_ns) for f, _ in ds.files
                  if (p := folder / f).is_file())
    key = (str(folder), ds.name, allow_synthetic, stamp)
    if key not in _VERIFIED:
        _VERIFIED[key] = digest(verify(ds, root, allow_synthetic=allow_synthetic))
    return _VERIFIED[key]


def synthetic_folder(ds: DataSet, cache: Path) -> Path:
    """The smoke profile's synthetic folder for ds under cache/synthetic/ (written once, atomically: concurrent
    workers write a temporary folder each and the first rename wins)."""
    root = Path(cache) / "synthetic" / ds.name
    if not (_folder(ds, root) / SYNTHETIC_MANIFEST).is_file():
        import shutil
        import tempfile
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{ds.name}-", dir=root.parent))
        write_synthetic(ds, tmp)
        try:
            os.rename(tmp, root)
        except OSError:           # another process got there first: its folder holds the same bytes
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def for_run(name: str, data_dir: str | None, smoke: bool, cache: Path) -> tuple[Path, str]:
    """(folder, digest) of data set `name` for a run: the user's folder where it holds the data set; in the smoke
    profile, else a synthetic folder in the real format; otherwise a DataError naming what is expected."""
    ds = DATASETS[name]
    if data_dir is not None and any((_folder(ds, data_dir) / f).exists() for f, _ in ds.files):
        return Path(data_dir), verified_digest(ds, data_dir, allow_synthetic=smoke)
    if smoke:
        root = synthetic_folder(ds, cache)
        return root, verified_digest(ds, root, allow_synthetic=True)
    where = f"in {data_dir}" if data_dir else "(no --data-dir given and $BNCLAIMS_DATA unset)"
    raise DataAbsent(f"no {ds.name} files {where}: expected {_expected_text(ds)}")
