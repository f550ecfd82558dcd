"""Every verdict rule, in the order they apply: the test's p values give a verdict, pre-declared criteria
and gates may override it, the pre-registered expectation turns it into a pytest outcome, and the
confirmatory verdicts of a claim's hypotheses give the claim's verdict.

Used by harness.stats (test), harness.run.runner (criteria), the plugin (outcome) and the report (claim).
No torch, no scipy.
"""
from __future__ import annotations

import re

PASSED, XFAILED, FAILED = "passed", "xfailed", "failed"


# ---- 1. the test -----------------------------------------------------------------------------
def from_p(p: float, p_opposite: float, alpha: float, p_sesoi: float | None = None) -> str:
    """p < alpha in the pre-registered direction: reproduced; in the opposite direction (or, with a
    smallest effect of interest, TOST inside it): not reproduced; otherwise inconclusive."""
    if p < alpha:
        return "reproduced"
    if p_opposite < alpha or (p_sesoi is not None and p_sesoi < alpha):
        return "not reproduced"
    return "inconclusive"


# ---- 2. criteria and gates -------------------------------------------------------------------
def apply_criteria(stats: dict, results: list[tuple]) -> dict:
    """results: (criterion, passed, detail) per pre-declared criterion, in declaration order.

    A failed claim criterion (on_fail "not reproduced") makes the verdict "not reproduced": the test alone
    cannot tell "trains" from "slightly below a chance-level control". A failed gate (on_fail
    "inconclusive") makes it inconclusive, and the verdict before the gate is kept as verdict_ungated,
    so the report shows what the gate overrode. Gates apply after criteria."""
    out = dict(stats)
    claims = [(c, ok, d) for c, ok, d in results if c.on_fail == "not reproduced"]
    gates = [(c, ok, d) for c, ok, d in results if c.on_fail == "inconclusive"]
    if claims:
        out["criteria"] = {c.name: bool(ok) for c, ok, _ in claims}
        failed = [f"{c.name} ({d})" for c, ok, d in claims if not ok]
        if failed and out.get("verdict") != "not reproduced":
            out["verdict"] = "not reproduced"
            out["reason"] = f"pre-declared criterion failed: {'; '.join(failed)}; test: {stats.get('reason')}"
        elif not failed:
            out["reason"] = f"{out.get('reason')}; criteria met: {', '.join(c.name for c, _, _ in claims)}"
    if gates:
        failing = [(c, d) for c, ok, d in gates if not ok]
        out["gate"] = {"passed": not failing, "gates": {c.name: bool(ok) for c, ok, _ in gates},
                       "detail": {c.name: d for c, _, d in gates}}
        if failing:
            out["verdict_ungated"] = out.get("verdict")
            out["verdict"] = "inconclusive"
            out["reason"] = (f"gate failed: {'; '.join(f'{c.name} ({d})' for c, d in failing)}; "
                             f"ungated: {out.get('reason')}")
    return out


# ---- 3. the pytest outcome -------------------------------------------------------------------
def outcome(verdict: str, *, expect: str, confirmatory: bool, profile: str,
            underpowered: bool = False) -> tuple[str, str]:
    """(pytest outcome, why) of a hypothesis. Under smoke nothing is asserted. Reproduced as expected
    passes; a pre-registered "not reproduced" that happens is a strict expected failure (reproducing
    it fails); an inconclusive confirmatory check fails. A vote registered as underpowered (Hypothesis.planned_power
    below 0.8 at the pilot's conservative effect) cannot gate, since its plan could not predict its verdict:
    whatever it measures other than an expected reproduction is xfailed with the finding as its reason (it still
    decides its sub-claim), never a pass. An exploratory check is non-gating: whatever it measures against
    its expectation (inconclusive, or the other verdict) is xfailed with the finding as its reason, never a
    pass."""
    if profile == "smoke":
        return PASSED, "smoke profile: no verdict asserted"
    if verdict == "inconclusive":
        if not confirmatory:
            return XFAILED, "exploratory, non-gating: INCONCLUSIVE at this budget"
        if underpowered:
            return XFAILED, ("INCONCLUSIVE, as its registered plan allowed: underpowered at the pilot's "
                             "conservative effect (the sub-claim reads inconclusive)")
        return FAILED, ("INCONCLUSIVE: the data decide neither way; an inconclusive check never passes. "
                        "Raise the budget or revisit the design.")
    if confirmatory and underpowered and not (verdict == expect == "reproduced"):
        if verdict == expect:
            return XFAILED, "pre-registered expected failure"
        return XFAILED, (f"{verdict.upper()} where {expect!r} was expected, from a vote registered as "
                         "underpowered (its plan could not predict its verdict): a finding that decides its "
                         "sub-claim, not a pass")
    if verdict == expect == "reproduced":
        return PASSED, "reproduced"
    if not confirmatory and verdict != expect:
        return XFAILED, (f"exploratory, non-gating: {verdict.upper()} where {expect!r} was pre-registered "
                         "(a finding, shown in the report; not a pass)")
    if verdict == expect == "not reproduced":
        return XFAILED, "pre-registered expected failure"
    if expect == "not reproduced" and verdict == "reproduced":
        return FAILED, ("unexpected pass: pre-registered as an expected failure but the hypothesis was "
                        "reproduced; update the expectation if this holds up")
    if expect == "reproduced":
        return FAILED, "NOT REPRODUCED"
    return FAILED, f"measured {verdict!r} but the pre-registered expectation is {expect!r}"


def control_outcome(verdict: str, *, expect: str, profile: str, gating: bool = True) -> tuple[str, str]:
    """(pytest outcome, why) of a control. expect "no effect": anything but reproduced passes;
    "not reproduced": only that passes; "reproduced": a positive control. Smoke asserts nothing.
    gating=False (the control of a hypothesis that does not vote): a failure is xfailed, never passed, so
    the suite's chance of a failing control at a seed base stays near the sum of the claims' alphas."""
    if profile == "smoke":
        return PASSED, "smoke profile: no verdict asserted"
    ok = {"no effect": verdict != "reproduced", "not reproduced": verdict == "not reproduced",
          "reproduced": verdict == "reproduced"}[expect]
    if ok:
        return PASSED, f"control: {verdict}"
    why = (f"control expected {expect!r} but measured {verdict!r}: the check does not reject what it "
           "should, so its verdict is not to be trusted either")
    if not gating:
        return XFAILED, why + " (a hypothesis that does not vote: non-gating)"
    return FAILED, why


# ---- 4. the claim ----------------------------------------------------------------------------
def supports_claim(stance: str, verdict: str) -> bool | None:
    """Does this outcome count for (True) or against (False) the article claim? None: no evidence."""
    if verdict == "reproduced":
        return stance == "supports"
    if verdict == "not reproduced":
        return stance != "supports"
    return None


def id_key(s: str):
    """Natural sort key: C2 < C10, C1.a < C1.b."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(s)) if t]


def votes(hypothesis: dict) -> bool:
    """A hypothesis (its declaration) votes on its claim only as confirmatory evidence."""
    return hypothesis.get("confirmatory", True) and hypothesis.get("role", "evidence") == "evidence"


def claim_verdict(records: list[dict], profile: str, missing=(), fwer: float | None = None) -> dict:
    """Overall verdict of one article claim from its voting hypotheses (confirmatory evidence, each
    decided at its allocated alpha, which sum to at most the claim's family-wise alpha).

    supported: all decisive evidence for; contradicted: all against; mixed: both (listed);
    inconclusive: no decisive voting evidence; smoke runs give no verdict. Secondary and exploratory
    evidence, manipulation checks and identity checks are listed but do not vote.
    """
    conf = [r for r in records if votes(r["hypothesis"])]
    pro, con, undecided = [], [], []
    for r in conf:
        vote = supports_claim(r["hypothesis"]["stance"], r["verdict"])
        (pro if vote is True else con if vote is False else undecided).append(r["id"])
    undecided += [m["id"] for m in missing if votes(m)]
    out = {"for": pro, "against": con, "undecided": sorted(undecided, key=id_key),
           "exploratory": [r["id"] for r in records if not votes(r["hypothesis"])
                           and r["hypothesis"].get("role", "evidence") == "evidence"],
           "checks": [r["id"] for r in records if r["hypothesis"].get("role", "evidence") != "evidence"],
           "fwer": fwer, "alpha_allocated": {r["id"]: r["hypothesis"].get("alpha") for r in conf}}
    titles = {r["id"]: r["hypothesis"].get("title", "") for r in records}
    titles.update({m["id"]: m.get("title", "") for m in missing})

    def names(ids):
        return ", ".join(f"{i} ({titles[i]})" if titles.get(i) else i for i in ids)

    if profile == "smoke":
        out["verdict"], detail = "smoke run: no verdict", "budgets too small for a verdict"
    elif not conf:
        out["verdict"], detail = "inconclusive", "no voting (confirmatory evidence) hypothesis produced evidence"
    elif pro and con:
        out["verdict"], detail = "mixed", f"for: {names(pro)}; against: {names(con)}"
    elif pro:
        out["verdict"], detail = "supported", f"for: {names(pro)}"
    elif con:
        out["verdict"], detail = "contradicted", f"against: {names(con)}"
    else:
        out["verdict"], detail = "inconclusive", "no voting hypothesis was decisive"
    if out["undecided"] and out["verdict"] != "smoke run: no verdict" and (pro or con):
        detail += f"; not decisive: {names(out['undecided'])}"
    if fwer is not None and out["verdict"] != "smoke run: no verdict":
        detail += f" (family-wise alpha {fwer:g}, Bonferroni)"
    out["detail"] = detail
    return out
