"""Knock-outs (issue 24, item 7): each vote must die without its mechanism.

For every voting hypothesis we declare, before it runs, one harness variant that removes the mechanism the
vote names, with everything else (metric, test, alpha, seeds, budgets, criteria) left as it is. A vote whose
knock-out is still "reproduced" measures something besides that mechanism (a review found C1.a reproduced in
a harness whose BN skipped the normalization, with an effect 270x smaller than real BN's).

A knock-out is data: `arms` maps an arm of the vote's design to its replacement, one of
  - a dict of changes: `TrainSpec.replace` keywords for a spec arm ({"model_norm": "affine_only"}), or a
    settings update for a routine arm ({"bn": False});
  - another arm's name (that arm's declaration, as a Control does);
  - a whole `harness.design.Arm`.
Every other field of the arm (learning-rate grid, by_profile overrides, engine) is kept.

`knocked_out(ko)` builds the knocked-out Hypothesis (`dataclasses.replace` of the vote with its design's arms
replaced; of the vote's own controls only a declared null control is kept, as validation asks: the knock-out is
the check, its controls are not run). It runs through
`harness.runner.run_check` and the run store like any check (benchmarks/knockouts.py). Nothing here votes.

Knock-out arms (harness.norms): `affine_only` is BN's layer with the normalization skipped: the same
parameters (gamma = 1, beta = 0 at init, no bias before it) and z gamma + beta in training and eval;
`bn_detach` normalizes with the batch's statistics but passes no gradient through them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from bnclaims.harness import kit

EXPECTS = ("dies",)
SUFFIX = "~ko"          # a knocked-out hypothesis's id: the vote's id + SUFFIX (+ ":" + variant name)


@dataclass(frozen=True)
class KnockOut:
    """One pre-declared knock-out of one voting hypothesis."""
    vote: str                      # the voting hypothesis's id, e.g. "C1.a"
    subclaim: str                  # the sub-claim it serves (helper-common's list), e.g. "C1.2"
    removes: str                   # the mechanism removed, in words
    arms: Mapping = field(default_factory=dict)   # arm -> {changes} | other arm's name | Arm
    expect: str = "dies"           # the vote must stop reproducing
    variant: str = ""              # "" for the primary knock-out of a vote; a short name for a further one
    note: str = ""                 # what a survival would mean, or how this relates to a declared control

    def __post_init__(self):
        if self.expect not in EXPECTS:
            raise ValueError(f"{self.key}: expect must be one of {EXPECTS}, got {self.expect!r}")
        if not self.arms:
            raise ValueError(f"{self.key}: a knock-out replaces at least one arm")
        if not self.removes.strip():
            raise ValueError(f"{self.key}: say in words which mechanism the knock-out removes")

    @property
    def key(self) -> str:
        """The knock-out's own id: the vote's id, or vote:variant for a further knock-out of one vote."""
        return f"{self.vote}:{self.variant}" if self.variant else self.vote

    def describe(self) -> dict:
        """JSON-safe declaration (arms as their changes, or the replacing arm's name)."""
        arms = {}
        for name, repl in self.arms.items():
            if isinstance(repl, str):
                arms[name] = {"from_arm": repl}
            elif isinstance(repl, kit.Arm):
                arms[name] = {"arm": repr(repl)}
            else:
                arms[name] = {"changes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in repl.items()}}
        return {"key": self.key, "vote": self.vote, "subclaim": self.subclaim, "removes": self.removes,
                "arms": arms, "expect": self.expect, "note": self.note}


def _ao(arm: str = "bn") -> dict:
    return {arm: {"model_norm": "affine_only"}}


AFFINE = ("BN's normalization by the batch statistics (the layer keeps gamma and beta, their init and "
          "the dropped bias: z gamma + beta, norm 'affine_only')")

KNOCKOUTS: tuple[KnockOut, ...] = (
    KnockOut("C1.a", "C1.2", AFFINE, _ao(),
             note="Survival: the gradient-ICS difference comes from the gamma/beta reparametrization or the "
                  "missing bias, not from normalization (the review's finding, at 1/270 of BN's effect)."),
    KnockOut("C1.b", "C1.1", AFFINE, _ao(),
             note="Deep linear net: affine_only is the plain linear chain with a trainable per-unit scale."),
    KnockOut("C1.d", "C1.4",
             "the normalization under Santurkar's noise: the noisy arm keeps the injected per-unit noise "
             "(Alg. 1) but normalizes nothing (norm 'noisy_none', the plain net with that noise)",
             {"noisy_bn": {"model_norm": "noisy_none"}},
             note="Switching the noise off instead (noise (0, 1, 0, 0)) removes nothing the vote names: it "
                  "would be plain BN, a positive control, not a knock-out."),
    KnockOut("C2.a", "C2.1", AFFINE, _ao(),
             note="Same learning-rate grid; each arm still at its own best rate."),
    KnockOut("C2.c", "C2.3", AFFINE, _ao(),
             note="The careless init (sigmoid, N(0, 0.01^2)) without normalization: the gate 'BN trains' "
                  "should fail."),
    KnockOut("C2.d", "C2.1", AFFINE, _ao()),
    KnockOut("C3.c1", "C3.1",
             "the training of gamma and beta after insertion (lr_affine 1e-12: both stay at their insertion "
             "values to float precision); the running statistics still update as in training",
             {"after_recovery": {"lr_affine": 1e-12}, "at_insertion": {"lr_affine": 1e-12}},
             note="Close to the declared control 'no_recovery_training' (which reads the insertion state), "
                  "but it runs the recovery phase: a survival means the distance fell through the running "
                  "statistics' updates, not through gamma and beta."),
    KnockOut("C3.d1", "C3.4",
             "the normalization under the trained gamma and beta: only a per-unit scale and shift of the "
             "frozen random network is trained (norm 'affine_only', trainable 'bn_affine')", _ao("bn_only"),
             note="Removing gamma and beta themselves (bn_noaffine) leaves nothing to train: that is the "
                  "declared control 'untrained'. A survival here means the vote measures per-unit affine "
                  "training of any random net, not two parameters setting normalized moments."),
    KnockOut("C4.a", "C4.1",
             "the ghost-batch noise: every ghost batch is the whole optimizer batch (ghost_bn with "
             "G = 128 = batch, so every arm computes plain BN's statistics through the ghost-BN code)",
             {"G32": {"model_ghost_size": 128}, "G8": {"model_ghost_size": 128}},
             note="The manipulated factor is the mechanism itself, so the knock-out equals the declared "
                  "control 'all_g128' up to the kernel (ghost-BN code path, not bit-identical); it can only "
                  "catch a pipeline that finds a trend where none exists."),
    KnockOut("S.a", "S.1", AFFINE, _ao(),
             note="Both arms at the plain net's stability edge (lr 0.3); the trains-gates still apply."),
    KnockOut("S.a", "S.1",
             "the gradient through the batch statistics (Santurkar Thm. 4.1's projection terms): the forward "
             "pass normalizes as BN does, the backward pass treats mean and variance as constants "
             "(norm 'bn_detach')",
             {"bn": {"model_norm": "bn_detach"}}, variant="detach",
             note="A further knock-out: the paper credits the smoothing to the statistics' Jacobian, not to "
                  "the forward normalization."),
    KnockOut("Y.b", "Y.2",
             "BN itself: every batch size measured in the same ReLU net without normalization (bn False), "
             "where no sample's gradient depends on the batch",
             {"B=16": {"bn": False}, "B=64": {"bn": False}, "B=256": {"bn": False}},
             note="Without BN the growth factor should not depend on the batch; a trend here is an artefact "
                  "of averaging the gradient over more samples."),
    KnockOut("Y.c", "Y.2",
             "BN itself: the tanh and ReLU nets measured without normalization (bn False)",
             {"bn_tanh": {"bn": False}, "bn_relu": {"bn": False}},
             note="The vote reads 'a nonlinearity closer to linear reduces the explosion that BN causes'; "
                  "without BN there is no explosion, and the activations' own gains decide the order."),
)

# Round 2's new votes on engine arms (issue 26): declared with the round, before any run at seed base 300.
KNOCKOUTS += (
    KnockOut("C2.b", "C2.2", AFFINE, _ao(),
             note="At lr 3 without normalization the BN arm should fail as the plain net does."),
    KnockOut("C2.c3", "C2.3", AFFINE, _ao(),
             note="The careless init without normalization against the tuned plain net."),
    KnockOut("C3.d3", "C3.4",
             "the normalization under the trained gamma and beta (norm 'affine_only', trainable 'bn_affine'), "
             "each arm still at its validated rate", _ao("bn_only")),
    KnockOut("C4.a2", "C4.1",
             "the ghost-batch noise: every ghost batch is the whole optimizer batch (G = 128 in every arm)",
             {"G32": {"model_ghost_size": 128}, "G8": {"model_ghost_size": 128}},
             note="As C4.a's knock-out, on the calibrated NLL."),
    KnockOut("C4.c", "C4.4", AFFINE, _ao()),
    KnockOut("S.b", "S.2", AFFINE, _ao(), note="S.a's knock-out, on the gradient-predictiveness measure."),
    KnockOut("S.c", "S.3", AFFINE, _ao(), note="S.a's knock-out, on effective beta-smoothness."),
)

# Votes with no knock-out, and why (kept for the report and the test).
_ROUTINE = ("round 2 vote on a routine arm ({}): a knock-out needs the routine's own switch for the mechanism, "
            "not declared in issue 26; the knock-out benchmark does not cover it yet")
NO_KNOCKOUT: dict[str, str] = {
    "C1.a3": _ROUTINE.format("mlp_ics_next_input"),
    "C1.c3": _ROUTINE.format("mlp_ics_next_input"),
    "C3.c6": _ROUTINE.format("recovery_after_insertion; C3.c1's knock-out (lr_affine 1e-12) reads the same runs"),
    "C4.d2": _ROUTINE.format("bn_other_batch_stats"),
    "S.h": _ROUTINE.format("curvature_along_gradient"),
    "Y.a": "an equivalence with the mean-field theory: without BN there is no prediction to be equivalent to",
    "Y.d2": _ROUTINE.format("depth_pair"),
}


def by_key() -> dict[str, KnockOut]:
    out: dict[str, KnockOut] = {}
    for ko in KNOCKOUTS:
        if ko.key in out:
            raise ValueError(f"knock-out {ko.key} is declared twice")
        out[ko.key] = ko
    return out


def declarations_sha256() -> str:
    """sha256 of every knock-out's declaration (canonical JSON, declaration order): the pre-registration a
    results file names, so a later edit of a knock-out shows."""
    import hashlib
    import json
    blob = json.dumps([k.describe() for k in KNOCKOUTS], sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


def find_vote(vote: str):
    """(claim, hypothesis) of a registered hypothesis id."""
    from bnclaims.claims import CLAIMS
    for claim in CLAIMS:
        for h in claim.hypotheses:
            if h.id == vote:
                return claim, h
    raise KeyError(f"no registered hypothesis {vote!r}")


def replaced_arm(arm: kit.Arm, repl, arms: Mapping, where: str) -> kit.Arm:
    """One arm's knocked-out declaration."""
    if isinstance(repl, str):
        if repl not in arms:
            raise ValueError(f"{where}: takes arm {repl!r}, which is not declared")
        return arms[repl]
    if isinstance(repl, kit.Arm):
        return repl
    if not isinstance(repl, Mapping) or not repl:
        raise ValueError(f"{where}: give a dict of changes, an arm name or an Arm, got {repl!r}")
    if arm.spec is not None:
        return dataclasses.replace(arm, spec=arm.spec.replace(**dict(repl)))
    if arm.routine is not None:
        unknown = set(repl) - set(arm.settings)
        if unknown:
            raise ValueError(f"{where}: routine {arm.routine!r} has no settings {sorted(unknown)}")
        return dataclasses.replace(arm, settings={**dict(arm.settings), **dict(repl)})
    raise ValueError(f"{where}: a fixed comparator cannot be knocked out")


def knocked_out(ko: KnockOut, hyp=None):
    """The vote's Hypothesis with its design's arms replaced: id vote~ko (vote~ko:variant), exploratory, no
    controls but a declared null one. Raises ValueError (naming the knock-out) on an arm the vote does not declare."""
    if hyp is None:
        _, hyp = find_vote(ko.vote)
    if hyp.id != ko.vote:
        raise ValueError(f"{ko.key}: hypothesis {hyp.id!r} is not the vote {ko.vote!r}")
    d = hyp.design
    arms = dict(d.arms)
    for name, repl in ko.arms.items():
        if name not in d.arms:
            raise ValueError(f"{ko.key}: replaces arm {name!r}, which {ko.vote} does not declare "
                             f"(arms: {', '.join(d.arms)})")
        arms[name] = replaced_arm(d.arms[name], repl, d.arms, f"{ko.key}: arm {name!r}")
    if arms == dict(d.arms):
        raise ValueError(f"{ko.key}: the replacement leaves every arm as it is")
    # figures and extra describe the vote's own arms (they may not know a knocked-out one): not drawn
    design = dataclasses.replace(d, arms=arms, controls=tuple(c for c in d.controls if c.null), figures=None,
                                 extra=None)
    kid = ko.vote + SUFFIX + (f":{ko.variant}" if ko.variant else "")
    return dataclasses.replace(hyp, id=kid, design=design, confirmatory=False,
                               title=f"knock-out of {ko.vote}: {hyp.title}",
                               notes=f"knock-out ({ko.key}) removes {ko.removes}")


def validate_all() -> list:
    """Build and validate (harness.design.validate) every knock-out; returns the knocked-out hypotheses.
    A vote that lost its vote since (confirmatory=False) keeps its knock-out: it is still run and reported."""
    from bnclaims.harness import routines
    out = []
    for ko in by_key().values():
        _, hyp = find_vote(ko.vote)
        kh = knocked_out(ko, hyp)
        kit.validate(kh, routines.ROUTINES)
        out.append(kh)
    return out
