"""CPU cost of the survey profile (every robustness-map cell), from timed short runs.

For each map: the unique runs of all its cells at the survey budgets (the run store shares a run between
cells, e.g. the plain arm across the normalizer levels, or two maps over the same cells): the designed cells,
the held-out cells and the null cells' A/A arms (the control arm's runs are the cell's own; the other arms
train on disjoint seeds). A run's cost is a fixed part plus a per-step
part times its steps, both measured on this machine (one torch thread) by two short runs (--steps and twice
that) of every distinct cost class: (arm, depth, width, batch size, normalizer), with all of the arm's members.
The fixed part holds what does not grow with the steps (a routine's measurements on the whole data set, the
first evaluation); dividing one short run by its steps would charge it to every step and overstate a routine's
cost many times. Learning rate and activation do not change a step's cost and are not timed separately; the
evaluations every eval_every steps after the first are not in the short runs, so the estimate is a little low.
Nothing is written to the run store. Run it on an idle machine: other work on the cores inflates every time.

Usage:  python benchmarks/survey_cost.py [--steps 20]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnclaims.harness.declare import registry, maps as rb
from bnclaims.harness import routines
from bnclaims.harness.run import runner  # noqa: E402
from bnclaims.harness.run.context import RunContext  # noqa: E402


def _key(arm, seeds):
    from bnclaims.harness.spec import spec_dict
    if arm.spec is not None:
        return ("spec", json.dumps(spec_dict(arm.spec), sort_keys=True), tuple(arm.lrs), tuple(seeds))
    return ("routine", arm.routine, json.dumps(arm.settings, sort_keys=True, default=str), tuple(seeds))


def _steps(arm) -> int:
    return arm.spec.steps if arm.spec is not None else int(arm.settings.get("steps", 1))


def _timed(arm, seeds, steps: int) -> tuple[float, float]:
    """(fixed seconds, seconds per step) of this arm (all its members), from short runs of steps and 2 x steps."""
    t1, t2 = _short(arm, seeds, steps), _short(arm, seeds, 2 * steps)
    per_step = max(t2 - t1, 0.0) / steps
    return max(t1 - per_step * steps, 0.0), per_step


def _short(arm, seeds, steps: int) -> float:
    """Wall seconds of a short run of this arm (all its members)."""
    from bnclaims.harness import engine
    if arm.spec is not None:
        spec = arm.spec.replace(steps=steps, eval_every=max(steps, 1))
        t0 = time.perf_counter()
        if arm.lrs:
            engine.train_batched(spec, [s for s in seeds for _ in arm.lrs], lrs=[lr for _ in seeds for lr in arm.lrs])
        else:
            engine.train(spec, seeds, arm.engine)
        return time.perf_counter() - t0
    fn = routines.get(arm.routine).load()
    t0 = time.perf_counter()
    fn({**dict(arm.settings), "steps": steps}, seeds)
    return time.perf_counter() - t0


def runs_of(hyp, ctx, null: bool = False):
    """{arm: (resolved arm, seeds)} a cell trains; null: the arms its A/A control adds (disjoint seeds)."""
    from bnclaims.harness.declare import design as ds
    seeds = ctx.seeds(hyp)
    d, offsets = hyp.design, {}
    if null:
        aa = ds.null_control(hyp)
        d, offsets = d.with_control(aa), dict(aa.seeds)
    arms = {name: runner.resolve_arm(a, hyp, ctx) for name, a in d.arms.items()}
    return {name: (a, [s + int(offsets.get(name, 0)) for s in seeds]) for name, a in arms.items()
            if a.constant is None and (not null or name in offsets)}


def _cls(name, arm):
    if arm.spec is not None:
        s = arm.spec
        return (name, s.model.depth, s.model.width, s.batch_size, s.model.norm, len(arm.lrs))
    st = arm.settings
    return (name, st.get("depth"), st.get("batch_size"), arm.routine)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20, help="steps of each timing run")
    a = ap.parse_args()
    from bnclaims.harness import engine  # noqa: F401  (one torch thread)
    ctx = RunContext(profile="survey")
    total, t_bench = 0.0, time.perf_counter()
    print("| map | design | cells run (designed + held-out) of the grid | null cells | unique runs | cost classes "
          "timed | CPU-hours | largest cell (CPU-s) |")
    print("|---|---|---|---|---|---|---|---|")
    timed: dict = {}
    seen: set = set()             # runs shared across maps (C3.c1 and C3.c6 read the same cells) are paid once
    for claim in registry.claims():
        hyps = {h.id: h for h in claim.hypotheses}
        nulls = rb.null_cell_ids(claim, "survey")
        all_cells = rb.map_hypotheses(claim, "survey")      # every map of the claim, built and validated once
        for m in claim.maps:
            cost, worst, runs = 0.0, 0.0, 0
            mine = [h for h in all_cells if h.id.split(rb.SEP)[0] == m.hypothesis]
            cells = [(hyps[m.hypothesis], False)] + [(h, False) for h in mine] + [(h, True) for h in mine
                                                                                   if h.id in nulls]
            for h, null in cells:
                cell_cost = 0.0
                for name, (arm, seeds) in runs_of(h, ctx, null).items():
                    cls = _cls(name, arm) + (len(seeds),)     # a class is timed with its own number of members
                    if cls not in timed:
                        timed[cls] = _timed(arm, ctx.seeds(h), a.steps)
                    fixed, per_step = timed[cls]
                    c = fixed + per_step * _steps(arm)
                    cell_cost += c
                    key = _key(arm, seeds)
                    if key not in seen:
                        seen.add(key)
                        cost += c
                        runs += 1
                worst = max(worst, cell_cost)
            total += cost
            print(f"| {m.hypothesis} | {m.design} | {len(mine) + 1} of {len(m.grid())} | {len(m.null_cell_set())} | "
                  f"{runs} | {len(timed)} | {cost / 3600:.2f} | {worst:.0f} |", flush=True)
    print(f"\nsurvey total: {total / 3600:.2f} CPU-hours on this machine (one torch thread per run), the map cells "
          f"only (the rest of the suite is the ci profile's); timing took {time.perf_counter() - t_bench:.0f} s")


if __name__ == "__main__":
    main()
