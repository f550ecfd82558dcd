"""The grad_norms_at_init routine: squared weight-gradient norms per hidden layer against a plain torch.nn
reference (nn.Linear / nn.BatchNorm1d, autograd) on the same drawn weights and batch."""
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bnclaims.harness import routines
from bnclaims.harness.routines import grad_norms

TINY = {"batch": 6, "depth": 4, "width": 8, "d_in": 5, "classes": 3, "bn_eps": 1e-5}


def reference_sq_norms(settings, seed):
    """The same network built from torch.nn modules; gradients by loss.backward()."""
    x, labels, ws, w_out = grad_norms.draw(settings, seed)
    act = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "linear": nn.Identity()}[settings["activation"]]
    linears, layers = [], []
    for w in ws:
        lin = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            lin.weight.copy_(w)
        linears.append(lin)
        layers.append(lin)
        if settings["bn"]:
            layers.append(nn.BatchNorm1d(w.shape[0], eps=settings["bn_eps"]))     # gamma 1, beta 0, batch stats
        layers.append(act)
    out = nn.Linear(w_out.shape[1], w_out.shape[0], bias=False)
    with torch.no_grad():
        out.weight.copy_(w_out)
    net = nn.Sequential(*layers, out).train()
    F.cross_entropy(net(x), labels).backward()
    return np.array([float(lin.weight.grad.double().pow(2).sum()) for lin in linears])


@pytest.mark.parametrize("activation,bn,init", list(itertools.product(("relu", "tanh", "linear"), (True, False),
                                                                       ("default", "he"))))
def test_sq_norms_match_torch_nn_reference(activation, bn, init):
    settings = {**TINY, "activation": activation, "bn": bn, "init": init}
    got = grad_norms.run(settings, [0, 1])["sq_norms"]
    assert got.shape == (2, TINY["depth"])
    for i, seed in enumerate((0, 1)):
        ref = reference_sq_norms(settings, seed)
        assert np.all(ref > 0)
        np.testing.assert_allclose(got[i], ref, rtol=1e-5, atol=0)


def test_seeds_draw_different_networks_and_repeat_exactly():
    settings = {**TINY, "activation": "relu", "bn": True, "init": "default"}
    a, b = grad_norms.run(settings, [3, 4])["sq_norms"], grad_norms.run(settings, [3])["sq_norms"]
    assert np.array_equal(a[0], b[0])
    assert not np.allclose(a[0], a[1])


def test_default_init_is_torch_linear_uniform_and_he_is_gaussian():
    _, _, ws, _ = grad_norms.draw({**TINY, "init": "default", "depth": 1, "width": 4000}, 0)
    assert float(ws[0].abs().max()) <= 1 / np.sqrt(TINY["d_in"])
    _, _, ws, _ = grad_norms.draw({**TINY, "init": "he", "depth": 1, "width": 4000}, 0)
    assert abs(float(ws[0].var()) - 2 / TINY["d_in"]) < 0.05 * 2 / TINY["d_in"]


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation"):
        grad_norms.sq_norms({**TINY, "activation": "gelu", "bn": True, "init": "default"}, 0)


def test_registered_as_analytic_and_independent_of_claims():
    r = routines.get("grad_norms_at_init")
    assert r.engine == "analytic" and r.load() is grad_norms.run
    src = Path(grad_norms.__file__).read_text()
    assert "import claims" not in src and "from claims" not in src
