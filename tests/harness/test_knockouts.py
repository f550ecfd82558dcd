"""Knock-out arms (harness.norms affine_only, bn_detach) and the knock-out declarations (claims/knockouts.py)."""

import numpy as np
import pytest
import torch

from bnclaims.claims import knockouts as ko
from bnclaims.harness import engine, nets, norms
from bnclaims.harness import spec as specmod
from bnclaims.harness.declare.design import Arm
from bnclaims.harness.spec import ModelSpec, TrainSpec

EPS = 1e-5


def _z(k=2, h=6, b=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(k, h, b, generator=g) * 3 + 1).requires_grad_(True)
    gamma = (torch.rand(k, h, generator=g) + 0.5).requires_grad_(True)
    beta = torch.randn(k, h, generator=g).requires_grad_(True)
    return z, gamma, beta


@pytest.mark.parametrize("train", [True, False])
def test_affine_only_is_exactly_z_gamma_plus_beta(train):
    z, gamma, beta = _z()
    st = norms.NormState(2, 6)
    out = norms.apply_norm("affine_only", z, st, gamma, beta, train=train, update=train, momentum=0.1, eps=EPS)
    assert torch.equal(out, z * gamma.unsqueeze(2) + beta.unsqueeze(2))
    assert torch.equal(st.mean, torch.zeros(12)) and torch.equal(st.var, torch.ones(12))   # no statistics kept


def test_affine_only_net_has_bns_parameters_and_no_normalization():
    """Same parameters and init as the BN net (gamma 1, beta 0, no bias before the norm), so at init the
    affine_only net is the bias-free plain net; train and eval give the same output."""
    m_bn, m_ao = ModelSpec(depth=2, width=8, norm="bn"), ModelSpec(depth=2, width=8, norm="affine_only")
    bn, ao = nets.StackedNet(m_bn, 5, 3, [0, 1]), nets.StackedNet(m_ao, 5, 3, [0, 1])
    assert sorted(bn.params) == sorted(ao.params)
    for n in bn.params:
        assert torch.equal(bn.params[n], ao.params[n])
    assert "b0" not in ao.params and "b2" in ao.params      # hidden layers drop their bias, as BN's do
    x = torch.randn(2, 7, 5, generator=torch.Generator().manual_seed(1))
    out_t = ao.forward(ao.params, x, train=True, update=True)
    out_e = ao.forward(ao.params, x, train=False)
    assert torch.equal(out_t, out_e)
    p, h = ao.params, x.transpose(1, 2)
    for l in range(2):                                       # the plain chain: relu(W h gamma + beta)
        h = torch.relu(torch.bmm(p[f"w{l}"], h) * p[f"g{l}"].unsqueeze(2) + p[f"be{l}"].unsqueeze(2))
    torch.testing.assert_close(out_t, torch.baddbmm(p["b2"], p["w2"], h).transpose(1, 2), atol=0, rtol=0)
    assert "affine_only" in specmod.STATELESS_NORMS and "affine_only" not in specmod.SCALE_INVARIANT_NORMS


def test_affine_only_and_bn_detach_train_in_the_engine():
    for norm in ("affine_only", "bn_detach"):
        spec = TrainSpec(model=ModelSpec(depth=2, width=32, norm=norm), steps=30, eval_every=10, lr=0.1)
        a, info = engine.train(spec, [0, 1], "batched")
        assert np.all(np.isfinite(a["train_loss"])), norm
        assert a["train_loss"][-5:].mean() < a["train_loss"][:5].mean(), norm
        assert "gamma0" in a and ("running_mean0" in a) == (norm == "bn_detach")
        ref = engine.train(spec, [0, 1], "reference")[0]          # the per-seed reference module agrees
        np.testing.assert_allclose(a["eval_train_loss"], ref["eval_train_loss"], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="CNN supports"):
        ModelSpec(arch="cnn", norm="affine_only")


def test_bn_detach_forward_is_bn_and_its_gradient_skips_the_statistics():
    z, gamma, beta = _z()
    s_bn, s_d = norms.NormState(2, 6), norms.NormState(2, 6)
    kw = dict(train=True, update=True, momentum=0.1, eps=EPS)
    out_bn = norms.apply_norm("bn", z, s_bn, gamma, beta, **kw)
    out_d = norms.apply_norm("bn_detach", z, s_d, gamma, beta, **kw)
    torch.testing.assert_close(out_d, out_bn, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(s_d.mean, s_bn.mean)
    torch.testing.assert_close(s_d.var, s_bn.var)
    w = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(3))
    g_d, = torch.autograd.grad((out_d * w).sum(), z)
    g_bn, = torch.autograd.grad((out_bn * w).sum(), z)
    zd = z.detach()
    var, mu = torch.var_mean(zd, dim=2, keepdim=True, unbiased=False)
    expect = w * gamma.detach().unsqueeze(2) / torch.sqrt(var + EPS)       # statistics as constants
    torch.testing.assert_close(g_d, expect)
    assert not torch.allclose(g_d, g_bn, atol=1e-3)
    # BN's gradient has no component along the batch mean per unit (Santurkar Thm. 4.1's projection)
    assert g_bn.sum(2).abs().max() < 1e-4 and g_d.sum(2).abs().max() > 1e-2
    ev = norms.apply_norm("bn_detach", z, s_d, gamma, beta, train=False, update=False, momentum=0.1, eps=EPS)
    torch.testing.assert_close(ev, norms.apply_norm("bn", z, s_d, gamma, beta, train=False, update=False,
                                                    momentum=0.1, eps=EPS))


def test_existing_specs_keep_their_hashes():
    assert specmod.spec_hash(TrainSpec()) == "6c1604392ed224eb"
    assert specmod.spec_hash(TrainSpec(model=ModelSpec(norm="bn", depth=3))) == "2a4bc0415c6b5dbc"


# ------------------------------------------------------------------ declarations
def test_every_knockout_builds_validates_and_changes_only_arms():
    built = ko.validate_all()
    assert len(built) == len(ko.KNOCKOUTS)
    for k, kh in zip(ko.by_key().values(), built):
        _, hyp = ko.find_vote(k.vote)
        assert kh.id.startswith(k.vote + ko.SUFFIX) and not kh.votes
        for f in ("direction", "test", "alpha", "paired", "budgets", "arms", "sequential", "margin", "expect"):
            assert getattr(kh, f) == getattr(hyp, f), (k.key, f)
        assert kh.design.metric == hyp.design.metric and kh.design.criteria == hyp.design.criteria
        changed = [a for a in hyp.design.arms if kh.design.arms[a] != hyp.design.arms[a]]
        assert changed and set(changed) <= set(k.arms), k.key
        assert ko.find_vote(k.vote)[1].design.arms == hyp.design.arms      # the vote itself is untouched


def test_every_vote_has_a_knockout_or_a_reason():
    from bnclaims.claims import CLAIMS
    votes = {h.id for c in CLAIMS for h in c.hypotheses if h.votes}
    declared = {k.vote for k in ko.KNOCKOUTS}
    assert votes <= declared | set(ko.NO_KNOCKOUT), sorted(votes - declared - set(ko.NO_KNOCKOUT))
    assert not declared & set(ko.NO_KNOCKOUT)


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="replaces at least one arm"):
        ko.KnockOut("C1.a", "C1.2", "x", {})
    with pytest.raises(ValueError, match="which C1.a does not declare"):
        ko.knocked_out(ko.KnockOut("C1.a", "C1.2", "x", {"nope": {"model_norm": "none"}}))
    with pytest.raises(ValueError, match="leaves every arm"):
        ko.knocked_out(ko.KnockOut("C1.a", "C1.2", "x", {"none": {"model_norm": "none"}}))
    with pytest.raises(ValueError, match="no settings"):
        ko.knocked_out(ko.KnockOut("Y.c", "Y.2", "x", {"bn_relu": {"nonsense": 1}}))
    with pytest.raises(ValueError, match="unknown norm"):
        ko.knocked_out(ko.KnockOut("C1.a", "C1.2", "x", {"bn": {"model_norm": "affine"}}))
    whole = ko.knocked_out(ko.KnockOut("C1.a", "C1.2", "x", {"bn": "none"}))
    assert whole.design.arms["bn"] == whole.design.arms["none"]
    arm = Arm(TrainSpec(model=ModelSpec(norm="ln")))
    assert ko.knocked_out(ko.KnockOut("C1.a", "C1.2", "x", {"bn": arm})).design.arms["bn"] is arm


def test_benchmark_writes_the_declared_schema(tmp_path, capsys):
    """benchmarks/knockouts.py through the runner and a fresh store (smoke profile: plumbing only, died is null);
    a second run reads the store and writes the same file."""
    import importlib.util
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "knockouts.py"
    spec = importlib.util.spec_from_file_location("bench_knockouts", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "ko.json"
    args = ["--profile", "smoke", "--seed-base", "77", "--ids", "Y.c", "--store", str(tmp_path / "store"),
            "--out", str(out)]
    bench.main(args)
    doc = json.loads(out.read_text())
    assert set(doc) == {"schema", "seed_base", "profile", "commit", "declarations_sha256", "rows"}
    assert doc["schema"] == 1 and doc["declarations_sha256"] == ko.declarations_sha256()
    (row,) = doc["rows"]
    assert {"vote", "subclaim", "removes", "vote_verdict", "vote_effect", "knockout_verdict", "knockout_effect",
            "knockout_ci", "knockout_p", "died"} <= set(row)
    assert row["vote"] == "Y.c" and row["knockout_verdict"] == "smoke" and row["died"] is None
    first = out.read_text()
    bench.main(args)
    assert out.read_text() == first
    assert "| Y.c |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown knock-out"):
        bench.main(["--ids", "Z.z", "--out", str(out)])
