"""The batched MLP engine on a GPU at the suite's own ensemble shapes (issue 25, item 4): model-steps/s eager and
torch.compile'd ("default", and "reduce-overhead", which adds CUDA graphs), against the CPU eager engine, and the
agreement of each GPU run with the CPU eager run at the engine tolerance. Never required (CI has no GPU).

Shapes (seeds 0..K-1, every member at the spec's own rate; C2.a's per-member grid rates change no kernel):
  c2a-bn-k16, c2a-bn-k54, c2a-none-k16, c2a-none-k54   claims/c2.py grid_spec: MLP 4 x 128 ReLU, SGD batch 64
                                                       (K = 54 is C2.a's ci ensemble: 6 rates x 9 seeds)
  ioffe-bn-k16                                         claims/c2.py ioffe_spec("bn"): 3 x 100 sigmoid, batch 60
                                                       (its drift probe left out: probes run eager in any mode)
  ghost8-k8                                            claims/c4.py ghost_spec(8): ghost_bn 8, 3 x 128, batch 128,
                                                       momentum 0.9
For each shape: CPU eager (the engine's threads, 1 unless $BNCLAIMS_THREADS says otherwise) runs --agree-steps
(the reference numbers, and its warm-up), then two timed runs. Then per compile mode on the device: a warm-up run of
--agree-steps (it compiles, and its train and test losses are compared with the CPU run's), then two timed runs.
The two timed runs have steps // 5 and --steps (--cpu-steps on CPU) steps, with the device synchronized before each
clock reading; the rate is the steady one from their difference, in which a run's fixed part (init, the evaluations
at its start and end) cancels; the whole long run's rate and that fixed part are printed beside it.
One line per measurement: model-steps/s, ratio to CPU eager (and to the device's mode off for compiled modes), the first
step's seconds (compiled modes: the compile, or loading it from the inductor cache) and max |loss(device) -
loss(CPU eager)| over all members' train losses and eval test losses against the tolerance of
tests/harness/test_engine.py (1e-5; differences grow with the steps, so the agreement run is short). For
reduce-overhead on a GPU the line says whether inductor kept the CUDA graphs or skipped them (and why). Exit status
1 if any run fails or disagrees, else 0; 0 with a message when there is no GPU. About 5 minutes on one H200 with an
empty inductor cache (most of it compiling 6 shapes x 2 modes; --modes and --shapes trim a rerun).

Usage:  python benchmarks/gpu_engine.py [--steps 300] [--cpu-steps 100] [--agree-steps 20]
                                        [--modes off default reduce-overhead] [--shapes c2a-bn-k54 ghost8-k8]
        python benchmarks/gpu_engine.py --device cpu --modes off        (a CPU dry run of 10 steps: plumbing only)
"""
import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_engine import TOLERANCE, cpu_model  # noqa: E402   (the engine tolerance, 1e-5)
from gpu_check import sync  # noqa: E402
from bnclaims.claims import c2, c4  # noqa: E402
from bnclaims.harness import engine  # noqa: E402
from bnclaims.harness.spec import COMPILE_MODES  # noqa: E402


def shapes() -> dict:
    """name -> (spec, K): the suite's ensembles, as the claims declare them."""
    ioffe = c2.ioffe_spec("bn").replace(probes=(), probe_every=0)
    return {"c2a-bn-k16": (c2.grid_spec("bn"), 16), "c2a-bn-k54": (c2.grid_spec("bn"), 54),
            "c2a-none-k16": (c2.grid_spec("none"), 16), "c2a-none-k54": (c2.grid_spec("none"), 54),
            "ioffe-bn-k16": (ioffe, 16), "ghost8-k8": (c4.ghost_spec(8), 8)}


def run(spec, k, device, mode, steps):
    """(seconds, arrays, info) of one engine run of `steps` steps, the device synchronized before each clock reading."""
    spec = spec.replace(steps=steps, eval_every=steps, compile=mode)
    sync(device)
    t0 = time.perf_counter()
    arrays, info = engine.train(spec, list(range(k)), device=device)
    sync(device)
    return time.perf_counter() - t0, arrays, info


def timed(spec, k, device, mode, steps):
    """(steady model-steps/s, the whole run's model-steps/s, seconds a run spends outside its steps) from a run of
    steps // 5 and one of `steps` steps: the fixed part (init, the two evaluations) cancels in their difference."""
    short = max(1, steps // 5)
    t_short, _, _ = run(spec, k, device, mode, short)
    t_long, _, _ = run(spec, k, device, mode, steps)
    per_step = (t_long - t_short) / (steps - short)
    steady = k / per_step if per_step > 0 else float("nan")
    return steady, k * steps / t_long, t_short - short * per_step


def gap(a, b) -> float:
    """max |a - b| over entries finite in both; inf where one of them is finite and the other is not."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    fa, fb = np.isfinite(a), np.isfinite(b)
    if (fa != fb).any():
        return float("inf")
    return float(np.max(np.abs(a[fa] - b[fa]), initial=0.0))


def error(e) -> str:
    lines = str(e).strip().splitlines()
    return f"ERROR {type(e).__name__}: {lines[0][:300] if lines else ''}"


class CudagraphLog(logging.Handler):
    """Keeps torch's log messages about CUDA graphs (inductor logs why it skips them)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        msg = record.getMessage()
        if "cudagraph" in msg.lower():
            self.messages.append(msg)


def cudagraph_skips() -> int:
    from torch._dynamo.utils import counters
    return int(counters["inductor"]["cudagraph_skips"])


def measure(name, spec, k, device, a, log) -> bool:
    """Prints one line for CPU eager and one per mode on the device; False if a run failed or disagreed."""
    ok = True
    _, ref, _ = run(spec, k, "cpu", "off", a.agree_steps)          # the reference, and the CPU warm-up
    cpu_rate, whole, fixed = timed(spec, k, "cpu", "off", a.cpu_steps)
    threads = torch.get_num_threads()
    print(f"{name:<13} K={k:<3} cpu eager            {cpu_rate:9.0f} model-steps/s   (whole {a.cpu_steps}-step run "
          f"{whole:.0f}, fixed {fixed:.2f} s per run; {threads} thread{'s' if threads > 1 else ''})", flush=True)
    eager_rate = None
    for mode in a.modes:
        head = f"{name:<13} K={k:<3} {device} {mode:<16}"
        skips, seen = cudagraph_skips(), len(log.messages)
        try:
            _, arrays, info = run(spec, k, device, mode, a.agree_steps)       # warm-up: compiles; the agreement run
            rate, whole, fixed = timed(spec, k, device, mode, a.steps)
        except Exception as e:      # one failing mode (e.g. a CUDA-graph error) must not hide the others
            print(f"{head} {error(e)}", flush=True)
            ok = False
            continue
        eager_rate = rate if mode == "off" else eager_rate
        d_train = gap(arrays["train_loss"], ref["train_loss"])
        d_test = gap(arrays["eval_test_loss"], ref["eval_test_loss"])
        agree = max(d_train, d_test) <= TOLERANCE
        ok &= agree
        line = (f"{head}{rate:9.0f} model-steps/s = {rate / cpu_rate:6.2f}x cpu eager"
                + (f", {rate / eager_rate:5.2f}x off" if mode != "off" and eager_rate else "")
                + f" (whole {a.steps}-step run {whole:.0f}, fixed {fixed:.2f} s)"
                + (f"   first step {info['first_step_s']:.2f} s" if "first_step_s" in info else "")
                + f"   {a.agree_steps} steps: max |loss - cpu| "
                  f"train {d_train:.1e} test {d_test:.1e} {'ok' if agree else 'FAIL'} (tol {TOLERANCE:g})")
        if mode == "reduce-overhead":
            if not device.startswith("cuda"):
                line += "   [no CUDA graphs on cpu: compiles as default]"
            elif cudagraph_skips() > skips:
                why = log.messages[seen:]
                line += f"   [CUDA graphs SKIPPED: {why[0][:200] if why else 'reason not logged'}]"
            else:
                line += "   [CUDA graphs on]"
        print(line, flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default), or cpu: a dry run of few steps")
    ap.add_argument("--steps", type=int, default=None, help="timed steps on the device (300; dry run 10)")
    ap.add_argument("--cpu-steps", type=int, default=None, help="timed steps on CPU eager (100; dry run 10)")
    ap.add_argument("--agree-steps", type=int, default=None, help="warm-up and agreement steps (20; dry run 5)")
    ap.add_argument("--modes", nargs="+", default=list(COMPILE_MODES), choices=COMPILE_MODES)
    ap.add_argument("--shapes", nargs="+", default=list(shapes()), choices=list(shapes()))
    a = ap.parse_args()
    dry = a.device == "cpu"
    if not dry and not torch.cuda.is_available():
        print(f"gpu_engine: no CUDA device here (torch {torch.__version__}); nothing measured. "
              "For a CPU dry run: python benchmarks/gpu_engine.py --device cpu --modes off")
        return
    a.steps, a.cpu_steps, a.agree_steps = (v or dv for v, dv in zip((a.steps, a.cpu_steps, a.agree_steps),
                                                                   ((10, 10, 5) if dry else (300, 100, 20))))
    if min(a.steps, a.cpu_steps) < 2:
        ap.error("--steps and --cpu-steps must be >= 2 (the rate is the difference of a long and a short run)")
    if dry:
        name = "cpu (DRY RUN: plumbing only, not evidence)"
    else:
        name = f"{torch.cuda.get_device_name(0)}, cuda {torch.version.cuda}"
    print(f"gpu_engine on {name}; torch {torch.__version__}; host {cpu_model()}, engine threads {engine.THREADS}; "
          f"fp32 matmul precision {torch.get_float32_matmul_precision()}; steps: timed {a.steps} (cpu {a.cpu_steps}),"
          f" agreement {a.agree_steps}; modes {' '.join(a.modes)}", flush=True)
    log = CudagraphLog()
    for logger in ("torch", "torch._inductor", "torch._inductor.cudagraph_trees"):  # torch's loggers do not propagate
        logging.getLogger(logger).addHandler(log)
    t0, ok = time.perf_counter(), True
    table = shapes()
    for name in a.shapes:
        spec, k = table[name]
        try:
            ok &= measure(name, spec, k, a.device, a, log)
        except Exception as e:      # the CPU reference itself failed
            print(f"{name:<13} K={k:<3} cpu eager {error(e)}", flush=True)
            ok = False
    print(f"gpu_engine: {'all runs agree' if ok else 'FAILED (see ERROR / FAIL lines)'} at tolerance {TOLERANCE:g}; "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
