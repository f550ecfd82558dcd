"""Batched-seed engine against the per-seed reference loop, in one run (ratios, not absolute times).

K = 16 seeds of the Ioffe & Szegedy MLP (3 hidden layers of 100 sigmoid units, batch 60) on MNIST-1D,
with and without BN, one torch thread.   Usage:  python benchmarks/bench_engine.py [--steps 400] [--k 16]
"""
import argparse
import time

from harness import engine
from harness.spec import ModelSpec, TrainSpec


def model_steps_per_s(spec, seeds, eng, repeats):
    best = float("inf")
    for _ in range(repeats):          # best of n: least disturbed by other processes on the machine
        t0 = time.perf_counter()
        engine.train(spec, seeds, eng)
        best = min(best, time.perf_counter() - t0)
    return len(seeds) * spec.steps / best


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    seeds = list(range(a.k))
    for norm in ("none", "bn"):
        spec = TrainSpec(model=ModelSpec(depth=3, width=100, activation="sigmoid", norm=norm), batch_size=60,
                         lr=0.1, steps=a.steps, eval_every=10 ** 9)
        engine.train(spec.replace(steps=5), seeds[:2])                       # warm-up, data cache
        loop = model_steps_per_s(spec, seeds, "reference", a.repeats)
        batched = model_steps_per_s(spec, seeds, "batched", a.repeats)
        print(f"norm={norm:<4} K={a.k} threads={engine.THREADS}  per-seed loop {loop:7.0f} model-steps/s   "
              f"batched {batched:7.0f} model-steps/s   ratio {batched / loop:.2f}x")


if __name__ == "__main__":
    main()
