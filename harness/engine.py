"""Training engines. `train_batched` trains K seeds of one MLP/DLN spec as one stacked model;
`train_reference` is the plain per-seed loop (nn.Module + torch.optim) that checks it and runs the CNN.

Both return (arrays, info): numpy arrays with a seed axis, and a JSON-safe info dict. A NaN or
inf loss stops that seed (recorded in `diverged_at`); it is an outcome, not an exception.
A spec with compile="default" (or "reduce-overhead") runs the batched engine's train step (forward, loss
and their backward) through torch.compile; evaluation, probes and the optimizer stay eager, and the
reference engine refuses it (it is the eager check).
Usage:  arrays, info = train_batched(TrainSpec(model=ModelSpec(norm="bn"), steps=500), seeds=[0, 1, 2])
"""
from __future__ import annotations

import ctypes
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import data, nets, norms, paths
from . import spec as spec_mod
from .spec import NOISY_NORMS, STATELESS_NORMS, TrainSpec
from .store import check_device, thread_setting

THREADS = thread_setting()          # BNCLAIMS_THREADS: a positive integer (default 1); SettingError names it otherwise
torch.set_num_threads(THREADS)      # 2 threads on a loaded 2-core box run up to 100x slower
# The batched engine can run on an accelerator (BNCLAIMS_DEVICE=cuda) for paper-scale budgets. Random
# draws (init, data order, noise) stay on CPU generators, so seeds mean the same on every device;
# the device is part of every run-store key, since its numbers differ in the last bits.
DEVICE = check_device()             # BNCLAIMS_DEVICE: cpu, cuda, cuda:N or mps, present on this machine (default cpu)

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the kernel.

    By default glibc serves a block above its mmap threshold (128 KiB, raised adaptively up to 32 MiB) with a fresh
    mapping and returns freed memory at the top of the heap to the kernel, so each step's activations, gradients
    and evaluation outputs of a few hundred KiB to tens of MiB fault their pages in anew: measured on this suite's
    MLPs, up to 70 % of an elementwise op's time and 30 % of a run's (a Dask nanny's MALLOC_TRIM_THRESHOLD_=65536
    makes it worse). Raising both thresholds keeps the blocks in the heap, where the next step reuses them. It
    changes no number. A no-op (False) where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4          # glibc's malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 1 << 30))


MALLOC_TUNED = keep_freed_memory()


# ----------------------------------------------------------------------------- optimizer
class StackedOptimizer:
    """SGD (optional momentum) and Adam over stacked parameters with a per-seed learning rate [K]."""

    def __init__(self, spec: TrainSpec):
        self.kind, self.momentum = spec.optimizer, spec.momentum
        self.state: dict[str, dict] = {}
        self.t = 0

    def deltas(self, params, grads, lr, *, commit: bool) -> dict:
        """The step each parameter would take now; `commit` also advances the optimizer state."""
        t = self.t + 1
        out = {}
        for name, g in grads.items():
            st = self.state.get(name, {})
            lr_b = lr.view(-1, *([1] * (g.dim() - 1)))
            if self.kind == "sgd":
                buf = g
                if self.momentum:
                    buf = g.clone() if "buf" not in st else st["buf"] * self.momentum + g
                    if commit:
                        st["buf"] = buf
                out[name] = -lr_b * buf
            else:
                b1, b2 = ADAM_BETAS
                m = g * (1 - b1) if "m" not in st else st["m"] * b1 + g * (1 - b1)
                v = g * g * (1 - b2) if "v" not in st else st["v"] * b2 + g * g * (1 - b2)
                if commit:
                    st["m"], st["v"] = m, v
                denom = v.sqrt() / math.sqrt(1 - b2 ** t) + ADAM_EPS
                out[name] = -(lr_b / (1 - b1 ** t)) * m / denom
            if commit:
                self.state[name] = st
        if commit:
            self.t = t
        return out

    def step_(self, params, grads, lr) -> None:
        """Take the step in place: what adding `deltas(..., commit=True)` does, bit for bit, as two multi-tensor ops
        for plain SGD (p <- p + (-lr) g, lr per member) instead of three ops per parameter."""
        if self.kind != "sgd" or self.momentum:
            for n, d in self.deltas(params, grads, lr, commit=True).items():
                params[n].add_(d)
            return
        names = list(grads)
        neg = -lr     # the arithmetic of deltas(): (-lr) g rounded, then added, so every number stays the same
        steps = torch._foreach_mul([grads[n] for n in names], [neg.view(-1, *([1] * (grads[n].dim() - 1))) for n in names])
        torch._foreach_add_([params[n] for n in names], steps)
        self.t += 1


# ----------------------------------------------------------------------------- helpers
def member_loss(task, out, y):
    """Per-seed mean loss [K] from outputs [K, B, C]."""
    k, b = out.shape[:2]
    if task == "regression":
        return (out - y).pow(2).sum(-1).mean(1)
    return F.cross_entropy(out.reshape(k * b, -1), y.reshape(k * b), reduction="none").view(k, b).mean(1)


def eval_loss(task, out, y):
    """member_loss without a gradient, as fast as the layout allows: the cross-entropy with the classes on axis 1,
    which for the net's output (a [K, B, C] view of its [K, C, B] activations) is the memory layout itself, runs 5x as
    fast as over a copied [K * B, C] matrix and gives the same losses bit for bit. (Training keeps member_loss: the
    two layouts' gradients differ in the last bits, and training amplifies such bits into other runs.)"""
    if task == "regression":
        return member_loss(task, out, y)
    return F.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(1)


def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    k, b = idx.shape
    return t.index_select(0, idx.reshape(-1)).view(k, b, *t.shape[1:])


def trainable_masks(spec: TrainSpec, net: nets.StackedNet, seeds) -> dict:
    """name -> None (train fully), False (frozen) or a 0/1 float mask [K, ...]."""
    last = net.n_layers - 1
    masks = {}
    for name in net.params:
        frozen = spec.freeze_output and net.layer_of(name) == last
        if spec.trainable == "bn_affine":
            frozen = frozen or not name.startswith(("g", "be"))
        elif spec.trainable == "random_linear":
            frozen = frozen or name.startswith(("g", "be", "b"))
        masks[name] = False if frozen else None
    if spec.trainable == "random_linear":
        n_affine = sum(2 * net.params[f"w{l}"].shape[1] for l in net.states)
        names = [n for n in net.params if n.startswith("w") and masks[n] is None]
        per_seed = [random_weight_mask([net.params[n].shape[1:] for n in names], n_affine, s) for s in seeds]
        for j, n in enumerate(names):
            masks[n] = torch.stack([ps[j] for ps in per_seed])
    return masks


def random_weight_mask(shapes, count: int, seed: int) -> list[torch.Tensor]:
    """`count` weights chosen uniformly among all entries of `shapes` ([out, in] layout), one seed."""
    sizes = [int(np.prod(s)) for s in shapes]
    if count > sum(sizes):
        raise ValueError("more trainable weights requested than the layers hold")
    flat = torch.zeros(sum(sizes))
    flat[torch.randperm(sum(sizes), generator=data.generator(seed, "mask"))[:count]] = 1.0
    return [c.view(*s) for c, s in zip(flat.split(sizes), shapes)]


# ----------------------------------------------------------------------------- train step (eager or compiled)
def train_step_losses(net: nets.StackedNet, params, xb, yb, noise, task):
    """The train-mode step before the gradient: per-seed losses [K] on xb [K, B, D], updating the norms'
    running statistics. torch.compile'd as a whole when a spec asks for it."""
    return member_loss(task, net.forward(params, xb, train=True, update=True, noise=noise), yb)


_COMPILED: dict = {}
# Each spec shape (K, batch, widths, norm, ...) is one more compiled variant of train_step_losses; torch's
# default of 8 would let a long session silently fall back to eager.
RECOMPILE_LIMIT = 256


def compiled_train_step(mode: str):
    """train_step_losses under torch.compile(mode) (a spec's validated COMPILE_MODES entry other than "off"), one
    wrapper per mode per process (a Dask worker keeps it across runs). Kernels are cached on disk
    (harness.paths.inductor_cache_dir unless $TORCHINDUCTOR_CACHE_DIR is set), so a fresh process pays only the
    tracing for a shape compiled before; torch's FX graph and AOTAutograd caches are on by default."""
    if mode not in _COMPILED:
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(paths.inductor_cache_dir()))
        import torch._dynamo
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
        # dynamic=False: one specialised graph per shape; a run's shapes never change from step to step
        _COMPILED[mode] = torch.compile(train_step_losses, mode=None if mode == "default" else mode, dynamic=False)
    return _COMPILED[mode]


# ----------------------------------------------------------------------------- batched engine
def train_batched(spec: TrainSpec, seeds, lrs=None, device=None):
    """Train len(seeds) members of one spec as one stacked model. `lrs` (optional) gives each member
    its own learning rate, e.g. an LR grid as one ensemble. Returns (arrays, info)."""
    t0 = time.perf_counter()
    dev = torch.device(device or DEVICE)
    seeds = [int(s) for s in seeds]
    ds = data.to_device(data.with_validation(data.load(spec.data, spec.data_seed), spec.val_rows), dev)
    m, k = spec.model, len(seeds)
    net = nets.StackedNet(m, ds.x.shape[1], ds.n_out, seeds).to(dev)
    names = list(net.params)
    masks = {n: v.to(dev) if torch.is_tensor(v) else v for n, v in trainable_masks(spec, net, seeds).items()}
    train_names = [n for n in names if masks[n] is not False]
    opt = StackedOptimizer(spec)
    lr = torch.tensor(lrs if lrs is not None else [spec.lr] * k, dtype=torch.float32, device=dev)
    if lr.shape != (k,):
        raise ValueError("lrs must give one learning rate per seed")
    n_train = ds.x.shape[0]
    bs = spec.batch_size or n_train
    order = data.StackedOrder(n_train, spec.batch_size, seeds)
    noise_layers = net.noise_layers()
    noise_gens = [data.generator(s, "noise") for s in seeds] if noise_layers else None
    probe = Prober(spec, net, ds, seeds) if spec.probes else None
    step_losses = train_step_losses if spec.compile == "off" else compiled_train_step(spec.compile)
    first_step_s = None

    train_loss = torch.full((spec.steps, k), float("nan"), device=dev)
    diverged = torch.full((k,), -1, dtype=torch.long, device=dev)
    alive = torch.ones(k, dtype=torch.bool, device=dev)
    masked = [n for n in train_names if masks[n] is not None]
    evals = []
    for t in range(spec.steps):
        if t % spec.eval_every == 0:
            evals.append((t, evaluate(net, net.params, ds)))
        idx = order.next().to(dev)
        xb, yb = _gather(ds.x, idx), _gather(ds.y, idx)
        noise = _draw_noise(noise_gens, noise_layers, bs, m.width, m.noise, dev) if noise_layers else None
        t_step = time.perf_counter()
        losses = step_losses(net, net.params, xb, yb, noise, ds.task)
        grads = dict(zip(train_names, torch.autograd.grad(losses.sum(), [net.params[n] for n in train_names])))
        if first_step_s is None:    # compiled: tracing and compiling (or loading from the disk cache) happen here
            first_step_s = time.perf_counter() - t_step
        with torch.no_grad():
            train_loss[t] = losses.detach()
            finite = torch.isfinite(losses)
            if not bool(finite.all()) and bool((alive & ~finite).any()):
                diverged[alive & ~finite] = t
                alive &= finite
                lr = torch.where(alive, lr, torch.zeros_like(lr))
            for n in masked:
                grads[n] = grads[n] * masks[n]
            if not bool(alive.all()):   # a diverged seed trains on with lr 0; its NaN gradients must not spread
                for n in train_names:
                    grads[n] = torch.nan_to_num(grads[n], nan=0.0, posinf=0.0, neginf=0.0)
        if probe is not None and probe.due(t):
            probe.at_step(t, xb, yb, noise, losses.detach(), grads, opt, lr)
        with torch.no_grad():
            opt.step_(net.params, grads, lr)
    evals.append((spec.steps, evaluate(net, net.params, ds)))

    diverged = diverged.cpu()
    arrays = _eval_arrays(evals, alive_mask=_alive_after(diverged, [e[0] for e in evals]))
    arrays.update(seeds=np.array(seeds), lr=lr_array(spec, lrs, k), train_loss=_np(train_loss),
                  diverged_at=diverged.numpy())
    if spec.val_rows:       # final logits (eval mode) for calibration on the validation split
        with torch.no_grad():
            for split, x in (("val", ds.x_val), ("test", ds.x_test)):
                arrays[f"final_{split}_logits"] = _np(net.forward(net.params, x.unsqueeze(0).expand(k, -1, -1),
                                                                  train=False))
        for split, y in (("val", ds.y_val), ("test", ds.y_test)):
            arrays[f"final_{split}_labels"] = _np(y).reshape(1, -1).repeat(k, 0)
    for l, st in net.states.items():   # running statistics (LayerNorm, GroupNorm keep none), final affine parameters
        if m.norm not in STATELESS_NORMS:
            arrays[f"running_mean{l}"] = _np(st.mean.view(k, -1))
        if m.norm not in STATELESS_NORMS + ("wn_mobn",):
            arrays[f"running_var{l}"] = _np(st.var.view(k, -1))
        if f"g{l}" in net.params:
            arrays[f"gamma{l}"] = _np(net.params[f"g{l}"])
            arrays[f"beta{l}"] = _np(net.params[f"be{l}"])
    if probe is not None:
        arrays.update(probe.arrays())
    info = {"engine": "batched", "seeds": seeds, "wall_s": round(time.perf_counter() - t0, 3),
            "threads": torch.get_num_threads(), "device": str(dev), "diverged": int((diverged >= 0).sum())}
    if spec.compile != "off":
        info.update(compile=spec.compile, first_step_s=round(first_step_s or 0.0, 3))
    return arrays, info


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def lr_array(spec, lrs, k):
    return np.array(lrs if lrs is not None else [spec.lr] * k, dtype=np.float64)


def _alive_after(diverged, steps):
    d = diverged.numpy()
    return np.array([[(dk < 0) or (s <= dk) for dk in d] for s in steps])


def _eval_arrays(evals, alive_mask):
    out = {"eval_step": np.array([e[0] for e in evals])}
    for key in evals[0][1]:
        v = np.stack([e[1][key] for e in evals]).astype(np.float64)
        v[~alive_mask] = np.nan
        out["eval_" + key] = v
    return out


def _draw_noise(gens, layers, b, h, cfg, dev):
    """Each seed draws its own noise from its own (CPU) generator: [K, 2, B, H] per noisy layer."""
    per_seed = torch.stack([norms.draw_noise(g, len(layers), b, h, cfg) for g in gens]).to(dev)
    return {l: per_seed[:, j] for j, l in enumerate(layers)}


EVAL_CHUNK_FLOATS = 1 << 19     # rows per evaluation chunk: about 2 MiB of one layer's activations, all K members


def eval_rows(k: int, width: int) -> int:
    """Rows an evaluation forward pass takes at a time: one layer's [K, width, rows] activations stay in the
    cache and in reused heap blocks (a whole 4,000-row split of 54 members is 110 MB a layer)."""
    return max(64, EVAL_CHUNK_FLOATS // max(1, k * width))


@torch.no_grad()
def evaluate(net: nets.StackedNet, params, ds: data.Dataset) -> dict:
    """Full train and test set in eval mode (running statistics), per seed: the mean loss and accuracy over each
    split, summed over chunks of rows (eval mode treats every row alone, so chunks change no logit)."""
    out = {}
    rows = eval_rows(net.k, net.m.width)
    for split, x, y in _splits(ds):
        n = x.shape[0]
        loss = torch.zeros(net.k, dtype=torch.float64, device=x.device)
        hits = torch.zeros(net.k, dtype=torch.float64, device=x.device)
        for a in range(0, n, rows):
            xc, yc = x[a:a + rows], y[a:a + rows]
            o = net.forward(params, xc.unsqueeze(0).expand(net.k, -1, -1), train=False)
            yk = yc.unsqueeze(0).expand(net.k, *yc.shape)
            loss += eval_loss(ds.task, o, yk).double() * xc.shape[0]
            if ds.task == "classification":
                hits += (o.argmax(-1) == yk).sum(1).double()
        out[f"{split}_loss"] = _np((loss / n).float())
        out[f"{split}_acc"] = _np((hits / n).float()) if ds.task == "classification" else np.full(net.k, np.nan)
    return out


def _splits(ds):
    out = [("train", ds.x, ds.y), ("test", ds.x_test, ds.y_test)]
    return out + ([("val", ds.x_val, ds.y_val)] if ds.x_val is not None else [])


def unit_moments(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and biased variance of z [K, H, P] over its last axis, [K, H] each, in two passes (mean, then the mean
    square deviation). torch.var and var_mean take 8-12x as long on these shapes on CPU."""
    mean = z.mean(2)
    return mean, (z - mean.unsqueeze(2)).pow(2).mean(2)


def layer_moments(zs) -> tuple[torch.Tensor, torch.Tensor]:
    """unit_moments of each layer's z [K, H, P], stacked on axis 1: (mean, biased variance) [K, L, H]."""
    mv = [unit_moments(z) for z in zs]
    return torch.stack([m for m, _ in mv], 1), torch.stack([v for _, v in mv], 1)


# ----------------------------------------------------------------------------- probes
PROBES = spec_mod.PROBES


class Prober:
    """Measurements at chosen steps that leave training untouched: BN running statistics are not
    updated (train-mode batch statistics, update=False) and paired evaluations reuse the step's noise.

    ics       Santurkar Def. 2.1: G at theta; G' with layers before i moved by the optimizer's actual step;
              also how far that step moves them, |d theta_<i| / |theta_<i|.
    drift     moments of each hidden layer's input to the nonlinearity (and of the pre-norm input) on a
              fixed probe batch; step-to-step change is Ioffe's distributional shift. Also 15/50/85th
              percentiles of unit 0 of the last hidden layer (Ioffe Fig. 1b,c).
    landscape Santurkar Fig. 4: loss and gradient at theta - eta g for eta in lr x landscape_factors.
    landscape_eff  the same along g with steps in effective-learning-rate units: a weight matrix that a
              normalizer makes scale-invariant steps by eta (|W_t| / |W_0|)^2, so its effective step
              (eta / |W|^2) stays at its initial value while |W| grows; other parameters step by eta.
    """

    def __init__(self, spec, net, ds, seeds):
        unknown = set(spec.probes) - set(PROBES)
        if unknown:
            raise ValueError(f"unknown probes {sorted(unknown)}; choose from {PROBES}")
        self.spec, self.net, self.ds = spec, net, ds
        self.rows: dict[str, list] = {}
        self.steps: list[int] = []
        self.layers = [int(i) for i in spec.probe_layers] or list(range(net.hidden))
        pb = min(spec.probe_batch, ds.x.shape[0])
        self.xp = ds.x[:pb].unsqueeze(0).expand(net.k, -1, -1)
        self.gens = [data.generator(s, "probe") for s in seeds]
        inv = net.m.norm in spec_mod.SCALE_INVARIANT_NORMS     # the initial norms (the Prober exists before step 0)
        self.w0 = {f"w{l}": net.params[f"w{l}"].detach().flatten(1).norm(dim=1).clamp_min(1e-30)
                   for l in net.states} if inv else {}

    def due(self, t):
        s = self.spec
        return t % s.probe_every == 0 and (s.probe_until == 0 or t < s.probe_until)

    def _add(self, key, value):
        self.rows.setdefault(key, []).append(_np(value).astype(np.float32))

    def _loss_grads(self, params, xb, yb, noise, wrt):
        with torch.enable_grad():
            out = self.net.forward(params, xb, train=True, update=False, noise=noise)
            losses = member_loss(self.ds.task, out, yb)
            gs = torch.autograd.grad(losses.sum(), [params[n] for n in wrt])
        return losses.detach(), dict(zip(wrt, gs))

    def at_step(self, t, xb, yb, noise, loss, grads, opt, lr):
        self.steps.append(t)
        params = {n: p.detach().requires_grad_(True) for n, p in self.net.params.items()}
        if "ics" in self.spec.probes:
            delta = opt.deltas(params, grads, lr, commit=False)
            cos, rel, move = [], [], []
            for i in self.layers:
                before = [n for n in delta if self.net.layer_of(n) < i]     # |d theta_<i| / |theta_<i| per seed
                if before:
                    dn = torch.stack([delta[n].flatten(1).pow(2).sum(1) for n in before]).sum(0).sqrt()
                    pn = torch.stack([params[n].detach().flatten(1).pow(2).sum(1) for n in before]).sum(0).sqrt()
                    move.append(dn / pn.clamp_min(1e-30))
                else:
                    move.append(torch.zeros(self.net.k, device=grads[f"w{i}"].device))
                mixed = {n: (p + delta[n] if n in delta and self.net.layer_of(n) < i else p).detach().requires_grad_(True)
                         for n, p in params.items()}
                _, g2 = self._loss_grads(mixed, xb, yb, noise, [f"w{i}"])
                g1, g2 = grads[f"w{i}"].flatten(1), g2[f"w{i}"].flatten(1)
                cos.append(F.cosine_similarity(g1, g2, dim=1, eps=1e-30))
                rel.append((g1 - g2).norm(dim=1) / g1.norm(dim=1).clamp_min(1e-30))
            self._add("ics_cos", torch.stack(cos, 1))
            self._add("ics_rel", torch.stack(rel, 1))
            self._add("ics_move", torch.stack(move, 1))
        if "landscape" in self.spec.probes:
            self._landscape(params, xb, yb, noise, loss, grads, lr)
        if "landscape_eff" in self.spec.probes:
            self._landscape_eff(params, xb, yb, noise, loss, grads, lr)
        if "drift" in self.spec.probes:
            self._drift()

    def _along_gradient(self, params, xb, yb, noise, loss, grads, step):
        """[K, F] each: the loss at theta - delta, |g(theta - delta) - g| / |g|, and the loss minus its
        first-order prediction L(theta) - <g, delta>, for each landscape factor f, with (delta, <g, delta>) =
        step(f, |g|)."""
        names = list(grads)
        gflat = torch.cat([grads[n].flatten(1) for n in names], 1)
        gnorm = gflat.norm(dim=1).clamp_min(1e-30)
        losses, dg, first_order = [], [], []
        for f in self.spec.landscape_factors:
            delta, lin = step(f, gnorm)
            moved = {n: (p - delta[n] if n in delta else p).detach().requires_grad_(True) for n, p in params.items()}
            l2, g2 = self._loss_grads(moved, xb, yb, noise, names)
            d = (torch.cat([g2[n].flatten(1) for n in names], 1) - gflat).norm(dim=1)
            losses.append(l2)
            dg.append(d / gnorm)
            first_order.append(l2 - (loss - lin))
        return torch.stack(losses, 1), torch.stack(dg, 1), torch.stack(first_order, 1)

    @staticmethod
    def _times(per_member, g):
        """per_member [K] x g [K, ...], member by member."""
        return per_member.view(-1, *([1] * (g.dim() - 1))) * g

    def _landscape(self, params, xb, yb, noise, loss, grads, lr):
        def step(f, gnorm):                   # theta - eta g: the first-order decrease is eta |g|^2
            eta = lr * f
            return {n: self._times(eta, g) for n, g in grads.items()}, eta * gnorm ** 2

        L, D, fo = self._along_gradient(params, xb, yb, noise, loss, grads, step)
        etas = torch.stack([lr * f for f in self.spec.landscape_factors], 1)
        self._add("land_loss_range", L.amax(1) - L.amin(1))
        self._add("land_grad_pred", D.amax(1))
        self._add("land_beta_eff", (D / etas).amax(1))      # max |g(theta - eta g) - g| / |eta g|
        self._add("land_fo_range", fo.amax(1) - fo.amin(1))
        self._add("land_loss", L)

    def _landscape_eff(self, params, xb, yb, noise, loss, grads, lr):
        scale = {n: (params[n].detach().flatten(1).norm(dim=1) / w0).pow(2) for n, w0 in self.w0.items() if n in grads}
        ones = torch.ones_like(lr)

        def step(f, gnorm):                   # scale-invariant weights step by eta (|W_t| / |W_0|)^2 g
            delta = {n: self._times((lr * f) * scale.get(n, ones), g) for n, g in grads.items()}
            return delta, torch.stack([(grads[n] * delta[n]).flatten(1).sum(1) for n in grads]).sum(0)

        L, D, fo = self._along_gradient(params, xb, yb, noise, loss, grads, step)
        self._add("land_eff_loss_range", L.amax(1) - L.amin(1))
        self._add("land_eff_fo_range", fo.amax(1) - fo.amin(1))
        self._add("land_eff_grad_pred", D.amax(1))
        self._add("land_eff_scale", torch.stack(list(scale.values())).mean(0) if scale else ones)

    @torch.no_grad()
    def _drift(self):
        net = self.net
        noise = None
        if net.noise_layers():
            noise = _draw_noise(self.gens, net.noise_layers(), self.xp.shape[1], net.m.width, net.m.noise,
                                self.xp.device)
        rec = []
        net.forward(net.params, self.xp, train=True, update=False, noise=noise, record=rec)
        for i, name in ((0, "pre"), (1, "post")):     # per layer [K, P, H] views of the net's [K, H, P] activations
            mean, var = layer_moments(r[i].transpose(1, 2) for r in rec)
            self._add(f"{name}_mean", mean)           # [K, L, H]
            self._add(f"{name}_var", var)
        q = torch.tensor([0.15, 0.5, 0.85], device=self.xp.device)
        self._add("pct_last_unit0", torch.quantile(rec[-1][1][:, :, 0], q, dim=1).T)

    def arrays(self) -> dict:
        out = {"probe_step": np.array(self.steps, dtype=np.int64)}
        for key, rows in self.rows.items():
            out["probe_" + key] = np.stack(rows)
        return out


# ----------------------------------------------------------------------------- reference engine
def train_reference(spec: TrainSpec, seeds):
    """Per-seed loop with nn.Modules and torch.optim; same init, data order and noise as the batched engine."""
    if spec.compile != "off":
        raise ValueError(f"compile={spec.compile!r} is for the batched engine; the reference engine is the eager "
                         "check (run it with compile='off')")
    t0 = time.perf_counter()
    runs = [_train_one_reference(spec, int(s)) for s in seeds]
    arrays = {key: np.stack([r[key] for r in runs], -1 if key.startswith(("eval_", "train_")) else 0)
              for key in runs[0] if key != "eval_step"}
    arrays["eval_step"] = runs[0]["eval_step"]
    arrays["seeds"] = np.array([int(s) for s in seeds])
    arrays["lr"] = lr_array(spec, None, len(seeds))
    info = {"engine": "reference", "seeds": [int(s) for s in seeds], "wall_s": round(time.perf_counter() - t0, 3),
            "threads": torch.get_num_threads(), "diverged": int((arrays["diverged_at"] >= 0).sum())}
    return arrays, info


def _train_one_reference(spec: TrainSpec, seed: int) -> dict:
    ds = data.with_validation(data.load(spec.data, spec.data_seed), spec.val_rows)
    m = spec.model
    model = nets.reference_model(m, ds.x.shape[1], ds.n_out, seed)
    lossf = nets.loss_fn(ds.task)
    params = _reference_trainable(spec, model, seed)
    if spec.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum)
    else:
        opt = torch.optim.Adam(params, lr=spec.lr, betas=ADAM_BETAS, eps=ADAM_EPS)
    masks = getattr(model, "_bnclaims_masks", {})
    order = data.BatchOrder(ds.x.shape[0], spec.batch_size, seed)
    noisy = [mod for mod in model.modules() if isinstance(mod, nets._StackedNormModule) and m.norm in NOISY_NORMS]
    gen = data.generator(seed, "noise") if noisy else None
    bs = spec.batch_size or ds.x.shape[0]
    train_loss = np.full(spec.steps, np.nan)
    evals, diverged = [], -1
    for t in range(spec.steps):
        if t % spec.eval_every == 0:
            evals.append((t, _evaluate_module(model, ds)))
        idx = order.next()
        xb, yb = ds.x.index_select(0, idx), ds.y.index_select(0, idx)
        if noisy:
            noise = norms.draw_noise(gen, len(noisy), bs, m.width, m.noise)
            for j, mod in enumerate(noisy):
                mod.noise = noise[j]
        model.train()
        loss = lossf(model(xb), yb)
        train_loss[t] = float(loss.detach())
        if not math.isfinite(train_loss[t]):
            diverged = t
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for p, mask in masks.items():
            p.grad.mul_(mask)
        opt.step()
    evals.append((spec.steps, _evaluate_module(model, ds) if diverged < 0 else None))
    # Every seed reports the same checkpoints (as the batched engine does); after divergence they are NaN.
    steps = list(range(0, spec.steps, spec.eval_every)) + [spec.steps]
    done = dict(evals)
    out = {"eval_step": np.array(steps), "diverged_at": np.array(diverged)}
    for key in evals[0][1]:
        out["eval_" + key] = np.array([done[t][key] if done.get(t) is not None else np.nan for t in steps],
                                      dtype=np.float64)
    if spec.val_rows:
        with torch.no_grad():
            model.eval()
            for split, x in (("val", ds.x_val), ("test", ds.x_test)):
                out[f"final_{split}_logits"] = (model(x).numpy().copy() if diverged < 0
                                                else np.full((x.shape[0], ds.n_out), np.nan, np.float32))
            for split, y in (("val", ds.y_val), ("test", ds.y_test)):
                out[f"final_{split}_labels"] = y.numpy().copy()
    out["train_loss"] = train_loss
    norm_mods = [mod for mod in model.modules()
                 if isinstance(mod, (torch.nn.BatchNorm1d, nets._StackedNormModule, nets.MeanOnlyBatchNorm1d))]
    for l, mod in zip(spec.model.norm_layers or range(len(norm_mods)), norm_mods):
        stacked = isinstance(mod, nets._StackedNormModule)
        rm, rv = (mod.state.mean, mod.state.var) if stacked else (mod.running_mean, getattr(mod, "running_var", None))
        out[f"running_mean{l}"] = rm.numpy().copy()
        if rv is not None:
            out[f"running_var{l}"] = rv.numpy().copy()
    return out


def _reference_trainable(spec, model, seed):
    """Parameters handed to the optimizer, honouring freeze_output and the trainable mode."""
    linears = [mod for mod in model.modules() if isinstance(mod, torch.nn.Linear)]
    norms_ = [mod for mod in model.modules()
              if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.LayerNorm, torch.nn.GroupNorm, nets._StackedNormModule))]
    frozen = set()
    if spec.freeze_output:
        frozen |= {id(p) for p in linears[-1].parameters()}
    if spec.trainable == "bn_affine":
        keep = {id(p) for mod in norms_ for p in mod.parameters()}
        frozen |= {id(p) for p in model.parameters() if id(p) not in keep}
    elif spec.trainable == "random_linear":
        ws = [lin.weight for lin in linears if id(lin.weight) not in frozen]
        count = sum(2 * mod.weight.shape[0] for mod in norms_ if getattr(mod, "weight", None) is not None)
        masks = random_weight_mask([tuple(w.shape) for w in ws], count, seed)
        model._bnclaims_masks = dict(zip(ws, masks))
        frozen |= {id(p) for p in model.parameters() if p.dim() == 1}
    return [p for p in model.parameters() if id(p) not in frozen]


@torch.no_grad()
def _evaluate_module(model, ds) -> dict:
    model.eval()
    lossf = nets.loss_fn(ds.task)
    out = {}
    for split, x, y in _splits(ds):
        o = model(x)
        out[f"{split}_loss"] = float(lossf(o, y))
        out[f"{split}_acc"] = float((o.argmax(-1) == y).float().mean()) if ds.task == "classification" else float("nan")
    return out


def train(spec: TrainSpec, seeds, engine: str = "batched", lrs=None, device=None):
    if engine == "batched":
        return train_batched(spec, seeds, lrs=lrs, device=device)
    if engine == "reference":
        if lrs is not None:
            raise ValueError("per-seed learning rates need the batched engine")
        return train_reference(spec, seeds)
    raise ValueError(f"unknown engine {engine!r}; choose batched or reference")
