"""kappa's firmware side: PrecisionDict -> hls4ml project, C simulation, bit-exact comparison,
synthesis and reports. Importing it does not import TensorFlow (only using the converter does).

Packages, by subsystem (dependencies run one way, top to bottom):

* :mod:`hls.cli` -- the ``kappa`` command (one module per command);
* :mod:`hls.jobs`, :mod:`hls.sweep` -- the main job, its schema and config; precision sweeps;
* :mod:`hls.project`, :mod:`hls.sim`, :mod:`hls.vendor`, :mod:`hls.rtl` -- writing a project; C
  simulation and comparison; vendor synthesis and reports; the RTL backend (da4ml Verilog,
  Verilator, Yosys: ``hls.write_rtl``, ``hls.compare_rtl``, ``hls.synth_rtl``, imported on use);
* :mod:`hls.safety` -- the shared bottom layer: what may reach Tcl, C++ and the file system.
"""

from .project.convert import convert
from .sim.compare import ComparisonReport, compare
from .sim.csim import CsimError, run_csim

__all__ = ["convert", "run_csim", "compare", "ComparisonReport", "CsimError", "write_rtl", "compare_rtl", "synth_rtl"]

_RTL = ("write_rtl", "compare_rtl", "synth_rtl")


def __getattr__(name):
    if name in _RTL:  # lazily: the RTL backend needs da4ml, which plain HLS use does not
        from . import rtl

        return getattr(rtl, name)
    raise AttributeError(f"module 'hls' has no attribute {name!r}")
