"""The paper profile's run: a VGG-11 on CIFAR-10 (Santurkar et al. 2018, App. A.1: plain SGD, batch 128, no
augmentation), K seeds trained as one GroupedVGG (harness.vgg), from the user's folder (harness.userdata).

Probes, every probe_every steps on the current training batch, before the step (Santurkar App. A.2.2, Def. 2.1):
- landscape: the loss at theta - eta g for eta in lr x probe_factors; the range max - min over eta;
- gradient predictiveness: max over eta of |grad L(theta - eta g) - g|; effective beta-smoothness: max over eta of
  that difference over |eta g|;
- gradient ICS of conv layer i (1-based among the convolutions): G, the gradient of its weight, against G', the
  same gradient after every layer before it took this step's SGD update (same batch); cos(G, G') and |G - G'|.
A probe moves no weight and no BN running statistic (both are restored). Every probe quantity is per member.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import userdata, vgg
from .steps import diverged_at


def run(settings: dict, seeds: list[int]) -> dict[str, np.ndarray]:
    """settings: norm (none | bn), lr, steps, batch, width, probe_every, probe_factors, probe_layers, eval_every,
    eval_rows (training rows whose accuracy is evaluated), data_sha256 and _data_dir (harness.runner).
    Not compiled: torch.compile of this grouped-convolution step disagreed with eager on CPU for every member
    but the first (train loss off by 1e-2 after one step, torch 2.13), so --compile leaves it eager."""
    s, seeds = settings, [int(sd) for sd in seeds]
    from .. import engine  # one torch thread, the run's device
    dev = torch.device(engine.DEVICE)
    xtr, ytr, xte, yte = _data(s["_data_dir"], s["data_sha256"])
    xtr, ytr, xte, yte = xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev)
    spec = vgg.VGGSpec(norm=s["norm"], width=float(s["width"]))
    k, steps, lr = len(seeds), int(s["steps"]), float(s["lr"])
    model = vgg.GroupedVGG(spec, [vgg.vgg(spec, sd) for sd in seeds]).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    idx = torch.stack([vgg.batch_indices(len(xtr), int(s["batch"]), steps, sd) for sd in seeds], -1).to(dev)
    prober = _Prober(model, lr, s["probe_factors"], s["probe_layers"], k)
    train_loss = torch.full((steps, k), float("nan"))
    rows = int(s["eval_rows"]) or None                 # training rows whose accuracy is evaluated (None: all)
    evals = []
    for t in range(steps):
        if t % int(s["eval_every"]) == 0:
            evals.append((t, _evaluate(model, xtr[:rows], ytr[:rows], xte, yte)))
        xb, yb = xtr[idx[t]], ytr[idx[t]]             # [B, K, 3, 32, 32], [B, K]
        opt.zero_grad(set_to_none=True)
        losses = vgg.step_losses(model, xb, yb)
        losses.sum().backward()
        train_loss[t] = losses.detach().cpu()
        if int(s["probe_every"]) and t % int(s["probe_every"]) == 0:
            prober.at_step(t, xb, yb)
        with torch.no_grad():                          # a diverged member must not feed NaN into the step
            for p in model.parameters():
                if p.grad is not None:
                    torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        opt.step()
    evals.append((steps, _evaluate(model, xtr[:rows], ytr[:rows], xte, yte)))
    curve = train_loss.numpy()
    diverged = diverged_at(curve)
    arrays = {"seeds": np.array(seeds), "train_loss": curve, "diverged_at": diverged,
              "eval_step": np.array([e[0] for e in evals], dtype=np.int64)}
    for name in evals[0][1]:
        v = np.stack([e[1][name] for e in evals])                         # [E, K]
        gone = (diverged >= 0)[None, :] & (arrays["eval_step"][:, None] > np.maximum(diverged, 0)[None, :])
        arrays[f"eval_{name}"] = np.where(gone, np.nan, v)                 # a diverged member has no accuracy
    arrays.update(prober.arrays())
    return arrays


_DATA: dict = {}


def _data(folder: str, sha: str):
    """Standardized CIFAR-10 tensors (per-channel statistics of the training set), once per process and folder;
    the folder's digest must be the one the run is keyed by."""
    if (folder, sha) not in _DATA:
        xtr, ytr, xte, yte = userdata.load_keyed(userdata.CIFAR10, folder, sha)
        xtr, mean, std = vgg.standardize(xtr)
        xte, _, _ = vgg.standardize(xte, mean, std)
        _DATA.clear()
        _DATA[(folder, sha)] = (xtr, torch.as_tensor(ytr), xte, torch.as_tensor(yte))
    return _DATA[(folder, sha)]


@torch.no_grad()
def _evaluate(model, xtr, ytr, xte, yte, chunk: int = 500) -> dict:
    """Eval-mode (running statistics) loss and accuracy of every member on the given rows: {name: [K]}."""
    model.eval()
    out = {}
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        loss, right = torch.zeros(model.k), torch.zeros(model.k)
        for i in range(0, len(x), chunk):
            xb = x[i:i + chunk].unsqueeze(1).expand(-1, model.k, -1, -1, -1)
            logits = model(xb)                                             # [B, K, classes]
            yb = y[i:i + chunk].unsqueeze(1).expand(-1, model.k)
            loss += nn.functional.cross_entropy(logits.transpose(1, 2), yb, reduction="none").sum(0).cpu()
            right += (logits.argmax(-1) == yb).sum(0).cpu()
        out[f"{split}_loss"], out[f"{split}_acc"] = (loss / len(x)).numpy(), (right / len(x)).numpy()
    model.train()
    return out


class _Prober:
    def __init__(self, model, lr, factors, layers, k):
        self.model, self.lr, self.k = model, float(lr), k
        self.factors = [float(f) for f in factors]
        convs = [i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
        self.params = list(model.parameters())
        # the parameters of layer i and of the layers before it, by position in model.parameters()
        owner = {id(p): j for j, m in enumerate(model.features) for p in m.parameters(recurse=False)}
        self.ics = {}
        for i in layers:
            j = convs[int(i) - 1]
            self.ics[int(i)] = (model.features[j].weight, [p for p in self.params if owner.get(id(p), 1 << 30) < j])
        self.steps, self.out = [], {}

    def _norm(self, tensors) -> torch.Tensor:
        """Per-member l2 norm of a list of parameter-shaped tensors (member k's slice is row block k)."""
        return torch.sqrt(sum(t.reshape(self.k, -1).double().pow(2).sum(1) for t in tensors)).float()

    def _grads(self, xb, yb, wrt):
        losses = vgg.step_losses(self.model, xb, yb)
        return losses.detach(), torch.autograd.grad(losses.sum(), wrt)

    def at_step(self, t, xb, yb):
        m = self.model
        g = [p.grad.detach().clone() for p in self.params]
        saved = [p.detach().clone() for p in self.params]
        buffers = [b.clone() for b in m.buffers()]
        gnorm = self._norm(g)
        losses, diffs, betas = [], [], []
        for f in self.factors:
            eta = f * self.lr
            with torch.no_grad():
                for p, p0, gp in zip(self.params, saved, g):
                    p.copy_(p0 - eta * gp)
            loss, ge = self._grads(xb, yb, self.params)
            d = self._norm([a - b for a, b in zip(ge, g)])
            losses.append(loss.cpu())
            diffs.append(d.cpu())
            betas.append((d / (eta * gnorm)).cpu())
        ics = {}
        for i, (w, before) in self.ics.items():
            with torch.no_grad():
                for p, p0, gp in zip(self.params, saved, g):
                    p.copy_(p0 - self.lr * gp if any(p is q for q in before) else p0)
            _, (g_after,) = self._grads(xb, yb, [w])
            g_now = g[next(n for n, p in enumerate(self.params) if p is w)]
            a, b = g_now.reshape(self.k, -1).double(), g_after.reshape(self.k, -1).double()
            cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
            ics[i] = (cos.float().cpu(), (a - b).norm(dim=1).float().cpu())
        with torch.no_grad():
            for p, p0 in zip(self.params, saved):
                p.copy_(p0)
            for b, b0 in zip(m.buffers(), buffers):
                b.copy_(b0)
        L = torch.stack(losses)
        self.steps.append(t)
        self._add("probe_land_loss_range", (L.max(0).values - L.min(0).values).numpy())
        self._add("probe_grad_pred", torch.stack(diffs).max(0).values.numpy())
        self._add("probe_beta_eff", torch.stack(betas).max(0).values.numpy())
        for i, (cos, l2) in ics.items():
            self._add(f"probe_ics_cos{i}", cos.numpy())
            self._add(f"probe_ics_l2{i}", l2.numpy())

    def _add(self, key, value):
        self.out.setdefault(key, []).append(value)

    def arrays(self) -> dict:
        out = {"probe_step": np.array(self.steps, dtype=np.int64)}
        out.update({k: np.stack(v) for k, v in self.out.items()})
        return out
