"""S: Santurkar et al. 2018's own explanation of BN: a smoother loss landscape (loss variation, gradient
predictiveness, effective beta-smoothness), its learning-rate dependence, lp normalization, and Thm 4.1.

S.a-S.d share one landscape ensemble per arm (lr 0.3 and 0.03 stacked); S.e adds one run per lp norm.
"""
from __future__ import annotations

import itertools
import math
import time
import warnings

import numpy as np

from harness import checks
from harness.evidence import figure, make_evidence, series
from harness.hypothesis import Budget, Claim, Hypothesis
from harness.spec import TrainSpec

LN10 = checks.CHANCE_LOSS      # chance-level cross-entropy on 10 classes: the penalty for diverged steps
LR_EDGE = 0.3                  # near the no-BN stability edge (dossier pilot: no BN diverges at 3)
LR_MODERATE = 0.03             # the pilot's moderate rate where the landscape measures reverse
GATE_ACC = 0.2                 # both arms must train: final train accuracy >= 2x chance in every seed
BETA_MARGIN = 1.25             # S.c: "significantly better beta-smoothness" read as >= 20% smaller
SPEED_MARGIN = math.log(1.15)  # S.e: training-loss areas within +-15% count as "comparable"
DRIFT_SESOI = math.log(1.25)   # S.e: drift differences under 25% are not what Fig. 6 shows
LP_NORMS = ("l1", "l2", "linf")
SOURCE_LANDSCAPE = "Santurkar et al. 2018, Sec. 3.1-3.2, Fig. 4 and App. A.2.2"

# Seeds per arm (the same for every landscape hypothesis, so all of them read one ensemble per arm).
# Dossier pilot at lr 0.3 (4 x 128 MLP): loss range 1.80+-0.38 (none) vs 0.30+-0.03 (BN), d = 5.6;
# max|dg|/|g| 3.59+-0.26 vs 1.51+-0.02, d = 11; seeds_needed("mannwhitney", 5.6, alpha=0.01,
# power=0.95) = 5, the exact Mann-Whitney floor (5 vs 5: p >= 0.004). S.e's paired TOST on log loss
# areas needs 6 pairs at d = margin / sd_diff = 3 (sd of the paired log difference <= 0.047; not
# piloted), so every landscape arm runs 6 seeds (6 vs 6 Mann-Whitney floor: 0.0011).
# Steps: 1000 in ci (pilot used 2000; Santurkar's gaps are largest early in training), probes every
# steps/20 (20 probes per run).
BUDGETS = {"smoke": Budget(seeds=3, steps=40), "ci": Budget(seeds=6, steps=1000),
           "full": Budget(seeds=10, steps=2000)}

COMMON = dict(claim="S", arms=("bn", "none"), budgets=BUDGETS, alpha=0.01)
GATE_TEXT = (f"Gate: every seed of both arms must end with train accuracy >= {GATE_ACC} (2x chance); "
             "otherwise the verdict is inconclusive (a dead network looks smooth).")

SA = Hypothesis(
    id="S.a", title="loss varies less along the gradient with BN",
    statement="Near the plain network's stability edge (lr 0.3), the loss measured at theta - eta g for step "
              "sizes eta in lr x [0.5, 4] spans a smaller range in the BN network than in the same network "
              "without BN.",
    source=SOURCE_LANDSCAPE + " (Fig. 4a)", stance="supports",
    metric="per seed: median over probes (every steps/20 steps) of max_eta L(theta - eta g) - min_eta "
           "L(theta - eta g) on the current batch, BN running statistics untouched; diverged probes are "
           f"skipped, a seed with none left counts as ln 10. {GATE_TEXT}",
    direction="less", test="mannwhitney", **COMMON,
    notes="4 x 128 ReLU MLP on MNIST-1D, SGD batch 64; lr 0.3 is about a tenth of the no-BN divergence rate, "
          "as Santurkar chose the probe range relative to that rate.")

SB = Hypothesis(
    id="S.b", title="gradients are more predictive with BN",
    statement="Near the plain network's stability edge (lr 0.3), the gradient changes less, relative to its own "
              "size, when moving along it: max over eta of |grad(theta - eta g) - g| / |g| is smaller with BN.",
    source=SOURCE_LANDSCAPE + " (Fig. 4b)", stance="supports",
    metric="per seed: median over probes of max_eta |g(theta - eta g) - g| / |g| (scale-free, since BN "
           f"rescales gradients); a seed with no finite probe counts as 10. {GATE_TEXT}",
    direction="less", test="mannwhitney", **COMMON)

SC = Hypothesis(
    id="S.c", title="effective beta-smoothness at least 20% better with BN",
    statement="Near the plain network's stability edge (lr 0.3), BN's effective beta-smoothness (largest gradient "
              "change per distance moved along the gradient) is at least 20% below the plain network's: "
              "1.25 x beta_BN < beta_none.",
    source=SOURCE_LANDSCAPE + " (Fig. 4c: 'significantly better effective beta-smoothness')", stance="supports",
    metric="per seed: log of the median over probes of max_eta |g(theta - eta g) - g| / |eta g|; the BN arm is "
           f"shifted by log {BETA_MARGIN} (H1: log(1.25 beta_BN) < log beta_none); a seed with no finite "
           f"probe counts as log 1e3. {GATE_TEXT}",
    direction="less", test="mannwhitney", confirmatory=False, expect="not reproduced",
    expect_reason="dossier pilot (5.5 S-a table): beta_eff 5.90+-0.05 (BN) vs 6.08+-0.39 (none) at lr 0.3, "
                  "larger with BN at lr 0.03-0.1: not reliably smaller in a 4-layer MLP",
    notes="Exploratory. The paper's orders-of-magnitude gaps come from VGG and a 25-layer linear network.",
    **COMMON)

SD = Hypothesis(
    id="S.d", title="at a moderate lr the BN loss range is larger",
    statement="At a moderate learning rate (0.03), the same loss-range measure points the other way: the BN "
              "network's loss varies MORE along the gradient than the plain network's, because it is descending "
              "faster; the measure depends on the learning rate and is no constant of the architecture.",
    source=SOURCE_LANDSCAPE + "; dossier 5.5 pilot (lr 0.03: 0.148 with BN vs 0.058 without)",
    stance="contradicts",
    metric="per seed: median over probes of the loss range along the gradient at lr 0.03 (as S.a); max|dg|/|g| "
           f"and beta_eff at lr 0.03 are reported alongside, without a verdict. {GATE_TEXT}",
    direction="greater", test="mannwhitney", confirmatory=False, **COMMON,
    notes="Exploratory: documents that S.a's direction is a property of the chosen learning rate.")

SE_COMMON = dict(claim="S", budgets=BUDGETS, alpha=0.01, confirmatory=False,
                 source="Santurkar et al. 2018, Sec. 3.3, Fig. 5-6 (and Fig. 12-13)", stance="supports")


def _speed_hyp(norm: str) -> Hypothesis:
    kw = {}
    if norm == "linf":
        # Marked AFTER measuring (the rule for a pre-registered check that does not reproduce):
        # the hypothesis, margin and test are unchanged; only the expectation records what was measured.
        kw = dict(expect="not reproduced",
                  expect_reason="measured, not piloted: at lr 0.3 the linf net's training-loss area is ~18% above "
                                "BN's (paired log difference +0.167 [0.162, 0.176] at seed base 0, +0.166 at seed "
                                "base 1), outside the +-15% margin; marked after those two runs")
    return Hypothesis(
        id=f"S.e.speed_{norm}", title=f"{norm} normalization trains about as fast as BN",
        statement=f"With {norm} normalization in place of BN (centre each unit over the batch, divide by its batch "
                  f"average {norm} magnitude; gamma, beta kept), the network trains about as fast as with BN at "
                  "lr 0.3: the training-loss areas differ by less than 15%.",
        metric="per seed: log of the mean minibatch training loss over all steps (diverged steps count as ln 10); "
               f"equivalence margin +-log 1.15 on the paired difference (same init and data order)",
        arms=(norm, "bn"), direction="equivalent", test="tost", paired=True, margin=SPEED_MARGIN,
        notes="Not piloted (exploratory): the margin comes from the dossier's 'TOST on AUC +-15%'.", **kw,
        **SE_COMMON)


def _drift_hyp(norm: str) -> Hypothesis:
    kw = {}
    if norm == "l2":
        # Pre-registered from the definition, before any run: the harness's l2 layer divides the centred
        # activations by their batch RMS, i.e. BN's batch standard deviation; only where eps enters differs.
        kw = dict(expect="not reproduced",
                  expect_reason="by construction: the harness's l2 normalization (centred / batch RMS) is BN's "
                                "standardization up to the placement of eps (sqrt(var)+eps vs sqrt(var+eps)), so it "
                                "cannot drift more than BN (not a pilot result)")
    return Hypothesis(
        id=f"S.e.drift_{norm}", title=f"{norm} normalization drifts more than BN",
        statement=f"With {norm} normalization the inputs to the nonlinearity shift more from probe to probe during "
                  "training than with BN (larger distributional shift, yet comparable training speed).",
        metric="per seed: mean over probe intervals (steps/20 steps), hidden layers and units of "
               "|d mean| / std + |d var| / var of the nonlinearity input on a fixed 512-row probe batch "
               "(train-mode batch statistics; scale-free because linf normalization shrinks the activations); "
               "log of that; a seed with no finite interval counts as log 1",
        arms=(norm, "bn"), direction="greater", test="mannwhitney", sesoi=DRIFT_SESOI,
        notes="Not piloted (exploratory). SESOI: TOST within +-log 1.25 counts as not reproduced.", **kw, **SE_COMMON)


SE_SPEED = {n: _speed_hyp(n) for n in LP_NORMS}
SE_DRIFT = {n: _drift_hyp(n) for n in LP_NORMS}

SF_COMMON = dict(claim="S", arms=("cases",), direction="deterministic", test="deterministic",
                 budgets={"smoke": Budget(seeds=1), "ci": Budget(seeds=1), "full": Budget(seeds=1)},
                 source="Santurkar et al. 2018, Sec. 4.1, Theorem 4.1 (arXiv v3 print) and its proof, App. C")
SF_MATH = ("For one unit over a batch of m, grad_y L_hat = (gamma / sigma) P grad_z L with "
           "P = I - 11'/m - y_hat y_hat'/m; since 1 is orthogonal to y_hat and |y_hat|^2 = m, P is an orthogonal "
           "projection, so the bound holds with c = 1/m, with equality as eps -> 0.")

SF = Hypothesis(
    id="S.f", title="Theorem 4.1 gradient bound holds (c = 1/m)",
    statement="For a linear layer followed by BN over a batch of m (gamma fixed) and a smooth loss of the BN output, "
              "the squared gradient norm with respect to a unit's pre-BN activations is at most gamma^2/sigma^2 "
              "(|grad_z L|^2 - <1, grad_z L>^2/m - <grad_z L, y_hat>^2/m) in every random case.",
    stance="supports",
    metric="per case (batch size x loss x draw): max over units of (LHS - RHS) / (gamma^2/sigma^2 |grad_z L|^2), "
           "float64 autograd, eps = 1e-12 (the theorem's eps = 0); tolerance 1e-9",
    notes="Expected from the math: " + SF_MATH, **SF_COMMON)

SF_V3 = Hypothesis(
    id="S.f.v3", title="Theorem 4.1 as printed in v3 (c = 1/sqrt(m))",
    statement="The same gradient bound with the last term weighted 1/sqrt(m), as printed in arXiv v3, holds in every "
              "random case.",
    stance="supports",
    metric="as S.f with c = 1/sqrt(m)",
    confirmatory=False, expect="not reproduced",
    expect_reason="from the math (not from data): the 1/m form is tight (an equality at eps = 0), and 1/sqrt(m) > 1/m "
                  "subtracts more, so the printed bound is violated whenever <grad_z L, y_hat> != 0 (the dossier's "
                  "remark that 1/sqrt(m) makes the bound weaker has it backwards: it makes it stronger, and false)",
    notes=SF_MATH, **SF_COMMON)

CLAIM = Claim(
    id="S",
    article_text="Santurkar et al.'s own explanation: BN helps because it makes the loss landscape smoother - the "
                 "loss and its gradient change less along the gradient direction, so larger steps are safe; lp "
                 "normalizations do the same without stabilizing distributions; a single BN layer provably "
                 "shrinks the gradient (Thm 4.1).",
    source="Santurkar, Tsipras, Ilyas, Madry 2018 (NeurIPS), arXiv:1805.11604 v3, Sec. 3-4, App. A.2.2",
    hypotheses=(SA, SB, SC, SD, *SE_SPEED.values(), *SE_DRIFT.values(), SF, SF_V3),
    article_side=False,
)


# ---------------------------------------------------------------------------------------------- specs
def landscape_spec(norm: str, steps: int, probes=("landscape", "drift")) -> TrainSpec:
    """4 x 128 ReLU MLP on MNIST-1D, plain SGD batch 64; landscape probes at eta = lr x {0.5, ..., 4}."""
    return TrainSpec(lr=LR_EDGE, steps=steps, eval_every=max(steps // 4, 1), probes=probes,
                     probe_every=max(steps // 20, 1)).replace(model_norm=norm)


def landscape_runs(hyp, ctx, perturb=None) -> dict:
    """{arm: {lr: arrays}} for the BN and plain arms, both learning rates in one ensemble per arm.

    perturb="bn_is_none": the BN arm's spec replaced by the plain one (negative control)."""
    steps, seeds = hyp.budget(ctx.profile).steps, ctx.seeds(hyp)
    specs = {"bn": landscape_spec("none" if perturb == "bn_is_none" else "bn", steps),
             "none": landscape_spec("none", steps)}
    runs = {arm: checks.lr_grid_run(s, [LR_EDGE, LR_MODERATE], seeds, ctx=ctx) for arm, s in specs.items()}
    return specs, seeds, runs


def probe_median(arrays, key: str, fill: float) -> np.ndarray:
    """Per-seed median over probes of a landscape measure; diverged probes (NaN) are skipped."""
    v = arrays[key].astype(float)
    v[~np.isfinite(v)] = np.nan
    with warnings.catch_warnings():            # an all-NaN seed is handled by finite_or below
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(v, 0)
    return checks.finite_or(med, fill)


def final_train_acc(arrays) -> np.ndarray:
    return np.asarray(arrays["eval_train_acc"][-1], float)


def apply_gate(stats: dict, accs: dict, threshold: float = GATE_ACC) -> dict:
    """Both arms must train. A seed below the threshold (or diverged) makes the verdict inconclusive;
    the ungated verdict is kept as `verdict_ungated` so the report shows what the gate overrode."""
    out = dict(stats)
    failing = {arm: [i for i, a in enumerate(np.asarray(v, float)) if not (np.isfinite(a) and a >= threshold)]
               for arm, v in accs.items()}
    failing = {arm: idx for arm, idx in failing.items() if idx}
    out["gate"] = {"threshold": threshold, "passed": not failing,
                   "final_train_acc": {arm: [float(a) for a in v] for arm, v in accs.items()},
                   "failing_seed_positions": failing}
    if failing:
        out["verdict_ungated"] = out.get("verdict")
        out["verdict"] = "inconclusive"
        out["reason"] = (f"gate failed: final train accuracy < {threshold} (or diverged) in "
                         + "; ".join(f"{arm} seeds at positions {idx}" for arm, idx in failing.items())
                         + f" - a network that does not train looks smooth; ungated: {stats.get('reason')}")
    return out


def landscape_figure(fid, title, runs, lr, key, ylabel, logy=True):
    steps = runs["bn"][lr]["probe_step"]
    return figure(fid, title, [checks.band_series(f"{arm}", steps, runs[arm][lr][key]) for arm in ("bn", "none")],
                  xlabel="training step", ylabel=ylabel + " (median, 15-85%)", logy=logy)


MEASURES = {  # hypothesis id -> (probe key, lr, fill for a seed with no finite probe, log?, shift of the BN arm)
    "S.a": ("probe_land_loss_range", LR_EDGE, LN10, False, 1.0),
    "S.b": ("probe_land_grad_pred", LR_EDGE, 10.0, False, 1.0),
    "S.c": ("probe_land_beta_eff", LR_EDGE, 1e3, True, BETA_MARGIN),
    "S.d": ("probe_land_loss_range", LR_MODERATE, LN10, False, 1.0),
}
LABELS = {"probe_land_loss_range": "loss range along g", "probe_land_grad_pred": "max |dg| / |g|",
          "probe_land_beta_eff": "effective beta-smoothness"}


def _measure(arrays, key, fill, log, scale=1.0):
    v = probe_median(arrays, key, fill) * scale
    return np.log(v) if log else v


def check_landscape(hyp, ctx, perturb=None):
    """S.a-S.d: one landscape measure per seed, BN against no BN, gated on both arms training."""
    t0 = time.perf_counter()
    key, lr, fill, log, shift = MEASURES[hyp.id]
    specs, seeds, runs = landscape_runs(hyp, ctx, perturb)
    arr = {arm: runs[arm][lr] for arm in ("bn", "none")}
    values = {"bn": _measure(arr["bn"], key, fill, log, shift), "none": _measure(arr["none"], key, fill, log)}
    stats = checks.compare_arms(hyp, ctx, values["bn"], values["none"])
    stats = apply_gate(stats, {arm: final_train_acc(a) for arm, a in arr.items()})
    arms = {arm: checks.arm_record(specs[arm].replace(lr=lr), seeds, values[arm], arr[arm]) for arm in arr}
    extra = {"lr": lr, "probe_key": key, "perturb": perturb,
             "raw_median_per_seed": {arm: probe_median(arr[arm], key, fill).tolist() for arm in arr}}
    if hyp.id == "S.d":   # the other two measures at the moderate rate, descriptive
        extra["other_measures_lr_0.03"] = {
            LABELS[k]: {arm: probe_median(arr[arm], k, f).tolist() for arm in arr}
            for k, f in (("probe_land_grad_pred", 10.0), ("probe_land_beta_eff", 1e3))}
    figs = [landscape_figure(f"{hyp.id}-bands", f"{LABELS[key]}, lr {lr} (Fig. 4 style)",
                             runs, lr, key, LABELS[key], logy=key != "probe_land_grad_pred")]
    return make_evidence(hyp, CLAIM, ctx, arms=arms, stats=stats, engine="batched", figures=figs, extra=extra,
                         wall_s=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------- S.e
def loss_area(arrays) -> np.ndarray:
    """log of the mean minibatch training loss over all steps; diverged steps count as ln 10."""
    return np.log(checks.finite_or(arrays["train_loss"], LN10).mean(0))


def relative_drift(arrays) -> np.ndarray:
    """Mean |d mean|/std + |d var|/var of the nonlinearity inputs between probes; log, per seed."""
    m = arrays["probe_post_mean"].astype(float)          # [P, K, L, H]
    v = np.clip(arrays["probe_post_var"].astype(float), 1e-12, None)
    d = np.abs(np.diff(m, axis=0)) / np.sqrt(v[:-1]) + np.abs(np.diff(v, axis=0)) / v[:-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_seed = np.nanmean(np.where(np.isfinite(d), d, np.nan), axis=(0, 2, 3))
    return np.log(checks.finite_or(per_seed, 1.0))


def lp_runs(hyp, ctx, norm, perturb=None):
    """BN (from the landscape ensemble at lr 0.3) and one lp-normalized arm, same seeds and steps."""
    steps, seeds = hyp.budget(ctx.profile).steps, ctx.seeds(hyp)
    bn_spec, _, runs = landscape_runs(hyp, ctx)
    bn = runs["bn"][LR_EDGE]
    if perturb == "lp_is_none":          # the plain network in place of the lp arm
        spec, arrays = bn_spec["none"], runs["none"][LR_EDGE]
    elif perturb == "lp_is_bn":          # BN in place of the lp arm
        spec, arrays = bn_spec["bn"], bn
    else:
        spec = landscape_spec(norm, steps, probes=("drift",))
        arrays = checks.run(spec, seeds, ctx=ctx)
    return seeds, {norm: (spec, arrays), "bn": (bn_spec["bn"], bn)}


def _curve_series(label, loss):
    t = loss.shape[0]
    w = max(t // 50, 1)
    n = t // w
    blocks = checks.finite_or(loss[: n * w], LN10).reshape(n, w, -1).mean(1)
    med, lo, hi = checks.band(blocks)
    return series(label, (np.arange(n) * w + w / 2).tolist(), med, lo, hi)


def check_lp(hyp, ctx, perturb=None):
    """S.e: lp normalization against BN at lr 0.3, training speed (TOST) or drift (one-sided)."""
    t0 = time.perf_counter()
    norm = hyp.arms[0]
    seeds, arms_ = lp_runs(hyp, ctx, norm, perturb)
    speed = hyp.direction == "equivalent"
    fn = loss_area if speed else relative_drift
    values = {arm: fn(a) for arm, (_, a) in arms_.items()}
    stats = checks.compare_arms(hyp, ctx, values[norm], values["bn"])
    arms = {arm: checks.arm_record(s, seeds, values[arm], a) for arm, (s, a) in arms_.items()}
    if speed:
        figs = [figure(f"{hyp.id}-loss", f"training loss, {norm} vs BN, lr {LR_EDGE}",
                       [_curve_series(arm, a["train_loss"]) for arm, (_, a) in arms_.items()],
                       xlabel="training step", ylabel="minibatch loss (median, 15-85%)", logy=True)]
    else:
        figs = [figure(f"{hyp.id}-drift", f"relative drift, {norm} vs BN",
                       [series(arm, list(range(len(seeds))), np.exp(values[arm])) for arm in arms_],
                       xlabel="seed position", ylabel="|d mean|/std + |d var|/var per interval",
                       kind="bar")]
    extra = {"lr": LR_EDGE, "perturb": perturb,
             "final_train_acc": {arm: final_train_acc(a).tolist() for arm, (_, a) in arms_.items()}}
    return make_evidence(hyp, CLAIM, ctx, arms=arms, stats=stats, engine="batched", figures=figs, extra=extra,
                         wall_s=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------- S.f
THEOREM_EPS = 1e-12      # the theorem has eps = 0; torch needs eps > 0 in training mode
THEOREM_TOL = 1e-9       # float64 rounding of sums over <= 256 terms sits near 1e-14 relative
BATCHES = (2, 4, 16, 64, 256)
LOSSES = ("squared_error", "cross_entropy", "log_cosh")


def _loss(kind, z, g):
    import torch
    import torch.nn.functional as F
    m, h = z.shape
    if kind == "squared_error":
        t = torch.randn(m, h, generator=g, dtype=z.dtype)
        return 0.5 * (z - t).pow(2).sum()
    if kind == "cross_entropy":       # a random linear read-out of the BN output, random labels
        r = torch.randn(h, 5, generator=g, dtype=z.dtype)
        return F.cross_entropy(z @ r, torch.randint(0, 5, (m,), generator=g))
    a = torch.rand(m, h, generator=g, dtype=z.dtype) + 0.1
    t = torch.randn(m, h, generator=g, dtype=z.dtype)
    return (a * torch.log(torch.cosh(z - t))).sum()


def theorem41_errors(c_form: str, perturb: str | None = None, draws: int = 4) -> dict:
    """{case: max over units of (LHS - RHS) / (gamma^2/sigma^2 |grad_z L|^2)} for Thm 4.1.

    c_form "1/m" or "1/sqrt(m)". perturb="no_bn": L_hat = L(gamma y + beta), BN removed (negative control).
    """
    import torch
    import torch.nn.functional as F
    f64 = torch.float64
    out = {}
    for m, kind, r in itertools.product(BATCHES, LOSSES, range(draws)):
        g = torch.Generator().manual_seed(7919 * m + 101 * LOSSES.index(kind) + r)
        d, h = 16, 8
        scale = 10.0 ** (4 * torch.rand(1, generator=g, dtype=f64).item() - 2)   # sigma from ~1e-2 to ~1e2
        x = torch.randn(m, d, generator=g, dtype=f64) * scale
        w = torch.randn(h, d, generator=g, dtype=f64) / math.sqrt(d)
        gamma = 0.5 + 1.5 * torch.rand(h, generator=g, dtype=f64)
        beta = torch.randn(h, generator=g, dtype=f64)
        y = (x @ w.T).requires_grad_(True)
        if perturb == "no_bn":
            z = y * gamma + beta
        else:
            z = F.batch_norm(y, None, None, gamma, beta, training=True, eps=THEOREM_EPS)
        grad_y, grad_z = torch.autograd.grad(_loss(kind, z, g), (y, z))
        with torch.no_grad():
            yd = y.detach()
            sigma2 = yd.var(0, unbiased=False)
            y_hat = (yd - yd.mean(0)) / sigma2.sqrt()           # unit batch variance: |y_hat|^2 = m
            c = 1.0 / m if c_form == "1/m" else 1.0 / math.sqrt(m)
            k = gamma ** 2 / sigma2
            rhs = k * (grad_z.pow(2).sum(0) - grad_z.sum(0).pow(2) / m - c * (grad_z * y_hat).sum(0).pow(2))
            lhs = grad_y.pow(2).sum(0)
            rel = (lhs - rhs) / (k * grad_z.pow(2).sum(0)).clamp_min(1e-300)
        out[f"m={m} {kind} draw={r}"] = float(rel.max())
    return out


def check_theorem41(hyp, ctx, perturb=None):
    c_form = "1/sqrt(m)" if hyp.id == "S.f.v3" else "1/m"
    errors = theorem41_errors(c_form, perturb)
    by_m = {m: max(v for k, v in errors.items() if k.startswith(f"m={m} ")) for m in BATCHES}
    fig = figure(f"{hyp.id}-slack", f"Thm 4.1, c = {c_form}: worst violation",
                 [series("worst case", list(BATCHES), [by_m[m] for m in BATCHES])],
                 xlabel="batch size m", ylabel="(LHS - RHS) / scale; > 0 violates",
                 kind="bar")
    return checks.deterministic(hyp, CLAIM, ctx, errors, THEOREM_TOL, what="relative bound violation",
                                figures=[fig], extra={"c": c_form, "perturb": perturb, "eps": THEOREM_EPS,
                                                      "worst_by_batch_size": {str(m): v for m, v in by_m.items()}})


RUNNERS = {"S.a": check_landscape, "S.b": check_landscape, "S.c": check_landscape, "S.d": check_landscape,
           **{h.id: check_lp for h in (*SE_SPEED.values(), *SE_DRIFT.values())},
           "S.f": check_theorem41, "S.f.v3": check_theorem41}
