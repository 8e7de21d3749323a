"""kappa's firmware side: PrecisionDict -> hls4ml project, C simulation, bit-exact comparison,
synthesis and reports. Importing it does not import TensorFlow (only using the converter does)."""

from .convert import convert
from .csim import CsimError, run_csim
from .compare import ComparisonReport, compare

__all__ = ["convert", "run_csim", "compare", "ComparisonReport", "CsimError"]
