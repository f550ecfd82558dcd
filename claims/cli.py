"""The bnclaims command line.

    bnclaims list                              claims and hypotheses, with sources
    bnclaims run [C1 C3.a ...] [--profile smoke|ci|full] [--workers N] [--compare OLD.json]
    bnclaims report claims-report/report.json [--out DIR]
    bnclaims compare OLD.json NEW.json         exit 1 if any verdict changed
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from harness.hypothesis import PROFILES

REPO = Path(__file__).resolve().parents[1]


def _err(msg: str) -> None:
    print(f"bnclaims: {msg}", file=sys.stderr)


def _split_ids(raw: list[str]) -> list[str]:
    return [i.strip() for part in raw for i in part.split(",") if i.strip()]


def _nonneg_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {s}")
    return v


def cmd_list(args) -> int:
    from claims import registry

    if not registry.CLAIMS:
        print("no claims registered yet (claims/registry.py CLAIMS is empty)")
        return 0
    for c in registry.CLAIMS:
        beyond = "" if c.article_side else "  [beyond the article]"
        print(f"{c.id}  {c.article_text}{beyond}")
        print(f"    source: {c.source}")
        for h in c.hypotheses:
            role = "confirmatory" if h.confirmatory else "exploratory"
            expect = "" if h.expect == "reproduced" else f", expected {h.expect}"
            print(f"  {h.id:<8} {h.title}")
            test = h.test if h.direction == h.test else f"{h.test} ({h.direction})"
            print(f"           {h.stance} the claim; {test}, alpha {h.alpha}, {role}{expect}")
            print(f"           source: {h.source}")
    return 0


def cmd_run(args) -> int:
    ids = _split_ids(args.ids)
    if ids:
        from claims import registry
        try:
            registry.find(ids)
        except KeyError as e:
            known = ", ".join(c.id for c in registry.CLAIMS) or "none registered"
            _err(f"unknown claim or hypothesis id {e.args[0]!r} (known claims: {known}; "
                 "see `bnclaims list`)")
            return 2
    tests = REPO / "tests" / "claims"
    if not tests.is_dir():
        _err(f"no claim tests found at {tests}")
        return 2
    report = Path(args.report).resolve()
    store = Path(args.store).resolve() if args.store else Path(
        os.environ.get("BNCLAIMS_STORE") or REPO / ".bnclaims" / "store").resolve()
    cmd = [sys.executable, "-m", "pytest", str(tests), "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"),
           "-p", "no:cacheprovider", "--claims-profile", args.profile, "--claims-seed-base", str(args.seed_base),
           "--claims-store", str(store), "--claims-report", str(report)]
    if args.workers > 0:
        cmd += ["-n", str(args.workers), "--dist", "loadfile"]
    if ids:
        cmd += ["--claims-ids", ",".join(ids)]
    if args.compare:
        old = Path(args.compare).resolve()
        if not old.is_file():
            _err(f"--compare: no such report file: {old}")
            return 2
        cmd += ["--claims-compare", str(old)]
    sys.stdout.flush()
    rc = subprocess.call(cmd)
    if rc == 5:
        _err("no claim tests were collected" + (f" for {', '.join(ids)}" if ids else ""))
        return 2
    return rc


def cmd_report(args) -> int:
    from harness.report import load_report, render_report

    src = Path(args.report)
    try:
        report = load_report(src)
    except (OSError, ValueError) as e:
        _err(f"cannot read {src}: {e}")
        return 2
    paths = render_report(report, Path(args.out) if args.out else src.resolve().parent)
    print(f"wrote {paths['md']} and {paths['html']}")
    return 0


def cmd_compare(args) -> int:
    from harness.report import compare_reports, format_comparison, load_report

    try:
        old, new = load_report(args.old), load_report(args.new)
    except (OSError, ValueError) as e:
        _err(f"cannot read report: {e}")
        return 2
    cmp = compare_reports(old, new, effect_tol=args.effect_tol)
    print(format_comparison(cmp))
    return 1 if cmp["verdict_changes"] else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bnclaims", description="Statistical pytest checks of claims about Batch Normalization")
    sub = p.add_subparsers(dest="command", required=True, metavar="{list,run,report,compare}")

    sub.add_parser("list", help="list claims and hypotheses").set_defaults(func=cmd_list)

    r = sub.add_parser("run", help="run claim checks with pytest and write the report")
    r.add_argument("ids", nargs="*", help="claim or hypothesis ids (C1 C3.a, or C1,C3.a); default all")
    r.add_argument("--profile", choices=PROFILES, default="ci", help="budget profile (default ci)")
    r.add_argument("--seed-base", type=_nonneg_int, default=0, help="seed base N >= 0 (default 0)")
    r.add_argument("--workers", type=_nonneg_int, default=os.cpu_count() or 1,
                   help="pytest-xdist workers (default: CPU count; 0 = no xdist)")
    r.add_argument("--store", default=None, help="run store folder (default $BNCLAIMS_STORE or <repo>/.bnclaims/store)")
    r.add_argument("--report", default="claims-report", help="report folder (default ./claims-report)")
    r.add_argument("--compare", default=None, metavar="OLD.json", help="compare with a saved report.json")
    r.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="re-render report.md/.html from a saved report.json")
    rep.add_argument("report", metavar="REPORT.json")
    rep.add_argument("--out", default=None, help="output folder (default: next to REPORT.json)")
    rep.set_defaults(func=cmd_report)

    c = sub.add_parser("compare", help="compare two saved reports; exit 1 on a verdict change")
    c.add_argument("old", metavar="OLD.json")
    c.add_argument("new", metavar="NEW.json")
    c.add_argument("--effect-tol", type=float, default=0.25, help="relative effect change flagged as drift (default 0.25)")
    c.set_defaults(func=cmd_compare)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
