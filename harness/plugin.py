"""pytest plugin for claim checks: --claims-* options, the claim marker, the claims_ctx and
claims_run fixtures, and the claim report written once by the controller.

Evidence travels from (xdist) workers to the controller as a JSON string on the call-phase
TestReport (report.claim_evidence), so `-n 0` and `-n 2` produce the same report.
This module must not import torch (checked by tests/harness/test_plugin.py).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.context import RunContext
from harness.evidence import evidence_table, fmt_ci, fmt_num, arm_counts, to_builtin, validate_evidence
from harness.hypothesis import PROFILES

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


@dataclass
class _Settings:
    ctx: RunContext
    ids: list[str]
    compare: str | None


@dataclass
class _State:
    records: list = field(default_factory=list)    # evidence dicts, each with "outcome" added
    missing: dict = field(default_factory=dict)    # id -> pre-registration without evidence
    paths: dict = field(default_factory=dict)
    comparison: dict | None = None
    compare_text: str = ""
    errors: list = field(default_factory=list)


_SETTINGS = pytest.StashKey[_Settings]()


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_addoption(parser):
    g = parser.getgroup("claims", "bnclaims: statistical checks of claims about Batch Normalization")
    g.addoption("--claims-profile", default="ci", metavar="{smoke,ci,full}",
                help="budget profile: smoke (tiny, no verdict asserted), ci (default), full")
    g.addoption("--claims-seed-base", default="0", metavar="N",
                help="seed base (int >= 0); base N uses seeds N*10000 + i (default 0)")
    g.addoption("--claims-store", default=None, metavar="DIR",
                help="run store folder (default: $BNCLAIMS_STORE or <rootdir>/.bnclaims/store)")
    g.addoption("--claims-report", default="claims-report", metavar="DIR",
                help="folder for report.json/.md/.html (default: claims-report)")
    g.addoption("--claims-compare", default=None, metavar="OLD.json",
                help="compare this run's report with a saved report.json; a verdict change fails the session")
    g.addoption("--claims-ids", default=None, metavar="IDS",
                help="comma-separated claim or hypothesis ids to run, e.g. C1,C3.a (C1 selects C1.a, C1.b, ...)")


def _parse_ids(raw: str | None) -> list[str]:
    if raw is None:
        return []
    ids = [s.strip() for s in raw.split(",") if s.strip()]
    if not ids:
        raise pytest.UsageError("--claims-ids: give at least one id, e.g. --claims-ids C1,C3.a")
    bad = [s for s in ids if not _ID.match(s)]
    if bad:
        raise pytest.UsageError(f"--claims-ids: malformed id(s) {', '.join(map(repr, bad))}; "
                                "ids look like C1 or C1.a")
    return ids


def _settings_from_options(config) -> _Settings:
    profile = config.getoption("claims_profile")
    if profile not in PROFILES:
        raise pytest.UsageError(f"--claims-profile: unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    raw = str(config.getoption("claims_seed_base"))
    try:
        seed_base = int(raw)
    except ValueError:
        seed_base = -1
    if seed_base < 0:
        raise pytest.UsageError(f"--claims-seed-base: expected an integer >= 0, got {raw!r}")
    base = Path(config.invocation_params.dir)
    store = config.getoption("claims_store") or os.environ.get("BNCLAIMS_STORE") \
        or str(config.rootpath / ".bnclaims" / "store")
    store = str((base / store).resolve())
    report_dir = str((base / config.getoption("claims_report")).resolve())
    compare = config.getoption("claims_compare")
    if compare is not None:
        compare = str((base / compare).resolve())
        if _is_controller(config) and not os.path.isfile(compare):
            raise pytest.UsageError(f"--claims-compare: no such report file: {compare}")
    ids = _parse_ids(config.getoption("claims_ids"))
    if not _is_controller(config):
        # the controller resolved the paths; workers may run in another folder
        sent = config.workerinput.get("bnclaims") or {}
        store, report_dir = sent.get("store", store), sent.get("report_dir", report_dir)
    return _Settings(RunContext(profile=profile, seed_base=seed_base, store=store, report_dir=report_dir),
                     ids, compare)


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id): the article claim or hypothesis id this test checks (e.g. C1.a)")
    if _is_controller(config):
        # before xdist spawns workers (they inherit the environment): one thread per process
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
    settings = _settings_from_options(config)
    config.stash[_SETTINGS] = settings
    if _is_controller(config):
        os.environ["BNCLAIMS_STORE"] = settings.ctx.store
        config.pluginmanager.register(_ClaimsReporter(config), "bnclaims-reporter")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    ctx = node.config.stash[_SETTINGS].ctx
    node.workerinput["bnclaims"] = {"store": ctx.store, "report_dir": ctx.report_dir}


def pytest_report_header(config):
    ctx = config.stash[_SETTINGS].ctx
    return f"bnclaims: profile {ctx.profile}, seed base {ctx.seed_base}, store {ctx.store}"


# ---- selection -----------------------------------------------------------------------------

def _claim_ids(item) -> list[str]:
    return [str(m.args[0]) for m in item.iter_markers("claim") if m.args]


def _selected(item, ids: list[str]) -> bool:
    for m in _claim_ids(item):
        for s in ids:
            if m == s or m.startswith(s + "."):
                return True
            if s.startswith(m + "."):
                # a claim-level marker: narrow by parametrize id when there is one
                spec = getattr(item, "callspec", None)
                if spec is None or s in re.split(r"[-\[\]]", spec.id):
                    return True
    return False


def pytest_collection_modifyitems(session, config, items):
    ids = config.stash[_SETTINGS].ids
    if not ids:
        return
    keep, drop = [], []
    for item in items:
        (keep if _selected(item, ids) else drop).append(item)
    unmatched = [i for i in ids if not any(_selected(item, [i]) for item in keep)]
    if unmatched:
        raise pytest.UsageError(f"--claims-ids: {', '.join(unmatched)} matches no collected claim check "
                                "(see `bnclaims list` for the ids)")
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def claims_ctx(pytestconfig) -> RunContext:
    """The RunContext built from the --claims-* options."""
    return pytestconfig.stash[_SETTINGS].ctx


def _check_marker(item, hyp) -> None:
    marks = _claim_ids(item)
    if marks and not any(hyp.id == m or hyp.id.startswith(m + ".") for m in marks):
        raise ValueError(f"{item.nodeid} is marked claim({', '.join(marks)}) but checks hypothesis {hyp.id}; "
                         "fix the marker so --claims-ids selects the right tests")


def _assert_verdict(hyp, ev: dict) -> None:
    if ev["profile"] == "smoke":
        return
    verdict, expect = ev["verdict"], hyp.expect
    reason = ev["stats"].get("reason") or "no reason given"
    table = evidence_table(ev)
    if verdict == "inconclusive" and not hyp.confirmatory:
        # Exploratory checks are non-gating: an inconclusive one is an expected failure, shown as xfailed
        # with its reason (never a pass); a confirmatory one fails below.
        pytest.xfail(f"exploratory, non-gating: INCONCLUSIVE at this budget ({reason})")
    if verdict == "inconclusive":
        pytest.fail(f"{hyp.id}: INCONCLUSIVE: the data decide neither way ({reason}); an inconclusive "
                    f"check never passes. Raise the budget or revisit the design.\n{table}", pytrace=False)
    if verdict == expect == "reproduced":
        return
    if verdict == expect == "not reproduced":
        pytest.xfail(f"pre-registered expected failure: {hyp.expect_reason}; measured: {reason}")
    if expect == "not reproduced" and verdict == "reproduced":
        pytest.fail(f"{hyp.id}: unexpected pass: pre-registered as an expected failure "
                    f"({hyp.expect_reason}) but the hypothesis was reproduced; update the "
                    f"expectation if this holds up.\n{table}", pytrace=False)
    if expect == "reproduced":
        pytest.fail(f"{hyp.id}: NOT REPRODUCED: {hyp.statement}\n{table}", pytrace=False)
    pytest.fail(f"{hyp.id}: measured {verdict!r} but the pre-registered expectation is {expect!r}\n{table}",
                pytrace=False)


@pytest.fixture
def claims_run(request, claims_ctx):
    """claims_run(hypothesis, claim, run_fn) -> evidence dict.

    Pre-registers the hypothesis on the test item, calls run_fn(hypothesis, ctx) (which returns
    harness.evidence.make_evidence(...)), validates and records the evidence, then asserts the
    verdict: reproduced passes; an expected "not reproduced" xfails (strictly: reproducing it
    fails); inconclusive and unexpected "not reproduced" fail with the evidence table; under the
    smoke profile no verdict is asserted. One hypothesis per test.
    """
    item = request.node

    def run(hypothesis, claim, run_fn):
        if getattr(item, "_bnclaims_declaration", None) is not None:
            raise RuntimeError(f"{item.nodeid}: claims_run was already called in this test; check one "
                               "hypothesis per test (parametrize over hypotheses)")
        if hypothesis.claim != claim.id:
            raise ValueError(f"{hypothesis.id} belongs to claim {hypothesis.claim!r}, not {claim.id!r}")
        _check_marker(item, hypothesis)
        declaration = to_builtin(hypothesis.declaration())
        item._bnclaims_declaration = json.dumps(
            {"id": hypothesis.id, "claim": to_builtin(claim.summary()), "hypothesis": declaration},
            allow_nan=False, sort_keys=True)
        ev = run_fn(hypothesis, claims_ctx)
        validate_evidence(ev)
        if ev["id"] != hypothesis.id or ev["hypothesis"] != declaration:
            raise ValueError(f"{hypothesis.id}: the evidence's hypothesis differs from the pre-registered declaration")
        if ev["profile"] != claims_ctx.profile or ev["seed_base"] != claims_ctx.seed_base:
            raise ValueError(f"{hypothesis.id}: evidence built for profile {ev['profile']}/seed base "
                             f"{ev['seed_base']}, but this run is {claims_ctx.profile}/{claims_ctx.seed_base}")
        item._bnclaims_evidence = json.dumps(ev, allow_nan=False, sort_keys=True)
        _assert_verdict(hypothesis, ev)
        return ev

    return run


# ---- reports travel on TestReports ------------------------------------------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        ev = getattr(item, "_bnclaims_evidence", None)
        decl = getattr(item, "_bnclaims_declaration", None)
        if ev is not None:
            rep.claim_evidence = ev          # str: xdist serialises it unchanged
        if decl is not None:
            rep.claim_declaration = decl
    return rep


def _outcome(report) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return report.outcome


class _ClaimsReporter:
    """Controller-side collector: evidence from call reports (local or relayed by xdist), the
    report files, the comparison and the terminal section."""

    def __init__(self, config):
        self.config = config
        self.settings = config.stash[_SETTINGS]
        self.state = _State()

    def pytest_runtest_logreport(self, report):
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

    def _missing(self) -> list[dict]:
        recorded = {r["id"] for r in self.state.records}
        return [m for hid, m in sorted(self.state.missing.items()) if hid not in recorded]

    def pytest_sessionfinish(self, session, exitstatus):
        state = self.state
        if not state.records:
            return
        from harness import report as rp
        from harness.evidence import environment

        ctx = self.settings.ctx
        run_info = {"profile": ctx.profile, "seed_base": ctx.seed_base, "ids": self.settings.ids,
                    "env": environment(import_torch=False),
                    "timing": {"workers": getattr(self.config.option, "numprocesses", None) or 0}}
        try:
            state.paths = rp.write_reports(state.records, ctx.report_dir, run_info=run_info,
                                           missing=self._missing())
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
        if not (state.records or state.missing or state.errors):
            return
        tr = terminalreporter
        tr.ensure_newline()
        tr.section("bnclaims")
        for line in summary_lines(state.records, self._missing(), ctx.profile):
            tr.write_line(line)
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


def summary_lines(records: list[dict], missing: list[dict], profile: str) -> list[str]:
    """Terminal lines: one per hypothesis (sorted by id), then each claim's overall verdict."""
    from harness.report import claim_verdict, id_key

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
             "confirmatory": m["hypothesis"].get("confirmatory", True)})
    if claims:
        lines.append("claims:")
    for cid in sorted(claims, key=id_key):
        recs, miss = claims[cid]
        cv = claim_verdict(recs, profile, miss)
        lines.append(f"  {cid}: {cv['verdict']} ({cv['detail']})")
    return lines
