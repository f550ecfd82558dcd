"""Scheduling: which checks share runs (run groups), what a run costs, and in what order and shard groups go.
One cost, member-steps (members x training steps), orders and shards the pytest plugin's items and ranks the
executor's cluster tasks. No torch, here or in what this imports at module level: the plugin imports it.
"""
from __future__ import annotations

import json

from bnclaims.harness.run.context import RunContext
from bnclaims.harness.stats import verdict as vd


def member_steps(seeds: int, steps: int, rates=()) -> int:
    """A run's size in member-steps: members x training steps, where a rate grid's members are its rates x
    seeds (no rates: one member per seed)."""
    return seeds * max(len(rates), 1) * steps


def arms_cost(hyps, profile: str) -> float:
    """Member-steps of the distinct engine and routine arms of these hypotheses at the profile's budgets: an
    order, not a time (arms as declared; a budget without steps, which keeps the spec's own, counts one step)."""
    budget = RunContext(profile=profile).budget_profile
    seen, total = set(), 0.0
    for h in hyps:
        b = h.budget(budget)
        for a in (h.design.arms.values() if h.design is not None else ()):
            if a.constant is not None:
                continue
            key = (repr(a.spec), a.lrs, a.routine, repr(sorted(dict(a.settings).items())))
            if key not in seen:
                seen.add(key)
                total += member_steps(b.seeds, max(b.steps, 1), a.lrs)
    return total


def arm_keys(hyp, profile: str) -> set:
    """What the hypothesis (and its controls) may train, as keys two hypotheses share when they share runs:
    each spec arm's spec hash (whatever its rates or variants), each routine arm's routine and settings."""
    # imported here, not above: a pytest run that collects no claims never loads the runner (numpy, the store)
    from bnclaims.harness.declare.design import controls_of
    from bnclaims.harness.run.runner import resolve_arm
    from bnclaims.harness.spec import spec_hash
    if hyp.design is None:
        return set()
    ctx = RunContext(profile=profile)
    arms = list(hyp.design.arms.values())
    for c in controls_of(hyp):
        arms += [a for a in c.arms.values() if not isinstance(a, str)]
    keys = set()
    for a in arms:
        if a.constant is not None:
            continue
        a = resolve_arm(a, hyp, ctx)
        if a.spec is not None:
            keys.add(("spec", spec_hash(a.spec.replace(lr=0.1))))      # the rate is a grid axis, not a run
        else:
            keys.add(("routine", a.routine, json.dumps(dict(a.settings), sort_keys=True, default=str)))
    return keys


def run_groups(hyps: dict, profile: str) -> dict:
    """{root id: [hypothesis ids]}: hypotheses that share a run (arm_keys), transitively, form one group; its
    root is its first id in registry id order."""
    parent = {h: h for h in hyps}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner = {}
    for hid in sorted(hyps, key=vd.id_key):
        for key in arm_keys(hyps[hid], profile):
            if key in owner:
                a, b = find(hid), find(owner[key])
                if a != b:                       # the group keeps its first id as its root
                    lo, hi = sorted((a, b), key=vd.id_key)
                    parent[hi] = lo
            else:
                owner[key] = hid
    groups: dict = {}
    for hid in sorted(hyps, key=vd.id_key):
        groups.setdefault(find(hid), []).append(hid)
    return groups


def group_costs(groups: dict, hyps: dict, profile: str, *, run_only: bool = False) -> dict:
    """{root: arms_cost of its hypotheses}. run_only (the collection order): a hypothesis this profile does not
    run costs nothing; without it (the shard split) every hypothesis counts, run in this profile or not."""
    return {r: arms_cost([hyps[h] for h in ids if not run_only or hyps[h].runs_in(profile)], profile)
            for r, ids in groups.items()}


def costliest_first(groups: dict, cost: dict) -> list:
    """The group roots, costliest first, ties in id order (a root is its group's first id): the longest group
    does not start last."""
    return sorted(groups, key=lambda r: (-cost[r], vd.id_key(r)))


def assign_shards(groups: dict, cost: dict, n: int) -> dict:
    """{hypothesis id: shard 1..n}: groups go, costliest first, to the shard with the least cost so far (ties:
    the lower shard), so the split is deterministic and no run is trained in two shards."""
    load, where = [0.0] * n, {}
    for root in costliest_first(groups, cost):
        j = min(range(n), key=lambda i: (load[i], i))
        load[j] += cost[root]
        for hid in groups[root]:
            where[hid] = j + 1
    return where
