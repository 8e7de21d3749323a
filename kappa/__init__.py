"""kappa: train neural networks in the firmware's exact fixed-point arithmetic, convert
them to hls4ml HLS projects, and prove the C simulation agrees bit for bit."""

from .fixed_point import FixedPointType, ROUNDING_MODES, OVERFLOW_MODES
from .quantization import quantize, quantize_tensor, rail_stats
from .precision import PrecisionDict, ensure_precision_dict, FIELDS

__version__ = "0.1.0"
