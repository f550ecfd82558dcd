"""The report on disk: write_reports writes report.json from a run's evidence records, then renders it;
render_report writes report.md, report.html and figures/ from a report dict; load_report reads a saved one."""
from __future__ import annotations

import json
from pathlib import Path

from bnclaims.harness.report.build import build_report
from bnclaims.harness.report.figures import render_figures
from bnclaims.harness.report.html import render_html
from bnclaims.harness.report.markdown import render_markdown


def write_reports(records: list[dict], outdir, *, run_info: dict, missing=(), controls=(),
                  not_run=()) -> dict[str, Path]:
    """Write report.json, report.md, report.html and figures/ under outdir; return their paths.

    records: evidence dicts (harness.declare.evidence.make_evidence), optionally with "outcome" (the
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
    md = outdir / "report.md"
    md.write_text(render_markdown(report, files))
    page = outdir / "report.html"
    page.write_text(render_html(report, {fid: figdir / name for fid, name in files.items()}))
    return {"md": md, "html": page, "figures": figdir}
