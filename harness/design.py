"""Claims as data: what a hypothesis runs (arms), how each run becomes one number per seed (a named
reduction), the pre-declared criteria, and the negative controls, all declared before anything runs.

harness.runner executes any Design; claim modules hold Designs, reductions and figures only.
No torch import here: the pytest plugin validates declarations at collection time.

    @reduction("C2.final_loss")
    def final_loss(arrays): return arrays["eval_train_loss"][-1]          # [K]: one value per seed

    Design(arms={"bn": Arm(spec_bn), "none": Arm(spec_none)}, metric=Metric("C2.final_loss"),
           controls=(Control("control", arms={"bn": "none"}),))
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.hypothesis import PROFILES

# ---------------------------------------------------------------------------------- registries
REDUCTIONS: dict[str, Callable] = {}     # name -> fn(arrays, **params) -> np.ndarray [K]
ERRORS: dict[str, Callable] = {}         # name -> fn(arrays_by_arm, **params) -> {case: error} or (errors, tol)


class DeclarationError(ValueError):
    """A malformed declaration; the message names the hypothesis and the field."""


def _register(table: dict, kind: str, name: str):
    def deco(fn):
        if name in table and table[name] is not fn and _qualname(table[name]) != _qualname(fn):
            raise DeclarationError(f"{kind} {name!r} is registered twice ({_qualname(table[name])} and "
                                   f"{_qualname(fn)})")
        table[name] = fn
        return fn
    return deco


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


def reduction(name: str):
    """Register fn(arrays, **params) -> [K] (one number per seed) under `name`, e.g. "C2.auc".
    For a learning-rate-grid arm read whole (no at_lr/select), arrays is {lr: arrays}."""
    return _register(REDUCTIONS, "reduction", name)


def errors(name: str):
    """Register a deterministic check's fn(arrays_by_arm, **params) -> {case: error} or (errors, tolerances)."""
    return _register(ERRORS, "error function", name)


# ---------------------------------------------------------------------------------- declarations
ROUTINE_ENGINES = ("private", "analytic")
TESTS_DECLARABLE = ("welch", "mannwhitney", "wilcoxon", "signflip", "tost", "trend", "deterministic")


@dataclass(frozen=True)
class Arm:
    """One arm: a frozen TrainSpec for the standard engine, a registered routine with its settings, or a
    fixed comparator (the same constant for every seed: zero, chance)."""
    spec: object = None                  # harness.spec.TrainSpec
    routine: str | None = None           # harness.routines name
    settings: Mapping = field(default_factory=dict)   # the routine's settings (JSON-safe)
    lrs: tuple = ()                      # learning-rate grid: one ensemble over lrs x seeds
    constant: float | None = None        # fixed comparator
    by_profile: Mapping = field(default_factory=dict)  # profile -> spec.replace(**kw) or settings update
    budget: bool = True                  # take the profile's step budget (spec.steps / settings["steps"])
    engine: str = "batched"              # batched | reference (spec arms)

    def kind(self) -> str:
        return "constant" if self.constant is not None else "routine" if self.routine else "spec"


@dataclass(frozen=True)
class Metric:
    """A named reduction with its parameters. For a grid arm: at_lr reads one rate; select picks the rate
    whose seed-mean of that reduction is lowest (first on ties); neither hands the reduction the whole grid."""
    name: str
    params: Mapping = field(default_factory=dict)
    at_lr: float | None = None
    select: str | None = None


@dataclass(frozen=True)
class Criterion:
    """A pre-declared condition besides the test. stat over one arm's values ("mean", or "each" seed),
    compared with `value` by op ("<", ">", "<=", ">=", "within" (|stat - value| < tol)). metric: read
    another reduction of that arm (default: the hypothesis's metric). A failed criterion sets the verdict
    to on_fail: "not reproduced" (the claim's own condition) or "inconclusive" (a gate: the data cannot
    speak, e.g. a network that did not train)."""
    name: str
    arm: str
    op: str
    value: float
    stat: str = "mean"
    tol: float = 0.0
    metric: Metric | None = None
    on_fail: str = "not reproduced"


CONTROL_EXPECT = ("no effect", "not reproduced", "reproduced")


@dataclass(frozen=True)
class Control:
    """A negative (or positive) control of one hypothesis: the same pipeline with arms replaced (by another
    arm's name or a new Arm) and/or metrics replaced. expect: "no effect" (passes unless reproduced),
    "not reproduced" (strictly), "reproduced" (a positive control). params: passed to a deterministic
    check's error function."""
    name: str
    what: str
    arms: Mapping = field(default_factory=dict)
    metrics: Mapping = field(default_factory=dict)
    params: Mapping = field(default_factory=dict)
    expect: str = "no effect"


@dataclass(frozen=True)
class Design:
    """What one hypothesis runs and reduces. metric: one Metric for every arm, or {arm: Metric}.
    Deterministic checks name an error function (errors) and a tolerance (number or {case: tol};
    None: the error function returns its own). figures(result) and extra(result) draw on the runs
    and values (harness.runner.Result) and build no evidence."""
    arms: Mapping
    metric: object = None
    criteria: tuple = ()
    controls: tuple = ()
    errors: str | None = None
    error_params: Mapping = field(default_factory=dict)
    tolerance: object = None
    what: str = "error"
    figures: Callable | None = None
    extra: Callable | None = None

    def metric_of(self, arm: str, metrics: Mapping | None = None) -> Metric | None:
        m = (metrics or {}).get(arm)
        if m is not None:
            return m
        return self.metric.get(arm) if isinstance(self.metric, Mapping) else self.metric

    def with_control(self, control: Control) -> "Design":
        arms = dict(self.arms)
        for name, repl in control.arms.items():
            arms[name] = self.arms[repl] if isinstance(repl, str) else repl
        metric = self.metric
        if control.metrics:
            metric = {a: self.metric_of(a, control.metrics) for a in arms}
        return dataclasses.replace(self, arms=arms, metric=metric,
                                   error_params={**self.error_params, **control.params})

    def control(self, name: str) -> Control:
        for c in self.controls:
            if c.name == name:
                return c
        raise KeyError(name)


# ---------------------------------------------------------------------------------- validation
def validate(hyp, routines: Mapping | None = None) -> None:
    """Raise DeclarationError naming the hypothesis and the field when a declaration is malformed."""
    def bad(fieldname, msg):
        raise DeclarationError(f"{hyp.id}: {fieldname}: {msg}")

    d = getattr(hyp, "design", None)
    if d is None:
        bad("design", "no design declared (arms, metric, controls)")
    if not 0 < hyp.alpha < 0.5:
        bad("alpha", f"must lie in (0, 0.5), got {hyp.alpha!r}")
    if hyp.test not in TESTS_DECLARABLE:
        bad("test", f"unknown test {hyp.test!r}; choose one of {', '.join(TESTS_DECLARABLE)}")
    if not isinstance(d.arms, Mapping) or (not d.arms and hyp.test != "deterministic"):
        bad("design.arms", "declare at least one arm")
    for name, arm in d.arms.items():
        _check_arm(hyp, f"design.arms[{name!r}]", arm, routines, bad)
    missing = [a for a in hyp.arms if a not in d.arms]
    if missing and hyp.test != "deterministic":
        bad("arms", f"{', '.join(missing)} named by the hypothesis but not declared in design.arms")
    if hyp.test == "deterministic":
        if d.errors is None:
            bad("design.errors", "a deterministic check names a registered error function")
        if d.errors not in ERRORS:
            bad("design.errors", f"unknown error function {d.errors!r}")
    else:
        if d.metric is None:
            bad("design.metric", "declare the reduction that gives one number per seed")
        metrics = d.metric if isinstance(d.metric, Mapping) else {a: d.metric for a in d.arms}
        for arm, m in metrics.items():
            if arm not in d.arms:
                bad("design.metric", f"names arm {arm!r}, which is not declared (arms: {', '.join(d.arms)})")
            _check_metric(hyp, f"design.metric[{arm!r}]", m, bad)
        for arm in d.arms:
            if d.arms[arm].constant is None and d.metric_of(arm) is None:
                bad("design.metric", f"no reduction for arm {arm!r}")
    for c in d.criteria:
        if not isinstance(c, Criterion):
            bad("design.criteria", f"expected Criterion, got {type(c).__name__}")
        if c.arm not in d.arms:
            bad(f"criterion {c.name!r}", f"names arm {c.arm!r}, which is not declared")
        if c.op not in ("<", ">", "<=", ">=", "within") or c.stat not in ("mean", "each"):
            bad(f"criterion {c.name!r}", f"op {c.op!r} / stat {c.stat!r} not understood")
        if c.on_fail not in ("not reproduced", "inconclusive"):
            bad(f"criterion {c.name!r}", f"on_fail must be 'not reproduced' or 'inconclusive'")
        if c.metric is not None:
            _check_metric(hyp, f"criterion {c.name!r}", c.metric, bad)
    names = [c.name for c in d.controls]
    if len(set(names)) != len(names):
        bad("design.controls", f"duplicate control names {names}")
    for c in d.controls:
        where = f"control {c.name!r}"
        if not isinstance(c, Control):
            bad("design.controls", f"expected Control, got {type(c).__name__}")
        if not c.arms and not c.metrics and not c.params:
            bad(where, "names no arm, metric or parameter to change, so it would rerun the hypothesis itself")
        if c.expect not in CONTROL_EXPECT:
            bad(where, f"expect must be one of {CONTROL_EXPECT}")
        for name, repl in c.arms.items():
            if name not in d.arms:
                bad(where, f"replaces arm {name!r}, which is not declared (arms: {', '.join(d.arms)})")
            if isinstance(repl, str):
                if repl not in d.arms:
                    bad(where, f"takes arm {repl!r}, which is not declared")
            else:
                _check_arm(hyp, where, repl, routines, bad)
        for name, m in c.metrics.items():
            if name not in d.arms:
                bad(where, f"replaces the metric of arm {name!r}, which is not declared")
            _check_metric(hyp, where, m, bad)


def _check_arm(hyp, where, arm, routines, bad):
    if not isinstance(arm, Arm):
        bad(where, f"expected harness.design.Arm, got {type(arm).__name__}")
    kinds = sum(x is not None for x in (arm.spec, arm.routine, arm.constant))
    if kinds != 1:
        bad(where, "give exactly one of spec, routine or constant")
    if arm.routine is not None and routines is not None and arm.routine not in routines:
        bad(where, f"unknown routine {arm.routine!r} (registered: {', '.join(sorted(routines))})")
    for p in arm.by_profile:
        if p not in PROFILES:
            bad(where, f"unknown profile {p!r} in by_profile")
    if arm.lrs and arm.spec is None:
        bad(where, "a learning-rate grid needs a spec")


def _check_metric(hyp, where, m, bad):
    if not isinstance(m, Metric):
        bad(where, f"expected harness.design.Metric, got {type(m).__name__}")
    for name in (m.name, m.select):
        if name is not None and name not in REDUCTIONS:
            bad(where, f"unknown reduction {name!r}")
    if m.at_lr is not None and m.select is not None:
        bad(where, "give at_lr or select, not both")


def describe(design: Design) -> dict:
    """The JSON-safe pre-registration of a design (arms, reductions, criteria, controls)."""
    from harness.evidence import to_builtin

    def arm(a: Arm):
        out = {"kind": a.kind()}
        if a.spec is not None:
            from harness.spec import spec_hash
            out.update(spec_hash=spec_hash(a.spec), engine=a.engine)
        if a.routine:
            out.update(routine=a.routine, settings=dict(a.settings))
        if a.lrs:
            out["lrs"] = list(a.lrs)
        if a.constant is not None:
            out["constant"] = a.constant
        if a.by_profile:
            out["by_profile"] = {k: dict(v) for k, v in a.by_profile.items()}
        return out

    def metric(m):
        return None if m is None else {"reduction": m.name, "params": dict(m.params), "at_lr": m.at_lr,
                                       "select": m.select}

    return to_builtin({
        "arms": {k: arm(v) for k, v in design.arms.items()},
        "metric": ({k: metric(v) for k, v in design.metric.items()} if isinstance(design.metric, Mapping)
                   else metric(design.metric)),
        "criteria": [{"name": c.name, "arm": c.arm, "stat": c.stat, "op": c.op, "value": c.value, "tol": c.tol,
                      "metric": metric(c.metric), "on_fail": c.on_fail} for c in design.criteria],
        "controls": [{"name": c.name, "what": c.what, "expect": c.expect,
                      "arms": {k: v if isinstance(v, str) else arm(v) for k, v in c.arms.items()},
                      "metrics": {k: metric(v) for k, v in c.metrics.items()}, "params": dict(c.params)}
                     for c in design.controls],
        "errors": design.errors, "error_params": dict(design.error_params),
        "tolerance": design.tolerance if not isinstance(design.tolerance, Mapping) else dict(design.tolerance),
    })
