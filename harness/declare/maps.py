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
import json
import math
from dataclasses import dataclass

from bnclaims.harness.declare.hypothesis import Budget

SEP = "@"
LR_FACTORS = (0.1, 0.316, 1.0, 3.16, 10.0)     # 5 log-spaced multiples (half decades) of each arm's tuned rate
DEPTHS = (2, 4, 8)
ACTIVATIONS = ("relu", "tanh", "sigmoid")
BATCH_SIZES = (16, 64, 256)
NORM_FAMILY = ("bn", "gn", "ln", "wn_mobn", "bn_pop")
FACTORS = ("lr", "depth", "activation", "batch_size", "norm", "budget")
BUDGET_LEVELS = ("ci", "full")       # the "budget" factor: the training budget (steps, and the arms' by_profile
                                     # settings such as width) of that profile, on the cell's own seeds
DESIGNS = ("full", "covering")
SURVEY = {"design": "covering", "holdout": 6, "null_cells": 4}     # the survey's designed maps (issue 27)
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
    design: str = "full"             # the survey's cells: "full" factorial, or "covering": a strength-2 covering
                                     # design (every pair of levels of every two factors in some cell), from which
                                     # a model of the effect predicts the whole grid (harness.stats.mapmodel)
    min_cells: int = 0               # covering: pad the design to this many cells (more df for the model)
    holdout: int = 0                 # covering: cells outside the design run to validate the model's predictions
    null_cells: int = 0              # design cells that also run their A/A control (both arms the control arm, on
                                     # disjoint seeds): the map's own false-positive rate
    design_seed: int = 0             # seeds the greedy choices of the design and of the held-out cells
    survey_budget: Budget | None = None  # the survey cells' ci budget (None: the primary's), e.g. fewer steps
                                         # where the measure reads only the first ones; budget=full keeps the
                                         # full profile's steps

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
        if "budget" in levels and any(v not in BUDGET_LEVELS for v in levels["budget"]):
            raise MapError(f"{where}: budget levels must be among {', '.join(BUDGET_LEVELS)}, got {levels['budget']}")
        if self.design not in DESIGNS:
            raise MapError(f"{where}: unknown design {self.design!r}; choose one of {', '.join(DESIGNS)}")
        for name in ("min_cells", "holdout", "null_cells", "design_seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise MapError(f"{where}: {name} must be an int >= 0, got {v!r}")
        if self.design == "full" and (self.min_cells or self.holdout):
            raise MapError(f"{where}: min_cells and holdout need design='covering'")

    def grid(self) -> list[tuple]:
        """Every cell of the full factorial grid, as its levels off the base (the base cell is ())."""
        base = dict(self.base)
        out = []
        for combo in itertools.product(*[levels for _, levels in self.factors]):
            out.append(tuple((f, v) for (f, _), v in zip(self.factors, combo) if v != base[f]))
        return out

    def _off_base(self, cell: dict) -> tuple:
        base = dict(self.base)
        return tuple((f, cell[f]) for f, _ in self.factors if cell[f] != base[f])

    def design_cells(self) -> list[tuple]:
        """The survey's designed cells (the base first, as ()): the whole grid, or the covering design."""
        if self.design == "full":
            return self.grid()
        from bnclaims.harness.stats import mapmodel
        return [self._off_base(c) for c in mapmodel.covering_design(self.factors, dict(self.base), self.design_seed,
                                                                    self.min_cells)]

    def holdout_cells(self) -> list[tuple]:
        """Cells outside the design, run to test the model's predictions (covering designs only)."""
        if self.design == "full" or not self.holdout:
            return []
        from bnclaims.harness.stats import mapmodel
        base = dict(self.base)
        design = [{**base, **dict(c)} for c in self.design_cells()]
        return [self._off_base(c) for c in mapmodel.holdout_cells(self.factors, design, self.holdout,
                                                                  self.design_seed)]

    def null_cell_set(self) -> list[tuple]:
        """The design cells (never the base, whose A/A is the primary's) that also run their A/A control: spread
        evenly over the design's order."""
        cells = [c for c in self.design_cells() if c]
        k = min(self.null_cells, len(cells))
        return [cells[(i * len(cells)) // k] for i in range(k)] if k else []

    def cells(self, profile: str) -> list[tuple]:
        """The cells a profile runs besides the base: survey the designed cells and the held-out ones, the others
        the ci slice."""
        if profile == "survey":
            return [c for c in self.design_cells() if c] + self.holdout_cells()
        return [tuple(c) for c in self.ci_slice]

    def declaration(self) -> dict:
        out = {"hypothesis": self.hypothesis, "factors": {f: list(v) for f, v in self.factors},
               "base": dict(self.base), "ci_slice": [dict(c) for c in self.ci_slice], "norm_arm": self.norm_arm,
               "alpha": self.alpha, "grid_cells": len(self.grid()),
               "slice_budget": dataclasses.asdict(self.slice_budget) if self.slice_budget else None,
               "note": self.note}
        if self.survey_budget is not None:
            out["survey_budget"] = dataclasses.asdict(self.survey_budget)
        if self.design != "full" or self.null_cells:        # only then: a full map declared before keeps its hash
            out["design"] = {"kind": self.design, "min_cells": self.min_cells, "holdout": self.holdout,
                             "null_cells": self.null_cells, "seed": self.design_seed,
                             "cells": [dict(c) for c in self.design_cells()],
                             "holdout_cells": [dict(c) for c in self.holdout_cells()],
                             "null": [dict(c) for c in self.null_cell_set()]}
        return out


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


def _with_budget_of(arm, profile: str):
    """The arm with the named profile's by_profile settings made its ci settings (the budget factor)."""
    over = dict(arm.by_profile.get(profile, {}))
    return dataclasses.replace(arm, by_profile={**dict(arm.by_profile), "ci": over}) if over else arm


def cell_hypothesis(hyp, rmap: RobustnessMap, cell: tuple, survey: bool = False):
    """The primary hypothesis with the cell's levels applied to every arm: exploratory, no controls. Its ci
    budget is the map's slice budget, except in the survey, which runs every cell at the primary's budgets.
    A budget level trains at that profile's steps (and by_profile settings) on the cell's ci seeds."""
    d, c = hyp.design, dict(cell)
    budget_level = c.pop("budget", "ci")
    lr = float(c.get("lr", 1.0))
    grid_arms = any(a.lrs for a in d.arms.values())
    arms = {name: _arm_for(name, a, c, rmap) for name, a in d.arms.items()}
    if budget_level != "ci":
        arms = {name: _with_budget_of(a, budget_level) for name, a in arms.items()}
    metric = d.metric
    if isinstance(metric, dict):
        metric = {k: _scale_metric(m, lr) for k, m in metric.items()}
    else:
        metric = _scale_metric(metric, lr)
    criteria = tuple(dataclasses.replace(cr, metric=_scale_metric(cr.metric, lr)) for cr in d.criteria)
    label = ", ".join(level_label(f, v) for f, v in cell)

    def extra(r, _hyp=hyp.id, _cell=dict(cell)):
        return {"map_of": _hyp, "cell": dict(_cell),
                "lr": {a: (list(r.arms[a].lrs) if r.arms[a].lrs else getattr(r.arms[a].spec, "lr", None))
                       for a in r.arms if r.arms[a].spec is not None}}

    design = dataclasses.replace(d, arms=arms, metric=metric, criteria=criteria, controls=(), figures=None,
                                 extra=extra)
    budgets = dict(hyp.budgets)
    if rmap.slice_budget is not None and not survey:
        budgets.update(ci=rmap.slice_budget, full=rmap.slice_budget)
    if rmap.survey_budget is not None and survey:
        budgets.update(ci=rmap.survey_budget)
    if budget_level != "ci":
        steps = hyp.budget(budget_level).steps
        budgets.update(ci=Budget(seeds=budgets["ci"].seeds, steps=steps),
                       full=Budget(seeds=budgets["full"].seeds, steps=steps))
    notes = (f"Robustness-map cell of {hyp.id} ({label}); exploratory, non-gating, alpha {rmap.alpha:g}, BH across "
             f"the map's cells. Learning-rate levels multiply each arm's tuned rate"
             + (" (a grid arm's whole grid)" if grid_arms else "") + ".")
    return dataclasses.replace(hyp, id=cell_id(hyp.id, cell), title=f"{hyp.title} [{label}]", confirmatory=False,
                               alpha=rmap.alpha, group=f"{hyp.group or hyp.id}.map", budgets=budgets,
                               expect="reproduced", expect_reason="", notes=notes, design=design)


def map_hypotheses(claim, profile: str) -> list:
    """The cell hypotheses a profile runs, for every map of the claim (validated)."""
    from bnclaims.harness import routines
    from bnclaims.harness.declare.validate import validate
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


def null_cell_ids(claim, profile: str) -> set:
    """Ids of the map cells a profile runs whose A/A control runs too (the survey's null cells)."""
    if profile != "survey":
        return set()
    return {cell_id(m.hypothesis, c) for m in getattr(claim, "maps", ()) for c in m.null_cell_set()}


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
    """The smallest p the cell's test can give at its n (stats.floors.min_attainable_p); 0 where unknown."""
    from bnclaims.harness.stats import floors as stats
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


def standardized(st: dict) -> tuple[float, float] | None:
    """(d, its standard error) of a cell: the effect over the per-seed SD implied by its interval, d = effect /
    (se sqrt(n)) with se = CI width / (2 z), and se(d) = sqrt(1/n + d^2 / (2n)) (as for Cohen's d_z). The same
    for every test, so cells of any size and scale enter one model. None without effect, interval or n."""
    if st.get("undefined"):                         # seeds lost to divergence: the effect is of a selection
        return None
    eff, ci, n = st.get("effect"), st.get("ci"), st.get("n_x")
    if n is None and st.get("groups"):              # a trend test: the smallest group's n
        n = min((g.get("n") for g in st["groups"] if isinstance(g.get("n"), int)), default=None)
    if not (isinstance(eff, (int, float)) and isinstance(ci, (list, tuple)) and len(ci) == 2
            and all(isinstance(x, (int, float)) and math.isfinite(x) for x in ci) and isinstance(n, int) and n > 1
            and math.isfinite(eff)):
        return None
    level = st.get("ci_level") or 0.95
    from scipy.stats import norm
    se = (ci[1] - ci[0]) / (2 * norm.ppf(0.5 + level / 2))
    if not se > 0:
        return None
    d = eff / (se * math.sqrt(n))
    return d, math.sqrt(1 / n + d * d / (2 * n))


MODEL_DIRECTIONS = {"less": "less", "decreasing": "less", "greater": "greater", "increasing": "greater"}


def map_model(decl: dict, cells: list[dict], direction: str | None, null_controls=()) -> dict | None:
    """The fitted model of a designed map (harness.stats.mapmodel): main effects and the two-factor interactions the
    design can estimate, on the standardized effect, weighted by each cell's precision; its predictions over
    the whole grid (holds / fails / unknown: the 95% interval wholly on the claimed side of zero, wholly on the
    other, or neither); the sign hit rate on the held-out cells; the two most important factors' surface for the
    heat map; and the map's own false-positive rate from its null cells. None for a full-factorial map, a
    direction without a sign (equivalence) or too few cells."""
    d = decl.get("design")
    if not d or d.get("kind") != "covering" or direction not in MODEL_DIRECTIONS:
        return None
    from bnclaims.harness.stats import mapmodel
    factors = [(f, tuple(v)) for f, v in decl["factors"].items()]
    base = dict(decl["base"])
    def key(levels: dict) -> tuple:       # by levels, not by id: a report read back has its keys sorted
        return tuple(sorted((f, json.dumps(v)) for f, v in levels.items()))

    held_levels = {key({**base, **dict(c)}) for c in d.get("holdout_cells") or []}
    held = {c["id"] for c in cells if key(c["levels"]) in held_levels}
    fit_rows, test_rows = [], []
    for c in cells:
        z = c.get("d")
        if z is None:
            continue
        (test_rows if c["id"] in held else fit_rows).append(c)
    out = {"design_cells": len(d.get("cells") or []), "holdout_cells": len(held), "grid_cells": decl["grid_cells"],
           "fitted_on": len(fit_rows), "direction": MODEL_DIRECTIONS[direction], "scale": "standardized effect d"}
    try:
        model = mapmodel.select([c["levels"] for c in fit_rows], [c["d"] for c in fit_rows],
                                [c["d_se"] for c in fit_rows], factors, base)
    except ValueError as e:
        out["error"] = str(e)
        return out
    side = MODEL_DIRECTIONS[direction]
    out["fit"] = {k: model[k] for k in ("df", "phi", "chi2", "dropped_main", "pairs", "selection") if k in model}
    out["terms"] = [{"term": name, "coef": coef, "se": se}
                    for name, coef, se in zip(model["names"], model["coef"], model["se"])]
    out["counts"] = mapmodel.summarize(model, side)
    out["importance"] = [{"factor": f, "range": r} for f, r in mapmodel.importance(model)]
    top = [x["factor"] for x in out["importance"][:2]]
    if len(top) == 2:
        surf = mapmodel.surface(model, top[0], top[1], direction=side)
        surf["factors"] = top
        surf["run"] = [{"levels": c["levels"], "status": c["status"], "held_out": c["id"] in held,
                        "at_base_elsewhere": all(c["levels"][f] == base[f] for f in base if f not in top)}
                       for c in cells]
        out["surface"] = surf
    if test_rows:
        pred = mapmodel.predict(model, [c["levels"] for c in test_rows])
        out["holdout"] = mapmodel.sign_hit_rate([p["mean"] for p in pred], [c["d"] for c in test_rows])
        out["holdout"]["cells"] = [{"id": c["id"], "predicted": p["mean"], "observed": c["d"]}
                                   for c, p in zip(test_rows, pred)]
    nulls = [c for c in null_controls if c.get("control") == "aa"]
    if nulls:
        from scipy.stats import binomtest
        k = sum(c.get("verdict") == "reproduced" for c in nulls)
        ci = binomtest(k, len(nulls)).proportion_ci(method="exact")
        out["null_cells"] = {"run": len(nulls), "reproduced": k, "rate": k / len(nulls),
                             "ci": [float(ci.low), float(ci.high)], "alpha": decl["alpha"]}
    out["words"] = (f"model over the {decl['grid_cells']}-cell grid from {len(fit_rows)} designed cells: holds in "
                    f"{out['counts']['holds']}, fails in {out['counts']['fails']}, unknown in "
                    f"{out['counts']['unknown']}"
                    + (f"; held-out sign hit rate {out['holdout']['hits']} of {out['holdout']['n']}"
                       if test_rows and out["holdout"].get("n") else "")
                    + (f"; null cells reproduced {out['null_cells']['reproduced']} of {out['null_cells']['run']}"
                       if nulls else ""))
    return out


def build_map(decl: dict, records: dict, null_controls=()) -> dict:
    """decl: RobustnessMap.declaration(); records: id -> evidence record; null_controls: the control records
    of its cells (the null cells' A/A). The cells that ran, BH across them, the summary, the main effects per
    factor level, and for a designed (covering) map the fitted model (map_model)."""
    hid, alpha = decl["hypothesis"], decl["alpha"]
    base = decl["base"]
    cells, stats_of, direction = [], [], None
    for rid, r in sorted(records.items()):
        if rid == hid:
            levels = {}
        elif (r.get("extra") or {}).get("map_of") == hid:
            levels = dict(r["extra"]["cell"])
        else:
            continue
        st = r.get("stats") or {}
        p = st.get("p")
        z = standardized(st)
        cells.append({"id": rid, "cell": levels, "levels": {f: levels.get(f, base[f]) for f in base},
                      "effect": st.get("effect"), "ci": st.get("ci"), "p": p if isinstance(p, (int, float)) else None,
                      "verdict": r.get("verdict"), "n": [st.get("n_x"), st.get("n_y")],
                      "d": None if z is None else z[0], "d_se": None if z is None else z[1]})
        stats_of.append(st)
        direction = direction or (r.get("hypothesis") or {}).get("direction")
    from bnclaims.harness.stats import multiplicity as stats  # scipy is slow to import; only reports need it
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
    out = {"hypothesis": hid, "alpha": alpha, "factors": decl["factors"], "base": base,
           "grid_cells": decl["grid_cells"], "cells": cells, "holds": k, "run": len(cells),
           "summary": f"holds in {k} of {len(cells) - len(under)} cells"
                      + (f" ({len(under)} underpowered)" if under else ""),
           "words": words, "main_effects": effects}
    ids = {x["id"] for x in cells}
    model = map_model(decl, cells, direction, [c for c in null_controls if c.get("id") in ids])
    if model is not None:
        out["model"] = model
        out["words"] = f"{words}; {model['words']}" if "words" in model else words
    return out


def _cell_words(c) -> str:
    return ", ".join(level_label(f, v) for f, v in c["cell"].items()) or "the base setting"
