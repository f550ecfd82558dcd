"""The check runner: two-arm checks through the store, the two-stage sequential plan, smoke records."""
import dataclasses

import numpy as np
import pytest

from harness import checks
from harness.context import RunContext
from harness.hypothesis import Budget, Claim, Hypothesis
from harness.spec import ModelSpec, TrainSpec

SPEC = TrainSpec(model=ModelSpec(depth=2, width=16), lr=0.1, steps=40, eval_every=20)
HYP = Hypothesis(id="T.a", claim="T", title="t", statement="BN lowers the final train loss", source="test",
                 stance="supports", metric="final full-train loss", arms=("bn", "none"), direction="less",
                 test="welch", budgets={"smoke": Budget(2), "ci": Budget(10), "full": Budget(10)},
                 sequential=True)
CLAIM = Claim(id="T", article_text="t", source="test", hypotheses=(HYP,))


def final_loss(arrays, arm):
    return arrays["eval_train_loss"][-1]


def test_sequential_plan_stops_early_on_a_decisive_effect(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    ev = checks.two_arm(HYP, CLAIM, ctx, {"bn": SPEC.replace(model_norm="bn", lr=1.0), "none": SPEC},
                        final_loss)
    plan = ev["stats"]["sequential"]
    assert ev["verdict"] == "reproduced" and plan["stopped_at"] == 1
    assert len(ev["arms"]["bn"]["values"]) == 5             # the second half was never trained
    assert ev["stats"]["alpha"] == pytest.approx(plan["boundaries_p"][0])


def test_sequential_plan_runs_stage_two_and_keeps_alpha_when_there_is_no_effect(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    ev = checks.two_arm(HYP, CLAIM, ctx, {"bn": SPEC, "none": SPEC}, final_loss)    # negative control
    assert ev["verdict"] == "inconclusive"
    assert ev["stats"]["sequential"]["stopped_at"] == 2 and len(ev["arms"]["bn"]["values"]) == 10
    p1, p2 = ev["stats"]["sequential"]["boundaries_p"]
    assert p1 < p2 < HYP.alpha


def test_smoke_profile_records_descriptive_stats_when_seeds_are_too_few(tmp_path):
    hyp = dataclasses.replace(HYP, test="mannwhitney", sequential=False)
    ev = checks.two_arm(hyp, CLAIM, RunContext(profile="smoke", store=str(tmp_path)),
                        {"bn": SPEC.replace(model_norm="bn"), "none": SPEC}, final_loss)
    assert ev["verdict"] == "smoke" and "smoke profile" in ev["stats"]["reason"]
    with pytest.raises(Exception, match="cannot reach"):
        checks.two_arm(dataclasses.replace(hyp, budgets={"ci": Budget(2)}), CLAIM, RunContext(store=str(tmp_path)),
                       {"bn": SPEC.replace(model_norm="bn"), "none": SPEC}, final_loss)


def test_lr_grid_is_one_ensemble_split_per_rate(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    grid = checks.lr_grid_run(SPEC, [0.01, 0.3], [0, 1], ctx=ctx)
    alone = checks.run(SPEC.replace(lr=0.3), [0, 1], ctx=ctx)
    assert grid[0.3]["eval_train_loss"].shape == alone["eval_train_loss"].shape
    np.testing.assert_allclose(grid[0.3]["train_loss"], alone["train_loss"], atol=1e-5)
    assert not np.allclose(grid[0.01]["train_loss"], grid[0.3]["train_loss"])


def test_deterministic_check_fails_on_nan_and_names_the_case():
    hyp = dataclasses.replace(HYP, direction="deterministic", test="deterministic", sequential=False)
    ev = checks.deterministic(hyp, CLAIM, RunContext(), {"fine": 0.1, "broken": float("nan")}, 1.0, what="error")
    assert ev["verdict"] == "not reproduced" and "broken" in ev["stats"]["reason"]
    ev = checks.deterministic(hyp, CLAIM, RunContext(), {"a": 0.5, "b": 0.9}, 1.0, what="error")
    assert ev["verdict"] == "reproduced"
