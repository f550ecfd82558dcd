"""The paper profile's VGG (harness/vgg.py): K seeds batched with grouped convolutions train exactly as the
per-seed loop does (losses, weights and BN running statistics at float32 tolerances), with and without BN."""
from __future__ import annotations

import pytest
import torch

from bnclaims.harness import engine  # noqa: F401  (one torch thread)
from bnclaims.harness.vgg import GroupedVGG, VGGSpec, step_losses, vgg

SEEDS = (0, 1, 2)
STEPS, BATCH, LR = 4, 8, 0.05


@pytest.mark.parametrize("norm", ["none", "bn"])
def test_grouped_seeds_match_the_per_seed_loop(norm):
    spec = VGGSpec(norm=norm, width=1 / 16)
    members = [vgg(spec, s) for s in SEEDS]
    batched = GroupedVGG(spec, [vgg(spec, s) for s in SEEDS])
    g = torch.Generator().manual_seed(7)
    data = [(torch.randn(BATCH, len(SEEDS), 3, 32, 32, generator=g),
             torch.randint(0, 10, (BATCH, len(SEEDS)), generator=g)) for _ in range(STEPS)]
    opt_b = torch.optim.SGD(batched.parameters(), lr=LR)
    opts = [torch.optim.SGD(m.parameters(), lr=LR) for m in members]
    for x, y in data:                      # member k trains on its own batch x[:, k]
        opt_b.zero_grad()
        lb = step_losses(batched, x, y)
        lb.sum().backward()                # members are independent: each gradient is its own loss's
        opt_b.step()
        for k, (m, o) in enumerate(zip(members, opts)):
            o.zero_grad()
            loss = torch.nn.functional.cross_entropy(m(x[:, k]), y[:, k])
            loss.backward()
            o.step()
            torch.testing.assert_close(lb[k].detach(), loss.detach(), rtol=1e-5, atol=1e-6)
    for k, m in enumerate(members):
        state = m.state_dict()
        for name, v in batched.member_weights(k).items():
            torch.testing.assert_close(v.detach(), state[name], rtol=1e-4, atol=1e-6, msg=f"member {k} {name}")
    x = data[0][0]
    batched.eval()
    with torch.no_grad():                  # eval mode reads each member's own running statistics
        out = batched(x)
        for k, m in enumerate(members):
            m.eval()
            torch.testing.assert_close(out[:, k], m(x[:, k]), rtol=1e-4, atol=1e-5)


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="VGG norm must be none or bn"):
        vgg(VGGSpec(norm="ln"), 0)


def test_training_on_a_synthetic_cifar_folder_batched_equals_per_seed(tmp_path):
    """The paper profile's data path on CPU: a synthetic folder in CIFAR-10's binary format, read, checked and
    standardized; a few SGD steps batched over seeds equal the per-seed loop."""
    from bnclaims.harness import userdata as ud
    from bnclaims.harness.vgg import standardize, train
    ud.write_synthetic(ud.CIFAR10, tmp_path, records=16)
    xtr, ytr, _, _, hashes = ud.load(ud.CIFAR10, tmp_path, allow_synthetic=True)
    assert len(hashes) == 6
    x, _, _ = standardize(xtr)
    y = torch.as_tensor(ytr)
    spec = VGGSpec(norm="bn", width=1 / 16)
    a = train(spec, [3, 4], x, y, steps=3, lr=0.1, batch=8)
    b = train(spec, [3, 4], x, y, steps=3, lr=0.1, batch=8, batched=False)
    assert a.shape == (3, 2) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
