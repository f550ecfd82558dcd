"""Batched-seed engine against the per-seed reference loop, in one run (ratios, not absolute times).

K = 16 seeds of the Ioffe & Szegedy MLP (3 hidden layers of 100 sigmoid units, batch 60) on MNIST-1D,
with and without BN, one torch thread.

The two engines are timed in alternating rounds (loop, batched, batched, loop, ...), so both see the
same machine: on a shared 2-core box the speed of either one drifts by +-20 % from minute to minute.
Each round gives one ratio; the line printed per norm shows the medians of both engines, the median
of the per-round ratios and their range.   Usage:  python benchmarks/bench_engine.py [--steps 300] [--rounds 6]
"""
import argparse
import platform
import statistics
import time

import torch

from harness import engine
from harness.spec import ModelSpec, TrainSpec


def timed(spec, seeds, eng):
    t0 = time.perf_counter()
    engine.train(spec, seeds, eng)
    return len(seeds) * spec.steps / (time.perf_counter() - t0)


def cpu_model() -> str:
    """The CPU's model name (ratios depend on it: per-op overhead against matmul throughput)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()
    seeds = list(range(a.k))
    print(f"machine: {cpu_model()}, {torch.backends.cpu.get_cpu_capability()}; torch {torch.__version__}; "
          f"python {platform.python_version()}")
    for norm in ("none", "bn"):
        spec = TrainSpec(model=ModelSpec(depth=3, width=100, activation="sigmoid", norm=norm), batch_size=60,
                         lr=0.1, steps=a.steps, eval_every=10 ** 9)
        engine.train(spec.replace(steps=5), seeds[:2], "reference")      # warm-up, data cache
        engine.train(spec.replace(steps=5), seeds[:2], "batched")
        loop, batched, ratios = [], [], []
        for r in range(a.rounds):
            order = ("reference", "batched") if r % 2 == 0 else ("batched", "reference")
            speed = {eng: timed(spec, seeds, eng) for eng in order}
            loop.append(speed["reference"])
            batched.append(speed["batched"])
            ratios.append(speed["batched"] / speed["reference"])
        print(f"norm={norm:<4} K={a.k} threads={engine.THREADS}  per-seed loop {statistics.median(loop):6.0f} "
              f"model-steps/s   batched {statistics.median(batched):6.0f} model-steps/s   "
              f"ratio {statistics.median(ratios):.2f}x (median of {a.rounds} rounds; "
              f"range {min(ratios):.2f}-{max(ratios):.2f}x)")


if __name__ == "__main__":
    main()
