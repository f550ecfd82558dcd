"""The recovery-after-insertion routine (C3.c) against a plain per-seed nn.Module / torch.optim reference,
at the engine's equivalence tolerances; and its distance measures on known distributions."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from bnclaims.harness import data, nets, routines
from bnclaims.harness.routines import recovery
from bnclaims.harness.spec import ModelSpec

# A tiny budget: a few steps of each phase, 2 seeds, a narrow net (seconds on one thread).
SETTINGS = {"data": "mnist1d", "data_seed": 42, "depth": 2, "width": 32, "insert_layer": 1,
            "batch_size": 64, "momentum": 0.9, "lr_plain": 0.05, "lr_affine": 0.1,
            "bn_eps": 1e-5, "bn_momentum": 0.1, "steps": 25}
SEEDS = [3, 11]
TOL = 1e-5


def _reference(s: dict, seed: int) -> dict:
    """One seed: nn.Linear/ReLU MLP and torch.optim.SGD, then nn.BatchNorm1d inserted after hidden Linear
    `insert_layer` with running statistics = that layer's train-set moments; only its affine trains.
    One data order runs on through both phases."""
    ds = data.load(s["data"], s["data_seed"])
    model = nets.reference_mlp(ModelSpec(depth=s["depth"], width=s["width"]), ds.x.shape[1], ds.n_out, seed)
    order = data.BatchOrder(ds.x.shape[0], s["batch_size"], seed)

    def train(params, lr):
        opt = torch.optim.SGD(params, lr=lr, momentum=s["momentum"])
        curve = []
        model.train()
        for _ in range(s["steps"]):
            idx = order.next()
            loss = F.cross_entropy(model(ds.x[idx]), ds.y[idx])
            curve.append(float(loss.detach()))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return np.array(curve)

    @torch.no_grad()
    def evaluate():
        model.eval()
        return float(F.cross_entropy(model(ds.x), ds.y)), float((model(ds.x_test).argmax(-1) == ds.y_test).float().mean())

    out = {"curve_plain": train(list(model.parameters()), s["lr_plain"])}
    out["loss_orig"], out["acc_orig"] = evaluate()
    cut = 2 * s["insert_layer"] + 1                   # Linear, ReLU per hidden layer: just after Linear li
    with torch.no_grad():
        z = model[:cut](ds.x)
    bn = nn.BatchNorm1d(z.shape[1], eps=s["bn_eps"], momentum=s["bn_momentum"])
    with torch.no_grad():
        bn.running_mean.copy_(z.mean(0))
        bn.running_var.copy_(z.var(0))                # unbiased, as BN's running variance
    model = nn.Sequential(*list(model)[:cut], bn, *list(model)[cut:])
    for p in model.parameters():
        p.requires_grad_(False)
    for p in bn.parameters():
        p.requires_grad_(True)
    out["loss_insert"], out["acc_insert"] = evaluate()
    out["curve_affine"] = train(list(bn.parameters()), s["lr_affine"])
    out["loss_after"], out["acc_after"] = evaluate()
    out.update(gamma=bn.weight.detach().numpy().copy(), beta=bn.bias.detach().numpy().copy(),
               running_mean=bn.running_mean.numpy().copy(), running_var=bn.running_var.numpy().copy(),
               orig_mean=z.mean(0).numpy(), orig_std=z.var(0).sqrt().numpy())
    return out


@pytest.fixture(scope="module")
def runs():
    return recovery.run(dict(SETTINGS), SEEDS), [_reference(SETTINGS, s) for s in SEEDS]


def test_registered():
    assert routines.get("recovery_after_insertion").load() is recovery.run


def test_losses_match_per_seed_reference(runs):
    got, ref = runs
    for key in ("curve_plain", "curve_affine"):
        want = np.stack([r[key] for r in ref], 1)                  # [steps, K]
        assert got[key].shape == want.shape
        assert np.max(np.abs(got[key] - want)) <= TOL, key
    for key in ("loss_orig", "loss_insert", "loss_after"):
        assert np.max(np.abs(got[key] - np.array([r[key] for r in ref]))) <= TOL, key
    # accuracies are counts over 1000 test inputs: equal unless a logit tie flips within float32 noise
    for key in ("acc_orig", "acc_insert", "acc_after"):
        np.testing.assert_allclose(got[key], [r[key] for r in ref], atol=2e-3, err_msg=key)


def test_affine_and_statistics_match_per_seed_reference(runs):
    got, ref = runs
    for key in ("gamma", "beta", "running_mean", "running_var", "orig_mean", "orig_std"):
        np.testing.assert_allclose(got[key], np.stack([r[key] for r in ref]), atol=TOL, rtol=TOL, err_msg=key)


def test_gamma_beta_start_where_bn_was_inserted(runs):
    """The second phase moves gamma and beta away from where BN was inserted (gamma = 1, beta = 0) and
    lowers the loss from its value at insertion."""
    got, _ = runs
    assert got["seeds"].tolist() == SEEDS
    assert np.all(got["ks_before"] > 0) and np.all(np.isfinite(got["w_after"]))
    assert not np.allclose(got["gamma"], 1.0) and not np.allclose(got["beta"], 0.0)
    assert np.all(got["loss_after"] < got["loss_insert"])


def test_distances_on_known_distributions():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 3, 2000, generator=g) * 2.0
    ks, w = recovery.distances(z, z, torch.full((2, 3), 2.0))
    assert np.all(ks == 0) and np.all(w == 0)
    ks, w = recovery.distances(z + 2.0, z, torch.full((2, 3), 2.0))     # shifted by one std
    np.testing.assert_allclose(w, 1.0, rtol=1e-6)
    assert np.all((ks > 0.3) & (ks < 0.45))                            # KS of N(0,1) vs N(1,1): 0.383


def test_wasserstein_of_a_pure_scaling_and_of_a_scale_and_shift_is_known_exactly():
    """W1 between an empirical sample and an affine image of it (same n, a > 0) is mean |(a - 1) z + b| over the
    sorted sample; the routine divides it by each unit's std (issue 24: C3.c6 reads this distance)."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 4, 3000, generator=g, dtype=torch.float64) * torch.tensor([0.5, 1.0, 2.0, 4.0]).view(1, 4, 1)
    std = z.std(2)
    for a, b in ((1.31, 0.0), (0.5, 0.0), (1.2, 0.3), (2.0, -1.0)):
        _, w = recovery.distances(a * z + b, z, std)
        want = ((a - 1) * z + b).abs().mean(2) / std                 # per unit, [K, H]
        np.testing.assert_allclose(w, want.mean(1).numpy(), rtol=1e-9)
    _, w = recovery.distances(1.31 * z, z, std)                      # scale-free: W1/std = 0.31 E|z|/sigma
    np.testing.assert_allclose(w, 0.31 * np.sqrt(2 / np.pi), rtol=0.05)


def test_wasserstein_falls_back_to_zero_only_at_the_original_distribution():
    """The distance C3.c6 compares before and after: the original itself scores 0 and a miss in scale or shift
    scores more, whichever way it misses; KS ignores nothing here but saturates, W1 keeps counting."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(1, 3, 4000, generator=g, dtype=torch.float64)
    std = z.std(2)
    ks0, w0 = recovery.distances(z, z, std)
    assert ks0[0] == 0 and w0[0] == 0
    ws = [recovery.distances(a * z, z, std)[1][0] for a in (0.5, 0.8, 1.25, 2.0)]
    assert all(w > 0.1 for w in ws)
    ws_far = [recovery.distances(z + d, z, std)[1][0] for d in (1.0, 10.0, 20.0)]
    ks_far = [recovery.distances(z + d, z, std)[0][0] for d in (1.0, 10.0, 20.0)]
    assert ws_far[0] < ws_far[1] < ws_far[2]                         # W1 grows with the miss
    assert ks_far[1] == ks_far[2] == 1.0                              # KS saturates at 1
