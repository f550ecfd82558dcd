"""P: Santurkar et al. 2018's headline experiments at their own scale: a VGG on CIFAR-10, with and without BN,
at learning rates 0.1 and 0.5 (the paper profile; the MLP claims are the suite's scaled-down version of them);
and Ioffe & Szegedy 2015's MNIST Fig. 1 at its true scale (50,000 steps) where the folder holds MNIST.

Runs: the paper_vgg routine (harness/routines/paper_vgg.py) on the user's CIFAR-10 folder (--data-dir, checked
by size and SHA-256; nothing is downloaded), one ensemble per arm and rate; the hypotheses at lr 0.1 read the
same two ensembles. Probes every 500 steps (Santurkar probe every step; 30 probes per run keep the probe cost
near 2 % of training). In the smoke profile the same code runs a 1/16-width VGG on a synthetic folder in the
real format (harness.userdata.write_synthetic): plumbing only, no verdict.

Not piloted at this scale (no GPU was available when they were declared): every hypothesis is exploratory, with
the direction the paper reports.
"""
from __future__ import annotations

import numpy as np

from bnclaims.harness.kit import (CHANCE, LN10, Arm, Budget, Claim, Design, Hypothesis, Metric, band_figure, each_seed,
                                  final, finite_or, probe_median, reduction)

ONLY = ("smoke", "paper")
SOURCE = "Santurkar et al. 2018, App. A.1"
# App. A.1: 15,000 steps of batch 128. Seeds: 5 per arm, the smallest n at which Welch's test can reach
# p < 0.01 for effects of d >= 3 (the MLP pilots' size for these measures); the figures are single runs.
BUDGETS = {"smoke": Budget(seeds=2, steps=6), "paper": Budget(seeds=5, steps=15000)}
PAPER = {"batch": 128, "width": 1.0, "probe_every": 500, "eval_every": 1000, "eval_rows": 10000,
         "probe_factors": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0],      # x lr: App. A.2.2's [1/2, 4] x step
         "probe_layers": [4, 8]}                                          # a middle and the last convolution
SMOKE = {"batch": 16, "width": 0.0625, "probe_every": 3, "eval_every": 3, "eval_rows": 0}
GATE_ACC = 0.3          # a landscape or ICS comparison needs both arms trained: final train accuracy >= 3x chance


def arm(norm: str, lr: float) -> Arm:
    return Arm(routine="paper_vgg", settings={**PAPER, "norm": norm, "lr": lr}, by_profile={"smoke": SMOKE})


def arms(lr: float) -> dict:
    return {"bn": arm("bn", lr), "none": arm("none", lr)}


# ---------------------------------------------------------------------- reductions (one number per seed)
@reduction("P.tail_loss")
def tail_loss(arrays, frac: float = 0.1) -> np.ndarray:
    """Mean training loss over the last frac of the steps; a diverged seed counts as chance (ln 10)."""
    curve = arrays["train_loss"]
    tail = curve[-max(1, int(round(frac * len(curve)))):]
    return finite_or(np.mean(tail, 0), LN10)


reduction("P.final")(final)        # the last evaluation of key [E, K]; a diverged seed counts as fill (= C4.final)


@reduction("P.probe_median")
def probe_median_native(arrays, key: str, fill: float) -> np.ndarray:
    """The median over the run's probes of key [P, K], in the probes' own precision (float32; as declared); a
    seed with no finite probe counts as fill."""
    return probe_median(arrays, key, fill, dtype=None)


def gates() -> tuple:
    return each_seed(("bn", "none"), ">=", GATE_ACC, Metric("P.final", {"key": "eval_train_acc", "fill": 0.1}))


def curves_figure(r):
    lr = r.arms["bn"].settings["lr"]
    return [band_figure(r, f"{r.hyp.id}-loss", f"VGG-11 training loss, lr {lr} (Fig. 1 style)",
                        lambda a: np.arange(len(a["train_loss"])), "train_loss", arms=("bn", "none"), xlabel="step",
                        ylabel="training loss (median, 15-85%)", logy=True)]


def probe_figure(key: str, label: str):
    def draw(r):
        return [band_figure(r, f"{r.hyp.id}-probe", f"{label}, VGG-11, lr 0.1", "probe_step", key, arms=("bn", "none"),
                            xlabel="training step", ylabel=f"{label} (median, 15-85%)")]
    return draw


def _hyp(id, title, statement, source, metric_text, direction, metric, lr=0.1, criteria=(), figures=None, **kw):
    return Hypothesis(
        id=id, claim="P", title=title, statement=statement, source=source, stance="supports", metric=metric_text,
        arms=("bn", "none"), direction=direction, test="welch", budgets=BUDGETS, confirmatory=False, profiles=ONLY,
        group=f"P.lr{lr}", design=Design(arms(lr), metric, criteria=criteria, figures=figures), **kw)


PA = _hyp("P.a", "VGG trains faster with BN at lr 0.1",
          "At lr 0.1 a VGG-11 with BN reaches a lower training loss over the last 10% of 15,000 SGD steps than "
          "the same VGG without BN.", f"{SOURCE}; Fig. 1(a)",
          "mean training loss over the last 10% of steps, per seed (diverged: ln 10)", "less",
          Metric("P.tail_loss"), figures=curves_figure)
PB = _hyp("P.b", "BN tolerates lr 0.5",
          "At lr 0.5 the VGG-11 with BN reaches a lower training loss over the last 10% of steps than the VGG "
          "without BN (which the paper shows failing to train at that rate).", f"{SOURCE}; Fig. 1(a)",
          "mean training loss over the last 10% of steps, per seed (diverged: ln 10)", "less",
          Metric("P.tail_loss"), lr=0.5, figures=curves_figure)
PC = _hyp("P.c", "BN: higher test accuracy",
          "After 15,000 steps at lr 0.1 the VGG-11 with BN classifies more of CIFAR-10's test set correctly "
          "(paper: 83 % vs 80 %, no augmentation).", f"{SOURCE}, text",
          "test accuracy at the end (eval mode; diverged: chance)", "greater",
          Metric("P.final", {"key": "eval_test_acc", "fill": 0.1}))
PD = _hyp("P.d", "Loss varies less along the gradient with BN",
          "At lr 0.1 the loss at theta - eta g, eta in lr x [0.5, 4], spans a smaller range with BN than without, "
          "median over the run's probes.", "Santurkar et al. 2018, Sec. 3.1, Fig. 4(a), App. A.2.2",
          "per seed: median over probes of max - min loss along -g (no probe: ln 10). Gate: both arms train",
          "less", Metric("P.probe_median", {"key": "probe_land_loss_range", "fill": LN10}), criteria=gates(),
          figures=probe_figure("probe_land_loss_range", "loss range along -g"),
          notes="Confound (see S.a): the range is dominated by eta |g|^2, so a smaller gradient alone narrows it.")
PE = _hyp("P.e", "Effective beta-smoothness is lower with BN",
          "At lr 0.1 the largest change of the gradient along -g per distance moved is smaller with BN than "
          "without, median over the run's probes.", "Santurkar et al. 2018, Sec. 3.1, Fig. 4(c)",
          "per seed: median over probes of max_eta |grad L(theta - eta g) - g| / |eta g|. Gate: both arms train",
          "less", Metric("P.probe_median", {"key": "probe_beta_eff", "fill": 1e6}), criteria=gates(),
          figures=probe_figure("probe_beta_eff", "effective beta-smoothness"))
PF = _hyp("P.f", "BN does not reduce gradient ICS (last convolution)",
          "At lr 0.1 the gradient of the last convolution before and after the earlier layers take their step "
          "agrees less (lower cos(G, G')) with BN than without: BN does not remove ICS in Santurkar's sense.",
          "Santurkar et al. 2018, Sec. 2.2, Def. 2.1, Fig. 3(a)",
          "per seed: median over probes of cos(G, G') of conv layer 8 (no probe: 0). Gate: both arms train",
          "less", Metric("P.probe_median", {"key": "probe_ics_cos8", "fill": 0.0}), criteria=gates(),
          figures=probe_figure("probe_ics_cos8", "cos(G, G'), conv 8"),
          notes="Santurkar report BN 'similar, or even worse'; stance toward C1: supports it.")

# ------------------------------------------------------------------ Ioffe & Szegedy 2015, Fig. 1 (MNIST), if present
IOFFE = "Ioffe & Szegedy 2015, Sec. 4.1, Fig. 1"
# 50,000 steps of batch 60 (Sec. 4.1); optimizer and rate not stated: plain SGD at lr 1.0 with Glorot-normal init,
# C2.d's choice on MNIST-1D (claims/c2.py ioffe_spec). Checkpoints every 1000 steps (51 per run).
MNIST_BUDGETS = {"smoke": Budget(seeds=2, steps=6), "paper": Budget(seeds=5, steps=50000)}
MNIST = {"lr": 1.0, "batch_size": 60, "init": "glorot", "eval_every": 1000, "probe_rows": 1000}


def mnist_arms() -> dict:
    return {n: Arm(routine="paper_ioffe_mnist", settings={**MNIST, "norm": n},
                   by_profile={"smoke": {"eval_every": 3, "probe_rows": 32}}) for n in ("bn", "none")}


@reduction("P.mean_test_acc")
def mean_test_acc(arrays) -> np.ndarray:
    """Test accuracy averaged over the checkpoints (the area under Fig. 1(a)'s curve); diverged: chance."""
    return finite_or(np.mean(arrays["eval_test_acc"], 0), CHANCE)


@reduction("P.quantile_drift")
def quantile_drift(arrays) -> np.ndarray:
    """Mean over the last hidden layer's units, the three quantiles and consecutive checkpoints after the first
    1000 steps of |q_t - q_(t-1)|: how much the sigmoid inputs' distribution moves; no finite value: inf."""
    q = np.stack([arrays["q15"], arrays["q50"], arrays["q85"]])[:, 1:]      # [3, E-1, K, 100] from step 1000 on
    d = np.abs(np.diff(q, axis=1))
    with np.errstate(all="ignore"):
        v = np.nanmean(d, axis=(0, 1, 3))
    return np.where(np.isfinite(v), v, np.inf)


def mnist_figure(r):
    return [band_figure(r, f"{r.hyp.id}-acc", "MNIST test accuracy, 3 x 100 sigmoid (Fig. 1(a) style)", "eval_step",
                        "eval_test_acc", arms=("bn", "none"), xlabel="step", ylabel="test accuracy (median, 15-85%)")]


PG = Hypothesis(
    id="P.g", claim="P", title="Ioffe Fig. 1(a): BN's MNIST test accuracy is higher along training",
    statement="Over 50,000 steps on MNIST, the 3 x 100 sigmoid MLP with BN has a higher test accuracy averaged over "
              "the checkpoints than the same MLP without BN.", source=IOFFE, stance="supports",
    metric="per seed: test accuracy (eval mode) averaged over the checkpoints every 1000 steps (diverged: chance)",
    arms=("bn", "none"), direction="greater", test="welch", budgets=MNIST_BUDGETS, confirmatory=False, profiles=ONLY,
    group="P.mnist", notes="Runs only where the folder holds MNIST's idx files (otherwise: not run, with the reason).",
    design=Design(mnist_arms(), Metric("P.mean_test_acc"), figures=mnist_figure))
PH = Hypothesis(
    id="P.h", claim="P", title="Ioffe Fig. 1(b, c): BN's sigmoid inputs move less",
    statement="With BN the 15th, 50th and 85th percentiles of the last hidden layer's sigmoid inputs change less "
              "between checkpoints than without BN (distributional ICS, Ioffe's definition).",
    source=IOFFE, stance="supports",
    metric="per seed: mean |change| of the three percentiles between consecutive checkpoints after step 1000, over "
           "all 100 units, on a fixed batch of 1000 test images (train-mode forward)",
    arms=("bn", "none"), direction="less", test="welch", budgets=MNIST_BUDGETS, confirmatory=False, profiles=ONLY,
    group="P.mnist", notes="BN normalizes these inputs per batch, so only gamma, beta and the batch's composition move "
                           "them: a check of the mechanism Ioffe describes, not of its benefit.",
    design=Design(mnist_arms(), Metric("P.quantile_drift")))

CLAIM = Claim("P", "At the papers' own scale: a VGG on CIFAR-10 with BN trains faster and at larger rates, has a "
                   "smoother loss landscape and no less gradient ICS (Santurkar); on MNIST, BN's sigmoid inputs are "
                   "steadier and its test accuracy higher (Ioffe).",
              "Santurkar et al. 2018 (VGG / CIFAR-10); Ioffe & Szegedy 2015 (MNIST)", (PA, PB, PC, PD, PE, PF, PG, PH),
              article_side=False)
