"""C3: BN's affine parameters can give back the original distribution; with them a layer's mean and
spread are set by two parameters (beta, gamma) rather than by every layer below it.

C3.a and C3.b are exact properties of the BN transform, checked deterministically over many cases.
"""
from __future__ import annotations

import itertools

import numpy as np

from harness import checks
from harness.hypothesis import Budget, Claim, Hypothesis

F32_EPS = float(np.finfo(np.float32).eps)

C3A = Hypothesis(
    id="C3.a", claim="C3", title="BN can represent the identity",
    statement="With gamma = sqrt(batch variance + eps) and beta = batch mean, a BN layer in training mode "
              "returns its input unchanged up to float32 rounding; with gamma = batch std (no eps) the "
              "deviation stays within the eps-derived bound eps/(2 sigma^2) |x - mu|.",
    source="Ioffe & Szegedy 2015, Sec. 3 (the identity-transform argument); Santurkar et al. 2018, Obs. 4.3",
    stance="supports",
    metric="max |BN(x) - x| over units and samples, relative to the batch scale |mu| + sigma; one value per case "
           "(input distribution x batch size x width)",
    arms=("cases",), direction="deterministic", test="deterministic",
    budgets={"smoke": Budget(seeds=1), "ci": Budget(seeds=1), "full": Budget(seeds=1)},
    notes="Exact recovery needs each mini-batch's own statistics; constant gamma, beta learned in training "
          "cannot follow batch-to-batch fluctuation (see the negative control).")

C3B = Hypothesis(
    id="C3.b", claim="C3", title="two parameters set the moments",
    statement="For z = BN(Linear(u)), the batch mean of every unit equals beta and its standard deviation equals "
              "|gamma| sigma / sqrt(sigma^2 + eps), whatever rescaling or shift is applied to the upstream "
              "weights; the gradient of the output mean with respect to the upstream weights is numerically zero.",
    source="Goodfellow, Bengio & Courville 2016, Deep Learning Sec. 8.7.1; Santurkar et al. 2018, Obs. 4.3",
    stance="supports",
    metric="worst relative error of the predicted batch mean and std, and max |d mean(z) / dW_upstream|, over "
           "upstream rescalings/shifts, batch sizes and seeds",
    arms=("cases",), direction="deterministic", test="deterministic",
    budgets={"smoke": Budget(seeds=1), "ci": Budget(seeds=1), "full": Budget(seeds=1)})

CLAIM = Claim(
    id="C3",
    article_text="BN's learned scale and shift (gamma, beta) can recover the activations' original distribution; "
                 "with them a layer's mean and variance are governed by two parameters instead of by all "
                 "earlier layers.",
    source="Ioffe & Szegedy 2015 Sec. 3; Goodfellow et al. 2016 Sec. 8.7.1; Santurkar et al. 2018 Obs. 4.3; "
           "Frankle et al. 2021",
    hypotheses=(C3A, C3B),
)

# The relative error of a BN round trip in float32 is a few ulps; allow 64 ulps of slack for the
# mean/variance reductions over up to 256 samples.
IDENTITY_TOL = 64 * F32_EPS


def _inputs(kind: str, b: int, h: int, g):
    import torch
    if kind == "normal":
        return 5 + 3 * torch.randn(b, h, generator=g)
    if kind == "uniform":
        return torch.rand(b, h, generator=g) * 10 - 2
    if kind == "lognormal":
        return torch.exp(torch.randn(b, h, generator=g))
    if kind == "bimodal":
        return torch.where(torch.rand(b, h, generator=g) < 0.3, -4.0, 6.0) + 0.5 * torch.randn(b, h, generator=g)
    if kind == "small_scale":
        return 1e-2 * torch.randn(b, h, generator=g) - 0.05
    if kind == "large_scale":
        return 300 * torch.randn(b, h, generator=g) + 100
    raise ValueError(kind)


KINDS = ("normal", "uniform", "lognormal", "bimodal", "small_scale", "large_scale")


def identity_errors(perturb: str | None = None) -> dict:
    """{case: relative error} of BN(x) with gamma, beta set to recover x.

    perturb="other_batch": gamma and beta come from a different batch of the same distribution
    (what constant, learned parameters face) - the negative control.
    """
    import torch
    import torch.nn.functional as F
    out, eps = {}, 1e-5
    g = torch.Generator().manual_seed(0)
    for kind, b, h in itertools.product(KINDS, (2, 16, 256), (1, 64)):
        x = _inputs(kind, b, h, g)
        ref = _inputs(kind, b, h, g) if perturb == "other_batch" else x
        mu, var = ref.mean(0), ref.var(0, unbiased=False)
        scale = (x.abs().amax(0) + x.std(0, unbiased=False)).clamp_min(1e-12)
        y = F.batch_norm(x, None, None, torch.sqrt(var + eps), mu, training=True, eps=eps)
        out[f"{kind} B={b} H={h} gamma=sqrt(var+eps)"] = float(((y - x).abs().amax(0) / scale).max())
        if perturb is None:
            # gamma = sigma (Ioffe's wording, no eps): deviation bounded by eps / (2 sigma^2) |x - mu|
            y0 = F.batch_norm(x, None, None, torch.sqrt(var), mu, training=True, eps=eps)
            bound = (eps / (2 * var.clamp_min(1e-30)) * (x - mu).abs()).amax(0)
            excess = ((y0 - x).abs().amax(0) - bound).clamp_min(0) / scale
            out[f"{kind} B={b} H={h} gamma=sigma (excess over eps bound)"] = float(excess.max())
    return out


def check_c3a(hyp, ctx, perturb=None):
    errors = identity_errors(perturb)
    return checks.deterministic(hyp, CLAIM, ctx, errors, IDENTITY_TOL, what="relative |BN(x) - x|",
                                extra={"perturb": perturb})


def moment_errors(perturb: str | None = None) -> dict:
    """{case: worst error} of the two-parameter moment prediction for z = BN(Linear(u)).

    perturb="no_bn": the same measurement with BN removed (identity) - the negative control.
    """
    import torch
    import torch.nn.functional as F
    out, eps = {}, 1e-5
    for seed, b in itertools.product(range(3), (16, 128)):
        g = torch.Generator().manual_seed(100 + seed)
        u = torch.randn(b, 20, generator=g)
        w0, b0 = torch.randn(32, 20, generator=g) / 20 ** 0.5, torch.randn(32, generator=g)
        gamma, beta = torch.randn(32, generator=g), torch.randn(32, generator=g)
        for a, c in ((1.0, 0.0), (10.0, 0.0), (0.1, 3.0), (5.0, -7.0)):
            w = (a * w0).requires_grad_(True)
            pre = F.linear(u, w, a * b0 + c)
            if perturb == "no_bn":
                z = pre * gamma + beta
            else:
                z = F.batch_norm(pre, None, None, gamma, beta, training=True, eps=eps)
            sigma2 = pre.detach().var(0, unbiased=False)
            pred_sd = gamma.abs() * torch.sqrt(sigma2 / (sigma2 + eps))
            mean_err = ((z.detach().mean(0) - beta).abs() / (beta.abs() + gamma.abs())).max()
            sd_err = ((z.detach().std(0, unbiased=False) - pred_sd).abs() / gamma.abs()).max()
            # Gradient of the output mean, relative to the gradient of a random projection of the output
            # (which BN does not zero): scale-free, since BN scales upstream gradients by 1/a.
            (grad,) = torch.autograd.grad(z.mean(), w, retain_graph=True)
            (ref,) = torch.autograd.grad((z * torch.randn(z.shape, generator=g)).mean(), w)
            case = f"seed={seed} B={b} W->{a}W, b->{a}b{c:+g}"
            out[case + " mean"] = float(mean_err)
            out[case + " std"] = float(sd_err)
            out[case + " |dmean/dW|"] = float(grad.abs().max() / ref.abs().max())
    return out


# Moments: a normalized value of magnitude up to sqrt(B) carries a few float32 ulps of error, so
# allow 16 sqrt(B) ulps relative to |beta| + |gamma|. Gradient: "numerically zero" = below 1e-4 of
# the gradient of a random projection of the same output (a few hundred float32 ulps; without BN
# the ratio is of order 1).
GRAD_TOL = 1e-4


def moment_tolerances(errors: dict) -> dict:
    return {c: GRAD_TOL if c.endswith("|dmean/dW|") else 16 * (128 if "B=128" in c else 16) ** 0.5 * F32_EPS
            for c in errors}


def check_c3b(hyp, ctx, perturb=None):
    errors = moment_errors(perturb)
    return checks.deterministic(hyp, CLAIM, ctx, errors, moment_tolerances(errors), what="moment / gradient error",
                                extra={"perturb": perturb})


RUNNERS = {"C3.a": check_c3a, "C3.b": check_c3b}
