"""LN: LayerNorm also smooths the loss landscape (the authoring guide's worked example; docs/authoring.md).

Santurkar's loss-range measure and gate (claims/santurkar.py), LayerNorm in place of BN: normalization
with no batch statistics at all. Declarations only; the runner does the rest.
"""
from bnclaims.claims import santurkar as s
from bnclaims.harness.kit import Claim, Control, Design, Hypothesis, Metric, band_figure

KEY = "probe_land_loss_range"
MEASURE = Metric("S.landscape", {"key": KEY, "fill": s.FILLS[KEY]}, at_lr=s.LR_EDGE)


def loss_range_figure(r):
    return [band_figure(r, "LN.a-bands", f"loss range along g, lr {s.LR_EDGE}", "probe_step", KEY, arms=("ln", "none"),
                        xlabel="training step", ylabel="loss range along g (median, 15-85%)", logy=True)]


LNA = Hypothesis(
    id="LN.a", claim="LN", role="evidence", group="LN.landscape", title="LayerNorm: loss varies less along the gradient",
    statement="At lr 0.3 the loss at theta - eta g, eta in lr x [0.5, 4], spans a smaller range with LayerNorm "
              "than in the same network without normalization.",
    source="Ba, Kiros & Hinton 2016 (LayerNorm); measure of Santurkar et al. 2018, Sec. 3.2, Fig. 4a",
    stance="supports", metric=f"as S.a, LayerNorm in place of BN. {s.GATE_TEXT}", arms=("ln", "none"),
    direction="less", test="wilcoxon", paired=True, budgets=s.BUDGETS, confirmatory=False,
    notes="Not piloted: exploratory. The plain arm is S.a's own ensemble (same seeds, same store entry).",
    design=Design({"ln": s.landscape_arm("ln"), "none": s.LANDSCAPE_ARMS["none"]}, MEASURE,
                  criteria=s.gates(s.LR_EDGE, ("ln", "none")), figures=loss_range_figure,
                  controls=(Control("ln_is_none", "the plain network in place of LayerNorm", arms={"ln": "none"}),)))

CLAIM = Claim("LN", "LayerNorm, which uses no batch statistics, also smooths the loss landscape.",
              "Ba et al. 2016; Santurkar et al. 2018", (LNA,), article_side=False)
