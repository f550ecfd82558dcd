"""The GPU evidence of issue 15 in one short run (a few minutes on one GPU); prints one line per measurement.

1. VGG-11 throughput: K seeds batched with grouped convolutions (harness/vgg.py) vs the per-seed loop.
2. A paper smoke: the paper profile's own run (harness/routines/paper_vgg.py with claims/paper.py's settings) for
   a few hundred SGD steps of VGG-11 with and without BN at Santurkar's rates 0.1 and 0.5, one seed batch per
   arm, with its probes, on CIFAR-10 from --data-dir (else a synthetic folder in the same format: a plumbing
   check, not evidence).
3. CPU/GPU agreement of the MLP engine (benchmarks/device_check.py's agreement rows).

Usage:  python benchmarks/gpu_check.py [--data-dir DIR] [--steps 300] [--ks 1 4 8]
        python benchmarks/gpu_check.py --device cpu --width 0.0625 --steps 5 --ks 1 2    (a CPU dry run)
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bnclaims.harness import userdata as ud  # noqa: E402
from bnclaims.harness.vgg import VGGSpec, train  # noqa: E402


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def throughput(device, width, ks, steps=20, batch=128):
    x = torch.randn(2048, 3, 32, 32)
    y = torch.randint(0, 10, (2048,))
    spec = VGGSpec(norm="bn", width=width)
    for k in ks:
        rates = {}
        for batched in (True, False):
            train(spec, list(range(k)), x, y, steps=2, lr=0.1, batch=batch, device=device, batched=batched)  # warm-up
            sync(device)
            t0 = time.perf_counter()
            train(spec, list(range(k)), x, y, steps=steps, lr=0.1, batch=batch, device=device, batched=batched)
            sync(device)
            rates[batched] = k * steps / (time.perf_counter() - t0)
        print(f"vgg11 bn width {width:g} K={k:3d}: batched {rates[True]:8.1f} model-steps/s, per-seed loop "
              f"{rates[False]:8.1f}, ratio {rates[True] / rates[False]:.2f}x", flush=True)


def paper_smoke(device, width, data_dir, steps, seeds=(0, 1, 2, 3)):
    """The paper profile's own run (harness/routines/paper_vgg.py, claims/paper.py's settings) for a few hundred
    steps: one seed batch per arm, probes three times."""
    import numpy as np
    os.environ["BNCLAIMS_DEVICE"] = device          # read when harness.engine loads, before the routine runs
    from bnclaims.claims import paper
    from bnclaims.harness.routines import paper_vgg
    if data_dir is None:
        folder = Path(tempfile.mkdtemp())
        ud.write_synthetic(ud.CIFAR10, folder, records=1000)
        what, synthetic = "synthetic CIFAR folder (plumbing only)", True
    else:
        folder, synthetic = ud.user_folder(data_dir), False
        what = f"CIFAR-10 from {data_dir}"
    digest = ud.verified_digest(ud.CIFAR10, folder, allow_synthetic=synthetic)
    print(f"paper smoke on {what} (digest {digest[:12]}): {steps} steps, seeds {list(seeds)}", flush=True)
    for norm in ("none", "bn"):
        for lr in (0.1, 0.5):
            s = {**paper.PAPER, "norm": norm, "lr": lr, "width": width, "steps": steps, "eval_every": steps,
                 "probe_every": max(1, steps // 3), "eval_rows": 2000, "data_sha256": digest, "_data_dir": str(folder)}
            t0 = time.perf_counter()
            a = paper_vgg.run(s, list(seeds))
            tail = np.mean(a["train_loss"][-max(1, steps // 10):], 0)
            med = {k: float(np.nanmedian(a[k])) for k in ("probe_land_loss_range", "probe_beta_eff", "probe_ics_cos8")}
            print(f"  vgg11 {norm:4s} lr {lr:g}: train loss (last 10%) {[round(float(v), 3) for v in tail]}, test acc "
                  f"{[round(float(v), 3) for v in a['eval_test_acc'][-1]]}, probe medians loss range "
                  f"{med['probe_land_loss_range']:.3g} beta {med['probe_beta_eff']:.3g} ics cos {med['probe_ics_cos8']:.3g}"
                  f" ({time.perf_counter() - t0:.1f} s)", flush=True)


def agreement(device):
    if not device.startswith("cuda"):
        print("agreement: skipped on cpu (it compares cpu and the accelerator)")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import device_check
    for norm, steps, err in device_check.agreement(device):
        print(f"agreement mlp {norm:9s} {steps:3d} steps: max |loss gpu - loss cpu reference| {err:.2e}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 4, 8])
    a = ap.parse_args()
    if a.device == "cpu":
        torch.set_num_threads(1)
    name = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "cpu"
    print(f"gpu_check on {name}, torch {torch.__version__}", flush=True)
    throughput(a.device, a.width, a.ks, steps=max(2, min(20, a.steps)))
    paper_smoke(a.device, a.width, a.data_dir, a.steps)
    agreement(a.device)


if __name__ == "__main__":
    main()
