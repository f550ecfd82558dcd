"""C3: what is specific to the claim: the exact BN error functions, the recovery reductions and their
negative-control perturbations, the rank correlation, and the properties the old control tests asserted."""
import numpy as np
import pytest

from bnclaims.claims import c3
from bnclaims.harness import kit
from bnclaims.harness.declare import design
from bnclaims.harness.declare import validate as dv
from bnclaims.harness import routines
from bnclaims.harness.run import runner
from bnclaims.harness.run.context import RunContext


def _recovery_arrays(k=3, h=40, seed=0):
    """Synthetic recovery arrays: gamma tracks the std and beta the mean exactly."""
    rng = np.random.default_rng(seed)
    std, mean = rng.uniform(0.5, 3, (k, h)), rng.normal(0, 2, (k, h))
    return {"seeds": np.arange(k), "ks_before": rng.uniform(0.2, 0.4, k), "ks_after": rng.uniform(0, 0.1, k),
            "w_before": rng.uniform(0.5, 1, k), "w_after": rng.uniform(0, 0.2, k),
            "loss_orig": rng.uniform(0.5, 1, k).astype(np.float32),
            "loss_insert": rng.uniform(1, 2, k).astype(np.float32),
            "loss_after": rng.uniform(0.5, 1, k).astype(np.float32),
            "gamma": std.copy(), "beta": mean.copy(), "orig_std": std, "orig_mean": mean,
            "running_var": std ** 2, "running_mean": mean.copy()}


# ---- declarations ----

def test_every_hypothesis_declares_a_valid_design():
    for hyp in c3.CLAIM.hypotheses:
        dv.validate(hyp, routines.ROUTINES)
    assert {c.name for h in c3.CLAIM.hypotheses for c in h.design.controls} == {
        "other_batch", "no_bn", "no_recovery_training", "shuffled_units", "untrained", "random_subset_as_bn_only",
        "exact_gamma", "other_seeds"}


def test_only_c3c1_votes_and_the_new_checks_are_exploratory():
    dv.validate_claim(c3.CLAIM)
    assert {h.id for h in c3.CLAIM.hypotheses if h.votes} == {"C3.c1"}
    assert not c3.C3D1.votes and c3.C3D1.alpha == c3.C3_ALPHA      # its test is unchanged; it just does not vote
    for h in (c3.C3C5, c3.C3C6, c3.C3C7):
        assert not h.confirmatory and h.role == "evidence" and h.group == c3.C3C1.group and h.runs_in("ci")
        assert h.budgets is c3.RECOVERY_BUDGETS
    assert c3.C3C5.margin == c3.RATIO_MARGIN == pytest.approx(np.log(1.2))


# ---- C3.a, C3.b: exact properties ----

def test_identity_holds_within_tolerance_and_fails_from_another_batch():
    ok = c3.identity_errors()
    assert max(ok.values()) <= c3.IDENTITY_TOL
    assert len(ok) == 2 * len(c3.KINDS) * 3 * 2          # both gamma choices per kind x batch size x width
    bad = c3.identity_errors(perturb="other_batch")
    assert max(bad.values()) / c3.IDENTITY_TOL > 100     # worst error is > 100x the tolerance


def test_moment_tolerances_follow_the_case():
    errors, tol = c3.moment_check()
    assert set(errors) == set(tol)
    grad = [c for c in errors if c.endswith("|dmean/dW|")]
    assert grad and all(tol[c] == c3.GRAD_TOL for c in grad)
    assert tol["seed=0 B=128 W->1.0W, b->1.0b+0 std"] == pytest.approx(16 * 128 ** 0.5 * c3.F32_EPS)
    assert all(errors[c] <= tol[c] for c in errors)
    errors, tol = c3.moment_check(perturb="no_bn")
    assert any(errors[c] > 100 * tol[c] for c in grad)   # without BN the upstream weights do move the mean


# ---- C3.c: recovery reductions ----

def test_spearman_rows():
    a = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
    b = np.array([[10.0, 20.0, 30.0, 40.0], [4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(kit.spearman_rows(a, b), [1.0, -1.0, 0.0])   # a constant row counts as 0


def test_reductions_of_a_perfect_recovery():
    a = _recovery_arrays()
    np.testing.assert_allclose(c3.spearman_gamma_std(a), 1.0)
    np.testing.assert_allclose(c3.spearman_beta_mean(a), 1.0)
    np.testing.assert_array_equal(c3.ks_after(a), a["ks_after"])
    np.testing.assert_array_equal(c3.ks_before(a), a["ks_before"])
    np.testing.assert_array_equal(c3.loss_after(a), a["loss_after"])
    plus = c3.loss_original_plus(a, margin=c3.LOSS_MARGIN)
    assert plus.dtype == np.float32                        # the margin is added in the run's precision
    np.testing.assert_array_equal(plus, a["loss_orig"] + np.float32(c3.LOSS_MARGIN))


def test_no_recovery_training_reads_the_state_at_insertion():
    a = _recovery_arrays()
    p = "no_recovery_training"
    np.testing.assert_array_equal(c3.ks_after(a, perturb=p), a["ks_before"])   # so C3.c1's effect is exactly 0
    np.testing.assert_array_equal(c3.loss_after(a, perturb=p), a["loss_insert"])
    np.testing.assert_array_equal(c3.spearman_gamma_std(a, perturb=p), 0.0)   # gamma = 1: undefined = 0
    np.testing.assert_array_equal(c3.spearman_beta_mean(a, perturb=p), 0.0)
    np.testing.assert_array_equal(a["gamma"], a["orig_std"])                  # the run's arrays are untouched


def test_shuffled_units_permute_each_seed_the_same_way_every_time():
    a = _recovery_arrays(k=4, h=200)
    s1, s2 = c3.recovered(a, "shuffled_units"), c3.recovered(a, "shuffled_units")
    np.testing.assert_array_equal(s1["orig_std"], s2["orig_std"])
    np.testing.assert_array_equal(np.sort(s1["orig_std"], 1), np.sort(a["orig_std"], 1))
    assert np.all(np.abs(c3.spearman_gamma_std(a, perturb="shuffled_units")) < 0.3)
    assert np.all(np.abs(c3.spearman_beta_mean(a, perturb="shuffled_units")) < 0.3)
    with pytest.raises(ValueError, match="unknown perturbation"):
        c3.recovered(a, "other")


# ---- C3.c5-c7: recovery as worded (issue 24) ----

def test_log_ratio_is_zero_when_gamma_equals_the_original_std():
    a = _recovery_arrays()
    np.testing.assert_array_equal(c3.log_gamma_over_std(a), 0.0)
    np.testing.assert_array_equal(c3.median_log_gamma_std(a), 0.0)
    np.testing.assert_array_equal(c3.median_abs_log_gamma_std(a), 0.0)


def test_log_ratio_of_known_scalings():
    a = _recovery_arrays(k=2, h=6)
    a["gamma"] = a["orig_std"] * np.array([1.2, 1.2, 1.2, 0.5, 0.5, 0.5])
    lr = c3.log_gamma_over_std(a)
    np.testing.assert_allclose(lr[:, :3], np.log(1.2), rtol=1e-12)
    np.testing.assert_allclose(lr[:, 3:], -np.log(2), rtol=1e-12)
    # the median of 6 signed values is the mean of the middle two: (log 1.2 - log 2) / 2
    np.testing.assert_allclose(c3.median_log_gamma_std(a), (np.log(1.2) - np.log(2)) / 2, rtol=1e-12)
    np.testing.assert_allclose(c3.median_abs_log_gamma_std(a), (np.log(1.2) + np.log(2)) / 2, rtol=1e-12)


def test_signed_median_hides_units_that_miss_both_ways_the_absolute_one_does_not():
    a = _recovery_arrays(k=3, h=40)
    a["gamma"] = a["orig_std"] * np.where(np.arange(40) % 2 == 0, 2.0, 0.5)
    np.testing.assert_allclose(c3.median_log_gamma_std(a), 0.0, atol=1e-12)          # C3.c5 would call it recovered
    np.testing.assert_allclose(c3.median_abs_log_gamma_std(a), np.log(2), rtol=1e-12)  # C3.c7 does not


def test_nonpositive_gamma_counts_as_far_from_recovered():
    a = _recovery_arrays(k=1, h=3)
    a["gamma"] = np.array([[-1.0, 0.0, 1.0]])
    a["orig_std"] = np.array([[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(c3.log_gamma_over_std(a), [[c3.NONPOSITIVE_LOG, c3.NONPOSITIVE_LOG, 0.0]])
    assert c3.NONPOSITIVE_LOG < -10 * c3.RATIO_MARGIN


def test_log_ratio_refuses_bad_input():
    a = _recovery_arrays(k=2, h=4)
    with pytest.raises(ValueError, match="seeds, units"):
        c3.log_gamma_over_std({**a, "gamma": a["gamma"][:, :3]})
    with pytest.raises(ValueError, match="> 0"):
        c3.log_gamma_over_std({**a, "orig_std": np.zeros_like(a["orig_std"])})
    with pytest.raises(ValueError, match="finite"):
        c3.log_gamma_over_std({**a, "gamma": np.full_like(a["gamma"], np.nan)})
    with pytest.raises(ValueError, match="needs eps"):
        c3.median_log_gamma_std(a, perturb="exact_gamma")


def test_exact_gamma_reads_the_running_variance():
    a = _recovery_arrays(k=2, h=5)
    a["gamma"] = 3 * a["orig_std"]                                      # what training learned: ignored
    eps = 1e-5
    want = 0.5 * np.log1p(eps / a["orig_std"] ** 2)                    # running_var = std^2 here
    np.testing.assert_allclose(c3.log_gamma_over_std(a, "exact_gamma", eps), want, rtol=1e-9)
    np.testing.assert_allclose(c3.median_abs_log_gamma_std(a, "exact_gamma", eps), np.median(want, 1), rtol=1e-9)
    np.testing.assert_array_equal(c3.log_gamma_over_std(a, "no_recovery_training"), np.log(1 / a["orig_std"]))


def test_wasserstein_reductions_and_no_recovery_training():
    a = _recovery_arrays()
    np.testing.assert_array_equal(c3.w_after(a), a["w_after"])
    np.testing.assert_array_equal(c3.w_before(a), a["w_before"])
    np.testing.assert_array_equal(c3.w_after(a, perturb="no_recovery_training"), a["w_before"])


def test_the_tests_can_say_no_at_the_reviewed_ratio_and_yes_at_recovery():
    """C3.c5's TOST and C3.c7's signed-rank test on synthetic per-seed values with known answers."""
    from bnclaims.harness.stats import compare as stats
    rng = np.random.default_rng(3)
    for centre, want in ((0.0, "reproduced"), (np.log(1.31), "not reproduced")):
        x = centre + 0.01 * rng.standard_normal(8)
        got = stats.compare(x, np.zeros(8), direction="equivalent", test="tost", alpha=c3.C3C5.alpha, paired=True,
                            margin=c3.RATIO_MARGIN)
        assert got["verdict"] == want, (centre, got)
        got = stats.compare(np.abs(x), np.full(8, c3.RATIO_MARGIN), direction="less", test="wilcoxon",
                            alpha=c3.C3C7.alpha, paired=True)
        assert got["verdict"] == want, (centre, got)


def test_null_controls_read_the_runs_of_c3c1s_aa_control():
    """The comparator of C3.c5/C3.c7's null control is the recovery routine on the A/A control's seeds."""
    aa = design.null_control(c3.C3C1)
    for hyp, comparator in ((c3.C3C5, "zero"), (c3.C3C7, "margin")):
        ctl = hyp.design.control("other_seeds")
        assert ctl.null and ctl.seeds == {comparator: aa.seeds["after_recovery"]}
        d = hyp.design.with_control(ctl)
        assert d.arms[comparator] == c3.RECOVERY_ARM == c3.C3C1.design.arms["at_insertion"]
    assert c3.C3C5.design.control("other_seeds").shift == {"log_ratio": c3.RATIO_MARGIN}
    assert design.null_control(c3.C3C6).seeds == aa.seeds                    # C3.c6's own A/A: the same runs


def test_declarations_read_the_constants_they_were_declared_with():
    """No module-level name of claims/c3.py is assigned twice (a later value would silently reach an extra)."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(c3))
    names = [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
             for t in (t.elts if isinstance(t, ast.Tuple) else [t]) if isinstance(t, ast.Name)]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


# ---- C3.d: BN-only training ----

def test_accuracy_at_a_checkpoint_counts_divergence_as_chance():
    a = {"eval_test_acc": np.array([[0.1, 0.12], [0.4, np.nan]])}
    np.testing.assert_array_equal(c3.accuracy_at(a), [0.4, c3.CHANCE])
    np.testing.assert_array_equal(c3.accuracy_at(a, at=0), [0.1, 0.12])
    assert c3.ABOVE_CHANCE == pytest.approx(0.2)


def test_gamma_off_fraction():
    a = {"gamma0": np.array([[0.05, 1.0, -0.01, 2.0]]), "gamma1": np.array([[1.0, 1.0, 1.0, -0.2]]),
         "beta0": np.zeros((1, 4))}
    np.testing.assert_allclose(c3._gamma_off_fraction(a), [[0.5], [0.0]])


# ---- properties of the negative controls beyond their verdicts (a tiny smoke run) ----

@pytest.fixture
def smoke(tmp_path):
    return RunContext(profile="smoke", store=str(tmp_path), report_dir=str(tmp_path / "report"))


def test_c3c1_without_recovery_training_distances_are_identical(smoke):
    """The state at insertion in place of the trained gamma, beta: identical distances, effect exactly 0."""
    ev = runner.run_check(c3.C3C1, c3.CLAIM, smoke, control="no_recovery_training")
    assert ev["stats"]["effect"] == 0.0
    assert ev["arms"]["after_recovery"]["values"] == ev["arms"]["at_insertion"]["values"]


def test_c3d2_same_spec_gives_identical_runs(smoke):
    """The BN-only arm replaced by the random-subset spec: identical runs, identical values."""
    ev = runner.run_check(c3.C3D2, c3.CLAIM, smoke, control="random_subset_as_bn_only")
    assert ev["arms"]["bn_only"]["values"] == ev["arms"]["random_subset"]["values"]


def test_as_worded_checks_train_nothing_beyond_c3c1(smoke, tmp_path):
    """C3.c5-c7 with every control read the two routine runs of C3.c1 and its A/A control, nothing else."""
    from bnclaims.harness.store import RunStore
    for hyp in (c3.C3C1, c3.C3C5, c3.C3C6, c3.C3C7):
        for ctl in [None] + [c.name for c in design.controls_of(hyp)]:
            ev = runner.run_check(hyp, c3.CLAIM, smoke, control=ctl)
            assert ev["verdict"] == "smoke"
    assert len(list(RunStore(smoke.store).entries())) == 2
