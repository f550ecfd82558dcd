"""Fixtures for the plugin tests: a pytester directory holding two fake claim files."""
import pytest

from plugin_fakes import HELPERS, TEST_C8, TEST_C9


@pytest.fixture(scope="session")
def fake_store(tmp_path_factory):
    """One store for every fake run of a worker, so each fake figure is rendered once (cached by spec hash)."""
    return tmp_path_factory.mktemp("fake-store")


@pytest.fixture
def fake(pytester, monkeypatch, fake_store):
    monkeypatch.setenv("BNCLAIMS_STORE", str(fake_store))
    pytester.makepyfile(fakeclaims=HELPERS, test_c8=TEST_C8, test_c9=TEST_C9)
    return pytester
