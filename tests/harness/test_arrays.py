"""The run-array schema (harness/arrays.py): engine output stays inside it, and the authoring guide's table
is the schema's own."""
from pathlib import Path

import pytest

from bnclaims.harness import arrays
from bnclaims.harness.spec import ModelSpec, TrainSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("engine", ["batched", "reference"])
@pytest.mark.parametrize("spec", [
    TrainSpec(model=ModelSpec(depth=2, width=8, norm="bn"), steps=6, eval_every=3, probes=("ics", "drift", "landscape"),
              probe_every=3, probe_layers=(0, 1), landscape_factors=(1.0, 2.0)),
    TrainSpec(model=ModelSpec(depth=3, width=8), steps=4, eval_every=2, probes=("drift",), probe_every=2),
], ids=["bn-probes", "plain"])
def test_engine_output_matches_the_schema(spec, engine):
    from bnclaims.harness import engine as eng
    out, _info = eng.train(spec, [0, 1], engine)
    arrays.validate_run(out, spec, 2)


def test_schema_rejects_unknown_keys_and_wrong_shapes():
    import numpy as np
    spec = TrainSpec(model=ModelSpec(depth=2, width=8), steps=4)
    with pytest.raises(ValueError, match="not in the schema"):
        arrays.validate_run({"mystery": np.zeros(2)}, spec, 2)
    with pytest.raises(ValueError, match=r"shape \[3, 2\], schema \[T, K\]"):
        arrays.validate_run({"train_loss": np.zeros((3, 2))}, spec, 2)


def test_authoring_guide_carries_the_schema_table():
    assert arrays.markdown_table() in (ROOT / "docs" / "authoring.md").read_text()
