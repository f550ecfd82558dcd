"""C2: BN speeds up convergence, tolerates larger learning rates and a careless initialization."""
import pytest

from claims import c2


def _assert_not_reproduced(ev, hyp):
    """A negative control: the BN arm replaced by the plain spec must not reproduce H1."""
    assert ev["id"] == hyp.id
    assert ev["extra"]["perturb"] == "control"
    assert ev["stats"]["verdict"] != "reproduced", ev["stats"].get("reason")


@pytest.mark.claim("C2.a")
def test_c2a_bn_converges_faster_auc(claims_run):
    claims_run(c2.C2A, c2.CLAIM, c2.check_c2a)


@pytest.mark.claim("C2.a")
def test_c2a_negative_control_bn_grid_without_bn(claims_ctx):
    _assert_not_reproduced(c2.check_c2a(c2.C2A, claims_ctx, perturb="control"), c2.C2A)


@pytest.mark.claim("C2.a2")
def test_c2a2_bn_needs_fewer_steps(claims_run):
    claims_run(c2.C2A2, c2.CLAIM, c2.check_c2a2)


@pytest.mark.claim("C2.a2")
def test_c2a2_negative_control_bn_grid_without_bn(claims_ctx):
    _assert_not_reproduced(c2.check_c2a2(c2.C2A2, claims_ctx, perturb="control"), c2.C2A2)


@pytest.mark.claim("C2.b")
def test_c2b_bn_trains_at_a_high_rate(claims_run):
    claims_run(c2.C2B, c2.CLAIM, c2.check_c2b)


@pytest.mark.claim("C2.b")
def test_c2b_negative_control_bn_grid_without_bn(claims_ctx):
    _assert_not_reproduced(c2.check_c2b(c2.C2B, claims_ctx, perturb="control"), c2.C2B)


@pytest.mark.claim("C2.b2")
def test_c2b2_bn_trains_at_more_rates(claims_run):
    claims_run(c2.C2B2, c2.CLAIM, c2.check_c2b2)


@pytest.mark.claim("C2.b2")
def test_c2b2_negative_control_bn_grid_without_bn(claims_ctx):
    _assert_not_reproduced(c2.check_c2b2(c2.C2B2, claims_ctx, perturb="control"), c2.C2B2)


@pytest.mark.claim("C2.c")
def test_c2c_bn_trains_from_careless_init(claims_run):
    claims_run(c2.C2C, c2.CLAIM, c2.check_c2c)


@pytest.mark.claim("C2.c")
def test_c2c_negative_control_bn_arm_without_bn(claims_ctx):
    _assert_not_reproduced(c2.check_c2c(c2.C2C, claims_ctx, perturb="control"), c2.C2C)


@pytest.mark.claim("C2.d")
def test_c2d_ioffe_fig1_test_accuracy(claims_run):
    claims_run(c2.C2D, c2.CLAIM, c2.check_c2d)


@pytest.mark.claim("C2.d")
def test_c2d_negative_control_bn_arm_without_bn(claims_ctx):
    _assert_not_reproduced(c2.check_c2d(c2.C2D, claims_ctx, perturb="control"), c2.C2D)
