"""benchmarks/pipeline_fpr.py, section 1 (real A/A from fresh training) on one cheap family: Y.c's A/A control
(gradient norms at initialization, analytic, under a CPU-second per realisation) run end to end on 2 fresh seed
bases in a temporary store."""
import importlib.util
import re
from pathlib import Path

import pytest

from bnclaims.harness.declare import registry

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "pipeline_fpr.py"


@pytest.fixture(scope="module")
def fpr():
    spec = importlib.util.spec_from_file_location("bench_pipeline_fpr", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_real_aa_on_fresh_seed_bases(fpr, tmp_path):
    (hyp,) = registry.find(["Y.c"])
    claims = {c.id: c for c in registry.claims()}
    lines = []
    ran, over = fpr.real_section([hyp], claims, 2, 30.0, str(tmp_path / "store"), out=lines.append)
    assert not over and len(ran) == 1
    h, r = ran[0]
    assert h.id == "Y.c" and r["control"] == "aa" and r["n"] == 2 and len(r["cpu_s"]) == 2
    assert len(set(r["bases"])) == 2 and not set(r["bases"]) & {0, 300, 400}
    assert min(r["bases"]) >= fpr.REAL_BASE
    assert sum(r["verdicts"].values()) == 2 and r["hits"] == r["verdicts"]["reproduced"]
    row = next(line for line in lines if line.startswith("| Y.c |"))
    assert re.search(r"\| \d\.\d{4} \| \[\d\.\d{4}, \d\.\d{4}\] \|", row), row      # rate, Clopper-Pearson interval
    assert f"| {hyp.alpha:.4g} |" in row


def test_reserved_bases_are_refused(fpr):
    with pytest.raises(ValueError, match="reserved"):
        fpr._bases(299, 3)
    assert fpr._bases(fpr.REAL_BASE, 2) == [fpr.REAL_BASE, fpr.REAL_BASE + 1]


def test_cli_runs_fresh_part_without_a_store(fpr, tmp_path, capsys):
    fpr.main(["--only", "Y.c", "--real-reps", "2", "--curse-reps", "0", "--splits", "5", "--bare", "0",
              "--fresh-store", str(tmp_path / "fresh")])
    out = capsys.readouterr().out
    assert "## 1. Real A/A from fresh training" in out and "| Y.c | yes | aa |" in out
    assert "seed bases 5000-5001" in out
    assert "Permutation-null check (resampled splits of one pool: checks the code path, not the error rate)" in out
