"""Moved: the design vocabulary to bnclaims.harness.declare.design, validation to bnclaims.harness.declare.validate,
describe() to bnclaims.harness.declare.lockform. This name stays importable for third-party claim packs for one
release, with the names it had (the registries are the same objects, so registrations behave as before)."""
import warnings

from bnclaims.harness.declare.design import *  # noqa: F401,F403
from bnclaims.harness.declare.design import ERRORS, REDUCTIONS, DeclarationError  # noqa: F401
from bnclaims.harness.declare.lockform import describe  # noqa: F401
from bnclaims.harness.declare.validate import validate, validate_claim  # noqa: F401

warnings.warn("bnclaims.harness.design moved to bnclaims.harness.declare (design, validate, lockform; or import "
              "bnclaims.harness.kit); the old name goes in the next release", DeprecationWarning, stacklevel=2)
