"""kappa: train neural networks in the firmware's exact fixed-point arithmetic, convert
them to hls4ml HLS projects, and prove the C simulation agrees bit for bit.

Data flows one way: dataset -> model + PrecisionDict -> training -> FitHistory, and
model + PrecisionDict -> HLS project (``hls.convert``) -> csim -> comparison report.
"""

from .fixed_point import FixedPointType, OVERFLOW_MODES, ROUNDING_MODES
from .quantization import quantize, quantize_tensor, rail_stats
from .precision import FIELDS, PrecisionDict, ensure_precision_dict
from .dataset import AffineDataset, BaseDataset, DataType, DigitsDataset
from . import datasets
from .forward import predict_quantized
from .history import FitHistory
from .nn import BaseModel, KerasModel, LinearBlockModel
from .training import train_instrumented

__version__ = "0.1.0"

__all__ = [
    "FixedPointType", "ROUNDING_MODES", "OVERFLOW_MODES", "quantize", "quantize_tensor", "rail_stats",
    "FIELDS", "PrecisionDict", "ensure_precision_dict", "DataType", "BaseDataset", "AffineDataset",
    "DigitsDataset", "datasets", "predict_quantized", "FitHistory", "BaseModel", "LinearBlockModel",
    "KerasModel", "train_instrumented",
]
