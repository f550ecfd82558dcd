"""The statements each article claim makes, as sub-claims (harness.subclaims.SubClaim), in our words.

The article is a summary of Santurkar et al. 2018, leaning on Ioffe & Szegedy 2015; its statements are
numbered here as docs/methods.md lists them (1 conclusion ... 11 noise). Each sub-claim names the checks that
test its statement as worded (evidence), the construct-valid measures of the mechanism it names (construct),
the identity checks that make it true by construction, or the definitions under which it is read.
Declared in the pilot round (issue 24) on seed base 0: the verdict words below are exploratory there.
"""
from __future__ import annotations

from bnclaims.harness.kit import SubClaim

S = SubClaim

C1 = (
    S("C1.1", "C1", "gradient ICS, deep linear net",
      "BN does not reduce internal covariate shift read as the change of a layer's gradient caused by the update "
      "of the layers before it (Santurkar's Def. 2.1), in a deep linear network trained by full-batch descent.",
      "article statement 1; Santurkar et al. 2018, Sec. 2.2 and Fig. 5",
      evidence=("C1.b",)),
    S("C1.2", "C1", "gradient ICS, MLP",
      "The same holds in a small non-linear network trained by mini-batch SGD: BN does not reduce gradient ICS.",
      "article statement 1; Santurkar et al. 2018, Sec. 2.2",
      evidence=("C1.a",), construct=("C1.a2", "C1.a3"),
      simpler="a plain net stuck on its plateau barely moves its earlier layers, so its gradient hardly changes "
              "whatever the shift; compare per unit of earlier-layer movement at matched loss"),
    S("C1.3", "C1", "distributional ICS (Ioffe's definition)",
      "BN does not make the distribution of a layer's input steadier over training.",
      "article statements 1 and 3; Ioffe & Szegedy 2015, Sec. 1-2 (the definition); Santurkar et al. 2018, Fig. 2",
      identity=("C1.c",),
      definitions=(("BN's own output (pinned by construction)", ("C1.c",)),
                   ("the input to the norm (pre-normalization)", ("C1.c2",)),
                   ("the next layer's input, in units of its own scale", ("C1.c3",))),
      notes="At BN's output a fixed batch has mean beta and variance about gamma^2 by construction, so less drift "
            "there is an identity, not evidence; the input before the norm and the next layer's input are places "
            "BN does not pin."),
    S("C1.4", "C1", "BN helps without reducing ICS",
      "BN's benefit does not come from reducing ICS: a BN net with noise injected after every BN layer (more "
      "distributional shift than a plain net) still trains better than the plain net.",
      "article statement 1; Santurkar et al. 2018, Sec. 2.1 and Fig. 2", kind="mechanism",
      evidence=("C1.d", "C1.e", "C1.b2"), construct=("C1.g",)),
    S("C1.5", "C1", "side: ICS worse with mini-batches",
      "Internal covariate shift is a larger problem with mini-batches than with the full batch.",
      "article statement 5 (no primary source found)", kind="side", evidence=("C1.f",)),
)

C2 = (
    S("C2.1", "C2", "speed",
      "A BN network reaches a given training loss in fewer steps than the same network without BN, each at its "
      "best learning rate.",
      "article statements 1 and 10; Ioffe & Szegedy 2015, Fig. 1 and Sec. 4.2; Santurkar et al. 2018, Fig. 1",
      evidence=("C2.a", "C2.a2", "C2.d", "C2.a3", "C2.d2"), construct=("C2.f",),
      simpler="the larger learning rate BN allows (Bjorck et al. 2018): at a shared rate BN is no faster"),
    S("C2.2", "C2", "learning-rate tolerance",
      "BN trains at learning rates at which the plain network does not, and over a wider range of rates.",
      "article statement 7; Ioffe & Szegedy 2015, Sec. 3.3", evidence=("C2.b", "C2.b2")),
    S("C2.3", "C2", "less careful initialization",
      "With BN the initialization needs less care: a carelessly initialized BN network trains as well as a "
      "carefully initialized plain one.",
      "article statement 10; Ioffe & Szegedy 2015, Sec. 1 and 3.3",
      evidence=("C2.c", "C2.c2"), construct=("C2.c3",),
      simpler="BN is invariant to the scale of a layer's input weights, so a careless init scale cannot matter to it; "
              "the fair comparison is a plain net whose init and rate are tuned"),
    S("C2.4", "C2", "side: benefit fades with depth",
      "Normalization helps mainly networks shallower than about 20 layers; deeper ones can, with small probability, "
      "fail to train (the figure 20 has no primary source and is not hard-coded).",
      "article statement 9; Yang et al. 2019 (closest primary evidence)", kind="side",
      evidence=("C2.dp1", "C2.dp2", "Y.d2"),
      notes="C2.dp3 (the plain net's failure rate with depth) is context: it does not decide whether BN's benefit "
            "fades, the BN-minus-plain difference against depth does (C2.dp1, Y.d2)."),
)

C3 = (
    S("C3.1", "C3", "recovery of the original distribution",
      "Because gamma and beta re-parameterize the layer, training can restore the distribution the layer had "
      "before it was normalized, when that is useful.",
      "article statement 10; Ioffe & Szegedy 2015, Sec. 3 (the identity transform); Goodfellow et al. 2016, "
      "Sec. 8.7.1", evidence=("C3.c1", "C3.c2", "C3.c3", "C3.c4"), construct=("C3.c5", "C3.c6", "C3.c7"),
      identity=("C3.a",),
      simpler="the affine parameters re-fit the layer (its loss falls below the original net's) rather than "
              "return to the original distribution"),
    S("C3.2", "C3", "two parameters instead of all earlier layers",
      "With gamma and beta, a layer's mean and variance are set by these two parameters instead of by the "
      "weights of every earlier layer.",
      "article statement 10; Goodfellow et al. 2016, Sec. 8.7.1", identity=("C3.b",)),
    S("C3.3", "C3", "side: gamma and beta as check-point",
      "Gamma and beta absorb the effect of the earlier layers' weight changes, like a check-point, which makes "
      "convergence much faster and removes the need for careful initialization and tuning.",
      "article statement 10; Goodfellow et al. 2016, Sec. 8.7.1", kind="side",
      evidence=("C3.gb1", "C3.gb3", "C3.gb4", "C3.gb5"),
      notes="C3.gb2 and C3.gb6 (BN without gamma and beta against the plain net) are context: they show how much "
            "the normalization alone gives, not whether gamma and beta add to it."),
    S("C3.4", "C3", "gamma and beta alone carry capacity",
      "Training only BN's gamma and beta (every other weight frozen at its random init) fits the data better "
      "than training as many randomly chosen weights.",
      "Frankle, Schwab & Morcos 2021 (a check beyond the article, on the capacity the affine parameters hold)",
      kind="mechanism", evidence=("C3.d1", "C3.d2"), construct=("C3.d3",),
      simpler="any trained parameters above chance (random weights also clear twice chance)"),
)

C4 = (
    S("C4.1", "C4", "generalization",
      "The noise of BN's mini-batch statistics improves generalization.",
      "article statements 1(b) and 11 (common reading); Ioffe & Szegedy 2015, Sec. 3.4",
      evidence=("C4.a",), construct=("C4.a2", "C4.b", "C4.g", "C4.g2"),
      simpler="calibration: the low-noise nets are overconfident; after temperature scaling the NLL is level and "
              "test accuracy does not rise with noise (the noisy arms also fit less of the training set)"),
    S("C4.2", "C4", "the noise mechanism",
      "Removing or reducing the noise of the statistics (larger or population statistics) removes the benefit.",
      "article statement 11; Ioffe & Szegedy 2015, Sec. 3.4; Luo et al. 2019", kind="mechanism",
      evidence=("C4.d1", "C4.f"), construct=("C4.d2",)),
    S("C4.3", "C4", "side: BN takes mini-batch noise out of the cost",
      "Without BN the noise of each mini-batch enters the cost; BN removes it (the article's wording; the common "
      "reading, which C4.1 and C4.2 test, is that BN adds noise of its own).",
      "article statement 11", kind="side", evidence=("C4.h", "C4.h2")),
    S("C4.4", "C4", "BN versus no BN",
      "A BN network generalizes better than the same network without BN.",
      "article statement 1(b); Ioffe & Szegedy 2015, Sec. 4.2; Santurkar et al. 2018, Sec. 1",
      evidence=("C4.c",), construct=("C4.c2",),
      simpler="the larger learning rate BN allows (Bjorck et al. 2018)"),
)

SANTURKAR = (
    S("S.1", "S", "smoother loss landscape",
      "With BN the loss changes less along the gradient direction: the landscape is smoother.",
      "Santurkar et al. 2018, Sec. 3.1 and Fig. 4(a)", evidence=("S.a",), construct=("S.d", "S.h", "S.h2"),
      simpler="the first-order term eta |g|^2: BN's gradient shrinks as its weights grow (an automatic decay of "
              "the effective rate), so the loss moves less along the gradient without being less curved"),
    S("S.2", "S", "more predictive gradients",
      "With BN the gradient at a point predicts the gradient a step further along it better.",
      "Santurkar et al. 2018, Sec. 3.1 and Fig. 4(b)", evidence=("S.b", "S.b4")),
    S("S.3", "S", "effective beta-smoothness",
      "With BN the largest change of the gradient per unit step along it (effective beta-smoothness) is lower.",
      "Santurkar et al. 2018, Sec. 3.1 and Fig. 4(c)", evidence=("S.c",)),
    S("S.4", "S", "Theorem 4.1 bound",
      "BN's gradient with respect to a layer's output is bounded as Theorem 4.1 states.",
      "Santurkar et al. 2018, Sec. 4.1, Theorem 4.1", identity=("S.f",)),
    S("S.5", "S", "other normalizers",
      "Normalizations without batch statistics (lp norms, LayerNorm, GroupNorm, weight norm) smooth the "
      "landscape and speed training as BN does.",
      "Santurkar et al. 2018, Sec. 3.3 (lp normalizations)", kind="mechanism",
      evidence=("S.e.speed_l1", "S.e.speed_l2", "S.e.speed_linf", "S.e.drift_l1", "S.e.drift_l2", "S.e.drift_linf",
                "LN.a", "S.g1", "S.g2", "S.g3")),
)

YANG = (
    S("Y.1", "Y", "explosion rate",
      "In a deep BN network without skip connections the gradient norm grows geometrically with depth at "
      "initialization, at the rate mean-field theory predicts.",
      "Yang et al. 2019, Theorem 3.9 and Fig. 2", evidence=("Y.a",),
      notes="A mean-field prediction tested at finite width: evidence within a declared band of the theory."),
    S("Y.2", "Y", "batch size and activation",
      "The explosion weakens as the batch grows and is weaker with tanh than with ReLU.",
      "Yang et al. 2019, Sec. 3-4", evidence=("Y.b", "Y.c")),
    S("Y.3", "Y", "trainability at depth",
      "Deep BN networks without skip connections train worse as depth grows.",
      "Yang et al. 2019, Sec. 5; article statement 9", evidence=("Y.d",), construct=("Y.d2",),
      simpler="depth hurts the plain net as well: read against a plain He-init net at the same depths (Y.d2)"),
)

BY_CLAIM = {"C1": C1, "C2": C2, "C3": C3, "C4": C4, "S": SANTURKAR, "Y": YANG}
