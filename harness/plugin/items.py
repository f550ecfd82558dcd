"""The claim test items: one per registered hypothesis, declared control and map cell, in run groups, costliest
first (run.scheduling); their JUnit properties; and which items a run keeps (--claims-ids, --claims-shard).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bnclaims.harness.run import scheduling
from bnclaims.harness.stats import verdict as vd
from bnclaims.harness.plugin.session import SETTINGS
from bnclaims.harness.declare.evidence import evidence_table, to_builtin


class ClaimFailure(Exception):
    """A claim check's verdict fails its pre-registration; the message is the evidence table."""


class ClaimGroup(pytest.Collector):
    """The items of the checks that share runs (scheduling.run_groups) share a scope ("bnclaims/C2.a"), so --dist
    loadfile keeps their ensembles on one worker."""

    def collect(self):
        return []


def junit_properties(ev: dict, hyp, control: str | None) -> list[tuple[str, str]]:
    """Per-test properties for JUnit XML (--junitxml; GitLab and Jenkins show them): the verdict and its numbers,
    the declaration's alpha and role, and each arm's spec hash and n."""
    def num(x):
        return "" if x is None or isinstance(x, str) else f"{float(x):.6g}"

    st = ev["stats"]
    ci = st.get("ci") or [None, None]
    props = [("claim", hyp.claim), ("hypothesis", hyp.id), ("verdict", ev["verdict"]),
             ("effect", num(st.get("effect"))), ("ci_low", num(ci[0])), ("ci_high", num(ci[1])),
             ("p", num(st.get("p"))), ("alpha", num(st.get("alpha", hyp.alpha))),
             ("test", str(st.get("test", hyp.test))), ("role", hyp.role),
             ("confirmatory", str(hyp.confirmatory).lower()), ("votes", str(hyp.votes).lower()),
             ("n", ",".join(f"{a}={len(r.get('values') or [])}" for a, r in ev.get("arms", {}).items())),
             ("spec_hashes", ",".join(f"{a}={r['spec_hash']}" for a, r in ev.get("arms", {}).items()
                                      if r.get("spec_hash"))),
             ("profile", str(ev.get("profile"))), ("seed_base", str(ev.get("seed_base")))]
    if control is not None:
        props.append(("control", control))
    return props


class ClaimItem(pytest.Item):
    def __init__(self, *, hyp, claim, control=None, **kw):
        super().__init__(**kw)
        self.hyp, self.claim, self.control = hyp, claim, control
        self.add_marker(pytest.mark.claim(hyp.id))

    def reportinfo(self):
        return self.path, None, self.name

    def _not_run(self, ctx, why: str, absent: bool = False):
        """Skip with the reason; the report lists the check as not run (JUnit: verdict "not run"). absent: for want
        of data the user's folder does not hold, not by the profile's declaration."""
        hyp = self.hyp
        self.__dict__.pop("_bnclaims_declaration", None)
        self.user_properties.extend([("claim", hyp.claim), ("hypothesis", hyp.id), ("verdict", "not run"),
                                     ("profiles", ",".join(hyp.profiles)), ("profile", ctx.profile)])
        if self.control is None:
            self._bnclaims_not_run = json.dumps({"id": hyp.id, "claim": self.claim.id, "title": hyp.title,
                                                 "profiles": list(hyp.profiles), "why": why,
                                                 **({"absent": True} if absent else {})}, sort_keys=True)
        pytest.skip(why)

    def runtest(self):
        from bnclaims.harness.run import runner

        ctx = self.config.stash[SETTINGS].ctx
        hyp = self.hyp
        if not hyp.runs_in(ctx.profile) and not getattr(self, "explicit", False):
            self._not_run(ctx, f"{hyp.id} runs in the {', '.join(hyp.profiles)} profile(s) only: its runs cost more "
                               f"CPU than the {ctx.profile} budget carries; select it by id (--claims-ids {hyp.id}) "
                               "to run it here")
        declaration = to_builtin(hyp.declaration())
        if self.control is None:
            self._bnclaims_declaration = json.dumps(
                {"id": hyp.id, "claim": to_builtin(self.claim.summary()), "hypothesis": declaration},
                allow_nan=False, sort_keys=True)
        from bnclaims.harness import store
        from bnclaims.harness import userdata
        before = dict(store.RUN_COUNTS)
        try:
            ev = runner.run_check(hyp, self.claim, ctx, control=self.control)
        except userdata.DataAbsent as e:        # an optional data set the user's folder does not hold
            self._not_run(ctx, f"{hyp.id} needs data the folder does not hold: {e}", absent=True)
        self._bnclaims_runs = json.dumps({k: store.RUN_COUNTS[k] - before[k] for k in before})
        self.user_properties.extend(junit_properties(ev, hyp, self.control))
        if ev["id"] != hyp.id or ev["hypothesis"] != declaration:
            raise ValueError(f"{hyp.id}: the evidence's hypothesis differs from the pre-registered declaration")
        reason = ev["stats"].get("reason") or "no reason given"
        table = evidence_table(ev)
        if self.control is not None:
            c = hyp.design.control(self.control, hyp)
            st = ev["stats"]
            self._bnclaims_control = json.dumps(to_builtin({
                "id": hyp.id, "control": c.name, "kind": ev["extra"].get("control_kind"), "expect": c.expect,
                "verdict": ev["verdict"], "alpha": st.get("alpha"), "p": st.get("p"), "effect": st.get("effect"),
                "seeds": ev["extra"].get("control_seeds"), "what": c.what, "gating": hyp.votes or not hyp.statistical}),
                allow_nan=False, sort_keys=True)
            result, why = vd.control_outcome(ev["verdict"], expect=c.expect, profile=ctx.profile,
                                             gating=hyp.votes or not hyp.statistical)
            if result == vd.XFAILED:
                pytest.xfail(f"{hyp.id} control {c.name!r}: {why}")
            if result == vd.FAILED:
                raise ClaimFailure(f"{hyp.id} control {c.name!r} ({c.what}): {why}\n{table}")
            return
        self._bnclaims_evidence = json.dumps(ev, allow_nan=False, sort_keys=True)
        result, why = vd.outcome(ev["verdict"], expect=hyp.expect, confirmatory=hyp.confirmatory,
                                 profile=ctx.profile, underpowered=hyp.underpowered)
        if result == vd.XFAILED:
            detail = f": {hyp.expect_reason}" if ev["verdict"] == hyp.expect == "not reproduced" else ""
            pytest.xfail(f"{why}{detail} ({reason})")
        if result == vd.FAILED:
            head = f"{why}: {hyp.statement}" if why == "NOT REPRODUCED" else why
            raise ClaimFailure(f"{hyp.id}: {head}\n{table}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)


def _claim_path(claim, default: Path) -> Path:
    """Every item of a claim (its hypotheses, controls and map cells) is filed under the claim's own module."""
    from bnclaims.harness.declare import registry
    f = registry.module_file(claim.id)
    return Path(f) if f else default


def claim_items(session) -> list:
    """One item per registered hypothesis, per declared control and per robustness-map cell. Items whose checks
    share a run (scheduling.run_groups) share a scope ("bnclaims/C4.a": the group's first id), so --dist loadfile
    keeps a shared ensemble on one worker while other groups go elsewhere; groups come costliest first
    (scheduling.costliest_first), each in registry order, so the longest group does not start last."""
    from bnclaims.harness.declare import registry
    from bnclaims.harness.declare.design import DeclarationError, controls_of, null_control
    from bnclaims.harness.declare.maps import MapError, map_hypotheses, null_cell_ids

    profile = session.config.stash[SETTINGS].ctx.profile

    try:
        claims = registry.claims(session.config.stash[SETTINGS].packs)
    except DeclarationError as e:
        raise pytest.UsageError(f"bnclaims: malformed claim declaration: {e}") from None
    entries = []     # (claim, hypothesis, path, is a map cell) in registry order, the cells after their claim's checks
    nulls = set()    # map cells that run their A/A control too (a map's own false-positive rate)
    for claim in claims:
        nulls |= null_cell_ids(claim, profile)
        for hyp in claim.hypotheses:
            entries.append((claim, hyp, _claim_path(claim, session.config.rootpath),
                            False))
        try:    # robustness-map cells: exploratory items of their own (the survey profile runs every cell)
            cells = map_hypotheses(claim, profile)
        except (DeclarationError, MapError) as e:
            raise pytest.UsageError(f"bnclaims: malformed robustness map: {e}") from None
        entries += [(claim, hyp, _claim_path(claim, session.config.rootpath), True) for hyp in cells]
    by_id = {h.id: h for _, h, _, _ in entries}
    groups = scheduling.run_groups(by_id, profile)
    root_of = {hid: root for root, ids in groups.items() for hid in ids}
    cost = scheduling.group_costs(groups, by_id, profile, run_only=True)   # a check not run here costs nothing
    scopes = {}
    for root in scheduling.costliest_first(groups, cost):
        scopes[root] = ClaimGroup.from_parent(session, name=root, nodeid=f"bnclaims/{root}")
    items = {root: [] for root in scopes}
    for claim, hyp, path, cell in entries:
        group = scopes[root_of[hyp.id]]
        bucket = items[root_of[hyp.id]]
        bucket.append(ClaimItem.from_parent(group, name=hyp.id, hyp=hyp, claim=claim, path=path))
        ctls = controls_of(hyp) if not cell else ([null_control(hyp)] if hyp.id in nulls else [])
        for c in (c for c in ctls if c is not None):
            bucket.append(ClaimItem.from_parent(group, name=f"{hyp.id}[{c.name}]", hyp=hyp, claim=claim,
                                                control=c.name, path=path))
    return [it for root in scopes for it in items[root]]


def shard_items(items: list, k: int, n: int, profile: str) -> list:
    """The items of shard k of n. Claim items: by run group (scheduling.assign_shards), a hypothesis's controls
    with it, so no run is trained in two shards. Other test items: by file, the sorted files dealt round-robin."""
    hyps = {}
    for it in items:
        if isinstance(it, ClaimItem):
            hyps.setdefault(it.hyp.id, it.hyp)
    groups = scheduling.run_groups(hyps, profile)
    where = scheduling.assign_shards(groups, scheduling.group_costs(groups, hyps, profile), n)
    files = sorted({str(i.path) for i in items if not isinstance(i, ClaimItem)})
    file_shard = {f: (idx % n) + 1 for idx, f in enumerate(files)}
    return [i for i in items if (where[i.hyp.id] if isinstance(i, ClaimItem) else file_shard[str(i.path)]) == k]


# ---- selection -----------------------------------------------------------------------------

def _claim_ids(item) -> list[str]:
    return [str(m.args[0]) for m in item.iter_markers("claim") if m.args]


def _selected(item, ids: list[str]) -> bool:
    if isinstance(item, ClaimItem):
        from bnclaims.harness.declare.registry import matches
        return any(matches(item.hyp, s) for s in ids)
    for m in _claim_ids(item):
        for s in ids:
            if m == s or m.startswith(s + "."):
                return True
            if s.startswith(m + "."):
                spec = getattr(item, "callspec", None)
                if spec is None or s in re.split(r"[-\[\]]", spec.id):
                    return True
    return False


def keep_only(config, items: list, keep: list) -> None:
    """Deselect every item not in keep (reported to pytest as deselected)."""
    kept = {id(i) for i in keep}
    drop = [i for i in items if id(i) not in kept]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def select_ids(config, items, ids) -> None:
    """Keep the items the --claims-ids select; an id that selects nothing is a usage error."""
    keep = []
    for item in items:
        if _selected(item, ids):
            keep.append(item)
        if isinstance(item, ClaimItem) and item.hyp.id in ids:
            item.explicit = True          # named by its own id: runs even outside its profiles
    unmatched = [i for i in ids if not any(_selected(item, [i]) for item in keep)]
    if unmatched:
        raise pytest.UsageError(f"--claims-ids: {', '.join(unmatched)} matches no collected claim check "
                                "(see `bnclaims list` for the ids)")
    keep_only(config, items, keep)

