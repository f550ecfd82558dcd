"""Wires the bnclaims pytest plugin for a plain `pytest` run from the repository root."""
pytest_plugins = ["harness.plugin"]
