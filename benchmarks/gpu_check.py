"""The GPU evidence of issue 15 in one short run (a few minutes on one GPU); prints one line per measurement.

1. VGG-11 throughput: K seeds batched with grouped convolutions (harness/vgg.py) vs the per-seed loop.
2. A paper smoke: a few hundred SGD steps of VGG-11 with and without BN at Santurkar's rates 0.1 and 0.5, one
   seed batch per arm, on CIFAR-10 from --data-dir (else a synthetic folder in the same format: a
   plumbing check, not evidence).
3. CPU/GPU agreement of the MLP engine (benchmarks/device_check.py's agreement rows).

Usage:  python benchmarks/gpu_check.py [--data-dir DIR] [--steps 300] [--ks 1 4 8]
        python benchmarks/gpu_check.py --device cpu --width 0.0625 --steps 5 --ks 1 2    (a CPU dry run)
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import userdata as ud  # noqa: E402
from harness.vgg import VGGSpec, standardize, train  # noqa: E402


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
    if data_dir is None:
        tmp = tempfile.mkdtemp()
        ud.write_synthetic(ud.CIFAR10, tmp, records=1000)
        xtr, ytr, _, _, _ = ud.load(ud.CIFAR10, tmp, allow_synthetic=True)
        what = "synthetic CIFAR folder (plumbing only)"
    else:
        xtr, ytr, _, _, hashes = ud.load(ud.CIFAR10, ud.user_folder(data_dir))
        what = f"CIFAR-10 from {data_dir} ({len(hashes)} files checked)"
    x, _, _ = standardize(xtr)
    y = torch.as_tensor(ytr)
    print(f"paper smoke on {what}: {len(x)} training images, {steps} steps, seeds {list(seeds)}", flush=True)
    for norm in ("none", "bn"):
        for lr in (0.1, 0.5):
            t0 = time.perf_counter()
            losses = train(VGGSpec(norm=norm, width=width), seeds, x, y, steps=steps, lr=lr, batch=128,
                           device=device)
            tail = losses[-max(1, steps // 10):].mean(0)
            print(f"  vgg11 {norm:4s} lr {lr:g}: final train loss per seed {[round(float(v), 3) for v in tail]} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)


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
