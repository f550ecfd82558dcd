"""Claims as data: what a hypothesis runs (arms), how each run becomes one number per seed (a named
reduction), the pre-declared criteria, and the negative controls, all declared before anything runs.

harness.run.runner executes any Design; claim modules hold Designs, reductions and figures only.
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
    variants: tuple = ()                 # ((label, {spec field: value}), ...): with a tuned metric (tune_seeds),
                                         # the (variant, rate) pair is chosen on the tuning seeds and the
                                         # compared runs use the chosen variant (e.g. an init-scale x lr grid)
    tuned_only: bool = False             # with a tuned metric: the compared seeds train the chosen rate alone,
                                         # not the whole grid (cheaper where no other check reads the grid)

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
    tune_seeds: int = 0          # > 0 (with select): pick the rate on this many other seeds (TUNE_OFFSET + i),
                                 # so the seeds that are compared never chose their own rate
    tune_val_rows: int = 0       # > 0 (with tune_seeds): the tuning runs hold out their last n training rows
                                 # (TrainSpec.val_rows) and select reads that validation split; the compared
                                 # runs train on the whole training set and are read on it and on the test set


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
AA = "aa"                  # the name of every hypothesis's A/A null control (harness.declare.design.null_control)
SEED_OFFSET = 1000         # an A/A arm j runs seeds base*10000 + j*SEED_OFFSET + i: disjoint
TUNE_OFFSET = 500          # a metric's tuning seeds: base*10000 + TUNE_OFFSET + i (Metric.tune_seeds) from the others
CONTROL_KINDS = ("null", "negative", "positive", "plumbing")


@dataclass(frozen=True)
class Control:
    """A control of one hypothesis: the same pipeline with arms replaced (by another arm's name or a new
    Arm), metrics replaced, seeds moved and/or values shifted. expect: "no effect" (passes unless
    reproduced), "not reproduced" (strictly), "reproduced" (a positive control). params: passed to a
    deterministic check's error function. seeds: arm -> offset added to its seeds (disjoint seeds).
    shift: arm -> constant added to its values (an equivalence null sits on the margin). null: this control
    is the hypothesis's null control (it stands in for the A/A control where none can be built, e.g.
    against a fixed comparator), so it must be able to reproduce at rate alpha under no effect."""
    name: str
    what: str
    arms: Mapping = field(default_factory=dict)
    metrics: Mapping = field(default_factory=dict)
    params: Mapping = field(default_factory=dict)
    expect: str = "no effect"
    seeds: Mapping = field(default_factory=dict)
    shift: Mapping = field(default_factory=dict)
    null: bool = False


def null_control(hyp) -> "Control | None":
    """The A/A control of a statistical hypothesis: every compared arm becomes the control arm (y, or the
    first of ordered arms), each on seeds disjoint from the others; the control arm keeps its own seeds,
    so its runs are reused and the control costs one arm (k-1 for k ordered arms). It goes through the
    whole pipeline: rate selection, criteria, gates and the sequential plan. An equivalence hypothesis's
    A/A arm is shifted onto the upper margin, where "reproduced" is a false positive. None for
    deterministic checks, and where the hypothesis declares its own null control (a fixed comparator
    has no A/A)."""
    d = hyp.design
    if hyp.direction == "deterministic" or d is None or any(c.null for c in d.controls):
        return None
    if hyp.direction in ("decreasing", "increasing"):
        ref, others = hyp.arms[0], hyp.arms[1:]
    else:
        ref, others = hyp.arms[1], hyp.arms[:1]
    if any(d.arms[a].constant is not None for a in (ref, *others)):
        return None
    m = d.metric_of(ref)
    shift = {}
    if hyp.direction == "equivalent":
        upp = hyp.margin if not isinstance(hyp.margin, (tuple, list)) else hyp.margin[1]
        shift = {others[0]: float(upp)}
    return Control(AA, f"A/A: every arm is {ref!r}, on seeds disjoint from each other (sampling noise only)"
                   + ("; the A/A arm shifted onto the margin" if shift else ""),
                   arms={a: ref for a in others}, metrics={a: m for a in others} if m is not None else {},
                   seeds={a: SEED_OFFSET * (j + 1) for j, a in enumerate(others)}, shift=shift, null=True)


def controls_of(hyp) -> tuple:
    """Declared controls, then the A/A null control (where one is built)."""
    aa = null_control(hyp)
    return tuple(hyp.design.controls) + ((aa,) if aa is not None else ())


def control_kind(hyp, c: Control) -> str:
    """null: can reproduce at rate alpha when there is no effect; plumbing: the compared arms become the
    same spec, metric and seeds, so the runs are bit-identical and it tests the plumbing, not error rates;
    positive: expects reproduced; negative: removes or reverses the effect."""
    if c.null:
        return "null"
    if c.expect == "reproduced":
        return "positive"
    d = hyp.design
    if hyp.direction != "deterministic" and not c.seeds and not c.shift:
        cd = d.with_control(c)
        compared = [a for a in hyp.arms if a in cd.arms]
        first = compared[0] if compared else None
        same = first is not None and all(cd.arms[a] == cd.arms[first] and cd.metric_of(a) == cd.metric_of(first)
                                         for a in compared)
        if same:
            return "plumbing"
    return "negative"


@dataclass(frozen=True)
class Design:
    """What one hypothesis runs and reduces. metric: one Metric for every arm, or {arm: Metric}.
    Deterministic checks name an error function (errors) and a tolerance (number or {case: tol};
    None: the error function returns its own). figures(result) and extra(result) draw on the runs
    and values (harness.run.runner.Result) and build no evidence."""
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

    def control(self, name: str, hyp=None) -> Control:
        for c in (controls_of(hyp) if hyp is not None else self.controls):
            if c.name == name:
                return c
        raise KeyError(name)
