"""The Dask executor (harness/run/executor.py) on a real LocalCluster of 2 worker processes: the entries it stores
are byte for byte those of an in-process run, a worker killed mid-run loses nothing, a run that raises is
reported while the others are stored, and an interrupted client keeps what finished.

Skipped (with the reason) where the optional extra is not installed: pip install -c constraints.txt '.[dask]'.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed (pip install -c constraints.txt '.[dask]')")

from bnclaims.harness.run import checks, executor, runner
from bnclaims.harness.declare import registry  # noqa: E402
from bnclaims.harness.run.context import RunContext  # noqa: E402
from bnclaims.harness.declare.design import controls_of  # noqa: E402
from bnclaims.harness.spec import TrainSpec  # noqa: E402

# a smoke-budget selection with every kind of job: engine ensembles, a learning-rate grid tuned on other seeds
# (a second planning wave), a routine, and controls
IDS = ("C2.c3", "C3.c1", "C1.a", "C4.d1")     # C2.c3: a grid tuned on other seeds (two waves)
PROFILE = "smoke"


def selection() -> list:
    out = []
    for claim in registry.claims():
        for h in claim.hypotheses:
            if any(registry.matches(h, i) for i in IDS):
                out.append(executor.Check(h, claim))
                out += [executor.Check(h, claim, c.name) for c in controls_of(h)]
    return executor.runnable(out, PROFILE)


def entries(store: Path) -> dict:
    """key -> (arrays.npz bytes, meta.json without its write time and the training wall time)."""
    out = {}
    for meta_path in sorted(store.glob("??/*/meta.json")):
        meta = json.loads(meta_path.read_text())
        meta.pop("created")
        meta["info"].pop("wall_s", None)
        out[meta["key"]] = ((meta_path.parent / "arrays.npz").read_bytes(), meta)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The selection's entries trained in-process (the plain runner, no executor)."""
    store = tmp_path_factory.mktemp("inprocess")
    ctx = RunContext(profile=PROFILE, store=str(store))
    for c in selection():
        runner.run_check(c.hyp, c.claim, ctx, control=c.control)
    return entries(store)


@pytest.fixture(scope="module")
def cluster():
    cl, client = executor.local_cluster(2)
    yield cl, client
    client.close()
    cl.close()


def test_cluster_entries_are_byte_identical_to_in_process(tmp_path, reference, cluster):
    _, client = cluster
    ctx = RunContext(profile=PROFILE, store=str(tmp_path))
    lines = []
    out = executor.compute(selection(), ctx, client, progress=lines.append)
    assert not out.failed
    assert out.waves >= 2, "the tuned grid's compared runs are planned after its tuning runs"
    got = entries(tmp_path)
    assert sorted(got) == sorted(reference)
    for k in reference:
        assert got[k][0] == reference[k][0], f"arrays of {k} differ"
        assert got[k][1] == reference[k][1], f"meta of {k} differs"
    assert any("done" in ln and "left" in ln for ln in lines)
    # warm: nothing is planned again, and the checks evaluate from the store without training
    again = executor.compute(selection(), ctx, client, progress=None)
    assert again.computed == [] and again.waves == 0


def test_killed_worker_loses_nothing(tmp_path, reference, cluster):
    cl, client = cluster
    ctx = RunContext(profile=PROFILE, store=str(tmp_path))
    killed = []

    def kill_one_busy_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    t = threading.Thread(target=kill_one_busy_worker)
    t.start()
    out = executor.compute(selection(), ctx, client, progress=None)
    t.join()
    assert killed, "no worker was busy to kill"
    assert not out.failed
    got = entries(tmp_path)
    assert sorted(got) == sorted(reference)
    assert all(got[k] == reference[k] for k in reference)
    client.wait_for_workers(2, timeout=60)          # the nanny restarts the killed worker


def test_a_failing_run_is_reported_and_the_others_are_stored(tmp_path, cluster, monkeypatch):
    _, client = cluster
    ctx = RunContext(profile=PROFILE, store=str(tmp_path))
    sel = selection()
    real_plan = executor.plan

    def plan_with_a_bad_job(selected, ctx_, skip=frozenset()):
        jobs, blocked = real_plan(selected, ctx_, skip)
        spec = TrainSpec()
        # the reference engine takes no per-seed rates: training raises ValueError on the worker
        args = (spec, (0,), "reference", (0.1,))
        bad = checks.Job({"run": "bad", "seeds": [0], "data": checks.job_data_key(checks.Job({}, "engine", args))},
                         "engine", args)
        if bad.store_key not in skip:
            jobs[bad.store_key] = bad
        return jobs, blocked

    monkeypatch.setattr(executor, "plan", plan_with_a_bad_job)
    out = executor.compute(sel, ctx, client, progress=None)
    assert len(out.failed) == 1
    f = out.failed[0]
    assert "ValueError" in f.error and "per-seed learning rates" in f.error and '"run":"bad"' in f.spec
    assert f.key in executor.summary(out)
    monkeypatch.setattr(executor, "plan", real_plan)
    assert executor.plan(sel, ctx)[0] == {}, "every other run of the selection is stored"


def test_interrupted_client_keeps_what_finished(tmp_path, reference, cluster):
    _, client = cluster
    ctx = RunContext(profile=PROFILE, store=str(tmp_path))
    stored = []

    def interrupt_after_two(key):
        stored.append(key)
        if len(stored) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        executor.compute(selection(), ctx, client, progress=None, on_stored=interrupt_after_two)
    have = set(entries(tmp_path))
    assert set(stored) <= have and len(have) < len(reference)
    out = executor.compute(selection(), ctx, client, progress=None)
    assert not (set(out.computed) & have), "the next invocation computes only the rest"
    got = entries(tmp_path)
    assert sorted(got) == sorted(reference) and all(got[k] == reference[k] for k in reference)


def test_workers_allocate_like_a_plain_process(cluster):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which doubled our runs' time (harness.run.executor._TRIM_ENV): the
    LocalCluster's workers start without it, and a task in a worker that has it resets glibc's thresholds."""
    import os
    _cl, client = cluster
    assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {None}
