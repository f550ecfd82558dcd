"""Content-addressed run store: caches training results (numpy arrays + JSON meta) on disk.

Lets pytest-xdist workers and later runs reuse results; entries are committed atomically,
verified on every read, and corrupt ones are quarantined and recomputed, never served.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
from filelock import FileLock

__all__ = ["FORMAT_VERSION", "RunStore", "canonical_json", "environment_key", "key_of"]

FORMAT_VERSION = 1
KEY_LEN = 20  # 80 bits of sha256; collisions are still caught by the spec comparison on read

_ARRAYS = "arrays.npz"
_META = "meta.json"
_KEY_RE = re.compile(rf"[0-9a-f]{{{KEY_LEN}}}")
# Names become zip member names; "file" and "allow_pickle" would collide with np.savez's own
# parameters, so they are refused rather than silently mangled.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_RESERVED_NAMES = frozenset({"file", "allow_pickle"})
# Numeric and bool only: anything else (object, str, void, datetime) either needs pickle or
# does not round-trip as plain data.
_ALLOWED_KINDS = frozenset("biufc")

Arrays = dict[str, np.ndarray]


def canonical_json(obj) -> str:
    """Deterministic, strict JSON (sorted keys, no whitespace, no NaN/inf)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def key_of(spec: Mapping) -> str:
    """Content address of a JSON-safe spec dict; independent of dict insertion order."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be a dict, got {type(spec).__name__}")
    return hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()[:KEY_LEN]


_NUMERIC_MODULES = ("data", "nets", "norms", "engine", "spec")


def environment_key() -> dict:
    """The parts of the environment that change numerical results; fold into specs: torch version,
    thread count (importing harness.engine pins it to one), and a hash of the harness code that
    produces the numbers, so an edited engine never reuses stale entries."""
    import sys
    if "bnclaims.harness.engine" in sys.modules:       # torch is loaded and pinned: read what it runs with
        import torch
        version, threads = torch.__version__, torch.get_num_threads()
    else:                                     # torch not loaded (importing it costs seconds): the same values
        from importlib.metadata import version as _version     # from the installed distribution, and the
        version, threads = _version("torch"), thread_setting()  # thread count harness.engine will pin
    return {"torch": version, "threads": threads, "code": harness_code_hash()}


class SettingError(ValueError):
    """A bad BNCLAIMS_* environment setting; the message names the variable and what it accepts."""


DEVICES = "cpu, cuda, cuda:N or mps"
_DEVICE_RE = re.compile(r"cpu|mps|cuda(:\d+)?")


def device_setting() -> str:
    """The batched engine's device (BNCLAIMS_DEVICE, default cpu), as harness.engine.DEVICE, read without torch.
    Checks the spelling only; check_device says whether this machine has it (that needs torch)."""
    raw = os.environ.get("BNCLAIMS_DEVICE", "cpu")
    if not _DEVICE_RE.fullmatch(raw):
        raise SettingError(f"BNCLAIMS_DEVICE={raw!r}: unknown device; accepts {DEVICES}")
    return raw


def positive_int(raw) -> int:
    """int(raw) when that is an integer >= 1, else 0 (the caller names the setting in its error)."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return 0
    return value if value >= 1 else 0


def thread_setting() -> int:
    """The torch thread count harness.engine pins (BNCLAIMS_THREADS, default 1), read without torch."""
    raw = os.environ.get("BNCLAIMS_THREADS", "1")
    threads = positive_int(raw)
    if not threads:
        raise SettingError(f"BNCLAIMS_THREADS={raw!r}: accepts a positive integer (torch threads per process)")
    return threads


def check_device(device: str | None = None) -> str:
    """The device setting, once this machine is known to have it; else SettingError naming what it accepts here.
    Imports torch only for a device other than cpu."""
    device = device_setting() if device is None else device
    if device == "cpu":
        return device
    import torch
    n_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    here = ["cpu"] + (["cuda"] + [f"cuda:{i}" for i in range(n_cuda)] if n_cuda else []) + (["mps"] if has_mps else [])
    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        ok = index < n_cuda
    else:
        ok = has_mps
    if not ok:
        raise SettingError(f"BNCLAIMS_DEVICE={device!r}: not available on this machine (torch {torch.__version__}); "
                           f"accepts {', '.join(here)} here")
    return device


_CODE_HASH: list = []
RUN_COUNTS = {"trained": 0, "reused": 0}     # this process's store lookups (progress lines of `bnclaims run`)
TIMINGS = "timings.json"                     # in the store folder: {profile: {hypothesis id: wall s}} (estimates)


def _timings_file(root) -> dict:
    """The store folder's timings file as {profile: {id: seconds}}, with anything malformed dropped."""
    try:
        data = json.loads((Path(root) / TIMINGS).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {p: {k: float(v) for k, v in got.items() if isinstance(v, (int, float))}
            for p, got in data.items() if isinstance(got, dict)}


def read_timings(root, profile: str) -> dict:
    """The wall time each hypothesis last took in this profile, as recorded in the store folder ({} if none)."""
    return _timings_file(root).get(profile, {})


def record_timings(root, profile: str, wall_s: Mapping) -> None:
    """Merge this run's wall times into the store folder's timings file (atomic replace; best effort)."""
    path = Path(root) / TIMINGS
    data = _timings_file(root)
    data.setdefault(profile, {}).update({k: round(float(v), 3) for k, v in wall_s.items()
                                         if isinstance(v, (int, float))})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass


def harness_code_hash() -> str:
    """Hash of the numeric harness modules as this process first read them (once: a file edited while a run
    is under way must not relabel entries that the code already loaded computed)."""
    if not _CODE_HASH:
        here = Path(__file__).resolve().parent
        blob = b"".join((here / f"{m}.py").read_bytes() for m in _NUMERIC_MODULES)
        _CODE_HASH.append(hashlib.sha256(blob).hexdigest()[:16])
    return _CODE_HASH[0]


def module_code_hash(*modules: str) -> str:
    """Hash of the source files of these modules (found without importing them), for run-store keys of
    code outside the numeric harness modules (routines); harness_code_hash covers those."""
    import importlib.util
    blob = b""
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            raise ValueError(f"module {name!r} not found")
        blob += name.encode() + b"\0" + Path(spec.origin).read_bytes()
    return hashlib.sha256(blob).hexdigest()[:16]


class _Corrupt(Exception):
    """An entry exists but cannot be trusted; the message is the reason."""


def _fsync_dir(path: Path) -> None:
    # Makes the rename durable; directories cannot be opened for fsync on Windows.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _normalize_arrays(arrays: Mapping) -> Arrays:
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a dict of name -> ndarray, got {type(arrays).__name__}")
    out: Arrays = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name in _RESERVED_NAMES:
            raise ValueError(f"bnclaims store: invalid array name {name!r}")
        arr = np.asarray(value)
        if arr.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(
                f"bnclaims store: array {name!r} has dtype {arr.dtype} "
                "(only numeric and bool arrays can be stored; no pickling)"
            )
        out[name] = arr
    return out


def npz_bytes(arrays: Arrays) -> bytes:
    """The arrays as an .npz archive (what np.savez writes, read back by np.load), byte for byte the same for the
    same arrays: every member carries a fixed timestamp, so an entry computed twice (in-process, on a cluster
    worker, on another day) has the same bytes and checksum."""
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def _json_roundtrip(obj, what: str):
    try:
        return json.loads(canonical_json(obj))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bnclaims store: {what} is not strict JSON-safe: {exc}") from exc


class RunStore:
    """On-disk cache of results keyed by ``key_of(spec)``; safe across processes."""

    def __init__(self, root: str | os.PathLike | None = None, lock_timeout: float = -1):
        if root is None:
            from bnclaims.harness.paths import store_dir
            root = store_dir()
        # Absolute now, so a later chdir (tests do that) cannot move the store.
        self.root = Path(os.path.abspath(os.fspath(root)))
        self.lock_timeout = lock_timeout  # -1: wait as long as the other process trains

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # ---- paths -------------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        return self.root / key[:2] / key

    def _lock(self, key: str) -> FileLock:
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / "locks" / f"{key}.lock", timeout=self.lock_timeout)

    # ---- public API --------------------------------------------------------------------

    def get(self, spec: Mapping) -> tuple[Arrays, dict] | None:
        """Verified ``(arrays, meta)`` for spec, or None; a corrupt entry is quarantined."""
        key = key_of(spec)
        try:
            return self._read(key, spec)
        except FileNotFoundError:
            return None
        except _Corrupt:
            pass
        # Unlocked reads can race a writer replacing the entry, so only trust a verdict of
        # corruption that is confirmed under the lock.
        with self._lock(key):
            try:
                return self._read(key, spec)
            except FileNotFoundError:
                return None
            except _Corrupt as exc:
                self._quarantine(key, str(exc), "discarded")
                return None

    def put(self, spec: Mapping, arrays: Mapping, info: Mapping | None = None) -> dict:
        """Store arrays (+ JSON-safe info) for spec, replacing any entry; returns meta."""
        key = key_of(spec)
        norm = _normalize_arrays(arrays)
        info = _json_roundtrip(dict(info or {}), "info")
        with self._lock(key):
            return self._write(key, spec, norm, info)

    def get_or_compute(
        self, spec: Mapping, compute: Callable[[], tuple[Mapping, Mapping]]
    ) -> tuple[Arrays, dict, str]:
        """``(arrays, info, status)``; status is "hit", "computed" or "recomputed".

        When several processes ask for one key, one computes under the key's lock and the
        others block on it, then read the stored result.
        """
        key = key_of(spec)
        # Fast path without the lock: the common case on reruns and for waiting workers.
        try:
            arrays, meta = self._read(key, spec)
            RUN_COUNTS["reused"] += 1
            return arrays, meta["info"], "hit"
        except (FileNotFoundError, _Corrupt):
            pass

        with self._lock(key):
            # Double-check: another process may have finished while we waited for the lock.
            status = "computed"
            try:
                arrays, meta = self._read(key, spec)
                RUN_COUNTS["reused"] += 1
                return arrays, meta["info"], "hit"
            except FileNotFoundError:
                pass
            except _Corrupt as exc:
                self._quarantine(key, str(exc), "recomputing")
                status = "recomputed"

            RUN_COUNTS["trained"] += 1
            result = compute()
            if not (isinstance(result, tuple) and len(result) == 2):
                raise TypeError("compute() must return (arrays: dict, info: dict)")
            norm = _normalize_arrays(result[0])
            info = _json_roundtrip(dict(result[1] or {}), "info")
            meta = self._write(key, spec, norm, info)
            return norm, meta["info"], status

    def __contains__(self, spec_or_key: Mapping | str) -> bool:
        """Cheap presence test (committed entry exists); does not verify contents."""
        key = spec_or_key if isinstance(spec_or_key, str) else key_of(spec_or_key)
        return (self.path_of(key) / _META).is_file()

    def entries(self) -> Iterator[str]:
        """Keys of committed entries (temporary and quarantined directories are skipped)."""
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            for entry in sorted(shard.iterdir()):
                if _KEY_RE.fullmatch(entry.name) and (entry / _META).is_file():
                    yield entry.name

    def clear(self) -> int:
        """Delete all entries (and stale temp dirs); keeps quarantine/ and corrupt.log."""
        removed = 0
        if not self.root.is_dir():
            return removed
        for shard in self.root.iterdir():
            if len(shard.name) == 2 and shard.is_dir():
                removed += sum(1 for e in shard.iterdir() if _KEY_RE.fullmatch(e.name))
                shutil.rmtree(shard, ignore_errors=True)
        return removed

    # ---- internals ---------------------------------------------------------------------

    def _read(self, key: str, spec: Mapping) -> tuple[Arrays, dict]:
        """Verified entry; FileNotFoundError if absent, _Corrupt if present but bad."""
        entry = self.path_of(key)
        if not entry.is_dir():
            raise FileNotFoundError(entry)
        try:
            meta_bytes = (entry / _META).read_bytes()
            data = (entry / _ARRAYS).read_bytes()
        except FileNotFoundError as exc:
            raise _Corrupt(f"missing {Path(exc.filename).name}") from None
        except OSError as exc:
            raise _Corrupt(f"unreadable: {exc}") from None

        try:
            meta = json.loads(meta_bytes)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Corrupt(f"bad meta.json: {exc}") from None
        if not isinstance(meta, dict):
            raise _Corrupt("bad meta.json: not an object")
        if meta.get("format") != FORMAT_VERSION:
            raise _Corrupt(f"format version {meta.get('format')!r} != {FORMAT_VERSION}")
        if meta.get("key") != key:
            raise _Corrupt("key mismatch")
        try:
            same_spec = canonical_json(meta.get("spec")) == canonical_json(spec)
        except (TypeError, ValueError):
            same_spec = False
        if not same_spec:
            raise _Corrupt("spec mismatch")
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise _Corrupt("checksum mismatch")
        if not isinstance(meta.get("info"), dict) or not isinstance(meta.get("arrays"), list):
            raise _Corrupt("bad meta.json: missing info/arrays")

        # Load from the bytes we hashed, so the file cannot change between check and load.
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as exc:  # zip/npy parse errors come in many types
            raise _Corrupt(f"unreadable arrays.npz: {type(exc).__name__}: {exc}") from None

        try:
            expected = [(a["name"], tuple(a["shape"]), a["dtype"]) for a in meta["arrays"]]
        except (KeyError, TypeError) as exc:
            raise _Corrupt(f"bad meta.json arrays list: {exc}") from None
        actual = [(n, a.shape, a.dtype.str) for n, a in arrays.items()]
        if sorted(expected) != sorted(actual):
            raise _Corrupt("array names/shapes/dtypes differ from meta.json")
        # Keep the order the arrays were stored in.
        arrays = {name: arrays[name] for name, _, _ in expected}
        return arrays, meta

    def _write(self, key: str, spec: Mapping, arrays: Arrays, info: dict) -> dict:
        """Commit an entry atomically; caller holds the key's lock."""
        data = npz_bytes(arrays)
        meta = {
            "format": FORMAT_VERSION,
            "key": key,
            "spec": _json_roundtrip(spec, "spec"),
            "info": info,
            "sha256": hashlib.sha256(data).hexdigest(),
            "arrays": [
                {"name": n, "shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()
            ],
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        }
        meta_bytes = (json.dumps(meta, sort_keys=True, indent=1, allow_nan=False) + "\n").encode()

        final = self.path_of(key)
        shard = final.parent
        shard.mkdir(parents=True, exist_ok=True)
        # Build the whole entry in a hidden sibling and rename it into place: readers see
        # either no entry or a complete one, never a half-written directory.
        tmp = shard / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        old = None
        try:
            tmp.mkdir()
            _write_file(tmp / _ARRAYS, data)
            _write_file(tmp / _META, meta_bytes)
            _fsync_dir(tmp)
            if final.exists():
                # rename() will not replace a non-empty directory; move the old one away first.
                old = shard / f".old-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                os.rename(final, old)
            os.rename(tmp, final)
            _fsync_dir(shard)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return meta

    def _quarantine(self, key: str, reason: str, action: str) -> Path | None:
        """Move a bad entry aside (nothing is deleted), log it and warn; caller holds lock."""
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        qdir = self.root / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        dest = qdir / f"{key}-{stamp}"
        n = 1
        while dest.exists():
            dest = qdir / f"{key}-{stamp}-{n}"
            n += 1
        try:
            os.rename(self.path_of(key), dest)
        except FileNotFoundError:
            dest = None
        with open(self.root / "corrupt.log", "a", encoding="utf-8") as log:
            log.write(f"{stamp}\t{key}\t{reason}\t{dest}\n")
        warnings.warn(
            f"bnclaims store: corrupt entry {key} ({reason}); {action}",
            RuntimeWarning,
            stacklevel=3,
        )
        return dest
