"""The normalizers that separate BN's mechanisms, each against torch's own module, seed by seed:

gn       GroupNorm                                  vs torch.nn.GroupNorm
wn_mobn  weight normalization + mean-only BN        vs torch.nn.utils.parametrizations.weight_norm on nn.Linear,
                                                       then the batch mean subtracted
bn_pop   BN with population statistics in training  vs torch.nn.BatchNorm1d in eval mode (the normalization)
                                                       and in training mode (the running-statistics update)
noisy_none  Santurkar's Alg. 1 noise in the plain net  vs the plain net, when the noise is switched off

Forward and gradients to 1e-6 (absolute or relative). Batched vs reference training is in test_engine.py.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bnclaims.harness import engine, nets, norms, spec as specmod
from bnclaims.harness.spec import ModelSpec, TrainSpec

K, H, B, EPS = 3, 32, 16, 1e-5
TOL = dict(atol=1e-6, rtol=1e-6)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(K, H, B, generator=g) * 3 + 1
    return (z, torch.randn(K, H, generator=g), torch.randn(K, H, generator=g), torch.randn(K, H, B, generator=g))


def _leaf(*ts):
    return [t.clone().requires_grad_(True) for t in ts]


@pytest.mark.parametrize("groups", [1, 4, 8])
def test_stacked_group_norm_matches_torch_groupnorm(groups):
    z, gamma, beta, up = _inputs()
    z, gamma, beta = _leaf(z, gamma, beta)
    out = norms.apply_norm("gn", z, norms.NormState(K, H), gamma, beta, train=True, update=True, momentum=0.1,
                           eps=EPS, groups=groups)
    grads = torch.autograd.grad((out * up).sum(), [z, gamma, beta])
    for j in range(K):
        gn = torch.nn.GroupNorm(groups, H, eps=EPS)
        with torch.no_grad():
            gn.weight.copy_(gamma[j])
            gn.bias.copy_(beta[j])
        zj = z[j].detach().T.clone().requires_grad_(True)       # [B, H]
        ref = gn(zj)
        ref_grads = torch.autograd.grad((ref * up[j].T).sum(), [zj, gn.weight, gn.bias])
        torch.testing.assert_close(out[j].T, ref, **TOL)
        for got, want in zip((grads[0][j].T, grads[1][j], grads[2][j]), ref_grads):
            torch.testing.assert_close(got, want, **TOL)
    # the same in eval mode: no running statistics
    again = norms.apply_norm("gn", z, norms.NormState(K, H), gamma, beta, train=False, update=False,
                             momentum=0.1, eps=EPS, groups=groups)
    torch.testing.assert_close(again, out)


def test_weight_norm_mean_only_bn_matches_torch_weight_norm():
    g = torch.Generator().manual_seed(1)
    d_in = 20
    w = torch.randn(K, H, d_in, generator=g) / 4
    x = torch.randn(K, d_in, B, generator=g)
    gs = torch.rand(K, H, generator=g) + 0.5
    beta = torch.randn(K, H, generator=g)
    up = torch.randn(K, H, B, generator=g)
    w, gs, beta, x = _leaf(w, gs, beta, x)
    state = norms.NormState(K, H)
    out = norms.apply_norm("wn_mobn", torch.bmm(w, x), state, gs, beta, train=True, update=True, momentum=0.1,
                           eps=EPS, wscale=norms.weight_norm_scale(w, gs))
    grads = torch.autograd.grad((out * up).sum(), [w, gs, beta, x])
    for j in range(K):
        lin = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(d_in, H, bias=False), dim=0)
        mobn = nets.MeanOnlyBatchNorm1d(H, momentum=0.1)
        with torch.no_grad():
            lin.parametrizations.weight.original0.copy_(gs[j].unsqueeze(1))
            lin.parametrizations.weight.original1.copy_(w[j])
            mobn.bias.copy_(beta[j])
        xj = x[j].detach().T.clone().requires_grad_(True)        # [B, d_in]
        t = lin(xj)
        ref = t - t.mean(0) + mobn.bias                           # Salimans & Kingma Sec. 2.2, written out
        torch.testing.assert_close(mobn(t), ref)                  # the reference module does the same
        pw = lin.parametrizations.weight
        ref_grads = torch.autograd.grad((ref * up[j].T).sum(), [pw.original1, pw.original0, mobn.bias, xj])
        torch.testing.assert_close(out[j].T, ref, **TOL)
        gtol = dict(atol=1e-5, rtol=1e-5)       # g's and beta's gradients sum B terms of order 1
        torch.testing.assert_close(grads[0][j], ref_grads[0], **gtol)
        torch.testing.assert_close(grads[1][j], ref_grads[1].squeeze(1), **gtol)
        torch.testing.assert_close(grads[2][j], ref_grads[2], **gtol)
        torch.testing.assert_close(grads[3][j].T, ref_grads[3], **gtol)
        torch.testing.assert_close(state.mean.view(K, H)[j], 0.1 * t.detach().mean(0), **TOL)


def test_weight_norm_starts_at_the_plain_nets_weights():
    """g = |v| at init, so a wn_mobn net and the plain net with the same seed start from the same weights."""
    m = ModelSpec(depth=2, width=16, norm="wn_mobn")
    net = nets.StackedNet(m, 40, 10, [0, 1])
    plain = nets.StackedNet(ModelSpec(depth=2, width=16), 40, 10, [0, 1])
    for l in range(2):
        eff = net.params[f"w{l}"] * norms.weight_norm_scale(net.params[f"w{l}"], net.params[f"g{l}"]).unsqueeze(2)
        torch.testing.assert_close(eff, plain.params[f"w{l}"])


def test_population_bn_matches_torch_batchnorm_eval_and_its_update():
    z, gamma, beta, up = _inputs(2)
    z, gamma, beta = _leaf(z, gamma, beta)
    state = norms.NormState(K, H)
    g = torch.Generator().manual_seed(3)
    state.mean, state.var = torch.randn(K * H, generator=g), torch.rand(K * H, generator=g) + 0.5
    before = (state.mean.clone(), state.var.clone())
    out = norms.apply_norm("bn_pop", z, state, gamma, beta, train=True, update=True, momentum=0.1, eps=EPS)
    grads = torch.autograd.grad((out * up).sum(), [z, gamma, beta])
    for j in range(K):
        sl = slice(j * H, (j + 1) * H)
        bn = torch.nn.BatchNorm1d(H, eps=EPS, momentum=0.1)
        with torch.no_grad():
            bn.weight.copy_(gamma[j])
            bn.bias.copy_(beta[j])
            bn.running_mean.copy_(before[0][sl])
            bn.running_var.copy_(before[1][sl])
        zj = z[j].detach().T.clone().requires_grad_(True)
        ref = bn.eval()(zj)              # normalized by the statistics of earlier batches
        ref_grads = torch.autograd.grad((ref * up[j].T).sum(), [zj, bn.weight, bn.bias])
        torch.testing.assert_close(out[j].T, ref, **TOL)
        for got, want in zip((grads[0][j].T, grads[1][j], grads[2][j]), ref_grads):
            torch.testing.assert_close(got, want, **TOL)
        bn.train()(zj.detach())         # the update: that of BN in training mode
        torch.testing.assert_close(state.mean[sl], bn.running_mean, **TOL)
        torch.testing.assert_close(state.var[sl], bn.running_var, **TOL)
    # no sample's output depends on the rest of its batch: the batch noise is gone
    half = norms.apply_norm("bn_pop", z[:, :, :4], norms.NormState(K, H), gamma, beta, train=True, update=False,
                            momentum=0.1, eps=EPS)
    full = norms.apply_norm("bn_pop", z, norms.NormState(K, H), gamma, beta, train=True, update=False,
                            momentum=0.1, eps=EPS)
    torch.testing.assert_close(half, full[:, :, :4])


def test_reference_population_bn_module_is_torch_batchnorm():
    mod = nets.PopulationBatchNorm1d(H, eps=EPS, momentum=0.1)
    assert isinstance(mod, torch.nn.BatchNorm1d)
    x = torch.randn(B, H, generator=torch.Generator().manual_seed(4)) * 2 + 1
    bn = torch.nn.BatchNorm1d(H, eps=EPS, momentum=0.1).eval()
    torch.testing.assert_close(mod.train()(x), bn(x))
    bn.train()(x)
    torch.testing.assert_close(mod.running_mean, bn.running_mean)
    torch.testing.assert_close(mod.running_var, bn.running_var)


def test_spec_rules_and_unchanged_hashes():
    with pytest.raises(ValueError, match="multiple of groups"):
        ModelSpec(width=30, norm="gn", groups=4)
    with pytest.raises(ValueError, match="wn_mobn"):
        TrainSpec(model=ModelSpec(norm="wn_mobn"), trainable="bn_affine")
    assert ModelSpec(norm="gn").n_groups == 8
    # a field added later enters the canonical form only when set: earlier specs keep their hashes
    assert "groups" not in specmod.spec_dict(TrainSpec())["model"]
    assert specmod.spec_dict(TrainSpec(model=ModelSpec(norm="gn", groups=4)))["model"]["groups"] == 4
    assert specmod.spec_hash(TrainSpec()) != specmod.spec_hash(TrainSpec(model=ModelSpec(groups=4)))
    # hashes written before the field existed (so the run store and the lock keep their entries)
    assert specmod.spec_hash(TrainSpec()) == "6c1604392ed224eb"
    assert specmod.spec_hash(TrainSpec(model=ModelSpec(norm="bn", depth=3))) == "2a4bc0415c6b5dbc"


@pytest.mark.parametrize("norm", ["gn", "wn_mobn", "bn_pop"])
def test_new_norms_train_and_keep_the_statistics_they_have(norm):
    spec = TrainSpec(model=ModelSpec(depth=2, width=32, norm=norm), steps=30, eval_every=10, lr=0.1)
    a, info = engine.train(spec, [0, 1], "batched")
    assert np.all(np.isfinite(a["train_loss"]))
    assert a["train_loss"][-5:].mean() < a["train_loss"][:5].mean()
    assert ("running_mean0" in a) == (norm != "gn")
    assert ("running_var0" in a) == (norm == "bn_pop")


def test_noisy_plain_net_without_noise_is_the_plain_net():
    """noise (n_mu 0, n_sigma 1, r_mu 0, r_sigma 0) multiplies by 1 and adds 0: the plain net's numbers."""
    base = TrainSpec(model=ModelSpec(depth=2, width=32), steps=20, eval_every=10, lr=0.1)
    quiet = base.replace(model_norm="noisy_none", model_noise=(0.0, 1.0, 0.0, 0.0))
    a, b = engine.train(base, [0, 1])[0], engine.train(quiet, [0, 1])[0]
    np.testing.assert_array_equal(a["train_loss"], b["train_loss"])
    loud = engine.train(base.replace(model_norm="noisy_none"), [0, 1])[0]
    assert not np.array_equal(a["train_loss"], loud["train_loss"])


def test_validation_split_is_never_trained_on_and_matches_reference():
    """val_rows carves the last training rows off: the training data order never reaches them, they are
    evaluated like train and test, and the final logits come back; batched and reference agree."""
    from bnclaims.harness import data
    spec = TrainSpec(model=ModelSpec(depth=2, width=32, norm="bn"), steps=20, eval_every=10, lr=0.1, val_rows=500)
    a, b = engine.train(spec, [0, 1], "batched")[0], engine.train(spec, [0, 1], "reference")[0]
    full = data.load("mnist1d")
    ds = data.with_validation(full, 500)
    assert ds.x.shape[0] == full.x.shape[0] - 500 and torch.equal(ds.x_val, full.x[-500:])
    assert a["final_val_logits"].shape == (2, 500, 10) and a["final_test_logits"].shape[:2] == (2, full.x_test.shape[0])
    np.testing.assert_allclose(a["final_val_logits"], b["final_val_logits"], atol=1e-4)
    np.testing.assert_allclose(a["eval_val_loss"], b["eval_val_loss"], atol=1e-5)
    order = data.StackedOrder(ds.x.shape[0], 64, [0, 1])
    assert max(int(order.next().max()) for _ in range(100)) < ds.x.shape[0]
    assert "val_rows" not in specmod.spec_dict(TrainSpec())          # earlier specs keep their hash
    with pytest.raises(ValueError, match="leave training rows"):
        data.with_validation(full, full.x.shape[0])
