"""CPU cost of the survey profile (every robustness-map cell), from timed short runs.

For each map: the unique runs of all its cells at the survey budgets (the run store shares a run between
cells, e.g. the plain arm across the normalizer levels). A run's cost is its per-step time x its steps. The
per-step time is measured on this machine (one torch thread) by a short run of every distinct cost class:
(arm, depth, batch size, normalizer), with all of the arm's members. Learning rate and activation do not
change a step's cost and are not timed separately; evaluation every eval_every steps is in the short run's
first step only, so the estimate is a little low. Nothing is written to the run store.

Usage:  python benchmarks/survey_cost.py [--steps 20]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import registry, robustness as rb, routines, runner  # noqa: E402
from harness.context import RunContext  # noqa: E402


def _key(arm, seeds):
    from harness.spec import spec_dict
    if arm.spec is not None:
        return ("spec", json.dumps(spec_dict(arm.spec), sort_keys=True), tuple(arm.lrs), tuple(seeds))
    return ("routine", arm.routine, json.dumps(arm.settings, sort_keys=True, default=str), tuple(seeds))


def _steps(arm) -> int:
    return arm.spec.steps if arm.spec is not None else int(arm.settings.get("steps", 1))


def _timed(arm, seeds, steps: int) -> float:
    """Wall seconds per training step of a short run of this arm (all its members)."""
    from harness import engine
    if arm.spec is not None:
        spec = arm.spec.replace(steps=steps, eval_every=max(steps, 1))
        t0 = time.perf_counter()
        if arm.lrs:
            engine.train_batched(spec, [s for s in seeds for _ in arm.lrs], lrs=[lr for _ in seeds for lr in arm.lrs])
        else:
            engine.train(spec, seeds, arm.engine)
        return (time.perf_counter() - t0) / steps
    fn = routines.get(arm.routine).load()
    t0 = time.perf_counter()
    fn({**dict(arm.settings), "steps": steps}, seeds)
    return (time.perf_counter() - t0) / steps


def runs_of(hyp, ctx):
    arms = {name: runner.resolve_arm(a, hyp, ctx) for name, a in hyp.design.arms.items()}
    seeds = ctx.seeds(hyp)
    return {name: a for name, a in arms.items() if a.constant is None}, seeds


def _cls(name, arm):
    if arm.spec is not None:
        s = arm.spec
        return (name, s.model.depth, s.batch_size, s.model.norm, len(arm.lrs))
    st = arm.settings
    return (name, st.get("depth"), st.get("batch_size"), arm.routine)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20, help="steps of each timing run")
    a = ap.parse_args()
    from harness import engine  # noqa: F401  (one torch thread)
    ctx = RunContext(profile="survey")
    total, t_bench = 0.0, time.perf_counter()
    print("| map | cells | unique runs | cost classes timed | CPU-hours | largest cell (CPU-s) |")
    print("|---|---|---|---|---|---|")
    for claim in registry.claims():
        hyps = {h.id: h for h in claim.hypotheses}
        for m in claim.maps:
            timed: dict = {}
            seen, cost, worst = set(), 0.0, 0.0
            cells = [hyps[m.hypothesis]] + rb.map_hypotheses(claim, "survey")
            for h in cells:
                arms, seeds = runs_of(h, ctx)
                cell_cost = 0.0
                for name, arm in arms.items():
                    cls = _cls(name, arm)
                    if cls not in timed:
                        timed[cls] = _timed(arm, seeds, a.steps)
                    c = timed[cls] * _steps(arm)
                    cell_cost += c
                    key = _key(arm, seeds)
                    if key not in seen:
                        seen.add(key)
                        cost += c
                worst = max(worst, cell_cost)
            total += cost
            print(f"| {m.hypothesis} | {len(cells)} | {len(seen)} | {len(timed)} | {cost / 3600:.2f} | {worst:.0f} |",
                  flush=True)
    print(f"\nsurvey total: {total / 3600:.2f} CPU-hours on this machine (one torch thread per run), the map cells "
          f"only (the rest of the suite is the ci profile's); timing took {time.perf_counter() - t_bench:.0f} s")


if __name__ == "__main__":
    main()
