"""Frozen pre-registration: a lock file of declaration hashes, and an amendment log.

Each hypothesis's pre-registration (Hypothesis.declaration(): every field, and the design as
harness.declare.lockform.describe gives it) is hashed. A claim pack keeps the hashes in a lock file; a test
compares the registered declarations against it, so no declaration changes without a deliberate
lock update that records why. What changed, when, and whether data had been seen by then goes in the
pack's amendment log.

    declaration_hash(hyp)                     -> "3f2a..." (sha256 hex of the canonical declaration)
    check_lock(claims, lock)                  -> ["changed: C2.a ...", ...]; [] = frozen
    assert_frozen(claims, lock)               the lock test: AssertionError with the differences and the fix
    update_lock(claims, lock_path, reason)    -> the new lock (written), with an "updates" entry
    load_amendments(path)                     -> {hypothesis id: [entry, ...]}

Lock file (JSON, sorted keys, indent 1):
    {"schema": 1, "hypotheses": {id: {"hash": ..., "claim": ...}},
     "updates": [{"date": "YYYY-MM-DD", "reason": ..., "changed": [ids], "added": [ids], "removed": [ids]}],
     "rounds": {"2": {"seed_base": 300, "replication_base": 400, "code_hash": ..., "declarations": ..., "date": ...}}}
    (rounds: register_round, written once before any run at the round's bases)

Amendment log: a JSON list of
    {"id": ..., "date": "YYYY-MM-DD", "after_data": true|false, "change": ..., "reason": ...}

A pack names both files in its package (LOCK, AMENDMENTS: declare.registry.pack); for bnclaims' own pack
builtin_lock_path() and builtin_amendments_path() find them; `bnclaims lock --check` / `bnclaims lock --reason TEXT` use them.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from bnclaims.harness.declare.lockform import _hypotheses, declaration_hash, declarations_hash  # noqa: F401
from bnclaims.harness.store import canonical_json

SCHEMA = 1
LOCK_NAME = "prereg.lock.json"
AMENDMENTS_NAME = "amendments.json"
AMENDMENT_FIELDS = ("id", "date", "after_data", "change", "reason")
UPDATE_HINT = ('update the lock with `bnclaims lock --reason "..."` and record the amendment in '
               "claims/amendments.json (id, date, after_data, change, reason); otherwise revert the declaration")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- where bnclaims' own files live --------------------------------------------------------------

def builtin_lock_path() -> Path:
    """The lock file of bnclaims' own claims (the builtin pack's LOCK: declare.registry.pack)."""
    return _builtin("lock", LOCK_NAME)


def builtin_amendments_path() -> Path:
    """The amendment log of bnclaims' own claims (the builtin pack's AMENDMENTS)."""
    return _builtin("amendments", AMENDMENTS_NAME)


def _builtin(what: str, name: str) -> Path:
    from bnclaims.harness.declare.registry import pack
    path = getattr(pack("builtin"), what)
    if path is None:
        raise FileNotFoundError(f"the builtin claim pack is not installed or declares no {name}")
    return path


# --- the lock file -------------------------------------------------------------------------------

def empty_lock() -> dict:
    return {"schema": SCHEMA, "hypotheses": {}, "updates": []}


def _check_lock_shape(lock, where: str) -> dict:
    if not isinstance(lock, Mapping):
        raise ValueError(f"{where}: a lock must be a JSON object, got {type(lock).__name__}")
    if lock.get("schema") != SCHEMA:
        raise ValueError(f"{where}: unsupported lock schema {lock.get('schema')!r} (expected {SCHEMA})")
    hyps = lock.get("hypotheses")
    if not isinstance(hyps, Mapping):
        raise ValueError(f"{where}: 'hypotheses' must be an object")
    for hid, entry in hyps.items():
        if not (isinstance(entry, Mapping) and isinstance(entry.get("hash"), str)
                and isinstance(entry.get("claim"), str)):
            raise ValueError(f"{where}: hypothesis {hid!r}: expected {{'hash': str, 'claim': str}}")
    if not isinstance(lock.get("updates"), list):
        raise ValueError(f"{where}: 'updates' must be a list")
    return dict(lock)


def load_lock(path) -> dict:
    """The lock at path, shape-checked. A missing file raises FileNotFoundError."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        try:
            lock = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None
    return _check_lock_shape(lock, str(path))


def write_lock(lock: Mapping, path) -> None:
    """Write atomically, sorted keys, indent 1, trailing newline."""
    path = Path(path)
    text = json.dumps(_check_lock_shape(lock, str(path)), sort_keys=True, indent=1, allow_nan=False) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _as_lock(lock) -> dict:
    if isinstance(lock, (str, os.PathLike)):
        return load_lock(lock)
    return _check_lock_shape(lock, "lock")


def lock_diff(claims, lock) -> dict[str, list[str]]:
    """{"changed": [...], "added": [...], "removed": [...]} hypothesis ids, each sorted.
    lock: a lock dict or the path of a lock file."""
    from bnclaims.harness.stats.verdict import id_key
    locked = _as_lock(lock)["hypotheses"]
    now = _hypotheses(claims)
    changed = [h for h in now if h in locked and locked[h]["hash"] != now[h][0]]
    added = [h for h in now if h not in locked]
    removed = [h for h in locked if h not in now]
    return {k: sorted(v, key=id_key) for k, v in (("changed", changed), ("added", added), ("removed", removed))}


def check_lock(claims, lock) -> list[str]:
    """Human-readable differences between the registered declarations and the lock; [] = frozen.
    lock: a lock dict or the path of a lock file."""
    lock = _as_lock(lock)
    locked, now = lock["hypotheses"], _hypotheses(claims)
    d = lock_diff(claims, lock)
    out = [f"changed: {h} (claim {now[h][1]}): declaration hash {now[h][0][:16]}, locked {locked[h]['hash'][:16]}"
           for h in d["changed"]]
    out += [f"added: {h} (claim {now[h][1]}): not in the lock" for h in d["added"]]
    out += [f"removed: {h} (claim {locked[h]['claim']}): in the lock but no longer registered" for h in d["removed"]]
    return out


def assert_frozen(claims, lock) -> None:
    """The lock test: raise AssertionError listing every difference, and how to update, unless the
    registered declarations match the lock. lock: a lock dict or the path of a lock file."""
    diffs = check_lock(claims, lock)
    if diffs:
        where = f" {lock}" if isinstance(lock, (str, os.PathLike)) else ""
        raise AssertionError(f"the pre-registration lock{where} differs from the registered declarations:\n  "
                             + "\n  ".join(diffs) + f"\nIf the change is deliberate, {UPDATE_HINT}.")


def _iso_date(date) -> str:
    if date is None:
        return _dt.date.today().isoformat()
    if isinstance(date, _dt.datetime):
        return date.date().isoformat()
    if isinstance(date, _dt.date):
        return date.isoformat()
    if isinstance(date, str) and _DATE_RE.fullmatch(date):
        _dt.date.fromisoformat(date)        # a real calendar date
        return date
    raise ValueError(f"date: expected YYYY-MM-DD, got {date!r}")


def update_lock(claims, lock_path, reason: str, date=None) -> dict:
    """Re-hash the claims into the lock at lock_path (created if absent) and append an "updates"
    entry naming the changed, added and removed ids. A non-empty reason is required. Nothing
    changed: the lock is returned as it is and the file is not rewritten. Returns the new lock."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a lock update needs a non-empty reason")
    date = _iso_date(date)
    lock_path = Path(lock_path)
    lock = load_lock(lock_path) if lock_path.exists() else empty_lock()
    d = lock_diff(claims, lock)
    if not any(d.values()):
        return lock
    new = dict(lock)
    new["hypotheses"] = {h: {"hash": hsh, "claim": cid} for h, (hsh, cid) in _hypotheses(claims).items()}
    new["updates"] = list(lock["updates"]) + [{"date": date, "reason": reason.strip(), **d}]
    write_lock(new, lock_path)
    return new


# --- registered rounds ---------------------------------------------------------------------------

def register_round(claims, lock_path, name: str, *, seed_base: int, replication_base: int | None = None,
                   code_hash: str, date=None) -> dict:
    """Record in the lock that round `name` is registered: its seed base(s), the code hash of the numeric
    harness and the hash of every declaration, before any run at that base. The lock must already match the
    declarations (update it first). A round is registered once: registering it again with other contents is
    refused. Returns the new lock."""
    lock_path = Path(lock_path)
    lock = load_lock(lock_path)
    diffs = check_lock(claims, lock)
    if diffs:
        raise ValueError("the lock differs from the declarations; update it before registering a round:\n  "
                         + "\n  ".join(diffs))
    entry = {"seed_base": int(seed_base), "replication_base": replication_base, "code_hash": code_hash,
             "declarations": declarations_hash(claims), "date": _iso_date(date)}
    rounds = dict(lock.get("rounds") or {})
    old = rounds.get(name)
    if old is not None:
        if {k: v for k, v in old.items() if k != "date"} == {k: v for k, v in entry.items() if k != "date"}:
            return lock
        raise ValueError(f"round {name} is already registered ({old}); a registered round is not re-registered")
    used = {r["seed_base"] for r in rounds.values()} | {r.get("replication_base") for r in rounds.values()}
    if seed_base in used or (replication_base is not None and replication_base in used):
        raise ValueError(f"seed base {seed_base} or {replication_base} already belongs to a registered round")
    rounds[name] = entry
    new = dict(lock)
    new["rounds"] = rounds
    write_lock(new, lock_path)
    return new


def round_status(claims, lock, votes=()) -> list[str]:
    """One line per registered round: its bases, and whether the declarations still hash as registered; where they
    do not, the ids the lock's updates dated after the registration added, changed or removed, and whether any of
    them is one of the round's votes (votes: their hypothesis ids)."""
    lock = _as_lock(lock)
    now = declarations_hash(claims)
    out = []
    for name, r in sorted((lock.get("rounds") or {}).items()):
        same = r.get("declarations") == now
        line = (f"round {name}: seed base {r.get('seed_base')}"
                + (f", replication base {r['replication_base']}" if r.get("replication_base") is not None else "")
                + f", registered {r.get('date')}: declarations "
                + ("unchanged since" if same else "CHANGED since (record the amendment)"))
        if not same:
            later = [u for u in lock.get("updates") or [] if str(u.get("date", "")) > str(r.get("date", ""))]
            ids = sorted({i for u in later for k in ("added", "changed", "removed") for i in u.get(k) or []})
            if ids:
                hit = sorted(set(ids) & set(votes))
                line += (f"; updated after it: {', '.join(ids)}; "
                         + (f"VOTES CHANGED: {', '.join(hit)}" if hit else "no vote of the round changed"))
        out.append(line)
    return out


# --- the amendment log ---------------------------------------------------------------------------

def _check_amendment(i: int, entry, where: str) -> dict:
    def bad(field, msg):
        return ValueError(f"{where}: entry {i}: field {field!r}: {msg}")

    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: entry {i}: expected an object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(AMENDMENT_FIELDS))
    if unknown:
        raise bad(unknown[0], f"unknown field (allowed: {', '.join(AMENDMENT_FIELDS)})")
    for field in AMENDMENT_FIELDS:
        if field not in entry:
            raise bad(field, "missing")
    for field in ("id", "change", "reason"):
        if not isinstance(entry[field], str) or not entry[field].strip():
            raise bad(field, f"expected a non-empty string, got {entry[field]!r}")
    if not isinstance(entry["after_data"], bool):
        raise bad("after_data", f"expected true or false, got {entry['after_data']!r}")
    date = entry["date"]
    if not isinstance(date, str) or not _DATE_RE.fullmatch(date):
        raise bad("date", f"expected YYYY-MM-DD, got {date!r}")
    try:
        _dt.date.fromisoformat(date)
    except ValueError:
        raise bad("date", f"not a calendar date: {date!r}") from None
    return dict(entry)


def load_amendments(path=None) -> dict[str, list[dict]]:
    """The amendment log at path (default: bnclaims' own), validated, as {hypothesis id: [entries in
    file order]}. A malformed entry raises ValueError naming its index and field."""
    path = Path(path) if path is not None else builtin_amendments_path()
    with open(path, encoding="utf-8") as f:
        try:
            entries = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of amendments, got {type(entries).__name__}")
    out: dict[str, list[dict]] = {}
    for i, entry in enumerate(entries):
        e = _check_amendment(i, entry, str(path))
        out.setdefault(e["id"], []).append(e)
    return out


def format_update(entry: Mapping) -> str:
    """One lock "updates" entry as a line or a few."""
    parts = [f"{k}: {', '.join(entry[k])}" for k in ("changed", "added", "removed") if entry.get(k)]
    return f"{entry['date']} {entry['reason']!r}\n  " + "\n  ".join(parts)


__all__ = ["SCHEMA", "UPDATE_HINT", "assert_frozen", "builtin_amendments_path", "builtin_lock_path", "check_lock", "declaration_hash",
           "declarations_hash", "register_round", "round_status", "empty_lock", "format_update", "load_amendments", "load_lock", "lock_diff", "update_lock", "write_lock"]
