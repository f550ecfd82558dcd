"""The batched engine on an accelerator: agreement with the CPU reference loop, and speed against
the CPU batched engine (one thread), in one run.

Usage:  BNCLAIMS_DEVICE=cuda python benchmarks/device_check.py [--ks 16 64 256] [--steps 300]
"""
import argparse
import time

import numpy as np
import torch

from bnclaims.harness import engine
from bnclaims.harness.spec import ModelSpec, TrainSpec


def agreement(device):
    rows = []
    for norm, steps in (("none", 50), ("bn", 10), ("noisy_bn", 10)):
        spec = TrainSpec(model=ModelSpec(depth=3, width=64, norm=norm), steps=steps, eval_every=5, lr=0.1,
                         momentum=0.9)
        a, _ = engine.train(spec, [0, 1, 2], "batched", device=device)
        b, _ = engine.train(spec, [0, 1, 2], "reference")
        rows.append((norm, steps, float(np.max(np.abs(a["train_loss"] - b["train_loss"])))))
    return rows


def speed(device, k, steps):
    spec = TrainSpec(model=ModelSpec(depth=3, width=100, activation="sigmoid", norm="bn"), batch_size=60,
                     lr=0.1, steps=steps, eval_every=10 ** 9)
    engine.train(spec.replace(steps=5), list(range(k)), device=device)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    engine.train(spec, list(range(k)), device=device)
    return k * steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args()
    dev = engine.DEVICE
    name = torch.cuda.get_device_name() if dev.startswith("cuda") else "cpu"
    print(f"device {dev} ({name}), torch {torch.__version__}, cpu threads {torch.get_num_threads()}")
    for norm, steps, diff in agreement(dev):
        print(f"agreement norm={norm:<8} {steps} steps: max |loss(batched on {dev}) - loss(CPU reference)| = {diff:.2e}")
    for k in a.ks:
        cpu, acc = speed("cpu", k, a.steps), speed(dev, k, a.steps)
        print(f"Ioffe MLP with BN, K={k:<4} CPU batched {cpu:8.0f} model-steps/s   {dev} batched {acc:9.0f}"
              f" model-steps/s   ratio {acc / cpu:.1f}x")


if __name__ == "__main__":
    main()
