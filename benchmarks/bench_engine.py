"""Batched-seed engine, eager and torch.compile'd, against the per-seed reference loop, in one run.

K = 16 seeds of the Ioffe & Szegedy MLP (3 hidden layers of 100 sigmoid units, batch 60) on MNIST-1D,
with and without BN, one torch thread.

The three engines are timed in alternating rounds (loop, batched, compiled, then compiled, batched, loop,
...), so all see the same machine: on a shared 2-core box the speed of any one drifts by +-20 % from minute
to minute. Each round gives one ratio per engine against that round's loop; a line per norm shows the
medians of the speeds, the medians of the per-round ratios and their range. Compiled and eager train losses
of the last round must agree at the engine tolerance (1e-5), else a FAIL line is printed and the exit status
is 1. The one-off compile time is the first compiled step in two fresh processes sharing an empty inductor
cache (cold, then warm: kernels loaded from disk, tracing redone); the break-even is the run length in steps
after which the compiled run, compile time included, is ahead of the eager one.
Each engine's speed is also given in GFLOP/s of its matmuls (forward and backward, per model-step, step_flops) as a
fraction of the sgemm peak measured at the start of the same run, for the benchmark's own net and for the ensembles the
ci suite trains most (SUITE_SHAPES, eager batched engine, best of two runs).
Usage:  python benchmarks/bench_engine.py [--steps 300] [--rounds 6] [--k 16] [--mode default]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from bnclaims.harness import engine
from bnclaims.harness.spec import COMPILE_MODES, ModelSpec, TrainSpec

TOLERANCE = 1e-5            # batched against reference in tests/harness/test_engine.py
ENGINES = ("loop", "batched", "compiled")


def bench_spec(norm, steps, mode="off"):
    return TrainSpec(model=ModelSpec(depth=3, width=100, activation="sigmoid", norm=norm), batch_size=60,
                     lr=0.1, steps=steps, eval_every=10 ** 9, compile=mode)


def timed(spec, eng, seeds):
    """(model-steps/s, arrays) of one run."""
    t0 = time.perf_counter()
    arrays, _ = engine.train(spec, seeds, eng)
    return len(seeds) * spec.steps / (time.perf_counter() - t0), arrays


def first_step_in_fresh_processes(norm, mode, k):
    """Seconds of the first compiled step in a fresh process with an empty inductor cache, then in a second
    fresh process with the cache the first one left."""
    out = []
    with tempfile.TemporaryDirectory(prefix="bnclaims-inductor-") as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
        for _ in ("cold", "warm"):
            run = subprocess.run([sys.executable, os.path.abspath(__file__), "--first-step", norm, "--mode", mode,
                                  "--k", str(k)], env=env, capture_output=True, text=True, check=True)
            out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return out


def break_even(compile_s, eager_speed, compiled_speed, k):
    """Steps after which compile_s plus compiled steps cost less than eager steps (None: never)."""
    saved = k / eager_speed - k / compiled_speed      # seconds per step of the K-member model
    return compile_s / saved if saved > 0 else None


def sgemm_peak(n: int = 1024, reps: int = 8) -> float:
    """GFLOP/s of one float32 n x n matmul on this process's torch threads (the best of `reps`), the denominator of
    the engine's fraction of peak."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def step_flops(spec, d_in: int = 40, d_out: int = 10) -> float:
    """Matmul FLOPs of one training step of one member: 2 per multiply-add forward, 4 backward (input and weight
    gradients), except that the first layer computes no input gradient. Norms, activations, the loss and the
    optimizer are not counted (they are the overhead the fraction of peak shows)."""
    from bnclaims.harness.nets import layer_dims
    b = spec.batch_size
    macs = [fi * fo * b for fi, fo in layer_dims(spec.model, d_in, d_out)]
    return sum(2 * m + (2 if i == 0 else 4) * m for i, m in enumerate(macs))


# The ensembles the ci suite trains most (claims/c2.py C2.a: 6 rates x 9 seeds; C2.a's tuning and the ghost arms)
SUITE_SHAPES = (("C2.a MLP 4x128 relu, BN, batch 64", dict(norm="bn", depth=4, width=128, activation="relu"), 64, 54),
                ("C2.a MLP 4x128 relu, no norm, batch 64", dict(norm="none", depth=4, width=128, activation="relu"), 64, 54),
                ("C4.a MLP 3x128 relu, ghost BN G=8, batch 128", dict(norm="ghost_bn", ghost_size=8, depth=3, width=128,
                                                                       activation="relu"), 128, 8))


def cpu_model() -> str:
    """The CPU's model name (ratios depend on it: per-op overhead against matmul throughput)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--mode", default="default", choices=[m for m in COMPILE_MODES if m != "off"])
    ap.add_argument("--first-step", metavar="NORM", help=argparse.SUPPRESS)   # the fresh process's part
    a = ap.parse_args()
    seeds = list(range(a.k))
    if a.first_step:
        _, info = engine.train(bench_spec(a.first_step, 2, a.mode), seeds)
        print(json.dumps(info["first_step_s"]))
        return
    print(f"machine: {cpu_model()}, {torch.backends.cpu.get_cpu_capability()}; torch {torch.__version__}; "
          f"python {platform.python_version()}; compile mode {a.mode}")
    peak = sgemm_peak()
    print(f"sgemm peak (1024^3 float32 matmul, {torch.get_num_threads()} thread): {peak:.0f} GFLOP/s")
    failed = False
    for norm in ("none", "bn"):
        spec, compiled = bench_spec(norm, a.steps), bench_spec(norm, a.steps, a.mode)
        runs = {"loop": (spec, "reference"), "batched": (spec, "batched"), "compiled": (compiled, "batched")}
        for s, eng in runs.values():            # warm-up: data cache, and the compile (this process's cache)
            engine.train(s.replace(steps=5), seeds[:2] if eng == "reference" else seeds, eng)
        speed = {e: [] for e in ENGINES}
        ratio = {e: [] for e in ENGINES[1:]}
        for r in range(a.rounds):
            last = {}
            for e in (ENGINES if r % 2 == 0 else ENGINES[::-1]):
                v, last[e] = timed(*runs[e], seeds)
                speed[e].append(v)
            for e in ratio:
                ratio[e].append(speed[e][-1] / speed["loop"][-1])
        med = {e: statistics.median(v) for e, v in speed.items()}
        line = f"norm={norm:<4} K={a.k} threads={engine.THREADS}  per-seed loop {med['loop']:6.0f} model-steps/s"
        for e in ratio:
            line += (f"   {e} {med[e]:6.0f} model-steps/s = {statistics.median(ratio[e]):.2f}x "
                     f"(range {min(ratio[e]):.2f}-{max(ratio[e]):.2f}x)")
        print(line + f"   [medians of {a.rounds} rounds]")
        flops = step_flops(spec)
        print(f"norm={norm:<4} K={a.k} batched engine: {med['batched'] * flops / 1e9:.1f} GFLOP/s = "
              f"{100 * med['batched'] * flops / 1e9 / peak:.0f} % of the sgemm peak ({flops / 1e6:.2f} MFLOP of matmuls "
              f"per model-step)")
        gap = float(np.max(np.abs(last["compiled"]["train_loss"] - last["batched"]["train_loss"])))
        ok = gap <= TOLERANCE
        failed |= not ok
        print(f"norm={norm:<4} {'agree' if ok else 'FAIL'}: max |compiled - eager| train loss {gap:.1e} "
              f"(tolerance {TOLERANCE:g}) over {a.steps} steps x {a.k} seeds; compiled / eager speed "
              f"{med['compiled'] / med['batched']:.2f}x")
        cold, warm = first_step_in_fresh_processes(norm, a.mode, a.k)
        even = [break_even(c, med["batched"], med["compiled"], a.k) for c in (cold, warm)]
        print(f"norm={norm:<4} one-off compile (first compiled step, fresh process): cold cache {cold:.1f} s, "
              f"warm cache {warm:.1f} s;  break-even vs eager batched: "
              + ", ".join(f"{name} {'never' if n is None else f'{n:.0f} steps'}"
                          for name, n in zip(("cold", "warm"), even)))
    for name, model, batch, k in SUITE_SHAPES:
        spec = TrainSpec(model=ModelSpec(**model), batch_size=batch, lr=0.1, steps=a.steps // 2, eval_every=10 ** 9)
        engine.train(spec.replace(steps=5), list(range(k)))
        speed = max(timed(spec, "batched", list(range(k)))[0] for _ in range(2))
        flops = step_flops(spec)
        print(f"suite shape K={k:<3} {name}: {speed:6.0f} model-steps/s, {speed * flops / 1e9:5.1f} GFLOP/s = "
              f"{100 * speed * flops / 1e9 / peak:.0f} % of the sgemm peak")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
