"""Publish a round's report into results/ and regenerate the README's findings table from it.

    python benchmarks/publish_results.py RUN_REPORT_DIR [--to results] [--readme README.md] [--no-browser]

Copies RUN_REPORT_DIR/report.json to TO/report.json, re-renders report.md, report.html and the figures next to
it (`bnclaims report`), opens report.html in headless chromium (`--browser-check`: images decode, links resolve,
summary and forest plot in the first viewport) and saves its first screen as TO/report-screenshot.png, then
replaces the README's block between harness.report.summary.FINDINGS_START and FINDINGS_END (or a line that reads
FINDINGS_BLOCK) with harness.report.summary.findings_table(report). tests/harness/test_results.py checks the result.

With --replication REPLICATION_REPORT_DIR --replication-to DIR it also copies the replication's report and
writes DIR/agreement.md (benchmarks/replication.py's table).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bnclaims.harness.report import summary as sm  # noqa: E402


def publish(src: Path, to: Path, browser: bool = True) -> dict:
    src_json = src / "report.json" if src.is_dir() else src
    report = json.loads(src_json.read_text(encoding="utf-8"))
    to.mkdir(parents=True, exist_ok=True)
    dst = to / "report.json"
    if src_json.resolve() != dst.resolve():
        shutil.copyfile(src_json, dst)
    cmd = [str(Path(sys.executable).with_name("bnclaims")), "report", str(dst)] + (["--browser-check"] if browser else [])
    subprocess.run(cmd, check=True, cwd=ROOT)
    return report


def fill_readme(readme: Path, report: dict) -> None:
    text = readme.read_text(encoding="utf-8")
    block = f"{sm.FINDINGS_START}\n{sm.findings_table(report)}\n{sm.FINDINGS_END}"
    if sm.FINDINGS_START in text:
        a = text.index(sm.FINDINGS_START)
        b = text.index(sm.FINDINGS_END) + len(sm.FINDINGS_END)
        text = text[:a] + block + text[b:]
    elif "\nFINDINGS_BLOCK\n" in text:
        text = text.replace("\nFINDINGS_BLOCK\n", "\n" + block + "\n", 1)
    else:
        raise SystemExit(f"{readme} has neither the findings markers nor a FINDINGS_BLOCK line")
    readme.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="a run's report folder (or its report.json)")
    ap.add_argument("--to", type=Path, default=ROOT / "results")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--no-browser", action="store_true", help="skip the browser check and the screenshot")
    ap.add_argument("--replication", type=Path, help="the replication run's report folder")
    ap.add_argument("--replication-to", type=Path, help="where the replication's report goes")
    a = ap.parse_args(argv)
    report = publish(a.src, a.to, browser=not a.no_browser)
    fill_readme(a.readme, report)
    print(f"published {a.to / 'report.json'}; README findings table regenerated")
    if a.replication:
        if not a.replication_to:
            ap.error("--replication needs --replication-to")
        publish(a.replication, a.replication_to, browser=False)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "replication.py"), str(a.to / "report.json"),
                        str(a.replication_to / "report.json"), "--out", str(a.replication_to / "agreement.md")],
                       check=True, cwd=ROOT)
        print(f"replication: {a.replication_to / 'agreement.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
