"""Moved to bnclaims.harness.declare.evidence; this name stays importable for third-party claim packs for one release
(it is the same module object, so registrations and private names behave as before)."""
import sys
import warnings

from bnclaims.harness.declare import evidence as _moved

warnings.warn("bnclaims.harness.evidence moved to bnclaims.harness.declare.evidence (or import bnclaims.harness.kit); "
              "the old name goes in the next release", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
