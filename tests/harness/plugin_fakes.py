"""Fake claim files and helpers for the plugin tests (test_plugin*.py): hand-made stats, no torch.

The fixtures that write these files into a pytester directory are in conftest.py.
"""
from __future__ import annotations

# Hypotheses and a run_fn shared by the fake claim files. make_evidence gets a fixed env so the
# fake runs need not import torch.
HELPERS = '''
import os
import pytest
from harness.hypothesis import Budget, Claim, Hypothesis
from harness.evidence import figure, make_evidence, panels, series

ENV = {"python": "3", "platform": "test", "numpy": "2", "scipy": "1", "torch": None,
       "torch_threads": None, "device": "cpu"}


def H(hid, stance="supports", expect="reproduced", confirmatory=True, statement=None):
    return Hypothesis(id=hid, claim=hid.split(".")[0], title=f"title {hid}",
                      statement=statement or f"statement of {hid}", source="Ioffe & Szegedy 2015, sec. 3",
                      stance=stance, metric="loss at step 100, one value per seed", arms=("bn", "plain"),
                      direction="greater", test="welch", budgets={"ci": Budget(seeds=4, steps=10)},
                      alpha=0.01, confirmatory=confirmatory, expect=expect,
                      expect_reason="pilot: 3/3 seeds" if expect != "reproduced" else "")


def make_run_fn(verdict, figs=()):
    def run_fn(hyp, ctx):
        seeds = ctx.seeds(hyp)
        xs = [1.0 + 0.1 * i for i in range(len(seeds))]
        ys = [0.5 + 0.1 * i for i in range(len(seeds) - 1)] + [None]   # the last seed diverged
        effect = {"reproduced": 0.5, "not reproduced": -0.4, "inconclusive": 0.05}[verdict]
        p = {"reproduced": 0.001, "not reproduced": 0.9, "inconclusive": 0.3}[verdict]
        stats = {"n_x": 4, "n_y": 3, "mean_x": 1.15, "mean_y": 0.65, "sd_x": 0.13, "sd_y": 0.13,
                 "effect": effect, "ci": [effect - 0.2, effect + 0.2], "ratio": 1.77, "ratio_ci": [1.4, 2.2],
                 "hedges_g": 3.5, "p_superiority": 1.0, "p": p, "p_opposite": 1 - p, "test": "welch",
                 "direction": "greater", "alpha": 0.01, "verdict": verdict,
                 "reason": f"fake {verdict} (p={p})", "values_x": xs, "values_y": ys[:-1]}
        arms = {"bn": {"seeds": seeds, "values": xs, "spec": {"norm": "bn"}, "spec_hash": "aa11"},
                "plain": {"seeds": seeds, "values": ys, "spec": {"norm": None}, "spec_hash": "bb22",
                          "diverged": [None, None, None, 7]}}
        extra = {"store": ctx.store, "store_env_ok": os.environ.get("BNCLAIMS_STORE") == ctx.store,
                 "omp": os.environ.get("OMP_NUM_THREADS")}
        return make_evidence(hyp, CLAIMS[hyp.claim], ctx, arms=arms, stats=stats, engine="analytic",
                             figures=figs, extra=extra, wall_s=0.01, env=ENV)
    return run_fn


LINES = figure("c8a_lines", "loss", [series("BN", [0, 1, 2], [1.0, 0.5, 0.3], [0.9, 0.4, 0.2], [1.1, 0.6, 0.4]),
                                     series("plain", [0, 1, 2], [1.0, 0.8, 0.7])],
               xlabel="step", ylabel="loss", logy=True)
SIDE = panels("c8a_side", "side by side", [
    figure("c8a_sc", "scatter", [series("seeds", [1, 2, 3], [2, 3, 1])], kind="scatter"),
    figure("c8a_bar", "bar", [series("BN", ["a", "b"], [1, 2], [0.5, 1.5], [1.5, 2.5]),
                              series("plain", ["a", "b"], [2, 1])], kind="bar")])

C8 = [H("C8.a", statement="BN <lowers> loss & | pipes"), H("C8.b"), H("C8.c")]
C9 = [H("C9.a", expect="not reproduced"), H("C9.b", stance="contradicts", expect="not reproduced"),
      H("C9.c", confirmatory=False)]
CLAIMS = {"C8": Claim("C8", "BN helps optimisation", "Ioffe & Szegedy 2015", tuple(C8)),
          "C9": Claim("C9", "BN reduces ICS", "Santurkar et al. 2018", tuple(C9), article_side=False)}
'''

TEST_C8 = '''
import pytest
from fakeclaims import C8, CLAIMS, LINES, SIDE, make_run_fn

CASES = {"C8.a": ("reproduced", (LINES, SIDE)), "C8.b": ("not reproduced", ()), "C8.c": ("inconclusive", ())}


@pytest.mark.parametrize("hyp", [pytest.param(h, marks=pytest.mark.claim(h.id), id=h.id) for h in C8])
def test_c8(hyp, claims_run):
    verdict, figs = CASES[hyp.id]
    claims_run(hyp, CLAIMS["C8"], make_run_fn(verdict, figs))


def test_not_a_claim():
    pass
'''

TEST_C9 = '''
import pytest
from fakeclaims import C9, CLAIMS, make_run_fn

pytestmark = pytest.mark.claim("C9")
CASES = {"C9.a": "not reproduced", "C9.b": "reproduced", "C9.c": "inconclusive"}


@pytest.mark.parametrize("hyp", C9, ids=[h.id for h in C9])
def test_c9(hyp, claims_run):
    claims_run(hyp, CLAIMS["C9"], make_run_fn(CASES[hyp.id]))
'''


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "harness.plugin", "-p", "no:cacheprovider", *args)


def strip_volatile(obj):
    """Drop timing and environment fields, which may differ between otherwise identical runs."""
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in ("timing", "env", "wall_s", "worker_id")}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj
