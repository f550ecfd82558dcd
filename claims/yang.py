"""Y: Yang et al. 2019 - in a BN network without skip connections, gradients explode going backward at
initialization, at a per-layer rate lambda_G(B) set by the batch size; plus a depth sweep of trainability.

Y.a-Y.c are single forward/backward passes at initialization (a private torch routine, no engine);
Y.d trains BN MLPs of growing depth with the engine.
"""
from __future__ import annotations

import math
import time

import numpy as np

from harness import checks
from harness.evidence import figure, make_evidence, series
from harness.hypothesis import Budget, Claim, Hypothesis
from harness.spec import TrainSpec
from harness.store import RunStore, environment_key

DEPTH, WIDTH, D_IN, CLASSES = 32, 384, 64, 10   # dossier 5.6 section 4 (Yang's width 384)
BN_EPS = 1e-5
BATCH_SIZES = (16, 64, 256)
FIT_FIRST, FIT_LAST = 2, DEPTH - 3               # layers 2..L-3 (0-based) for the slope
RATE_TOL = 0.05                                  # Y.a: within 5% of lambda_G(B)
PLAIN_BAND = (0.9, 1.05)                         # Y.a: He-initialized plain ReLU net, no explosion
FORMAT = 1                                       # bump when the routine's numbers change

# Seeds: the pilot's per-seed sd is <= 1% of the factor (dossier 5.6: 1.590+-0.015 at B=16), so 3 would
# do for Y.a; Y.c's paired one-sided sign-flip test needs n >= 7 to reach alpha = 0.01 (n = 8: p >= 0.0039;
# pilot BN-tanh 1.201+-0.008 vs BN-ReLU 1.487+-0.007 at B=64, d > 30, so the floor decides), and all
# of Y.a-Y.c share the same passes, so every arm runs 8 seeds (one pass costs 0.07-0.16 s).
BUDGETS = {"smoke": Budget(seeds=3), "ci": Budget(seeds=8), "full": Budget(seeds=16)}
SOURCE = ("Yang, Pennington, Rao, Sohl-Dickstein, Schoenholz 2019 (ICLR), 'A Mean Field Theory of Batch "
          "Normalization', arXiv:1902.08129: Thm 3.10 of the final version (Thm 8 of the submission)")
SETUP = (f"BN-ReLU MLP without skip connections, depth {DEPTH}, width {WIDTH}, Linear (no bias, torch default init) "
         f"-> BN (gamma 1, beta 0, eps {BN_EPS}) -> nonlinearity; input {D_IN}-d Gaussian, random labels over "
         f"{CLASSES} classes, cross-entropy; one forward/backward in training mode at initialization")
FACTOR = (f"per seed: exp(-slope) of a least-squares line through log |dL/dW_l|_F^2 against l over hidden layers "
          f"{FIT_FIRST}..{FIT_LAST} (0-based), i.e. the per-layer growth of the squared gradient norm going backward")


def lambda_G(batch: int) -> float:
    """Yang et al.'s gradient explosion rate of a BN-ReLU network for batch size B >= 4 (squared norms)."""
    b = float(batch)
    if b < 4:
        raise ValueError("the rate is defined for B >= 4")
    c0 = -1.0 / (b - 1)

    def J(c):
        return (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi

    dJ = (math.pi - math.acos(c0)) / math.pi
    return (dJ + (b - 1) * J(1.0)) / ((b - 3) * (J(1.0) - J(c0))) - 1 / (b - 3)


def linear_rate(batch: int) -> float:
    """The same rate for a BN network with the identity nonlinearity: (B - 2) / (B - 3)."""
    return (batch - 2) / (batch - 3)


YA = Hypothesis(
    id="Y.a", claim="Y", title="gradients explode at the predicted rate",
    statement="At initialization, the squared weight-gradient norm of a deep BN-ReLU network without skip "
              "connections grows going backward by a per-layer factor within 5% of Yang et al.'s lambda_G(B) "
              "(1.590, 1.493, 1.473 for B = 16, 64, 256), while a He-initialized plain ReLU network of the same "
              "shape stays within a factor of 0.9 to 1.05.",
    source=SOURCE + "; protocol from dossier 5.6 section 4", stance="supports",
    metric=FACTOR + f"; cases: per B, the mean over seeds (the unit the pilot and the theory compare) with "
           f"|mean / lambda_G(B) - 1| <= {RATE_TOL} (BN-ReLU) and the mean in {list(PLAIN_BAND)} (plain He ReLU); "
           "per-seed factors reported alongside",
    arms=("cases",), direction="deterministic", test="deterministic", budgets=BUDGETS,
    notes=SETUP + ". The theory is for infinite width and eps = 0; finite width biases the rate slightly down.")

YB = Hypothesis(
    id="Y.b", claim="Y", title="explosion weakens as the batch grows",
    statement="The per-layer gradient growth factor of the BN-ReLU network falls as the batch size grows from 16 "
              "to 64 to 256 (lambda_G decreases towards pi/(pi-1)).",
    source=SOURCE, stance="supports", metric=FACTOR + "; one value per seed and batch size",
    arms=tuple(f"B={b}" for b in BATCH_SIZES), direction="decreasing", test="trend", budgets=BUDGETS,
    notes="Jonckheere-Terpstra trend over the three batch sizes, seed-level values.")

YC = Hypothesis(
    id="Y.c", claim="Y", title="BN-tanh explodes less than BN-ReLU",
    statement="At batch size 64, the same BN network with tanh explodes less (smaller per-layer growth factor) than "
              "with ReLU: a nonlinearity closer to linear reduces the explosion.",
    source=SOURCE + "; Sec. 3-4 (tuning towards the linear regime reduces gradient explosion)", stance="supports",
    metric=FACTOR + "; B = 64; paired by seed (same weights, inputs and labels in both arms)",
    arms=("bn_tanh", "bn_relu"), direction="less", test="signflip", paired=True, budgets=BUDGETS)

# Y.d: a short SGD budget. ci keeps it cheap (narrow nets, 100 steps); full uses 1000 steps at width 128.
# Seeds: 4 depths x 3 seeds gives a Jonckheere-Terpstra floor of 1e-4 (Monte-Carlo), far below alpha.
YD_DEPTHS = (8, 16, 32, 64)
YD_WIDTH = {"smoke": 32, "ci": 64, "full": 128}
YD_LR = 0.1
YD = Hypothesis(
    id="Y.d", claim="Y", title="BN without skips trains worse as depth grows",
    statement="Trained briefly with plain SGD (lr 0.1, batch 64) on MNIST-1D, BN-ReLU MLPs without skip "
              f"connections reach a higher training loss the deeper they are (depths {list(YD_DEPTHS)}): gradient "
              "explosion makes depth, not only normalization, decide trainability.",
    source=SOURCE + " (Fig. 2: BN networks without skips untrainable beyond about 50 layers); the article's side "
           "claim that normalization mainly helps networks under about 20 layers (dossier 5.7 (i))",
    stance="supports",
    metric="per seed and depth: mean minibatch training loss over the last 20% of steps (diverged steps count as "
           f"ln 10); width {YD_WIDTH['ci']} in ci, {YD_WIDTH['full']} in full",
    arms=tuple(f"depth={d}" for d in YD_DEPTHS), direction="increasing", test="trend", confirmatory=False,
    budgets={"smoke": Budget(seeds=2, steps=10), "ci": Budget(seeds=3, steps=100), "full": Budget(seeds=5, steps=1000)},
    notes="Exploratory. The article's 'about 20 layers' has no primary source: neither Ioffe & Szegedy 2015 nor "
          "Santurkar et al. 2018 states it, and Yang et al. put the limit near 50 layers for their setting "
          "(16/log lambda_G ~ 40). This check tests only the direction (worse with depth), not a threshold.")

CLAIM = Claim(
    id="Y",
    article_text="Yang et al.'s mean-field result: in batch-normalized networks without skip connections the gradient "
                 "grows exponentially with depth at initialization, at a rate fixed by the batch size that no "
                 "choice of weight variance removes, so such networks become untrainable at large depth.",
    source=SOURCE,
    hypotheses=(YA, YB, YC, YD),
    article_side=False,
)


# ---------------------------------------------------------------------------------------------- the routine
def grad_sq_norms(activation: str, norm: bool, init: str, batch: int, seed: int) -> np.ndarray:
    """|dL/dW_l|_F^2 for every hidden layer of one freshly initialized network, one batch, training mode."""
    import torch
    import torch.nn.functional as F

    from harness import engine  # noqa: F401  (sets one torch thread per process)
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn(batch, D_IN, generator=g)
    labels = torch.randint(0, CLASSES, (batch,), generator=g)
    act = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}[activation]
    ws, fan_in = [], D_IN
    for _ in range(DEPTH):
        if init == "he":
            w = torch.randn(WIDTH, fan_in, generator=g) * math.sqrt(2.0 / fan_in)
        else:                                   # torch.nn.Linear's default U(+-1/sqrt(fan_in))
            w = (torch.rand(WIDTH, fan_in, generator=g) * 2 - 1) / math.sqrt(fan_in)
        ws.append(w.requires_grad_(True))
        fan_in = WIDTH
    w_out = (torch.rand(CLASSES, WIDTH, generator=g) * 2 - 1) / math.sqrt(WIDTH)
    h = x
    for w in ws:
        z = h @ w.T
        if norm:
            z = F.batch_norm(z, None, None, training=True, eps=BN_EPS)
        h = act(z)
    loss = F.cross_entropy(h @ w_out.T, labels)
    grads = torch.autograd.grad(loss, ws)
    return np.array([float(gr.double().pow(2).sum()) for gr in grads])


ARMS = {  # name -> (activation, BN?, init)
    "bn_relu": ("relu", True, "default"),
    "bn_tanh": ("tanh", True, "default"),
    "bn_linear": ("linear", True, "default"),
    "plain_he_relu": ("relu", False, "he"),
    "plain_default_relu": ("relu", False, "default"),
}


def sq_norms(arm: str, batch: int, seeds, ctx) -> np.ndarray:
    """[seeds, DEPTH] squared gradient norms, through the run store (all seeds of one arm and B at once)."""
    activation, norm, init = ARMS[arm]
    key = {"yang_gradient_norms": {"activation": activation, "bn": norm, "init": init, "batch": int(batch),
                                   "depth": DEPTH, "width": WIDTH, "d_in": D_IN, "classes": CLASSES,
                                   "bn_eps": BN_EPS},
           "seeds": [int(s) for s in seeds], "format": FORMAT, **environment_key()}

    def compute():
        t0 = time.perf_counter()
        arr = np.stack([grad_sq_norms(activation, norm, init, batch, s) for s in seeds])
        return {"sq_norms": arr}, {"wall_s": round(time.perf_counter() - t0, 3)}

    arrays, _info, _status = RunStore(ctx.store).get_or_compute(key, compute)
    return arrays["sq_norms"]


def growth_factor(sq: np.ndarray) -> np.ndarray:
    """Per-layer growth going backward: exp(-slope) of log |dL/dW_l|^2 over layers FIT_FIRST..FIT_LAST."""
    layers = np.arange(FIT_FIRST, FIT_LAST + 1)
    logs = np.log(np.atleast_2d(sq)[:, FIT_FIRST:FIT_LAST + 1])
    slopes = np.polyfit(layers, logs.T, 1)[0]
    return np.exp(-slopes)


def factors(arm: str, batch: int, seeds, ctx) -> np.ndarray:
    return growth_factor(sq_norms(arm, batch, seeds, ctx))


def rate_figure(fid: str, measured: dict, seeds_n: int) -> dict:
    """Measured growth factor against B (mean, min-max over seeds) with the theory curve."""
    grid = [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    ser = [series("theory lambda_G(B), BN-ReLU", grid, [lambda_G(b) for b in grid]),
           series("theory (B-2)/(B-3), BN-linear", grid, [linear_rate(b) for b in grid])]
    for arm, vals in measured.items():
        bs = sorted(vals)
        ser.append(series(f"measured {arm} ({seeds_n} seeds)", bs, [float(np.mean(vals[b])) for b in bs],
                          [float(np.min(vals[b])) for b in bs], [float(np.max(vals[b])) for b in bs]))
    return figure(fid, "squared-gradient growth per layer at init", ser,
                  xlabel="batch size B", ylabel="growth factor per layer (backward)")


# ---------------------------------------------------------------------------------------------- checks
def check_rate(hyp, ctx, perturb=None):
    """Y.a. perturb="no_bn": BN removed from the network that is compared with lambda_G (negative control)."""
    seeds = ctx.seeds(hyp)
    bn_arm = "plain_default_relu" if perturb == "no_bn" else "bn_relu"
    measured = {a: {b: factors(a, b, seeds, ctx) for b in BATCH_SIZES}
                for a in (bn_arm, "plain_he_relu", "bn_linear")}
    errors, tol = {}, {}
    lo, hi = PLAIN_BAND
    for b in BATCH_SIZES:
        case = f"{bn_arm} B={b}: |mean factor / lambda_G - 1|"
        errors[case], tol[case] = abs(float(np.mean(measured[bn_arm][b])) / lambda_G(b) - 1), RATE_TOL
        case = f"plain_he_relu B={b}: |mean factor - {(lo + hi) / 2:g}|"
        errors[case], tol[case] = abs(float(np.mean(measured["plain_he_relu"][b])) - (lo + hi) / 2), (hi - lo) / 2
    extra = {"perturb": perturb, "theory": {str(b): lambda_G(b) for b in BATCH_SIZES},
             "mean_factor": {a: {str(b): float(np.mean(v[b])) for b in BATCH_SIZES} for a, v in measured.items()},
             "per_seed_factor": {a: {str(b): v[b].tolist() for b in BATCH_SIZES} for a, v in measured.items()},
             "bn_linear_theory": {str(b): linear_rate(b) for b in BATCH_SIZES}}
    return checks.deterministic(hyp, CLAIM, ctx, errors, tol, what="deviation from the predicted band",
                                figures=[rate_figure(f"{hyp.id}-rate", measured, len(seeds))], extra=extra)


def check_batch_trend(hyp, ctx, perturb=None):
    """Y.b. perturb="fixed_batch": every group measured at B = 64 (no batch-size difference: no trend)."""
    t0 = time.perf_counter()
    seeds = ctx.seeds(hyp)
    sizes = [64] * len(BATCH_SIZES) if perturb == "fixed_batch" else list(BATCH_SIZES)
    groups = [factors("bn_relu", b, seeds, ctx) for b in sizes]
    stats = checks.compare_trend(hyp, ctx, groups)
    arms = {name: {"seeds": seeds, "values": g.tolist()} for name, g in zip(hyp.arms, groups)}
    fig = rate_figure(f"{hyp.id}-rate", {"bn_relu": dict(zip(BATCH_SIZES, groups))}, len(seeds))
    return make_evidence(hyp, CLAIM, ctx, arms=arms, stats=stats, engine="analytic", figures=[fig],
                         extra={"perturb": perturb, "batch_sizes": sizes}, wall_s=time.perf_counter() - t0)


def check_tanh(hyp, ctx, perturb=None):
    """Y.c. perturb="swap": the arms exchanged (H1 then says ReLU explodes less: must fail)."""
    t0 = time.perf_counter()
    seeds = ctx.seeds(hyp)
    x_arm, y_arm = ("bn_relu", "bn_tanh") if perturb == "swap" else ("bn_tanh", "bn_relu")
    x, y = factors(x_arm, 64, seeds, ctx), factors(y_arm, 64, seeds, ctx)
    stats = checks.compare_arms(hyp, ctx, x, y)
    arms = {hyp.arms[0]: {"seeds": seeds, "values": x.tolist()}, hyp.arms[1]: {"seeds": seeds, "values": y.tolist()}}
    return make_evidence(hyp, CLAIM, ctx, arms=arms, stats=stats, engine="analytic",
                         extra={"perturb": perturb, "x_is": x_arm, "y_is": y_arm, "batch": 64},
                         wall_s=time.perf_counter() - t0)


def depth_spec(depth: int, ctx, steps: int) -> TrainSpec:
    return TrainSpec(lr=YD_LR, steps=steps, batch_size=64, eval_every=steps).replace(
        model_norm="bn", model_depth=depth, model_width=YD_WIDTH[ctx.profile])


def late_loss(arrays) -> np.ndarray:
    """Mean minibatch training loss over the last 20% of steps; diverged steps count as ln 10."""
    loss = checks.finite_or(arrays["train_loss"], math.log(10.0))
    return loss[-max(len(loss) // 5, 1):].mean(0)


def check_depth(hyp, ctx, perturb=None):
    """Y.d. perturb="fixed_depth": every group is the depth-8 network (no depth difference: no trend)."""
    t0 = time.perf_counter()
    seeds, steps = ctx.seeds(hyp), hyp.budget(ctx.profile).steps
    depths = [YD_DEPTHS[0]] * len(YD_DEPTHS) if perturb == "fixed_depth" else list(YD_DEPTHS)
    specs = [depth_spec(d, ctx, steps) for d in depths]
    runs = [checks.run(s, seeds, ctx=ctx) for s in specs]
    groups = [late_loss(a) for a in runs]
    stats = checks.compare_trend(hyp, ctx, groups)
    arms = {name: checks.arm_record(s, seeds, g, a) for name, s, g, a in zip(hyp.arms, specs, groups, runs)}
    fig = figure("Y.d-depth", "late training loss vs depth (BN, no skips)",
                 [series(f"late training loss ({len(seeds)} seeds)", depths, [float(np.median(g)) for g in groups],
                         [float(np.min(g)) for g in groups], [float(np.max(g)) for g in groups])],
                 xlabel="hidden layers", ylabel="minibatch loss, last 20% of steps")
    extra = {"perturb": perturb, "depths": depths, "width": YD_WIDTH[ctx.profile], "lr": YD_LR, "steps": steps,
             "final_train_acc": {name: a["eval_train_acc"][-1].tolist() for name, a in zip(hyp.arms, runs)},
             "predicted_depth_scale_16_over_log_lambda": 16 / math.log(lambda_G(64))}
    return make_evidence(hyp, CLAIM, ctx, arms=arms, stats=stats, engine="batched", figures=[fig], extra=extra,
                         wall_s=time.perf_counter() - t0)


RUNNERS = {"Y.a": check_rate, "Y.b": check_batch_trend, "Y.c": check_tanh, "Y.d": check_depth}
