"""The HLS project options and their defaults (one home for the converter, the job schema
and the sweep)."""

from __future__ import annotations

from kappa.layers.base import IO_TYPES, STRATEGIES

BACKENDS = ("Vitis", "Vivado")
RTL_BACKEND = "rtl"
"""The job's backend for the RTL path (:mod:`hls.rtl`: da4ml Verilog, Verilator, Yosys)."""
JOB_BACKENDS = (*BACKENDS, RTL_BACKEND)
DEFAULT_PART = "xcu250-figd2104-2L-e"
DEFAULT_CLOCK_NS = 5.0
PROJECT_NAME = "myproject"
HLS_DEFAULTS = {"backend": "Vitis", "part": DEFAULT_PART, "clock_period": DEFAULT_CLOCK_NS, "io_type": "io_parallel",
                "strategy": "Latency", "reuse_factor": 1, "layer_options": {}}
"""Every HLS option's default (the keyword defaults of :func:`hls.convert`)."""

__all__ = ["BACKENDS", "RTL_BACKEND", "JOB_BACKENDS", "DEFAULT_PART",
           "DEFAULT_CLOCK_NS", "PROJECT_NAME", "HLS_DEFAULTS", "IO_TYPES", "STRATEGIES"]
