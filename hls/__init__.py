"""kappa's firmware side: PrecisionDict -> hls4ml project, C simulation, bit-exact comparison,
synthesis and reports. Importing it does not import TensorFlow (only using the converter does).

Packages, by subsystem (dependencies run one way, top to bottom):

* :mod:`hls.cli` -- the ``kappa`` command (one module per command);
* :mod:`hls.jobs`, :mod:`hls.sweep` -- the main job, its schema and config; precision sweeps;
* :mod:`hls.project`, :mod:`hls.sim`, :mod:`hls.vendor` -- writing a project; C simulation and
  comparison; vendor synthesis and reports;
* :mod:`hls.safety` -- the shared bottom layer: what may reach Tcl, C++ and the file system.
"""

from .project.convert import convert
from .sim.compare import ComparisonReport, compare
from .sim.csim import CsimError, run_csim

__all__ = ["convert", "run_csim", "compare", "ComparisonReport", "CsimError"]
