"""Shared pytest hooks for tests/."""

from __future__ import annotations

import os

# Many small C-simulation projects with few samples: compile quicker (-O0), run slower.
os.environ.setdefault("KAPPA_CSIM_OPT", "-O0")

import json
import sys
from collections import Counter

import pytest

_FROM_WORKERS: Counter = Counter()  # property-test case counts sent by pytest-xdist workers


def _cases() -> Counter:
    mod = sys.modules.get("test_properties") or sys.modules.get("tests.test_properties")
    return Counter(getattr(mod, "CASES", None) or {})


def pytest_sessionfinish(session):
    out = getattr(session.config, "workeroutput", None)
    if out is not None:  # an xdist worker: hand the counts to the controller
        out["property_cases"] = json.dumps(_cases())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _FROM_WORKERS.update(json.loads(getattr(node, "workeroutput", {}).get("property_cases", "{}")))


def pytest_terminal_summary(terminalreporter):
    """Print how many generated cases each property-based test ran (tests/fixed_point/test_properties.py)."""
    cases = _cases() + _FROM_WORKERS
    if cases:
        terminalreporter.write_line("hypothesis cases: " + ", ".join(f"{k}={v}" for k, v in sorted(cases.items())))
