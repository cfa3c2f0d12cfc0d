"""Registers the project's pytest plugins for every service's tests."""

pytest_plugins = ["testkit.plugin", "testkit.spotify"]
