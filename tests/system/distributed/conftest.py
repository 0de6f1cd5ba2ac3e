import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slower than about a second (still run in CI)")
