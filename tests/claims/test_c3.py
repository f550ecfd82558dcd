"""C3: gamma and beta recover the original distribution; two parameters set a BN unit's moments."""
import pytest

from claims import c3


@pytest.mark.claim("C3.a")
def test_c3a_identity_is_representable(claims_run):
    claims_run(c3.C3A, c3.CLAIM, c3.check_c3a)


@pytest.mark.claim("C3.a")
def test_c3a_negative_control_statistics_of_another_batch(claims_ctx):
    """gamma, beta fixed from one batch cannot recover the next batch: the check must fail."""
    ev = c3.check_c3a(c3.C3A, claims_ctx, perturb="other_batch")
    assert ev["stats"]["verdict"] == "not reproduced"
    assert ev["stats"]["effect"] > 100          # worst error is > 100x the tolerance


@pytest.mark.claim("C3.b")
def test_c3b_two_parameters_set_the_moments(claims_run):
    claims_run(c3.C3B, c3.CLAIM, c3.check_c3b)


@pytest.mark.claim("C3.b")
def test_c3b_negative_control_without_bn(claims_ctx):
    """Without BN the upstream weights do move the output moments: the check must fail."""
    ev = c3.check_c3b(c3.C3B, claims_ctx, perturb="no_bn")
    assert ev["stats"]["verdict"] == "not reproduced"


# ---- C3.c recovery by training gamma and beta (shared private runs) ----

@pytest.mark.claim("C3.c1")
def test_c3c1_distribution_moves_back(claims_run):
    claims_run(c3.C3C1, c3.CLAIM, c3.check_c3c)


@pytest.mark.claim("C3.c2")
def test_c3c2_gamma_tracks_std(claims_run):
    claims_run(c3.C3C2, c3.CLAIM, c3.check_c3c)


@pytest.mark.claim("C3.c3")
def test_c3c3_beta_tracks_mean(claims_run):
    claims_run(c3.C3C3, c3.CLAIM, c3.check_c3c)


@pytest.mark.claim("C3.c4")
def test_c3c4_loss_returns(claims_run):
    claims_run(c3.C3C4, c3.CLAIM, c3.check_c3c)


@pytest.mark.parametrize("hyp", [pytest.param(c3.C3C1, marks=pytest.mark.claim("C3.c1"), id="C3.c1"),
                                 pytest.param(c3.C3C4, marks=pytest.mark.claim("C3.c4"), id="C3.c4")])
def test_c3c_negative_control_without_recovery_training(claims_ctx, hyp):
    """The state at insertion in place of the trained gamma, beta: distance and loss cannot have recovered."""
    ev = c3.check_c3c(hyp, claims_ctx, perturb="no_recovery_training")
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] != "reproduced"
    if hyp is c3.C3C1:
        assert ev["stats"]["effect"] == 0.0        # identical distances at insertion and "after"


@pytest.mark.parametrize("hyp", [pytest.param(c3.C3C2, marks=pytest.mark.claim("C3.c2"), id="C3.c2"),
                                 pytest.param(c3.C3C3, marks=pytest.mark.claim("C3.c3"), id="C3.c3")])
def test_c3c_negative_control_shuffled_units(claims_ctx, hyp):
    """gamma, beta against the moments of randomly permuted units: no rank correlation to find."""
    ev = c3.check_c3c(hyp, claims_ctx, perturb="shuffled_units")
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] != "reproduced"


# ---- C3.d training only gamma and beta (Frankle et al. 2021) ----

@pytest.mark.claim("C3.d1")
def test_c3d1_bn_only_far_above_chance(claims_run):
    claims_run(c3.C3D1, c3.CLAIM, c3.check_c3d)


@pytest.mark.claim("C3.d2")
def test_c3d2_bn_only_beats_random_weights(claims_run):
    claims_run(c3.C3D2, c3.CLAIM, c3.check_c3d)


@pytest.mark.claim("C3.d1")
def test_c3d1_negative_control_untrained(claims_ctx):
    """Accuracy before any training (chance) in place of the final one: must not clear twice chance."""
    ev = c3.check_c3d(c3.C3D1, claims_ctx, perturb="untrained")
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] == "not reproduced"


@pytest.mark.claim("C3.d2")
def test_c3d2_negative_control_same_spec(claims_ctx):
    """The BN-only arm replaced by the random-subset spec: identical runs, so the check must not pass."""
    ev = c3.check_c3d(c3.C3D2, claims_ctx, perturb="random_subset_as_bn_only")
    assert ev["arms"]["bn_only"]["values"] == ev["arms"]["random_subset"]["values"]
    if not claims_ctx.smoke:
        assert ev["stats"]["verdict"] != "reproduced"
