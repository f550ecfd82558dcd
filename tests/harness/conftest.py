"""Fixtures for the plugin tests: a pytester directory holding the fake claim pack and one plain test file."""
import pytest

from plugin_fakes import install_pack


@pytest.fixture(scope="session")
def fake_store(tmp_path_factory):
    """One store for every fake run of a worker, so each fake figure is rendered once (cached by spec hash)."""
    return tmp_path_factory.mktemp("fake-store")


@pytest.fixture
def fake(pytester, monkeypatch, fake_store):
    monkeypatch.setenv("BNCLAIMS_STORE", str(fake_store))
    install_pack(pytester.path)
    pytester.makepyfile(test_plain="def test_not_a_claim():\n    pass\n")
    return pytester
