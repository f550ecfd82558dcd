"""The harness against a published table: MNIST-1D paper (Greydanus & Kobak 2024), Table 1.

The paper's recipe: Adam, lr 1e-2, batch 100, 6000 steps, early stopping for model selection
(the best evaluation checkpoint, every 250 steps). Table 1: MLP 68 +- 2 %, CNN 94 +- 2 % test accuracy.
"""
import numpy as np
import pytest

from bnclaims.harness.run import checks
from bnclaims.harness.spec import ModelSpec, TrainSpec

RECIPE = dict(optimizer="adam", lr=1e-2, batch_size=100, steps=6000, eval_every=250)


@pytest.mark.parametrize("model,engine_name,published,slack", [
    (ModelSpec(arch="mlp", depth=2, width=100), "batched", 0.68, 0.06),
    (ModelSpec(arch="cnn"), "reference", 0.94, 0.05),
])
def test_mnist1d_table1(model, engine_name, published, slack, claims_ctx):
    seeds = [0, 1] if engine_name == "batched" else [0]      # the CNN costs ~2.5 ms per step on one core
    arrays = checks.run(TrainSpec(model=model, **RECIPE), seeds, ctx=claims_ctx, engine=engine_name)
    best = np.nanmax(arrays["eval_test_acc"], axis=0)        # early stopping: best checkpoint per seed
    assert arrays["eval_train_acc"][-1].min() > 0.9           # it really trained
    assert abs(best.mean() - published) <= slack, f"mean best test accuracy {best.mean():.3f} vs {published}"
