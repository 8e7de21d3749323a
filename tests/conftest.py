"""Shared pytest hooks for tests/."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter):
    """Print how many generated cases each property-based test ran (tests/test_properties.py)."""
    mod = sys.modules.get("test_properties") or sys.modules.get("tests.test_properties")
    cases = getattr(mod, "CASES", None)
    if cases:
        terminalreporter.write_line("hypothesis cases: " + ", ".join(f"{k}={v}" for k, v in sorted(cases.items())))
