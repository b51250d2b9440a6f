"""Shared pytest set-up: fixtures live in plugin modules next to the tests."""

pytest_plugins = ["localcluster.pytest_plugin", "simfixtures", "promfixtures"]
