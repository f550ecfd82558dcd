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

from bnclaims.harness.declare.vocabulary import PROFILES

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
AA = "aa"                  # the name of every hypothesis's A/A null control (harness.design.null_control)
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

    def control(self, name: str, hyp=None) -> Control:
        for c in (controls_of(hyp) if hyp is not None else self.controls):
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
            if ((d.arms[arm].variants or d.arms[arm].tuned_only)
                    and not (d.metric_of(arm) is not None and d.metric_of(arm).tune_seeds)):
                bad(f"design.arms[{arm!r}]", "variants and tuned_only are chosen on tuning seeds: the arm's "
                                             "metric needs select and tune_seeds")
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
        if not c.arms and not c.metrics and not c.params and not c.seeds:
            bad(where, "names no arm, metric, seed or parameter to change, so it would rerun the hypothesis itself")
        if c.name == AA:
            bad(where, f"{AA!r} is the name of the A/A control the runner builds; choose another name")
        for name in (*c.seeds, *c.shift):
            if name not in d.arms:
                bad(where, f"moves the seeds or values of arm {name!r}, which is not declared")
        if c.null and hyp.direction == "deterministic":
            bad(where, "a deterministic check has no null control")
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
    _check_null(hyp, bad)
    _check_floor(hyp, bad)


def validate_claim(claim) -> None:
    """The claim's family-wise alpha: the allocated alphas of its voting hypotheses (confirmatory evidence)
    sum to at most claim.fwer (Bonferroni); with sub-claims each vote belongs to exactly one of them, without
    them one ensemble (group) casts at most one vote."""
    votes = [h for h in claim.hypotheses if h.votes]
    total = sum(h.alpha for h in votes)
    if total > claim.fwer * (1 + 1e-9):
        raise DeclarationError(f"{claim.id}: alpha: the voting hypotheses' alphas sum to {total:.4g} > the "
                               f"claim's family-wise alpha {claim.fwer:g} "
                               f"({', '.join(f'{h.id}={h.alpha:g}' for h in votes)})")
    if claim.subclaims:
        # votes belong to sub-claims: each vote to exactly one, and an ensemble may inform several sub-claims
        # (one vote each; Bonferroni needs no independence)
        named = {}
        for s in claim.subclaims:
            for i in s.ids():
                named.setdefault(i, []).append(s.id)
        for h in votes:
            if len(named.get(h.id, ())) != 1:
                raise DeclarationError(f"{h.id}: a vote belongs to exactly one sub-claim; named by "
                                       f"{named.get(h.id) or 'none'}")
        return
    seen: dict = {}
    for h in votes:
        if h.group and h.group in seen:
            raise DeclarationError(f"{h.id}: group: {h.group!r} already votes through {seen[h.group]}; "
                                   "hypotheses from one ensemble cast one vote (make the others secondary: "
                                   "confirmatory=False)")
        if h.group:
            seen[h.group] = h.id


def _check_null(hyp, bad):
    """Every statistical hypothesis has a null control that can fail: the A/A control, or (against a fixed
    comparator) a declared one."""
    if hyp.direction == "deterministic":
        return
    nulls = [c for c in hyp.design.controls if c.null]
    if len(nulls) > 1:
        bad("design.controls", f"declare at most one null control, got {[c.name for c in nulls]}")
    if not nulls and null_control(hyp) is None:
        bad("design.controls", "a comparison with a fixed comparator has no A/A control: declare a control "
                               "with null=True whose arms differ from the comparator only by sampling noise")


def _check_floor(hyp, bad):
    """Refuse a design whose smallest attainable p is not below its (allocated) alpha."""
    if hyp.direction == "deterministic":
        return
    from bnclaims.harness.stats import core as st
    k = len(hyp.arms)
    # the profiles whose verdicts count: ci, full (its own budget or ci's) and paper where declared
    for profile in [p for p in ("ci", "full", "paper") if p in hyp.budgets or (p == "full" and "ci" in hyp.budgets)]:
        n = hyp.budget(profile).seeds
        try:
            if hyp.test == "trend":
                floor = (st.min_attainable_p("trend", n, k, paired=True) if hyp.paired
                         else st.min_attainable_p("trend", n, k))
            else:
                floor = st.min_attainable_p(hyp.test, n, None)
        except (TypeError, ValueError) as e:
            bad("test", f"{e}")
        if floor >= hyp.alpha:
            bad("alpha", f"{hyp.test}{' (paired)' if hyp.paired else ''} with {n} seeds per arm in profile "
                         f"{profile!r} cannot reach p < {hyp.alpha:g} (smallest attainable p = {floor:.3g}): "
                         "raise the seeds or use another test")


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
    if arm.variants:
        if arm.spec is None or not arm.lrs:
            bad(where, "variants need a spec with a learning-rate grid (lrs)")
        labels = [v[0] if isinstance(v, tuple) and len(v) == 2 else None for v in arm.variants]
        if None in labels or len(set(labels)) != len(labels):
            bad(where, "variants: give distinct (label, {spec field: value}) pairs")
        for label, kw in arm.variants:
            try:
                arm.spec.replace(**dict(kw))
            except (TypeError, ValueError) as e:
                bad(where, f"variant {label!r}: {e}")


def _check_metric(hyp, where, m, bad):
    if not isinstance(m, Metric):
        bad(where, f"expected harness.design.Metric, got {type(m).__name__}")
    for name in (m.name, m.select):
        if name is not None and name not in REDUCTIONS:
            bad(where, f"unknown reduction {name!r}")
    if m.at_lr is not None and m.select is not None:
        bad(where, "give at_lr or select, not both")
    if m.tune_seeds and m.select is None:
        bad(where, "tune_seeds needs select (the reduction that chooses the rate)")
    if m.tune_val_rows and not m.tune_seeds:
        bad(where, "tune_val_rows needs tune_seeds (validation runs are tuning runs)")


def describe(design: Design, hyp=None) -> dict:
    """The JSON-safe pre-registration of a design (arms, reductions, criteria, controls)."""
    from bnclaims.harness.declare.evidence import to_builtin

    def arm(a: Arm):
        out = {"kind": a.kind()}
        if a.spec is not None:
            from bnclaims.harness.spec import spec_hash
            out.update(spec_hash=spec_hash(a.spec), engine=a.engine)
        if a.routine:
            out.update(routine=a.routine, settings=dict(a.settings))
        if a.lrs:
            out["lrs"] = list(a.lrs)
        if a.constant is not None:
            out["constant"] = a.constant
        if a.by_profile:
            out["by_profile"] = {k: dict(v) for k, v in a.by_profile.items()}
        if a.variants:         # only where set, as below
            out["variants"] = [[label, dict(kw)] for label, kw in a.variants]
        if a.tuned_only:
            out["tuned_only"] = True
        return out

    def metric(m):
        if m is None:
            return None
        out = {"reduction": m.name, "params": dict(m.params), "at_lr": m.at_lr, "select": m.select}
        if m.tune_seeds:       # only where set: earlier declarations keep their hashes
            out["tune_seeds"] = m.tune_seeds
        if m.tune_val_rows:
            out["tune_val_rows"] = m.tune_val_rows
        return out

    return to_builtin({
        "arms": {k: arm(v) for k, v in design.arms.items()},
        "metric": ({k: metric(v) for k, v in design.metric.items()} if isinstance(design.metric, Mapping)
                   else metric(design.metric)),
        "criteria": [{"name": c.name, "arm": c.arm, "stat": c.stat, "op": c.op, "value": c.value, "tol": c.tol,
                      "metric": metric(c.metric), "on_fail": c.on_fail} for c in design.criteria],
        "controls": [{"name": c.name, "what": c.what, "expect": c.expect, "null": c.null,
                      "kind": control_kind(hyp, c) if hyp is not None else None,
                      "seeds": dict(c.seeds), "shift": dict(c.shift),
                      "arms": {k: v if isinstance(v, str) else arm(v) for k, v in c.arms.items()},
                      "metrics": {k: metric(v) for k, v in c.metrics.items()}, "params": dict(c.params)}
                     for c in (controls_of(hyp) if hyp is not None else design.controls)],
        "errors": design.errors, "error_params": dict(design.error_params),
        "tolerance": design.tolerance if not isinstance(design.tolerance, Mapping) else dict(design.tolerance),
    })
