"""Datasets as in-memory tensors, generated locally (never downloaded).

MNIST-1D comes from the `mnist1d` package's `make_dataset` (defaults: 4000/1000 split, seed 42), cached as .npz
and verified by harness.datacache, which also gives the digest of each data set that run keys carry.
Batches are drawn by randperm + index_select, with one torch.Generator per seed for data order.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import datacache


@dataclass(frozen=True)
class Dataset:
    x: torch.Tensor          # [N, D] float32
    y: torch.Tensor          # [N] int64 class labels, or [N, D_out] float32 regression targets
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_out: int
    task: str                # "classification" | "regression"
    x_val: torch.Tensor | None = None    # validation rows carved from the end of the training set (with_validation)
    y_val: torch.Tensor | None = None


_MEMO: dict = {}


def load(name: str, seed: int = 42) -> Dataset:
    key = (name, seed)
    if key not in _MEMO:
        maker = {"mnist1d": _mnist1d, "synthetic": _synthetic, "dln": _dln}.get(name)
        if maker is None:
            raise ValueError(f"unknown dataset {name!r}")
        _MEMO[key] = maker(seed)
    return _MEMO[key]


def with_validation(ds: Dataset, rows: int) -> Dataset:
    """The last `rows` training rows become a validation set that training never sees (rows 0: ds itself)."""
    if not rows:
        return ds
    n = ds.x.shape[0]
    if not 0 < rows < n:
        raise ValueError(f"val_rows {rows} must leave training rows (the training set has {n})")
    key = ("val", id(ds), rows)
    if key not in _MEMO:
        _MEMO[key] = Dataset(ds.x[:n - rows], ds.y[:n - rows], ds.x_test, ds.y_test, ds.n_out, ds.task,
                             ds.x[n - rows:], ds.y[n - rows:])
    return _MEMO[key]


def to_device(ds: Dataset, device) -> Dataset:
    if torch.device(device).type == "cpu":
        return ds
    key = ("device", id(ds), str(device))
    if key not in _MEMO:
        val = (None, None) if ds.x_val is None else (ds.x_val.to(device), ds.y_val.to(device))
        _MEMO[key] = Dataset(ds.x.to(device), ds.y.to(device), ds.x_test.to(device), ds.y_test.to(device),
                             ds.n_out, ds.task, *val)
    return _MEMO[key]


def _mnist1d(seed: int) -> Dataset:
    a, _sha = datacache.mnist1d(seed)
    return Dataset(*(torch.from_numpy(a[k]) for k in ("x", "y", "x_test", "y_test")), 10, "classification")


def _synthetic(seed: int, n=4000, n_test=1000, dim=20, classes=4) -> Dataset:
    """Gaussian inputs labelled by a fixed random two-layer teacher: learnable, not linearly trivial."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_test, dim, generator=g)
    w1 = torch.randn(dim, 32, generator=g) / dim ** 0.5
    w2 = torch.randn(32, classes, generator=g)
    y = (torch.tanh(x @ w1) @ w2).argmax(1)
    return Dataset(x[:n], y[:n], x[n:], y[n:], classes, "classification")


def _dln(seed: int, n=1000, dim=10) -> Dataset:
    """Santurkar et al. App. A.1: x ~ N(0, I), target A x with A Gaussian 10x10, n = 1000 (full batch)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g)
    x = torch.randn(n, dim, generator=g)
    x_test = torch.randn(n, dim, generator=g)
    return Dataset(x, x @ a.T, x_test, x_test @ a.T, dim, "regression")


class BatchOrder:
    """One seed's data order: a fresh randperm per epoch from its own generator."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.bs = n, (batch_size or n)
        if self.bs > n:
            raise ValueError(f"batch size {batch_size} exceeds the dataset size {n}")
        self.g = torch.Generator().manual_seed(_mix(seed, 1))
        self.perm, self.pos = None, n

    def next(self) -> torch.Tensor:
        if self.bs == self.n:                     # full batch: no shuffling needed
            return torch.arange(self.n)
        if self.pos + self.bs > self.n:           # drop the ragged tail; new epoch
            self.perm, self.pos = torch.randperm(self.n, generator=self.g), 0
        idx = self.perm[self.pos:self.pos + self.bs]
        self.pos += self.bs
        return idx


class StackedOrder:
    """K seeds' data orders advanced together; identical to K BatchOrders, one gather per epoch."""

    def __init__(self, n: int, batch_size: int, seeds):
        self.orders = [BatchOrder(n, batch_size, s) for s in seeds]
        self.n, self.bs = n, self.orders[0].bs
        self.perm, self.pos = None, n

    def next(self) -> torch.Tensor:
        """[K, B] indices."""
        if self.bs == self.n:
            return torch.arange(self.n).expand(len(self.orders), -1)
        if self.pos + self.bs > self.n:
            self.perm = torch.stack([torch.randperm(self.n, generator=o.g) for o in self.orders])
            self.pos = 0
        idx = self.perm[:, self.pos:self.pos + self.bs]
        self.pos += self.bs
        return idx


def _mix(seed: int, role: int) -> int:
    """Independent generator seeds per (seed, role): init, data order, noise, probes."""
    return (int(seed) * 1_000_003 + role * 7_919) % (2 ** 63 - 1)


def generator(seed: int, role: str) -> torch.Generator:
    roles = {"init": 0, "data": 1, "noise": 2, "probe": 3, "mask": 4}
    return torch.Generator().manual_seed(_mix(seed, roles[role]))
