"""The evidence record one claim check produces, as JSON-safe builtins.

The record rides on the pytest report as a JSON string (so it crosses xdist workers) and is
written to report.json unchanged. Figures are data (specs), rendered later by harness.report.
No torch import at module level.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import math
import os
import platform
import sys
from collections.abc import Mapping

from bnclaims.harness.declare.vocabulary import VERDICTS

SCHEMA = 1
ENGINES = ("batched", "reference", "private", "analytic")   # private: a claim module's own small loop
EVIDENCE_VERDICTS = VERDICTS + ("smoke",)
FIGURE_KINDS = ("lines", "scatter", "bar")
REQUIRED_KEYS = ("schema", "id", "claim", "hypothesis", "profile", "seed_base", "arms", "stats",
                 "verdict", "engine", "figures", "extra", "env", "wall_s")


def to_builtin(obj, _path: str = "$"):
    """Recursively convert to JSON-safe builtins: numpy scalars/arrays -> numbers/lists,
    tuples -> lists, nan/inf -> None, dict keys -> str. Unknown types raise TypeError."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): to_builtin(v, f"{_path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_builtin(v, f"{_path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return [to_builtin(v, f"{_path}[]") for v in sorted(obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_builtin(dataclasses.asdict(obj), _path)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.ndarray):
            return to_builtin(obj.tolist(), _path)
        if isinstance(obj, np.generic):
            return to_builtin(obj.item(), _path)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return to_builtin(obj.detach().cpu().tolist(), _path)
    raise TypeError(f"cannot convert {type(obj).__name__} at {_path} to a JSON-safe value")


@functools.lru_cache(maxsize=2)
def _versions(import_torch: bool) -> dict:
    def version(name):
        mod = sys.modules.get(name)
        if mod is None:
            try:
                from importlib.metadata import version as dist_version
                return dist_version(name)
            except Exception:
                return None
        return str(getattr(mod, "__version__", None))

    if import_torch and "torch" not in sys.modules:
        try:
            if importlib.util.find_spec("torch") is not None:
                importlib.import_module("torch")
        except Exception:
            pass
    return {"python": platform.python_version(), "platform": platform.platform(),
            "numpy": version("numpy"), "scipy": version("scipy"), "torch": version("torch")}


def environment(*, import_torch: bool = True) -> dict:
    """Versions, torch thread count and device. Never fails; missing pieces are None.

    With import_torch=False (the pytest controller) torch is not imported: its version comes
    from package metadata and the thread count is None unless torch is already loaded.
    """
    try:
        env = dict(_versions(import_torch))
    except Exception:
        env = {"python": platform.python_version(), "platform": None, "numpy": None,
               "scipy": None, "torch": None}
    threads = None
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            threads = int(torch.get_num_threads())
        except Exception:
            pass
    env["torch_threads"] = threads
    eng = sys.modules.get("bnclaims.harness.engine")          # the batched engine's device (BNCLAIMS_DEVICE)
    env["device"] = getattr(eng, "DEVICE", None) or os.environ.get("BNCLAIMS_DEVICE", "cpu")
    return env


# ---- figure specs (data; harness.report renders them) ----------------------------------------

def series(label: str, x, y, lo=None, hi=None) -> dict:
    """One line/scatter/bar series; lo/hi is an optional seed band of the same length as y."""
    return {"label": str(label), "x": to_builtin(list(x)), "y": to_builtin(list(y)),
            "lo": None if lo is None else to_builtin(list(lo)),
            "hi": None if hi is None else to_builtin(list(hi))}


def figure(id: str, title: str, series_list, *, xlabel: str = "", ylabel: str = "",
           kind: str = "lines", logy: bool = False) -> dict:
    spec = {"id": id, "title": title, "xlabel": xlabel, "ylabel": ylabel, "kind": kind,
            "logy": bool(logy), "series": list(series_list)}
    validate_figure(spec)
    return spec


def panels(id: str, title: str, specs) -> dict:
    """Side-by-side figure made of several single-axes specs."""
    spec = {"id": id, "title": title, "panels": list(specs)}
    validate_figure(spec)
    return spec


def validate_figure(spec, _where: str = "figure") -> None:
    if not isinstance(spec, dict):
        raise ValueError(f"{_where}: a figure spec must be a dict, got {type(spec).__name__}")
    fid = spec.get("id")
    if not isinstance(fid, str) or not fid:
        raise ValueError(f"{_where}: figure spec needs a non-empty string 'id'")
    where = f"{_where} {fid!r}"
    if "panels" in spec:
        if not isinstance(spec["panels"], list) or not spec["panels"]:
            raise ValueError(f"{where}: 'panels' must be a non-empty list of figure specs")
        for i, p in enumerate(spec["panels"]):
            if "panels" in p:
                raise ValueError(f"{where}: panels cannot be nested")
            validate_figure(p, f"{where} panel {i}")
        return
    if spec.get("kind", "lines") not in FIGURE_KINDS:
        raise ValueError(f"{where}: kind must be one of {FIGURE_KINDS}, got {spec.get('kind')!r}")
    ser = spec.get("series")
    if not isinstance(ser, list):
        raise ValueError(f"{where}: 'series' must be a list")
    for s in ser:
        if not isinstance(s, dict) or not {"label", "x", "y"} <= s.keys():
            raise ValueError(f"{where}: each series needs 'label', 'x' and 'y'")
        n = len(s["y"])
        if len(s["x"]) != n:
            raise ValueError(f"{where}: series {s['label']!r} has {len(s['x'])} x but {n} y values")
        for band in ("lo", "hi"):
            if s.get(band) is not None and len(s[band]) != n:
                raise ValueError(f"{where}: series {s['label']!r} {band} band has the wrong length")


# ---- the record ------------------------------------------------------------------------------

def _arm(name: str, arm) -> dict:
    if not isinstance(arm, Mapping) or "seeds" not in arm or "values" not in arm:
        raise ValueError(f"arm {name!r}: needs at least 'seeds' and 'values'")
    seeds = to_builtin(list(arm["seeds"]))
    values = to_builtin(list(arm["values"]))
    diverged = arm.get("diverged")
    diverged = [None] * len(seeds) if diverged is None else to_builtin(list(diverged))
    return {"seeds": seeds, "values": values, "spec": to_builtin(dict(arm.get("spec") or {})),
            "spec_hash": str(arm.get("spec_hash") or ""), "diverged": diverged}


def make_evidence(hyp, claim, ctx, *, arms: dict, stats: dict, engine: str, figures=(),
                  extra=None, wall_s=None, env: dict | None = None) -> dict:
    """Build the JSON-safe evidence record of one hypothesis check.

    arms: {arm: {"seeds", "values", "spec"?, "spec_hash"?, "diverged"?}}; stats: the flat dict of
    harness.stats.compare. Under the smoke profile the verdict is "smoke" whatever stats says.
    env: a precomputed environment() (default: computed here; torch is not imported for it, so a check that
    used no torch records torch_threads None).
    """
    if hyp.claim != claim.id:
        raise ValueError(f"{hyp.id}: hypothesis belongs to claim {hyp.claim!r}, not {claim.id!r}")
    if not isinstance(stats, Mapping):
        raise ValueError(f"{hyp.id}: stats must be a dict (harness.stats.compare output)")
    stats = to_builtin(dict(stats))
    verdict = "smoke" if ctx.profile == "smoke" else stats.get("verdict")
    ev = {
        "schema": SCHEMA,
        "id": hyp.id,
        "claim": to_builtin(claim.summary()),
        "hypothesis": to_builtin(hyp.declaration()),
        "profile": ctx.profile,
        "seed_base": int(ctx.seed_base),
        "arms": {str(k): _arm(k, v) for k, v in arms.items()},
        "stats": stats,
        "verdict": verdict,
        "engine": engine,
        "figures": to_builtin(list(figures)),
        "extra": to_builtin(dict(extra or {})),
        "env": to_builtin(environment(import_torch=False) if env is None else dict(env)),
        "wall_s": None if wall_s is None else to_builtin(float(wall_s)),
    }
    validate_evidence(ev)
    return ev


def validate_evidence(ev) -> None:
    """Raise ValueError unless ev is a complete, JSON-safe evidence record."""
    import json

    if not isinstance(ev, dict):
        raise ValueError(f"evidence must be a dict, got {type(ev).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in ev]
    hid = ev.get("id", "?")
    if missing:
        raise ValueError(f"evidence {hid}: missing keys {', '.join(missing)}")
    if ev["schema"] != SCHEMA:
        raise ValueError(f"evidence {hid}: schema {ev['schema']!r}, expected {SCHEMA}")
    if ev["verdict"] not in EVIDENCE_VERDICTS:
        raise ValueError(f"evidence {hid}: verdict must be one of {EVIDENCE_VERDICTS}, got {ev['verdict']!r}")
    if ev["profile"] == "smoke" and ev["verdict"] != "smoke":
        raise ValueError(f"evidence {hid}: a smoke run carries verdict 'smoke', got {ev['verdict']!r}")
    if ev["profile"] != "smoke" and ev["stats"].get("verdict") != ev["verdict"]:
        raise ValueError(f"evidence {hid}: verdict {ev['verdict']!r} differs from stats verdict "
                         f"{ev['stats'].get('verdict')!r}")
    if ev["engine"] not in ENGINES:
        raise ValueError(f"evidence {hid}: engine must be one of {ENGINES}, got {ev['engine']!r}")
    for key in ("claim", "hypothesis", "arms", "stats", "extra", "env"):
        if not isinstance(ev[key], dict):
            raise ValueError(f"evidence {hid}: {key!r} must be a dict")
    if ev["hypothesis"].get("id") != hid:
        raise ValueError(f"evidence {hid}: hypothesis declaration is for {ev['hypothesis'].get('id')!r}")
    for name, arm in ev["arms"].items():
        for k in ("seeds", "values", "spec", "spec_hash", "diverged"):
            if k not in arm:
                raise ValueError(f"evidence {hid}: arm {name!r} lacks {k!r}")
        if not (len(arm["seeds"]) == len(arm["values"]) == len(arm["diverged"])):
            raise ValueError(f"evidence {hid}: arm {name!r} needs one value and one diverged entry per seed "
                             f"({len(arm['seeds'])} seeds, {len(arm['values'])} values, "
                             f"{len(arm['diverged'])} diverged)")
    if not isinstance(ev["figures"], list):
        raise ValueError(f"evidence {hid}: 'figures' must be a list")
    for spec in ev["figures"]:
        validate_figure(spec, f"evidence {hid} figure")
    if ev["wall_s"] is not None and not isinstance(ev["wall_s"], (int, float)):
        raise ValueError(f"evidence {hid}: wall_s must be a number or None")
    try:
        json.dumps(ev, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"evidence {hid}: not JSON-safe ({e}); build it with make_evidence/to_builtin") from None


# ---- plain-text rendering (pytest failure messages, terminal summary) -----------------------

def fmt_num(x, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def fmt_ci(ci, digits: int = 4) -> str:
    if not ci or len(ci) != 2:
        return "—"
    return f"[{fmt_num(ci[0], digits)}, {fmt_num(ci[1], digits)}]"


def fmt_seeds(seeds) -> str:
    if not seeds:
        return "none"
    if all(isinstance(s, int) for s in seeds) and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    shown = ", ".join(str(s) for s in seeds[:8])
    return shown + (", ..." if len(seeds) > 8 else "")


def arm_roles(ev: dict) -> list[tuple[str, str | None]]:
    """(arm name, "x"/"y"/None): x and y are the hypothesis's first two arms, whatever the key order
    (evidence travels as JSON with sorted keys, so arm order in the dict carries no meaning)."""
    declared = list(ev.get("hypothesis", {}).get("arms") or [])
    role = {name: r for name, r in zip(declared[:2], ("x", "y"))}
    names = [n for n in declared if n in ev["arms"]] + [n for n in ev["arms"] if n not in declared]
    return [(n, role.get(n)) for n in names]


def arm_counts(ev: dict) -> str:
    """n per arm as 'a=8, b=7': the n the test used (stats n_x, n_y), else the non-missing values."""
    parts = []
    for name, role in arm_roles(ev):
        arm = ev["arms"][name]
        n = ev["stats"].get(f"n_{role}") if role else None
        if not isinstance(n, int) or isinstance(n, bool):
            n = sum(v is not None for v in arm["values"])
        parts.append(f"{name}={n}")
    return ", ".join(parts) or "—"


def evidence_table(ev: dict) -> str:
    """Readable multi-line summary of one evidence record, for failure messages."""
    h, st = ev["hypothesis"], ev["stats"]
    lines = [
        f"{ev['id']}  {h.get('title', '')}",
        f"  statement : {h.get('statement', '')}",
        f"  source    : {h.get('source', '')}",
        f"  metric    : {h.get('metric', '')}",
        f"  expected  : {h.get('expect')}   measured: {ev['verdict']}",
        f"  reason    : {st.get('reason', '—')}",
        f"  test      : {st.get('test', h.get('test'))} ({st.get('direction', h.get('direction'))}), "
        f"alpha {fmt_num(st.get('alpha', h.get('alpha')))}, profile {ev['profile']}, "
        f"seed base {ev['seed_base']}, engine {ev['engine']}",
    ]
    roles = arm_roles(ev)
    width = max([len("arm")] + [len(n) for n, _ in roles])
    lines.append(f"  {'arm':<{width}}  {'n':>4}  {'mean':>11}  {'sd':>11}  {'diverged':>8}  seeds")
    for name, role in roles:
        arm = ev["arms"][name]
        vals = [v for v in arm["values"] if isinstance(v, (int, float))]
        mean = st.get(f"mean_{role}") if role else None
        sd = st.get(f"sd_{role}") if role else None
        if mean is None and vals:
            mean = sum(vals) / len(vals)
        ndiv = sum(d is not None for d in arm["diverged"])
        lines.append(f"  {name:<{width}}  {len(vals):>4}  {fmt_num(mean):>11}  {fmt_num(sd):>11}  "
                     f"{ndiv:>8}  {fmt_seeds(arm['seeds'])}")
    lines.append(f"  effect {fmt_num(st.get('effect'))} 95% CI {fmt_ci(st.get('ci'))}   "
                 f"ratio {fmt_num(st.get('ratio'))} {fmt_ci(st.get('ratio_ci'))}   "
                 f"g {fmt_num(st.get('hedges_g'))}   P(X>Y) {fmt_num(st.get('p_superiority'))}")
    lines.append(f"  p {fmt_num(st.get('p'))}   p(opposite) {fmt_num(st.get('p_opposite'))}")
    return "\n".join(lines)
