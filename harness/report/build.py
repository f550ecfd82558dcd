"""Claim reports: report.json (data), report.md and one self-contained report.html, with figures.

write_reports(records, outdir, run_info=...) turns the evidence records of a run into the three
files; render_report(report, outdir) re-renders md/html from a saved report.json;
compare_reports(old, new) finds verdict changes and effect drift between two saved reports.
No torch import; matplotlib is imported only when figures are rendered.
"""
from __future__ import annotations

import base64
import hashlib
import html
import inspect
import json
import math
import os
import re
import shutil
import sys
from pathlib import Path

from bnclaims.harness.declare.evidence import arm_counts, fmt_ci, fmt_num, fmt_seeds, to_builtin
from bnclaims.harness.declare.maps import build_map, is_cell, level_label
from bnclaims.harness.declare import subclaims as sc
from bnclaims.harness.report.summary import ARM_STYLES, arm_style, figure_anchor, with_unit
from bnclaims.harness.stats.verdict import claim_verdict, id_key  # noqa: F401  (re-exported for report users)

REPORT_SCHEMA = 1


# ---- multiplicity ----------------------------------------------------------------------------

def multiplicity(records: list[dict]) -> dict:
    """Holm and BH adjusted p over the voting hypotheses that report a p value: views beside the verdict,
    which already decides each at its allocated (Bonferroni) alpha."""
    from bnclaims.harness.stats.verdict import votes
    rows = [r for r in records if votes(r["hypothesis"]) and isinstance(r["stats"].get("p"), (int, float))]
    rows.sort(key=lambda r: id_key(r["id"]))
    p = [float(r["stats"]["p"]) for r in rows]
    from bnclaims.harness.stats import core as stats  # scipy.stats is slow to import; only reports need it
    holm, bh = (to_builtin(stats.holm(p)), to_builtin(stats.bh(p))) if p else ([], [])
    return {"scope": "voting hypotheses (confirmatory evidence) with a p value", "ids": [r["id"] for r in rows],
            "p": p, "alpha": [r["hypothesis"].get("alpha") for r in rows], "holm": holm, "bh": bh}


# ---- building and writing ------------------------------------------------------------------

def build_report(records: list[dict], *, run_info: dict, missing=(), controls=(), not_run=()) -> dict:
    """The report.json document. Wall times go under "timing" so runs compare on content only."""
    records = sorted((dict(r) for r in records), key=lambda r: id_key(r["id"]))
    ids = [r["id"] for r in records]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"several evidence records for {', '.join(dup)}; one test per hypothesis")
    timing = {"wall_s": {}}
    for r in records:
        timing["wall_s"][r["id"]] = r.pop("wall_s", None)
        r.pop("worker", None)
    info = dict(run_info)
    timing.update(info.pop("timing", {}) or {})
    profile = info.get("profile") or (records[0]["profile"] if records else "ci")
    info["profile"] = profile
    missing = sorted((dict(m) for m in missing), key=lambda m: id_key(m["id"]))
    by_id: dict = {}
    for c in controls:
        by_id.setdefault(c["id"], []).append(c)
    amendments = _amendments()
    for r in records:
        mine = by_id.get(r["id"], [])
        null = [c for c in mine if c.get("kind") == "null"]
        if null:
            r["null_control"] = null[0]
            void_on_null(r)
        if amendments.get(r["id"]):
            r["amendments"] = amendments[r["id"]]

    claims = {}
    for r in records:
        claims.setdefault(r["claim"]["id"], dict(r["claim"]))
    for m in missing:
        claims.setdefault(m["claim"]["id"], dict(m["claim"]))
    claim_rows = []
    by_hid = {r["id"]: r for r in records if not is_cell(r["id"])}
    kos = knockout_table(profile, info.get("seed_base", 0)) if any(c.get("subclaims") for c in claims.values()) else None
    for cid in sorted(claims, key=id_key):
        every = [r for r in records if r["claim"]["id"] == cid]
        recs = [r for r in every if not is_cell(r["id"])]      # robustness-map cells do not vote
        miss = [{"id": m["id"], "title": m["hypothesis"].get("title", ""),
                 "confirmatory": m["hypothesis"].get("confirmatory", True),
                 "role": m["hypothesis"].get("role", "evidence")}
                for m in missing if m["claim"]["id"] == cid]
        row = dict(claims[cid])
        row.update(claim_verdict(recs, profile, miss, fwer=claims[cid].get("fwer")))
        row["hypotheses"] = [r["id"] for r in recs] + [m["id"] for m in miss]
        maps = [build_map(decl, {r["id"]: r for r in every}, [c for c in controls if is_cell(c["id"])])
                for decl in claims[cid].get("maps") or []]
        for m in maps:                    # a map's amendments show under the map
            if amendments.get(f"{m['hypothesis']}@map"):
                m["amendments"] = amendments[f"{m['hypothesis']}@map"]
        if maps:
            row["robustness"] = maps
        if any(m["run"] for m in maps):       # a map with no cell in this profile says nothing
            row["where"] = " ".join(m["words"] + "." for m in maps if m["run"])
            row["detail"] = f"{row['detail']}. Where it holds: {row['where']}"
        decls = claims[cid].get("subclaims") or []
        row["non_voting"] = sc.non_voting_direction(recs, sc.side_only_ids(decls))
        if decls:
            row.update(judge_claim(decls, by_hid, maps, profile, kos, amendments))
        claim_rows.append(row)

    nulls = [c for c in controls if c.get("kind") == "null" and isinstance(c.get("alpha"), (int, float))
             and not is_cell(c["id"])]          # a map's null cells are counted by its map
    gating = [c for c in nulls if c.get("gating", True)]
    null_rate = {"controls": len(nulls), "reproduced": sum(c.get("verdict") == "reproduced" for c in nulls),
                 "expected_any": 1 - math.prod(1 - c["alpha"] for c in nulls) if nulls else None,
                 "sum_alpha": sum(c["alpha"] for c in nulls),
                 "gating": len(gating), "gating_reproduced": sum(c.get("verdict") == "reproduced" for c in gating),
                 "gating_expected_any": 1 - math.prod(1 - c["alpha"] for c in gating) if gating else None,
                 "sum_claim_fwer": sum(c.get("fwer") or 0 for c in claim_rows),
                 "note": "under no effect anywhere, the chance that at least one null control is reproduced at a "
                         "seed base (at most the sum of their alphas; benchmarks/repeat_rates.py measures it). "
                         "Only the null controls of voting hypotheses gate (the others are xfailed when they "
                         "reproduce), so a suite failure from them has probability about the sum of the claims' "
                         "family-wise alphas."}
    pilot = (sc.PILOT_NOTE if info.get("seed_base", 0) == sc.PILOT_BASE and profile != "smoke" else None)
    return to_builtin({"schema": REPORT_SCHEMA, "run": info, "claims": claim_rows, "pilot": pilot,
                       "round": round_banner(info.get("seed_base", 0), profile, info.get("data_draw", "fixed")),
                       "hypotheses": records, "missing": missing, "controls": list(controls),
                       "not_run": sorted((dict(n) for n in not_run), key=lambda n: id_key(n["id"])),
                       "null_controls": null_rate, "multiplicity": multiplicity(records), "timing": timing,
                       "knockouts": kos})


def knockout_table(profile: str, seed_base) -> dict | None:
    """The declared knock-outs of bnclaims' votes (claims/knockouts.py) joined with the measured results that
    benchmarks/knockouts.py wrote for this profile and seed base (claims/knockouts.results.json); None if the
    pack has no knock-outs. A knock-out not measured at this profile and seed base says so."""
    try:
        from bnclaims.claims import knockouts as ko
    except ImportError:
        return None
    path = Path(ko.__file__).with_name("knockouts.results.json")
    measured, where = {}, None
    try:
        res = json.loads(path.read_text())
        if res.get("profile") == profile and res.get("seed_base") == seed_base:
            measured = {r["key"]: r for r in res.get("rows", [])}
            where = {"commit": res.get("commit"), "declarations_sha256": res.get("declarations_sha256"),
                     "current": res.get("declarations_sha256") == ko.declarations_sha256()}
    except (OSError, ValueError, AttributeError):
        pass
    rows = []
    for k in ko.KNOCKOUTS:
        d = k.describe()
        m = measured.get(d["key"], {})
        rows.append({"key": d["key"], "vote": d["vote"], "subclaim": d["subclaim"], "removes": d["removes"],
                     "note": d.get("note", ""), "measured": bool(m), "vote_verdict": m.get("vote_verdict"),
                     "vote_effect": m.get("vote_effect"), "knockout_verdict": m.get("knockout_verdict"),
                     "knockout_effect": m.get("knockout_effect"), "knockout_ci": m.get("knockout_ci"),
                     "knockout_p": m.get("knockout_p"), "died": m.get("died")})
    return {"source": "benchmarks/knockouts.py (claims/knockouts.results.json)", "profile": profile,
            "seed_base": seed_base, "measured_at": where, "rows": rows,
            "rule": "A knock-out removes the mechanism its vote names; the vote died when the knocked-out check is "
                    "not reproduced. A vote that survives its knock-out measures something else."}


def judge_claim(decls: list[dict], by_hid: dict, maps, profile: str, kos: dict | None, amendments=None) -> dict:
    """{"subclaims", "headline"} of one claim: each sub-claim's verdict (harness.subclaims), its amendments, and the
    knock-outs measured at this profile and seed base applied. The report and the terminal both judge through here."""
    rows = [sc.subclaim_verdict(d, by_hid, maps, profile) for d in decls]
    for x in rows:
        if (amendments or {}).get(x["id"]):
            x["amendments"] = amendments[x["id"]]
    out = {"subclaims": rows, "headline": sc.headline(rows, profile)}
    if kos:
        _apply_knockouts([out], kos, profile)
    return out


def _apply_knockouts(claim_rows: list[dict], kos: dict, profile: str) -> None:
    """A vote that survives its knock-out (measured at this profile and seed base) measures something besides the
    mechanism it names: a sub-claim supported through it is "supported as measured, mechanism not supported"."""
    survived: dict = {}
    for k in kos["rows"]:
        if k["measured"] and k["died"] is False:
            survived.setdefault(k["vote"], []).append(k)
    for row in claim_rows:
        changed = False
        for x in row.get("subclaims") or []:
            hit = [v for v in x.get("evidence_for", []) if v in survived]
            if not hit or not (x["verdict"] in ("supported", "supported as measured, mechanism not tested")
                               or x["verdict"].startswith("holds in")):
                continue
            x["verdict_before_knockouts"] = x["verdict"]
            x["verdict"] = "supported as measured, mechanism not supported"
            x["knockouts_survived"] = hit
            x["why"] += "; " + "; ".join(f"{v} survives its knock-out ({k['removes']}; effect "
                                         f"{fmt_num(k['knockout_effect'], 3)}, p {fmt_num(k['knockout_p'], 3)}): it "
                                         "measures something besides that mechanism" for v in hit for k in survived[v])
            changed = True
        if changed:
            row["headline"] = sc.headline(row["subclaims"], profile)


def _amendments() -> dict:
    """Amendments to the builtin declarations (claims/amendments.json), by hypothesis id; {} if absent."""
    try:
        from bnclaims.harness.declare import prereg
        return prereg.load_amendments()
    except (ImportError, FileNotFoundError, AttributeError):
        return {}


def write_reports(records: list[dict], outdir, *, run_info: dict, missing=(), controls=(),
                  not_run=()) -> dict[str, Path]:
    """Write report.json, report.md, report.html and figures/ under outdir; return their paths.

    records: evidence dicts (harness.evidence.make_evidence), optionally with "outcome" (the
    pytest outcome). missing: pre-registrations whose test produced no evidence
    ({"id", "claim", "hypothesis", "outcome"}). not_run: checks this profile skips by declaration
    ({"id", "claim", "title", "profiles", "why"}; Hypothesis.profiles).
    """
    report = build_report(records, run_info=run_info, missing=missing, controls=controls, not_run=not_run)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / "report.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return {"json": path, **render_report(report, outdir)}


def load_report(path) -> dict:
    with open(path) as f:
        report = json.load(f)
    if not isinstance(report, dict) or "hypotheses" not in report or "claims" not in report:
        raise ValueError(f"{path}: not a bnclaims report.json")
    return report


def render_report(report: dict, outdir) -> dict[str, Path]:
    """Render report.md, report.html and figures/*.png from a report dict."""
    outdir = Path(outdir)
    figdir = outdir / "figures"
    outdir.mkdir(parents=True, exist_ok=True)
    files = render_figures(report, figdir)
    from bnclaims.harness.report import summary as sm
    if sm.render_forest(report, figdir / FOREST_FILE) is not None:
        files = {**files, FOREST_ID: FOREST_FILE}
    for c in report["claims"]:          # designed maps: the model's heat map (first screen and the claim's section)
        for rm in c.get("robustness") or []:
            fid = sm.map_figure_id(rm["hypothesis"])
            if sm.render_map_heat(rm, figdir / f"{fid}.png") is not None:
                files = {**files, fid: f"{fid}.png"}
    md = outdir / "report.md"
    md.write_text(render_markdown(report, files))
    page = outdir / "report.html"
    page.write_text(render_html(report, {fid: figdir / name for fid, name in files.items()}))
    return {"md": md, "html": page, "figures": figdir}


# ---- figures -------------------------------------------------------------------------------
FOREST_ID, FOREST_FILE = "summary-forest", "summary-forest.png"     # the summary's forest plot (harness.summary)

def _figure_specs(report: dict) -> list[tuple[str, dict]]:
    return [(r["id"], spec) for r in report["hypotheses"] for spec in r.get("figures", [])]


def figure_files(report: dict) -> dict[str, str]:
    """Figure id -> file name (ids sanitized; repeated ids get _2, _3 ...)."""
    files, used = {}, set()
    for _, spec in _figure_specs(report):
        if spec["id"] in files:
            continue
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", spec["id"]) or "figure"
        name, k = f"{base}.png", 2
        while name in used:
            name, k = f"{base}_{k}.png", k + 1
        used.add(name)
        files[spec["id"]] = name
    return files


def _floats(v):
    return [math.nan if a is None else float(a) for a in v]


def _draw(ax, spec: dict) -> None:
    kind = spec.get("kind", "lines")
    ser = spec.get("series", [])
    if kind == "bar":
        cats = []
        for s in ser:
            cats += [c for c in s["x"] if c not in cats]
        width = 0.8 / max(len(ser), 1)
        for k, s in enumerate(ser):
            pos = [cats.index(c) - 0.4 + width * (k + 0.5) for c in s["x"]]
            y = _floats(s["y"])
            yerr = None
            if s.get("lo") is not None and s.get("hi") is not None:
                yerr = [[max(a - b, 0.0) for a, b in zip(y, _floats(s["lo"]))],
                        [max(b - a, 0.0) for a, b in zip(y, _floats(s["hi"]))]]
            ax.bar(pos, y, width, yerr=yerr, label=s["label"], capsize=2, color=arm_style(s["label"])[0])
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels([str(c) for c in cats])
    else:
        for s in ser:
            x, y = _floats(s["x"]), _floats(s["y"])
            colour, marker = arm_style(s["label"])
            if kind == "scatter":
                ax.scatter(x, y, s=14, label=s["label"], color=colour, marker=marker)
            else:
                (line,) = ax.plot(x, y, label=s["label"], color=colour, marker=marker, ms=3,
                                  markevery=None if len(x) <= 12 else max(len(x) // 8, 1))
                if s.get("lo") is not None and s.get("hi") is not None:
                    ax.fill_between(x, _floats(s["lo"]), _floats(s["hi"]), color=line.get_color(),
                                    alpha=0.2, linewidth=0)
    if spec.get("logy"):
        ax.set_yscale("log")
    ax.set_title(spec.get("title", ""), fontsize=10)
    ax.set_xlabel(with_unit(spec.get("xlabel", "")))
    ax.set_ylabel(with_unit(spec.get("ylabel", "")))
    if any(s.get("label") for s in ser):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def render_figure(spec: dict, path) -> Path:
    """Render one figure spec (single axes, or "panels" side by side) to a deterministic PNG."""
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    specs = spec["panels"] if "panels" in spec else [spec]
    fig = Figure(figsize=(4.6 * len(specs), 3.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(specs), squeeze=False)[0]
    for ax, s in zip(axes, specs):
        _draw(ax, s)
    if "panels" in spec and spec.get("title"):
        fig.suptitle(spec["title"], fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def _figure_cache() -> Path | None:
    """Rendered PNGs keyed by their spec, beside the run store: a warm run re-renders nothing."""
    from bnclaims.harness.paths import store_dir
    return store_dir() / "figures"


def render_figures(report: dict, figdir) -> dict[str, str]:
    """Render every figure of the report into figdir; figure id -> file name."""
    import matplotlib
    files = figure_files(report)
    if files:
        Path(figdir).mkdir(parents=True, exist_ok=True)
    cache = _figure_cache()
    done = set()
    for _, spec in _figure_specs(report):
        if spec["id"] in done:
            continue
        done.add(spec["id"])
        target = Path(figdir) / files[spec["id"]]
        blob = (json.dumps(spec, sort_keys=True) + matplotlib.__version__ + inspect.getsource(_draw)
                + json.dumps(ARM_STYLES, sort_keys=True) + inspect.getsource(with_unit))
        cached = cache / f"{hashlib.sha256(blob.encode()).hexdigest()[:24]}.png" if cache else None
        if cached is not None and cached.exists():
            shutil.copyfile(cached, target)
            continue
        render_figure(spec, target)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(target, tmp)
            os.replace(tmp, cached)
    return files


# ---- text rendering ------------------------------------------------------------------------

COLUMNS = ("hypothesis", "statement", "stance", "test", "n per arm", "effect [95% CI]", "g or d_z", "p",
           "verdict", "role")


def _verdict_cell(r: dict) -> str:
    v = r["verdict"]
    if v == "not reproduced" and r["hypothesis"].get("expect") == "not reproduced":
        return "not reproduced (expected)"
    if r["hypothesis"].get("expect") == "not reproduced" and v == "reproduced":
        return "reproduced (expected not)"
    return v


def table_row(r: dict) -> list[str]:
    h, st = r["hypothesis"], r["stats"]
    test = st.get("test") or h.get("test")
    direction = st.get("direction") or h.get("direction")
    return [f"{r['id']} {h.get('title', '')}".strip(), h.get("statement", ""), h.get("stance", ""),
            test if direction in (None, test) else f"{test} ({direction})", arm_counts(r),
            f"{fmt_num(st.get('effect'), 3)} {fmt_ci(st.get('ci'), 3)}".replace(" —", ""),
            (f"d_z {fmt_num(st['d_z'], 3)}" if st.get("d_z") is not None else fmt_num(st.get("hedges_g"), 3)),
            fmt_num(st.get("p"), 3), _verdict_cell(r),
            role_cell(h)]


def role_cell(h: dict) -> str:
    """evidence (votes at alpha a) / secondary / exploratory evidence, or a check that does not vote."""
    role = h.get("role", "evidence")
    if h.get("retired"):
        return f"retired, not evidence: {h['retired']}"
    if role != "evidence":
        return f"{role} check (does not vote)"
    if h.get("confirmatory", True):
        return f"evidence, votes at alpha {fmt_num(h.get('alpha'), 3)}"
    return f"evidence, {'secondary' if h.get('group') else 'exploratory'} (alpha {fmt_num(h.get('alpha'), 3)}, no vote)"


def _md_cell(s) -> str:
    return (str(s).replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " "))


def _run_line(report: dict) -> str:
    run = report["run"]
    env = run.get("env") or {}
    versions = ", ".join(f"{k} {env[k]}" for k in ("python", "numpy", "scipy", "torch") if env.get(k))
    return (f"profile **{run.get('profile')}**, seed base {run.get('seed_base', 0)}, "
            + (f"data drawn {run['data_draw']}, " if run.get("data_draw", "fixed") != "fixed" else "")
            + f"{len(report['hypotheses'])} hypotheses with evidence"
            + (f", ids {', '.join(run['ids'])}" if run.get("ids") else "")
            + (f"; {versions}" if versions else ""))


def details(r: dict) -> list[tuple[str, str]]:
    """(label, text) pairs explaining one record below the table: metric, measured reason, notes."""
    h, stt = r.get("hypothesis", {}), r.get("stats", {})
    out = [("metric", h.get("metric", "")), ("result", stt.get("reason") or "")]
    seq = stt.get("sequential")
    if seq:
        out.append(("sequential plan", f"two looks, boundaries p {seq.get('boundaries_p')}, "
                                       f"stopped at look {seq.get('stopped_at')}"))
    if h.get("expect") == "not reproduced":
        out.append(("pre-registered expected failure", h.get("expect_reason", "")))
    if h.get("notes"):
        out.append(("notes", h["notes"]))
    nc = r.get("null_control")
    if nc:
        seeds = nc.get("seeds") or {}
        out.append(("null control", f"{nc.get('control')}: {nc.get('verdict')} at alpha {fmt_num(nc.get('alpha'), 3)} "
                                    f"(p {fmt_num(nc.get('p'), 3)}; seeds "
                                    + "; ".join(f"{a} {fmt_seeds(v)}" for a, v in seeds.items()) + ")"))
    for a in r.get("amendments") or []:
        out.append(("amendment", f"{a.get('date')}{' (after data were seen)' if a.get('after_data') else ''}: "
                                 f"{a.get('change')} Reason: {a.get('reason')}"))
    return [(k, v) for k, v in out if v]


def _card_counts(k: dict) -> str:
    return (f"{len(k['for'])} for, {len(k['against'])} against, {len(k['undecided'])} undecided"
            + (f" (+{k['exploratory']} exploratory)" if k["exploratory"] else ""))


def _subclaim_list(k: dict) -> str:
    return "; ".join(f"{x['id']} {x['title']}: {x['verdict']}" for x in k["subclaims"])


def void_on_null(r: dict) -> None:
    """A check whose null control reproduced has no verdict: the same pipeline found an effect where there is
    none, so its own verdict is void and reads inconclusive (verdict_before_null keeps what it measured). The run
    also fails when that control gates (a vote's): see harness.verdict.control_outcome."""
    nc = r.get("null_control") or {}
    if nc.get("verdict") != "reproduced" or r.get("verdict") == "inconclusive" or "verdict_before_null" in r:
        return
    r["verdict_before_null"] = r.get("verdict")
    r["verdict"] = "inconclusive"
    st = r.setdefault("stats", {})
    st["reason"] = (f"void: its null control {nc.get('control')!r} reproduced (p {nc.get('p')}) - the pipeline "
                    f"shows an effect without one; measured: {r['verdict_before_null']} ({st.get('reason', '')})")


DATA_DRAW_NOTE = ("Each seed drew its own MNIST-1D data set (--data-draw per-seed), while the round was registered "
                  "and run with every seed on one sample (data seed 42). This run is a secondary analysis of the "
                  "same declarations: what the verdicts say about the data-generating process. It does not vote.")


def round_banner(seed_base: int, profile: str, data_draw: str = "fixed") -> dict | None:
    """The registered round this seed base belongs to (bnclaims' own pack: claims.round2), for the first screen; a
    run whose seeds drew their own data sets says it is not the registered design."""
    if profile == "smoke":
        return None
    try:
        from bnclaims.claims import round2
    except ImportError:
        return None
    b = round2.banner(int(seed_base))
    if b is None or b["kind"] == "pilot":
        return None
    if data_draw != "fixed":
        b = {**b, "kind": "secondary analysis", "text": f"{DATA_DRAW_NOTE} The registered round: {b['text']}"}
    return b


def _selection_note(report: dict) -> str | None:
    """What the first screen says when the run selected checks by id: its headlines come from them alone."""
    ids = (report.get("run") or {}).get("ids") or []
    if not ids:
        return None
    shown = ", ".join(ids[:12]) + (f" and {len(ids) - 12} more" if len(ids) > 12 else "")
    return (f"This run ran only the checks selected by id ({shown}), so the claim headlines below are built from "
            f"those checks alone, not from the whole suite; a claim whose votes were not selected has no vote here.")


def _summary_md(report: dict, files: dict) -> list[str]:
    from bnclaims.harness.report import summary as sm
    out = ["## At a glance", ""]
    if report.get("pilot"):
        out += [f"> **Pilot.** {report['pilot']}", ""]
    if report.get("round"):
        out += [f"> **{report['round']['kind'].capitalize()}.** {report['round']['text']}", ""]
    note = _selection_note(report)
    if note:
        out += [f"> **Selected checks.** {note}", ""]
    out += ["| claim | headline | sub-claims | voting evidence | non-voting evidence | where it holds | "
            "family-wise alpha |", "|---|---|---|---|---|---|---|"]
    out += [f"| [{k['id']}](#{k['id'].lower()}) | **{k['headline']}** | {_md_cell(_subclaim_list(k) or '-')} | "
            f"{k['verdict']}: {_card_counts(k)} | {_md_cell(k['non_voting'] or '-')} | "
            f"{_md_cell(k['holds'] or '-')} | {fmt_num(k['fwer'])} |" for k in sm.claim_cards(report)]
    out.append("")
    for c in report["claims"]:
        for rm in c.get("robustness") or []:
            fid = sm.map_figure_id(rm["hypothesis"])
            if fid in files:
                out += [f"**{c['id']}, where {rm['hypothesis']} holds.** {_md_cell(rm['model']['words'])}.", "",
                        f"![{_md_cell(sm.map_caption(rm))}](figures/{files[fid]})", "", f"*{sm.map_caption(rm)}*", ""]
    if FOREST_ID in files:
        out += [f"![{_md_cell(sm.FOREST_CAPTION)}](figures/{files[FOREST_ID]})", "", f"*{sm.FOREST_CAPTION}*", ""]
    _, left = sm.forest_rows(report)
    if left:
        out += [f"Not on the forest plot (no standardized effect): {', '.join(left)}.", ""]
    figs = [(fid, name) for fid, name in files.items() if fid != FOREST_ID and not fid.startswith("map-")]
    if figs:
        out += ["Figures: " + ", ".join(f"[{fid}](figures/{name})" for fid, name in figs) + ".", ""]
    return out


def _died(x: dict) -> str:
    if not x["measured"]:
        return "not run"
    return {True: "died", False: "SURVIVED", None: "no verdict"}[x["died"]]


def _knockouts_md(ko: dict | None) -> list[str]:
    if not ko:
        return []
    at = ko.get("measured_at") or {}
    out = ["", "## Knock-outs: does each vote die without its mechanism?", "", ko["rule"], "",
           (f"Measured by {ko['source']} at commit {at.get('commit')}, profile {ko['profile']}, seed base "
            f"{ko['seed_base']}" + ("" if at.get("current", True) else " (the declarations have changed since)") + "."
            if at else f"Not measured at profile {ko['profile']}, seed base {ko['seed_base']}: run "
                       f"`python benchmarks/knockouts.py --seed-base {ko['seed_base']} --profile {ko['profile']}`."),
           "", "| vote | sub-claim | knock-out removes | vote | knock-out effect [95% CI] | p | knock-out verdict | vote |",
           "|---|---|---|---|---|---|---|---|"]
    out += [f"| {x['key']} | {x['subclaim']} | {_md_cell(x['removes'])} | {x['vote_verdict'] or '-'} | "
            f"{fmt_num(x['knockout_effect'], 3)} {fmt_ci(x['knockout_ci'], 3)} | {fmt_num(x['knockout_p'], 3)} | "
            f"{x['knockout_verdict'] or '-'} | **{_died(x)}** |" for x in ko["rows"]]
    return out


def _knockouts_html(ko: dict | None) -> list[str]:
    if not ko:
        return []
    e = html.escape
    md = _knockouts_md(ko)
    out = ['<h2 id="knockouts">Knock-outs: does each vote die without its mechanism?</h2>', f"<p>{e(md[3])}</p>",
           f"<p>{e(md[5].replace('`', ''))}</p>",
           "<table><tr><th>vote</th><th>sub-claim</th><th>knock-out removes</th><th>vote</th>"
           "<th>knock-out effect [95% CI]</th><th>p</th><th>knock-out verdict</th><th>vote</th></tr>"]
    for x in ko["rows"]:
        d = _died(x)
        cls = "v-reproduced" if d == "died" else "v-not-reproduced" if d == "SURVIVED" else "v-inconclusive"
        out.append(f"<tr><td>{e(x['key'])}</td><td>{e(x['subclaim'])}</td><td>{_statement_cell(x['removes'])}</td>"
                   f"<td>{e(str(x['vote_verdict'] or '-'))}</td><td>{fmt_num(x['knockout_effect'], 3)} "
                   f"{e(fmt_ci(x['knockout_ci'], 3))}</td><td>{fmt_num(x['knockout_p'], 3)}</td>"
                   f"<td>{e(str(x['knockout_verdict'] or '-'))}</td><td class=\"{cls}\"><b>{e(d)}</b></td></tr>")
    out.append("</table>")
    return out


def render_markdown(report: dict, files: dict[str, str] | None = None) -> str:
    files = figure_files(report) if files is None else files
    by_claim = {}
    for r in report["hypotheses"]:
        by_claim.setdefault(r["claim"]["id"], []).append(r)
    by_claim = {k: [r for r in v if not is_cell(r["id"])] for k, v in by_claim.items()}
    out = ["# bnclaims report", "", _run_line(report), ""] + _summary_md(report, files) + ["## Claims", "",
           "| claim | verdict | family-wise alpha | voting hypotheses | hypotheses |", "|---|---|---|---|---|"]
    for c in report["claims"]:
        out.append(f"| [{c['id']}](#{c['id'].lower()}) | {c['verdict']} | {fmt_num(c.get('fwer'))} | "
                   f"{', '.join(c.get('alpha_allocated') or []) or '-'} | {', '.join(c['hypotheses'])} |")
    for c in report["claims"]:
        out += ["", f"## {c['id']}", "", _md_cell(c.get("text", "")), "",
                f"*Source:* {_md_cell(c.get('source', ''))}"
                + ("" if c.get("article", True) else " *(a check beyond the article)*"), "",
                (f"**Headline: {c['headline']['word']}.** Voting verdict: {c['verdict']} ({_md_cell(c['detail'])})"
                 if c.get("headline") else f"**Overall verdict: {c['verdict']}** ({_md_cell(c['detail'])})"), ""]
        if c.get("non_voting"):
            out += [f"Non-voting evidence: {c['non_voting']['words']}.", ""]
        if c.get("subclaims"):
            out += ["| sub-claim | the article says | verdict | why | where |", "|---|---|---|---|---|"]
            out += [f"| {x['id']} {_md_cell(x['title'])} | {_md_cell(x['words'])} | **{x['verdict']}** | "
                    f"{_md_cell(x['why'])} | {_md_cell(x['where'])} |" for x in c["subclaims"]]
            out.append("")
            out += [f"- *amendment to sub-claim {x['id']}* ({a.get('date')}): {_md_cell(a.get('change'))} Reason: "
                    f"{_md_cell(a.get('reason'))}" for x in c["subclaims"] for a in x.get("amendments") or []]
        recs = by_claim.get(c["id"], [])
        ev = [r for r in recs if r["hypothesis"].get("role", "evidence") == "evidence"]
        chk = [r for r in recs if r not in ev]
        for title, rows in (("Evidence", ev), ("Checks (manipulation and identity: they do not vote)", chk)):
            if not rows:
                continue
            out += [f"**{title}**", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
            out += ["| " + " | ".join(_md_cell(x) for x in table_row(r)) + " |" for r in rows]
            out.append("")
        if recs:
            for r in recs:
                out.append(f"- **{r['id']}**: " + "; ".join(f"*{k}:* {_md_cell(v)}" for k, v in details(r)))
        miss = [m for m in report.get("missing", []) if m["claim"]["id"] == c["id"]]
        for m in miss:
            out.append(f"\n- {m['id']}: no evidence (pytest outcome: {m.get('outcome', '?')})")
        for n in (n for n in report.get("not_run", []) if n["claim"] == c["id"]):
            out.append(f"\n- {n['id']} ({_md_cell(n['title'])}): not run in this profile; runs in "
                       f"{', '.join(n['profiles'])} (or selected by its id)")
        for rm in c.get("robustness") or []:
            out += ["", f"### Where {rm['hypothesis']} holds: {rm['summary']} (of {rm['grid_cells']} in the survey grid)",
                    "", _md_cell(rm["words"]) + ".", ""] + [x for line in _model_lines(rm) for x in (_md_cell(line), "")] + [
                    "| cell | effect [95% CI] | p | BH q | verdict | map |",
                    "|---|---|---|---|---|---|"]
            out += [f"| {_cell_label(x)} | {fmt_num(x['effect'], 3)} {fmt_ci(x['ci'])} | {fmt_num(x['p'], 3)} | "
                    f"{fmt_num(x['q_bh'], 3)} | {x['verdict']} | {x['status']} |" for x in rm["cells"]]
            out += ["", "| factor | level | cells | holds | median effect | sign flips |", "|---|---|---|---|---|---|"]
            out += [f"| {f} | {row['level']} | {row['cells']} | {row['holds']} | {fmt_num(row['median_effect'], 3)} | "
                    f"{'yes' if row['flips'] else 'no'} |" for f, rows in rm["main_effects"].items() for row in rows]
        figs = [spec for r in recs for spec in r.get("figures", [])]
        if figs:
            out += ["", "### Figures", ""]
            out += [f"![{_md_cell(s.get('title') or s['id'])}](figures/{files[s['id']]})" for s in figs]
    out += _knockouts_md(report.get("knockouts"))
    mult = report.get("multiplicity") or {}
    if mult.get("ids"):
        out += ["", "## Suite-level multiplicity", "",
                f"Adjusted p over the {len(mult['ids'])} {mult['scope']} (Holm: family-wise; BH: false discovery rate).",
                "", "| hypothesis | p | Holm | BH | alpha |", "|---|---|---|---|---|"]
        for i, hid in enumerate(mult["ids"]):
            out.append(f"| {hid} | {fmt_num(mult['p'][i], 3)} | {fmt_num(mult['holm'][i], 3)} | "
                       f"{fmt_num(mult['bh'][i], 3)} | {fmt_num(mult['alpha'][i])} |")
    ctl = report.get("controls") or []
    if ctl:
        bad = [c for c in ctl if c.get("outcome") == "failed"]
        nr = report.get("null_controls") or {}
        out += ["", "## Controls", "", f"{len(ctl) - len(bad)} of {len(ctl)} controls showed what they "
                "should (each is a test item of its own; see each hypothesis's design for what it replaces). "
                "*null*: A/A on disjoint seeds (or a declared null against a fixed comparator), which can "
                "reproduce by chance at its alpha; *plumbing*: identical runs, which test the plumbing, not error "
                "rates; *negative*/*positive*: the effect removed or reversed / expected.", ""]
        if nr.get("controls"):
            out += [f"{nr['reproduced']} of {nr['controls']} null controls reproduced; with no effect anywhere, "
                    f"at least one would at a given seed base with probability about "
                    f"{fmt_num(nr.get('expected_any'), 3)} (sum of their alphas {fmt_num(nr.get('sum_alpha'), 3)}). "
                    f"{nr.get('gating_reproduced')} of the {nr.get('gating')} that gate (those of voting hypotheses) "
                    f"reproduced; at least one would with probability about {fmt_num(nr.get('gating_expected_any'), 3)}"
                    f" (the claims' family-wise alphas sum to {fmt_num(nr.get('sum_claim_fwer'), 3)}).", ""]
        out += ["| hypothesis | control | kind | verdict | alpha | p | outcome |", "|---|---|---|---|---|---|---|"]
        out += [f"| {c['id']} | {c['control']} | {c.get('kind', '')} | {c['verdict']} | {fmt_num(c.get('alpha'), 3)} | "
                f"{fmt_num(c.get('p'), 3)} | {c['outcome']} |" for c in ctl]
    return "\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.v-supported,.v-reproduced{color:#1a7f37}
.v-contradicted,.v-not-reproduced{color:#b42318}.v-mixed,.v-inconclusive{color:#9a6700}
figure{display:inline-block;margin:.5em}img{max-width:100%}figcaption{font-size:.85em;color:#555}
.maps{display:flex;flex-wrap:wrap;gap:1em}table.heat td{text-align:center;min-width:4.5em}
.m-holds{background:#d9f2e0}.m-fails{background:#f8d7d3}.m-mixed,.m-unclear{background:#fbeecb}.m-underpowered{background:#eee}
.m-none{background:#eee;color:#888}caption{font-weight:600;text-align:left}
.mapthumb{display:block;max-width:100%;max-height:105px;margin-top:.2em}.mapheat{margin:.4em 0;max-width:640px}.mapheat img{max-width:100%}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(245px,1fr));gap:.4em;margin:.4em 0;
align-items:start}
.card{display:block;border:1px solid #ccc;border-radius:6px;padding:.35em .5em;text-decoration:none;color:#222;
font-size:.78em;line-height:1.25}.card .foot{display:block;color:#555;font-size:.92em;margin-top:.15em}
#summary h2{margin:.3em 0}.card .cid{font-weight:700;font-size:1.1em}.card span{display:block}
.card span.cid,.card span.cid+span{display:inline}#forest{display:block;margin:.5em 0}
details summary{cursor:pointer}td details{max-width:28em}
.card ul.subs{margin:.1em 0;padding-left:1em}.card ul.subs li{margin:0}.round{background:#e8f4ea;padding:.3em .6em}
.round.exploratory,.round.secondary{background:#fff4d6}.pilot{background:#fff4d6;
border:1px solid #e3c26b;border-radius:6px;padding:.3em .6em;font-size:.85em;margin:.3em 0}
.v-qualified{color:#9a6700}
.v-not-supported{color:#b42318}.v-true-by-construction,.v-not-tested{color:#555}"""


def _cell_label(x: dict) -> str:
    return ", ".join(level_label(f, v) for f, v in x["cell"].items()) or "base (the hypothesis itself)"


def _map_html(rm: dict, figure_paths: dict | None = None) -> list[str]:
    """A robustness map: small multiples, one heat strip per factor (each level's cells, coloured by how many
    hold), then every cell that ran."""
    e = html.escape
    out = [f'<h3 class="map">Where {e(rm["hypothesis"])} holds: {e(rm["summary"])} '
           f'(of {rm["grid_cells"]} in the survey grid)</h3>', f"<p>{e(rm['words'])}.</p>", '<div class="maps">']
    for f, levels in rm["factors"].items():
        rows = {row["level"]: row for row in rm["main_effects"].get(f, [])}
        out.append(f'<table class="heat"><caption>{e(f)}</caption><tr>')
        for v in levels:
            row = rows.get(v)
            if row is None:
                out.append(f'<td class="m-none" title="not run in this profile">{e(str(v))}<br>-</td>')
                continue
            share = row["holds"] / row["cells"]
            cls = "m-holds" if share == 1 else "m-fails" if share == 0 else "m-mixed"
            base = " (base)" if v == rm["base"].get(f) else ""
            out.append(f'<td class="{cls}" title="{row["holds"]} of {row["cells"]} cells hold">{e(str(v))}{base}<br>'
                       f'{fmt_num(row["median_effect"], 3)}<br>{row["holds"]}/{row["cells"]}</td>')
        out.append("</tr></table>")
    out.append("</div>")
    from bnclaims.harness.report import summary as sm
    fid = sm.map_figure_id(rm["hypothesis"])
    path = (figure_paths or {}).get(fid)
    if path is not None and Path(path).exists():
        out.append(f'<figure class="mapheat" id="{e(fid)}">{_img(path, sm.map_caption(rm))}'
                   f'<figcaption>{e(sm.map_caption(rm))}</figcaption></figure>')
    out += [f"<p>{e(line)}</p>" for line in _model_lines(rm)]
    out.append("<table><tr><th>cell</th><th>effect [95% CI]</th><th>p</th><th>BH q</th><th>verdict</th>"
               "<th>map</th></tr>")
    for x in rm["cells"]:
        out.append(f'<tr class="m-{e(x["status"])}"><td>{e(_cell_label(x))}</td><td>{fmt_num(x["effect"], 3)} '
                   f'{e(fmt_ci(x["ci"]))}</td><td>{fmt_num(x["p"], 3)}</td><td>{fmt_num(x["q_bh"], 3)}</td>'
                   f'<td class="{_cls(x["verdict"] or "")}">{e(str(x["verdict"]))}</td><td>{e(x["status"])}</td></tr>')
    out.append("</table>")
    return out


def _model_lines(rm: dict) -> list[str]:
    """A designed map's amendments, then its model in words: design size, fit, predictions over the grid,
    held-out hits, null cells."""
    out = [f"Amended {a['date']}{' (after data)' if a.get('after_data') else ''}: {a['change']} Why: {a['reason']}"
           for a in rm.get("amendments") or []]
    m = rm.get("model")
    if not m:
        return out
    return out + _model_words(m)


def _model_words(m: dict) -> list[str]:
    if "counts" not in m:
        return [f"Model: not fitted ({m.get('error', 'too few cells')})."]
    fit = m.get("fit") or {}
    pairs = ", ".join(":".join(p) for p in fit.get("pairs") or []) or "none"
    out = [f"Design: {m['design_cells']} designed cells and {m['holdout_cells']} held-out cells of the "
           f"{m['grid_cells']}-cell grid (a strength-2 covering design). Model: main effects and the two-factor "
           f"interactions selected by F test ({pairs}) on the standardized effect d, weighted by each cell's "
           f"precision; fitted on {m['fitted_on']} cells, {fit.get('df')} residual df, overdispersion "
           f"{fmt_num(fit.get('phi'), 3)}.",
           f"Predicted over the whole grid (95% interval beyond zero on the claimed side: holds; on the other: "
           f"fails): holds in {m['counts']['holds']}, fails in {m['counts']['fails']}, unknown in "
           f"{m['counts']['unknown']}. Factors by importance: "
           + ", ".join(f"{x['factor']} ({fmt_num(x['range'], 3)})" for x in m.get("importance") or []) + "."]
    h = m.get("holdout")
    if h:
        out.append(f"Held-out cells: the predicted sign matched the observed one in {h['hits']} of {h['n']} "
                   f"(95% CI {fmt_ci(h['ci'])})." if h.get("n") else "Held-out cells: none with a sign to compare.")
    nc = m.get("null_cells")
    if nc:
        out.append(f"Null cells (A/A, both arms the control arm on disjoint seeds): {nc['reproduced']} of {nc['run']} "
                   f"reproduced (rate {fmt_num(nc['rate'], 3)}, 95% CI {fmt_ci(nc['ci'])}; alpha {fmt_num(nc['alpha'])}).")
    return out


def _cls(verdict: str) -> str:
    if verdict.startswith(("supported as measured", "holds in ", "depends on", "partly", "supported where")):
        return "v-qualified"
    return "v-" + re.sub(r"[^a-z]+", "-", verdict.split(" (")[0].split(":")[0].lower()).strip("-")


def _img(path, caption: str, attrs: str = "") -> str:
    """An embedded PNG whose alt text is its caption; attrs: further attributes, already escaped."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img {attrs + " " if attrs else ""}src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'


def _summary_html(report: dict, figure_paths: dict) -> list[str]:
    """The first screen: claim cards, the forest plot, the figure index."""
    from bnclaims.harness.report import summary as sm
    e = html.escape
    out = ['<section id="summary"><h2>At a glance</h2>']
    if report.get("pilot"):
        out.append(f'<p class="pilot"><b>Pilot.</b> {e(report["pilot"])}</p>')
    if report.get("round"):
        r = report["round"]
        out.append(f'<p class="round {e(r["kind"])}"><b>{e(r["kind"].capitalize())}.</b> {e(r["text"])}</p>')
    note = _selection_note(report)
    if note:
        out.append(f'<p class="pilot"><b>Selected checks.</b> {e(note)}</p>')
    heat = {}
    for c in report["claims"]:
        for rm in c.get("robustness") or []:
            path = figure_paths.get(sm.map_figure_id(rm["hypothesis"]))
            if path is not None and Path(path).exists():
                heat.setdefault(c["id"], []).append(_img(
                    path, sm.map_caption(rm), f'class="mapthumb" id="thumb-{e(sm.map_figure_id(rm["hypothesis"]))}" '
                                              f'title="{e(rm["model"]["words"])}"'))
    out.append('<div class="cards">')
    for k in sm.claim_cards(report):
        holds = f'<span class="holds">where: {e(k["holds"])}</span>' if k["holds"] else ""
        subs = "".join(f'<li title="{e(x["why"])}">{e(x["id"])} {e(x["title"])}: '
                       f'<b class="{_cls(x["verdict"])}">{e(x["verdict"])}</b></li>' for x in k["subclaims"])
        subs = f'<ul class="subs">{subs}</ul>' if subs else ""
        nv = f'<span class="nv">non-voting: {e(k["non_voting"])}</span>' if k.get("non_voting") else ""
        out.append(f'<a class="card" href="#{e(k["id"])}" title="family-wise alpha {fmt_num(k["fwer"])}">'
                   f'<span class="cid">{e(k["id"])}</span> '
                   f'<span class="{_cls(k["headline"])}">{e(k["headline"])}</span>{subs}'
                   f'<span class="foot"><span class="counts">votes: {e(k["verdict"])} ({len(k["for"])} for, '
                   f'{len(k["against"])} against, {len(k["undecided"])} undecided)</span>{nv}{holds}</span>'
                   + "".join(heat.get(k["id"], [])) + '</a>')
    out.append("</div>")
    forest = figure_paths.get(FOREST_ID)
    if forest is not None and Path(forest).exists():
        out.append(f'<figure id="forest">{_img(forest, sm.FOREST_CAPTION)}'
                   f"<figcaption>{e(sm.FOREST_CAPTION)}</figcaption></figure>")
    _, left = sm.forest_rows(report)
    if left:
        out.append(f"<p>Not on the forest plot (no standardized effect): {e(', '.join(left))}.</p>")
    shown = [s["id"] for r in report["hypotheses"] if not is_cell(r["id"]) for s in r.get("figures", [])
             if figure_paths.get(s["id"]) is not None and Path(figure_paths[s["id"]]).exists()]
    links = [f'<a href="#{e(sm.figure_anchor(fid))}">{e(fid)}</a>' for fid in dict.fromkeys(shown)]
    if links:
        out.append(f'<details id="figure-index"><summary>Figure index ({len(links)})</summary><p>'
                   + " ".join(links) + "</p></details>")
    out.append("</section>")
    return out


def _statement_cell(text: str) -> str:
    e = html.escape
    if len(text) <= 90:
        return e(text)
    return f"<details><summary>{e(text[:80].rsplit(' ', 1)[0])} ...</summary>{e(text)}</details>"


def render_html(report: dict, figure_paths: dict[str, Path] | None = None) -> str:
    """One self-contained page; figures embedded as base64 PNG."""
    e = html.escape
    figure_paths = figure_paths or {}
    by_claim = {}
    for r in report["hypotheses"]:
        if not is_cell(r["id"]):
            by_claim.setdefault(r["claim"]["id"], []).append(r)
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>bnclaims report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>bnclaims report</h1>",
           f"<p>{e(_run_line(report).replace('**', ''))}</p>"] + _summary_html(report, figure_paths) + [
           "<h2>Claims</h2>",
           "<table><tr><th>claim</th><th>verdict</th><th>family-wise alpha</th><th>voting hypotheses</th>"
           "<th>hypotheses</th></tr>"]
    for c in report["claims"]:
        out.append(f'<tr><td><a href="#{e(c["id"])}">{e(c["id"])}</a></td>'
                   f'<td class="{_cls(c["verdict"])}">{e(c["verdict"])}</td><td>{fmt_num(c.get("fwer"))}</td>'
                   f'<td>{e(", ".join(c.get("alpha_allocated") or []) or "-")}</td>'
                   f'<td>{e(", ".join(c["hypotheses"]))}</td></tr>')
    out.append("</table>")
    for c in report["claims"]:
        beyond = "" if c.get("article", True) else " <em>(a check beyond the article)</em>"
        hw = (c.get("headline") or {}).get("word", c["verdict"])
        out += [f'<h2 id="{e(c["id"])}">{e(c["id"])}</h2>', f"<p>{e(c.get('text', ''))}</p>",
                f"<p><em>Source:</em> {e(c.get('source', ''))}{beyond}</p>",
                (f'<p><strong>Headline: <span class="{_cls(hw)}">{e(hw)}</span></strong>. Voting verdict: '
                 if c.get("headline") else "<p><strong>Overall verdict: ")
                + f'<span class="{_cls(c["verdict"])}">{e(c["verdict"])}</span>'
                + ("" if c.get("headline") else "</strong>") + f' ({e(c["detail"])})</p>']
        if c.get("non_voting"):
            out.append(f"<p>Non-voting evidence: {e(c['non_voting']['words'])}.</p>")
        if c.get("subclaims"):
            out.append("<table><tr><th>sub-claim</th><th>the article says</th><th>verdict</th><th>why</th>"
                       "<th>where</th></tr>")
            out += [f'<tr><td>{e(x["id"])} {e(x["title"])}</td><td>{_statement_cell(x["words"])}</td>'
                    f'<td class="{_cls(x["verdict"])}"><b>{e(x["verdict"])}</b></td><td>{_statement_cell(x["why"])}</td>'
                    f'<td>{e(x["where"])}</td></tr>' for x in c["subclaims"]]
            out.append("</table>")
            amends = [(x["id"], a) for x in c["subclaims"] for a in x.get("amendments") or []]
            if amends:
                out.append("<ul>" + "".join(f"<li><em>amendment to sub-claim {e(i)}</em> ({e(str(a.get('date')))}): "
                                            f"{e(str(a.get('change')))} Reason: {e(str(a.get('reason')))}</li>"
                                            for i, a in amends) + "</ul>")
        recs = by_claim.get(c["id"], [])
        ev = [r for r in recs if r["hypothesis"].get("role", "evidence") == "evidence"]
        chk = [r for r in recs if r not in ev]
        for title, rows in (("Evidence", ev), ("Checks (manipulation and identity: they do not vote)", chk)):
            if not rows:
                continue
            out.append(f"<h3>{e(title)}</h3><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in COLUMNS) + "</tr>")
            for r in rows:
                cells = table_row(r)
                out.append("<tr>" + "".join(
                    f'<td class="{_cls(x)}">{e(x)}</td>' if i == 8 else
                    f"<td>{_statement_cell(x)}</td>" if i == 1 else f"<td>{e(x)}</td>"
                    for i, x in enumerate(cells)) + "</tr>")
            out.append("</table>")
        if recs:
            out.append("<ul>")
            for r in recs:
                out.append(f"<li><strong>{e(r['id'])}</strong>: " + "; ".join(
                    f"<em>{e(k)}:</em> {e(v)}" for k, v in details(r)) + "</li>")
            out.append("</ul>")
        for m in report.get("missing", []):
            if m["claim"]["id"] == c["id"]:
                out.append(f"<p>{e(m['id'])}: no evidence (pytest outcome: {e(str(m.get('outcome', '?')))})</p>")
        for n in (n for n in report.get("not_run", []) if n["claim"] == c["id"]):
            out.append(f"<p>{e(n['id'])} ({e(n['title'])}): not run in this profile; runs in "
                       f"{e(', '.join(n['profiles']))} (or selected by its id)</p>")
        for rm in c.get("robustness") or []:
            out += _map_html(rm, figure_paths)
        shown = set()
        for spec in (s for r in recs for s in r.get("figures", [])):
            path = figure_paths.get(spec["id"])
            if path is None or not Path(path).exists() or spec["id"] in shown:
                continue
            shown.add(spec["id"])
            caption = f"{spec['id']}: {spec.get('title') or spec['id']}"     # the alt text carries the caption
            anchor = figure_anchor(spec["id"])
            out.append(f'<figure id="{e(anchor)}">{_img(path, caption)}<figcaption>{e(caption)}</figcaption></figure>')
    out += _knockouts_html(report.get("knockouts"))
    mult = report.get("multiplicity") or {}
    if mult.get("ids"):
        out += ["<h2>Suite-level multiplicity</h2>",
                f"<p>Adjusted p over the {len(mult['ids'])} {e(mult['scope'])} "
                "(Holm: family-wise; BH: false discovery rate).</p>",
                "<table><tr><th>hypothesis</th><th>p</th><th>Holm</th><th>BH</th><th>alpha</th></tr>"]
        for i, hid in enumerate(mult["ids"]):
            out.append(f"<tr><td>{e(hid)}</td><td>{fmt_num(mult['p'][i], 3)}</td>"
                       f"<td>{fmt_num(mult['holm'][i], 3)}</td><td>{fmt_num(mult['bh'][i], 3)}</td>"
                       f"<td>{fmt_num(mult['alpha'][i])}</td></tr>")
        out.append("</table>")
    ctl = report.get("controls") or []
    if ctl:
        nr = report.get("null_controls") or {}
        out += ['<h2 id="controls">Controls</h2>',
                f"<p>{sum(c.get('outcome') != 'failed' for c in ctl)} of {len(ctl)} controls showed what they "
                "should. null: A/A on disjoint seeds (or a declared null against a fixed comparator); plumbing: "
                "identical runs (tests the plumbing, not error rates).</p>"]
        if nr.get("controls"):
            out.append(f"<p>{nr['reproduced']} of {nr['controls']} null controls reproduced; with no effect anywhere "
                       f"at least one would with probability about {fmt_num(nr.get('expected_any'), 3)}.</p>")
        out.append("<table><tr><th>hypothesis</th><th>control</th><th>kind</th><th>verdict</th><th>alpha</th>"
                   "<th>p</th><th>outcome</th></tr>")
        out += [f"<tr><td>{e(c['id'])}</td><td>{e(c['control'])}</td><td>{e(str(c.get('kind', '')))}</td>"
                f"<td>{e(c['verdict'])}</td><td>{fmt_num(c.get('alpha'), 3)}</td><td>{fmt_num(c.get('p'), 3)}</td>"
                f"<td>{e(str(c.get('outcome')))}</td></tr>" for c in ctl]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---- comparing two saved reports -----------------------------------------------------------

def _overlap(a, b) -> bool:
    if not a or not b or None in a or None in b:
        return True
    return not (a[0] > b[1] or b[0] > a[1])


def compare_reports(old: dict, new: dict, *, effect_tol: float = 0.25, width_tol: float | None = None) -> dict:
    """Verdict changes, effect drift (relative change beyond effect_tol; with width_tol, a move beyond that fraction
    of the old 95% CI's width; or CIs that no longer overlap), and hypotheses added or removed between two report
    dicts."""
    o = {r["id"]: r for r in old["hypotheses"]}
    n = {r["id"]: r for r in new["hypotheses"]}
    common = sorted(o.keys() & n.keys(), key=id_key)
    cmp = {"old_profile": old.get("run", {}).get("profile"), "new_profile": new.get("run", {}).get("profile"),
           "old_seed_base": old.get("run", {}).get("seed_base"), "new_seed_base": new.get("run", {}).get("seed_base"),
           "common": len(common),
           "verdict_changes": [], "effect_drift": [],
           "added": sorted(n.keys() - o.keys(), key=id_key), "removed": sorted(o.keys() - n.keys(), key=id_key),
           "claim_changes": []}
    for hid in common:
        a, b = o[hid], n[hid]
        ea, eb = a["stats"].get("effect"), b["stats"].get("effect")
        if a["verdict"] != b["verdict"]:
            cmp["verdict_changes"].append({"id": hid, "old": a["verdict"], "new": b["verdict"], "old_effect": ea,
                                           "new_effect": eb, "old_ci": a["stats"].get("ci"),
                                           "new_ci": b["stats"].get("ci")})
        reasons = []
        rel = None
        if isinstance(ea, (int, float)) and isinstance(eb, (int, float)):
            if ea != 0:
                rel = abs(eb - ea) / abs(ea)
                if rel > effect_tol:
                    reasons.append(f"effect changed by {rel:.0%} (tolerance {effect_tol:.0%})")
            elif eb != 0:
                reasons.append("effect moved away from exactly 0")
        ci = a["stats"].get("ci")
        if (width_tol is not None and isinstance(ea, (int, float)) and isinstance(eb, (int, float)) and ci
                and None not in ci and ci[1] > ci[0] and abs(eb - ea) > width_tol * (ci[1] - ci[0])):
            reasons.append(f"effect moved by {abs(eb - ea) / (ci[1] - ci[0]):.2g} of the interval's width "
                           f"(tolerance {width_tol:g})")
        if not _overlap(a["stats"].get("ci"), b["stats"].get("ci")):
            reasons.append("95% CIs no longer overlap")
        if reasons:
            cmp["effect_drift"].append({"id": hid, "old_effect": ea, "new_effect": eb, "rel_change": rel,
                                        "old_ci": a["stats"].get("ci"), "new_ci": b["stats"].get("ci"),
                                        "reason": "; ".join(reasons)})
    oc = {c["id"]: c for c in old.get("claims", [])}
    for c in new.get("claims", []):
        prev = oc.get(c["id"])
        if prev and prev["verdict"] != c["verdict"] and sorted(prev["hypotheses"]) == sorted(c["hypotheses"]):
            cmp["claim_changes"].append({"id": c["id"], "old": prev["verdict"], "new": c["verdict"]})
        old_sub = {x["id"]: x["verdict"] for x in (prev or {}).get("subclaims") or []}
        for x in c.get("subclaims") or []:
            if x["id"] in old_sub and old_sub[x["id"]] != x["verdict"]:
                cmp.setdefault("subclaim_changes", []).append({"id": x["id"], "old": old_sub[x["id"]],
                                                               "new": x["verdict"]})
    return cmp


def format_comparison(cmp: dict) -> str:
    lines = []
    if cmp.get("old_profile") != cmp.get("new_profile"):
        lines.append(f"note: comparing profile {cmp.get('old_profile')} (old) with {cmp.get('new_profile')} (new)")
    if cmp["verdict_changes"]:
        lines.append(f"verdict changes ({len(cmp['verdict_changes'])}):")
        lines += [f"  {c['id']}: {c['old']} -> {c['new']}" for c in cmp["verdict_changes"]]
    for c in cmp.get("claim_changes", []):
        lines.append(f"  claim {c['id']}: {c['old']} -> {c['new']}")
    for c in cmp.get("subclaim_changes", []):
        lines.append(f"  sub-claim {c['id']}: {c['old']} -> {c['new']}")
    if cmp["effect_drift"]:
        lines.append(f"effect drift ({len(cmp['effect_drift'])}):")
        lines += [f"  {d['id']}: effect {fmt_num(d['old_effect'])} {fmt_ci(d['old_ci'])} -> "
                  f"{fmt_num(d['new_effect'])} {fmt_ci(d['new_ci'])}: {d['reason']}" for d in cmp["effect_drift"]]
    if cmp["added"]:
        lines.append("added: " + ", ".join(cmp["added"]))
    if cmp["removed"]:
        lines.append("removed: " + ", ".join(cmp["removed"]))
    if not (cmp["verdict_changes"] or cmp["effect_drift"] or cmp["added"] or cmp["removed"]):
        lines.append("no verdict changes, no effect drift")
    return "\n".join(lines)


def comparison_markdown(cmp: dict, old_label: str = "old", new_label: str = "new") -> str:
    """The comparison as a Markdown section for a pull-request comment: verdict changes and effect drift with
    the old and new effects and intervals side by side, claim changes, hypotheses added or removed."""
    def run(p, b):
        return f"profile {p}, seed base {b}"

    def eff(e, ci):
        return f"{fmt_num(e, 3)} {fmt_ci(ci)}".strip()

    n_v, n_d = len(cmp["verdict_changes"]), len(cmp["effect_drift"])
    head = ("no verdict changes" if not n_v else f"**{n_v} verdict change{'s' * (n_v != 1)}**")
    out = [f"### bnclaims: {head}, {n_d} effect drift{'s' * (n_d != 1)}", "",
           f"{old_label} ({run(cmp.get('old_profile'), cmp.get('old_seed_base'))}) -> {new_label} "
           f"({run(cmp.get('new_profile'), cmp.get('new_seed_base'))}); {cmp.get('common', '?')} hypotheses in both.", ""]
    if cmp["verdict_changes"] or cmp.get("claim_changes"):
        out += ["| hypothesis | old verdict | new verdict | old effect [95% CI] | new effect [95% CI] |",
                "|---|---|---|---|---|"]
        out += [f"| {c['id']} | {c['old']} | **{c['new']}** | {eff(c.get('old_effect'), c.get('old_ci'))} | "
                f"{eff(c.get('new_effect'), c.get('new_ci'))} |" for c in cmp["verdict_changes"]]
        out += [f"| claim {c['id']} | {c['old']} | **{c['new']}** | | |" for c in cmp.get("claim_changes", [])]
        out.append("")
    if cmp["effect_drift"]:
        out += ["| hypothesis | old effect [95% CI] | new effect [95% CI] | why flagged |", "|---|---|---|---|"]
        out += [f"| {d['id']} | {eff(d['old_effect'], d['old_ci'])} | {eff(d['new_effect'], d['new_ci'])} | "
                f"{_md_cell(d['reason'])} |" for d in cmp["effect_drift"]]
        out.append("")
    if cmp["added"]:
        out.append("Added: " + ", ".join(cmp["added"]) + ".")
    if cmp["removed"]:
        out.append("Removed: " + ", ".join(cmp["removed"]) + ".")
    return "\n".join(out).rstrip() + "\n"


# ---- merging shard reports -----------------------------------------------------------------

class MergeError(ValueError):
    """Shard reports that cannot be one run's report (another profile or seed base, a hypothesis twice)."""


def merge_reports(reports: list[dict], outdir) -> dict[str, Path]:
    """Write the report that one unsharded run would have written from the reports of its shards
    (`--claims-shard K/N`): the same evidence, claims, controls and multiplicity; only timing differs."""
    if not reports:
        raise MergeError("give at least one report")
    keys = {(r.get("run", {}).get("profile"), r.get("run", {}).get("seed_base"), r.get("schema"),
             r.get("run", {}).get("data_draw", "fixed")) for r in reports}
    if len(keys) > 1:
        raise MergeError(f"the reports come from different runs (profile, seed base, schema, data draw): "
                         f"{sorted(keys, key=str)}")
    labels = [r.get("run", {}).get("shard") for r in reports]
    if any(labels):
        n = str(labels[0]).split("/")[-1]
        if None in labels or not n.isdigit() or sorted(labels) != sorted(f"{k}/{n}" for k in range(1, int(n) + 1)):
            raise MergeError(f"the shard reports do not make up one run: got shards {labels}; give each of "
                             f"1/N ... N/N exactly once")
    records, seen, controls, missing, not_run = [], {}, [], {}, {}
    for i, rep in enumerate(reports):
        for h in rep["hypotheses"]:
            if h["id"] in seen:
                raise MergeError(f"{h['id']} is in report {seen[h['id']] + 1} and report {i + 1}: shards of one "
                                 "run never share a hypothesis")
            seen[h["id"]] = i
            rec = {k: v for k, v in h.items() if k not in ("null_control", "amendments")}
            rec["wall_s"] = (rep.get("timing", {}).get("wall_s") or {}).get(h["id"])
            records.append(rec)
        controls += rep.get("controls") or []
        missing.update({m["id"]: m for m in rep.get("missing") or []})
        not_run.update({n["id"]: n for n in rep.get("not_run") or []})
    run = {k: v for k, v in reports[0].get("run", {}).items() if k != "shard"}
    run["timing"] = {"workers": (reports[0].get("timing") or {}).get("workers"), "merged_shards": len(reports)}
    controls = sorted(controls, key=lambda c: (id_key(c["id"]), c["control"]))
    return write_reports(records, outdir, run_info=run, missing=[m for k, m in missing.items() if k not in seen],
                         controls=controls, not_run=list(not_run.values()))
