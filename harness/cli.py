"""The bnclaims command line.

    bnclaims list                              claims and hypotheses, with sources
    bnclaims run [C1 C3.a ...] [--profile smoke|ci|full|survey] [--workers N] [--compare OLD.json]
    bnclaims report claims-report/report.json [--out DIR]
    bnclaims compare OLD.json NEW.json         exit 1 if any verdict changed (--markdown: a PR comment)
    bnclaims compare                           the last two reports kept by `bnclaims run --save`
    bnclaims run --shard K/N                   a deterministic 1/N of the checks (whole ensembles)
    bnclaims merge A.json B.json ... --out DIR the shards' reports joined into one run's report
    bnclaims lock --check                      exit 1 if a declaration differs from the pre-registration lock
    bnclaims lock --reason TEXT                re-freeze the lock, recording why (claims/prereg.lock.json)
    bnclaims lock --reason TEXT --register-round   ... and register the confirmatory round before it runs
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


PYTEST_USAGE_ERROR = 4      # pytest.ExitCode.USAGE_ERROR, without importing pytest here


def _err(msg: str) -> None:
    print(f"bnclaims: {msg}", file=sys.stderr)


def _nonneg_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {s!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {s}")
    return v


def _claims(packs=None):
    """The validated registry, or None after printing why (a malformed declaration is a usage error)."""
    from bnclaims.harness.declare import registry
    from bnclaims.harness.declare.design import DeclarationError
    try:
        return registry.claims(packs)
    except DeclarationError as e:
        _err(f"malformed claim declaration: {e}")
        return None


def cmd_list(args) -> int:
    from bnclaims.harness.plugin import options
    try:
        packs = options.settings({"claims_packs": args.claims_packs}, Path.cwd(), prefix="--").packs
    except options.OptionError as e:
        _err(str(e))
        return 2
    claims = _claims(packs)
    if claims is None:
        return 2
    if not claims:
        print("no claims registered (entry-point group bnclaims.claims is empty)")
        return 0
    from bnclaims.harness.declare.design import control_kind, controls_of
    for c in claims:
        beyond = "" if c.article_side else "  [beyond the article]"
        print(f"{c.id}  {c.article_text}{beyond}")
        print(f"    source: {c.source}")
        print(f"    family-wise alpha {c.fwer:g} (Bonferroni over the voting hypotheses)")
        for sc in c.subclaims:
            parts = "; ".join(f"{k} {', '.join(v)}" for k, v in (("evidence", sc.evidence), ("construct-valid",
                              sc.construct), ("identity", sc.identity)) if v)
            defs = "; ".join(f"{label}: {', '.join(ids)}" for label, ids in sc.definitions)
            print(f"    sub-claim {sc.id} {sc.title} ({sc.kind}): {parts}" + (f"; definitions {defs}" if defs else ""))
        for h in c.hypotheses:
            status = ("votes" if h.votes else "secondary" if h.role == "evidence" else "does not vote")
            role = f"{h.role}, {'confirmatory' if h.confirmatory else 'exploratory'}, {status}"
            expect = "" if h.expect == "reproduced" else f", expected {h.expect}"
            only = f"  [profiles: {', '.join(h.profiles)}; select by id to run elsewhere]" if h.profiles else ""
            print(f"  {h.id:<8} {h.title}{only}")
            test = h.test if h.direction == h.test else f"{h.test} ({h.direction})"
            paired = ", paired by seed" if h.paired else ""
            alpha = f"alpha {h.alpha:g}" if h.statistical else "tolerance check"
            print(f"           {h.stance} the claim; {test}{paired}, {alpha}, {role}{expect}")
            print(f"           source: {h.source}")
            ctl = controls_of(h)
            if ctl:
                print(f"           controls: {', '.join(f'{x.name} ({control_kind(h, x)})' for x in ctl)}")
        for m in c.maps:
            from bnclaims.harness.declare.maps import level_label
            factors = "; ".join(f"{f} {', '.join(str(v) for v in levels)}" for f, levels in m.factors)
            cells = "; ".join(", ".join(level_label(f, v) for f, v in cell) for cell in m.ci_slice) or "none"
            print(f"  map of {m.hypothesis}: {len(m.grid())} cells in the survey profile ({factors}); "
                  f"ci slice: {cells}; exploratory, BH at {m.alpha:g}")
    return 0


def cmd_run(args) -> int:
    from bnclaims.harness.plugin import options
    from bnclaims.harness.declare import registry

    try:
        ids = options.parse_ids(args.ids, "ids") if args.ids else []
        settings = options.settings({**vars(args), "claims_ids": ",".join(ids) or None}, Path.cwd(), prefix="--")
        options.check_before_run(settings, prefix="--", store_given=args.claims_store is not None)
    except options.OptionError as e:
        _err(str(e))
        return 2
    claims = _claims(settings.packs)
    if claims is None:
        return 2
    try:
        registry.find(ids, settings.packs)
    except KeyError as e:
        known = ", ".join(c.id for c in claims) or "none registered"
        _err(f"unknown claim or hypothesis id {e.args[0]!r} (known claims: {known}; see `bnclaims list`)")
        return 2
    ctx = settings.ctx
    # --claims-only: no test files are collected, wherever this runs; -c devnull: no ini file of the
    # current folder applies (its addopts or testpaths are another project's).
    cmd = [sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir", str(Path.cwd()), "-p", "no:cacheprovider",
           "--claims-only", "--claims-progress", "--claims-profile", ctx.profile, "--claims-seed-base", str(ctx.seed_base),
           "--claims-store", ctx.store, "--claims-report", ctx.report_dir]
    if ids:
        cmd += ["--claims-ids", ",".join(ids)]
    if settings.packs:
        cmd += ["--claims-packs", ",".join(settings.packs)]
    if settings.shard:
        cmd += ["--claims-shard", "/".join(map(str, settings.shard))]
    if ctx.data_dir:
        cmd += ["--claims-data-dir", ctx.data_dir]
    if ctx.compile != "off":
        cmd += ["--claims-compile", ctx.compile]
    if ctx.data_draw != "fixed":
        cmd += ["--claims-data-draw", ctx.data_draw]
    if settings.compare:
        cmd += ["--claims-compare", settings.compare]
    sys.stdout.flush()
    import time
    started = time.time()
    if settings.executor == "dask":     # phase 1: plan and train on the cluster; phase 2 (below): the checks
        plan = cmd + ["--collect-only", "-qq", "--claims-executor", "dask"]
        if settings.scheduler:
            plan += ["--claims-scheduler", settings.scheduler]
        if settings.dask_workers:
            plan += ["--claims-dask-workers", str(settings.dask_workers)]
        rc = subprocess.call(plan)
        if rc == PYTEST_USAGE_ERROR:
            _err("the dask phase stopped with a usage error (see above)")
            return 2
        if rc == 5:
            _err("no claim checks were collected")
            return 2
        if rc != 0:
            return rc
    if args.workers > 0:
        cmd += ["-n", str(args.workers), "--dist", "loadfile"]
    rc = subprocess.call(cmd)
    if rc == 5 and settings.shard:
        print(f"bnclaims: shard {'/'.join(map(str, settings.shard))} holds no check of this selection")
        return 0
    if rc in (PYTEST_USAGE_ERROR, 5):
        _err("no claim checks were collected" if rc == 5 else "pytest stopped with a usage error (see above)")
        return 2
    written = Path(ctx.report_dir) / "report.json"
    if args.save and written.exists() and written.stat().st_mtime >= started:     # this run's, not an older one
        print(f"saved {save_report(ctx.report_dir)}")
    return rc


def cmd_report(args) -> int:
    from bnclaims.harness.report import load_report, render_report

    src = Path(args.report)
    try:
        report = load_report(src)
    except (OSError, ValueError) as e:
        _err(f"cannot read {src}: {e}")
        return 2
    paths = render_report(report, Path(args.out) if args.out else src.resolve().parent)
    print(f"wrote {paths['md']} and {paths['html']}")
    if args.browser_check:
        from bnclaims.harness.report import browser
        if browser.find_chromium() is None:
            _err("report --browser-check: chromium not found (Debian: apt-get install chromium)")
            return 2
        found = browser.problems(browser.check_page(paths["html"]))
        shot = browser.screenshot(paths["html"], Path(paths["html"]).with_name("report-screenshot.png"))
        print(f"browser check: {'ok' if not found else f'{len(found)} problem(s)'}; screenshot {shot}")
        for line in found:
            print(f"  {line}")
        return 1 if found else 0
    return 0


HISTORY = "history"          # bnclaims run --save keeps numbered reports in REPORT_DIR/history/NNNN.json


def history_dir(report_dir) -> Path:
    return Path(report_dir) / HISTORY


def saved_reports(report_dir) -> list[Path]:
    """The numbered reports `run --save` kept, oldest first."""
    d = history_dir(report_dir)
    return sorted((p for p in d.glob("[0-9][0-9][0-9][0-9].json")), key=lambda p: int(p.stem)) if d.is_dir() else []


def save_report(report_dir) -> Path:
    """Copy REPORT_DIR/report.json to the next number in REPORT_DIR/history (as pytest-benchmark's --save)."""
    import shutil
    src = Path(report_dir) / "report.json"
    kept = saved_reports(report_dir)
    dst = history_dir(report_dir) / f"{(int(kept[-1].stem) + 1) if kept else 1:04d}.json"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def cmd_compare(args) -> int:
    from bnclaims.harness.report import comparison_markdown, compare_reports, format_comparison, load_report

    if args.old is not None and args.new is None:
        _err("compare: give OLD.json and NEW.json, or neither (the last two saved with `bnclaims run --save`)")
        return 2
    old_path, new_path = args.old, args.new
    if old_path is None:
        kept = saved_reports(args.report)
        if len(kept) < 2:
            _err(f"compare: fewer than two saved reports in {history_dir(args.report)} "
                 "(save them with `bnclaims run --save`, or give OLD.json NEW.json)")
            return 2
        old_path, new_path = kept[-2], kept[-1]
    try:
        old, new = load_report(old_path), load_report(new_path)
    except (OSError, ValueError) as e:
        _err(f"cannot read report: {e}")
        return 2
    if args.width_tol is not None and not args.width_tol >= 0:
        _err(f"compare: --width-tol must be a number >= 0, got {args.width_tol}")
        return 2
    cmp = compare_reports(old, new, effect_tol=args.effect_tol, width_tol=args.width_tol)
    if args.markdown is not None:
        text = comparison_markdown(cmp, str(old_path), str(new_path))
        if args.markdown == "-":
            sys.stdout.write(text)
        else:
            Path(args.markdown).write_text(text)
            print(f"wrote {args.markdown}")
    else:
        print(format_comparison(cmp))
    return 1 if cmp["verdict_changes"] else 0


def cmd_data(args) -> int:
    """Check a user data folder (nothing is downloaded): every expected file, its size, SHA-256 and format."""
    from bnclaims.harness import userdata
    bad = [n for n in args.datasets or [] if n not in userdata.DATASETS]
    if bad:
        _err(f"data: unknown data set(s) {', '.join(bad)}; choose from {', '.join(userdata.DATASETS)}")
        return 2
    try:
        folder = userdata.user_folder(args.data_dir)
        for name in args.datasets or ["cifar10"]:
            hashes = userdata.verify(userdata.DATASETS[name], folder, allow_synthetic=args.allow_synthetic)
            pinned = userdata.EXPECTED_SHA256.get(name)
            print(f"{name}: {len(hashes)} files OK in {folder}"
                  + ("" if pinned else " (sizes and formats checked; no official SHA-256 pinned: digests below)"))
            for f, h in hashes.items():
                print(f"  {h}  {f}")
    except userdata.DataError as e:
        _err(str(e))
        return 2
    return 0


def cmd_merge(args) -> int:
    from bnclaims.harness.report import MergeError, load_report, merge_reports

    try:
        reports = [load_report(p) for p in args.reports]
        paths = merge_reports(reports, Path(args.out))
    except (OSError, ValueError) as e:           # MergeError is a ValueError
        _err(f"merge: {e}")
        return 2
    print(f"merged {len(reports)} reports: {paths['json']} (also report.md, report.html)")
    return 0


def cmd_cache_key(args) -> int:
    """A key for caching the run store between CI runs: it changes exactly when stored runs stop matching
    (torch version, thread count, the numeric harness code), so an unchanged claim costs seconds."""
    import hashlib
    import json
    from bnclaims.harness.store import SettingError, environment_key
    try:
        env = environment_key()
    except SettingError as e:
        _err(f"cache-key: {e}")
        return 2
    digest = hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:16]
    print(f"bnclaims-store-torch{env['torch']}-t{env['threads']}-{digest}")
    return 0


def cmd_lock(args) -> int:
    from bnclaims.harness.declare import prereg, registry

    if not args.check and (args.reason is None or not args.reason.strip()):
        _err("lock: --reason TEXT is required to update the lock (or pass --check to only compare)")
        return 2
    claims = _claims((args.pack,))
    if claims is None:
        return 2
    pack = registry.pack(args.pack)
    if pack.lock is None:
        _err(f"lock: claim pack {args.pack!r} names no lock file (LOCK in its package)")
        return 2
    path = pack.lock
    if args.check:
        if not path.exists():
            print(f"no lock file at {path}; create it with `bnclaims lock --reason \"...\"`")
            return 1
        try:
            diffs = prereg.check_lock(claims, path)
        except (OSError, ValueError) as e:
            _err(f"cannot read {path}: {e}")
            return 2
        if not diffs:
            print(f"frozen: {sum(len(c.hypotheses) for c in claims)} hypotheses match {path}")
            for line in prereg.round_status(claims, path, _round_votes(pack)):
                print(line)
            return 0
        print(f"{len(diffs)} difference(s) from {path}:")
        for d in diffs:
            print(f"  {d}")
        print(f"If the change is deliberate, {prereg.UPDATE_HINT}.")
        return 1
    try:
        before = len(prereg.load_lock(path)["updates"]) if path.exists() else 0
        lock = prereg.update_lock(claims, path, args.reason)
    except (OSError, ValueError) as e:
        _err(f"cannot update {path}: {e}")
        return 2
    if len(lock["updates"]) == before:
        print(f"nothing changed: {path} already matches the registered claims")
    else:
        print(f"updated {path}:\n{prereg.format_update(lock['updates'][-1])}")
    if args.register_round:
        from bnclaims.harness import store
        round2 = _round_module(pack)
        if round2 is None:
            _err(f"lock: claim pack {args.pack!r} declares no confirmatory round (ROUND in its package)")
            return 2
        try:
            prereg.register_round(claims, path, str(round2.ROUND), seed_base=round2.SEED_BASE,
                                  replication_base=round2.REPLICATION_BASE, code_hash=store.harness_code_hash())
        except (OSError, ValueError) as e:
            _err(f"cannot register round {round2.ROUND}: {e}")
            return 2
        for line in prereg.round_status(claims, path, _round_votes(pack)):
            print(line)
    return 0


def _round_module(pack):
    """The module of the pack's registered round (ROUND in its package), or None."""
    import importlib
    return importlib.import_module(pack.round) if pack.round else None


def _round_votes(pack) -> list[str]:
    """The hypothesis ids that vote in the pack's registered round (none where it declares no round)."""
    mod = _round_module(pack)
    return [v.id for votes in mod.VOTES.values() for v in votes] if mod is not None else []


def build_parser() -> argparse.ArgumentParser:
    from bnclaims.harness.plugin import options
    p = argparse.ArgumentParser(prog="bnclaims", description="Statistical pytest checks of claims about Batch Normalization")
    sub = p.add_subparsers(dest="command", required=True, metavar="{list,run,report,compare,merge,cache-key,lock}")

    ls = sub.add_parser("list", help="list claims and hypotheses")
    ls.add_argument("--packs", dest="claims_packs", default=None, metavar="NAMES", help="claim packs to list")
    ls.set_defaults(func=cmd_list)

    r = sub.add_parser("run", help="run claim checks with pytest and write the report")
    r.add_argument("ids", nargs="*", help="claim or hypothesis ids (C1 C3.a, or C1,C3.a); default all")
    options.add_cli_options(r, skip=("ids",))
    r.add_argument("--workers", type=_nonneg_int, default=os.cpu_count() or 1,
                   help="pytest-xdist workers (default: CPU count; 0 = no xdist)")
    r.add_argument("--save", action="store_true",
                   help="keep the report as REPORT_DIR/history/NNNN.json; `bnclaims compare` compares the last two")
    r.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="re-render report.md/.html from a saved report.json")
    rep.add_argument("report", metavar="REPORT.json")
    rep.add_argument("--out", default=None, help="output folder (default: next to REPORT.json)")
    rep.add_argument("--browser-check", action="store_true",
                     help="open report.html in headless chromium: images decode, in-page links resolve, no console "
                          "errors, summary and forest plot in the first viewport; save report-screenshot.png")
    rep.set_defaults(func=cmd_report)

    c = sub.add_parser("compare", help="compare two saved reports; exit 1 on a verdict change")
    c.add_argument("old", metavar="OLD.json", nargs="?", default=None,
                   help="default: the second-last report saved with `bnclaims run --save`")
    c.add_argument("new", metavar="NEW.json", nargs="?", default=None, help="default: the last saved report")
    c.add_argument("--effect-tol", type=float, default=0.25, help="relative effect change flagged as drift (default 0.25)")
    c.add_argument("--width-tol", type=float, default=None, metavar="F",
                   help="also flag an effect that moved by more than F times the old 95%% interval's width (e.g. 0.1 "
                        "after a change that should move numbers only in their last bits)")
    c.add_argument("--markdown", default=None, metavar="FILE",
                   help="write the comparison as Markdown (a pull-request comment) to FILE ('-': stdout)")
    c.add_argument("--report", default="claims-report", metavar="DIR",
                   help="where `run --save` kept its history (default ./claims-report)")
    c.set_defaults(func=cmd_compare)

    mg = sub.add_parser("merge", help="join shard reports (run --shard K/N) into the report of one unsharded run")
    mg.add_argument("reports", nargs="+", metavar="REPORT.json")
    mg.add_argument("--out", default="claims-report", metavar="DIR", help="output folder (default ./claims-report)")
    mg.set_defaults(func=cmd_merge)

    da = sub.add_parser("data", help="check a data folder you give (CIFAR-10 binary version, MNIST idx files): "
                                     "files, sizes, SHA-256, formats; exit 2 naming what is missing or wrong")
    da.add_argument("datasets", nargs="*", default=None, metavar="{cifar10,mnist}",
                    help="which data sets to check (default cifar10)")
    da.add_argument("--data-dir", default=None, metavar="DIR", help="the folder (default $BNCLAIMS_DATA)")
    da.add_argument("--allow-synthetic", action="store_true", help="accept a synthetic folder written for tests")
    da.set_defaults(func=cmd_data)

    ck = sub.add_parser("cache-key", help="print the run store's environment key (cache the store between CI runs "
                                         "under it)")
    ck.set_defaults(func=cmd_cache_key)

    lk = sub.add_parser("lock", help="check or update the pre-registration lock of a claim pack (default: bnclaims' own)")
    lk.add_argument("--pack", default="builtin", metavar="NAME",
                    help="the claim pack (bnclaims.claims entry point) whose lock to check or update (default builtin)")
    how = lk.add_mutually_exclusive_group()
    how.add_argument("--check", action="store_true", help="only compare; exit 1 if a declaration differs from the lock")
    how.add_argument("--reason", default=None, metavar="TEXT", help="why the declarations changed (required to update)")
    lk.add_argument("--register-round", action="store_true",
                    help="with --reason: also record in the lock that the confirmatory round (the pack's ROUND module: claims/round2.py for bnclaims' own) is "
                         "registered, with its seed bases, the harness code hash and the declarations' hash; "
                         "do it in a commit of its own, before any run at those bases")
    lk.set_defaults(func=cmd_lock)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)     # argparse exits 2 on a usage error
    try:
        return args.func(args)
    except BrokenPipeError:                    # `bnclaims list | head`: the reader left; stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's flush of stdout at exit would raise again
        return 0


if __name__ == "__main__":
    sys.exit(main())
