"""The runner: declared two-arm checks through the store, the two-stage sequential plan, smoke records,
grids, criteria and deterministic checks; and the store-key rule (a key covers the code behind it)."""
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnclaims.harness.run import checks, runner
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.declare.design import Arm, Control, Criterion, Design, Metric, errors, reduction
from bnclaims.harness.declare.hypothesis import Budget, Claim, Hypothesis
from bnclaims.harness.spec import ModelSpec, TrainSpec

SPEC = TrainSpec(model=ModelSpec(depth=2, width=16), lr=0.1, steps=40, eval_every=20)
HYP = Hypothesis(id="T.a", claim="T", title="t", statement="BN lowers the final train loss", source="test",
                 stance="supports", metric="final full-train loss", arms=("bn", "none"), direction="less",
                 test="welch", budgets={"smoke": Budget(2), "ci": Budget(10), "full": Budget(10)},
                 sequential=True)
CLAIM = Claim(id="T", article_text="t", source="test", hypotheses=(HYP,))


@reduction("T.final_loss")
def final_loss(arrays):
    return arrays["eval_train_loss"][-1]


def check(hyp, ctx, arms, control=None, **kw):
    hyp = dataclasses.replace(hyp, design=Design({k: Arm(v) for k, v in arms.items()}, Metric("T.final_loss"), **kw))
    return runner.run_check(hyp, CLAIM, ctx, control)


def test_sequential_plan_stops_early_on_a_decisive_effect(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    ev = check(HYP, ctx, {"bn": SPEC.replace(model_norm="bn", lr=1.0), "none": SPEC})
    plan = ev["stats"]["sequential"]
    assert ev["verdict"] == "reproduced" and plan["stopped_at"] == 1
    assert len(ev["arms"]["bn"]["values"]) == 5             # the second half was never trained
    assert ev["stats"]["alpha"] == pytest.approx(plan["boundaries_p"][0])


def test_sequential_plan_runs_stage_two_and_keeps_alpha_when_there_is_no_effect(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    ev = check(HYP, ctx, {"bn": SPEC.replace(model_norm="bn", lr=1.0), "none": SPEC}, "same",
               controls=(Control("same", "bn arm is the plain spec", arms={"bn": "none"}),))    # a control
    assert ev["extra"]["control"] == "same"
    assert ev["verdict"] == "inconclusive"
    assert ev["stats"]["sequential"]["stopped_at"] == 2 and len(ev["arms"]["bn"]["values"]) == 10
    p1, p2 = ev["stats"]["sequential"]["boundaries_p"]
    assert p1 < p2 < HYP.alpha


def test_smoke_profile_records_descriptive_stats_when_seeds_are_too_few(tmp_path):
    hyp = dataclasses.replace(HYP, test="mannwhitney", sequential=False)
    ev = check(hyp, RunContext(profile="smoke", store=str(tmp_path)), {"bn": SPEC.replace(model_norm="bn"),
                                                                       "none": SPEC})
    assert ev["verdict"] == "smoke" and "smoke profile" in ev["stats"]["reason"]
    with pytest.raises(Exception, match="cannot reach"):
        check(dataclasses.replace(hyp, budgets={"ci": Budget(2)}), RunContext(store=str(tmp_path)),
              {"bn": SPEC.replace(model_norm="bn"), "none": SPEC})


def test_lr_grid_is_one_ensemble_split_per_rate(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    grid = checks.lr_grid_run(SPEC, [0.01, 0.3], [0, 1], ctx=ctx)
    alone = checks.run(SPEC.replace(lr=0.3), [0, 1], ctx=ctx)
    assert grid[0.3]["eval_train_loss"].shape == alone["eval_train_loss"].shape
    np.testing.assert_allclose(grid[0.3]["train_loss"], alone["train_loss"], atol=1e-5)
    assert not np.allclose(grid[0.01]["train_loss"], grid[0.3]["train_loss"])


@errors("T.errors")
def _errors(runs, **cases):
    return dict(cases)


def test_deterministic_check_fails_on_nan_and_names_the_case():
    hyp = dataclasses.replace(HYP, direction="deterministic", test="deterministic", sequential=False, role="identity")

    def det(**cases):
        return runner.run_check(dataclasses.replace(hyp, design=Design({}, errors="T.errors", error_params=cases,
                                                                       tolerance=1.0)), CLAIM, RunContext())
    ev = det(fine=0.1, broken=float("nan"))
    assert ev["verdict"] == "not reproduced" and "broken" in ev["stats"]["reason"]
    assert det(a=0.5, b=0.9)["verdict"] == "reproduced"


@reduction("T.grid_mean_loss")
def _mean_loss(arrays):
    return arrays["eval_train_loss"].mean(0)


def test_grid_arm_selects_the_best_rate_and_criteria_override_the_test(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    hyp = dataclasses.replace(HYP, sequential=False, budgets={"ci": Budget(4)})
    grid = Arm(SPEC.replace(model_norm="bn"), lrs=(0.01, 1.0))
    d = Design({"bn": grid, "none": Arm(SPEC, lrs=(0.01, 1.0))}, Metric("T.final_loss", select="T.grid_mean_loss"))
    ev = runner.run_check(dataclasses.replace(hyp, design=d), CLAIM, ctx)
    assert ev["arms"]["bn"]["spec"]["lr"] == 1.0                     # the rate with the lowest mean AUC
    assert ev["verdict"] == "reproduced"
    bad = Criterion("BN loss below 0.01", "bn", "<", 0.01)            # a claim criterion that fails
    ev = runner.run_check(dataclasses.replace(hyp, design=dataclasses.replace(d, criteria=(bad,))), CLAIM, ctx)
    assert ev["verdict"] == "not reproduced" and ev["stats"]["criteria"] == {"BN loss below 0.01": False}
    gate = Criterion("plain trains", "none", "<", 0.0, stat="each", on_fail="inconclusive")
    ev = runner.run_check(dataclasses.replace(hyp, design=dataclasses.replace(d, criteria=(gate,))), CLAIM, ctx)
    assert ev["verdict"] == "inconclusive" and ev["stats"]["verdict_ungated"] == "reproduced"


def test_fixed_comparator_arm(tmp_path):
    hyp = dataclasses.replace(HYP, direction="greater", sequential=False, budgets={"ci": Budget(4)})
    d = Design({"bn": Arm(SPEC.replace(model_norm="bn")), "none": Arm(constant=0.0)}, Metric("T.final_loss"))
    ev = runner.run_check(dataclasses.replace(hyp, design=d), CLAIM, RunContext(store=str(tmp_path)))
    assert ev["arms"]["none"]["values"] == [0.0] * 4 and ev["verdict"] == "reproduced"


# ---- store-key rule: a key covers all the code that produced the entry's numbers ----------------

def _keys(root: Path) -> tuple[str, str]:
    code = ("from bnclaims.harness import routines, store\nfrom bnclaims.harness.run import checks\n"
            "from bnclaims.harness.spec import TrainSpec\n"
            "routines.register('edited_routine', 'bnclaims.harness.routines.edited:run')\n"
            "print(store.key_of(checks.run_key(TrainSpec(), [0, 1])))\n"
            "print(store.key_of(checks.routine_key('edited_routine', {'steps': 3}, [0, 1])))\n")
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True)
    engine_key, routine_key = out.stdout.split()
    return engine_key, routine_key


def test_store_key_changes_when_numeric_code_is_edited(tmp_path):
    """Edit a numeric function in a temporary copy of the harness: the engine-run key changes with
    harness/norms.py, the routine key with the routine's own module."""
    src = Path(runner.__file__).resolve().parent.parent      # harness/ (runner lives in harness/run/)
    root = tmp_path / "copy"
    shutil.copytree(src, root / "bnclaims" / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "bnclaims" / "harness" / "routines" / "edited.py").write_text("def run(settings, seeds):\n    return {'x': 1.0}\n")
    before = _keys(root)
    norms = root / "bnclaims" / "harness" / "norms.py"
    norms.write_text(norms.read_text().replace("def _affine(x, gamma, beta):",
                                               "def _affine(x, gamma, beta):\n    x = x * 1.0"))
    after_norms = _keys(root)
    assert after_norms[0] != before[0] and after_norms[1] != before[1]
    (root / "bnclaims" / "harness" / "routines" / "edited.py").write_text("def run(settings, seeds):\n    return {'x': 2.0}\n")
    after_routine = _keys(root)
    assert after_routine[0] == after_norms[0] and after_routine[1] != after_norms[1]


def test_aa_control_runs_the_control_spec_on_disjoint_seeds_through_the_sequential_plan(tmp_path):
    ctx = RunContext(store=str(tmp_path))
    arms = {"bn": SPEC.replace(model_norm="bn", lr=1.0), "none": SPEC}
    main = check(HYP, ctx, arms)
    ev = check(HYP, ctx, arms, "aa")
    rec = ev["arms"]
    assert ev["extra"]["control"] == "aa" and ev["extra"]["control_kind"] == "null"
    assert rec["bn"]["spec_hash"] == rec["none"]["spec_hash"] == main["arms"]["none"]["spec_hash"]
    assert not set(rec["bn"]["seeds"]) & set(rec["none"]["seeds"])            # disjoint
    assert rec["bn"]["seeds"] == [s + 1000 for s in rec["none"]["seeds"]]
    assert ev["stats"]["sequential"]["stopped_at"] in (1, 2) and ev["verdict"] != "reproduced"
    n = len(rec["none"]["values"])
    assert rec["none"]["values"] == main["arms"]["none"]["values"][:n] or len(main["arms"]["none"]["values"]) < n
    assert ev["extra"]["control_seeds"] == {"bn": rec["bn"]["seeds"], "none": rec["none"]["seeds"]}


def test_a_tuned_rate_is_chosen_on_seeds_that_are_not_compared(monkeypatch):
    """Metric.tune_seeds: the grid rate is picked on TUNE_OFFSET seeds of the same base, then read on the
    compared seeds; the tuning seeds and the chosen rate go into extra."""
    import numpy as np
    from bnclaims.harness.declare import design as ds
    from bnclaims.harness.run import runner
    from bnclaims.harness.run.context import RunContext
    from bnclaims.harness.spec import TrainSpec

    name = "test.tune_value"
    if name not in ds.REDUCTIONS:
        ds.reduction(name)(lambda arrays: arrays["v"])
    calls = []

    def fake_run(arm, seeds, ctx, memo):
        calls.append(list(seeds))
        return {lr: {"v": np.full(len(seeds), abs(lr - 3.0))} for lr in arm.lrs}

    monkeypatch.setattr(runner, "_run_arm", fake_run)
    arm = ds.Arm(TrainSpec(), lrs=(1.0, 3.0, 10.0))
    design = ds.Design({"x": arm, "y": arm}, ds.Metric(name, select=name, tune_seeds=3))
    res = runner.Result(hyp=None, ctx=RunContext(seed_base=2), design=design, control=None, seeds=[20000, 20001])
    res.arms = dict(design.arms)
    tuned = runner._tuned(res, design, {})
    assert tuned.metric_of("x").at_lr == 3.0 and tuned.metric_of("x").select is None
    assert calls[0] == [20500, 20501, 20502] and not set(calls[0]) & set(res.seeds)
    assert res.tuning["y"] == {"seeds": [20500, 20501, 20502], "lr": 3.0, "by": name}
    untouched = ds.Design({"x": arm, "y": arm}, ds.Metric(name, select=name))
    assert runner._tuned(res, untouched, {}) is untouched


def test_a_variant_and_rate_are_chosen_together_on_a_validation_split(monkeypatch):
    """Arm.variants x lrs with Metric(tune_val_rows=n): each variant's tuning runs hold out n training rows,
    the best (variant, rate) pair wins, and the compared arm trains that variant on the whole set."""
    import numpy as np
    from bnclaims.harness.declare import design as ds
    from bnclaims.harness.run import runner
    from bnclaims.harness.run.context import RunContext
    from bnclaims.harness.spec import ModelSpec, TrainSpec

    name = "test.tune_value2"
    if name not in ds.REDUCTIONS:
        ds.reduction(name)(lambda arrays: arrays["v"])
    specs = []

    def fake_run(arm, seeds, ctx, memo):
        specs.append(arm.spec)
        std = arm.spec.model.init_std
        return {lr: {"v": np.full(len(seeds), abs(lr - 3.0) + abs(std - 0.1))} for lr in arm.lrs}

    monkeypatch.setattr(runner, "_run_arm", fake_run)
    base = TrainSpec(model=ModelSpec(init="small_gaussian", init_std=0.01))
    arm = ds.Arm(base, lrs=(1.0, 3.0), variants=(("std 0.01", {}), ("std 0.1", {"model_init_std": 0.1})))
    design = ds.Design({"x": arm, "y": ds.Arm(base, lrs=(1.0, 3.0))},
                       ds.Metric(name, select=name, tune_seeds=2, tune_val_rows=100))
    res = runner.Result(hyp=None, ctx=RunContext(), design=design, control=None, seeds=[0, 1])
    res.arms = dict(design.arms)
    tuned = runner._tuned(res, design, {})
    assert all(s.val_rows == 100 for s in specs) and len(specs) == 3
    assert tuned.metric_of("x").at_lr == 3.0 and tuned.metric_of("x").tune_val_rows == 0
    assert res.arms["x"].spec.model.init_std == 0.1 and res.arms["x"].spec.val_rows == 0 and not res.arms["x"].variants
    assert res.arms["y"].spec.model.init_std == 0.01
    t = res.tuning["x"]
    assert t["variant"] == "std 0.1" and t["val_rows"] == 100 and t["scores"]["std 0.1"]["3.0"] == 0.0
    only = ds.Arm(base, lrs=(1.0, 3.0), tuned_only=True)
    res.arms = {"x": only, "y": only}
    runner._tuned(res, ds.Design({"x": only, "y": only}, ds.Metric(name, select=name, tune_seeds=2)), {})
    assert res.arms["x"].lrs == (3.0,) and not res.arms["x"].tuned_only    # the compared seeds train one rate


def test_variants_and_validation_tuning_are_declared_whole():
    """A variant arm needs a tuned metric; tune_val_rows needs tune_seeds; both enter the description only
    where set (earlier declarations keep their hashes)."""
    import pytest
    from bnclaims.harness.declare import design as ds, lockform, validate as dv
    from bnclaims.harness.spec import TrainSpec

    arm = ds.Arm(TrainSpec(), lrs=(1.0, 3.0), variants=(("a", {}), ("b", {"model_init_std": 0.1})))
    bad = ds.Design({"x": arm, "y": arm}, ds.Metric("T.final_loss", select="T.final_loss"))
    with pytest.raises(ds.DeclarationError, match="variants and tuned_only are chosen on tuning seeds"):
        dv.validate(_hyp_with(bad))
    with pytest.raises(ds.DeclarationError, match="tune_val_rows needs tune_seeds"):
        dv.validate(_hyp_with(ds.Design({"x": ds.Arm(TrainSpec(), lrs=(1.0,)), "y": ds.Arm(TrainSpec(), lrs=(1.0,))},
                                        ds.Metric("T.final_loss", select="T.final_loss", tune_val_rows=10))))
    twins = ds.Arm(TrainSpec(), lrs=(1.0,), variants=(("a", {}), ("a", {})))
    with pytest.raises(ds.DeclarationError, match="distinct"):
        dv.validate(_hyp_with(ds.Design({"x": twins, "y": twins},
                                        ds.Metric("T.final_loss", select="T.final_loss", tune_seeds=2))))
    plain = lockform.describe(ds.Design({"x": ds.Arm(TrainSpec(), lrs=(1.0,))}, ds.Metric("T.final_loss", select="T.final_loss")))
    assert "variants" not in plain["arms"]["x"] and "tune_val_rows" not in plain["metric"]
    good = lockform.describe(ds.Design({"x": arm}, ds.Metric("T.final_loss", select="T.final_loss", tune_seeds=2, tune_val_rows=10)))
    assert good["arms"]["x"]["variants"][1] == ["b", {"model_init_std": 0.1}] and good["metric"]["tune_val_rows"] == 10


def _hyp_with(design):
    return dataclasses.replace(HYP, id="T.v", arms=("x", "y"), sequential=False, design=design)
