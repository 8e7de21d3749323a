"""kappa's firmware side: PrecisionDict -> hls4ml project, C simulation, bit-exact comparison."""

from .convert import convert
from .csim import CsimError, run_csim
from .compare import ComparisonReport, compare

__all__ = ["convert", "run_csim", "compare", "ComparisonReport", "CsimError"]
