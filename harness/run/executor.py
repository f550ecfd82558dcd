"""Runs on a Dask cluster: plan the store entries a selection needs, train them as cluster tasks, store them.

Two phases (`bnclaims run --executor dask`; in pytest, `--claims-executor dask`):

1. Plan and compute. Every selected check is evaluated in planning mode (harness.run.checks.planning): a run
   the store lacks is recorded as a Job instead of trained. The jobs of one wave (duplicate store keys
   collapse into one task) go to the cluster; each worker trains with one torch thread and returns numpy
   arrays, and this process (the client) writes the store entries, so workers need no shared filesystem.
   Runs that depend on others (a rate tuned on other seeds, a sequential design's second stage) are
   planned in the next wave, once what they depend on is stored. Waves repeat until nothing is missing.
2. Evaluate. pytest runs the checks as always, from the now warm store.

Faults: a task whose worker dies is rescheduled by Dask under the same key (the store key: a retry is the
same computation). A run that raises is reported with its key and spec; the others still complete and are
stored. An interrupted client (Ctrl-C) keeps every entry written so far; the next invocation plans only
the rest. Dask is an optional extra (`pip install 'bnclaims[dask]'`); nothing else imports this module.
"""
from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable, Iterable

from bnclaims.harness.run import checks
from bnclaims.harness.run.scheduling import member_steps
from bnclaims.harness.store import RunStore, canonical_json

TASK_PREFIX = "bnclaims-run-"


class ExecutorError(RuntimeError):
    """A usage problem of the executor (no dask installed, a scheduler that cannot be reached)."""


@dataclasses.dataclass
class Failure:
    key: str
    spec: str           # the job's key spec as JSON (names the run: spec, seeds, engine, rates)
    error: str


@dataclasses.dataclass
class Outcome:
    computed: list = dataclasses.field(default_factory=list)    # store keys written, in completion order
    failed: list = dataclasses.field(default_factory=list)      # Failure records
    waves: int = 0
    wall_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class Check:
    """One selected check: what the pytest plugin's item runs (runner.run_check(hyp, claim, ctx, control))."""
    hyp: object
    claim: object
    control: str | None = None
    explicit: bool = False          # selected by its own id: runs even outside its profiles


def runnable(checks_: Iterable[Check], profile: str) -> list[Check]:
    """The checks the pytest items would run (profile-limited checks are skipped unless selected by id)."""
    return [c for c in checks_ if c.explicit or c.hyp.runs_in(profile)]


def plan(selected: Iterable[Check], ctx, skip: set = frozenset()) -> tuple[dict, list]:
    """({store key: Job} the store lacks and the selected checks need now, [checks blocked by a key in skip])."""
    from bnclaims.harness.run import runner
    from bnclaims.harness import userdata
    jobs, blocked = {}, []
    with checks.planning():
        for c in selected:
            try:
                runner.run_check(c.hyp, c.claim, ctx, control=c.control)
            except userdata.DataAbsent:      # not run (the pytest phase reports why)
                blocked.append(c)
            except checks.Missing as m:
                keys = [j.store_key for j in m.jobs]
                if any(k in skip for k in keys):
                    blocked.append(c)
                    continue
                for k, j in zip(keys, m.jobs):
                    jobs.setdefault(k, j)
    return jobs, blocked


# Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ). Setting it
# fixes glibc's mmap threshold at 128 KiB, so every larger tensor is mapped and unmapped again: our runs took 2.0x
# as long in such a worker as in a plain process (measured: 6.8 vs 3.3 s for one 600-step BN ensemble). The
# LocalCluster starts its workers without it; in any worker, importing harness.engine (run_task does, first) applies
# engine.keep_freed_memory, which overrides it at run time.
_TRIM_ENV = "MALLOC_TRIM_THRESHOLD_"


def run_task(job: checks.Job, env: dict):
    """The cluster task: train one job with one torch thread; (store key, arrays, info, environment)."""
    os.environ.update(env)                 # the client's device and thread settings, before torch loads
    from bnclaims.harness import engine  # noqa: F401  (pins torch to BNCLAIMS_THREADS threads, default 1; glibc keeps freed memory)
    import torch
    from bnclaims.harness.store import environment_key, thread_setting
    torch.set_num_threads(thread_setting())     # threads_per_worker does not limit torch's own threads
    key = job.store_key
    data = checks.job_data_key(job)             # before training: a worker with other data arrays refuses the job
    if data != job.key.get("data"):
        raise ExecutorError(f"worker data sets {data} differ from the client's {job.key.get('data')}: its numbers "
                            "would be stored under the client's key; install the same mnist1d, numpy and scipy on "
                            "every worker")
    arrays, info = checks.compute_job(job)
    import numpy as np
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    return key, arrays, dict(info), environment_key()


def job_cost(job: checks.Job) -> int:
    """A job's size in member-steps (scheduling.member_steps, the cost the plugin orders and shards by): the
    order in which a wave's tasks start."""
    if job.kind == "engine":
        # a rate grid's job already lists one member per rate and seed (checks.lr_grid_run): no rates to multiply
        spec, seeds = job.args[:2]
        return member_steps(len(seeds), int(spec.steps))
    _name, settings, seeds = job.args
    return member_steps(len(seeds), int(dict(settings).get("steps", 1)))


def _env() -> dict:
    names = ("BNCLAIMS_DEVICE", "BNCLAIMS_THREADS", "BNCLAIMS_DATA", "BNCLAIMS_DATA_CACHE", "XDG_CACHE_HOME")
    return {k: os.environ[k] for k in names if k in os.environ}


def compute(selected: Iterable[Check], ctx, client, *, progress: Callable[[str], None] | None = print,
            on_stored: Callable[[str], None] | None = None, max_waves: int = 20) -> Outcome:
    """Plan and compute, wave by wave, every run the selected checks need, on the Dask client's cluster;
    the entries are written to ctx.store by this process as tasks finish."""
    from distributed import as_completed
    from bnclaims.harness.store import environment_key
    t0 = time.perf_counter()
    store = RunStore(ctx.store)
    selected = list(selected)
    out, failed = Outcome(), set()
    env = _env()
    here = environment_key()
    done_total = 0
    # Task keys carry this call's token: after an interruption the client cancels its tasks, and the scheduler can
    # still hold a cancelled task when the next call submits the same run; under the same key that run's future came
    # back cancelled (FutureCancelledError), under a new one it is a new task.
    call = uuid.uuid4().hex[:8]
    while out.waves < max_waves:
        jobs, blocked = plan(selected, ctx, skip=failed)
        if blocked:
            selected = [c for c in selected if c not in blocked]
        if not jobs:
            break
        out.waves += 1
        # the longest runs first, so no long run starts last while the other workers idle
        futures = {client.submit(run_task, job, env, key=f"{TASK_PREFIX}{k}-{call}", pure=False, retries=0,
                                 priority=job_cost(job)): k
                   for k, job in jobs.items()}
        total, done = len(futures), 0
        if progress:
            progress(f"bnclaims dask: wave {out.waves}: {total} run(s) to train, {done_total} trained so far")
        try:
            for fut in as_completed(futures):
                k = futures[fut]
                done += 1
                if fut.status == "error":
                    exc = fut.exception()
                    out.failed.append(Failure(k, canonical_json(jobs[k].key), f"{type(exc).__name__}: {exc}"))
                    failed.add(k)
                    if progress:
                        progress(f"bnclaims dask: run {k} failed ({type(exc).__name__}: {exc}); spec "
                                 f"{_short(jobs[k].key)}")
                else:
                    _store(store, jobs[k], fut.result(), here)
                    out.computed.append(k)
                    if on_stored is not None:
                        on_stored(k)
                if progress:
                    progress(f"bnclaims dask: wave {out.waves}: {done}/{total} done, {total - done} left")
        except BaseException:
            for fut, k in futures.items():      # keep what finished before the interruption
                if fut.status == "finished" and k not in out.computed and k not in store:
                    try:
                        _store(store, jobs[k], fut.result(timeout=5), here)
                        out.computed.append(k)
                    except Exception:
                        pass
            client.cancel(list(futures))
            raise
        done_total += done
    else:
        raise ExecutorError(f"planning did not converge after {max_waves} waves")
    out.wall_s = time.perf_counter() - t0
    return out


def _short(spec: dict, limit: int = 300) -> str:
    text = canonical_json(spec)
    return text if len(text) <= limit else text[:limit] + "..."


def _store(store: RunStore, job: checks.Job, result, here: dict) -> None:
    key, arrays, info, env = result
    if key != job.store_key:
        raise ExecutorError(f"task returned entry {key} for job {job.store_key}")
    if env != here:                       # a worker with another torch, thread count or harness code
        raise ExecutorError(f"worker environment {env} differs from the client's {here}: its numbers would be "
                            "stored under the client's key; install the same bnclaims and torch on every worker")
    store.put(job.key, arrays, info)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ExecutorError("the dask executor needs the optional extra: pip install -c constraints.txt "
                            "'bnclaims[dask]'") from None
    return distributed


def local_cluster(n_workers: int):
    """A LocalCluster of real worker processes with one thread each (and a Client on it), whose workers start
    without Dask's MALLOC_TRIM_THRESHOLD_ (see _TRIM_ENV)."""
    d = _distributed()
    import dask
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items() if k != _TRIM_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):     # see _TRIM_ENV
        cluster = d.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return cluster, d.Client(cluster)


def connect(scheduler: str | None, n_workers: int):
    """(cluster or None, client): an existing scheduler's client, or a new LocalCluster's."""
    if scheduler is None:
        return local_cluster(n_workers)
    d = _distributed()
    try:
        return None, d.Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as e:
        raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None


def summary(out: Outcome) -> str:
    text = (f"bnclaims dask: {len(out.computed)} run(s) trained and stored in {out.waves} wave(s), "
            f"{out.wall_s:.1f} s")
    if out.failed:
        text += f"; {len(out.failed)} failed:\n" + "\n".join(f"  {f.key}: {f.error}\n    spec {f.spec}"
                                                             for f in out.failed)
    return text
