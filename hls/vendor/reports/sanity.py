"""Sanity checks of the values a report set gave (:func:`check_values`): cycle counts and
resource counts are non-negative integers that fit 64 bits, clock periods finite and > 0,
other times finite and >= 0. A value failing its check is shown as unknown (None) and a
warning naming the file it came from is added to the report; nothing is silently rounded."""

from __future__ import annotations

import math
from pathlib import Path

from .parse import INT64_MAX
from .records import SynthesisReport

_CYCLES = ("latency_best_cycles", "latency_worst_cycles", "interval_min_cycles", "interval_max_cycles")
_POSITIVE_NS = ("target_clock_ns", "estimated_clock_ns")
_NONNEGATIVE_NS = ("clock_uncertainty_ns", "latency_best_ns", "latency_worst_ns")
_COSIM = ("latency_min_cycles", "latency_avg_cycles", "latency_max_cycles", "interval_min_cycles",
          "interval_avg_cycles", "interval_max_cycles", "total_execution_cycles")


def _count_ok(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= INT64_MAX


def _time_ok(v, positive: bool) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 if positive else v >= 0)


def check_values(r: SynthesisReport) -> SynthesisReport:
    """Apply the checks to ``r`` in place (see the module docstring); returns ``r``."""

    def warn(src, key, v, expected):
        name = Path(src).name if src else "a report file"
        r.warnings.append(f"{src or name}: {key} is {v!r}, expected {expected}; shown as unknown")

    for key in _CYCLES:
        v = getattr(r, key)
        if v is not None and not _count_ok(v):
            warn(r.sources.get(key), key, v, "a non-negative integer of at most 64 bits")
            setattr(r, key, None)
    for keys, positive in ((_POSITIVE_NS, True), (_NONNEGATIVE_NS, False)):
        for key in keys:
            v = getattr(r, key)
            if v is not None and not _time_ok(v, positive):
                warn(r.sources.get(key), key, v, "a finite time " + ("> 0" if positive else ">= 0") + " (ns)")
                setattr(r, key, None)
    for field in ("resources", "post_synth"):
        res = getattr(r, field)
        for name, rv in list((res or {}).items()):
            bad = [(k, x) for k, x in (("used", rv.used), ("available", rv.available))
                   if x is not None and not _count_ok(x)]
            if bad or (rv.percent is not None and not math.isfinite(rv.percent)):
                k, x = bad[0] if bad else ("percent", rv.percent)
                warn(r.sources.get(field), f"{name} {k}", x, "a non-negative integer of at most 64 bits")
                res[name] = None
    if r.cosim is not None:
        for key in _COSIM:
            v = getattr(r.cosim, key)
            if v is not None and not _count_ok(v):
                warn(r.sources.get("cosim"), f"cosim {key}", v, "a non-negative integer of at most 64 bits")
                setattr(r.cosim, key, None)
    return r
