"""Where bnclaims keeps things by default, each worked out here and nowhere else.

Run store: $BNCLAIMS_STORE, else $XDG_CACHE_HOME/bnclaims/store, else ~/.cache/bnclaims/store.
Generated data sets (MNIST-1D, harness.datacache): $BNCLAIMS_DATA_CACHE, else data/ in the same cache folder (not
beside a $BNCLAIMS_STORE). The user's own data sets (CIFAR-10, MNIST; harness.userdata) are another folder: --data-dir,
else $BNCLAIMS_DATA; nothing here defaults it.
Compiled-kernel cache of torch.compile'd runs: $TORCHINDUCTOR_CACHE_DIR, else inductor/ in the same cache folder.
Reports: ./claims-report. An installed tool never writes into site-packages.
"""
from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "BNCLAIMS_STORE"
DATA_CACHE_ENV = "BNCLAIMS_DATA_CACHE"     # the generated data sets' cache
USER_DATA_ENV = "BNCLAIMS_DATA"            # the user's folder of paper data sets (--data-dir)
REPORT_DIR = "claims-report"


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "bnclaims" if xdg else Path.home() / ".cache" / "bnclaims"


def store_dir() -> Path:
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else cache_root() / "store"


def data_cache_dir() -> Path:
    env = os.environ.get(DATA_CACHE_ENV)
    return Path(env) if env else cache_root() / "data"


def inductor_cache_dir() -> Path:
    """Where a compiled run keeps its kernels unless $TORCHINDUCTOR_CACHE_DIR says otherwise (torch reads that)."""
    return cache_root() / "inductor"
