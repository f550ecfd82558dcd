"""pytest plugin for claim checks, registered as the pytest11 entry point "bnclaims".

Opt-in: with --claims-collect (or `bnclaims_collect = true` in the pytest ini, as this repository sets,
for a run over the testpaths) every registered hypothesis (harness.registry) and each of its declared controls becomes a test item
with the claim marker, run by harness.runner. Without it the plugin adds options and nothing else, so
installing bnclaims never adds tests to another project's pytest run. --claims-only skips file
collection altogether (what `bnclaims run` uses from any folder).

Evidence travels from (xdist) workers to the controller as a JSON string on the call-phase
TestReport (report.claim_evidence), so `-n 0` and `-n 2` produce the same report.
This module must not import torch (checked by tests/harness/test_plugin.py).
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bnclaims.harness.plugin import options
from bnclaims.harness.stats import verdict as vd
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.declare.evidence import evidence_table, fmt_ci, fmt_num, arm_counts, to_builtin


@dataclass
class _State:
    records: list = field(default_factory=list)    # evidence dicts, each with "outcome" added
    missing: dict = field(default_factory=dict)    # id -> pre-registration without evidence
    not_run: list = field(default_factory=list)    # checks this profile does not run (Hypothesis.profiles)
    controls: list = field(default_factory=list)   # (nodeid, outcome, verdict) per control item
    paths: dict = field(default_factory=dict)
    comparison: dict | None = None
    compare_text: str = ""
    errors: list = field(default_factory=list)


_SETTINGS = pytest.StashKey[options.Settings]()


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def _collecting(config) -> bool:
    """--claims-collect / --claims-only, or the ini opt-in on a whole-suite run (no paths given: pytest on one
    test file runs that file, not every claim) or with --claims-ids."""
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
        s = options.settings(values, config.invocation_params.dir, check_files=_is_controller(config))
    except options.OptionError as e:
        raise pytest.UsageError(str(e)) from None
    if not _is_controller(config):
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
    config.stash[_SETTINGS] = settings
    if not (_collecting(config) or settings.ids):
        return
    if _is_controller(config):      # a bad device, thread count or folder stops the session before any check runs
        try:
            options.check_before_run(settings, store_given=config.getoption("claims_store") is not None)
        except options.OptionError as e:
            raise pytest.UsageError(str(e)) from None
    if settings.executor == "dask" and _is_controller(config) and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--claims-executor dask trains on the cluster before any check runs, in a pytest call "
                                "without -n: run `pytest --collect-only --claims-executor dask ...` and then "
                                "`pytest -n N ...` (the store is warm), or `bnclaims run --executor dask`")
    if _collecting(config) and getattr(config.option, "loadscopereorder", None):
        # --dist loadfile/loadscope would hand out scopes by their number of items, largest first; claim items come
        # costliest group first (claim_items), and a one-item group can be a long run that must not start last
        config.option.loadscopereorder = False
    if _is_controller(config):
        # before xdist spawns workers (they inherit the environment): one thread per process
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
        os.environ["BNCLAIMS_STORE"] = settings.ctx.store
        config.pluginmanager.register(_ClaimsReporter(config), "bnclaims-reporter")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    ctx = node.config.stash[_SETTINGS].ctx
    node.workerinput["bnclaims"] = {"store": ctx.store, "report_dir": ctx.report_dir, "data_dir": ctx.data_dir}


def pytest_report_header(config):
    if _collecting(config):
        ctx = config.stash[_SETTINGS].ctx
        return (f"bnclaims: profile {ctx.profile}, seed base {ctx.seed_base}, store {ctx.store}"
                + (f", data drawn {ctx.data_draw}" if ctx.data_draw != "fixed" else ""))
    return None


def pytest_ignore_collect(collection_path, config):
    if config.getoption("claims_only"):
        return True
    return None


# ---- claim items -----------------------------------------------------------------------------

class ClaimFailure(Exception):
    """A claim check's verdict fails its pre-registration; the message is the evidence table."""


class ClaimGroup(pytest.Collector):
    """The items of the checks that share runs (plugin.run_groups) share a scope ("bnclaims/C2.a"), so --dist
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

        ctx = self.config.stash[_SETTINGS].ctx
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
    share a run (run_groups) share a scope ("bnclaims/C4.a": the group's first id), so --dist loadfile keeps a
    shared ensemble on one worker while other groups go elsewhere; groups come costliest first (member-steps),
    each in registry order, so the longest group does not start last."""
    from bnclaims.harness.declare import registry
    from bnclaims.harness.declare.design import DeclarationError, controls_of, null_control
    from bnclaims.harness.declare.maps import MapError, map_hypotheses, null_cell_ids

    profile = session.config.stash[_SETTINGS].ctx.profile

    try:
        claims = registry.claims(session.config.stash[_SETTINGS].packs)
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
    groups = run_groups(by_id, profile)
    root_of = {hid: root for root, ids in groups.items() for hid in ids}
    budget = "ci" if profile == "survey" else profile
    cost = {r: _member_steps([by_id[h] for h in ids if by_id[h].runs_in(profile)], budget)
            for r, ids in groups.items()}       # a check this profile does not run costs nothing
    scopes = {}
    for root in sorted(groups, key=lambda r: (-cost[r], vd.id_key(r))):
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


def _cost_proxy(claim) -> float:
    """Member-steps of the claim's distinct engine and routine arms at the ci budgets: an order, not a time."""
    return _member_steps(claim.hypotheses, "ci")


def _member_steps(hyps, profile: str) -> float:
    """Member-steps of the distinct engine and routine arms of these hypotheses at the profile's budgets."""
    seen, total = set(), 0.0
    for h in hyps:
        b = h.budget(profile)
        for a in (h.design.arms.values() if h.design is not None else ()):
            if a.constant is not None:
                continue
            key = (repr(a.spec), a.lrs, a.routine, repr(sorted(dict(a.settings).items())))
            if key not in seen:
                seen.add(key)
                total += b.seeds * max(b.steps, 1) * max(len(a.lrs), 1)
    return total


# ---- shards ----------------------------------------------------------------------------------

def _arm_keys(hyp, profile: str) -> set:
    """What the hypothesis (and its controls) may train, as keys two hypotheses share when they share runs:
    each spec arm's spec hash (whatever its rates or variants), each routine arm's routine and settings."""
    from bnclaims.harness.declare.design import controls_of
    from bnclaims.harness.run.runner import resolve_arm
    from bnclaims.harness.spec import spec_hash
    from bnclaims.harness.run.context import RunContext
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
    """{root id: [hypothesis ids]}: hypotheses that share a run (_arm_keys), transitively, form one group; its
    root is its first id in registry id order."""
    parent = {h: h for h in hyps}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner = {}
    for hid in sorted(hyps, key=vd.id_key):
        for key in _arm_keys(hyps[hid], profile):
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


def shard_items(items: list, k: int, n: int, profile: str) -> list:
    """The items of shard k of n. Claim items: hypotheses that share a run (_arm_keys) form one group, and a
    hypothesis's controls stay with it; groups go, costliest first, to the shard with the least cost so far
    (ties: the lower shard), so the split is deterministic and no run is trained in two shards. Other test
    items: by file, the sorted files dealt round-robin."""
    claim_items = [i for i in items if isinstance(i, ClaimItem)]
    hyps = {}
    for it in claim_items:
        hyps.setdefault(it.hyp.id, it.hyp)
    groups = run_groups(hyps, profile)

    budget = "ci" if profile == "survey" else profile
    cost = {r: _member_steps([hyps[h] for h in ids], budget) for r, ids in groups.items()}
    load, where = [0.0] * n, {}
    for root in sorted(groups, key=lambda r: (-cost[r], vd.id_key(min(groups[r], key=vd.id_key)))):
        j = min(range(n), key=lambda i: (load[i], i))
        load[j] += cost[root]
        for hid in groups[root]:
            where[hid] = j + 1
    files = sorted({str(i.path) for i in items if not isinstance(i, ClaimItem)})
    file_shard = {f: (idx % n) + 1 for idx, f in enumerate(files)}
    return [i for i in items if (where[i.hyp.id] if isinstance(i, ClaimItem) else file_shard[str(i.path)]) == k]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """--claims-executor dask: train every run the selected items need on the cluster, before any item runs."""
    settings = session.config.stash[_SETTINGS]
    if settings.executor != "dask" or not _is_controller(session.config):
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    if _collecting(config):
        # claims first, the costliest first (test files and map cells fill the end): --dist loadfile hands out
        # scopes in this order, so the longest claim does not start last
        items[:0] = claim_items(session)
    ids = config.stash[_SETTINGS].ids
    if ids:
        _select_ids(config, items, ids)
    shard = config.stash[_SETTINGS].shard
    if shard is not None:             # after the ids: a shard of the selection (an id outside it is no error)
        _keep_only(config, items, shard_items(items, *shard, config.stash[_SETTINGS].ctx.profile))


def _keep_only(config, items: list, keep: list) -> None:
    """Deselect every item not in keep (reported to pytest as deselected)."""
    kept = {id(i) for i in keep}
    drop = [i for i in items if id(i) not in kept]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _select_ids(config, items, ids) -> None:
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
    _keep_only(config, items, keep)


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def claims_ctx(pytestconfig) -> RunContext:
    """The RunContext built from the --claims-* options."""
    return pytestconfig.stash[_SETTINGS].ctx


# ---- reports travel on TestReports ------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
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


def _outcome(report) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return report.outcome


class Progress:
    """Progress lines for a long run: checks done of total, runs trained and reused, the time left estimated
    from the wall times the store folder recorded for these hypotheses (harness.store.TIMINGS), or from the
    mean so far where none is recorded."""
    EVERY_S = 10.0

    def __init__(self, config):
        from bnclaims.harness import store
        s = config.stash[_SETTINGS]
        self.config = config
        self.recorded = store.read_timings(s.ctx.store, s.ctx.profile)
        self.workers = max(int(getattr(config.option, "numprocesses", 0) or 0), 1)
        self.pending: dict = {}
        self.done = self.trained = self.reused = 0
        self.spent = 0.0
        self.last = 0.0

    @staticmethod
    def _hyp_id(nodeid: str) -> str | None:
        if not nodeid.startswith("bnclaims/"):
            return None
        return nodeid.split("::", 1)[-1]

    def planned(self, nodeids) -> None:
        if self.pending:                      # every xdist worker reports the same collection
            return
        self.pending = {n: self._hyp_id(n) for n in nodeids if self._hyp_id(n)}

    def report(self, rep) -> None:
        hid = self._hyp_id(rep.nodeid)
        if hid is None or rep.nodeid not in self.pending:
            return
        if rep.when == "call" or (rep.when == "setup" and rep.outcome != "passed"):
            del self.pending[rep.nodeid]
            self.done += 1
            self.spent += rep.duration
            runs = json.loads(getattr(rep, "claim_runs", None) or "{}")
            self.trained += runs.get("trained", 0)
            self.reused += runs.get("reused", 0)
            now = time.monotonic()
            if now - self.last >= self.EVERY_S or not self.pending:
                self.last = now
                self._line()

    def left_s(self) -> float:
        mean = self.spent / self.done if self.done else 0.0
        return sum(self.recorded.get(h, mean if "[" not in h else 0.0) for h in self.pending.values()) / self.workers

    def _line(self) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is None:
            return
        total = self.done + len(self.pending)
        left = self.left_s()
        eta = "done" if not self.pending else f"about {left / 60:.1f} min left" if left >= 60 else f"about {left:.0f} s left"
        tr.ensure_newline()
        tr.write_line(f"bnclaims: {self.done}/{total} checks done; runs trained {self.trained}, reused "
                      f"{self.reused}; {eta}")


class _ClaimsReporter:
    """Controller-side collector: evidence from call reports (local or relayed by xdist), the
    report files, the comparison and the terminal section."""

    def __init__(self, config):
        self.config = config
        self.settings = config.stash[_SETTINGS]
        self.state = _State()
        self.progress = Progress(config) if config.getoption("claims_progress") else None

    # ---- progress (collection ends in the workers under xdist; this process hears of it either way)
    def pytest_collection_finish(self, session):
        if self.progress is not None and not hasattr(self.config, "workerinput"):
            self.progress.planned([i.nodeid for i in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        if self.progress is not None:
            self.progress.planned(ids)

    def pytest_runtest_logreport(self, report):
        if self.progress is not None:
            self.progress.report(report)
        if report.when != "call":
            return
        ev, decl = getattr(report, "claim_evidence", None), getattr(report, "claim_declaration", None)
        if ev is not None:
            record = json.loads(ev)
            record["outcome"] = _outcome(report)
            self.state.records.append(record)
        elif decl is not None:
            pre = json.loads(decl)
            pre["outcome"] = _outcome(report)
            self.state.missing[pre["id"]] = pre
        ctl = getattr(report, "claim_control", None)
        if ctl is not None:
            self.state.controls.append({**json.loads(ctl), "outcome": _outcome(report)})
        not_run = getattr(report, "claim_not_run", None)
        if not_run is not None:
            self.state.not_run.append(json.loads(not_run))

    def _missing(self) -> list[dict]:
        recorded = {r["id"] for r in self.state.records}
        return [m for hid, m in sorted(self.state.missing.items()) if hid not in recorded]

    def pytest_sessionfinish(self, session, exitstatus):
        state = self.state
        if not (state.records or state.not_run or self.settings.shard):   # a shard writes its report even when empty,
            return                                             # so a merge can tell a lost shard from an empty one
        run_controls = sorted(state.controls, key=lambda c: (vd.id_key(c["id"]), c["control"]))
        from bnclaims.harness.report import build as rp
        from bnclaims.harness.declare.evidence import environment

        ctx = self.settings.ctx
        run_info = {"profile": ctx.profile, "seed_base": ctx.seed_base, "ids": self.settings.ids,
                    **({"data_draw": ctx.data_draw} if ctx.data_draw != "fixed" else {}),
                    "env": environment(import_torch=False),
                    "timing": {"workers": getattr(self.config.option, "numprocesses", None) or 0}}
        if self.settings.shard:
            run_info["shard"] = "/".join(map(str, self.settings.shard))
        from bnclaims.harness import store
        store.record_timings(ctx.store, ctx.profile, {r["id"]: r["wall_s"] for r in state.records if "wall_s" in r})
        try:
            state.paths = rp.write_reports(state.records, ctx.report_dir, run_info=run_info,
                                           missing=self._missing(), controls=run_controls,
                                           not_run=state.not_run)
            if self.settings.compare:
                state.comparison = rp.compare_reports(rp.load_report(self.settings.compare),
                                                      rp.load_report(state.paths["json"]))
                state.compare_text = rp.format_comparison(state.comparison)
        except Exception as e:  # visible in the summary and the exit status, not an INTERNALERROR
            state.errors.append(f"bnclaims report failed: {type(e).__name__}: {e}")
        failed = state.errors or (state.comparison and state.comparison["verdict_changes"])
        if failed and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        state, ctx = self.state, self.settings.ctx
        if not (state.records or state.missing or state.errors or state.not_run):
            return
        tr = terminalreporter
        tr.ensure_newline()
        tr.section("bnclaims")
        for line in summary_lines(state.records, self._missing(), ctx.profile, ctx.seed_base):
            tr.write_line(line)
        declared = sorted((n["id"] for n in state.not_run if not n.get("absent")), key=vd.id_key)
        if declared:
            tr.write_line(f"not run in profile {ctx.profile} (declared for other profiles; select by id to run): "
                          + ", ".join(declared))
        for n in sorted((n for n in state.not_run if n.get("absent")), key=lambda n: vd.id_key(n["id"])):
            tr.write_line(f"not run: {n['why']}")
        if state.controls:
            bad = [f"{c['id']}[{c['control']}]" for c in state.controls if c["outcome"] == "failed"]
            tr.write_line(f"controls: {len(state.controls) - len(bad)} of {len(state.controls)} as declared"
                          + (f"; failed: {', '.join(sorted(bad))}" if bad else ""), red=bool(bad))
        if ctx.profile == "smoke":
            tr.write_line("smoke profile: evidence checked for validity only; no verdict asserted")
        if state.paths:
            tr.write_line(f"report: {state.paths['md']}  (also report.html, report.json)")
        if state.compare_text:
            changed = bool(state.comparison["verdict_changes"])
            tr.write_line(f"compared with {self.settings.compare}:")
            for line in state.compare_text.splitlines():
                tr.write_line("  " + line, red=changed)
        for err in state.errors:
            tr.write_line(err, red=True)


def summary_lines(records: list[dict], missing: list[dict], profile: str, seed_base: int = 0) -> list[str]:
    """Terminal lines: one per hypothesis (sorted by id), then each claim's overall verdict."""
    from bnclaims.harness.declare.maps import build_map, is_cell
    from bnclaims.harness.stats.verdict import claim_verdict, id_key

    rows = sorted(records, key=lambda r: id_key(r["id"]))
    lines = []
    w = max([len(r["id"]) for r in rows] + [len(m["id"]) for m in missing] + [4])
    for r in rows:
        st = r["stats"]
        ci = f" {fmt_ci(st.get('ci'), 3)}" if st.get("ci") else ""
        lines.append(f"{r['id']:<{w}}  {r['verdict']:<14}  effect {fmt_num(st.get('effect'), 3)}{ci}  "
                     f"p {fmt_num(st.get('p'), 3)}  n {arm_counts(r)}  [{r.get('outcome', '?')}]")
    for m in sorted(missing, key=lambda m: id_key(m["id"])):
        lines.append(f"{m['id']:<{w}}  {'no evidence':<14}  (the test raised before evidence was recorded)  "
                     f"[{m.get('outcome', '?')}]")
    claims = {}
    for r in rows:
        claims.setdefault(r["claim"]["id"], ([], []))[0].append(r)
    for m in missing:
        claims.setdefault(m["claim"]["id"], ([], []))[1].append(
            {"id": m["id"], "title": m["hypothesis"].get("title", ""),
             "confirmatory": m["hypothesis"].get("confirmatory", True),
                 "role": m["hypothesis"].get("role", "evidence")})
    if claims:
        lines.append("claims:")
    kos = None
    if any(r["claim"].get("subclaims") for r in rows):
        from bnclaims.harness.report import build as report  # the knock-outs measured at this profile and seed base, read once
        kos = report.knockout_table(profile, seed_base)
    by_id = {r["id"]: r for r in rows if not is_cell(r["id"])}
    for cid in sorted(claims, key=id_key):
        every, miss = claims[cid]
        recs = [r for r in every if not is_cell(r["id"])]      # map cells neither vote nor count as non-voting
        fwer = (every[0]["claim"] if every else {}).get("fwer")
        cv = claim_verdict(recs, profile, miss, fwer=fwer)
        decl = every[0]["claim"] if every else {}
        if not decl.get("subclaims"):
            lines.append(f"  {cid}: {cv['verdict']} ({cv['detail']})")
            continue
        from bnclaims.harness.report import build as report
        from bnclaims.harness.declare import subclaims as sc  # judged as the report's first screen judges them
        maps = [build_map(m, {r["id"]: r for r in every}) for m in decl.get("maps") or []]
        judged = report.judge_claim(decl["subclaims"], by_id, maps, profile, kos)
        lines.append(f"  {cid}: {judged['headline']['word']} (votes: {cv['verdict']}; non-voting: "
                     f"{sc.non_voting_direction(recs, sc.side_only_ids(decl['subclaims']))['words']})")
        lines += [f"    {x['id']} {x['title']}: {x['verdict']}" for x in judged["subclaims"]]
    return lines
