"""Shared helpers of the registry tests."""

from __future__ import annotations

from tether.store import get_store


def record_passing_tests(name: str, version: int) -> None:
    """Store a test result in which every test of version ``version`` passed."""
    get_store().add_test_result(
        name,
        version,
        suite="helper",
        passed=True,
        required_passed=True,
        results=[{"name": "helper", "passed": True, "required": True}],
    )
