"""A VGG for the paper profile (Santurkar et al. 2018, Fig. 1: a VGG on CIFAR-10 with and without BN), per seed
and batched over seeds with grouped convolutions.

    members = [vgg(VGGSpec(norm="bn"), seed) for seed in seeds]      # plain torch modules, one per seed
    batched = GroupedVGG(VGGSpec(norm="bn"), members)               # the same K networks as one module

GroupedVGG stacks the K members along the channel axis: member k's image batch fills input channels
3k..3k+2, every convolution has groups=K (member k's filters see only member k's channels), and a BatchNorm2d
over K*C channels normalizes each member's channel over that member's own batch, exactly as K separate BN
layers would, running statistics included. The classifier is a batched matmul. Each member keeps its own
data order, so one step of GroupedVGG is K independent SGD steps (tested against the per-seed loop in
tests/harness/test_vgg.py at float32 tolerances). This is how seeds share one GPU kernel per layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

CONFIGS = {       # channels per 3x3 conv, "M" a 2x2 max-pool (VGG-11 is Simonyan & Zisserman's configuration A)
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
}


@dataclass(frozen=True)
class VGGSpec:
    config: str = "vgg11"
    norm: str = "none"          # none | bn (BatchNorm2d after every convolution, before the ReLU)
    width: float = 1.0          # channel multiplier (the smoke profile and tests use small widths)
    classes: int = 10

    def channels(self) -> list:
        return [c if c == "M" else max(1, int(round(c * self.width))) for c in CONFIGS[self.config]]


def vgg(spec: VGGSpec, seed: int) -> nn.Sequential:
    """One member, initialized from its seed (torch's default initializers)."""
    if spec.norm not in ("none", "bn"):
        raise ValueError(f"VGG norm must be none or bn, got {spec.norm!r}")
    g = torch.random.fork_rng(devices=[])
    with g:
        torch.manual_seed(int(seed))
        layers, c_in = [], 3
        for c in spec.channels():
            if c == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            layers.append(nn.Conv2d(c_in, c, 3, padding=1, bias=spec.norm == "none"))
            if spec.norm == "bn":
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.ReLU())
            c_in = c
        layers += [nn.Flatten(), nn.Linear(c_in, spec.classes)]
        return nn.Sequential(*layers)


class GroupedVGG(nn.Module):
    """K members as one module: input [B, K, 3, 32, 32] (member k's batch at [:, k]), output [B, K, classes]."""

    def __init__(self, spec: VGGSpec, members: list):
        super().__init__()
        k = len(members)
        self.k, self.spec = k, spec
        layers = []
        for i, mod in enumerate(members[0]):
            if isinstance(mod, nn.Conv2d):
                conv = nn.Conv2d(k * mod.in_channels, k * mod.out_channels, 3, padding=1, groups=k,
                                 bias=mod.bias is not None)
                with torch.no_grad():
                    conv.weight.copy_(torch.cat([m[i].weight for m in members]))
                    if mod.bias is not None:
                        conv.bias.copy_(torch.cat([m[i].bias for m in members]))
                layers.append(conv)
            elif isinstance(mod, nn.BatchNorm2d):
                bn = nn.BatchNorm2d(k * mod.num_features)
                with torch.no_grad():
                    bn.weight.copy_(torch.cat([m[i].weight for m in members]))
                    bn.bias.copy_(torch.cat([m[i].bias for m in members]))
                    bn.running_mean.copy_(torch.cat([m[i].running_mean for m in members]))
                    bn.running_var.copy_(torch.cat([m[i].running_var for m in members]))
                layers.append(bn)
            elif isinstance(mod, (nn.ReLU, nn.MaxPool2d)):       # no parameters or state: shared as they are
                layers.append(mod)
            elif isinstance(mod, nn.Linear):
                self.fc_w = nn.Parameter(torch.stack([m[i].weight.detach().t() for m in members]).clone())
                self.fc_b = nn.Parameter(torch.stack([m[i].bias.detach() for m in members]).clone())
        self.features = nn.Sequential(*layers)

    def forward(self, x):                              # x [B, K, 3, H, W]
        b = x.shape[0]
        h = self.features(x.reshape(b, self.k * 3, *x.shape[-2:]))     # [B, K*C, 1, 1] after the last pool
        h = h.reshape(b, self.k, -1).transpose(0, 1)                   # [K, B, C]
        return (torch.bmm(h, self.fc_w) + self.fc_b[:, None]).transpose(0, 1)   # [B, K, classes]

    def member_weights(self, k: int) -> dict:
        """Member k's parameters under the per-seed module's names (to compare with the per-seed loop)."""
        out = {}
        for j, mod in enumerate(self.features):
            if isinstance(mod, nn.Conv2d):
                n = mod.out_channels // self.k
                out[f"{j}.weight"] = mod.weight[k * n:(k + 1) * n]
            elif isinstance(mod, nn.BatchNorm2d):
                n = mod.num_features // self.k
                out[f"{j}.weight"] = mod.weight[k * n:(k + 1) * n]
                out[f"{j}.running_mean"] = mod.running_mean[k * n:(k + 1) * n]
        out[f"{len(self.features) + 1}.weight"] = self.fc_w[k].t()     # after the features: Flatten, Linear
        return out


def step_losses(model, x, y):
    """Per-member mean cross-entropy of a batch: x [B, K, 3, H, W], y [B, K] -> [K]."""
    out = model(x)
    return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1),
                                       reduction="none").reshape(y.shape).mean(0)


def standardize(x_uint8, mean=None, std=None):
    """uint8 images [N, 3, H, W] -> float32 with per-channel mean 0 and sd 1 (mean/std: from the training set)."""
    x = torch.as_tensor(x_uint8).float().div_(255.0)
    if mean is None:
        mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True)
    return (x - mean) / std, mean, std


def batch_indices(n: int, batch: int, steps: int, seed: int) -> torch.Tensor:
    """[steps, batch] example indices of one member: epochs of a permutation drawn from the member's seed."""
    g = torch.Generator().manual_seed(int(seed))
    need = steps * batch
    perms = [torch.randperm(n, generator=g) for _ in range(-(-need // n))]
    return torch.cat(perms)[:need].reshape(steps, batch)


def train(spec: VGGSpec, seeds, x, y, *, steps: int, lr: float, batch: int = 128, momentum: float = 0.0,
          device: str = "cpu", batched: bool = True):
    """Train-loss curves [steps, K] of SGD on (x float [N, 3, H, W], y [N]), one data order per seed; batched:
    one GroupedVGG, else the per-seed loop (the same numbers, to float32 rounding). A diverged member's loss
    is a non-finite number, a measured outcome."""
    seeds = [int(s) for s in seeds]
    x, y = x.to(device), y.to(device)
    idx = torch.stack([batch_indices(len(x), batch, steps, s) for s in seeds], -1).to(device)   # [steps, B, K]
    losses = torch.empty(steps, len(seeds))
    if batched:
        model = GroupedVGG(spec, [vgg(spec, s) for s in seeds]).to(device).train()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        for t in range(steps):
            opt.zero_grad(set_to_none=True)
            lk = step_losses(model, x[idx[t]], y[idx[t]])         # x[idx[t]]: [B, K, 3, H, W]
            lk.sum().backward()
            opt.step()
            losses[t] = lk.detach().cpu()
        return losses
    for k, s in enumerate(seeds):
        model = vgg(spec, s).to(device).train()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        for t in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x[idx[t, :, k]]), y[idx[t, :, k]])
            loss.backward()
            opt.step()
            losses[t, k] = loss.detach().cpu()
    return losses
