"""Every registered claim, from the entry-point group "bnclaims.claims": bnclaims' own claims (the
"builtin" entry) and any third-party claim pack. Each entry point names a Claim, a list of Claims, or a
module with CLAIMS (a list) or CLAIM. Declarations are validated here, so bad input fails at collection.

    claims()               -> [Claim, ...] in id order, validated, cached
    find(["C1", "C3.a"])   -> the hypotheses of claim C1 and hypothesis C3.a
"""
from __future__ import annotations

import dataclasses
import functools
import types
from importlib.metadata import entry_points
from pathlib import Path

from bnclaims.harness.declare.design import DeclarationError
from bnclaims.harness.declare.validate import validate, validate_claim
from bnclaims.harness.declare.hypothesis import Claim, Hypothesis
from bnclaims.harness.stats.verdict import id_key

GROUP = "bnclaims.claims"
_FILES: dict[str, str] = {}      # claim id -> the source file of the module that declares it (module_file)


def _as_claims(obj, where: str) -> list[Claim]:
    if isinstance(obj, types.ModuleType):
        obj = getattr(obj, "CLAIMS", None) or ([obj.CLAIM] if hasattr(obj, "CLAIM") else None)
    if isinstance(obj, Claim):
        obj = [obj]
    if not isinstance(obj, (list, tuple)) or not all(isinstance(c, Claim) for c in obj):
        raise DeclarationError(f"claim pack {where}: expected a Claim, a list of Claims or a module with CLAIMS/"
                               f"CLAIM, got {type(obj).__name__}")
    return list(obj)


@dataclasses.dataclass(frozen=True)
class Pack:
    """What a claim pack hands the framework besides its claims: attributes of the package its entry point names
    (or of the package holding the module it names): LOCK and AMENDMENTS, paths; ROUND and KNOCKOUTS, module
    names; each None where not set."""
    name: str
    lock: Path | None = None
    amendments: Path | None = None
    round: str | None = None
    knockouts: str | None = None


def _read_pack(ep) -> Pack:
    """The Pack of one entry point: attributes of the named module if it is a package (bnclaims.claims:CLAIMS),
    else of the package holding it."""
    import importlib
    module = ep.value.split(":", 1)[0]
    try:
        home = importlib.import_module(module)
        if not hasattr(home, "__path__") and "." in module:
            home = importlib.import_module(module.rpartition(".")[0])
    except ImportError:
        return Pack(ep.name)
    get = lambda attr: getattr(home, attr, None)      # noqa: E731
    return Pack(ep.name, lock=Path(get("LOCK")) if get("LOCK") else None,
                amendments=Path(get("AMENDMENTS")) if get("AMENDMENTS") else None,
                round=get("ROUND"), knockouts=get("KNOCKOUTS"))


def installed_packs() -> list[Pack]:
    """Every installed pack's Pack, builtin first, then by name (one read of the entry points)."""
    eps = {e.name: e for e in entry_points(group=GROUP)}
    return [_read_pack(eps[n]) for n in sorted(eps, key=lambda n: (n != "builtin", n))]


def pack(name: str = "builtin") -> Pack:
    """The files and modules pack `name` declares (Pack with only the name where the pack is not installed)."""
    ep = next((e for e in entry_points(group=GROUP) if e.name == name), None)
    return Pack(name) if ep is None else _read_pack(ep)


def packs() -> list[str]:
    return sorted({e.name for e in entry_points(group=GROUP)}, key=lambda n: (n != "builtin", n))


@functools.lru_cache(maxsize=4)
def claims(only: tuple[str, ...] | None = None) -> tuple[Claim, ...]:
    """only: the claim packs (entry-point names) to read; None reads every installed pack."""
    from bnclaims.harness import routines

    found, seen = [], {}
    eps = sorted(entry_points(group=GROUP), key=lambda e: (e.name != "builtin", e.name))
    if only is not None:
        unknown = sorted(set(only) - {e.name for e in eps})
        if unknown:
            raise DeclarationError(f"unknown claim pack(s) {', '.join(unknown)}; installed: {', '.join(packs())}")
        eps = [e for e in eps if e.name in only]
    for ep in eps:
        where = f"{ep.name} ({ep.value})"
        try:
            loaded = ep.load()
        except DeclarationError:
            raise
        except Exception as e:
            raise DeclarationError(f"claim pack {where} failed to load: {type(e).__name__}: {e}") from e
        for c in _as_claims(loaded, where):
            _FILES[c.id] = _declaring_file(c, loaded, ep.module)
            for hid in [c.id] + [h.id for h in c.hypotheses]:
                if hid in seen:
                    raise DeclarationError(f"{hid}: duplicate id, declared by {seen[hid]} and by {where}")
                seen[hid] = where
            for h in c.hypotheses:
                if h.claim != c.id:
                    raise DeclarationError(f"{h.id}: claim: belongs to {h.claim!r} but is listed under {c.id!r}")
                validate(h, routines.ROUTINES)
            validate_claim(c)
            found.append(c)
    _validate_subclaims(found, seen, {h.id: h for c in found for h in c.hypotheses})
    return tuple(sorted(found, key=lambda c: id_key(c.id)))


def _declaring_file(claim: Claim, loaded, ep_module: str) -> str:
    """The claim's own module: the loaded module whose CLAIM is this claim (by id), else the module the entry
    point names."""
    import sys
    for mod in list(sys.modules.values()):
        c = getattr(mod, "CLAIM", None)
        if isinstance(c, Claim) and c.id == claim.id and getattr(mod, "__file__", None):
            return mod.__file__
    mod = loaded if isinstance(loaded, types.ModuleType) else sys.modules.get(ep_module)
    return getattr(mod, "__file__", None) or ""


def module_file(claim_id: str) -> str:
    """The source file of the module that declares this claim ("" if unknown): where its test items are filed."""
    return _FILES.get(claim_id, "")


def _validate_subclaims(found, seen, hyps) -> None:
    """Every sub-claim belongs to its claim, has a unique id and names hypotheses that exist (in any pack)."""
    ids: set = set()
    for c in found:
        for sc in c.subclaims:
            if sc.claim != c.id:
                raise DeclarationError(f"{sc.id}: sub-claim of {sc.claim!r} listed under {c.id!r}")
            if sc.id in ids or sc.id in seen:
                raise DeclarationError(f"{sc.id}: duplicate id (sub-claim)")
            ids.add(sc.id)
            unknown = [i for i in sc.ids() if i not in seen]
            if unknown:
                raise DeclarationError(f"{sc.id}: names unknown hypotheses {', '.join(unknown)}")
            for part, want in (("evidence", "evidence"), ("construct", "evidence"), ("identity", "identity")):
                bad = [i for i in getattr(sc, part) if hyps[i].role != want or (want == "evidence" and hyps[i].retired)]
                if bad:
                    raise DeclarationError(f"{sc.id}: {part} names {', '.join(bad)}, which "
                                           f"{'are not ' + want + ' checks' if want != 'evidence' else 'are not evidence (role, or retired)'}")


def all_hypotheses(only=None) -> list[Hypothesis]:
    return [h for c in claims(only) for h in c.hypotheses]


def matches(hyp: Hypothesis, sel: str) -> bool:
    """C1 selects the claim's hypotheses and map cells, C1.a the hypothesis (and C1.a.x), C1.a@ its map cells."""
    if "@" in hyp.id:
        return hyp.id == sel or hyp.claim == sel or (sel.endswith("@") and hyp.id.startswith(sel))
    return hyp.id == sel or hyp.id.startswith(sel + ".") or hyp.claim == sel


def find(ids: list[str], only=None) -> list[Hypothesis]:
    """Hypotheses selected by claim or hypothesis ids (C1 selects C1.a, C1.b, ...), in registry
    order, without repeats. Raises KeyError with the first id that matches nothing."""
    hyps = all_hypotheses(only)
    chosen: list[Hypothesis] = []
    for i in ids:
        # a map cell (C1.a@lr=x10) or all of a map (C1.a@) selects through its hypothesis: the plugin
        # builds the cells of the profile and tells an unknown cell of a known map at collection
        hits = [h for h in hyps if matches(h, i.split("@", 1)[0])] if "@" in i else [h for h in hyps if matches(h, i)]
        if not hits:
            raise KeyError(i)
        chosen += [h for h in hits if not any(h is c for c in chosen)]
    return chosen
