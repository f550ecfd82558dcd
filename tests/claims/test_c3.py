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
