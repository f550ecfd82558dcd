"""The batched-seed engine against the per-seed reference, determinism, divergence, probes."""
import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from bnclaims.harness import engine
from bnclaims.harness.spec import ModelSpec, TrainSpec

SEEDS = [3, 4, 5]


def _pair(spec, seeds=SEEDS):
    return engine.train(spec, seeds, "batched")[0], engine.train(spec, seeds, "reference")[0]


@pytest.mark.parametrize("model,steps,opt", [
    (ModelSpec(depth=3, width=32), 50, dict(lr=0.1)),
    (ModelSpec(depth=3, width=32, activation="sigmoid", init="small_gaussian"), 50, dict(lr=0.5, momentum=0.9)),
    (ModelSpec(depth=2, width=32, activation="tanh"), 50, dict(optimizer="adam", lr=1e-2)),
    (ModelSpec(depth=3, width=32, norm="bn"), 10, dict(lr=0.1)),
    (ModelSpec(depth=3, width=32, norm="bn"), 10, dict(optimizer="adam", lr=1e-2)),
    (ModelSpec(depth=3, width=32, norm="bn_noaffine"), 10, dict(lr=0.1, momentum=0.9)),
    (ModelSpec(depth=3, width=32, norm="noisy_bn"), 10, dict(lr=0.1)),
    (ModelSpec(depth=3, width=32, norm="ghost_bn", ghost_size=16), 10, dict(lr=0.1)),
    (ModelSpec(depth=3, width=32, norm="l1"), 10, dict(lr=0.1)),
    (ModelSpec(depth=3, width=32, norm="linf"), 10, dict(lr=0.1)),
    (ModelSpec(depth=3, width=32, norm="ln"), 10, dict(lr=0.1, momentum=0.9)),
    (ModelSpec(depth=3, width=32, norm="ln"), 10, dict(optimizer="adam", lr=1e-2)),
    (ModelSpec(depth=3, width=32, norm="gn", groups=4), 10, dict(lr=0.1, momentum=0.9)),
    (ModelSpec(depth=3, width=32, norm="wn_mobn"), 10, dict(lr=0.1, momentum=0.9)),
    # Adam at lr 1e-3: at 1e-2 one seed's loss parts by 1e-3 within 10 steps. Gradient components that are
    # zero in exact arithmetic (weight normalization projects v's gradient off v) are float residue of
    # order 1e-9 whose value depends on the summation order, and Adam divides them by sqrt(v) + 1e-8.
    (ModelSpec(depth=3, width=32, norm="wn_mobn"), 10, dict(optimizer="adam", lr=1e-3)),
    (ModelSpec(depth=3, width=32, norm="bn_pop"), 10, dict(lr=0.1, momentum=0.9)),
    (ModelSpec(depth=3, width=32, norm="noisy_none"), 20, dict(lr=0.05)),
])
def test_batched_matches_reference(model, steps, opt):
    spec = TrainSpec(model=model, steps=steps, eval_every=5, **opt)
    a, b = _pair(spec)
    assert a["train_loss"].shape == (steps, len(SEEDS))
    assert np.max(np.abs(a["train_loss"] - b["train_loss"])) <= 1e-5
    assert np.max(np.abs(a["eval_test_loss"] - b["eval_test_loss"])) <= 1e-5
    for key in a:
        if key.startswith("running_"):
            np.testing.assert_allclose(a[key], b[key], atol=1e-5, rtol=1e-5, err_msg=key)
    if model.norm not in ("none", "ln", "gn", "noisy_none"):       # LayerNorm and GroupNorm keep no running statistics
        assert any(k.startswith("running_mean") for k in a)


def test_deep_linear_and_masks_match_reference():
    dln = TrainSpec(model=ModelSpec(arch="dln", depth=8, width=10, activation="linear", init="glorot",
                                    norm="bn", bias=False), data="dln", batch_size=0, lr=1e-3, steps=10)
    a, b = _pair(dln, [0, 1])
    assert np.max(np.abs(a["train_loss"] - b["train_loss"])) <= 1e-5 * max(1, np.abs(b["train_loss"]).max())
    for trainable in ("bn_affine", "random_linear"):
        spec = TrainSpec(model=ModelSpec(depth=2, width=32, norm="bn"), trainable=trainable, freeze_output=True,
                         lr=0.1, momentum=0.9, steps=20, eval_every=10)
        a, b = _pair(spec, [0, 1])
        assert np.max(np.abs(a["train_loss"] - b["train_loss"])) <= 1e-5


def test_ghost_bn_against_per_chunk_batch_norm():
    """Ghost BN checked against an independent computation: F.batch_norm on each ghost chunk."""
    import torch.nn.functional as F
    from bnclaims.harness import norms
    g = torch.Generator().manual_seed(0)
    k, h, b, ghost = 3, 5, 32, 8
    z = torch.randn(k, h, b, generator=g) * 3 + 1
    gamma, beta = torch.randn(k, h, generator=g), torch.randn(k, h, generator=g)
    state = norms.NormState(k, h)
    out = norms.ghost_batch_norm(z, state, gamma, beta, ghost=ghost, train=True, update=True, momentum=0.1, eps=1e-5)
    for j in range(k):
        for c in range(b // ghost):
            chunk = z[j, :, c * ghost:(c + 1) * ghost].T                    # [G, H]
            ref = F.batch_norm(chunk, None, None, gamma[j], beta[j], training=True, eps=1e-5)
            torch.testing.assert_close(out[j, :, c * ghost:(c + 1) * ghost].T, ref, atol=1e-5, rtol=1e-5)
    chunks = z.view(k, h, b // ghost, ghost)
    torch.testing.assert_close(state.mean.view(k, h), 0.1 * chunks.mean(3).mean(2))
    torch.testing.assert_close(state.var.view(k, h), 0.9 + 0.1 * chunks.var(3, unbiased=True).mean(2))


def test_bn_and_plain_arms_share_linear_init():
    from bnclaims.harness.nets import init_params
    p1 = init_params(ModelSpec(norm="none"), 40, 10, 7)
    p2 = init_params(ModelSpec(norm="bn"), 40, 10, 7)
    assert all(torch.equal(x["w"], y["w"]) for x, y in zip(p1, p2))


def test_seeds_do_not_depend_on_ensemble_company():
    spec = TrainSpec(model=ModelSpec(depth=2, width=16, norm="bn"), steps=20, eval_every=10)
    alone = engine.train(spec, [4])[0]["train_loss"][:, 0]
    together = engine.train(spec, [1, 4, 9])[0]["train_loss"][:, 1]
    assert np.max(np.abs(alone - together)) <= 1e-5


def test_probes_do_not_disturb_training():
    base = TrainSpec(model=ModelSpec(depth=3, width=32, norm="noisy_bn"), steps=30, eval_every=10, lr=0.05,
                     momentum=0.9)
    probed = base.replace(probes=("ics", "drift", "landscape"), probe_every=5, probe_layers=(1, 2))
    a, _ = engine.train(base, [0, 1])
    b, _ = engine.train(probed, [0, 1])
    np.testing.assert_array_equal(a["train_loss"], b["train_loss"])
    np.testing.assert_array_equal(a["running_mean1"], b["running_mean1"])
    np.testing.assert_array_equal(a["eval_test_loss"], b["eval_test_loss"])
    assert b["probe_ics_cos"].shape == (6, 2, 2)
    assert b["probe_post_mean"].shape == (6, 2, 3, 32)
    assert np.all(np.isfinite(b["probe_land_loss_range"]))


def test_ics_probe_is_exact_without_earlier_layers_moving():
    """For the first layer nothing before it moves, so G' = G: cos 1, relative difference 0."""
    spec = TrainSpec(model=ModelSpec(depth=3, width=32, norm="bn"), steps=10, probes=("ics",), probe_every=5,
                     probe_layers=(0, 2))
    a, _ = engine.train(spec, [0, 1])
    np.testing.assert_allclose(a["probe_ics_cos"][:, :, 0], 1.0, atol=1e-5)
    assert np.all(a["probe_ics_rel"][:, :, 0] < 1e-4)
    assert np.all(a["probe_ics_rel"][:, :, 1] > 1e-4)       # later layers do see a shift
    assert np.all(a["probe_ics_move"][:, :, 0] == 0) and np.all(a["probe_ics_move"][:, :, 1] > 0)
    # at the first probe both runs sit at the same weights with the same gradient: plain SGD's move is lr-linear
    b, _ = engine.train(spec.replace(lr=2 * spec.lr), [0, 1])
    np.testing.assert_allclose(b["probe_ics_move"][0, :, 1], 2 * a["probe_ics_move"][0, :, 1], rtol=1e-5)


def test_effective_rate_landscape_steps():
    """landscape_eff: without scale-invariant weights (plain net) it is the nominal landscape probe exactly; with
    BN it equals it at step 0 (|W_t| = |W_0|) and later scales BN's weight steps by (|W_t| / |W_0|)^2, which
    the probe reports; and the probe leaves training untouched."""
    base = TrainSpec(model=ModelSpec(depth=3, width=32), steps=60, eval_every=20, lr=0.3,
                     probes=("landscape", "landscape_eff"), probe_every=20)
    plain, _ = engine.train(base, [0, 1])
    for key in ("loss_range", "fo_range", "grad_pred"):
        np.testing.assert_array_equal(plain[f"probe_land_eff_{key}"], plain[f"probe_land_{key}"])
    np.testing.assert_array_equal(plain["probe_land_eff_scale"], 1.0)
    bn_spec = base.replace(model_norm="bn")
    bn, _ = engine.train(bn_spec, [0, 1])
    for key in ("loss_range", "fo_range", "grad_pred"):
        np.testing.assert_allclose(bn[f"probe_land_eff_{key}"][0], bn[f"probe_land_{key}"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn["probe_land_eff_scale"][0], 1.0, rtol=1e-6)
    assert np.all(bn["probe_land_eff_scale"][1:] > 1.0)          # BN's hidden weights grow under SGD
    assert not np.allclose(bn["probe_land_eff_loss_range"][1:], bn["probe_land_loss_range"][1:])
    alone, _ = engine.train(bn_spec.replace(probes=("landscape",)), [0, 1])
    np.testing.assert_array_equal(alone["train_loss"], bn["train_loss"])


@pytest.mark.parametrize("kind,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_optimizer_peek_equals_the_step_taken(kind, momentum):
    """deltas(commit=False), which the ICS probe reads to move earlier layers by the step about to be
    taken, is bit-identical to the step the engine then takes (commit=True) and leaves no trace."""
    spec = TrainSpec(optimizer=kind, momentum=momentum, lr=0.1 if kind == "sgd" else 1e-3)
    g = torch.Generator().manual_seed(0)
    shapes = {"w0": (3, 5, 4), "b0": (3, 5, 1), "g0": (3, 5)}
    peeked, plain = engine.StackedOptimizer(spec), engine.StackedOptimizer(spec)
    params = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
    lr = torch.tensor([0.1, 0.05, 0.0])
    for _ in range(4):
        grads = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
        peek = peeked.deltas(params, grads, lr, commit=False)
        taken = peeked.deltas(params, grads, lr, commit=True)
        reference = plain.deltas(params, grads, lr, commit=True)
        for n in shapes:
            assert torch.equal(peek[n], taken[n]) and torch.equal(taken[n], reference[n])
            params[n].add_(taken[n])
    assert peeked.t == plain.t == 4


@pytest.mark.parametrize("kind,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_in_place_step_equals_adding_the_deltas(kind, momentum):
    """step_ (the engine's fused update) takes, bit for bit, the step that adding deltas(commit=True) takes, and
    advances the optimizer the same way."""
    spec = TrainSpec(optimizer=kind, momentum=momentum, lr=0.1 if kind == "sgd" else 1e-3)
    g = torch.Generator().manual_seed(1)
    shapes = {"w0": (3, 5, 4), "b0": (3, 5, 1), "g0": (3, 5)}
    fused, plain = engine.StackedOptimizer(spec), engine.StackedOptimizer(spec)
    p1 = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
    p2 = {n: t.clone() for n, t in p1.items()}
    lr = torch.tensor([0.1, 0.05, 0.0])
    for _ in range(4):
        grads = {n: torch.randn(s, generator=g) * 3 for n, s in shapes.items()}
        fused.step_(p1, grads, lr)
        for n, d in plain.deltas(p2, grads, lr, commit=True).items():
            p2[n].add_(d)
        assert all(torch.equal(p1[n], p2[n]) for n in shapes)
    assert fused.t == plain.t == 4


def test_evaluation_in_chunks_of_rows_matches_one_pass(monkeypatch):
    """evaluate() forwards a few hundred rows at a time; eval mode treats rows alone, so chunks give one pass's
    losses and accuracies up to float rounding of the sums."""
    from bnclaims.harness import data, nets
    spec = TrainSpec(model=ModelSpec(depth=2, width=32, norm="bn"), steps=30, eval_every=10)
    ds = data.load(spec.data, spec.data_seed)
    net = nets.StackedNet(spec.model, ds.x.shape[1], ds.n_out, [0, 1])
    monkeypatch.setattr(engine, "EVAL_CHUNK_FLOATS", 10 ** 9)
    whole = engine.evaluate(net, net.params, ds)
    monkeypatch.setattr(engine, "EVAL_CHUNK_FLOATS", 1)            # 64 rows a chunk
    assert engine.eval_rows(2, 32) == 64
    chunked = engine.evaluate(net, net.params, ds)
    for key in whole:
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-6, atol=0)
    o = net.forward(net.params, ds.x_test.unsqueeze(0).expand(2, -1, -1), train=False)
    direct = torch.nn.functional.cross_entropy(o.reshape(-1, ds.n_out), ds.y_test.repeat(2), reduction="none")
    np.testing.assert_allclose(chunked["test_loss"], direct.detach().view(2, -1).mean(1).numpy(), rtol=1e-6)


def test_unit_moments_where_the_answer_is_known():
    """The probes' mean and biased variance over the last axis: against torch.var_mean, and exact on a pure shift
    and rescaling of the same rows."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(3, 4, 512, generator=g)
    mean, var = engine.unit_moments(z)
    ref_var, ref_mean = torch.var_mean(z, dim=2, unbiased=False)
    torch.testing.assert_close(mean, ref_mean, atol=1e-6, rtol=0)
    torch.testing.assert_close(var, ref_var, atol=1e-6, rtol=1e-5)
    m2, v2 = engine.unit_moments(z * 4 + 3)             # powers of two: exact in float
    torch.testing.assert_close(m2, mean * 4 + 3, atol=1e-5, rtol=0)
    torch.testing.assert_close(v2, var * 16, rtol=1e-5, atol=0)


def test_keeping_freed_memory_is_set_on_linux():
    """The engine asks glibc to keep freed blocks (no page faults on each step's tensors); elsewhere it is a no-op."""
    assert engine.MALLOC_TUNED is engine.keep_freed_memory()
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            ctypes.CDLL(None).gnu_get_libc_version
        except AttributeError:
            pytest.skip("not glibc")
        assert engine.MALLOC_TUNED


def test_divergence_is_recorded_not_raised():
    spec = TrainSpec(model=ModelSpec(depth=3, width=64), lr=50.0, steps=60, eval_every=20)
    for eng in ("batched", "reference"):
        a, info = engine.train(spec, [0, 1], eng)
        assert np.all(a["diverged_at"] >= 0), eng
        assert info["diverged"] == 2
        assert np.isnan(a["eval_test_loss"][-1]).all()
    # one seed diverging, one not: both engines still report the same checkpoints for every seed
    mixed = TrainSpec(model=ModelSpec(depth=3, width=64), lr=5.0, steps=200, eval_every=20)
    for eng in ("batched", "reference"):
        a, _ = engine.train(mixed, [0, 1, 2, 3, 4, 5], eng)
        assert a["eval_test_loss"].shape == (11, 6)
        # (near divergence the dynamics are chaotic, so the two engines need not diverge at the same step)
        assert 0 < (a["diverged_at"] >= 0).sum() < 6, "lr 5.0 diverges some seeds but not all"
        alive = a["diverged_at"] < 0
        assert np.isfinite(a["eval_test_loss"][-1, alive]).all() and np.isnan(a["eval_test_loss"][-1, ~alive]).all()
    # a diverging member does not poison its ensemble neighbours
    both, _ = engine.train(spec.replace(lr=0.1), [0, 1], lrs=[50.0, 0.1])
    assert both["diverged_at"][0] >= 0 and both["diverged_at"][1] == -1
    assert np.isfinite(both["train_loss"][:, 1]).all()


def test_bad_spec_values_raise_clearly():
    with pytest.raises(ValueError, match="unknown norm"):
        ModelSpec(norm="layer")
    with pytest.raises(ValueError, match="lr must be"):
        TrainSpec(lr=0)
    with pytest.raises(ValueError, match="unknown engine"):
        engine.train(TrainSpec(steps=1), [0], "gpu")
    with pytest.raises(ValueError, match="unknown probes"):
        TrainSpec(probes=("hessian",), probe_every=5)
    with pytest.raises(ValueError, match="out of range"):
        TrainSpec(probes=("ics",), probe_every=5, probe_layers=(7,))
    with pytest.raises(ValueError, match="multiple of ghost size"):
        TrainSpec(model=ModelSpec(norm="ghost_bn", ghost_size=48), batch_size=64)
    with pytest.raises(ValueError, match="the CNN supports"):
        ModelSpec(arch="cnn", norm="noisy_bn")
    with pytest.raises(ValueError, match="reference engine"):
        engine.train(TrainSpec(model=ModelSpec(arch="cnn"), steps=1), [0])


_SCRIPT = """
import json, sys
from bnclaims.harness import engine
from bnclaims.harness.spec import ModelSpec, TrainSpec
spec = TrainSpec(model=ModelSpec(depth=2, width=32, norm="noisy_bn"), steps=25, eval_every=10, momentum=0.9)
a, info = engine.train(spec, [0, 1])
print(json.dumps({"loss": a["train_loss"].tolist(), "acc": a["eval_test_acc"].tolist(), "threads": info["threads"]}))
"""


def test_fresh_process_determinism():
    """A fresh interpreter gives the same numbers as this one, which has already run other tests."""
    fresh = json.loads(subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                                      check=True).stdout)
    here = io.StringIO()
    with contextlib.redirect_stdout(here):
        exec(_SCRIPT, {})
    assert json.loads(here.getvalue()) == fresh
    assert fresh["threads"] == 1
