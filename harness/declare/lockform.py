"""The lock contract in one place: what of a declaration is pre-registered (declaration(), describe()) and the
hashes the lock file holds (declaration_hash, declarations_hash). Changing anything here changes every hash in
every pack's lock, so nothing here changes without a lock update that records why (declare/prereg.py)."""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

from bnclaims.harness.declare.design import Arm, Design, control_kind, controls_of
from bnclaims.harness.declare.evidence import to_builtin
from bnclaims.harness.store import canonical_json


def declaration(hyp) -> dict:
    """JSON-safe pre-registration, printed/stored before results exist."""
    d = {f.name: getattr(hyp, f.name) for f in dataclasses.fields(hyp) if f.name != "design"}
    if not hyp.retired:         # only where set (as profiles)
        del d["retired"]
    if not hyp.profiles:        # only where set: earlier declarations keep their hashes
        del d["profiles"]
    if hyp.planned_power is None:
        del d["planned_power"]
    else:
        d["profiles"] = list(hyp.profiles)
    d["arms"] = list(hyp.arms)
    d["budgets"] = {k: dataclasses.asdict(v) for k, v in hyp.budgets.items()}
    if hyp.design is not None:
        d["design"] = describe(hyp.design, hyp)
    return d


def describe(design: Design, hyp=None) -> dict:
    """The JSON-safe pre-registration of a design (arms, reductions, criteria, controls)."""
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


def declaration_hash(hyp) -> str:
    """sha256 (hex) of the canonical JSON of hyp.declaration(): every field counts, notes included."""
    blob = canonical_json(to_builtin(hyp.declaration()))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _hypotheses(claims) -> dict[str, tuple[str, str]]:
    """id -> (hash, claim id) over every hypothesis of the claims, refusing duplicate ids."""
    out: dict[str, tuple[str, str]] = {}
    for c in claims:
        for h in c.hypotheses:
            if h.id in out:
                raise ValueError(f"{h.id}: duplicate hypothesis id")
            out[h.id] = (declaration_hash(h), h.claim)
        for m in getattr(c, "maps", ()):        # a robustness map is pre-registered too: "C1.a@map"
                    out[f"{m.hypothesis}@map"] = (hashlib.sha256(canonical_json(to_builtin(m.declaration())).encode("utf-8"))
                                          .hexdigest(), c.id)
        for sc in getattr(c, "subclaims", ()):   # a sub-claim (what its verdict reads) is pre-registered: "C1.2@subclaim"
            out[f"{sc.id}@subclaim"] = (hashlib.sha256(canonical_json(sc.declaration()).encode("utf-8")).hexdigest(),
                                        c.id)
    return out


def declarations_hash(claims) -> str:
    """sha256 over every registered declaration hash (hypotheses, maps, sub-claims), in id order: one value
    that changes when any declaration does."""
    now = _hypotheses(claims)
    blob = canonical_json({h: now[h][0] for h in sorted(now)})
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
