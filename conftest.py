"""Root conftest: every test directory shares the backends and isolation fixtures."""

pytest_plugins = ["shared.testing.fixtures"]
