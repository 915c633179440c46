"""Pytest fixtures for projects that use Tether (and for Tether's own tests).

Enable them with ``pytest_plugins = ["tether.testing.plugin"]`` in a
``conftest.py``.
"""
