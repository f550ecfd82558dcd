"""False-positive rates of the whole pipeline under no effect, per check, with Clopper-Pearson intervals, and the
winner's curse of best-rate selection. Four Markdown tables:

1. Real A/A from fresh training (every statistical hypothesis with a null control whose realisation costs at
   most --max-cpu-s CPU-seconds, default 5). A realisation is the hypothesis's null control (its A/A control,
   harness.declare.design.AA, or the null control it declares where no A/A can be built, e.g. against a fixed
   comparator) run end to end by harness.run.runner.run_check, training included, at the ci profile, on a fresh
   seed base (replicate r: base 5000 + r; the suite's bases 0, 300 and 400 are never used here), in a
   temporary run store (--fresh-store). Each replicate has its own seed base, so the replicates are independent:
   rate = reproduced / replicates, with a Clopper-Pearson 95% interval, printed beside alpha. Voting hypotheses
   carry a SESOI and their A/A controls use the minimum-effect test, so their rate should sit far below alpha.
   Cost: the first realisation is timed in CPU-seconds (process time; one torch thread) and stopped at the limit;
   a family over it is listed as skipped, with its cost ("> limit"; with --store, beside the wall seconds the
   suite recorded for the check), and one that cannot run (e.g. a paper check without its data) with its error.
   Costs are marginal: a run another hypothesis already trained in the temporary store at the same seed base is
   read, as in the suite. Measured here: Y.b, Y.c, C1.f, Y.d about 1 CPU-s, Y.d2 about 3; engine-trained
   families (C1.a, S.a, ...) and routines such as S.h, C1.c3, C4.d1, Y.a are over 5.
2. Permutation-null check (resampled splits of one pool: checks the code path, not the error rate), only for
   the hypotheses whose fresh realisation is over the limit (for all of them with an A/A control under
   --real-reps 0), and only with --store: the control arm's runs on all the seeds the suite trained for it (the
   hypothesis's seeds and the A/A arms' disjoint seeds, seed base 0) are split at random into arms of the
   declared size and pushed through the same code as a real check (rate selection on a grid, the reduction, the
   margin shift of an equivalence null, the test at the allocated alpha, criteria and gates). For rank tests
   this reproduces the permutation null by construction, and the splits of one pool of about 18 seeds overlap,
   so their Clopper-Pearson interval overstates the precision: it checks the code path, not the error rate.
3. The bare tests at the (test, n, alpha, pairing) combinations the declarations use, on normal, lognormal and
   tied (rounded) data.
4. Winner's curse of best-rate selection: for a hypothesis whose arms pick their best rate from a learning-rate
   grid on the very seeds they compare (harness.run.runner._reduce with Metric.select and no tune_seeds, e.g.
   C2.a), the effect (mean x - y, as the check reports it) on the seeds that selected the rates against the
   effect of the same selected rates re-trained on fresh seeds (a disjoint seed base), per replicate
   (selection base 6000 + r, fresh base 7000 + r); the mean bias over --curse-reps replicates with a t 95%
   interval. Designs that tune on disjoint seeds (Metric.tune_seeds) already compare fresh seeds and are not
   measured. A replicate trains a whole grid: where the first replicate of the cheapest grid hypothesis is over
   --max-cpu-s, only that hypothesis is measured (select another with --only, e.g. --only C2.a). The cheapest is
   C3.gb3 (9 seeds x 6 rates x 2 arms): about 80 CPU-s a replicate here, so the default 2 replicates take ~3 min.

Target: every false-positive rate at or below its alpha. The last column says "yes" only where the whole 95%
interval is at or below alpha; "not shown": the rate is at or below alpha, but there are too few replicates for the
interval to show it (with no hit, about 3/alpha replicates are needed); "within noise": above alpha, with the
interval reaching it; "NO": the whole interval above it. Rates are deterministic for the same arguments (fixed seed
bases and resampling seeds); the CPU-second columns are measurements, so a family within a few percent of
--max-cpu-s can fall on either side of it. Usage:
    python benchmarks/pipeline_fpr.py [--only IDS] [--real-reps 40] [--max-cpu-s 5] [--curse-reps 2]
                                      [--store STORE] [--splits 2000] [--bare 4000] [--fresh-store DIR]
(--ids ID ... selects as --only does; --real-bases is the former name of --real-reps.)
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import signal
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnclaims.harness.run import checks, runner
from bnclaims.harness.declare import design as ds, registry
from bnclaims.harness.stats import compare as st_compare, trend, verdict as vd
from bnclaims.harness import store as run_store  # noqa: E402
from bnclaims.harness.run.context import RunContext  # noqa: E402

RESERVED_BASES = frozenset({0, 300, 400})   # the pilot, the confirmatory round and its replication: never used here
REAL_BASE = 5000            # real A/A replicate r: seed base REAL_BASE + r
CURSE_SELECT_BASE = 6000    # winner's curse replicate r: rates selected on base CURSE_SELECT_BASE + r ...
CURSE_FRESH_BASE = 7000     # ... and re-measured on base CURSE_FRESH_BASE + r
MAX_REPS = 1000             # keeps the three ranges of bases apart
PROFILE = "ci"


def judged(rate: float, lo: float, alpha: float, hi: float | None = None) -> str:
    """yes: the whole 95% interval at or below alpha (shown); not shown: the rate is at or below alpha but the
    interval reaches above it (too few replicates to show it); within noise: the rate is above alpha, the interval
    reaches it; NO: the whole interval above alpha. Without hi, the rate alone decides "yes"."""
    if rate <= alpha:
        return "not shown" if hi is not None and hi > alpha else "yes"
    return "within noise" if lo <= alpha else "NO"


def cp(k: int, n: int, level: float = 0.95):
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return ci.low, ci.high


def _no_interval(*a, **k):
    return (float("nan"), float("nan"))


@contextlib.contextmanager
def cheap_intervals():
    """Bootstrap intervals skipped (they never enter a verdict), restored on exit."""
    old = st_compare.bca_ci          # compare() looks the name up in its own module
    st_compare.bca_ci = _no_interval
    try:
        yield
    finally:
        st_compare.bca_ci = old


def _bases(first: int, reps: int) -> list[int]:
    bases = [first + r for r in range(reps)]
    bad = RESERVED_BASES.intersection(bases)
    if bad:
        raise ValueError(f"seed bases {sorted(bad)} are reserved for the suite")
    return bases


# ---------------------------------------------------------------------------------- CPU-second limit
class OverLimit(BaseException):
    """Raised inside a realisation once it has used its CPU seconds (a BaseException: no `except Exception` in
    the harness swallows it)."""


@contextlib.contextmanager
def cpu_limit(seconds: float | None):
    """Raise OverLimit once this process has used `seconds` more CPU time (SIGPROF; main thread only, else
    unlimited: the caller still compares the measured time with the limit)."""
    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer") \
            or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise OverLimit

    old = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


# ---------------------------------------------------------------------------------- 1. real A/A, fresh training
def null_of(hyp) -> ds.Control | None:
    """The hypothesis's null control: its A/A control (harness.declare.design.AA), or the null control it declares."""
    if not hyp.statistical or hyp.design is None:
        return None
    return next((c for c in ds.controls_of(hyp) if c.null), None)


def real_aa(hyp, claim, reps: int, store: str, max_cpu_s: float | None = None, first_base: int = REAL_BASE) -> dict:
    """Rate of "reproduced" of the null control run end to end on fresh seed bases first_base + r, r < reps.

    The first realisation is timed and stopped at max_cpu_s CPU-seconds (None or 0: no limit); a family over
    it returns skipped (with the CPU seconds spent) and no rate. Returns id, control, bases, cpu_s (per
    realisation), hits, n, verdicts (Counter), skipped (None or why), probe_cpu_s."""
    c = null_of(hyp)
    out = {"id": hyp.id, "control": None if c is None else c.name, "bases": [], "cpu_s": [], "hits": 0, "n": 0,
           "verdicts": collections.Counter(), "skipped": None, "probe_cpu_s": None}
    if c is None:
        out["skipped"] = "no null control"
        return out
    for r, base in enumerate(_bases(first_base, reps)):
        ctx = RunContext(profile=PROFILE, seed_base=base, store=store)
        t0 = time.process_time()
        try:
            with cpu_limit(max_cpu_s if r == 0 else None):
                ev = runner.run_check(hyp, claim, ctx, control=c.name)
        except OverLimit:
            out["probe_cpu_s"] = time.process_time() - t0
            out["skipped"] = f"over {max_cpu_s:g} CPU-s: the first realisation was stopped after {out['probe_cpu_s']:.1f}"
            return out
        cpu = time.process_time() - t0
        if r == 0:
            out["probe_cpu_s"] = cpu
            if max_cpu_s and max_cpu_s > 0 and cpu > max_cpu_s:
                out["skipped"] = f"over {max_cpu_s:g} CPU-s: the first realisation took {cpu:.1f}"
                return out
        out["bases"].append(base)
        out["cpu_s"].append(cpu)
        out["n"] += 1
        out["verdicts"][ev["verdict"]] += 1
        out["hits"] += ev["verdict"] == "reproduced"
    return out


REAL_HEAD = ("| hypothesis | votes | null control | test | SESOI | n per arm | seed bases | CPU-s per realisation | "
             "reproduced | replicates | rate | 95% CI (Clopper-Pearson) | alpha | at or below alpha |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def _test_name(h) -> str:
    return f"{h.test}{' paired' if h.paired else ''}" + (" min-effect" if h.sesoi is not None else "")


def real_row(h, r: dict) -> str:
    """One Markdown row of a family that ran."""
    lo, hi = cp(r["hits"], r["n"])
    rate = r["hits"] / r["n"]
    bases = f"{r['bases'][0]}-{r['bases'][-1]}" if len(r["bases"]) > 1 else str(r["bases"][0])
    return (f"| {h.id} | {'yes' if h.votes else 'no'} | {r['control']} | {_test_name(h)} | "
            f"{'' if h.sesoi is None else f'{h.sesoi:.4g}'} | {h.budget(PROFILE).seeds} | {bases} | "
            f"{np.mean(r['cpu_s']):.2f} | {r['hits']} | {r['n']} | {rate:.4f} | [{lo:.4f}, {hi:.4f}] | {h.alpha:.4g} | "
            f"{judged(rate, lo, h.alpha, hi)} |")


def real_section(hyps, claims, reps: int, max_cpu_s: float | None, store: str, out=print,
                 recorded: dict | None = None) -> tuple[list, list]:
    """Section 1: prints the table, returns (results of the families that ran, results of those over the limit).
    recorded: {hypothesis id: wall s} the suite's store recorded for the checks (harness.store.read_timings),
    shown beside the families over the limit."""
    out(f"## 1. Real A/A from fresh training ({PROFILE} profile; {reps} replicates, seed bases "
        f"{REAL_BASE}-{REAL_BASE + reps - 1}, each its own base; families up to "
        f"{max_cpu_s:g} CPU-s per realisation)\n" if max_cpu_s else
        f"## 1. Real A/A from fresh training ({PROFILE} profile; {reps} replicates, seed bases "
        f"{REAL_BASE}-{REAL_BASE + reps - 1}, each its own base; no CPU limit)\n")
    out(REAL_HEAD)
    ran, over, errors, none = [], [], [], []
    for h in hyps:
        if null_of(h) is None:
            none.append(h.id)
            continue
        t0 = time.perf_counter()
        try:
            r = real_aa(h, claims[h.claim], reps, store, max_cpu_s)
        except Exception as e:      # e.g. a paper check without its data set: say so, go on
            errors.append((h, f"{type(e).__name__}: {e}"))
            continue
        print(f"  {h.id}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        if r["skipped"]:
            over.append((h, r))
            continue
        ran.append((h, r))
        out(real_row(h, r))
        sys.stdout.flush()
    if over:
        out("\nSkipped: fresh training over the limit (their permutation-null check is in section 2)\n")
        out("| hypothesis | null control | CPU-s per realisation | wall s of the check recorded by --store | why |\n"
            "|---|---|---|---|---|")
        for h, r in over:
            wall = (recorded or {}).get(h.id)
            cost = f"> {max_cpu_s:g}" if r["probe_cpu_s"] < max_cpu_s else f"{r['probe_cpu_s']:.1f}"
            out(f"| {h.id} | {r['control']} | {cost} | {'' if wall is None else f'{wall:.1f}'} | {r['skipped']} |")
    if errors:
        out("\nNot realised (error)\n\n| hypothesis | error |\n|---|---|")
        for h, e in errors:
            out(f"| {h.id} | {e.replace('|', '/')[:200]} |")
    if none:
        out(f"\nNo null control (deterministic or none declared): {', '.join(none)}")
    return ran, over


# ---------------------------------------------------------------------------------- 2. permutation-null check
def subset(run, idx, grid: bool, total: int):
    """The members idx of one arm's runs (a grid arm: per rate). The seed axis is the engine's convention
    (harness.run.checks.member_axis) where its length is the pool's, else the first axis of that length
    (routines keep per-seed arrays on axis 0)."""
    if grid:
        return {lr: subset(r, idx, False, total) for lr, r in run.items()}
    out = {}
    for key, v in run.items():
        axis = checks.seed_axis(key, np.asarray(v), total)
        out[key] = v if axis is None else np.take(v, idx, axis)
    return out


def resampled(hyp, ctx, splits: int, rng) -> dict | None:
    """Permutation-null check: rate of "reproduced" over random splits of the A/A control arm's pooled runs
    (checks the code path, not the error rate). None where the hypothesis has no A/A control."""
    aa = ds.null_control(hyp)
    if aa is None:
        return None
    d = hyp.design.with_control(aa)
    res = runner.Result(hyp=hyp, ctx=ctx, design=d, control=aa.name, seeds=ctx.seeds(hyp))
    res.arms = {name: runner.resolve_arm(a, hyp, ctx) for name, a in d.arms.items()}
    compared = list(hyp.arms)
    ref = compared[0] if hyp.direction in ("decreasing", "increasing") else compared[1]
    arm = res.arms[ref]
    grid = bool(arm.lrs)
    n = len(res.seeds)
    memo: dict = {}
    d = res.design = runner._tuned(res, d, memo)      # a rate tuned on other seeds is tuned as in the check
    offsets = [0] + [aa.seeds[a] for a in compared if a in aa.seeds]
    pool = [runner._run_arm(arm, [s + o for s in res.seeds], ctx, memo) for o in offsets]
    pool = runner.join_seeds(pool, grid, n)
    total = n * len(offsets)
    hits = 0
    for _ in range(splits):
        perm = rng.permutation(total)
        for j, name in enumerate(compared):
            res.runs[name] = subset(pool, perm[j * n:(j + 1) * n], grid, total)
        for name, a in res.arms.items():
            if name not in compared and a.constant is None:
                continue
            if name not in res.runs:
                res.runs[name] = None
            res.values[name], res.arrays[name], res.lr[name] = runner._reduce(a, res.runs[name], d.metric_of(name), n)
            if name in aa.shift:
                res.values[name] = res.values[name] + aa.shift[name]
        stats = runner._test(res)
        stats = vd.apply_criteria(stats, [runner._criterion(c, res) for c in d.criteria])
        hits += stats["verdict"] == "reproduced"
    return {"hits": hits, "n": splits, "pool": total}


PERM_TITLE = ("Permutation-null check (resampled splits of one pool: checks the code path, not the error rate)")


def permutation_section(hyps, store: str | None, splits: int, why: str, out=print) -> None:
    out(f"\n## 2. {PERM_TITLE}\n")
    out(f"For: {why}.\n")
    if not hyps:
        out("None.")
        return
    if not store:
        out("Not run: needs --store, the run store the suite filled (ci profile, seed base 0). Hypotheses: "
            + ", ".join(h.id for h in hyps))
        return
    ctx = RunContext(profile=PROFILE, seed_base=0, store=store)
    out("| hypothesis | votes | test | n per arm | alpha | pool seeds | splits | reproduced | "
        "permutation-null check: rate over resampled splits (code path, not the error rate) | 95% CI over overlapping "
        "splits (overstates precision) | at or below alpha |")
    out("|---|---|---|---|---|---|---|---|---|---|---|")
    for h in hyps:
        rng = np.random.default_rng([20261201, zlib.crc32(h.id.encode())])   # each hypothesis's own splits
        t0 = time.perf_counter()
        try:
            r = resampled(h, ctx, splits, rng)
        except Exception as e:      # a missing or odd run: say so, go on
            out(f"| {h.id} | | {h.test} | | {h.alpha:.4g} | | | error: {type(e).__name__}: {e} | | | |")
            continue
        if r is None:
            out(f"| {h.id} | {'yes' if h.votes else 'no'} | {h.test} | {h.budget(PROFILE).seeds} | {h.alpha:.4g} | "
                "| | declared null control (fixed comparator): not resampled | | | |")
            continue
        lo, hi = cp(r["hits"], r["n"])
        rate = r["hits"] / r["n"]
        out(f"| {h.id} | {'yes' if h.votes else 'no'} | {_test_name(h)} | "
            f"{h.budget(PROFILE).seeds} | {h.alpha:.4g} | {r['pool']} | {r['n']} | {r['hits']} | {rate:.4f} | "
            f"[{lo:.4f}, {hi:.4f}] | {judged(rate, lo, h.alpha, hi)} |")
        sys.stdout.flush()
        print(f"  {h.id}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)


# ---------------------------------------------------------------------------------- 3. bare tests
def bare(combos, draws: int, rng) -> list:
    rows = []
    for (test, n, alpha, paired, k) in sorted(combos):
        for dist in ("normal", "lognormal", "tied"):
            hits = 0
            for _ in range(draws):
                shape = (k, n) if test == "trend" else (2, n)
                v = rng.standard_normal(shape)
                if dist == "lognormal":
                    v = np.exp(v)
                elif dist == "tied":
                    v = np.round(v)
                if paired:
                    v = v + 3 * rng.standard_normal(n)          # a seed (block) effect shared by the arms
                if test == "trend":
                    p = trend.trend_test(list(v), "decreasing", paired=paired)["p"]
                else:
                    p = st_compare.one_sided_p(v[0], v[1], test, "greater", paired=paired)
                hits += p < alpha
            rows.append((test, n, alpha, paired, k, dist, hits, draws))
    return rows


def bare_section(hyps, draws: int, out=print) -> None:
    combos = set()
    for h in hyps:
        if h.test == "tost":
            continue
        combos.add((h.test, h.budget(PROFILE).seeds, round(h.alpha, 6), bool(h.paired),
                    len(h.arms) if h.test == "trend" else 2))
    out("\n## 3. The bare tests at the combinations in use (seed effect shared by paired arms)\n")
    out("| test | n | alpha | paired | groups | data | rejections | draws | rate | 95% CI | at or below alpha |")
    out("|---|---|---|---|---|---|---|---|---|---|---|")
    for (test, n, alpha, paired, k, dist, hits, draws) in bare(combos, draws, np.random.default_rng(20261202)):
        lo, hi = cp(hits, draws)
        out(f"| {test} | {n} | {alpha:.4g} | {paired} | {k} | {dist} | {hits} | {draws} | {hits / draws:.4f} | "
            f"[{lo:.4f}, {hi:.4f}] | {judged(hits / draws, lo, alpha, hi)} |")
        sys.stdout.flush()


# ---------------------------------------------------------------------------------- 4. winner's curse
def selecting_arms(hyp) -> list[str]:
    """Compared arms that pick their rate from a grid on the seeds they compare (Metric.select, no tune_seeds)."""
    d = hyp.design
    if not hyp.statistical or d is None or hyp.direction not in ("greater", "less") or len(hyp.arms) != 2:
        return []
    out = []
    for name in hyp.arms:
        arm, m = d.arms[name], d.metric_of(name)
        if arm.lrs and m is not None and m.select is not None and m.at_lr is None and not m.tune_seeds:
            out.append(name)
    return out


def grid_cost(hyp) -> int:
    """Training member-steps of one check (seeds x grid rates x steps over its compared arms): ranks the grid
    hypotheses by cost (their networks are alike)."""
    ctx = RunContext(profile=PROFILE)
    n = hyp.budget(PROFILE).seeds
    total = 0
    for name in hyp.arms:
        arm = runner.resolve_arm(hyp.design.arms[name], hyp, ctx)
        steps = arm.spec.steps if arm.spec is not None else int(dict(arm.settings).get("steps", 1))
        total += n * max(1, len(arm.lrs)) * steps
    return total


def curse_replicate(hyp, r: int, store: str) -> dict:
    """One replicate: the check's effect with each selecting arm at its best rate on the selection seeds (base
    CURSE_SELECT_BASE + r), and with the same rates re-trained on fresh seeds (base CURSE_FRESH_BASE + r)."""
    sel_base, fresh_base = _bases(CURSE_SELECT_BASE + r, 1)[0], _bases(CURSE_FRESH_BASE + r, 1)[0]
    t0 = time.process_time()
    d = hyp.design
    selecting = selecting_arms(hyp)
    values, chosen = {}, {}
    for label, base in (("selection", sel_base), ("fresh", fresh_base)):
        ctx = RunContext(profile=PROFILE, seed_base=base, store=store)
        res = runner.Result(hyp=hyp, ctx=ctx, design=d, control=None, seeds=ctx.seeds(hyp))
        res.arms = {name: runner.resolve_arm(a, hyp, ctx) for name, a in d.arms.items()}
        memo: dict = {}
        dd = runner._tuned(res, d, memo)
        n = len(res.seeds)
        for name in hyp.arms:
            arm, m = res.arms[name], dd.metric_of(name)
            if label == "fresh" and name in selecting:      # the rate the selection seeds chose, trained alone
                arm = dataclasses.replace(arm, lrs=(chosen[name],))
                m = dataclasses.replace(m, at_lr=chosen[name], select=None)
            run = runner._run_arm(arm, res.seeds, ctx, memo)
            v, _, lr = runner._reduce(arm, run, m, n)
            values[label, name] = np.asarray(v, float)
            if label == "selection" and name in selecting:
                chosen[name] = lr
    x, y = hyp.arms
    eff = {label: float(np.mean(values[label, x]) - np.mean(values[label, y])) for label in ("selection", "fresh")}
    return {"bases": (sel_base, fresh_base), "effect_selection": eff["selection"], "effect_fresh": eff["fresh"],
            "bias": eff["selection"] - eff["fresh"], "chosen": chosen,
            "arm_bias": {name: float(np.mean(values["selection", name]) - np.mean(values["fresh", name]))
                         for name in hyp.arms},
            "cpu_s": time.process_time() - t0}


def _mean_ci(v):
    v = np.asarray(v, float)
    m = float(v.mean())
    if v.size < 2:
        return m, float("nan"), float("nan")
    half = float(sps.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half


def curse(hyp, reps: int, store: str, max_cpu_s: float | None = None) -> dict:
    """Replicates 0..reps-1 of curse_replicate; the first is stopped at max_cpu_s (None: no limit) and then
    returns skipped."""
    out = {"id": hyp.id, "reps": [], "skipped": None}
    for r in range(reps):
        t0 = time.process_time()
        try:
            with cpu_limit(max_cpu_s if r == 0 else None):
                out["reps"].append(curse_replicate(hyp, r, store))
        except OverLimit:
            out["skipped"] = f"over {max_cpu_s:g} CPU-s: the first replicate was stopped after {time.process_time() - t0:.1f}"
            return out
    return out


def curse_row(h, c: dict) -> str:
    reps = c["reps"]
    bias, lo, hi = _mean_ci([x["bias"] for x in reps])
    sign = -1.0 if h.direction == "less" else 1.0        # toward H1: the effect looks larger in H1's direction
    chosen = collections.defaultdict(collections.Counter)
    for x in reps:
        for name, lr in x["chosen"].items():
            chosen[name][lr] += 1
    rates = "; ".join(f"{name}: " + ", ".join(f"{lr:g} x{k}" for lr, k in sorted(cnt.items()))
                      for name, cnt in chosen.items())
    arm_bias = ", ".join(f"{name} {np.mean([x['arm_bias'][name] for x in reps]):+.4g}" for name in h.arms)
    sel = f"{reps[0]['bases'][0]}-{reps[-1]['bases'][0]}" if len(reps) > 1 else str(reps[0]["bases"][0])
    fresh = f"{reps[0]['bases'][1]}-{reps[-1]['bases'][1]}" if len(reps) > 1 else str(reps[0]["bases"][1])
    return (f"| {h.id} | {', '.join(selecting_arms(h))} | {len(reps)} | {sel} / {fresh} | "
            f"{np.mean([x['effect_selection'] for x in reps]):+.4g} | {np.mean([x['effect_fresh'] for x in reps]):+.4g} | "
            f"{bias:+.4g} | {'n/a (one replicate)' if np.isnan(lo) else f'[{lo:+.4g}, {hi:+.4g}]'} | {sign * bias:+.4g} | {'' if h.sesoi is None else f'{h.sesoi:.4g}'} | "
            f"{arm_bias} | {rates} | {np.mean([x['cpu_s'] for x in reps]):.1f} |")


def curse_section(hyps, reps: int, max_cpu_s: float | None, store: str, out=print) -> list:
    """Section 4: the cheapest grid hypothesis always (all replicates), the others while their first replicate
    stays within max_cpu_s. Returns the results measured."""
    cands = sorted((h for h in hyps if selecting_arms(h)), key=grid_cost)      # stable: registry order on ties
    out(f"\n## 4. Winner's curse of best-rate selection ({reps} replicates; selection seed bases "
        f"{CURSE_SELECT_BASE}+r, fresh seed bases {CURSE_FRESH_BASE}+r)\n")
    if not cands:
        out("No selected hypothesis picks its rate from a grid on the seeds it compares.")
        return []
    out("| hypothesis | arms selecting a rate | replicates | seed bases (selection / fresh) | effect on selection "
        "seeds (mean) | effect of the same rates on fresh seeds (mean) | bias (selection - fresh) | 95% CI (t) | "
        "bias toward H1 | SESOI | per-arm bias (selected - fresh) | rates chosen | CPU-s per replicate |")
    out("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    done, notes = [], []
    first = cands[0]
    t0 = time.perf_counter()
    c = curse(first, reps, store, None)
    print(f"  curse {first.id}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    out(curse_row(first, c))
    done.append(c)
    rest = cands[1:]
    cpu0 = c["reps"][0]["cpu_s"]
    if max_cpu_s and max_cpu_s > 0 and cpu0 > max_cpu_s:
        if rest:
            notes.append(f"A replicate costs {cpu0:.1f} CPU-s, over --max-cpu-s {max_cpu_s:g}: measured on the cheapest "
                         f"grid hypothesis ({first.id}) only; not measured: {', '.join(h.id for h in rest)} "
                         f"(select one with --only)")
        else:
            notes.append(f"A replicate costs {cpu0:.1f} CPU-s, over --max-cpu-s {max_cpu_s:g}: measured anyway "
                         f"({first.id} is the only grid hypothesis selected)")
    else:
        for h in rest:
            c = curse(h, reps, store, max_cpu_s)
            if c["skipped"]:
                notes.append(f"{h.id}: {c['skipped']}; not measured")
                continue
            out(curse_row(h, c))
            done.append(c)
    notes.append("Designs that choose the rate on disjoint tuning seeds (Metric.tune_seeds) compare fresh seeds "
                 "already: not measured")
    out("\n" + "\n".join(f"- {n}" for n in notes))
    return done


# ---------------------------------------------------------------------------------- main
def selected(ids) -> list:
    hyps = [h for h in registry.all_hypotheses() if h.statistical]
    if not ids:
        return hyps
    got = [h for h in hyps if any(registry.matches(h, i) for i in ids)]
    if not got:
        raise SystemExit(f"no statistical hypothesis matches {', '.join(ids)}")
    return got


@contextlib.contextmanager
def _fresh_store(path: str | None):
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bnclaims-fpr-") as tmp:
        yield tmp


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma list of hypothesis (or claim) ids to run, e.g. Y.c,C1.b")
    ap.add_argument("--ids", nargs="*", help="ids as separate words (the same selection as --only; both add up)")
    ap.add_argument("--real-reps", "--real-bases", dest="real_reps", type=int, default=40,
                    help="real A/A replicates per family, each on its own fresh seed base (0: skip section 1)")
    ap.add_argument("--max-cpu-s", type=float, default=5.0,
                    help="CPU-seconds a fresh realisation (or a winner's-curse replicate) may cost (0: no limit)")
    ap.add_argument("--curse-reps", type=int, default=2, help="winner's-curse replicates (0: skip section 4)")
    ap.add_argument("--store", default=None,
                    help="the run store the suite filled (ci profile, seed base 0): needed by section 2 only")
    ap.add_argument("--splits", type=int, default=2000, help="resampled splits per hypothesis in section 2 (0: skip)")
    ap.add_argument("--bare", type=int, default=4000, help="draws per combination in section 3 (0: skip)")
    ap.add_argument("--fresh-store", default=None,
                    help="where sections 1 and 4 train (default: a temporary folder, removed at the end)")
    a = ap.parse_args(argv)
    for name in ("real_reps", "curse_reps"):
        if not 0 <= getattr(a, name) <= MAX_REPS:
            ap.error(f"--{name.replace('_', '-')} must be in 0..{MAX_REPS}")
    ids = [i.strip() for i in a.only.split(",") if i.strip()] + list(a.ids or [])
    hyps = selected(ids)
    claims = {c.id: c for c in registry.claims()}
    from bnclaims.harness import engine  # noqa: F401  (one torch thread, imported before any realisation is timed)
    max_cpu_s = a.max_cpu_s if a.max_cpu_s > 0 else None
    with cheap_intervals(), _fresh_store(a.fresh_store) as fresh:
        if a.real_reps:
            recorded = run_store.read_timings(a.store, PROFILE) if a.store else {}
            _, over = real_section(hyps, claims, a.real_reps, max_cpu_s, fresh, recorded=recorded)
            perm = [h for h, _ in over]
            why = f"the hypotheses whose fresh realisation costs over {a.max_cpu_s:g} CPU-s"
        else:
            perm = [h for h in hyps if null_of(h) is not None]
            why = "every hypothesis with a null control (--real-reps 0: no fresh realisation)"
        if a.splits:
            permutation_section(perm, a.store, a.splits, why)
        if a.bare:
            bare_section(hyps, a.bare)
        if a.curse_reps:
            curse_section(hyps, a.curse_reps, max_cpu_s, fresh)


if __name__ == "__main__":
    main()
