"""--data-draw per-seed (harness.run.datadraw): each seed trains on its own draw of the generated data set; the arms of
a pair share a draw; one-seed runs joined along the seed axis have the shapes of one ensemble run; the option is
checked before anything runs; the report says the run is a secondary analysis, not the registered vote."""
import dataclasses

import numpy as np
import pytest

from bnclaims.harness.run import checks, datadraw, runner
from bnclaims.harness.plugin import options
from bnclaims.harness.run.context import RunContext
from bnclaims.harness.declare.design import Arm, Design, Metric, reduction
from bnclaims.harness.declare.hypothesis import Budget, Claim, Hypothesis
from bnclaims.harness.spec import ModelSpec, TrainSpec

SPEC = TrainSpec(model=ModelSpec(depth=2, width=16), lr=0.1, steps=20, eval_every=10)
HYP = Hypothesis(id="D.a", claim="D", title="t", statement="BN lowers the final train loss", source="test",
                 stance="supports", metric="final full-train loss", arms=("bn", "none"), direction="less",
                 test="wilcoxon", paired=True, budgets={"smoke": Budget(2), "ci": Budget(7), "full": Budget(7)})
CLAIM = Claim(id="D", article_text="t", source="test", hypotheses=(HYP,))


@reduction("D.final_loss")
def final_loss(arrays):
    return arrays["eval_train_loss"][-1]


def _check(ctx, arms):
    hyp = dataclasses.replace(HYP, design=Design(arms, Metric("D.final_loss")))
    return runner.run_check(hyp, CLAIM, ctx)


def test_seed_draws_are_disjoint_from_the_fixed_sample_and_from_each_other():
    seeds = [0, 1, 42, 3_000_000, 3_000_011]
    draws = [datadraw.data_seed(s) for s in seeds]
    assert len(set(draws)) == len(seeds) and TrainSpec.data_seed not in draws
    assert all(d < 2 ** 32 for d in draws)                    # numpy's seed range (mnist1d draws with numpy)


def test_which_arms_can_draw_their_data_and_why_the_others_cannot():
    assert datadraw.why_fixed(Arm(SPEC)) is None
    assert datadraw.why_fixed(Arm(constant=0.0)) == "a fixed comparator: no data"
    assert datadraw.why_fixed(Arm(routine="mlp_ics_next_input", settings={"data": "mnist1d", "data_seed": 42})) is None
    assert "reads no data set" in datadraw.why_fixed(Arm(routine="grad_norms_at_init", settings={"depth": 4}))
    assert "does not take its data set" in datadraw.why_fixed(Arm(routine="depth_pair", settings={"depth": 8}))
    arm = datadraw.for_seed(Arm(SPEC, lrs=(0.1, 0.2)), 7)
    assert arm.spec.data_seed == datadraw.data_seed(7) and arm.lrs == (0.1, 0.2)
    arm = datadraw.for_seed(Arm(routine="mlp_ics_next_input", settings={"data": "mnist1d", "data_seed": 42}), 7)
    assert arm.settings["data_seed"] == datadraw.data_seed(7)


def test_joined_one_seed_runs_have_the_shapes_of_one_ensemble():
    k, t = 3, 5
    whole = {"train_loss": np.arange(t * k, dtype=float).reshape(t, k), "eval_step": np.arange(4),
             "eval_acc": np.arange(4 * k, dtype=float).reshape(4, k), "diverged_at": np.arange(k),
             "per_seed_curve": np.arange(k * t, dtype=float).reshape(k, t)}   # a routine's [K, T]
    parts = []
    for i in range(k):
        parts.append({"train_loss": whole["train_loss"][:, i:i + 1], "eval_step": whole["eval_step"],
                      "eval_acc": whole["eval_acc"][:, i:i + 1], "diverged_at": whole["diverged_at"][i:i + 1],
                      "per_seed_curve": whole["per_seed_curve"][i:i + 1]})
    joined = runner.join_seeds(parts, grid=False)
    for key, v in whole.items():
        np.testing.assert_array_equal(joined[key], v)
    grid = runner.join_seeds([{0.1: p, 0.2: p} for p in parts], grid=True)
    np.testing.assert_array_equal(grid[0.2]["train_loss"], whole["train_loss"])


def test_per_seed_runs_give_the_numbers_of_the_ensemble_when_the_draw_is_the_fixed_sample(tmp_path, monkeypatch):
    """Splitting an arm into one-seed runs changes nothing but the batching: with every draw mapped back to data
    seed 42 the values equal the ensemble's (up to float reassociation)."""
    arms = {"bn": Arm(SPEC.replace(model_norm="bn")), "none": Arm(SPEC)}
    fixed = _check(RunContext(store=str(tmp_path / "a")), arms)
    monkeypatch.setattr(datadraw, "data_seed", lambda seed: TrainSpec.data_seed)
    split = _check(RunContext(store=str(tmp_path / "b"), data_draw="per-seed"), arms)
    for arm in ("bn", "none"):
        np.testing.assert_allclose(split["arms"][arm]["values"], fixed["arms"][arm]["values"], rtol=1e-4)
    assert split["extra"]["data_draw"]["mode"] == "per-seed" and "data_draw" not in fixed["extra"]


def test_per_seed_draws_differ_by_seed_and_pairs_share_them(tmp_path):
    arms = {"bn": Arm(SPEC.replace(model_norm="bn")), "none": Arm(SPEC)}
    ctx = RunContext(store=str(tmp_path), data_draw="per-seed")
    ev = _check(ctx, arms)
    seeds = ev["arms"]["bn"]["seeds"]
    assert seeds == ev["arms"]["none"]["seeds"]                       # paired: one draw per pair
    keys = [checks.run_key(SPEC.replace(data_seed=datadraw.data_seed(s)), [s])["data"] for s in seeds]
    assert len({next(iter(k.values())) for k in keys}) == len(seeds)     # each seed its own arrays
    fixed = _check(RunContext(store=str(tmp_path)), arms)
    assert not np.allclose(fixed["arms"]["none"]["values"], ev["arms"]["none"]["values"])


def test_a_bad_data_draw_is_a_usage_error_before_anything_runs(tmp_path):
    with pytest.raises(options.OptionError, match="data-draw: unknown value 'each'"):
        options.settings({"claims_data_draw": "each"}, tmp_path)
    s = options.settings({"claims_data_draw": "per-seed"}, tmp_path)
    assert s.ctx.data_draw == "per-seed"
    with pytest.raises(ValueError, match="unknown data draw"):
        RunContext(data_draw="sometimes")


def test_the_report_says_a_per_seed_run_is_a_secondary_analysis_not_the_registered_round():
    from bnclaims.harness.report import build as report
    from bnclaims.claims import round2
    registered = report.round_banner(round2.SEED_BASE, "ci")
    drawn = report.round_banner(round2.SEED_BASE, "ci", "per-seed")
    assert registered["kind"] != "secondary analysis"
    assert drawn["kind"] == "secondary analysis" and "does not vote" in drawn["text"]
    assert registered["text"] in drawn["text"]


@reduction("D.nan_for_seed_1")
def nan_for_seed_1(arrays):
    v = np.asarray(arrays["eval_train_loss"][-1], float).copy()
    v[1] = np.nan                                  # as a reduction of a run that diverged
    return v


def test_a_metric_undefined_for_a_diverged_seed_is_inconclusive_not_a_crash(tmp_path):
    arms = {"bn": Arm(SPEC.replace(model_norm="bn")), "none": Arm(SPEC)}
    hyp = dataclasses.replace(HYP, design=Design(arms, Metric("D.nan_for_seed_1")))
    ev = runner.run_check(hyp, CLAIM, RunContext(store=str(tmp_path)))
    assert ev["verdict"] == "inconclusive" and ev["stats"]["undefined"] == {"bn": 1, "none": 1}
    assert "1 of 7 seeds of bn" in ev["stats"]["reason"] and "no verdict" in ev["stats"]["reason"]
    assert ev["stats"]["n_x"] == 6                 # the pairs left, for reading only
    from bnclaims.harness.declare import maps as rb
    assert rb.standardized(ev["stats"]) is None    # and no map model reads it
