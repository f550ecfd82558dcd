"""Validation of declarations: a malformed hypothesis or claim raises DeclarationError naming the hypothesis
and the field, at collection time, before anything runs. No torch import here."""
from __future__ import annotations

from collections.abc import Mapping

from bnclaims.harness.declare.design import (AA, CONTROL_EXPECT, CONTROL_KINDS, ERRORS, REDUCTIONS,  # noqa: F401
    ROUTINE_ENGINES, TESTS_DECLARABLE, Arm, Control, Criterion, DeclarationError, Design, Metric, control_kind,
    controls_of, null_control)
from bnclaims.harness.declare.vocabulary import PROFILES


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
    from bnclaims.harness.stats import floors as st
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
        bad(where, f"expected harness.declare.design.Arm, got {type(arm).__name__}")
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
        bad(where, f"expected harness.declare.design.Metric, got {type(m).__name__}")
    for name in (m.name, m.select):
        if name is not None and name not in REDUCTIONS:
            bad(where, f"unknown reduction {name!r}")
    if m.at_lr is not None and m.select is not None:
        bad(where, "give at_lr or select, not both")
    if m.tune_seeds and m.select is None:
        bad(where, "tune_seeds needs select (the reduction that chooses the rate)")
    if m.tune_val_rows and not m.tune_seeds:
        bad(where, "tune_val_rows needs tune_seeds (validation runs are tuning runs)")
