"""Presentation: report.json built from evidence records, rendered as report.md, report.html and figures; saved
reports compared and merged; the headless-browser check. Callers outside this floor import the names below from
here. Imports neither torch nor run/."""
from bnclaims.harness.report.build import build_report, judge_claim, knockout_table, multiplicity
from bnclaims.harness.report.compare import (MergeError, compare_reports, comparison_markdown, format_comparison,
                                             merge_reports)
from bnclaims.harness.report.files import load_report, render_report, write_reports
from bnclaims.harness.report.html import render_html
from bnclaims.harness.report.markdown import render_markdown

__all__ = ["MergeError", "build_report", "compare_reports", "comparison_markdown", "format_comparison",
           "judge_claim", "knockout_table", "load_report", "merge_reports", "multiplicity", "render_html",
           "render_markdown", "render_report", "write_reports"]
