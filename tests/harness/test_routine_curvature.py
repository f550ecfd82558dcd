"""Routine curvature_along_gradient (S.h, S.h2): the curvature along the gradient where the answer is known (a
quadratic loss), BN's per-unit scale invariance (per-row rescaling leaves the effective-rate curvature unchanged
and moves the raw one as it must), and the training it wraps is the engine's, untouched by the probes."""
import numpy as np
import pytest
import torch

from bnclaims.harness import engine, nets, routines
from bnclaims.harness.routines import curvature as cv
from bnclaims.harness.spec import ModelSpec, TrainSpec

F64 = torch.float64


# ---- (a) a quadratic loss: L_k(x) = 0.5 x' A_k x, one A per member ------------------------------------------
def _quadratic(k=3, rows=4, cols=5, indefinite=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = rows * cols
    m = torch.randn(k, n, n, generator=g, dtype=F64)
    a = m @ m.transpose(1, 2) / n + 0.1 * torch.eye(n, dtype=F64)
    if indefinite:                           # a curvature measure must be able to say "negative"
        a = a - 2.0 * torch.eye(n, dtype=F64)
    x = torch.randn(k, rows, cols, generator=g, dtype=F64)

    def loss_fn(p):
        v = p["x"].flatten(1)
        return 0.5 * torch.einsum("ki,kij,kj->k", v, a, v)
    return a, x, loss_fn


@pytest.mark.parametrize("indefinite", [False, True])
def test_quadratic_curvature_and_rho_are_analytic(indefinite):
    a, x, loss_fn = _quadratic(indefinite=indefinite)
    etas = (1e-3, 0.05, 0.3)
    got = cv.along_gradient(loss_fn, {"x": x}, ["x"], factors=etas)
    g = torch.einsum("kij,kj->ki", a, x.flatten(1))                  # the gradient A x
    kappa = torch.einsum("ki,kij,kj->k", g, a, g) / g.pow(2).sum(1)
    torch.testing.assert_close(got["g2"], g.pow(2).sum(1), rtol=1e-12, atol=0)
    torch.testing.assert_close(got["kappa"], kappa, rtol=1e-12, atol=1e-14)
    for j, eta in enumerate(etas):
        torch.testing.assert_close(got["rho"][:, j], 1 - eta / 2 * kappa, rtol=1e-10, atol=1e-12)
    # without scales the effective-rate measure is the raw one
    torch.testing.assert_close(got["kappa_eff"], got["kappa"], rtol=0, atol=0)
    torch.testing.assert_close(got["rho_eff"], got["rho"], rtol=0, atol=0)
    assert bool((got["kappa"] < 0).any()) == indefinite


def test_quadratic_effective_curvature_is_analytic_with_per_row_scales():
    a, x, loss_fn = _quadratic()
    d = torch.rand(3, 4, generator=torch.Generator().manual_seed(1), dtype=F64) * 2 + 0.5    # [K, rows]
    etas = (0.01, 0.2)
    got = cv.along_gradient(loss_fn, {"x": x}, ["x"], scales={"x": d}, factors=etas)
    g = torch.einsum("kij,kj->ki", a, x.flatten(1))
    dd = d.unsqueeze(2).expand(3, 4, 5).flatten(1)                     # D per entry: one value per row
    v = dd.pow(2) * g                                                   # D^2 g
    kappa_eff = torch.einsum("ki,kij,kj->k", v, a, v) / (dd * g).pow(2).sum(1)
    torch.testing.assert_close(got["g2_eff"], (dd * g).pow(2).sum(1), rtol=1e-12, atol=0)
    torch.testing.assert_close(got["kappa_eff"], kappa_eff, rtol=1e-12, atol=1e-14)
    for j, eta in enumerate(etas):
        torch.testing.assert_close(got["rho_eff"][:, j], 1 - eta / 2 * kappa_eff, rtol=1e-10, atol=1e-12)


def test_larger_curvature_reads_larger():
    """The measure can say no: doubling A doubles the curvature along g (the direction g is unchanged)."""
    a, x, loss_fn = _quadratic()
    one = cv.along_gradient(loss_fn, {"x": x}, ["x"])["kappa"]
    two = cv.along_gradient(lambda p: 2 * loss_fn(p), {"x": x}, ["x"])["kappa"]
    torch.testing.assert_close(two, 2 * one, rtol=1e-12, atol=0)


def test_bad_input_is_refused():
    _, x, loss_fn = _quadratic()
    with pytest.raises(ValueError, match="not differentiated"):
        cv.along_gradient(loss_fn, {"x": x}, ["x"], scales={"y": torch.ones(3)})
    with pytest.raises(ValueError, match="one loss per member"):
        cv.along_gradient(lambda p: loss_fn(p).sum(), {"x": x}, ["x"])
    with pytest.raises(ValueError, match="stacked weights"):
        cv.unit_norms(torch.ones(3, 4))
    with pytest.raises(ValueError, match="norm 'ln' is not supported"):
        cv.model_spec({"norm": "ln", "depth": 2, "width": 8, "bn_eps": 1e-5, "bn_momentum": 0.1})


# ---- (b), (c) BN's per-unit scale invariance -----------------------------------------------------------
def _bn_net(seed=0):
    """A float64 BN MLP (eps tiny, so BN is scale-invariant per unit to rounding) and a batch."""
    net = nets.StackedNet(ModelSpec(depth=3, width=16, norm="bn", bn_eps=1e-12), 10, 4, [seed, seed + 1])
    params = {n: p.detach().to(F64) for n, p in net.params.items()}
    g = torch.Generator().manual_seed(seed + 7)
    x = torch.randn(2, 32, 10, generator=g, dtype=F64)
    y = torch.randint(0, 4, (2, 32), generator=g)

    def loss_fn(p):
        return engine.member_loss("classification", net.forward(p, x, train=True, update=False), y)
    w0 = {f"w{l}": cv.unit_norms(params[f"w{l}"]) for l in net.states}
    return net, params, loss_fn, w0


def _measure(net, params, loss_fn, w0, names=None, factors=()):
    names = list(params) if names is None else names
    scales = {n: s for n, s in cv.unit_scales(net, params, w0).items() if n in names}
    return cv.along_gradient(loss_fn, params, names, scales, factors)


def _rescaled_rows(params, name, c):
    out = dict(params)
    out[name] = params[name] * c.unsqueeze(2)          # c [K, out]: one factor per row (unit)
    return out


def test_per_row_rescaling_leaves_effective_curvature_unchanged():
    net, params, loss_fn, w0 = _bn_net()
    params = _rescaled_rows(params, "w0", torch.full((2, 16), 1.7, dtype=F64))   # away from init: D != 1
    base = _measure(net, params, loss_fn, w0, factors=(0.05,))
    c = torch.rand(2, 16, generator=torch.Generator().manual_seed(3), dtype=F64) * 3 + 0.3
    moved = _measure(net, _rescaled_rows(params, "w1", c), loss_fn, w0, factors=(0.05,))
    torch.testing.assert_close(moved["loss"], base["loss"], rtol=1e-10, atol=0)
    for key in ("kappa_eff", "g2_eff", "vHv_eff", "rho_eff"):
        torch.testing.assert_close(moved[key], base[key], rtol=1e-7, atol=1e-12)
    assert float((moved["kappa"] / base["kappa"] - 1).abs().min()) > 1e-3       # the raw one moves


def test_uniform_rescaling_scales_the_raw_curvature_by_one_over_c_squared():
    """On a BN layer's weights alone (the rest held fixed): g ~ 1/c, H ~ 1/c^2, so kappa ~ 1/c^2, gHg ~ 1/c^4."""
    net, params, loss_fn, w0 = _bn_net()
    c = 2.5
    base = _measure(net, params, loss_fn, w0, names=["w1"])
    moved = _measure(net, _rescaled_rows(params, "w1", torch.full((2, 16), c, dtype=F64)), loss_fn, w0,
                     names=["w1"])
    torch.testing.assert_close(moved["g2"], base["g2"] / c ** 2, rtol=1e-7, atol=0)
    torch.testing.assert_close(moved["gHg"], base["gHg"] / c ** 4, rtol=1e-6, atol=0)
    torch.testing.assert_close(moved["kappa"], base["kappa"] / c ** 2, rtol=1e-6, atol=0)
    torch.testing.assert_close(moved["kappa_eff"], base["kappa_eff"], rtol=1e-6, atol=0)


def test_effective_curvature_is_the_raw_curvature_at_the_initial_row_norms():
    """kappa_eff at theta = kappa of the same network with every BN row rescaled back to its initial norm."""
    net, params, loss_fn, w0 = _bn_net()
    c = torch.rand(2, 16, generator=torch.Generator().manual_seed(5), dtype=F64) + 0.8
    grown = _rescaled_rows(_rescaled_rows(params, "w0", c), "w1", c.flip(1) * 1.3)
    eff = _measure(net, grown, loss_fn, w0)["kappa_eff"]
    back = dict(grown)
    for n, r0 in w0.items():
        back[n] = grown[n] * (r0 / cv.unit_norms(grown[n])).unsqueeze(2)
    raw_back = _measure(net, back, loss_fn, w0)
    torch.testing.assert_close(eff, raw_back["kappa"], rtol=1e-6, atol=0)
    torch.testing.assert_close(raw_back["kappa_eff"], raw_back["kappa"], rtol=1e-9, atol=0)


def test_unit_norms_are_per_row_not_frobenius():
    w = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(0), dtype=F64)
    torch.testing.assert_close(cv.unit_norms(w), torch.stack([torch.stack([w[k, r].norm() for r in range(5)])
                                                              for k in range(2)]))
    w2 = w.clone()
    w2[0, 3] *= 4.0                                   # one unit of one member
    changed = cv.unit_norms(w2) != cv.unit_norms(w)
    assert changed.sum() == 1 and changed[0, 3]
    torch.testing.assert_close(cv.frobenius_norms(w), w.flatten(1).norm(dim=1))
    assert not torch.allclose(cv.unit_norms(w)[0], cv.frobenius_norms(w)[0].expand(5))


def test_one_row_rescaled_moves_a_frobenius_scaled_measure_but_not_the_per_unit_one():
    """BN's invariance is per unit: with the matrix (Frobenius) norm as the scale, rescaling one unit's weights
    changes the 'effective' curvature; with per-row norms it does not."""
    net, params, loss_fn, w0 = _bn_net()
    c = torch.ones(2, 16, dtype=F64)
    c[:, 2] = 5.0
    moved = _rescaled_rows(params, "w1", c)
    names = list(params)

    def frob_scaled(p):
        sc = {n: (cv.frobenius_norms(p[n]) / cv.frobenius_norms(params[n])).unsqueeze(1).expand(2, 16)
              for n in w0}
        return cv.along_gradient(loss_fn, p, names, sc)["kappa_eff"]
    per_unit = [_measure(net, p, loss_fn, w0)["kappa_eff"] for p in (params, moved)]
    torch.testing.assert_close(per_unit[1], per_unit[0], rtol=1e-7, atol=0)
    assert float((frob_scaled(moved) / frob_scaled(params) - 1).abs().min()) > 1e-3


# ---- the routine: the engine's training, untouched by the probes ------------------------------------------
SETTINGS = {"data": "mnist1d", "data_seed": 42, "depth": 2, "width": 16, "bn_eps": 1e-5, "bn_momentum": 0.1,
            "batch_size": 64, "lr": 0.3, "steps": 12, "probes": 12, "evals": 3, "rho_factors": (0.25, 1.0)}
SEEDS = [5, 6]


@pytest.fixture(scope="module")
def runs():
    return {norm: cv.run({**SETTINGS, "norm": norm}, SEEDS) for norm in ("bn", "none")}


def test_registered():
    r = routines.get("curvature_along_gradient")
    assert r.load() is cv.run and "bnclaims.harness.routines.steps" in r.uses


@pytest.mark.parametrize("norm", ["bn", "none"])
def test_training_is_the_engines_and_probes_change_nothing(runs, norm):
    """A probe at every step: the loss curve and evaluations are still the engine's own (no probes there)."""
    spec = TrainSpec(model=ModelSpec(depth=2, width=16, norm=norm), lr=0.3, batch_size=64, steps=12, eval_every=4)
    ref, _ = engine.train_batched(spec, SEEDS)
    a = runs[norm]
    np.testing.assert_allclose(a["train_loss"], ref["train_loss"], rtol=0, atol=1e-6)
    assert a["eval_step"].tolist() == ref["eval_step"].tolist() == [0, 4, 8, 12]
    for key in ("eval_train_loss", "eval_train_acc", "eval_test_loss", "eval_test_acc"):
        np.testing.assert_allclose(a[key], ref[key], rtol=0, atol=1e-6)
    assert a["probe_step"].tolist() == list(range(12))
    assert a["lr"].tolist() == [0.3, 0.3] and a["seeds"].tolist() == SEEDS


def test_checkpoint_arrays(runs):
    for norm, a in runs.items():
        for key in ("curv_loss", "curv_g2", "curv_gHg", "curv_kappa", "curv_g2_eff", "curv_vHv_eff",
                    "curv_kappa_eff", "curv_unit_scale", "curv_frob_scale"):
            assert a[key].shape == (12, 2) and np.all(np.isfinite(a[key])), key
        assert a["curv_rho"].shape == a["curv_rho_eff"].shape == (12, 2, 2)
        np.testing.assert_allclose(a["curv_kappa"], a["curv_gHg"] / a["curv_g2"], rtol=1e-6)
        np.testing.assert_allclose(a["curv_loss"], a["train_loss"], rtol=0, atol=1e-6)   # the step's own batch
    none, bn = runs["none"], runs["bn"]
    np.testing.assert_array_equal(none["curv_kappa_eff"], none["curv_kappa"])          # no scale-invariant weights
    assert np.all(none["curv_unit_scale"] == 1.0)
    assert np.all(bn["curv_unit_scale"][0] == 1.0) and np.all(bn["curv_unit_scale"][-1] != 1.0)


def test_schedule():
    assert cv.schedule({"steps": 1000, "probes": 20, "evals": 4}) == (1000, 50, 250)
    assert cv.schedule({"steps": 10, "probes": 20, "evals": 4}) == (10, 1, 2)
    with pytest.raises(ValueError, match=">= 1"):
        cv.schedule({"steps": 0, "probes": 20, "evals": 4})

