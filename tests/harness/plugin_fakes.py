"""A fake claim pack for the plugin tests (test_plugin*.py): declared hypotheses whose arms are a tiny
numpy routine, so the whole pipeline (registry, runner, stats, verdicts, report) runs without training.

The pack is found as a third-party pack is: a distribution on sys.path (fakepack-0.1.dist-info) whose
entry point in the group bnclaims.claims names fakeclaims:CLAIMS. The fixtures are in conftest.py.
"""
from __future__ import annotations

PACK = '''
import numpy as np

from bnclaims.harness import routines
from bnclaims.harness.declare.design import Arm, Control, Design, Metric, reduction
from bnclaims.harness.declare.evidence import figure, panels, series
from bnclaims.harness.declare.hypothesis import Budget, Claim, Hypothesis

routines.register("fake_values", "fakeclaims:values", engine="analytic", torch=False)


def values(settings, seeds):
    """One value per seed: center + spread * position; the last seed of a 'diverged' arm diverged at 7."""
    pos = np.arange(len(seeds)) / max(len(seeds) - 1, 1)
    out = {"values": settings["center"] + settings["spread"] * pos, "seeds": np.asarray(seeds)}
    if settings.get("diverged"):
        out["diverged_at"] = np.array([-1] * (len(seeds) - 1) + [7])
    return out


@reduction("fake.values")
def read_values(arrays):
    return arrays["values"]


CENTER = {"reproduced": 1.5, "not reproduced": 0.5, "inconclusive": 1.02}


def H(hid, verdict, stance="supports", expect="reproduced", confirmatory=True, statement=None, figures=None,
      alpha=0.003):
    arms = {"bn": Arm(routine="fake_values", settings={"center": CENTER[verdict], "spread": 0.3}, budget=False),
            "plain": Arm(routine="fake_values", settings={"center": 1.0, "spread": 0.3, "diverged": True},
                         budget=False)}
    return Hypothesis(id=hid, claim=hid.split(".")[0], title=f"title {hid}",
                      statement=statement or f"statement of {hid}", source="Ioffe & Szegedy 2015, sec. 3",
                      stance=stance, metric="loss at step 100, one value per seed", arms=("bn", "plain"),
                      direction="greater", test="welch", budgets={"ci": Budget(seeds=4, steps=10)},
                      alpha=alpha, confirmatory=confirmatory, expect=expect,
                      expect_reason="pilot: 3/3 seeds" if expect != "reproduced" else "",
                      design=Design(arms, Metric("fake.values"), figures=figures,
                                    controls=(Control("same", "the BN arm replaced by the plain one",
                                                      arms={"bn": "plain"}),)))


def FIGS(r):
    lines = figure("c8a_lines", "loss", [series("BN", [0, 1, 2], [1.0, 0.5, 0.3], [0.9, 0.4, 0.2], [1.1, 0.6, 0.4]),
                                         series("plain", [0, 1, 2], [1.0, 0.8, 0.7])],
                   xlabel="step", ylabel="loss", logy=True)
    side = panels("c8a_side", "side by side", [
        figure("c8a_sc", "scatter", [series("seeds", [1, 2, 3], [2, 3, 1])], kind="scatter"),
        figure("c8a_bar", "bar", [series("BN", ["a", "b"], [1, 2], [0.5, 1.5], [1.5, 2.5]),
                                  series("plain", ["a", "b"], [2, 1])], kind="bar")])
    return [lines, side]


C8 = [H("C8.a", "reproduced", statement="BN <lowers> loss & | pipes", figures=FIGS), H("C8.b", "not reproduced"),
      H("C8.c", "inconclusive")]
C9 = [H("C9.a", "not reproduced", expect="not reproduced", alpha=0.005),
      H("C9.b", "reproduced", stance="contradicts", expect="not reproduced", alpha=0.005),
      H("C9.c", "inconclusive", confirmatory=False)]
CLAIMS = [Claim("C8", "BN helps optimisation", "Ioffe & Szegedy 2015", tuple(C8)),
          Claim("C9", "BN reduces ICS", "Santurkar et al. 2018", tuple(C9), article_side=False)]
'''

ENTRY_POINTS = "[bnclaims.claims]\nfake = fakeclaims:CLAIMS\n"
METADATA = "Metadata-Version: 2.1\nName: fakepack\nVersion: 0.1\n"


def install_pack(path, name="fakeclaims", source=PACK, dist="fakepack", entry=None):
    """Write a claim pack module and a distribution that points its bnclaims.claims entry point at it."""
    (path / f"{name}.py").write_text(source)
    info = path / f"{dist}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(METADATA.replace("fakepack", dist))
    (info / "entry_points.txt").write_text(entry or ENTRY_POINTS)


def run(pytester, *args):
    """pytest in a subprocess on the fake pack alone (the builtin claims are not read)."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--claims-collect", "--claims-packs", "fake",
                                         *args)


def strip_volatile(obj):
    """Drop timing and environment fields, which may differ between otherwise identical runs."""
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in ("timing", "env", "wall_s", "worker_id")}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj
