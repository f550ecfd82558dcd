"""Round 2: the confirmatory votes, one set per sub-claim, registered before any run at their seed base.

Seed base 0 was the pilot: the sub-claims and their construct-valid measures were designed on it (issue 24), so
it cannot confirm them. Round 2 fixes, before it runs, for every voting sub-claim:

    the voting measure(s): the construct-valid measure of the mechanism the sub-claim names where the pilot
        round built one that the ci budget can carry, else the measure of the statement as worded;
    a smallest effect of interest (SESOI, in the measure's units), tested as a minimum effect
        (H0: the effect falls short of it; harness.stats.compare with sesoi);
    alpha: 0.01 per article claim, split equally (Bonferroni) over its voting sub-claims, and within a
        sub-claim over its votes;
    n: planned by simulating the exact test at the pilot's conservative effect (harness.power.plan,
        benchmarks/plan_seeds.py, claims/power_plan.json): the smallest n whose floor is at most alpha/10 and
        that survives a discordant seed, raised until the simulated power reaches 0.8 where it can.

Every other statistical check stays as secondary evidence (the old primaries included): it runs and is shown,
it does not vote. Side statements (kind "side") and identities do not vote. The checks of a claim that share
its standard seed count rise together to its largest vote's n, so one ensemble still serves them all.

SESOI rule (stated before round 2 ran; the per-vote reasons below): a difference of 10 % of the reference
arm's pilot mean for measures on a ratio scale (losses, distances, ratios of changes); 2 points for
accuracies (about 1.4 binomial standard errors of a 1000-row test accuracy near 0.7); 0.05 for a cosine
(bounded, and 10x the largest A/A pair difference seen on the deep linear net); 0.02 for a per-layer
gradient growth factor (compounds to about 45 % over the 28 layers measured).
"""
from __future__ import annotations

import dataclasses

from bnclaims.harness.kit import Budget

ROUND = 2
SEED_BASE = 300              # the confirmatory base: no run had used it when this file was locked
REPLICATION_BASE = 400       # the replication of the ci profile, also unused before
PILOT_BASE = 0



@dataclasses.dataclass(frozen=True)
class Vote:
    """One round-2 vote: the check, its SESOI (None: an equivalence margin), its n and simulated power from the
    plan (claims/power_plan.json), the verdict the pilot predicts (expect) and why this measure."""
    id: str
    sesoi: float | None
    n: int
    power: float
    expect: str
    why: str


def V(*args) -> Vote:
    return Vote(*args)


# the pilot's reading behind each expected "not reproduced" (shown when it happens)
EXPECT_REASONS = {
    "C1.a3": "pilot: effect 1.71 below the SESOI 3.8 (d_z 0.45)",
    "C3.c6": "pilot: W1 rose after recovery (+0.040, d_z 3.3), the opposite direction",
    "C4.a2": "pilot: calibrated NLL level across G (+0.018 from G = 128 to G = 8, the opposite direction)",
    "C4.d2": "pilot: gap difference 0.007, below the SESOI 0.02 (d_z 0.48)",
    "C4.c": "pilot: accuracy difference 0.015, below the SESOI 0.02 (d_z 0.51)",
    "S.h": "pilot: curvature along g 2.4x higher with BN (d_z 5.9), the opposite direction",
    "S.c": "pilot: beta_eff not 20 % lower with BN but higher (d_z 4.0), the opposite direction",
}

# sub-claim -> (Vote, ...)
VOTES: dict[str, tuple] = {
    "C1.1": (V("C1.b", 0.05, 12, 1.000, "reproduced",
          "the statement as worded (Santurkar's deep linear net); SESOI 0.05 in cos(G, G')"),),
    "C1.2": (V("C1.a3", 3.8, 12, 0.000, "not reproduced",
          'construct-valid: gradient change per relative move of the earlier layers, at a rate where the plain '
          "net trains and at matched loss (dossier 12); SESOI 10 % of the reference arm's pilot mean (38.1)"),),
    "C1.3": (V("C1.c3", 0.024, 12, 1.000, "reproduced",
          "Ioffe's definition on a place BN does not pin: the next layer's input; SESOI 10 % of the reference "
          "arm's pilot mean (0.239)"),),
    "C1.4": (V("C1.d", 0.15, 12, 1.000, "reproduced",
          'BN with noise injected after every BN layer still trains better than the plain net; SESOI 10 % of '
          "the reference arm's pilot mean (1.50 nats)"),),
    "C2.1": (V("C2.a", 0.14, 12, 1.000, "reproduced",
          "the statement as worded (each arm at its best rate); SESOI 10 % of the reference arm's pilot mean "
          '(1.41)'),),
    "C2.2": (V("C2.b", 0.23, 12, 1.000, "reproduced",
          "training at a rate where the plain net does not; SESOI 10 % of the reference arm's pilot mean (2.31)"),),
    "C2.3": (V("C2.c3", 0.18, 12, 0.000, "reproduced",
          'construct-valid: careless BN against a plain net whose init and rate are tuned; SESOI 10 % of the '
          "reference arm's pilot mean (1.82)"),),
    "C3.1": (V("C3.c6", 0.027, 11, 0.000, "not reproduced",
          'construct-valid: Wasserstein-1 over the original std counts scale and shift, which recovery is about '
          "(KS does not); SESOI 10 % of the reference arm's pilot mean (0.268)"),),
    "C3.4": (V("C3.d3", 0.02, 11, 1.000, "reproduced",
          'construct-valid: gamma and beta against as many random weights, each at its validated rate; SESOI 2 '
          'accuracy points'),),
    "C4.1": (V("C4.a2", 0.086, 8, 0.000, "not reproduced",
          'construct-valid: test NLL after temperature scaling (calibration is the simpler cause of the raw NLL '
          "trend); SESOI 10 % of the reference arm's pilot mean (0.857 nats at G = 128), first to last"),),
    "C4.2": (V("C4.d2", 0.02, 12, 0.000, "not reproduced",
          'construct-valid: the generalization gap, which calibration does not move; SESOI 2 accuracy points'),),
    "C4.4": (V("C4.c", 0.02, 12, 0.000, "not reproduced",
          'the statement as worded (each arm at its own rate); SESOI 2 accuracy points'),),
    "S.1": (V("S.h", 0.12, 12, 0.000, "not reproduced",
          'construct-valid: curvature along the gradient by a Hessian-vector product, in effective-rate units '
          "(the loss range is |g|^2 at these steps, dossier 12); SESOI 10 % of the reference arm's pilot mean "
          '(1.22)'),),
    "S.2": (V("S.b", 0.36, 12, 1.000, "reproduced",
          'the statement as worded (scale-free gradient change along the gradient); SESOI 10 % of the reference '
          "arm's pilot mean (3.62)"),),
    "S.3": (V("S.c", 0.02, 12, 0.000, "not reproduced",
          'the statement as worded; its metric already asks for 20 % (log 1.25 shift), the SESOI adds 2 % in '
          'log units'),),
    "Y.1": (V("Y.a", None, 6, 1.000, "reproduced",
          'the statement as worded: TOST within its pre-declared +-5 % margin'),),
    "Y.2": (V("Y.b", 0.02, 8, 1.000, "reproduced",
          'batch size: per-layer growth factor, SESOI 0.02 first to last'),
             V("Y.c", 0.02, 13, 1.000, "reproduced",
          'activation: per-layer growth factor, SESOI 0.02'),),
    "Y.3": (V("Y.d2", 0.05, 6, 1.000, "reproduced",
          "construct-valid: BN's late loss minus a plain He net's at the same depth (depth hurts plain nets "
          'too); SESOI 0.05 nats first to last'),),
}


# Secondary checks that leave the ci profile to pay for round 2's seeds (they run in full and survey, and by id in
# any profile; the published round-2 report runs them by id). Chosen by CPU cost and by not sharing runs with a
# vote, before any run at seed base 300; cost = check wall-seconds in a cold ci run at an unused base (900).
MOVED_TO_FULL = {
    "C4.a": "raw test NLL across ghost sizes (86 s with C4.b, its own ensemble); the vote is C4.a2 (calibrated)",
    "C4.b": "shares C4.a's ensemble",
    "C3.gb1": "side statement C3.3 (68 s with C3.gb2, own ensemble)",
    "C3.gb2": "shares C3.gb1's ensemble",
    "C3.d1": "C3.4 as worded (43 s with C3.d2, own ensemble); the vote is C3.d3",
    "C3.d2": "shares C3.d1's ensemble",
    "LN.a": "LayerNorm landscape, a claim beyond the article (22 s, own ensemble)",
    "S.e.speed_l1": "S.5 (no vote): lp-normalized nets (30 s over the six lp checks, own ensembles)",
    "S.e.speed_l2": "as S.e.speed_l1",
    "S.e.speed_linf": "as S.e.speed_l1",
    "S.e.drift_l1": "as S.e.speed_l1",
    "S.e.drift_l2": "as S.e.speed_l1",
    "S.e.drift_linf": "as S.e.speed_l1",
    "C4.f": "C4.2 as worded (population statistics; 17 s, own ensemble); the vote is C4.d2",
    "C2.d": "C2.1 as worded, Ioffe's sigmoid MLP (18 s, own ensemble); the vote is C2.a",
    "C2.c": "C2.3 as worded (careless init, both arms careless; 11 s, own ensemble); the vote is C2.c3",
    "C4.e": "Monte-Carlo BN context check (own ensemble)",
    "C1.a": "C1.2 as worded, lr 0.02 with ICS probes over 2000 steps (76 s with its group in a cold run of the whole "
            "suite at base 901; its BN arm is not shared with a vote); the vote is C1.a3",
    "C1.a2": "shares C1.a's ensemble",
    "C1.c": "identity check on C1.a's ensemble",
    "C1.c2": "C1.3's pre-norm reading on C1.a's ensemble; the vote is C1.c3",
}


def votes_of(claim) -> dict[str, tuple]:
    """The round-2 votes of one claim's sub-claims: {sub-claim id: (Vote, ...)}."""
    return {s: v for s, v in VOTES.items() if s.split(".")[0] == claim.id}


def allocation(claim) -> dict[str, float]:
    """alpha per voting hypothesis: the claim's family-wise alpha split over its voting sub-claims, then over
    each sub-claim's votes."""
    votes = votes_of(claim)
    return {v.id: claim.fwer / len(votes) / len(vs) for vs in votes.values() for v in vs}


def apply(claim):
    """The claim with round 2's declarations: the voters confirmatory, with their alpha, SESOI, n, planned power
    and expected verdict; every other check secondary. The claim's standard ensemble (the ci seed count most of
    its checks share, so that they read the same runs) grows to the largest n of the claim's votes; each voter
    gets at least its own n."""
    votes = votes_of(claim)
    if not votes:
        moved = tuple(dataclasses.replace(h, profiles=("full", "survey")) if h.id in MOVED_TO_FULL and not h.profiles
                      else h for h in claim.hypotheses)
        return dataclasses.replace(claim, hypotheses=moved)
    alpha = allocation(claim)
    spec = {v.id: (v, sid) for sid, vs in votes.items() for v in vs}
    by_id = {h.id: h for h in claim.hypotheses}
    missing = sorted(set(spec) - set(by_id))
    if missing:
        raise ValueError(f"round 2 names checks {claim.id} does not declare: {', '.join(missing)}")
    claim_n = max(v.n for v, _sid in spec.values())
    counts = [h.budget("ci").seeds for h in claim.hypotheses if h.statistical and "ci" in h.budgets]
    standard = max(set(counts), key=lambda c: (counts.count(c), c)) if counts else None
    out = []
    for h in claim.hypotheses:
        changes = {}
        n = None
        if h.statistical and "ci" in h.budgets and h.budget("ci").seeds == standard:
            n = max(standard, claim_n)        # the claim's standard ensemble grows to its largest vote
        if h.id in spec:
            n = max(n or 0, h.budget("ci").seeds if "ci" in h.budgets else 0, spec[h.id][0].n)
        if n is not None and h.statistical:
            budgets = dict(h.budgets)
            for p in ("ci", "full"):
                if p in budgets and budgets[p].seeds < n:
                    budgets[p] = dataclasses.replace(budgets[p], seeds=n)
            if "ci" not in budgets:
                budgets["ci"] = Budget(seeds=n, steps=budgets.get("full", Budget(0)).steps)
            changes["budgets"] = budgets
        if h.id in spec:
            v, sid = spec[h.id]
            changes.update(confirmatory=True, role="evidence", alpha=alpha[h.id], profiles=(),
                           planned_power=v.power, expect=v.expect,
                           expect_reason=EXPECT_REASONS.get(h.id, "") if v.expect == "not reproduced" else "",
                           notes=(h.notes + " " if h.notes else "") + f"Round 2 vote for {sid}: {v.why}.")
            if v.sesoi is not None:
                changes["sesoi"] = v.sesoi
        elif h.votes:
            changes.update(confirmatory=False,
                           notes=(h.notes + " " if h.notes else "") + "Round 2: secondary evidence (it voted in "
                                 "the pilot round).")
        if h.id in MOVED_TO_FULL and not h.profiles:
            changes["profiles"] = ("full", "survey")
        out.append(dataclasses.replace(h, **changes) if changes else h)
    return dataclasses.replace(claim, hypotheses=tuple(out))


# The commit that registered round 2 (the lock commit): filled in by the commit after it, so that a report can
# say where the registration is; `git show REGISTERED_AT:claims/prereg.lock.json` holds the round entry.
REGISTERED_AT: str | None = "707f1a52e8ff4bdaa99674f62962fc328a73e8f3"


def banner(seed_base: int) -> dict | None:
    """What a report at this seed base says about the round it belongs to (None: the pilot keeps its own note)."""
    if seed_base == PILOT_BASE:
        return {"kind": "pilot", "text": "seed base 0 is the pilot round: exploratory."}
    where = (f"registered at commit {REGISTERED_AT[:12]} (the lock's round entry) before any run at seed base "
             f"{SEED_BASE}" if REGISTERED_AT else "not yet registered")
    if seed_base == SEED_BASE:
        return {"kind": "confirmatory", "registered_at": REGISTERED_AT,
                "text": f"Confirmatory round {ROUND} on seed base {SEED_BASE}: one set of votes per sub-claim, each a "
                        f"minimum-effect test at its Bonferroni share of alpha 0.01 per claim, with seeds planned by "
                        f"simulating the exact test; {where}. Every seed trains on the same MNIST-1D draw (data "
                        f"seed 42): the verdicts speak for that draw of the data set, not for its generating "
                        f"process."}
    if seed_base == REPLICATION_BASE:
        return {"kind": "replication", "registered_at": REGISTERED_AT,
                "text": f"Replication of round {ROUND} on seed base {REPLICATION_BASE} (registered with it; {where})."}
    return {"kind": "exploratory",
            "text": f"Seed base {seed_base} belongs to no registered round: its verdicts are exploratory."}
