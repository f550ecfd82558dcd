"""Session state of the claims run: the settings stash, and the controller's reporter that gathers evidence from
test reports (local or relayed by xdist), writes the report files and the terminal section, with progress lines.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest

from bnclaims.harness.plugin import options
from bnclaims.harness.stats import verdict as vd
from bnclaims.harness.declare.evidence import fmt_ci, fmt_num, arm_counts

SETTINGS = pytest.StashKey[options.Settings]()      # the --claims-* options, parsed once in pytest_configure


def is_controller(config) -> bool:
    """Not an xdist worker: the xdist controller, or the one process of a run without xdist."""
    return not hasattr(config, "workerinput")


@dataclass
class State:
    """What the controller gathers over a session, and what it wrote."""
    records: list = field(default_factory=list)    # evidence dicts, each with "outcome" added
    missing: dict = field(default_factory=dict)    # id -> pre-registration without evidence
    not_run: list = field(default_factory=list)    # checks this profile does not run (Hypothesis.profiles)
    controls: list = field(default_factory=list)   # (nodeid, outcome, verdict) per control item
    paths: dict = field(default_factory=dict)
    comparison: dict | None = None
    compare_text: str = ""
    errors: list = field(default_factory=list)


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
        s = config.stash[SETTINGS]
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


class ClaimsReporter:
    """Controller-side collector: evidence from call reports (local or relayed by xdist), the
    report files, the comparison and the terminal section."""

    def __init__(self, config):
        self.config = config
        self.settings = config.stash[SETTINGS]
        self.state = State()
        self.progress = Progress(config) if config.getoption("claims_progress") else None

    # ---- progress (collection ends in the workers under xdist; this process hears of it either way)
    def pytest_collection_finish(self, session):
        if self.progress is not None and is_controller(self.config):
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
        from bnclaims.harness import report as rp
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
        from bnclaims.harness import report  # the knock-outs measured at this profile and seed base, read once
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
        from bnclaims.harness import report
        from bnclaims.harness.declare import subclaims as sc  # judged as the report's first screen judges them
        maps = [build_map(m, {r["id"]: r for r in every}) for m in decl.get("maps") or []]
        judged = report.judge_claim(decl["subclaims"], by_id, maps, profile, kos)
        lines.append(f"  {cid}: {judged['headline']['word']} (votes: {cv['verdict']}; non-voting: "
                     f"{sc.non_voting_direction(recs, sc.side_only_ids(decl['subclaims']))['words']})")
        lines += [f"    {x['id']} {x['title']}: {x['verdict']}" for x in judged["subclaims"]]
    return lines
