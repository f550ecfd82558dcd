"""LayerNorm ("ln"): the stacked [K, H, B] layer against torch.nn.LayerNorm, its per-sample moments,
and the spec rules it shares with BN. Batched vs reference training is in test_engine.py."""
import numpy as np
import pytest
import torch

from bnclaims.harness import engine, norms
from bnclaims.harness.spec import ModelSpec, TrainSpec

K, H, B, EPS = 3, 32, 16, 1e-5


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(K, H, B, generator=g) * 3 + 1
    return z, torch.randn(K, H, generator=g), torch.randn(K, H, generator=g), torch.randn(K, H, B, generator=g)


def test_stacked_layer_norm_matches_torch_layernorm():
    """Forward and the gradients of z, gamma, beta, seed by seed, against nn.LayerNorm on [B, H]
    (to 1e-6 absolute or relative: gamma's gradient sums B terms and is of order 1-10)."""
    z, gamma, beta, up = _inputs()
    z, gamma, beta = (t.clone().requires_grad_(True) for t in (z, gamma, beta))
    out = norms.apply_norm("ln", z, norms.NormState(K, H), gamma, beta, train=True, update=True,
                           momentum=0.1, eps=EPS)
    grads = torch.autograd.grad((out * up).sum(), [z, gamma, beta])
    for j in range(K):
        ln = torch.nn.LayerNorm(H, eps=EPS)
        with torch.no_grad():
            ln.weight.copy_(gamma[j])
            ln.bias.copy_(beta[j])
        zj = z[j].detach().T.clone().requires_grad_(True)                 # [B, H]
        ref = ln(zj)
        ref_grads = torch.autograd.grad((ref * up[j].T).sum(), [zj, ln.weight, ln.bias])
        torch.testing.assert_close(out[j].T, ref, atol=1e-6, rtol=1e-6)
        for got, want in zip((grads[0][j].T, grads[1][j], grads[2][j]), ref_grads):
            torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_ln_per_sample_moments_and_no_running_statistics():
    """Over the units of each sample, mean = beta and variance = gamma^2 (up to eps); gamma and beta
    are one value per seed here, since with per-unit values the moments mix them. Train = eval."""
    z, _, _, _ = _inputs(1)
    gamma = torch.tensor([1.0, 0.5, 2.0]).view(K, 1).expand(K, H)
    beta = torch.tensor([0.0, -1.0, 3.0]).view(K, 1).expand(K, H)
    state = norms.NormState(K, H)
    out = norms.apply_norm("ln", z, state, gamma, beta, train=True, update=True, momentum=0.1, eps=EPS)
    var, mean = torch.var_mean(out, dim=1, unbiased=False)                 # [K, B]
    shrink = (z.var(1, unbiased=False) / (z.var(1, unbiased=False) + EPS))  # eps's effect on the variance
    torch.testing.assert_close(mean, beta[:, :1].expand(K, B), atol=1e-5, rtol=0)
    torch.testing.assert_close(var, gamma[:, :1].pow(2) * shrink, atol=1e-5, rtol=1e-5)
    assert torch.equal(state.mean, torch.zeros(K * H)) and torch.equal(state.var, torch.ones(K * H))
    evaluated = norms.apply_norm("ln", z, state, gamma, beta, train=False, update=False, momentum=0.1, eps=EPS)
    assert torch.equal(out, evaluated)


def test_ln_spec_rules():
    m = ModelSpec(depth=3, width=32, norm="ln")
    assert not any(m.has_bias(l) for l in range(3))       # no bias before the norm, as for BN
    with pytest.raises(ValueError, match="the CNN supports"):
        ModelSpec(arch="cnn", norm="ln")
    a, _ = engine.train(TrainSpec(model=m, steps=2), [0])
    assert not any(k.startswith("running_") for k in a) and a["gamma0"].shape == (1, 32)


@pytest.mark.parametrize("trainable", ["bn_affine", "random_linear"])
def test_ln_trainable_modes_match_reference(trainable):
    """The affine-only and random-weights modes count LayerNorm's gamma/beta as BN's in both engines."""
    spec = TrainSpec(model=ModelSpec(depth=2, width=32, norm="ln"), trainable=trainable, freeze_output=True,
                     lr=0.1, momentum=0.9, steps=20, eval_every=10)
    a, _ = engine.train(spec, [0, 1], "batched")
    b, _ = engine.train(spec, [0, 1], "reference")
    assert np.max(np.abs(a["train_loss"] - b["train_loss"])) <= 1e-5
