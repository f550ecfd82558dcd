"""The run options, defined once: the pytest plugin adds them as --claims-NAME, the CLI as --NAME, and both
parse and resolve them here (so both give the same errors and the same defaults). No torch.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from bnclaims.harness import paths
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.declare.vocabulary import RUN_PROFILES

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*(@([A-Za-z_]+=x?[A-Za-z0-9_.]+(\+[A-Za-z_]+=x?[A-Za-z0-9_.]+)*)?)?$")


EXECUTORS = ("inprocess", "dask")


class OptionError(ValueError):
    """A bad option value; the message names the option as the user typed it."""


@dataclass(frozen=True)
class Option:
    name: str                 # "seed-base": --claims-seed-base in pytest, --seed-base in the CLI
    metavar: str
    help: str
    default: str | None = None

    @property
    def dest(self) -> str:
        return "claims_" + self.name.replace("-", "_")


OPTIONS = (
    Option("profile", "{smoke,ci,full,survey,paper}", "budget profile: smoke (tiny, no verdict asserted), ci "
           "(default), full, survey (ci budgets plus every robustness-map cell), paper (the paper-scale checks: "
           "Santurkar's VGG on CIFAR-10 from --data-dir; a GPU is advised)",
           "ci"),
    Option("seed-base", "N", "seed base (int >= 0); base N uses seeds N*10000 + i (default 300, the confirmatory "
                              "round 2; 0 is the pilot, 400 round 2's replication)", "300"),
    Option("store", "DIR", "run store folder (default: $BNCLAIMS_STORE, else $XDG_CACHE_HOME/bnclaims/store, "
                           "else ~/.cache/bnclaims/store)"),
    Option("report", "DIR", f"folder for report.json/.md/.html (default: ./{paths.REPORT_DIR})", paths.REPORT_DIR),
    Option("compare", "OLD.json", "compare this run's report with a saved report.json; a verdict change fails"),
    Option("ids", "IDS", "comma-separated claim or hypothesis ids to run, e.g. C1,C3.a (C1 selects C1.a, C1.b, ...)"),
    Option("packs", "NAMES", "comma-separated claim packs (bnclaims.claims entry points) to read; default: all "
                             "installed, bnclaims' own is 'builtin'"),
    Option("executor", "{inprocess,dask}", "where runs the store lacks are trained: inprocess (default: by the check "
               "that needs them) or dask (first planned from the declarations and trained as Dask tasks, then the checks "
               "run from the warm store; needs the dask extra and no -n in the same pytest call)", "inprocess"),
    Option("scheduler", "ADDRESS", "with the dask executor: an existing Dask scheduler (tcp://HOST:PORT); default a "
                                   "LocalCluster of worker processes with one thread each"),
    Option("dask-workers", "N", "with the dask executor and no scheduler: the LocalCluster's worker processes "
                                "(default: all cores)"),
    Option("data-dir", "DIR", "the folder holding CIFAR-10's binary version (cifar-10-batches-bin/) and optionally "
                              "MNIST's idx files, for the paper profile (default: $BNCLAIMS_DATA); nothing is "
                              "downloaded, every file is checked by size and SHA-256"),
    Option("compile", "{off,default,reduce-overhead}", "torch.compile the training step of every batched-engine run "
               "(the mode is part of each run's store key; pays for runs of several thousand steps: "
               "benchmarks/bench_engine.py prints the break-even; default off)", "off"),
    Option("data-draw", "{fixed,per-seed}", "fixed (default): every seed trains on the declared data set (MNIST-1D, "
               "data seed 42), as round 2 was registered; per-seed: each seed also draws its own generated data set "
               "(data seed 10^9 + seed; slower: one run per seed), so a verdict speaks for the data-generating "
               "process; a secondary analysis, never the registered vote", "fixed"),
    Option("shard", "K/N", "run shard K of N: a deterministic 1/N of the checks, split by whole ensembles (no two "
                           "shards train the same run) and the test files by file; `bnclaims merge` joins the reports"),
)


@dataclass(frozen=True)
class Settings:
    ctx: RunContext
    ids: list
    compare: str | None
    packs: tuple | None = None      # None: every installed claim pack
    shard: tuple | None = None      # (k, n): run shard k of n (1-based)
    executor: str = "inprocess"     # inprocess | dask (harness.run.executor)
    scheduler: str | None = None    # dask: an existing scheduler's address (None: a LocalCluster)
    dask_workers: int = 0           # dask LocalCluster worker processes (0: all cores)


def add_pytest_options(group) -> None:
    for o in OPTIONS:
        group.addoption(f"--claims-{o.name}", dest=o.dest, default=o.default, metavar=o.metavar, help=o.help)


def add_cli_options(parser, skip=()) -> None:
    for o in OPTIONS:
        if o.name not in skip:
            parser.add_argument(f"--{o.name}", dest=o.dest, default=o.default, metavar=o.metavar, help=o.help)


def parse_ids(raw, flag: str = "--claims-ids") -> list[str]:
    if raw is None:
        return []
    parts = raw if isinstance(raw, (list, tuple)) else [raw]
    ids = [s.strip() for p in parts for s in str(p).split(",") if s.strip()]
    if not ids:
        raise OptionError(f"{flag}: give at least one id, e.g. C1,C3.a")
    bad = [s for s in ids if not _ID.match(s)]
    if bad:
        raise OptionError(f"{flag}: malformed id(s) {', '.join(map(repr, bad))}; ids look like C1, C1.a, C1.a@ (its map) or C1.a@lr=x10")
    return ids


def settings(values: dict, base_dir, *, prefix: str = "--claims-", check_files: bool = True) -> Settings:
    """Settings from raw option values {dest: str or None}; relative paths resolve against base_dir."""
    def get(name):
        o = next(o for o in OPTIONS if o.name == name)
        v = values.get(o.dest)
        return o.default if v is None else v

    profile = str(get("profile"))
    if profile not in RUN_PROFILES:
        raise OptionError(f"{prefix}profile: unknown profile {profile!r}; choose one of {', '.join(RUN_PROFILES)}")
    raw = str(get("seed-base"))
    try:
        seed_base = int(raw)
    except ValueError:
        seed_base = -1
    if seed_base < 0:
        raise OptionError(f"{prefix}seed-base: expected an integer >= 0, got {raw!r}")
    base = Path(base_dir)
    store = str((base / (get("store") or paths.store_dir())).resolve())
    report_dir = str((base / get("report")).resolve())
    compare = get("compare")
    if compare is not None:
        compare = str((base / compare).resolve())
        if check_files and not os.path.isfile(compare):
            raise OptionError(f"{prefix}compare: no such report file: {compare}")
    ids = parse_ids(get("ids"), f"{prefix}ids")
    raw_packs = get("packs")
    packs = None
    if raw_packs is not None:
        packs = tuple(sorted({p.strip() for p in str(raw_packs).split(",") if p.strip()}))
        if not packs:
            raise OptionError(f"{prefix}packs: give at least one pack name, e.g. builtin")
    executor = str(get("executor"))
    if executor not in EXECUTORS:
        raise OptionError(f"{prefix}executor: unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    scheduler = get("scheduler")
    if scheduler is not None and executor != "dask":
        raise OptionError(f"{prefix}scheduler: only with {prefix}executor dask")
    raw, dask_workers = get("dask-workers"), 0
    if raw is not None:
        from bnclaims.harness.store import positive_int
        dask_workers = positive_int(raw)
        if not dask_workers:
            raise OptionError(f"{prefix}dask-workers: expected an integer >= 1, got {raw!r}")
    data_dir = _data_dir(get("data-dir"), profile, base, prefix, check_files)
    from bnclaims.harness.spec import COMPILE_MODES
    compile_mode = str(get("compile"))
    if compile_mode not in COMPILE_MODES:
        raise OptionError(f"{prefix}compile: unknown mode {compile_mode!r}; choose one of {', '.join(COMPILE_MODES)}")
    from bnclaims.harness.run.datadraw import MODES
    data_draw = str(get("data-draw"))
    if data_draw not in MODES:
        raise OptionError(f"{prefix}data-draw: unknown value {data_draw!r}; choose one of {', '.join(MODES)}")
    return Settings(RunContext(profile=profile, seed_base=seed_base, store=store, report_dir=report_dir,
                               data_dir=data_dir, compile=compile_mode, data_draw=data_draw), ids,
                    compare, packs, parse_shard(get("shard"), f"{prefix}shard"), executor,
                    None if scheduler is None else str(scheduler), dask_workers)


def check_before_run(s: Settings, *, prefix: str = "--claims-", store_given: bool = True) -> None:
    """What a run needs of its environment, checked before any check runs (OptionError, one line naming the setting
    and what it accepts): BNCLAIMS_THREADS and BNCLAIMS_DEVICE (a device this machine has: torch is imported only
    for one other than cpu), and store and report folders that are not existing files. store_given: the store
    came from the option, not from $BNCLAIMS_STORE or the default."""
    from bnclaims.harness import store
    try:
        store.thread_setting()
        store.check_device()
    except store.SettingError as e:
        raise OptionError(str(e)) from None
    store_flag = f"{prefix}store" if store_given else (paths.STORE_ENV if os.environ.get(paths.STORE_ENV)
                                                       else "the default store folder")
    for flag, folder in ((store_flag, s.ctx.store), (f"{prefix}report", s.ctx.report_dir)):
        _writable_folder(Path(folder), flag)


def _writable_folder(folder: Path, flag: str) -> None:
    """A folder a run creates or writes into: its nearest existing part must be a folder, not a file."""
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                what = "" if part == folder else f" (in {folder})"
                raise OptionError(f"{flag}: {part} is a file{what}; accepts a folder, existing or to be created")
            return


def _data_dir(raw, profile: str, base: Path, prefix: str, check_files: bool) -> str | None:
    """The data folder (--data-dir, else $BNCLAIMS_DATA), resolved. The paper profile needs one holding the real
    CIFAR-10 files, checked here (size, SHA-256, format) so a bad folder is a usage error before anything runs;
    the smoke profile checks a given folder that holds CIFAR-10 (synthetic allowed). Elsewhere a folder is
    optional, and a $BNCLAIMS_DATA that is no folder is ignored (no check reads it). The check's digest is kept
    for the process (userdata.verified_digest), so the runs of an in-process session do not hash the files again."""
    from bnclaims.harness import userdata
    if profile != "paper" and raw is None:
        env = os.environ.get(paths.USER_DATA_ENV)
        return str(Path(env).expanduser().resolve()) if env and Path(env).expanduser().is_dir() else None
    try:
        folder = userdata.user_folder(None if raw is None else base / raw)
        if check_files and (profile == "paper" or (profile == "smoke" and raw is not None
                                                   and (folder / userdata.CIFAR10.subdir).is_dir())):
            userdata.verified_digest(userdata.CIFAR10, folder, allow_synthetic=profile == "smoke")
    except userdata.DataError as e:
        raise OptionError(f"{prefix}data-dir: {e}") from None
    return str(folder)


def parse_shard(raw, flag: str = "--claims-shard") -> tuple | None:
    if raw is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(raw))
    if m is None or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise OptionError(f"{flag}: expected K/N with 1 <= K <= N (e.g. 1/2), got {raw!r}")
    return int(m.group(1)), int(m.group(2))
