"""The pytest plugin (entry point "bnclaims"): its hooks and fixture. Opt-in (--claims-collect, --claims-only or
the bnclaims_collect ini), so installing bnclaims adds no tests to another project's run. Items are in items.py,
the reporter and session state in session.py; no torch is imported (tests/harness/test_plugin.py).
"""
from __future__ import annotations

import os

import pytest

from bnclaims.harness.plugin import options
from bnclaims.harness.plugin.items import ClaimItem, claim_items, keep_only, select_ids, shard_items
from bnclaims.harness.plugin.session import SETTINGS, ClaimsReporter, is_controller
from bnclaims.harness.run.context import RunContext


def _collecting(config) -> bool:
    """--claims-collect / --claims-only, or the ini opt-in on a whole-suite run (no paths given: pytest on one
    test file runs that file, not every claim) or with --claims-ids. Without any of them the plugin only adds its
    options; --claims-only collects no test files at all (what `bnclaims run` uses from any folder)."""
    if config.getoption("claims_collect") or config.getoption("claims_only"):
        return True
    if not config.getini("bnclaims_collect"):
        return False
    whole = getattr(config, "args_source", None) != pytest.Config.ArgsSource.ARGS
    return whole or config.getoption("claims_ids") is not None


def pytest_addoption(parser):
    g = parser.getgroup("claims", "bnclaims: statistical checks of claims about Batch Normalization")
    g.addoption("--claims-collect", action="store_true", default=False,
                help="collect every registered claim hypothesis and control as a test item")
    g.addoption("--claims-progress", action="store_true", default=False,
                help="print progress lines: checks done of total, runs trained and reused, an estimate of the time "
                     "left from the wall times recorded in the store (bnclaims run sets it)")
    g.addoption("--claims-only", action="store_true", default=False,
                help="collect the claim items and no test files (implies --claims-collect)")
    options.add_pytest_options(g)
    parser.addini("bnclaims_collect", type="bool", default=False,
                  help="collect the registered claim hypotheses (as --claims-collect)")


def _settings_from_options(config) -> options.Settings:
    values = {o.dest: config.getoption(o.dest) for o in options.OPTIONS}
    try:
        s = options.settings(values, config.invocation_params.dir, check_files=is_controller(config))
    except options.OptionError as e:
        raise pytest.UsageError(str(e)) from None
    if not is_controller(config):
        # the controller resolved the paths; workers may run in another folder
        sent = config.workerinput.get("bnclaims") or {}
        ctx = RunContext(profile=s.ctx.profile, seed_base=s.ctx.seed_base, store=sent.get("store", s.ctx.store),
                         report_dir=sent.get("report_dir", s.ctx.report_dir),
                         data_dir=sent.get("data_dir", s.ctx.data_dir), compile=s.ctx.compile,
                         data_draw=s.ctx.data_draw)
        s = options.Settings(ctx, s.ids, s.compare, s.packs, s.shard)    # workers never run the executor
    return s


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id): the article claim or hypothesis id this test checks (e.g. C1.a)")
    settings = _settings_from_options(config)
    config.stash[SETTINGS] = settings
    if not (_collecting(config) or settings.ids):
        return
    if is_controller(config):      # a bad device, thread count or folder stops the session before any check runs
        try:
            options.check_before_run(settings, store_given=config.getoption("claims_store") is not None)
        except options.OptionError as e:
            raise pytest.UsageError(str(e)) from None
    if settings.executor == "dask" and is_controller(config) and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--claims-executor dask trains on the cluster before any check runs, in a pytest call "
                                "without -n: run `pytest --collect-only --claims-executor dask ...` and then "
                                "`pytest -n N ...` (the store is warm), or `bnclaims run --executor dask`")
    if _collecting(config) and getattr(config.option, "loadscopereorder", None):
        # --dist loadfile/loadscope would hand out scopes by their number of items, largest first; claim items come
        # costliest group first (claim_items), and a one-item group can be a long run that must not start last
        config.option.loadscopereorder = False
    if is_controller(config):
        # before xdist spawns workers (they inherit the environment): one thread per process
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
        os.environ["BNCLAIMS_STORE"] = settings.ctx.store
        config.pluginmanager.register(ClaimsReporter(config), "bnclaims-reporter")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    ctx = node.config.stash[SETTINGS].ctx
    node.workerinput["bnclaims"] = {"store": ctx.store, "report_dir": ctx.report_dir, "data_dir": ctx.data_dir}


def pytest_report_header(config):
    if _collecting(config):
        ctx = config.stash[SETTINGS].ctx
        return (f"bnclaims: profile {ctx.profile}, seed base {ctx.seed_base}, store {ctx.store}"
                + (f", data drawn {ctx.data_draw}" if ctx.data_draw != "fixed" else ""))
    return None


def pytest_ignore_collect(collection_path, config):
    if config.getoption("claims_only"):
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    if _collecting(config):
        # claims first, the costliest first (test files and map cells fill the end): --dist loadfile hands out
        # scopes in this order, so the longest claim does not start last
        items[:0] = claim_items(session)
    ids = config.stash[SETTINGS].ids
    if ids:
        select_ids(config, items, ids)
    shard = config.stash[SETTINGS].shard
    if shard is not None:             # after the ids: a shard of the selection (an id outside it is no error)
        keep_only(config, items, shard_items(items, *shard, config.stash[SETTINGS].ctx.profile))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """--claims-executor dask: train every run the selected items need on the cluster, before any item runs."""
    settings = session.config.stash[SETTINGS]
    if settings.executor != "dask" or not is_controller(session.config):
        return
    from bnclaims.harness.run import executor
    selected = executor.runnable([executor.Check(i.hyp, i.claim, i.control, getattr(i, "explicit", False))
                                  for i in session.items if isinstance(i, ClaimItem)], settings.ctx.profile)
    tw = session.config.get_terminal_writer()
    try:
        cluster, client = executor.connect(settings.scheduler, settings.dask_workers or (os.cpu_count() or 1))
    except executor.ExecutorError as e:
        raise pytest.UsageError(f"bnclaims: {e}") from None
    try:
        out = executor.compute(selected, settings.ctx, client, progress=lambda line: tw.line(line))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    tw.line(executor.summary(out))


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def claims_ctx(pytestconfig) -> RunContext:
    """The RunContext built from the --claims-* options."""
    return pytestconfig.stash[SETTINGS].ctx


# ---- reports travel on TestReports ------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Evidence travels from (xdist) workers to the controller as JSON strings on the call-phase TestReport
    (report.claim_evidence, ...), so `-n 0` and `-n 2` produce the same report."""
    rep = yield
    if rep.when == "call":
        ev = getattr(item, "_bnclaims_evidence", None)
        decl = getattr(item, "_bnclaims_declaration", None)
        ctl = getattr(item, "_bnclaims_control", None)
        not_run = getattr(item, "_bnclaims_not_run", None)
        if not_run is not None:
            rep.claim_not_run = not_run
        runs = getattr(item, "_bnclaims_runs", None)
        if runs is not None:
            rep.claim_runs = runs
        if ev is not None:
            rep.claim_evidence = ev          # str: xdist serialises it unchanged
        if decl is not None:
            rep.claim_declaration = decl
        if ctl is not None:
            rep.claim_control = ctl
    return rep
