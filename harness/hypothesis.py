"""Moved to bnclaims.harness.declare.hypothesis; this name stays importable for third-party claim packs for one release
(it is the same module object, so registrations and private names behave as before)."""
import sys
import warnings

from bnclaims.harness.declare import hypothesis as _moved

warnings.warn("bnclaims.harness.hypothesis moved to bnclaims.harness.declare.hypothesis (or import bnclaims.harness.kit); "
              "the old name goes in the next release", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
