"""The opt-in torch.compile of the batched engine's train step: its place in the run key, and its numbers
against the eager engine at the engine tolerance (the one between the batched and reference engines)."""
import os

import numpy as np
import pytest

from bnclaims.harness import engine
from bnclaims.harness.spec import ModelSpec, TrainSpec, spec_dict, spec_hash

TOL = 1e-5


def test_compile_off_keeps_every_key_and_a_mode_makes_a_new_one():
    # the hashes of these specs before the compile field existed
    assert spec_hash(TrainSpec()) == "6c1604392ed224eb"
    assert spec_hash(TrainSpec(model=ModelSpec(norm="bn", depth=3))) == "2a4bc0415c6b5dbc"
    assert spec_hash(TrainSpec(model=ModelSpec(norm="gn", groups=4), val_rows=100)) == "69ab9acd748a04ed"
    assert "compile" not in spec_dict(TrainSpec(compile="off"))
    base = TrainSpec(model=ModelSpec(norm="bn", depth=3))
    keys = {spec_hash(base.replace(compile=mode)) for mode in ("off", "default", "reduce-overhead")}
    assert len(keys) == 3
    assert spec_dict(base.replace(compile="default"))["compile"] == "default"


def test_bad_compile_requests_are_refused():
    with pytest.raises(ValueError, match="unknown compile"):
        TrainSpec(compile="max-autotune")
    with pytest.raises(ValueError, match="unknown compile"):
        TrainSpec(compile=True)
    with pytest.raises(ValueError, match="reference engine is the eager check"):
        engine.train(TrainSpec(steps=1, compile="default"), [0], "reference")


@pytest.mark.skipif(os.environ.get("BNCLAIMS_COMPILE_TEST") != "1",
                    reason="compiles (about 30 s on a fresh 2-core machine, which the ci budget cannot carry): set "
                           "BNCLAIMS_COMPILE_TEST=1; benchmarks/bench_engine.py checks the same agreement")
def test_compiled_step_matches_eager():
    """Compiles one tiny BN spec (on a 2-core box about 16 s with an empty inductor cache, 5 s with a warm one, plus
    about 15 s of first imports on a fresh machine); a second run of the same shape reuses the compiled graph
    instead of compiling again."""
    from torch._dynamo.utils import counters
    spec = TrainSpec(model=ModelSpec(depth=2, width=16, norm="bn"), steps=30, eval_every=10, lr=0.1, momentum=0.9,
                     val_rows=50)
    eager, _ = engine.train(spec, [0, 1, 2])
    compiled, info = engine.train(spec.replace(compile="default"), [0, 1, 2])
    assert info["compile"] == "default" and info["first_step_s"] > 0
    assert set(compiled) == set(eager)
    for key in eager:
        if key.startswith(("train_loss", "eval_", "running_", "gamma", "beta", "final_")):
            np.testing.assert_allclose(compiled[key], eager[key], atol=TOL, rtol=TOL, err_msg=key)
    graphs = counters["stats"]["unique_graphs"]
    engine.train(spec.replace(compile="default"), [5, 6, 7])
    assert counters["stats"]["unique_graphs"] == graphs


def test_the_compile_option_reaches_batched_engine_arms_only(tmp_path):
    from bnclaims.harness.plugin import options
    from bnclaims.harness.declare.design import Arm
    from bnclaims.harness.declare.hypothesis import Budget, Hypothesis
    from bnclaims.harness.run.runner import resolve_arm
    ctx = options.settings({"claims_compile": "default"}, tmp_path).ctx
    hyp = Hypothesis(id="X.a", claim="X", title="t", statement="s", source="s", stance="supports", metric="m",
                     arms=("a", "b"), direction="less", test="welch", budgets={"ci": Budget(seeds=5, steps=7)})
    spec = TrainSpec(steps=3)
    assert resolve_arm(Arm(spec), hyp, ctx).spec.compile == "default"
    assert resolve_arm(Arm(spec, engine="reference"), hyp, ctx).spec.compile == "off"
    assert resolve_arm(Arm(spec), hyp, options.settings({}, tmp_path).ctx).spec.compile == "off"
    with pytest.raises(options.OptionError, match="--claims-compile: unknown mode 'fast'"):
        options.settings({"claims_compile": "fast"}, tmp_path)
