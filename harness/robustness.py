"""Where a claim holds: a robustness map re-runs a claim's primary evidence hypothesis over a pre-declared grid.

A map is declared beside its claim (`Claim.maps`): the factors and their levels (learning rate as multiples
of each arm's tuned rate, depth, activation, batch size, the normalizer family), the primary's own level of
each (the base cell, whose evidence is the primary's), and the small slice of cells the ci profile runs.
The `survey` profile runs the full factorial grid (sized for a GPU or a cluster).

Each cell is a derived hypothesis, `C1.a@depth=2+lr=x10`: the same arms, metric, test, direction and
criteria with the cell's levels applied to every arm, exploratory (it never votes, and it is non-gating),
at the map's alpha, with no declared controls. The runner and the plugin treat it like any hypothesis; the
report gathers the cells of a map into one table: effect, interval and verdict per cell, Benjamini-Hochberg
across the cells, "holds in k of N cells", and per factor level where the effect keeps or flips its sign.

Usage (a claim module):
    MAP = RobustnessMap("C1.a", factors=(("lr", LR_FACTORS), ("depth", (2, 4, 8))),
                        base=(("lr", 1.0), ("depth", 4)), ci_slice=((("lr", 10.0),),))
    CLAIM = Claim(..., maps=(MAP,))
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

from harness.hypothesis import Budget

SEP = "@"
LR_FACTORS = (0.1, 0.316, 1.0, 3.16, 10.0)     # 5 log-spaced multiples (half decades) of each arm's tuned rate
DEPTHS = (2, 4, 8)
ACTIVATIONS = ("relu", "tanh", "sigmoid")
BATCH_SIZES = (16, 64, 256)
NORM_FAMILY = ("bn", "gn", "ln", "wn_mobn", "bn_pop")
FACTORS = ("lr", "depth", "activation", "batch_size", "norm")
# a routine's settings that a factor sets, where the routine has them
ROUTINE_KEYS = {"lr": ("lr", "lr_plain", "lr_affine"), "depth": ("depth",), "batch_size": ("batch_size",),
                "activation": ("activation",)}


class MapError(ValueError):
    """A malformed robustness map (raised when the claim pack is loaded)."""


@dataclass(frozen=True)
class RobustnessMap:
    hypothesis: str                  # the primary evidence hypothesis it re-runs
    factors: tuple                   # ((name, (level, ...)), ...): the survey grid, full factorial
    base: tuple                      # ((name, level), ...): the primary's own level of every factor
    ci_slice: tuple = ()             # cells the ci profile runs: each ((name, level), ...), levels off the base
    norm_arm: str | None = None      # the arm whose norm the "norm" factor replaces
    alpha: float = 0.01              # each cell's one-sided test, and the BH level across the cells
    slice_budget: Budget | None = None   # ci-slice cells (None: the primary's ci budget); survey: the ci budget
    note: str = ""

    def __post_init__(self):
        names = [f for f, _ in self.factors]
        where = f"robustness map of {self.hypothesis}"
        if len(set(names)) != len(names) or not names:
            raise MapError(f"{where}: factors must be distinct and non-empty, got {names}")
        for f in names:
            if f not in FACTORS:
                raise MapError(f"{where}: unknown factor {f!r}; choose from {', '.join(FACTORS)}")
        base = dict(self.base)
        if sorted(base) != sorted(names):
            raise MapError(f"{where}: base must give one level of every factor ({names}), got {sorted(base)}")
        levels = dict(self.factors)
        for f, v in base.items():
            if v not in levels[f]:
                raise MapError(f"{where}: base level {f}={v!r} is not among the levels {levels[f]}")
        for cell in self.ci_slice:
            for f, v in cell:
                if f not in levels or v not in levels[f] or v == base[f]:
                    raise MapError(f"{where}: ci-slice cell {cell} must set declared factors to non-base levels")
        if "norm" in levels and self.norm_arm is None:
            raise MapError(f"{where}: a norm factor needs norm_arm (the arm whose normalizer it replaces)")
        if not 0 < self.alpha < 1:
            raise MapError(f"{where}: alpha must be in (0, 1)")

    def grid(self) -> list[tuple]:
        """Every cell of the full factorial grid, as its levels off the base (the base cell is ())."""
        base = dict(self.base)
        out = []
        for combo in itertools.product(*[levels for _, levels in self.factors]):
            out.append(tuple((f, v) for (f, _), v in zip(self.factors, combo) if v != base[f]))
        return out

    def cells(self, profile: str) -> list[tuple]:
        """The cells a profile runs besides the base: survey the whole grid, the others the ci slice."""
        return [c for c in self.grid() if c] if profile == "survey" else [tuple(c) for c in self.ci_slice]

    def declaration(self) -> dict:
        return {"hypothesis": self.hypothesis, "factors": {f: list(v) for f, v in self.factors},
                "base": dict(self.base), "ci_slice": [dict(c) for c in self.ci_slice], "norm_arm": self.norm_arm,
                "alpha": self.alpha, "grid_cells": len(self.grid()),
                "slice_budget": dataclasses.asdict(self.slice_budget) if self.slice_budget else None,
                "note": self.note}


def level_label(factor: str, level) -> str:
    return f"lr=x{level:g}" if factor == "lr" else f"{factor}={level}"


def cell_id(hyp_id: str, cell: tuple) -> str:
    return hyp_id + SEP + "+".join(level_label(f, v) for f, v in cell)     # "," separates ids on the command line


def is_cell(hyp_id: str) -> bool:
    return SEP in hyp_id


# ---------------------------------------------------------------------------- cells as hypotheses
def _spec_for(spec, cell: dict, is_norm_arm: bool, lr_scale: bool):
    kw = {}
    if "lr" in cell and lr_scale:
        kw["lr"] = spec.lr * cell["lr"]
    if "depth" in cell:
        d = int(cell["depth"])
        kw["model_depth"] = d
        hidden = d - 1 if spec.model.arch == "dln" else d
        if spec.probe_layers:       # probed layers beyond the new depth are dropped (the last one kept)
            kw["probe_layers"] = tuple(i for i in spec.probe_layers if i < hidden) or (hidden - 1,)
    if "activation" in cell:
        kw["model_activation"] = cell["activation"]
    if "batch_size" in cell:
        kw["batch_size"] = int(cell["batch_size"])
    if "norm" in cell and is_norm_arm:
        kw["model_norm"] = cell["norm"]
    return spec.replace(**kw) if kw else spec


def _scale_metric(m, factor):
    if m is None or m.at_lr is None or factor == 1.0:
        return m
    return dataclasses.replace(m, at_lr=m.at_lr * factor)


def _arm_for(name, arm, cell: dict, rmap: RobustnessMap):
    if arm.constant is not None:
        return arm
    if arm.spec is not None:
        lrs = tuple(l * cell["lr"] for l in arm.lrs) if ("lr" in cell and arm.lrs) else arm.lrs
        spec = _spec_for(arm.spec, cell, name == rmap.norm_arm, lr_scale=not arm.lrs)
        return dataclasses.replace(arm, spec=spec, lrs=lrs)
    settings = dict(arm.settings)
    for f, v in cell.items():
        if f == "norm":
            continue
        keys = [k for k in ROUTINE_KEYS[f] if k in settings]
        if not keys:
            raise MapError(f"robustness map of {rmap.hypothesis}: factor {f!r} does not apply to arm {name!r} "
                           f"(routine {arm.routine!r} has none of the settings {ROUTINE_KEYS[f]})")
        for k in keys:
            settings[k] = settings[k] * v if f == "lr" else v
    return dataclasses.replace(arm, settings=settings)


def cell_hypothesis(hyp, rmap: RobustnessMap, cell: tuple, survey: bool = False):
    """The primary hypothesis with the cell's levels applied to every arm: exploratory, no controls. Its ci
    budget is the map's slice budget, except in the survey, which runs every cell at the primary's budgets."""
    d, c = hyp.design, dict(cell)
    lr = float(c.get("lr", 1.0))
    grid_arms = any(a.lrs for a in d.arms.values())
    arms = {name: _arm_for(name, a, c, rmap) for name, a in d.arms.items()}
    metric = d.metric
    if isinstance(metric, dict):
        metric = {k: _scale_metric(m, lr) for k, m in metric.items()}
    else:
        metric = _scale_metric(metric, lr)
    criteria = tuple(dataclasses.replace(cr, metric=_scale_metric(cr.metric, lr)) for cr in d.criteria)
    label = ", ".join(level_label(f, v) for f, v in cell)

    def extra(r, _hyp=hyp.id, _cell=c):
        return {"map_of": _hyp, "cell": dict(_cell),
                "lr": {a: (list(r.arms[a].lrs) if r.arms[a].lrs else getattr(r.arms[a].spec, "lr", None))
                       for a in r.arms if r.arms[a].spec is not None}}

    design = dataclasses.replace(d, arms=arms, metric=metric, criteria=criteria, controls=(), figures=None,
                                 extra=extra)
    budgets = dict(hyp.budgets)
    if rmap.slice_budget is not None and not survey:
        budgets.update(ci=rmap.slice_budget, full=rmap.slice_budget)
    notes = (f"Robustness-map cell of {hyp.id} ({label}); exploratory, non-gating, alpha {rmap.alpha:g}, BH across "
             f"the map's cells. Learning-rate levels multiply each arm's tuned rate"
             + (" (a grid arm's whole grid)" if grid_arms else "") + ".")
    return dataclasses.replace(hyp, id=cell_id(hyp.id, cell), title=f"{hyp.title} [{label}]", confirmatory=False,
                               alpha=rmap.alpha, group=f"{hyp.group or hyp.id}.map", budgets=budgets,
                               expect="reproduced", expect_reason="", notes=notes, design=design)


def map_hypotheses(claim, profile: str) -> list:
    """The cell hypotheses a profile runs, for every map of the claim (validated)."""
    from harness import routines
    from harness.design import validate
    by_id = {h.id: h for h in claim.hypotheses}
    out = []
    for rmap in getattr(claim, "maps", ()):
        if rmap.hypothesis not in by_id:
            raise MapError(f"claim {claim.id}: robustness map of unknown hypothesis {rmap.hypothesis!r}")
        for cell in rmap.cells(profile):
            h = cell_hypothesis(by_id[rmap.hypothesis], rmap, cell, survey=profile == "survey")
            validate(h, routines.ROUTINES)
            out.append(h)
    return out


# ---------------------------------------------------------------------------- the map in the report
def _status(verdict: str, q, alpha, q_opposite=None, eligible: bool = True) -> str:
    """holds / fails need the cell's verdict and its BH-adjusted p (in the direction of that verdict) at the map's
    alpha; a cell whose smallest attainable p cannot reach the threshold is "underpowered", not "unclear"."""
    if not eligible:
        return "underpowered"
    if verdict == "reproduced" and q is not None and q <= alpha:
        return "holds"
    if verdict == "not reproduced" and (q_opposite is None or q_opposite <= alpha):
        return "fails"
    return "unclear"


def _cell_floor(st: dict) -> float:
    """The smallest p the cell's test can give at its n (harness.stats.min_attainable_p); 0 where unknown."""
    from harness import stats
    if isinstance(st.get("min_attainable_p"), (int, float)):
        return float(st["min_attainable_p"])
    try:
        test = st.get("test")
        if test == "trend":
            groups = st.get("groups") or []
            return stats.min_attainable_p("trend", min(int(g["n"]) for g in groups), len(groups),
                                          paired=bool(st.get("paired")))
        n_x, n_y = st.get("n_x"), st.get("n_y")
        if test in ("wilcoxon", "signflip"):
            return stats.min_attainable_p(test, int(n_x))
        return stats.min_attainable_p(test, int(n_x), int(n_y))
    except (TypeError, ValueError, KeyError):
        return 0.0


def tarone_eligible(floors: list[float], alpha: float) -> list[bool]:
    """Tarone (1990): the smallest K such that at most K cells have a floor <= alpha / K; only those cells can
    reach the threshold, so only they enter the correction (the others cannot be rejected whatever the data)."""
    m = len(floors)
    for k in range(1, m + 1):
        if sum(f <= alpha / k for f in floors) <= k:
            return [f <= alpha / k for f in floors]
    return [True] * m


def build_map(decl: dict, records: dict) -> dict:
    """decl: RobustnessMap.declaration(); records: id -> evidence record. The cells that ran, BH across them,
    the summary and the main effects per factor level."""
    hid, alpha = decl["hypothesis"], decl["alpha"]
    base = decl["base"]
    cells, stats_of = [], []
    for rid, r in sorted(records.items()):
        if rid == hid:
            levels = {}
        elif (r.get("extra") or {}).get("map_of") == hid:
            levels = dict(r["extra"]["cell"])
        else:
            continue
        st = r.get("stats") or {}
        p = st.get("p")
        cells.append({"id": rid, "cell": levels, "levels": {f: levels.get(f, base[f]) for f in base},
                      "effect": st.get("effect"), "ci": st.get("ci"), "p": p if isinstance(p, (int, float)) else None,
                      "verdict": r.get("verdict"), "n": [st.get("n_x"), st.get("n_y")]})
        stats_of.append(st)
    from harness import stats       # scipy is slow to import; only reports need it
    for c, st in zip(cells, stats_of):
        po = st.get("p_opposite")
        c["p_opposite"] = po if isinstance(po, (int, float)) else None
        c["p_floor"] = _cell_floor(st)
    with_p = [c for c in cells if c["p"] is not None]
    for c, ok in zip(with_p, tarone_eligible([c["p_floor"] for c in with_p], alpha)):
        c["eligible"] = ok
    pool = [c for c in with_p if c["eligible"]]
    # "holds" is the pre-registered direction and "fails" the opposite one: each family of one-sided p is
    # BH-corrected at alpha over the same eligible cells (each word's false discovery rate is alpha)
    for key, qkey in (("p", "q_bh"), ("p_opposite", "q_bh_opposite")):
        rows = [c for c in pool if c[key] is not None]
        for c, q in zip(rows, stats.bh([c[key] for c in rows]) if rows else []):
            c[qkey] = float(q)
    for c in cells:
        c.setdefault("eligible", c["p"] is None)
        c.setdefault("q_bh", None)
        c.setdefault("q_bh_opposite", None)
        c["status"] = _status(c["verdict"], c["q_bh"], alpha, c["q_bh_opposite"], c["eligible"] or c["p"] is None)
    k = sum(c["status"] == "holds" for c in cells)
    base_eff = next((c["effect"] for c in cells if c["id"] == hid), None)
    sign0 = None if not isinstance(base_eff, (int, float)) else math.copysign(1, base_eff)
    effects = {}
    for f, levels in decl["factors"].items():
        rows = []
        for v in levels:
            mine = [c for c in cells if c["levels"][f] == v and isinstance(c["effect"], (int, float))]
            if not mine:
                continue
            eff = sorted(c["effect"] for c in mine)
            med = eff[len(eff) // 2] if len(eff) % 2 else 0.5 * (eff[len(eff) // 2 - 1] + eff[len(eff) // 2])
            rows.append({"level": v, "cells": len(mine), "holds": sum(c["status"] == "holds" for c in mine),
                         "median_effect": med,
                         "flips": sign0 is not None and med != 0 and math.copysign(1, med) != sign0})
        effects[f] = rows
    flips = [level_label(f, row["level"]) for f, rows in effects.items() for row in rows if row["flips"]]
    fails = [c for c in cells if c["status"] == "fails"]
    unclear = [c for c in cells if c["status"] == "unclear"]
    under = [c for c in cells if c["status"] == "underpowered"]
    words = (f"{hid} holds in {k} of {len(cells)} cells run (BH at {alpha:g} in each direction over the "
             f"{len(cells) - len(under)} cells whose n can reach it)")
    if fails:
        words += "; fails at " + "; ".join(_cell_words(c) for c in fails)
    if unclear:
        words += "; unclear at " + "; ".join(_cell_words(c) for c in unclear)
    if under:
        words += "; underpowered (n too small to reach the threshold) at " + "; ".join(_cell_words(c) for c in under)
    if flips:
        words += "; the effect's sign flips at " + ", ".join(flips)
    return {"hypothesis": hid, "alpha": alpha, "factors": decl["factors"], "base": base,
            "grid_cells": decl["grid_cells"], "cells": cells, "holds": k, "run": len(cells),
            "summary": f"holds in {k} of {len(cells) - len(under)} cells"
                       + (f" ({len(under)} underpowered)" if under else ""),
            "words": words, "main_effects": effects}


def _cell_words(c) -> str:
    return ", ".join(level_label(f, v) for f, v in c["cell"].items()) or "the base setting"
