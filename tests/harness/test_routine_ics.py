"""harness.routines.ics (C1.a3, C1.c3) and harness.routines.depth_pair (Y.d2): each gives the engine's own numbers
for the same spec, and the gradient-ICS measure they read behaves as it must on cases with a known answer."""
import numpy as np
import pytest
import torch

from bnclaims.harness import data, engine, nets, routines
from bnclaims.harness.routines import depth_pair, ics
from bnclaims.harness.spec import ModelSpec, TrainSpec

SETTINGS = {"depth": 4, "width": 16, "activation": "relu", "norm": "bn", "lr": 0.2, "batch_size": 32, "steps": 12,
            "eval_every": 5, "probe_every": 3, "probe_layers": [1, 3], "data": "mnist1d", "data_seed": 42}


def test_registered():
    assert routines.get("mlp_ics_next_input").target == "bnclaims.harness.routines.ics:run"
    assert routines.get("depth_pair").target == "bnclaims.harness.routines.depth_pair:run"


@pytest.mark.parametrize("norm", ["bn", "none"])
def test_ics_routine_gives_the_engines_arrays_bit_for_bit(norm):
    s = {**SETTINGS, "norm": norm}
    got = ics.run(s, [3, 4])
    ref, _ = engine.train_batched(ics.train_spec(s), [3, 4])
    assert set(got) - set(ref) == {"probe_next_mean", "probe_next_var"} and not set(ref) - set(got)
    for key, v in ref.items():
        np.testing.assert_array_equal(got[key], v, err_msg=key)
    assert got["probe_next_mean"].shape == (4, 2, 2, 16)


def test_next_input_moments_are_those_of_the_post_activation():
    """probe_next_* are the moments of relu(norm(z)) on the probe batch: recomputed by hand at step 0."""
    s = {**SETTINGS, "steps": 1, "probe_every": 1}
    got = ics.run(s, [5])
    spec = ics.train_spec(s)
    ds = data.load("mnist1d", 42)
    net = nets.StackedNet(spec.model, ds.x.shape[1], ds.n_out, [5])
    h = ds.x[:spec.probe_batch].T.unsqueeze(0)
    for l in range(4):
        z = torch.bmm(net.params[f"w{l}"], h)
        mu, var = z.mean(2, keepdim=True), z.var(2, unbiased=False, keepdim=True)
        h = torch.relu(net.params[f"g{l}"].unsqueeze(2) * (z - mu) / torch.sqrt(var + 1e-5)
                       + net.params[f"be{l}"].unsqueeze(2))
        if l in (1, 3):
            j = (1, 3).index(l)
            np.testing.assert_allclose(got["probe_next_mean"][0, 0, j], h[0].mean(1).detach(), rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(got["probe_next_var"][0, 0, j], h[0].var(1, unbiased=False).detach(),
                                       rtol=1e-4, atol=1e-6)


def test_ics_routine_refuses_bad_settings():
    with pytest.raises(ValueError, match="settings lack"):
        ics.train_spec({"norm": "bn"})
    with pytest.raises(ValueError, match="not supported"):
        ics.train_spec({**SETTINGS, "norm": "noisy_bn"})


# ------------------------------------------------------------------ the normalized gradient-ICS measure
def _dln_spec(lr):
    return TrainSpec(model=ModelSpec(arch="dln", depth=3, width=10, activation="linear", init="glorot", bias=False),
                     data="dln", batch_size=0, lr=lr, steps=1, eval_every=1, probes=("ics",), probe_every=1,
                     probe_layers=(1,))


def test_probe_matches_the_closed_form_of_a_linear_net():
    """Known answer: a 3-layer linear net, L = mean_n |W2 W1 W0 x_n - y_n|^2, full batch. G = dL/dW1 and G' (W0
    moved by its own SGD step) in closed form (float64) against the probe's |G - G'|/|G|, cos and |dW0|/|W0|."""
    lr, seed = 0.05, 11
    a, _ = engine.train_batched(_dln_spec(lr), [seed])
    ds = data.load("dln", 42)
    X, Y = ds.x.double().numpy(), ds.y.double().numpy()
    W0, W1, W2 = (p["w"].double().numpy() for p in nets.init_params(_dln_spec(lr).model, 10, 10, seed))
    n = X.shape[0]

    def grads(W0):
        E = 2 * (X @ W0.T @ W1.T @ W2.T - Y) / n                   # dL/dout [n, d]
        return W2.T @ E.T @ (X @ W0.T), (W2 @ W1).T @ E.T @ X         # dL/dW1, dL/dW0
    G, G0 = grads(W0)
    dW0 = -lr * G0
    G2, _ = grads(W0 + dW0)
    rel = np.linalg.norm(G - G2) / np.linalg.norm(G)
    cos = (G * G2).sum() / np.linalg.norm(G) / np.linalg.norm(G2)
    move = np.linalg.norm(dW0) / np.linalg.norm(W0)
    np.testing.assert_allclose(a["probe_ics_rel"][0, 0, 0], rel, rtol=1e-3)
    np.testing.assert_allclose(a["probe_ics_cos"][0, 0, 0], cos, rtol=1e-5)
    np.testing.assert_allclose(a["probe_ics_move"][0, 0, 0], move, rtol=1e-5)
    assert rel > 1e-3                                               # the case is not trivial


@pytest.mark.parametrize("case", ["dln", "bn_mlp"])
def test_normalization_removes_a_rescaling_of_the_earlier_layers_step(case):
    """Doubling the earlier layers' update (the rate of the step G' sees) doubles the raw shift |G - G'|/|G| and the
    move |d theta_<i|/|theta_<i|, and leaves their ratio (C1.a2, C1.a3) unchanged, at small steps. The BN MLP uses
    tanh: with ReLU a step of any size can carry a pre-activation across the kink, a jump in G' that does not
    scale with the step (seed 11 at lr 1e-4 and 2e-4: |G - G'|/|G| = 0.0089 both times), so the linear regime
    this test needs does not exist there."""
    from bnclaims.claims import c1
    if case == "dln":
        specs, seeds = [_dln_spec(lr) for lr in (1e-3, 2e-3)], [11, 12]
    else:
        base = TrainSpec(model=ModelSpec(depth=3, width=32, norm="bn", activation="tanh"), batch_size=64, steps=1,
                         eval_every=1, probes=("ics",), probe_every=1, probe_layers=(1, 2))
        specs, seeds = [base.replace(lr=lr) for lr in (1e-4, 2e-4)], [11, 12]
    (a1, _), (a2, _) = (engine.train_batched(s, seeds) for s in specs)
    np.testing.assert_allclose(a2["probe_ics_move"], 2 * a1["probe_ics_move"], rtol=1e-5)
    np.testing.assert_allclose(a2["probe_ics_rel"], 2 * a1["probe_ics_rel"], rtol=0.02)
    n1 = c1.ics_quantity(a1, "normalized")
    n2 = c1.ics_quantity(a2, "normalized")
    np.testing.assert_allclose(n2, n1, rtol=0.02)
    np.testing.assert_allclose(c1.matched_gradient_ics(a2, band=(0, 100)), c1.matched_gradient_ics(a1, band=(0, 100)),
                               rtol=0.02)


# ------------------------------------------------------------------ depth pair (Y.d2)
def test_depth_pair_runs_the_two_engine_specs():
    s = {"depth": 3, "width": 16, "lr": 0.1, "batch_size": 32, "steps": 6}
    got = depth_pair.run(s, [1, 2])
    sp = depth_pair.specs(s)
    assert sp["bn"].model.norm == "bn" and sp["bn"].model.init == "default"
    assert sp["plain"].model.norm == "none" and sp["plain"].model.init == "he"
    for net, spec in sp.items():
        ref, _ = engine.train_batched(spec, [1, 2])
        for key in depth_pair.KEYS:
            np.testing.assert_array_equal(got[f"{net}.{key}"], ref[key], err_msg=f"{net}.{key}")
    with pytest.raises(ValueError, match="steps"):
        depth_pair.specs({"depth": 3, "width": 16, "lr": 0.1, "batch_size": 32})
